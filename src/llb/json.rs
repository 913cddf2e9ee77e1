//! A readable dump of a definition, one JSON object per op per line, like
//! `buildctl debug dump-llb`: `{"Digest": ..., "Op": ..., "OpMetadata": ...}`.
//! Ops are decoded from the marshalled bytes, so the dump shows exactly what
//! a solve sends. Field names follow the protobuf JSON mapping (lowerCamelCase),
//! enums are written by name, and fields with their default value are left out.

use prost::Message;
use serde_json::{Map, Value, json};

use super::digest::digest_of;
use super::pb;

/// Returns one line per op of `definition`, in definition order.
pub fn dump(definition: &pb::Definition) -> String {
    let mut out = String::new();
    for bytes in &definition.def {
        let digest = digest_of(bytes);
        let op = match pb::Op::decode(bytes.as_slice()) {
            Ok(op) => op_json(&op),
            Err(error) => json!({ "error": format!("invalid op: {error}") }),
        };
        let mut line = Map::new();
        line.insert("Digest".into(), Value::String(digest.clone()));
        line.insert("Op".into(), op);
        if let Some(metadata) = definition.metadata.get(&digest) {
            line.insert("OpMetadata".into(), metadata_json(metadata));
        }
        out.push_str(&Value::Object(line).to_string());
        out.push('\n');
    }
    out
}

/// A JSON object that leaves out fields with their default value.
#[derive(Default)]
struct Object(Map<String, Value>);

impl Object {
    fn string(mut self, key: &str, value: &str) -> Self {
        if !value.is_empty() {
            self.0.insert(key.into(), Value::String(value.into()));
        }
        self
    }

    fn int(mut self, key: &str, value: i64) -> Self {
        if value != 0 {
            self.0.insert(key.into(), Value::from(value));
        }
        self
    }

    fn flag(mut self, key: &str, value: bool) -> Self {
        if value {
            self.0.insert(key.into(), Value::Bool(true));
        }
        self
    }

    fn strings(mut self, key: &str, values: &[String]) -> Self {
        if !values.is_empty() {
            self.0.insert(key.into(), Value::from(values.to_vec()));
        }
        self
    }

    fn value(mut self, key: &str, value: Option<Value>) -> Self {
        if let Some(value) = value {
            self.0.insert(key.into(), value);
        }
        self
    }

    fn list(self, key: &str, values: Vec<Value>) -> Self {
        self.value(key, (!values.is_empty()).then_some(Value::Array(values)))
    }

    fn build(self) -> Value {
        Value::Object(self.0)
    }
}

fn op_json(op: &pb::Op) -> Value {
    let inputs = op.inputs.iter().map(|input| {
        Object::default()
            .string("digest", &input.digest)
            .int("index", input.index)
            .build()
    });
    let kind = op.op.as_ref().map(|kind| match kind {
        pb::op::Op::Source(source) => json!({ "source": source_json(source) }),
        pb::op::Op::Exec(exec) => json!({ "exec": exec_json(exec) }),
        pb::op::Op::File(file) => json!({ "file": file_json(file) }),
        pb::op::Op::Build(_) => json!({ "build": {} }),
        pb::op::Op::Merge(_) => json!({ "merge": {} }),
        pb::op::Op::Diff(_) => json!({ "diff": {} }),
    });
    let platform = op.platform.as_ref().map(|platform| {
        Object::default()
            .string("architecture", &platform.architecture)
            .string("os", &platform.os)
            .string("variant", &platform.variant)
            .build()
    });
    let constraints = op
        .constraints
        .as_ref()
        .map(|constraints| Object::default().strings("filter", &constraints.filter).build());
    Object::default()
        .list("inputs", inputs.collect())
        .value("op", kind)
        .value("platform", platform)
        .value("constraints", constraints)
        .build()
}

fn source_json(source: &pb::SourceOp) -> Value {
    let attrs: Map<String, Value> = source
        .attrs
        .iter()
        .map(|(key, value)| (key.clone(), Value::String(value.clone())))
        .collect();
    Object::default()
        .string("identifier", &source.identifier)
        .value("attrs", (!attrs.is_empty()).then_some(Value::Object(attrs)))
        .build()
}

fn exec_json(exec: &pb::ExecOp) -> Value {
    let meta = exec.meta.as_ref().map(|meta| {
        Object::default()
            .strings("args", &meta.args)
            .strings("env", &meta.env)
            .string("cwd", &meta.cwd)
            .string("user", &meta.user)
            .string("hostname", &meta.hostname)
            .flag("removeMountStubsRecursive", meta.remove_mount_stubs_recursive)
            .build()
    });
    let network = pb::NetMode::try_from(exec.network).map_or("INVALID", |mode| mode.as_str_name());
    let secret_env = exec.secretenv.iter().map(|secret| {
        Object::default()
            .string("id", &secret.id)
            .string("name", &secret.name)
            .flag("optional", secret.optional)
            .build()
    });
    Object::default()
        .value("meta", meta)
        .list("mounts", exec.mounts.iter().map(mount_json).collect())
        .string("network", if exec.network == 0 { "" } else { network })
        .list("secretenv", secret_env.collect())
        .build()
}

fn mount_json(mount: &pb::Mount) -> Value {
    let mount_type = pb::MountType::try_from(mount.mount_type).map_or("INVALID", |kind| kind.as_str_name());
    let cache = mount.cache_opt.as_ref().map(|cache| {
        let sharing = pb::CacheSharingOpt::try_from(cache.sharing).map_or("INVALID", |sharing| sharing.as_str_name());
        Object::default()
            .string("id", &cache.id)
            .string("sharing", sharing)
            .build()
    });
    let secret = mount.secret_opt.as_ref().map(|secret| {
        Object::default()
            .string("id", &secret.id)
            .int("uid", secret.uid.into())
            .int("gid", secret.gid.into())
            .int("mode", secret.mode.into())
            .flag("optional", secret.optional)
            .build()
    });
    let ssh = mount.ssh_opt.as_ref().map(|ssh| {
        Object::default()
            .string("id", &ssh.id)
            .int("uid", ssh.uid.into())
            .int("gid", ssh.gid.into())
            .int("mode", ssh.mode.into())
            .flag("optional", ssh.optional)
            .build()
    });
    let tmpfs = mount
        .tmpfs_opt
        .as_ref()
        .map(|tmpfs| Object::default().int("size", tmpfs.size).build());
    Object::default()
        .int("input", mount.input)
        .string("selector", &mount.selector)
        .string("dest", &mount.dest)
        .int("output", mount.output)
        .flag("readonly", mount.readonly)
        .string("mountType", if mount.mount_type == 0 { "" } else { mount_type })
        .value("tmpfsOpt", tmpfs)
        .value("cacheOpt", cache)
        .value("secretOpt", secret)
        .value("sshOpt", ssh)
        .build()
}

fn file_json(file: &pb::FileOp) -> Value {
    let actions = file.actions.iter().map(|action| {
        let body = action.action.as_ref().map(|body| match body {
            pb::file_action::Action::Copy(copy) => json!({ "copy": copy_json(copy) }),
            pb::file_action::Action::Mkdir(mkdir) => json!({ "mkdir": Object::default()
                .string("path", &mkdir.path)
                .int("mode", mkdir.mode.into())
                .flag("makeParents", mkdir.make_parents)
                .value("owner", mkdir.owner.as_ref().map(chown_json))
                .int("timestamp", mkdir.timestamp)
                .build() }),
            pb::file_action::Action::Mkfile(mkfile) => json!({ "mkfile": Object::default()
                .string("path", &mkfile.path)
                .int("mode", mkfile.mode.into())
                .string("data", &String::from_utf8_lossy(&mkfile.data))
                .value("owner", mkfile.owner.as_ref().map(chown_json))
                .int("timestamp", mkfile.timestamp)
                .build() }),
            pb::file_action::Action::Rm(rm) => json!({ "rm": Object::default()
                .string("path", &rm.path)
                .flag("allowNotFound", rm.allow_not_found)
                .flag("allowWildcard", rm.allow_wildcard)
                .build() }),
            pb::file_action::Action::Symlink(_) => json!({ "symlink": {} }),
        });
        Object::default()
            .int("input", action.input)
            .int("secondaryInput", action.secondary_input)
            .int("output", action.output)
            .value("action", body)
            .build()
    });
    Object::default().list("actions", actions.collect()).build()
}

fn copy_json(copy: &pb::FileActionCopy) -> Value {
    Object::default()
        .string("src", &copy.src)
        .string("dest", &copy.dest)
        .value("owner", copy.owner.as_ref().map(chown_json))
        .int("mode", copy.mode.into())
        .flag("followSymlink", copy.follow_symlink)
        .flag("dirCopyContents", copy.dir_copy_contents)
        .flag(
            "attemptUnpackDockerCompatibility",
            copy.attempt_unpack_docker_compatibility,
        )
        .flag("createDestPath", copy.create_dest_path)
        .flag("allowWildcard", copy.allow_wildcard)
        .flag("allowEmptyWildcard", copy.allow_empty_wildcard)
        .int("timestamp", copy.timestamp)
        .strings("includePatterns", &copy.include_patterns)
        .strings("excludePatterns", &copy.exclude_patterns)
        .build()
}

fn chown_json(chown: &pb::ChownOpt) -> Value {
    let user = |user: &pb::UserOpt| match &user.user {
        Some(pb::user_opt::User::ById(id)) => json!({ "byId": id }),
        Some(pb::user_opt::User::ByName(named)) => json!({ "byName": { "name": named.name, "input": named.input } }),
        None => json!({}),
    };
    Object::default()
        .value("user", chown.user.as_ref().map(user))
        .value("group", chown.group.as_ref().map(user))
        .build()
}

fn metadata_json(metadata: &pb::OpMetadata) -> Value {
    let description: Map<String, Value> = metadata
        .description
        .iter()
        .map(|(key, value)| (key.clone(), Value::String(value.clone())))
        .collect();
    let caps: Map<String, Value> = metadata
        .caps
        .iter()
        .map(|(key, value)| (key.clone(), Value::Bool(*value)))
        .collect();
    Object::default()
        .flag("ignoreCache", metadata.ignore_cache)
        .value(
            "description",
            (!description.is_empty()).then_some(Value::Object(description)),
        )
        .value("caps", (!caps.is_empty()).then_some(Value::Object(caps)))
        .build()
}
