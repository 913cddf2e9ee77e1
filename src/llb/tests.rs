use super::*;
use crate::diag::Span;
use crate::model::Platform;

fn amd64() -> Platform {
    Platform::parse("linux/amd64").expect("valid platform")
}

fn decode(bytes: &[u8]) -> pb::Op {
    prost::Message::decode(bytes).expect("valid op")
}

const ALPINE_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Builds the graph that BuildKit's Dockerfile frontend (Docker Engine 26.1, BuildKit
/// v0.13) builds for `docker build --network=none` of:
///
/// ```text
/// FROM alpine:3
/// WORKDIR /app
/// RUN --mount=type=cache,target=/root/.cache/x echo hi > /app/x
/// ```
fn dockerfile_frontend_graph() -> (Graph, Fs) {
    let mut graph = Graph::new();
    let alpine = graph.source(
        SourceOp::image("docker.io/library/alpine:3"),
        Some(amd64()),
        OpMetadata::default(),
    );
    let mkdir = MkdirAction {
        path: "/app".into(),
        mode: 0o755,
        make_parents: true,
        owner: None,
    };
    let workdir = graph.file(
        FileOp {
            base: alpine,
            actions: vec![FileAction::Mkdir(mkdir)],
        },
        OpMetadata::default(),
    );
    let meta = Meta {
        args: vec!["/bin/sh".into(), "-c".into(), "echo hi > /app/x".into()],
        env: vec![ALPINE_PATH.into()],
        cwd: "/app".into(),
        user: String::new(),
    };
    let mut exec = ExecOp::new(workdir, meta);
    exec.network = NetworkMode::None;
    exec.mounts.push(Mount {
        target: "/root/.cache/x".into(),
        kind: MountKind::Cache {
            source: Fs::Scratch,
            selector: String::new(),
            id: "//root/.cache/x".into(),
            sharing: pb::CacheSharingOpt::Shared,
        },
    });
    let run = graph.exec(exec, amd64(), OpMetadata::default());
    let root = graph.exec_root(run);
    (graph, root)
}

#[test]
fn digests_match_dockerfile_frontend() {
    // Vertex digests that `docker build --progress=plain` printed for the
    // Dockerfile above, so ops that stagec builds share BuildKit's cache
    // with the same steps built from a Dockerfile.
    let (graph, root) = dockerfile_frontend_graph();
    let marshalled = graph.marshal(root, None);
    let digests: Vec<String> = marshalled.definition.def.iter().map(|bytes| digest_of(bytes)).collect();
    assert_eq!(
        digests[0],
        "sha256:fb73aec0980172489c90e8c6ee92306a7e40f7ea9e1ff4a08cbbde0e53706207"
    );
    assert_eq!(
        digests[1],
        "sha256:fab38f466c6f1d35a0920dc5dae52662cadb0d0b972bf694f6f117d1f5b617ea"
    );
    assert_eq!(
        digests[2],
        "sha256:5bd3779af0856c05d9616c290914e56a21b56884e12a6c75e770616adee2ec3c"
    );
    assert_eq!(digests.len(), 4, "three ops and the result op");
}

#[test]
fn marshal_is_deterministic() {
    let (graph, root) = dockerfile_frontend_graph();
    let first = graph.marshal(root, None).to_bytes();
    let (graph, root) = dockerfile_frontend_graph();
    assert_eq!(first, graph.marshal(root, None).to_bytes());
}

#[test]
fn result_op_points_at_result() {
    let (graph, root) = dockerfile_frontend_graph();
    let marshalled = graph.marshal(root, None);
    let last = decode(marshalled.definition.def.last().expect("a result op"));
    assert_eq!(last.inputs.len(), 1);
    assert_eq!(Some(last.inputs[0].digest.clone()), marshalled.result_digest());
    assert!(last.op.is_none());
    assert!(last.platform.is_none());
    assert!(last.constraints.is_none());

    let last_digest = digest_of(marshalled.definition.def.last().expect("a result op"));
    let caps = &marshalled.definition.metadata[&last_digest].caps;
    assert_eq!(caps.keys().cloned().collect::<Vec<_>>(), ["constraints", "platform"]);
}

#[test]
fn scratch_result_is_empty_definition() {
    let graph = Graph::new();
    let marshalled = graph.marshal(Fs::Scratch, None);
    assert!(marshalled.definition.def.is_empty());
    assert_eq!(marshalled.result_digest(), None);
}

#[test]
fn identical_ops_are_written_once() {
    let mut graph = Graph::new();
    let first = graph.source(
        SourceOp::image("docker.io/library/alpine:3"),
        Some(amd64()),
        OpMetadata::default(),
    );
    let second = graph.source(
        SourceOp::image("docker.io/library/alpine:3"),
        Some(amd64()),
        OpMetadata::default(),
    );
    let copy = CopyAction {
        source: second,
        src: "/etc/passwd".into(),
        dest: "/passwd".into(),
        ..CopyAction::default()
    };
    let result = graph.file(
        FileOp {
            base: first,
            actions: vec![FileAction::Copy(copy)],
        },
        OpMetadata::default(),
    );

    let marshalled = graph.marshal(result, None);
    assert_eq!(marshalled.definition.def.len(), 3, "image, file op, result op");
    let file = decode(&marshalled.definition.def[1]);
    assert_eq!(file.inputs.len(), 1, "both reads of the image are one input");
    let Some(pb::op::Op::File(file_op)) = file.op else {
        panic!("not a file op")
    };
    assert_eq!((file_op.actions[0].input, file_op.actions[0].secondary_input), (0, 0));
}

#[test]
fn exec_outputs_follow_sorted_targets() {
    let mut graph = Graph::new();
    let image = graph.source(
        SourceOp::image("docker.io/library/alpine:3"),
        Some(amd64()),
        OpMetadata::default(),
    );
    let meta = Meta {
        args: vec!["true".into()],
        cwd: "/".into(),
        ..Meta::default()
    };
    let mut exec = ExecOp::new(image, meta);
    let bind = |target: &str, readonly| Mount {
        target: target.into(),
        kind: MountKind::Bind {
            source: image,
            selector: String::new(),
            readonly,
            discard_writes: false,
        },
    };
    exec.mounts.push(bind("/z", false));
    exec.mounts.push(Mount {
        target: "/run/secrets/token".into(),
        kind: secret("token"),
    });
    exec.mounts.push(bind("/b", true));
    exec.mounts.push(bind("/a", false));
    exec.mounts.push(Mount {
        target: "/tmp".into(),
        kind: MountKind::Tmpfs { size: 0 },
    });
    let id = graph.exec(exec, amd64(), OpMetadata::default());

    assert_eq!(graph.exec_root(id), Fs::Output(Output { op: id, index: 0 }));
    assert_eq!(
        graph.exec_mount(id, "/a"),
        Some(Fs::Output(Output { op: id, index: 1 }))
    );
    assert_eq!(
        graph.exec_mount(id, "/z"),
        Some(Fs::Output(Output { op: id, index: 2 }))
    );
    assert_eq!(graph.exec_mount(id, "/b"), None, "a read-only mount has no output");
    assert_eq!(graph.exec_mount(id, "/tmp"), None, "a tmpfs mount has no output");

    let marshalled = graph.marshal(graph.exec_root(id), None);
    let op = decode(&marshalled.definition.def[1]);
    let Some(pb::op::Op::Exec(exec)) = op.op else {
        panic!("not an exec op")
    };
    let targets: Vec<&str> = exec.mounts.iter().map(|mount| mount.dest.as_str()).collect();
    assert_eq!(targets, ["/", "/a", "/b", "/tmp", "/z", "/run/secrets/token"]);
    let outputs: Vec<i64> = exec.mounts.iter().map(|mount| mount.output).collect();
    assert_eq!(outputs, [0, 1, -1, -1, 2, 0]);
    assert_eq!(op.inputs.len(), 1, "every bind mount reads the same image");
}

fn secret(id: &str) -> MountKind {
    MountKind::Secret {
        id: id.into(),
        uid: 0,
        gid: 0,
        mode: 0o400,
        optional: false,
    }
}

#[test]
fn file_actions_chain_after_inputs() {
    let mut graph = Graph::new();
    let base = graph.source(
        SourceOp::image("docker.io/library/alpine:3"),
        Some(amd64()),
        OpMetadata::default(),
    );
    let context = graph.source(
        SourceOp::local(&LocalSource {
            name: "context".into(),
            ..LocalSource::default()
        }),
        None,
        OpMetadata::default(),
    );
    let copy = |src: &str| {
        FileAction::Copy(CopyAction {
            source: context,
            src: src.into(),
            dest: "/app/".into(),
            ..CopyAction::default()
        })
    };
    let mkdir = FileAction::Mkdir(MkdirAction {
        path: "/app".into(),
        mode: 0o755,
        make_parents: true,
        owner: Some(Chown::parse("nobody")),
    });
    let file = FileOp {
        base,
        actions: vec![mkdir, copy("/go.mod"), copy("/main.go")],
    };
    let result = graph.file(file, OpMetadata::default());

    let marshalled = graph.marshal(result, None);
    let op = decode(&marshalled.definition.def[2]);
    assert!(op.platform.is_none(), "file ops carry no platform");
    let Some(pb::op::Op::File(file)) = op.op else {
        panic!("not a file op")
    };
    let indexes: Vec<(i64, i64, i64)> = file
        .actions
        .iter()
        .map(|action| (action.input, action.secondary_input, action.output))
        .collect();
    // Inputs are the base (0) and the context (1); the result of action N
    // is input 2 + N.
    assert_eq!(indexes, [(0, -1, -1), (2, 1, -1), (3, 1, 0)]);

    let Some(pb::file_action::Action::Mkdir(mkdir)) = &file.actions[0].action else {
        panic!("not a mkdir")
    };
    let Some(pb::user_opt::User::ByName(named)) = mkdir
        .owner
        .as_ref()
        .and_then(|owner| owner.user.clone())
        .and_then(|user| user.user)
    else {
        panic!("owner is not a name")
    };
    assert_eq!(
        (named.name.as_str(), named.input),
        ("nobody", 0),
        "names are looked up in the base"
    );
}

#[test]
fn caps_follow_features() {
    let mut graph = Graph::new();
    let local = LocalSource {
        name: "context".into(),
        include_patterns: vec!["main.go".into()],
        follow_paths: vec!["main.go".into()],
        shared_key_hint: Some("context".into()),
        ..LocalSource::default()
    };
    let context = graph.source(SourceOp::local(&local), None, OpMetadata::default());
    let meta = Meta {
        args: vec!["true".into()],
        cwd: "/".into(),
        ..Meta::default()
    };
    let mut exec = ExecOp::new(Fs::Scratch, meta);
    exec.network = NetworkMode::Host;
    exec.mounts.push(Mount {
        target: "/src".into(),
        kind: MountKind::Bind {
            source: context,
            selector: "/sub".into(),
            readonly: false,
            discard_writes: true,
        },
    });
    exec.mounts.push(Mount {
        target: "/tmp".into(),
        kind: MountKind::Tmpfs { size: 1024 },
    });
    exec.secret_env.push(SecretEnv {
        id: "token".into(),
        name: "TOKEN".into(),
        optional: false,
    });
    let id = graph.exec(exec, amd64(), OpMetadata::default());

    let marshalled = graph.marshal(graph.exec_root(id), None);
    let caps_of = |index: usize| -> Vec<String> {
        let digest = digest_of(&marshalled.definition.def[index]);
        marshalled.definition.metadata[&digest].caps.keys().cloned().collect()
    };
    assert_eq!(
        caps_of(0),
        [
            "source.local",
            "source.local.followpaths",
            "source.local.includepatterns",
            "source.local.sharedkeyhint"
        ]
    );
    assert_eq!(
        caps_of(1),
        [
            "exec.meta.base",
            "exec.meta.network",
            "exec.mount.bind",
            "exec.mount.bind.readwrite-nooutput",
            "exec.mount.secret",
            "exec.mount.selector",
            "exec.mount.tmpfs",
            "exec.mount.tmpfs.size",
            "exec.secretenv",
        ]
    );
}

#[test]
fn source_map_points_at_spans() {
    let text = "stage \"a\" from=\"alpine:3\" {\n    run \"true\"\n}\n";
    let run_start = text.find("run").expect("run in text");
    let mut graph = Graph::new();
    let metadata = OpMetadata {
        custom_name: Some("[a 1/1] RUN true".into()),
        locations: vec![Span::new(run_start, 10)],
        ..OpMetadata::default()
    };
    let image = graph.source(
        SourceOp::image("docker.io/library/alpine:3"),
        Some(amd64()),
        OpMetadata::default(),
    );
    let meta = Meta {
        args: vec!["/bin/sh".into(), "-c".into(), "true".into()],
        cwd: "/".into(),
        ..Meta::default()
    };
    let id = graph.exec(ExecOp::new(image, meta), amd64(), metadata);

    let info = SourceInfo {
        filename: "app.kdl".into(),
        data: text,
        language: "KDL".into(),
    };
    let marshalled = graph.marshal(graph.exec_root(id), Some(&info));
    let source = marshalled.definition.source.expect("a source map");
    assert_eq!(source.infos[0].filename, "app.kdl");
    assert_eq!(source.infos[0].data, text.as_bytes());

    let run_digest = &marshalled.op_digests[&id];
    let range = &source.locations[run_digest].locations[0].ranges[0];
    let start = range.start.expect("a start");
    let end = range.end.expect("an end");
    assert_eq!((start.line, start.character, end.line, end.character), (2, 5, 2, 15));
    assert_eq!(source.locations.len(), 1, "only the run op has a location");

    let metadata = &marshalled.definition.metadata[run_digest];
    assert_eq!(metadata.description["llb.customname"], "[a 1/1] RUN true");
    let last_digest = digest_of(marshalled.definition.def.last().expect("a result op"));
    assert!(
        marshalled.definition.metadata[&last_digest]
            .caps
            .contains_key("meta.description")
    );
}

#[test]
fn json_dump_has_one_line_per_op() {
    let (graph, root) = dockerfile_frontend_graph();
    let marshalled = graph.marshal(root, None);
    let dump = json::dump(&marshalled.definition);
    let lines: Vec<&str> = dump.lines().collect();
    assert_eq!(lines.len(), 4);
    let exec: serde_json::Value = serde_json::from_str(lines[2]).expect("valid JSON");
    assert_eq!(
        exec["Digest"],
        "sha256:5bd3779af0856c05d9616c290914e56a21b56884e12a6c75e770616adee2ec3c"
    );
    assert_eq!(exec["Op"]["op"]["exec"]["network"], "NONE");
    assert_eq!(
        exec["Op"]["op"]["exec"]["mounts"][1]["cacheOpt"]["id"],
        "//root/.cache/x"
    );
    assert_eq!(exec["OpMetadata"]["caps"]["exec.mount.cache"], true);
}
