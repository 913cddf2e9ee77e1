use super::*;
use crate::diag::Code;
use crate::model::ArtifactKind;
use crate::model::interpolate::Part;

fn lower_source(source: &str, options: &LowerOptions) -> Result<BuildGraph, Diagnostics> {
    let document = crate::syntax::parse(source).expect("valid KDL");
    let mut diagnostics = Diagnostics::default();
    let spec = crate::resolve::resolve(&document, &mut diagnostics);
    assert!(!diagnostics.has_errors(), "spec does not resolve: {diagnostics:?}");
    let graph = StageGraph::new(&spec);
    lower(&spec, &graph, options)
}

fn lowered(source: &str) -> BuildGraph {
    lower_source(source, &LowerOptions::default()).expect("lowers")
}

pub(super) fn error_codes(source: &str, options: &LowerOptions) -> Vec<Code> {
    match lower_source(source, options) {
        Ok(_) => Vec::new(),
        Err(diagnostics) => diagnostics.iter().map(|diagnostic| diagnostic.code).collect(),
    }
}

fn stage_names(graph: &BuildGraph) -> Vec<&str> {
    graph.stages.iter().map(|stage| stage.name.as_str()).collect()
}

fn literal_path(path: &StagePath) -> String {
    path.value.as_literal().expect("literal path")
}

#[test]
fn go_web_example_lowers() {
    let graph = lowered(include_str!("../../specs/examples/go-web/app.kdl"));
    assert_eq!(stage_names(&graph), ["builder", "runtime"]);
    assert_eq!(graph.output, 1);
    assert_eq!(graph.stages[1].role, StageRole::Output);
    assert_eq!(graph.stages[0].role, StageRole::Dependency);
    assert_eq!(
        graph.tags.iter().map(|tag| tag.as_str()).collect::<Vec<_>>(),
        ["go-web:1.0"]
    );

    let copy = graph.stages[1]
        .steps
        .iter()
        .find_map(|step| match &step.kind {
            BuildStepKind::Copy(copy) => Some(copy),
            _ => None,
        })
        .expect("a copy");
    let CopySource::Stage { stage, path, kind } = &copy.source else {
        panic!("not a stage copy")
    };
    assert_eq!(*stage, 0);
    assert_eq!(path.value, "/app/main");
    assert_eq!(*kind, Some(ArtifactKind::Executable));
    assert_eq!(literal_path(&copy.to), "/app/main");
}

#[test]
fn stages_follow_dependencies_not_spec_order() {
    let graph = lowered(
        r#"
        stage "runtime" from="alpine:3" { copy artifact="app" from="builder" to="/app" }
        stage "unused" from="alpine:3"
        stage "builder" from="golang:1.19" { artifact "app" path="/out/app" }
        image "runtime" tag="app:1"
        "#,
    );
    assert_eq!(stage_names(&graph), ["builder", "runtime"]);
    assert_eq!(graph.output, 1);
}

#[test]
fn check_stages_are_included() {
    let graph = lowered(
        r#"
        stage "test" from="builder" { run "go test ./..." }
        stage "builder" from="golang:1.19" { artifact "app" path="/out/app" }
        stage "runtime" from="alpine:3" { copy artifact="app" from="builder" to="/app" }
        image "runtime" tag="app:1"
        check "test"
        "#,
    );
    // Independent stages are sorted by name: `runtime` before `test`.
    assert_eq!(stage_names(&graph), ["builder", "runtime", "test"]);
    assert_eq!(graph.stages[2].role, StageRole::Check);
    assert!(matches!(graph.stages[2].base, StageBase::Stage(0)));
}

#[test]
fn relative_paths_join_the_workdir_chain() {
    let graph = lowered(
        r#"
        stage "base" from="scratch" { workdir "srv" }
        stage "app" from="base" {
            workdir "app"
            copy "main.go" to="src/"
            workdir "../bin"
            run "true" { cache ".cache" }
        }
        image "app"
        "#,
    );
    let paths: Vec<String> = graph.stages[1]
        .steps
        .iter()
        .filter_map(|step| match &step.kind {
            BuildStepKind::Workdir(path) => Some(literal_path(path)),
            BuildStepKind::Copy(copy) => Some(literal_path(&copy.to)),
            BuildStepKind::Run(run) => match &run.mounts[0].kind {
                MountKind::Cache { target, .. } => Some(literal_path(target)),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(paths, ["/srv/app", "/srv/app/src/", "/srv/bin", "/srv/bin/.cache"]);
}

#[test]
fn relative_workdir_on_image_stays_relative() {
    let graph = lowered(
        r#"
        stage "app" from="golang:1.19" { workdir "src"; copy "a" to="b" }
        image "app"
        "#,
    );
    let BuildStepKind::Workdir(path) = &graph.stages[0].steps[0].kind else {
        panic!("no workdir")
    };
    assert!(path.relative);
    let BuildStepKind::Copy(copy) = &graph.stages[0].steps[1].kind else {
        panic!("no copy")
    };
    assert!(copy.to.relative);
}

#[test]
fn shell_is_inherited_from_base_stage() {
    let graph = lowered(
        r#"
        stage "base" from="debian:12" { shell "/bin/bash" "-c" }
        stage "app" from="base" { run "echo hi" }
        image "app"
        "#,
    );
    let BuildStepKind::Run(run) = &graph.stages[1].steps[0].kind else {
        panic!("no run")
    };
    assert_eq!(run.command.shell, ["/bin/bash", "-c"]);
}

#[test]
fn args_are_inherited_and_overridden() {
    let options = LowerOptions {
        target: None,
        build_args: BTreeMap::from([("GO_VERSION".to_string(), "1.21".to_string())]),
    };
    let graph = lower_source(
        r#"
        arg "GO_VERSION" default="1.19"
        arg "APP_USER" default="app"
        arg "UNUSED" default="x"
        arg "TAG" default="dev"
        stage "app" from="golang:${GO_VERSION}" {
            user "${APP_USER}"
            arg "LOCAL" default="1"
            env LOCAL="${LOCAL}"
        }
        image "app" tag="app:${TAG}"
        "#,
        &options,
    )
    .expect("lowers");
    let names: Vec<&str> = graph.global_args.iter().map(|arg| arg.name.as_str()).collect();
    assert_eq!(names, ["GO_VERSION", "APP_USER"]);
    assert_eq!(graph.global_args[0].value.as_deref(), Some("1.21"));
    assert_eq!(graph.stages[0].inherited_args, ["APP_USER"]);
    assert_eq!(graph.tags[0].value, "app:dev");
    let StageBase::Image(reference) = &graph.stages[0].base else {
        panic!("no image")
    };
    assert!(matches!(&reference.parts[1], Part::Arg { name, .. } if name == "GO_VERSION"));
}

#[test]
fn unknown_base_stage_is_reported() {
    let source = "stage \"alpine\" from=\"busybox:1\"\nstage \"b\" from=\"Alpine\"\nimage \"b\"";
    let document = crate::syntax::parse(source).expect("valid KDL");
    let mut diagnostics = Diagnostics::default();
    let spec = crate::resolve::resolve(&document, &mut diagnostics);
    let result = lower(&spec, &StageGraph::new(&spec), &LowerOptions::default());
    let codes: Vec<Code> = result.expect_err("no graph").iter().map(|d| d.code).collect();
    assert_eq!(codes, [Code::UnknownStage]);
}

#[test]
fn target_selects_stage() {
    let options = LowerOptions {
        target: Some("Builder".into()),
        build_args: BTreeMap::new(),
    };
    let graph = lower_source(include_str!("../../specs/examples/go-web/app.kdl"), &options).expect("lowers");
    assert_eq!(stage_names(&graph), ["builder"]);
    assert!(graph.tags.is_empty());
}

#[test]
fn output_errors_table() {
    let no_target = LowerOptions::default();
    let cases = [
        ("stage \"a\" from=\"alpine:3\"", &no_target, Code::NoOutput),
        (
            "stage \"a\" from=\"alpine:3\"\nstage \"b\" from=\"alpine:3\"\nimage \"a\"\nimage \"b\"",
            &no_target,
            Code::AmbiguousOutput,
        ),
        (
            "stage \"a\" from=\"alpine:3\"\nimage \"x\"",
            &no_target,
            Code::UnknownStage,
        ),
        (
            "stage \"a\" from=\"alpine:3\" { copy artifact=\"x\" from=\"b\" to=\"/x\" }\nstage \"b\" from=\"alpine:3\"\nimage \"a\"",
            &no_target,
            Code::UnknownArtifact,
        ),
        (
            "stage \"a\" from=\"alpine:3\" { copy artifact=\"x\" from=\"nope\" to=\"/x\" }\nimage \"a\"",
            &no_target,
            Code::UnknownStage,
        ),
        (
            "stage \"a\" from=\"b\"\nstage \"b\" from=\"a\"\nimage \"a\"",
            &no_target,
            Code::DependencyCycle,
        ),
        (
            "stage \"a\" from=\"alpine:3\" { user \"${A:-b}\" }\nimage \"a\"",
            &no_target,
            Code::InvalidInterpolation,
        ),
        (
            "stage \"a\" from=\"alpine:3\"\nimage \"a\" tag=\"a:${V}\"",
            &no_target,
            Code::UndefinedArg,
        ),
    ];
    for (source, options, code) in cases {
        assert!(
            error_codes(source, options).contains(&code),
            "{source}: expected {code}"
        );
    }

    let missing = LowerOptions {
        target: Some("nope".into()),
        build_args: BTreeMap::new(),
    };
    assert_eq!(
        error_codes("stage \"a\" from=\"alpine:3\"", &missing),
        [Code::UnknownStage]
    );
}

#[test]
fn raw_stage_path_finds_containing_artifact() {
    let graph = lowered(
        r#"
        stage "build" from="node:20" { artifact "dist" path="/src/dist" kind="dir" owner="node" }
        stage "web" from="nginx:1" { copy from="build" path="/src/dist/index.html" to="/usr/share/nginx/html/" }
        image "web"
        "#,
    );
    let BuildStepKind::Copy(copy) = &graph.stages[1].steps[0].kind else {
        panic!("no copy")
    };
    let CopySource::Stage { path, kind, .. } = &copy.source else {
        panic!("not a stage copy")
    };
    assert_eq!(path.value, "/src/dist/index.html");
    assert_eq!(*kind, None);
    assert_eq!(
        copy.owner.as_ref().and_then(Interpolated::as_literal).as_deref(),
        Some("node")
    );
}

#[test]
fn shell_form_starting_with_option_sign_is_rejected() {
    for step in [
        r#"run "-x""#,
        r#"run "+x""#,
        r#"cmd shell="--version""#,
        r#"entrypoint shell="-c""#,
        r#"healthcheck shell="-q""#,
    ] {
        let source = format!("stage \"a\" from=\"alpine:3\" {{ {step} }}\nimage \"a\" tag=\"a:1\"");
        assert_eq!(
            error_codes(&source, &LowerOptions::default()),
            [Code::InvalidValue],
            "{step}"
        );
    }
    // Exec form passes the argv unchanged, and a leading space is plain text.
    for step in [r#"run "-x" exec=#true"#, r#"run " -x""#, r#"cmd "--version""#] {
        let source = format!("stage \"a\" from=\"alpine:3\" {{ {step} }}\nimage \"a\" tag=\"a:1\"");
        assert_eq!(error_codes(&source, &LowerOptions::default()), [], "{step}");
    }
}

#[test]
fn context_path_with_backslash_is_rejected() {
    let source = r#"stage "a" from="alpine:3" { copy "back\\slash.txt" "ok[[]1].txt" to="/d/" }
image "a" tag="a:1""#;
    assert_eq!(
        error_codes(source, &LowerOptions::default()),
        [Code::UnrepresentableValue]
    );
}

#[test]
fn env_reference_outside_stage_is_rejected() {
    let cases = [
        r#"stage "a" from="alpine:${env:V}"; image "a" tag="a:1""#,
        r#"stage "a" from="alpine:3"; image "a" tag="a:${env:HOSTNAME}""#,
    ];
    for source in cases {
        assert_eq!(
            error_codes(source, &LowerOptions::default()),
            [Code::InvalidInterpolation],
            "{source}"
        );
    }
}

#[test]
fn env_reference_stays_a_part() {
    let graph = lowered(
        r#"
        stage "a" from="alpine:3" {
            env PATH="/opt/bin:${env:PATH}"
            workdir "${env:HOME}/src"
        }
        image "a" tag="a:1"
        "#,
    );
    let steps = &graph.stages[0].steps;
    let BuildStepKind::Env(pairs) = &steps[0].kind else {
        panic!("not env")
    };
    assert!(matches!(&pairs[0].1.parts[1], Part::Env { name, .. } if name == "PATH"));
    let BuildStepKind::Workdir(path) = &steps[1].kind else {
        panic!("not workdir")
    };
    assert!(path.relative, "a path starting with an env var is left to the builder");
    assert!(graph.stages[0].inherited_args.is_empty(), "no ARG for an env var");
}
