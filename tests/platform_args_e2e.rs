//! End to end on a real Docker Engine: the automatic platform args that a
//! stage declares have the same values under `stagec build` as under
//! `docker build` of `stagec dockerfile`'s output. Skipped without an
//! engine, unless STAGEC_E2E=1.

mod support;

use std::fs;

use assert_cmd::Command;
use support::engine::engine_or_skip;

const SPEC: &str = r#"
stage "s" from="alpine:3" {
    arg "TARGETARCH"
    arg "TARGETPLATFORM"
    arg "BUILDPLATFORM"
    arg "BUILDOS"
    run "echo arch=$TARGETARCH target=$TARGETPLATFORM build=$BUILDPLATFORM os=$BUILDOS > /info"
    cmd "cat" "/info"
}
image "s" tag="stagec-test/platform-args:llb"
"#;

fn stagec() -> Command {
    Command::cargo_bin("stagec").expect("the stagec binary")
}

#[test]
fn declared_platform_args_match_dockerfile() {
    let Some(engine) = engine_or_skip("declared_platform_args_match_dockerfile") else {
        return;
    };
    let llb_tag = "stagec-test/platform-args:llb";
    let dockerfile_tag = "stagec-test/platform-args:dockerfile";
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = dir.path().join("app.kdl");
    fs::write(&spec, SPEC).expect("write spec");

    let build = stagec()
        .args(["build", "--network", "none", "--progress", "plain", "--color", "never"])
        .arg(&spec)
        .output()
        .expect("runs stagec");
    assert!(build.status.success(), "{}", String::from_utf8_lossy(&build.stderr));

    let dockerfile = dir.path().join("Dockerfile");
    let generate = stagec()
        .arg("dockerfile")
        .arg(&spec)
        .arg("-o")
        .arg(&dockerfile)
        .output()
        .expect("runs stagec");
    assert!(generate.status.success(), "{}", String::from_utf8_lossy(&generate.stderr));
    engine.build(&dockerfile, dir.path(), dockerfile_tag, None);

    let from_llb = engine.run_image(llb_tag, &[]);
    let from_dockerfile = engine.run_image(dockerfile_tag, &[]);
    assert!(!from_llb.contains("arch= "), "TARGETARCH has a value: {from_llb}");
    assert_eq!(from_llb, from_dockerfile);

    engine
        .command(["image", "rm", "--force", llb_tag, dockerfile_tag])
        .output()
        .expect("runs docker");
}
