//! Regression tests for the mistakes that multi-stage Dockerfiles make in
//! public bug reports, one test per case, through `compile::check`.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use stagec::compile::{self, Compilation};
use stagec::diag::{Code, Diagnostic, Severity};
use stagec::model::{CopySource, StepKind};

fn check(source: &str) -> Compilation {
    let compilation = compile::check(source);
    assert!(compilation.spec.is_some(), "not valid KDL:\n{source}");
    compilation
}

fn with_code(compilation: &Compilation, code: Code) -> Vec<&Diagnostic> {
    compilation
        .diagnostics
        .iter()
        .filter(|diagnostic| diagnostic.code == code)
        .collect()
}

fn codes(compilation: &Compilation) -> Vec<Code> {
    compilation
        .diagnostics
        .iter()
        .map(|diagnostic| diagnostic.code)
        .collect()
}

fn label_text<'a>(source: &'a str, diagnostic: &Diagnostic) -> &'a str {
    let span = diagnostic.labels[0].span;
    &source[span.start..span.end()]
}

const GO_BUILDER: &str = r#"
stage "build" from="golang:1.19" {
    workdir "/src"
    copy "go.mod" "main.go" to="/src/"
    run "go build -o /out/app ." {
        env CGO_ENABLED="0"
    }
    artifact "app" path="/out/app" kind="executable" linkage="static"
}
"#;

#[test]
fn typo_in_consumed_stage_name() {
    let source = format!(
        r#"{GO_BUILDER}
        stage "runtime" from="scratch" {{ copy artifact="app" from="bulid" to="/app" }}
        image "runtime" tag="app:1.0""#
    );
    let compilation = check(&source);

    assert_eq!(codes(&compilation), [Code::UnknownStage]);
    let diagnostic = with_code(&compilation, Code::UnknownStage)[0];
    assert_eq!(label_text(&source, diagnostic), "\"bulid\"");
    assert_eq!(diagnostic.labels[0].text, "did you mean `build`?");
}

#[test]
fn consuming_a_stage_written_later() {
    let source = format!(
        r#"stage "runtime" from="scratch" {{ copy artifact="app" from="build" to="/app"; cmd "/app" }}
        {GO_BUILDER}
        image "runtime" tag="app:1.0""#
    );
    let compilation = check(&source);

    assert!(compilation.diagnostics.is_empty(), "{:?}", compilation.diagnostics);
    let spec = compilation.spec.as_ref().expect("parsed");
    let order: Vec<&str> = compilation
        .graph
        .topological_order()
        .iter()
        .map(|&index| spec.stages[index].name.as_str())
        .collect();
    assert_eq!(order, ["build", "runtime"]);
}

#[test]
fn artifact_path_the_builder_never_declares() {
    let source = format!(
        r#"{GO_BUILDER}
        stage "runtime" from="scratch" {{ copy from="build" path="/go/bin/app" to="/app" }}
        image "runtime" tag="app:1.0""#
    );
    let compilation = check(&source);

    let found = with_code(&compilation, Code::UndeclaredArtifactPath);
    assert_eq!(found.len(), 1, "{:?}", compilation.diagnostics);
    assert_eq!(label_text(&source, found[0]), "\"/go/bin/app\"");
    assert!(
        found[0]
            .help
            .as_deref()
            .unwrap_or_default()
            .contains("artifact \"app\" path=\"/go/bin/app\"")
    );
}

#[test]
fn cgo_go_binary_copied_into_scratch() {
    let spec = |cgo: &str, linkage: &str| {
        format!(
            r#"stage "build" from="golang:1.19" {{
                workdir "/src"
                copy "go.mod" "main.go" to="/src/"
                {cgo}
                run "go build -o /out/app ."
                artifact "app" path="/out/app" kind="executable" {linkage}
            }}
            stage "runtime" from="scratch" {{ copy artifact="app" from="build" to="/app" }}
            image "runtime" tag="app:1.0""#
        )
    };
    let severities = |source: String| -> Vec<Severity> {
        let compilation = check(&source);
        with_code(&compilation, Code::LinkageMismatch)
            .iter()
            .map(|diagnostic| diagnostic.severity)
            .collect()
    };

    assert_eq!(
        severities(spec(r#"env CGO_ENABLED="1""#, r#"linkage="glibc""#)),
        [Severity::Error]
    );
    assert_eq!(severities(spec("", r#"linkage="glibc""#)), [Severity::Error]);
    assert_eq!(severities(spec("", "")), [Severity::Warning]);
    assert_eq!(severities(spec(r#"env CGO_ENABLED="0""#, "")), []);
    assert_eq!(severities(spec(r#"env CGO_ENABLED="0""#, r#"linkage="static""#)), []);
}

#[test]
fn build_machine_binary_shipped_for_target_platform() {
    let source = r#"
        stage "build" from="golang:1.19" platform="build" {
            run "CGO_ENABLED=0 go build -o /out/app ."
            artifact "app" path="/out/app" kind="executable" linkage="static"
        }
        stage "runtime" from="scratch" { copy artifact="app" from="build" to="/app" }
        image "runtime" tag="app:1.0"
    "#;
    let compilation = check(source);
    assert_eq!(codes(&compilation), [Code::PlatformMismatch]);

    let cross_compiled = source.replace(r#"platform="build""#, r#"platform="build" cross-compile=#true"#);
    assert!(check(&cross_compiled).diagnostics.is_empty());
}

#[test]
fn build_arg_not_declared_in_stage() {
    let source = r#"
        arg "VERSION" default="1.0.0"
        stage "build" from="golang:1.19" {
            run "CGO_ENABLED=0 go build -ldflags \"-X main.version=$VERSION\" -o /out/app ."
            artifact "app" path="/out/app" kind="executable" linkage="static"
        }
        stage "runtime" from="scratch" { copy artifact="app" from="build" to="/app" }
        image "runtime" tag="app:${VERSION}"
    "#;
    let compilation = check(source);

    let found = with_code(&compilation, Code::ArgNotVisible);
    assert_eq!(found.len(), 1, "{:?}", compilation.diagnostics);
    assert_eq!(found[0].severity, Severity::Warning);
    assert_eq!(label_text(source, found[0]), "$VERSION");

    let declared = source.replace(
        "stage \"build\" from=\"golang:1.19\" {",
        "stage \"build\" from=\"golang:1.19\" { arg \"VERSION\"",
    );
    assert!(
        check(&declared).diagnostics.is_empty(),
        "{:?}",
        check(&declared).diagnostics
    );
}

#[test]
fn env_read_in_unrelated_stage() {
    let source = r#"
        stage "deps" from="alpine:3.20" {
            env APP_HOME="/srv/app"
            run "mkdir -p $APP_HOME"
        }
        stage "runtime" from="alpine:3.20" {
            run "mkdir -p $APP_HOME/data"
        }
        image "runtime" tag="app:1.0"
        check "deps"
    "#;
    let compilation = check(source);

    let found = with_code(&compilation, Code::EnvFromUnrelatedStage);
    assert_eq!(found.len(), 1, "{:?}", compilation.diagnostics);
    assert_eq!(label_text(source, found[0]), "$APP_HOME");

    let based_on = source.replace(
        r#"stage "runtime" from="alpine:3.20""#,
        r#"stage "runtime" from="deps""#,
    );
    assert!(with_code(&check(&based_on), Code::EnvFromUnrelatedStage).is_empty());
}

#[test]
fn relative_workdirs_in_sibling_stages() {
    let from_images = r#"
        stage "api" from="alpine:3.20" { workdir "app"; run "true" }
        stage "worker" from="alpine:3.20" { workdir "app"; run "true" }
        image "api" tag="api:1.0" default=#true
        image "worker" tag="worker:1.0"
    "#;
    let compilation = check(from_images);
    assert_eq!(codes(&compilation), [Code::RelativePath, Code::RelativePath]);

    let from_shared_base = r#"
        stage "base" from="alpine:3.20" { workdir "/srv" }
        stage "api" from="base" { workdir "api"; run "true" }
        stage "worker" from="base" { workdir "worker"; run "true" }
        image "api" tag="api:1.0" default=#true
        image "worker" tag="worker:1.0"
    "#;
    let compilation = check(from_shared_base);
    assert!(compilation.diagnostics.is_empty(), "{:?}", compilation.diagnostics);

    let spec = compilation.spec.as_ref().expect("parsed");
    let stages = stagec::resolve::chain::Stages::new(spec);
    let workdirs = stagec::resolve::workdir::workdirs(&stages);
    use stagec::resolve::workdir::Workdir::Known;
    assert_eq!(workdirs[1].before_step[1], Known("/srv/api".into()));
    assert_eq!(workdirs[2].before_step[1], Known("/srv/worker".into()));
}

#[test]
fn token_passed_as_build_arg() {
    let source = r#"
        arg "NPM_TOKEN"
        stage "deps" from="node:20-slim" {
            arg "NPM_TOKEN"
            run "npm ci"
        }
        image "deps" tag="deps:1.0"
    "#;
    let compilation = check(source);

    let found = with_code(&compilation, Code::SecretLikeArg);
    assert_eq!(found.len(), 2, "{:?}", compilation.diagnostics);
    assert!(found.iter().all(|diagnostic| diagnostic.severity == Severity::Warning));
    assert!(
        found[0]
            .help
            .as_deref()
            .unwrap_or_default()
            .contains("secret \"npm_token\" env=\"NPM_TOKEN\"")
    );
}

#[test]
fn shell_form_cmd_in_scratch() {
    let source = format!(
        r#"{GO_BUILDER}
        stage "runtime" from="scratch" {{
            copy artifact="app" from="build" to="/app"
            cmd shell="/app --port 8080"
        }}
        image "runtime" tag="app:1.0""#
    );
    let compilation = check(&source);

    let found = with_code(&compilation, Code::ShellFormWithoutShell);
    assert_eq!(found.len(), 1, "{:?}", compilation.diagnostics);
    assert!(
        found[0]
            .help
            .as_deref()
            .unwrap_or_default()
            .contains(r#"`cmd "/app" "--port" "8080"`"#)
    );
}

#[test]
fn test_stage_nothing_depends_on() {
    let source = format!(
        r#"{GO_BUILDER}
        stage "test" from="build" {{ run "go test ./..." }}
        stage "runtime" from="scratch" {{ copy artifact="app" from="build" to="/app" }}
        image "runtime" tag="app:1.0""#
    );
    let compilation = check(&source);
    assert_eq!(codes(&compilation), [Code::UnreachableStage]);
    assert!(
        with_code(&compilation, Code::UnreachableStage)[0]
            .help
            .as_deref()
            .unwrap_or_default()
            .contains("check \"test\"")
    );

    let checked = format!("{source}\ncheck \"test\"");
    assert!(check(&checked).diagnostics.is_empty());
}

#[test]
fn ownership_of_copied_directory() {
    let source = r#"
        stage "site" from="alpine:3.20" {
            run "mkdir -p /out && echo hello > /out/index.html"
            artifact "www" path="/out" kind="dir" owner="100:101"
        }
        stage "web" from="alpine:3.20" {
            copy artifact="www" from="site" to="/var/www/" owner="nobody:nobody" mode="0755"
            cmd "httpd" "-f" "-h" "/var/www"
        }
        image "web" tag="web:1.0"
    "#;
    let compilation = check(source);
    assert!(compilation.diagnostics.is_empty(), "{:?}", compilation.diagnostics);

    let spec = compilation.spec.as_ref().expect("parsed");
    let artifact = &spec.stages[0].artifacts[0];
    assert_eq!(artifact.owner.as_ref().map(|owner| owner.as_str()), Some("100:101"));
    let StepKind::Copy(copy) = &spec.stages[1].steps[0].kind else {
        panic!("first step is a copy")
    };
    assert!(matches!(&copy.source, CopySource::Artifact { artifact, .. } if artifact.value == "www"));
    assert_eq!(copy.owner.as_ref().map(|owner| owner.as_str()), Some("nobody:nobody"));
    assert_eq!(copy.mode.as_ref().map(|mode| mode.value), Some(0o755));
}

#[test]
fn several_final_stages_without_output() {
    let source = format!(
        r#"{GO_BUILDER}
        stage "api" from="scratch" {{ copy artifact="app" from="build" to="/app" }}
        stage "worker" from="scratch" {{ copy artifact="app" from="build" to="/app" }}"#
    );
    let compilation = check(&source);

    assert_eq!(codes(&compilation), [Code::NoOutput]);
    let diagnostic = with_code(&compilation, Code::NoOutput)[0];
    let labelled: Vec<&str> = diagnostic
        .labels
        .iter()
        .map(|label| &source[label.span.start..label.span.end()])
        .collect();
    assert_eq!(labelled, ["\"api\"", "\"worker\""]);
    assert!(
        diagnostic
            .help
            .as_deref()
            .unwrap_or_default()
            .contains("`api`, `worker`")
    );
}

#[test]
fn all_diagnostics_in_source_order() {
    let source = r#"
        arg "GITHUB_TOKEN"
        stage "build" from="golang:1.19" {
            workdir "src"
            run "go build -o /out/app ."
            artifact "app" path="out/app" kind="executable"
        }
        stage "runtime" from="scratch" {
            copy artifact="ap" from="build" to="/app"
            copy artifact="app" from="bulid" to="/app"
            cmd shell="/app"
        }
        image "runtime" tag="app:${VERSON}"
    "#;
    let compilation = check(source);
    let found = codes(&compilation);

    for expected in [
        Code::SecretLikeArg,
        Code::RelativePath,
        Code::UnknownArtifact,
        Code::UnknownStage,
        Code::ShellFormWithoutShell,
        Code::UndefinedArg,
    ] {
        assert!(found.contains(&expected), "missing {expected}: {found:?}");
    }
    assert_eq!(with_code(&compilation, Code::RelativePath).len(), 2, "{found:?}");

    let starts: Vec<usize> = compilation
        .diagnostics
        .iter()
        .map(|diagnostic| diagnostic.primary_span().start)
        .collect();
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(starts, sorted);
}

fn example_specs() -> Vec<PathBuf> {
    let mut specs: Vec<PathBuf> = fs::read_dir("specs/examples")
        .expect("specs/examples exists")
        .map(|entry| entry.expect("readable entry").path().join("app.kdl"))
        .filter(|path| path.is_file())
        .collect();
    specs.sort();
    specs
}

#[test]
fn example_specs_have_no_errors() {
    let specs = example_specs();
    assert!(!specs.is_empty(), "no specs/examples/*/app.kdl");
    for path in specs {
        let source = fs::read_to_string(&path).expect("readable spec");
        let compilation = compile::check(&source);
        let errors: Vec<&Diagnostic> = compilation.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    }
}

#[test]
fn truncated_example_specs_do_not_panic() {
    for path in example_specs() {
        let source = fs::read_to_string(&path).expect("readable spec");
        let mut end = 0;
        for line in source.split_inclusive('\n') {
            end += line.len();
            // Cutting inside a line leaves unclosed strings and blocks too.
            let middle = end - line.len() / 2;
            for cut in [middle, end] {
                if source.is_char_boundary(cut) {
                    let _ = compile::check(&source[..cut]);
                }
            }
        }
    }
}

#[test]
fn deeply_nested_blocks_are_rejected() {
    let levels = 100_000;
    let source = format!("{}{}", "a {".repeat(levels), "}".repeat(levels));
    let compilation = compile::check(&source);

    assert!(compilation.spec.is_none());
    assert_eq!(codes(&compilation), [Code::KdlSyntax]);
    let diagnostic = &compilation.diagnostics.iter().next().expect("one diagnostic");
    let first_too_deep = source
        .match_indices('{')
        .nth(stagec::syntax::MAX_NESTING)
        .expect("brace")
        .0;
    assert_eq!(diagnostic.labels[0].span.start, first_too_deep);
}

#[test]
fn nesting_within_the_limit_still_parses() {
    let levels = stagec::syntax::MAX_NESTING;
    let source = format!("{}{}", "a {".repeat(levels), "}".repeat(levels));
    let compilation = compile::check(&source);
    assert!(compilation.spec.is_some());
    assert!(!codes(&compilation).contains(&Code::KdlSyntax));
}

#[test]
fn cgo_off_run_covers_only_its_artifact() {
    let source = r#"
stage "b" from="golang:1.19" {
    workdir "/src"
    run "mkdir -p /o && go build -o /o/inferred ."
    run "CGO_ENABLED=0 go build -o /o/nocgo ."
    artifact "inferred" path="/o/inferred" kind="executable"
    artifact "nocgo" path="/o/nocgo" kind="executable"
}
stage "alp" from="alpine:3" {
    copy artifact="inferred" from="b" to="/a2"
    copy artifact="nocgo" from="b" to="/a3"
    cmd "/a2"
}
image "alp" tag="a:1"
"#;
    let compilation = check(source);

    let warnings = with_code(&compilation, Code::LinkageMismatch);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(label_text(source, warnings[0]), "\"inferred\"");
}

#[test]
fn targetarch_read_in_stage_without_declaration() {
    let source = r#"
stage "plain" from="golang:1.19" {
    workdir "/src"
    run "mkdir -p /out && echo arch=$TARGETARCH > /out/arch"
    artifact "arch" path="/out/arch"
}
stage "cross" from="golang:1.19" platform="build" cross-compile=#true {
    workdir "/src/${TARGETARCH}"
    run "mkdir -p /out && echo $TARGETARCH > /out/x"
    artifact "x" path="/out/x"
}
stage "runtime" from="alpine:3" {
    copy artifact="arch" from="plain" to="/arch"
    copy artifact="x" from="cross" to="/x"
    cmd "cat" "/arch" "/x"
}
image "runtime" tag="app:1.0"
"#;
    let compilation = check(source);

    // Only the stage that neither declares it nor cross-compiles reads an empty value.
    assert_eq!(codes(&compilation), [Code::ArgNotVisible]);
    let warning = with_code(&compilation, Code::ArgNotVisible)[0];
    assert_eq!(label_text(source, warning), "$TARGETARCH");
    assert!(warning.message.contains("stage `plain`"), "{}", warning.message);
}

#[test]
fn two_image_nodes_for_one_stage() {
    let source = r#"
stage "api" from="alpine:3" {
    cmd "a"
}
image "api" tag="a:1"
image "api" tag="a:2"
"#;
    let compilation = check(source);

    assert_eq!(codes(&compilation), [Code::DuplicateName]);
    let help = compilation
        .diagnostics
        .iter()
        .next()
        .and_then(|d| d.help.clone())
        .unwrap_or_default();
    assert!(help.contains("put both tags on one image node"), "{help}");
}

#[test]
fn missing_from_is_not_taken_as_scratch() {
    let source = r#"
stage "x" form="alpine:3" {
    run "true"
    workdir "app"
}
image "x" tag="x:1"
"#;
    let compilation = check(source);

    assert_eq!(codes(&compilation), [Code::MissingValue, Code::UnknownProperty]);
}

#[test]
fn bind_of_a_whole_stage_without_source() {
    let source = r#"
stage "b" from="alpine:3" {
    run "mkdir -p /o && touch /o/f"
    artifact "tree" path="/o" kind="dir"
}
stage "r" from="alpine:3" {
    copy artifact="tree" from="b" to="/t/"
    run "cat /mnt/etc/passwd" {
        bind "/mnt" from="b"
    }
    cmd "x"
}
image "r" tag="r:1"
"#;
    let compilation = check(source);

    assert_eq!(codes(&compilation), [Code::UndeclaredArtifactPath]);
    let help = compilation
        .diagnostics
        .iter()
        .next()
        .and_then(|d| d.help.clone())
        .unwrap_or_default();
    assert!(help.contains(r#"source="/o""#), "{help}");
}

#[test]
fn unknown_build_arg_override() {
    let source = r#"
arg "VERSION" default="1"
stage "r" from="alpine:3" {
    label "v"="${VERSION}"
    cmd "x"
}
image "r" tag="r:1"
"#;
    let compilation = check(source);
    let spec = compilation.spec.as_ref().expect("parsed");
    let overrides = BTreeMap::from([("VERSON".to_string(), "2".to_string())]);

    let diagnostics = stagec::resolve::check_build_arg_overrides(spec, &overrides);
    let found: Vec<Code> = diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(found, [Code::UndefinedArg]);
}

#[test]
fn build_arg_override_naming_a_stage() {
    let source = r#"
arg "BASE" default="alpine:3"
stage "secretstage" from="alpine:3" {
    run "echo leaked > /leak"
}
stage "r" from="${BASE}" {
    cmd "cat" "/leak"
}
image "r" tag="r:1"
check "secretstage"
"#;
    let compilation = check(source);
    assert!(compilation.diagnostics.is_empty(), "{:?}", compilation.diagnostics);
    let spec = compilation.spec.as_ref().expect("parsed");
    let overrides = BTreeMap::from([("BASE".to_string(), "secretstage".to_string())]);

    let diagnostics = stagec::resolve::check_build_arg_overrides(spec, &overrides);
    let found: Vec<Code> = diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(found, [Code::StageFromBuildArg]);
}

#[test]
fn sql_and_glob_arguments_are_not_shell_syntax() {
    let source = r#"
stage "r" from="alpine:3" {
    run "/app" "--sql" "SELECT * FROM t WHERE a > 1"
    cmd "/app" "--glob" "*.txt"
}
image "r" tag="r:1"
"#;
    assert!(check(source).diagnostics.is_empty());
}

#[test]
fn variable_in_quoted_heredoc_is_literal() {
    let source = r##"
stage "base" from="alpine:3" {
    env APP_MODE="production"
    run "echo configured"
}
stage "app" from="alpine:3" {
    run #"""
        cat <<'EOF' > /etc/app.conf
        mode=$APP_MODE
        EOF
        """#
    cmd "cat" "/etc/app.conf"
}
image "app" tag="app:1.0"
check "base"
"##;
    let compilation = check(source);
    assert!(compilation.diagnostics.is_empty(), "{:?}", compilation.diagnostics);
}

#[test]
fn values_docker_rejects_at_build_or_run_time() {
    let cases = [
        r#"stopsignal "FOO""#,
        r#"stopsignal """#,
        r#"expose 99999"#,
        r#"expose "abc""#,
        r#"expose "90-80""#,
        r#"expose -1"#,
        r#"healthcheck "true" interval="1ns""#,
        r#"user "a b""#,
        r#"user """#,
        r#"copy "x" to="/x" owner="root:root:root""#,
    ];
    for step in cases {
        let source =
            format!("stage \"r\" from=\"alpine:3\" {{\n    {step}\n    cmd \"x\"\n}}\nimage \"r\" tag=\"r:1\"\n");
        assert_eq!(codes(&check(&source)), [Code::InvalidValue], "{step}");
    }
}

#[test]
fn engine_rejected_references_patterns_and_mounts() {
    let cases: [(&str, Code); 8] = [
        (r#"context { exclude "[z" }"#, Code::InvalidPattern),
        (r#"stage "b" from="ALPINE:3""#, Code::InvalidImageReference),
        (r#"stage "b" from="alpine:""#, Code::InvalidImageReference),
        (r#"stage "b" from="alpine:-3""#, Code::InvalidImageReference),
        (r#"stage "b" from="alpine@""#, Code::InvalidImageReference),
        (r#"image "r" { tag "Not A Valid:Tag" }"#, Code::InvalidImageReference),
        (
            r#"stage "b" from="alpine:3" { run "true" { cache "/" } }"#,
            Code::InvalidMountTarget,
        ),
        (
            r#"stage "b" from="alpine:3" { run "true" { cache "/c"; cache "/c" id="other" } }"#,
            Code::InvalidMountTarget,
        ),
    ];
    for (extra, code) in cases {
        let source =
            format!("stage \"r\" from=\"alpine:3\" {{ cmd \"x\" }}\nimage \"r\" tag=\"r:1\"\ncheck \"b\"\n{extra}\n");
        let source = if extra.contains("stage \"b\"") {
            source
        } else {
            format!("{source}stage \"b\" from=\"alpine:3\"\n")
        };
        assert!(
            codes(&check(&source)).contains(&code),
            "{extra}: {:?}",
            codes(&check(&source))
        );
    }
}
