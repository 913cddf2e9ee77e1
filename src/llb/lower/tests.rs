use super::*;
use crate::llb::pb;
use crate::lock::{LockedImage, spec_images_digest};
use crate::lower::LowerOptions;
use prost::Message;

const GOLANG_PATH: &str = "PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn amd64() -> Platform {
    Platform::parse("linux/amd64").expect("valid platform")
}

fn options() -> LlbOptions {
    LlbOptions {
        platforms: Platforms {
            target: amd64(),
            build: amd64(),
        },
        default_network: NetworkMode::Sandbox,
    }
}

/// Returns a lock like the one `stagec lock` writes for the test engine's alpine:3
/// and golang:1.19 images (see scripts/base-images.sh).
fn test_lock(spec_images: String) -> LockFile {
    let image = |reference: &str, config: ImageConfig| LockedImage {
        reference: reference.to_string(),
        platform: "linux/amd64".to_string(),
        image_id: "sha256:0000000000000000000000000000000000000000000000000000000000000000".to_string(),
        repo_digests: Vec::new(),
        image_platform: "linux/amd64".to_string(),
        layers: 1,
        config,
    };
    let labels = BTreeMap::from([("org.stagec.base-image.revision".to_string(), "1".to_string())]);
    let alpine = ImageConfig {
        env: Some(vec![format!("PATH={}", state::DEFAULT_PATH)]),
        cmd: Some(vec!["/bin/sh".into()]),
        labels: Some(labels.clone()),
        ..ImageConfig::default()
    };
    let golang = ImageConfig {
        env: Some(vec![
            GOLANG_PATH.into(),
            "GOLANG_VERSION=1.19.8".into(),
            "GOPATH=/go".into(),
        ]),
        cmd: Some(vec!["/bin/sh".into()]),
        working_dir: "/go".into(),
        labels: Some(labels),
        ..ImageConfig::default()
    };
    LockFile::new(
        spec_images,
        vec![
            image("docker.io/library/alpine:3", alpine),
            image("docker.io/library/golang:1.19", golang),
        ],
    )
}

fn lower_source(source: &str, target: Option<&str>) -> Result<LlbBuild, Diagnostics> {
    let compilation = crate::compile::check(source);
    assert!(!compilation.has_errors(), "{:?}", compilation.diagnostics);
    let spec = compilation.spec.expect("a spec");
    let lower_options = LowerOptions {
        target: target.map(str::to_string),
        ..LowerOptions::default()
    };
    let build = crate::lower::lower(&spec, &compilation.graph, &lower_options).expect("lowers");
    lower(&build, &test_lock(spec_images_digest(&spec)), &options())
}

fn stage<'a>(llb: &'a LlbBuild, name: &str) -> &'a LoweredStage {
    llb.stages
        .iter()
        .find(|stage| stage.name == name)
        .expect("stage exists")
}

/// Decoded ops of the definition of `stage`, by custom name.
fn ops_of(llb: &LlbBuild, name: &str) -> BTreeMap<String, pb::Op> {
    let index = llb
        .stages
        .iter()
        .position(|stage| stage.name == name)
        .expect("stage exists");
    let marshalled = llb.definition(index, None);
    let mut ops = BTreeMap::new();
    for bytes in &marshalled.definition.def {
        let digest = crate::llb::digest_of(bytes);
        let op = pb::Op::decode(bytes.as_slice()).expect("valid op");
        let name = marshalled
            .definition
            .metadata
            .get(&digest)
            .and_then(|metadata| metadata.description.get("llb.customname").cloned())
            .unwrap_or_else(|| "<result>".to_string());
        ops.insert(name, op);
    }
    ops
}

fn exec_of(op: &pb::Op) -> &pb::ExecOp {
    match &op.op {
        Some(pb::op::Op::Exec(exec)) => exec,
        other => panic!("not an exec op: {other:?}"),
    }
}

/// specs/examples/go-web/app.kdl with `network="none"` on its run step.
const GO_WEB: &str = r#"
stage "builder" from="golang:1.19" {
    workdir "/app"
    copy "go.mod" "main.go" to="/app/"
    run "go build -o /app/main ." network="none" {
        env CGO_ENABLED="0"
        cache "/root/.cache/go-build"
    }
    artifact "app" path="/app/main" kind="executable" linkage="static"
}

stage "runtime" from="alpine:3" {
    workdir "/app"
    copy artifact="app" from="builder" to="/app/main"
    user "nobody"
    expose 8080
    healthcheck "wget" "-q" "-O" "/dev/null" "http://127.0.0.1:8080/health" interval="30s" timeout="3s"
    cmd "/app/main"
}

image "runtime" tag="go-web:1.0"
"#;

#[test]
fn go_web_builder_run() {
    let llb = lower_source(GO_WEB, None).expect("lowers");
    let ops = ops_of(&llb, "builder");
    let run = exec_of(&ops["[builder 4/4] RUN go build -o /app/main ."]);
    let meta = run.meta.as_ref().expect("meta");
    assert_eq!(meta.args, ["/bin/sh", "-c", "go build -o /app/main ."]);
    assert_eq!(meta.cwd, "/app");
    assert_eq!(
        meta.env,
        [GOLANG_PATH, "GOLANG_VERSION=1.19.8", "GOPATH=/go", "CGO_ENABLED=0"]
    );
    assert_eq!(run.network, pb::NetMode::None as i32);

    let cache = run
        .mounts
        .iter()
        .find(|mount| mount.dest == "/root/.cache/go-build")
        .expect("cache mount");
    assert_eq!(
        cache.cache_opt.as_ref().map(|cache| cache.id.as_str()),
        Some("//root/.cache/go-build")
    );
    assert_eq!((cache.input, cache.output), (-1, -1));

    assert!(ops.contains_key("[builder 1/4] FROM docker.io/library/golang:1.19"));
    assert!(ops.contains_key("[builder 2/4] WORKDIR /app"));
    assert!(ops.contains_key("[builder 3/4] COPY go.mod main.go /app/"));
    assert!(ops.contains_key("[internal] load build context"));
}

#[test]
fn go_web_context_source() {
    let llb = lower_source(GO_WEB, None).expect("lowers");
    let ops = ops_of(&llb, "builder");
    let Some(pb::op::Op::Source(source)) = &ops["[internal] load build context"].op else {
        panic!("not a source")
    };
    assert_eq!(source.identifier, "local://context");
    assert_eq!(source.attrs["local.includepattern"], r#"["go.mod","main.go"]"#);
    assert_eq!(source.attrs["local.followpaths"], r#"["go.mod","main.go"]"#);
    assert_eq!(source.attrs["local.sharedkeyhint"], "context");

    let Some(pb::op::Op::File(file)) = &ops["[builder 3/4] COPY go.mod main.go /app/"].op else {
        panic!("not a file op")
    };
    let copies: Vec<(String, String)> = file
        .actions
        .iter()
        .map(|action| match &action.action {
            Some(pb::file_action::Action::Copy(copy)) => (copy.src.clone(), copy.dest.clone()),
            other => panic!("not a copy: {other:?}"),
        })
        .collect();
    assert_eq!(
        copies,
        [("/go.mod".into(), "/app/".into()), ("/main.go".into(), "/app/".into())]
    );
}

#[test]
fn go_web_runtime_config() {
    let llb = lower_source(GO_WEB, None).expect("lowers");
    let runtime = stage(&llb, "runtime");
    assert_eq!(llb.stages[llb.output].name, "runtime");
    let config = &runtime.image_config["config"];
    assert_eq!(runtime.image_config["os"], "linux");
    assert_eq!(runtime.image_config["architecture"], "amd64");
    assert_eq!(config["WorkingDir"], "/app");
    assert_eq!(config["User"], "nobody");
    assert_eq!(config["Cmd"], serde_json::json!(["/app/main"]));
    assert_eq!(
        config["Env"],
        serde_json::json!([format!("PATH={}", state::DEFAULT_PATH)])
    );
    assert_eq!(config["ExposedPorts"], serde_json::json!({"8080/tcp": {}}));
    assert_eq!(config["Labels"]["org.stagec.base-image.revision"], "1");
    assert_eq!(
        config["Healthcheck"],
        serde_json::json!({
            "Test": ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/health"],
            "Interval": 30_000_000_000_i64,
            "Timeout": 3_000_000_000_i64,
        })
    );
}

#[test]
fn copy_from_stage_records_artifact() {
    let llb = lower_source(GO_WEB, None).expect("lowers");
    let step = llb
        .steps
        .iter()
        .find(|step| step.artifact.is_some())
        .expect("an artifact copy");
    assert_eq!(step.name, "[runtime 3/3] COPY --from=builder /app/main /app/main");
    let artifact = step.artifact.as_ref().expect("artifact");
    assert_eq!(
        (artifact.stage.as_str(), artifact.path.as_str()),
        ("builder", "/app/main")
    );
    assert_eq!(&GO_WEB[artifact.span.start..artifact.span.end()], "\"/app/main\"");
    assert_eq!(llb.step_named(&step.name), Some(step));
}

#[test]
fn scratch_stage_gets_path_and_root_workdir() {
    let source = r#"
stage "b" from="golang:1.19" {
    run "true" network="none"
    artifact "x" path="/x" kind="file"
}
stage "s" from="scratch" {
    copy artifact="x" from="b" to="/x"
    entrypoint "/x"
}
image "s" tag="s:1"
"#;
    let llb = lower_source(source, None).expect("lowers");
    let config = &stage(&llb, "s").image_config["config"];
    assert_eq!(
        config["Env"],
        serde_json::json!([format!("PATH={}", state::DEFAULT_PATH)])
    );
    assert_eq!(config["WorkingDir"], "/");
    assert_eq!(config["Entrypoint"], serde_json::json!(["/x"]));
    assert!(config.get("Cmd").is_none());
}

#[test]
fn entrypoint_clears_inherited_cmd() {
    let source = r#"
stage "a" from="alpine:3" {
    entrypoint "/bin/echo"
}
image "a" tag="a:1"
"#;
    let llb = lower_source(source, None).expect("lowers");
    let config = &stage(&llb, "a").image_config["config"];
    assert!(config.get("Cmd").is_none(), "alpine's cmd is cleared: {config}");

    let source = source.replace("entrypoint \"/bin/echo\"", "cmd \"hi\"\n    entrypoint \"/bin/echo\"");
    let llb = lower_source(&source, None).expect("lowers");
    let config = &stage(&llb, "a").image_config["config"];
    assert_eq!(
        config["Cmd"],
        serde_json::json!(["hi"]),
        "a cmd of the stage itself stays"
    );
}

#[test]
fn stage_args_reach_run_env() {
    let source = r#"
arg "VERSION" default="1.0.0"
stage "b" from="golang:1.19" {
    arg "VERSION"
    arg "MODE" default="fast"
    run "echo $VERSION $MODE" network="none"
    artifact "x" path="/x" kind="file"
}
stage "t" from="b" {
    run "echo $MODE" network="none"
}
stage "s" from="scratch" {
    copy artifact="x" from="b" to="/x"
    label "version"="${VERSION}"
    entrypoint "/x"
}
image "s" tag="s:${VERSION}"
check "t"
"#;
    let llb = lower_source(source, None).expect("lowers");
    let ops = ops_of(&llb, "b");
    let env = &exec_of(&ops["[b 2/2] RUN echo $VERSION $MODE"])
        .meta
        .as_ref()
        .expect("meta")
        .env;
    assert_eq!(
        env[env.len() - 2..],
        ["VERSION=1.0.0".to_string(), "MODE=fast".to_string()]
    );
    assert!(
        !stage(&llb, "b").image_config["config"]["Env"]
            .to_string()
            .contains("MODE"),
        "args stay out of the image"
    );

    // BuildKit keeps the base stage's arg env in a stage built on it.
    let ops = ops_of(&llb, "t");
    let env = &exec_of(&ops["[t 1/1] RUN echo $MODE"]).meta.as_ref().expect("meta").env;
    assert!(env.contains(&"MODE=fast".to_string()), "{env:?}");

    assert_eq!(stage(&llb, "s").image_config["config"]["Labels"]["version"], "1.0.0");
    assert_eq!(
        llb.checks(),
        [llb.stages.iter().position(|stage| stage.name == "t").expect("t")]
    );
}

#[test]
fn cross_compile_stage_gets_target_platform_env() {
    let source = r#"
stage "b" from="golang:1.19" cross-compile=#true {
    run "go env GOARCH" network="none"
    artifact "x" path="/x" kind="file"
}
stage "s" from="scratch" {
    copy artifact="x" from="b" to="/x"
    entrypoint "/x"
}
image "s" tag="s:1"
"#;
    let llb = lower_source(source, None).expect("lowers");
    let ops = ops_of(&llb, "b");
    let env = &exec_of(&ops["[b 2/2] RUN go env GOARCH"])
        .meta
        .as_ref()
        .expect("meta")
        .env;
    for expected in [
        "TARGETPLATFORM=linux/amd64",
        "TARGETOS=linux",
        "TARGETARCH=amd64",
        "TARGETVARIANT=",
    ] {
        assert!(env.contains(&expected.to_string()), "{expected} in {env:?}");
    }
}

#[test]
fn mounts_lower_like_dockerfile_frontend() {
    let source = r#"
secret "token"
stage "b" from="alpine:3" {
    workdir "/src"
    run "make" network="host" {
        env GOFLAGS="-mod=vendor"
        cache "/cache/go" id="go" sharing="locked" uid=1000
        secret "token"
        secret "token" env="TOKEN"
        ssh
        tmpfs "/tmp" size=1048576
        bind "/src/cfg" source="config"
    }
}
image "b" tag="b:1"
"#;
    let llb = lower_source(source, None).expect("lowers");
    let ops = ops_of(&llb, "b");
    let run = exec_of(&ops["[b 3/3] RUN make"]);
    assert_eq!(run.network, pb::NetMode::Host as i32);
    let targets: Vec<&str> = run.mounts.iter().map(|mount| mount.dest.as_str()).collect();
    assert_eq!(
        targets,
        [
            "/",
            "/cache/go",
            "/src/cfg",
            "/tmp",
            "/run/secrets/token",
            "/run/buildkit/ssh_agent.0"
        ]
    );

    let cache = &run.mounts[1];
    assert_eq!(
        cache.cache_opt.as_ref().map(|cache| (cache.id.as_str(), cache.sharing)),
        Some(("/go", 2))
    );
    assert_eq!(
        cache.selector, "/cache",
        "uid= seeds the cache from a prepared directory"
    );
    assert!(ops.contains_key("[internal] settings cache mount permissions"));

    let bind = &run.mounts[2];
    assert_eq!((bind.selector.as_str(), bind.readonly), ("/config", true));
    assert_eq!(run.secretenv.len(), 1);
    assert_eq!(run.secretenv[0].name, "TOKEN");
    let env = &run.meta.as_ref().expect("meta").env;
    assert!(env.contains(&"GOFLAGS=-mod=vendor".to_string()));
    assert!(env.contains(&"SSH_AUTH_SOCK=/run/buildkit/ssh_agent.0".to_string()));
}

#[test]
fn missing_lock_entry_is_reported() {
    let source = r#"
stage "a" from="busybox:1.36" {
    cmd "true"
}
image "a" tag="a:1"
"#;
    let diagnostics = lower_source(source, None).expect_err("busybox is not locked");
    let codes: Vec<Code> = diagnostics.iter().map(|diagnostic| diagnostic.code).collect();
    assert_eq!(codes, [Code::StaleLock]);
}

#[test]
fn lowering_is_deterministic() {
    let first = lower_source(GO_WEB, None).expect("lowers");
    let second = lower_source(GO_WEB, None).expect("lowers");
    assert_eq!(
        first.definition(first.output, None).to_bytes(),
        second.definition(second.output, None).to_bytes()
    );
}

mod engine_caps;

#[test]
fn cross_compile_keeps_platform_arg_redeclared() {
    let source = r#"
stage "b" from="golang:1.19" cross-compile=#true {
    arg "TARGETARCH"
    run "go env GOARCH" network="none"
    artifact "x" path="/x" kind="file"
}
image "b" tag="b:1"
"#;
    let llb = lower_source(source, None).expect("lowers");
    let ops = ops_of(&llb, "b");
    let env = &exec_of(&ops["[b 2/2] RUN go env GOARCH"])
        .meta
        .as_ref()
        .expect("meta")
        .env;
    assert!(env.contains(&"TARGETARCH=amd64".to_string()), "{env:?}");
}

#[test]
fn env_references_read_image_and_stage_env() {
    let source = r#"
stage "base" from="golang:1.19" {
    env APP_HOME="/opt/app"
}
stage "app" from="base" {
    env PATH="${env:APP_HOME}/bin:${env:PATH}" OLD="${env:PATH}" GO="${env:GOPATH}" NONE="${env:NO_SUCH_VAR}"
    workdir "${env:APP_HOME}/work"
    label "l"="${env:OLD}"
}
image "app" tag="app:1"
"#;
    let llb = lower_source(source, None).expect("lowers");
    let config = &stage(&llb, "app").image_config["config"];
    let env: Vec<&str> = config["Env"]
        .as_array()
        .expect("an env list")
        .iter()
        .filter_map(|entry| entry.as_str())
        .collect();
    let old_path = GOLANG_PATH.trim_start_matches("PATH=");
    assert!(env.contains(&format!("PATH=/opt/app/bin:{old_path}").as_str()), "{env:?}");
    assert!(env.contains(&format!("OLD={old_path}").as_str()), "{env:?}");
    assert!(env.contains(&"GO=/go"), "{env:?}");
    assert!(env.contains(&"NONE="), "{env:?}");
    assert_eq!(config["WorkingDir"], "/opt/app/work");
    assert_eq!(config["Labels"]["l"], old_path);
}

#[test]
fn declared_platform_args_get_platform_values() {
    let source = r#"
stage "b" from="alpine:3" {
    arg "TARGETARCH"
    arg "BUILDPLATFORM"
    arg "TARGETVARIANT"
    run "echo arch=$TARGETARCH build=$BUILDPLATFORM" network="none"
}
image "b" tag="b:1"
"#;
    let llb = lower_source(source, None).expect("lowers");
    let ops = ops_of(&llb, "b");
    let env = &exec_of(&ops["[b 2/2] RUN echo arch=$TARGETARCH build=$BUILDPLATFORM"])
        .meta
        .as_ref()
        .expect("meta")
        .env;
    for expected in ["TARGETARCH=amd64", "BUILDPLATFORM=linux/amd64", "TARGETVARIANT="] {
        assert!(env.contains(&expected.to_string()), "{expected} in {env:?}");
    }
    assert!(
        !env.iter().any(|entry| entry.starts_with("TARGETOS=")),
        "an undeclared platform arg stays out of the env: {env:?}"
    );
}

#[test]
fn platform_prefix_names_steps() {
    let mut llb = lower_source(GO_WEB, None).expect("lowers");
    let arm64 = Platform::parse("linux/arm64").expect("valid platform");
    llb.name_platform(&arm64);

    let ops = ops_of(&llb, "builder");
    assert!(
        ops.contains_key("[linux/arm64 builder 4/4] RUN go build -o /app/main ."),
        "{:?}",
        ops.keys().collect::<Vec<_>>()
    );
    let step = llb
        .step_named("[linux/arm64 builder 4/4] RUN go build -o /app/main .")
        .expect("the step keeps its origin");
    assert_eq!(step.stage, 0);
}
