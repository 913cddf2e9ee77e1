//! Lowering for an engine that lacks capabilities: Docker Engine 20.10,
//! whose BuildKit 0.8 has no copy patterns, secret env vars or tmpfs sizes.

use super::*;
use crate::llb::caps::first_docker_release;

/// Returns the capabilities that stagec uses and Docker Engine 20.10 has.
fn bookworm_caps() -> EngineCaps {
    let all = [
        "source.image",
        "source.local",
        "source.local.sessionid",
        "source.local.includepatterns",
        "source.local.followpaths",
        "source.local.excludepatterns",
        "source.local.sharedkeyhint",
        "exec.meta.base",
        "exec.meta.network",
        "exec.mount.bind",
        "exec.mount.bind.readwrite-nooutput",
        "exec.mount.cache",
        "exec.mount.cache.sharing",
        "exec.mount.selector",
        "exec.mount.tmpfs",
        "exec.mount.secret",
        "exec.mount.ssh",
        "file.base",
        "constraints",
        "platform",
        "meta.description",
        "meta.ignorecache",
    ];
    for cap in all {
        assert_eq!(first_docker_release(cap), Some("20.10"), "{cap}");
    }
    EngineCaps::listed("Docker Engine 20.10.24+dfsg1", all.map(str::to_string))
}

fn lower_for(source: &str, caps: &EngineCaps) -> Result<LlbBuild, Diagnostics> {
    let compilation = crate::compile::check(source);
    assert!(!compilation.has_errors(), "{:?}", compilation.diagnostics);
    let spec = compilation.spec.expect("a spec");
    let build = crate::lower::lower(&spec, &compilation.graph, &LowerOptions::default()).expect("lowers");
    lower_for_engine(&build, &test_lock(spec_images_digest(&spec)), &options(), caps)
}

fn local_attrs(op: &pb::Op) -> &BTreeMap<String, String> {
    match &op.op {
        Some(pb::op::Op::Source(source)) if source.identifier == "local://context" => &source.attrs,
        other => panic!("not the local context source: {other:?}"),
    }
}

fn copy_actions(op: &pb::Op) -> Vec<&pb::FileActionCopy> {
    match &op.op {
        Some(pb::op::Op::File(file)) => file
            .actions
            .iter()
            .filter_map(|action| match &action.action {
                Some(pb::file_action::Action::Copy(copy)) => Some(copy),
                _ => None,
            })
            .collect(),
        other => panic!("not a file op: {other:?}"),
    }
}

/// The copies of specs/examples/checked-build/app.kdl.
const FILTERED_COPY: &str = r#"
stage "builder" from="golang:1.19" {
    workdir "/src"
    copy "go.mod" "*.go" to="/src/"
    copy "wordfreq" to="/src/wordfreq/" {
        include "*.go" "testdata/*.txt"
        exclude "*_test.go" "./testdata/*.tmp"
    }
    run "go build -o /out/wordfreq ." network="none"
    artifact "wordfreq" path="/out/wordfreq" kind="executable" linkage="static"
}
image "builder" tag="b:1"
"#;

#[test]
fn old_engine_filters_copy_at_source() {
    let llb = lower_for(FILTERED_COPY, &bookworm_caps()).expect("lowers");
    let ops = ops_of(&llb, "builder");
    let copy_name = "[builder 4/5] COPY wordfreq /src/wordfreq/";

    let filtered = local_attrs(&ops[&format!("[internal] load build context for {copy_name}")]);
    assert_eq!(
        filtered["local.includepattern"],
        r#"["wordfreq/*.go","wordfreq/testdata/*.txt"]"#
    );
    assert_eq!(
        filtered["local.excludepatterns"],
        r#"["wordfreq/*_test.go","wordfreq/testdata/*.tmp"]"#
    );
    assert!(
        !filtered.contains_key("local.followpaths"),
        "a follow path would send every file below it: {filtered:?}"
    );
    assert!(filtered["local.sharedkeyhint"].starts_with("context-"), "{filtered:?}");

    let main = local_attrs(&ops["[internal] load build context"]);
    assert_eq!(
        main["local.includepattern"], r#"["*.go","go.mod"]"#,
        "the filtered copy's path is not sent twice"
    );

    let actions = copy_actions(&ops[copy_name]);
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].src, "/wordfreq");
    assert!(actions[0].include_patterns.is_empty(), "{:?}", actions[0]);
    assert!(actions[0].exclude_patterns.is_empty(), "{:?}", actions[0]);

    let definition = llb.definition(llb.output, None).definition;
    let declares_patterns = definition
        .metadata
        .values()
        .any(|metadata| metadata.caps.contains_key("file.copy.includeexcludepatterns"));
    assert!(!declares_patterns, "no op needs the missing capability");
}

#[test]
fn latest_engine_keeps_copy_patterns() {
    let llb = lower_for(FILTERED_COPY, &EngineCaps::latest()).expect("lowers");
    let ops = ops_of(&llb, "builder");
    let actions = copy_actions(&ops["[builder 4/5] COPY wordfreq /src/wordfreq/"]);
    assert_eq!(actions[0].include_patterns, ["*.go", "testdata/*.txt"]);
    assert_eq!(actions[0].exclude_patterns, ["*_test.go", "./testdata/*.tmp"]);
    assert!(
        !ops.keys().any(|name| name.contains("load build context for")),
        "{:?}",
        ops.keys()
    );
}

#[test]
fn only_filtered_copies_still_serve_context() {
    let source = r#"
stage "app" from="alpine:3" {
    copy "site" to="/srv/" {
        include "*.html"
    }
}
image "app" tag="a:1"
"#;
    let llb = lower_for(source, &bookworm_caps()).expect("lowers");
    assert!(llb.context.is_some(), "the CLI must still serve the context folder");
    let ops = ops_of(&llb, "app");
    assert!(!ops.contains_key("[internal] load build context"), "{:?}", ops.keys());
}

/// Lowers `source` for Docker Engine 20.10 and returns its one diagnostic,
/// which must be SC0905.
fn unsupported(source: &str) -> crate::diag::Diagnostic {
    let errors = lower_for(source, &bookworm_caps()).expect_err("the engine lacks a capability");
    let diagnostics: Vec<_> = errors.iter().cloned().collect();
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert_eq!(diagnostics[0].code, Code::UnsupportedByEngine, "{diagnostics:?}");
    diagnostics[0].clone()
}

/// Returns the spec text under the diagnostic's primary label.
fn labeled<'a>(source: &'a str, diagnostic: &crate::diag::Diagnostic) -> &'a str {
    let span = diagnostic.labels[0].span;
    &source[span.start..span.start + span.len]
}

#[test]
fn old_engine_rejects_secret_env() {
    let source = r#"
secret "token" required=#true
stage "app" from="alpine:3" {
    run "test -n \"$TOKEN\"" {
        secret "token" env="TOKEN"
    }
}
image "app" tag="a:1"
"#;
    let diagnostic = unsupported(source);
    assert_eq!(
        diagnostic.message,
        "a secret as an environment variable (`env=`) needs Docker Engine 23.0 or newer, \
         and the engine is Docker Engine 20.10.24+dfsg1"
    );
    assert_eq!(labeled(source, &diagnostic), "\"TOKEN\"");
    let help = diagnostic.help.expect("a help line");
    assert!(
        help.starts_with("upgrade to Docker Engine 23.0 or newer, or mount the secret"),
        "{help}"
    );
}

#[test]
fn old_engine_rejects_tmpfs_size() {
    let source = r#"
stage "app" from="alpine:3" {
    run "df /scratch" {
        tmpfs "/scratch" size=1048576
    }
}
image "app" tag="a:1"
"#;
    let diagnostic = unsupported(source);
    assert!(
        diagnostic
            .message
            .starts_with("a tmpfs size limit (`size=`) needs Docker Engine 23.0"),
        "{diagnostic:?}"
    );
    assert_eq!(labeled(source, &diagnostic), "1048576");
}

#[test]
fn old_engine_rejects_stage_copy_patterns() {
    let source = r#"
stage "builder" from="alpine:3" {
    run "mkdir -p /out && touch /out/a.txt /out/b.log"
    artifact "out" path="/out" kind="dir"
}
stage "app" from="alpine:3" {
    copy artifact="out" from="builder" to="/srv/" {
        include "*.txt"
    }
}
image "app" tag="a:1"
"#;
    let diagnostic = unsupported(source);
    assert!(
        diagnostic
            .message
            .starts_with("a copy from another stage with `include` or `exclude` patterns needs Docker Engine 23.0"),
        "{diagnostic:?}"
    );
    assert_eq!(labeled(source, &diagnostic), "\"*.txt\"");
}

#[test]
fn old_engine_rejects_wildcard_path_patterns() {
    let source = r#"
stage "app" from="alpine:3" {
    copy "cmd/*" to="/src/cmd/" {
        exclude "*_test.go"
    }
}
image "app" tag="a:1"
"#;
    let diagnostic = unsupported(source);
    assert!(
        diagnostic
            .message
            .starts_with("a copy of a context path with wildcards and `include` or `exclude` patterns needs"),
        "{diagnostic:?}"
    );
    assert_eq!(labeled(source, &diagnostic), "\"cmd/*\"");
}
