//! Preparing a definition for one build: every op must decode, the local
//! sources are bound to the build's session, `no_cache` marks every op to
//! run again, and the exec ops tell which entitlements the build needs.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bollard_buildkit_proto::pb::{self, Definition};
use prost::Message;
use sha2::{Digest, Sha256};

use super::error::EngineError;
use crate::llb::caps::SOURCE_LOCAL_SESSION_ID;

/// Source attribute that names the session serving a local source, from
/// BuildKit's solver/pb/attr.go.
const ATTR_LOCAL_SESSION: &str = "local.session";

/// A definition ready for the Solve request.
#[derive(Debug, Clone)]
pub(crate) struct PreparedDefinition {
    pub definition: Definition,
    /// Entitlements that the Solve request must list, sorted.
    pub entitlements: Vec<String>,
}

/// Prepares `definition` for the build whose session is `session_id`.
pub(crate) fn prepare_definition(
    definition: Definition,
    no_cache: bool,
    session_id: &str,
) -> Result<PreparedDefinition, EngineError> {
    if definition.def.is_empty() {
        return Err(EngineError::InvalidRequest {
            detail: "the LLB definition has no ops".to_string(),
        });
    }
    let ops = decode_ops(&definition)?;
    let entitlements = entitlements_for(&ops);
    let mut definition = bind_local_sources(definition, ops, session_id)?;
    if no_cache {
        for op_bytes in &definition.def {
            definition.metadata.entry(op_digest(op_bytes)).or_default().ignore_cache = true;
        }
    }
    Ok(PreparedDefinition {
        definition,
        entitlements,
    })
}

/// Returns the digest BuildKit gives an op: `sha256:` and the hex SHA-256
/// of its marshalled bytes.
pub(crate) fn op_digest(op_bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(op_bytes))
}

fn decode_ops(definition: &Definition) -> Result<Vec<pb::Op>, EngineError> {
    definition
        .def
        .iter()
        .enumerate()
        .map(|(index, op_bytes)| {
            pb::Op::decode(op_bytes.as_slice()).map_err(|error| EngineError::InvalidRequest {
                detail: format!("op {index} of the LLB definition does not decode: {error}"),
            })
        })
        .collect()
}

/// Returns the entitlements the ops need: `network.host` for an exec with
/// host networking and `security.insecure` for a privileged one. The
/// engine rejects such ops unless the Solve request lists them.
fn entitlements_for(ops: &[pb::Op]) -> Vec<String> {
    let mut entitlements = BTreeSet::new();
    for op in ops {
        if let Some(pb::op::Op::Exec(exec)) = &op.op {
            if exec.network == pb::NetMode::Host as i32 {
                entitlements.insert("network.host".to_string());
            }
            if exec.security == pb::SecurityMode::Insecure as i32 {
                entitlements.insert("security.insecure".to_string());
            }
        }
    }
    entitlements.into_iter().collect()
}

/// Adds the session ID to every local source that names no session, and
/// renames the ops that change, and the ops that read them, by their new
/// digests.
///
/// BuildKit runs an op only once for all the builds that contain it at the
/// same time. Two builds whose local sources have the same bytes, such as
/// `local://context` with the same patterns from two folders, would share
/// the files of one of them. The session ID makes each build's source its
/// own, as BuildKit's Dockerfile frontend does with `llb.SessionID`.
// NOTE: an op that is encoded again loses protobuf fields that this
// crate's pb types do not know.
fn bind_local_sources(
    definition: Definition,
    mut ops: Vec<pb::Op>,
    session_id: &str,
) -> Result<Definition, EngineError> {
    if !ops.iter().any(is_unbound_local_source) {
        return Ok(definition);
    }
    let Definition {
        mut def,
        metadata,
        source,
    } = definition;
    let old_digests: Vec<String> = def.iter().map(|op_bytes| op_digest(op_bytes)).collect();

    let mut renamed: BTreeMap<String, String> = BTreeMap::new();
    let mut bound: BTreeSet<String> = BTreeSet::new();
    for index in topological_order(&ops, &old_digests)? {
        let op = &mut ops[index];
        let mut changed = false;
        for input in &mut op.inputs {
            if let Some(new_digest) = renamed.get(&input.digest) {
                input.digest = new_digest.clone();
                changed = true;
            }
        }
        let binds = is_unbound_local_source(op);
        if binds && let Some(pb::op::Op::Source(source_op)) = &mut op.op {
            source_op
                .attrs
                .insert(ATTR_LOCAL_SESSION.to_string(), session_id.to_string());
            changed = true;
        }
        if changed {
            let op_bytes = op.encode_to_vec();
            let new_digest = op_digest(&op_bytes);
            if binds {
                bound.insert(new_digest.clone());
            }
            renamed.insert(old_digests[index].clone(), new_digest);
            def[index] = op_bytes;
        }
    }

    let rename = |digest: String| renamed.get(&digest).cloned().unwrap_or(digest);
    let mut metadata: BTreeMap<String, pb::OpMetadata> = metadata
        .into_iter()
        .map(|(digest, op_metadata)| (rename(digest), op_metadata))
        .collect();
    for digest in bound {
        metadata
            .entry(digest)
            .or_default()
            .caps
            .insert(SOURCE_LOCAL_SESSION_ID.to_string(), true);
    }
    let source = source.map(|mut source_map| {
        source_map.locations = std::mem::take(&mut source_map.locations)
            .into_iter()
            .map(|(digest, locations)| (rename(digest), locations))
            .collect();
        source_map
    });
    Ok(Definition { def, metadata, source })
}

fn is_unbound_local_source(op: &pb::Op) -> bool {
    matches!(&op.op, Some(pb::op::Op::Source(source))
        if source.identifier.starts_with("local://") && !source.attrs.contains_key(ATTR_LOCAL_SESSION))
}

/// Returns the op indexes with every op after the ops it reads. BuildKit's
/// `llb` package and stagec already write ops in this order, but a
/// definition from elsewhere need not be.
fn topological_order(ops: &[pb::Op], digests: &[String]) -> Result<Vec<usize>, EngineError> {
    let index_of: BTreeMap<&str, usize> = digests
        .iter()
        .enumerate()
        .map(|(index, digest)| (digest.as_str(), index))
        .collect();
    let mut unresolved_inputs = vec![0usize; ops.len()];
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); ops.len()];
    for (index, op) in ops.iter().enumerate() {
        for input in &op.inputs {
            if let Some(&producer) = index_of.get(input.digest.as_str()) {
                unresolved_inputs[index] += 1;
                readers[producer].push(index);
            }
        }
    }

    let mut ready: VecDeque<usize> = (0..ops.len()).filter(|&index| unresolved_inputs[index] == 0).collect();
    let mut order = Vec::with_capacity(ops.len());
    while let Some(index) = ready.pop_front() {
        order.push(index);
        for &reader in &readers[index] {
            unresolved_inputs[reader] -= 1;
            if unresolved_inputs[reader] == 0 {
                ready.push_back(reader);
            }
        }
    }
    if order.len() != ops.len() {
        return Err(EngineError::InvalidRequest {
            detail: "the ops of the LLB definition read each other in a cycle".to_string(),
        });
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec_op(network: pb::NetMode) -> Vec<u8> {
        let exec = pb::ExecOp {
            network: network as i32,
            ..pb::ExecOp::default()
        };
        pb::Op {
            op: Some(pb::op::Op::Exec(exec)),
            ..pb::Op::default()
        }
        .encode_to_vec()
    }

    fn local_source(attrs: &[(&str, &str)]) -> pb::Op {
        let source = pb::SourceOp {
            identifier: "local://context".to_string(),
            attrs: attrs
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect(),
        };
        pb::Op {
            op: Some(pb::op::Op::Source(source)),
            ..pb::Op::default()
        }
    }

    fn reading(digest: &str) -> pb::Op {
        pb::Op {
            inputs: vec![pb::Input {
                digest: digest.to_string(),
                index: 0,
            }],
            ..pb::Op::default()
        }
    }

    fn named(name: &str) -> pb::OpMetadata {
        pb::OpMetadata {
            description: [("llb.customname".to_string(), name.to_string())].into(),
            ..pb::OpMetadata::default()
        }
    }

    /// Returns a definition of a local source, a file op that reads it,
    /// and the terminal op.
    fn context_definition() -> Definition {
        let local = local_source(&[("local.includepattern", "[\"go.mod\"]")]).encode_to_vec();
        let copy = reading(&op_digest(&local)).encode_to_vec();
        let terminal = reading(&op_digest(&copy)).encode_to_vec();
        let locations = pb::Locations {
            locations: vec![pb::Location::default()],
        };
        Definition {
            metadata: [
                (op_digest(&local), named("[internal] load build context")),
                (op_digest(&copy), named("[app 2/2] COPY go.mod /")),
            ]
            .into(),
            source: Some(pb::Source {
                locations: [(op_digest(&copy), locations)].into(),
                infos: vec![],
            }),
            def: vec![local, copy, terminal],
        }
    }

    fn decode(op_bytes: &[u8]) -> pb::Op {
        pb::Op::decode(op_bytes).expect("decodes")
    }

    #[test]
    fn host_network_needs_entitlement() {
        let definition = Definition {
            def: vec![exec_op(pb::NetMode::Host)],
            ..Definition::default()
        };
        let prepared = prepare_definition(definition, false, "session").expect("valid");
        assert_eq!(prepared.entitlements, ["network.host"]);

        let sandboxed = Definition {
            def: vec![exec_op(pb::NetMode::None)],
            ..Definition::default()
        };
        assert!(
            prepare_definition(sandboxed, false, "session")
                .expect("valid")
                .entitlements
                .is_empty()
        );
    }

    #[test]
    fn undecodable_op_rejected() {
        let definition = Definition {
            def: vec![vec![0xff, 0xff, 0xff]],
            ..Definition::default()
        };
        let error = prepare_definition(definition, false, "session").expect_err("garbage does not decode");
        assert!(error.to_string().starts_with("invalid build request: op 0"), "{error}");
    }

    #[test]
    fn no_cache_marks_every_op() {
        let ops = vec![exec_op(pb::NetMode::None), exec_op(pb::NetMode::Host)];
        let definition = Definition {
            def: ops.clone(),
            ..Definition::default()
        };
        let prepared = prepare_definition(definition, true, "session").expect("valid");
        for op in &ops {
            assert!(prepared.definition.metadata[&op_digest(op)].ignore_cache);
        }
    }

    #[test]
    fn empty_definition_rejected() {
        let error = prepare_definition(Definition::default(), false, "session").expect_err("no ops");
        assert!(error.to_string().contains("has no ops"), "{error}");
    }

    #[test]
    fn op_digest_is_sha256() {
        assert_eq!(
            op_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn local_source_bound_to_session() {
        let prepared = prepare_definition(context_definition(), false, "session-1").expect("valid");
        let definition = prepared.definition;
        let [local, copy, terminal] = [0, 1, 2].map(|index| decode(&definition.def[index]));

        let Some(pb::op::Op::Source(source)) = &local.op else {
            panic!("op 0 is the local source: {local:?}")
        };
        assert_eq!(source.attrs["local.session"], "session-1");
        assert_eq!(source.attrs["local.includepattern"], "[\"go.mod\"]");

        let local_digest = op_digest(&definition.def[0]);
        let copy_digest = op_digest(&definition.def[1]);
        assert_eq!(copy.inputs[0].digest, local_digest, "the copy reads the renamed source");
        assert_eq!(
            terminal.inputs[0].digest, copy_digest,
            "the terminal op reads the renamed copy"
        );

        let local_metadata = &definition.metadata[&local_digest];
        assert_eq!(
            local_metadata.description["llb.customname"],
            "[internal] load build context"
        );
        assert_eq!(local_metadata.caps.get("source.local.sessionid"), Some(&true));
        assert_eq!(
            definition.metadata[&copy_digest].description["llb.customname"],
            "[app 2/2] COPY go.mod /"
        );
        assert_eq!(definition.metadata.len(), 2, "no metadata is left under an old digest");
        let source_map = definition.source.expect("the source map is kept");
        assert!(source_map.locations.contains_key(&copy_digest), "{source_map:?}");
    }

    #[test]
    fn sessions_make_sources_differ() {
        let first = prepare_definition(context_definition(), false, "session-1").expect("valid");
        let second = prepare_definition(context_definition(), false, "session-2").expect("valid");
        assert_ne!(first.definition.def[0], second.definition.def[0]);
    }

    #[test]
    fn bound_source_kept() {
        let local = local_source(&[("local.session", "other")]).encode_to_vec();
        let definition = Definition {
            def: vec![local.clone()],
            ..Definition::default()
        };
        let prepared = prepare_definition(definition, false, "session-1").expect("valid");
        assert_eq!(prepared.definition.def, [local]);
    }

    #[test]
    fn ops_out_of_order_renamed() {
        let local = local_source(&[]).encode_to_vec();
        let copy = reading(&op_digest(&local)).encode_to_vec();
        let definition = Definition {
            def: vec![copy, local],
            ..Definition::default()
        };
        let prepared = prepare_definition(definition, false, "session-1").expect("valid");
        let copy = decode(&prepared.definition.def[0]);
        assert_eq!(copy.inputs[0].digest, op_digest(&prepared.definition.def[1]));
    }

    #[test]
    fn input_cycle_rejected() {
        // Two ops cannot name each other's digest, so the cycle is an op that reads itself.
        let ops = vec![reading("sha256:self")];
        let digests = vec!["sha256:self".to_string()];
        let error = topological_order(&ops, &digests).expect_err("a cycle");
        assert!(error.to_string().contains("cycle"), "{error}");
    }
}
