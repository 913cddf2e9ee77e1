//! The canonical property order of each node kind. Properties the table
//! does not list keep their relative order after the listed ones, and a
//! repeated key keeps its place relative to its repeats, so "the last one
//! wins" still picks the same value.

/// Nodes whose property order is meaningful: `env` and `label` emit their
/// pairs in the written order, so the formatter never reorders them.
const ORDER_PRESERVED: &[&str] = &["env", "label"];

/// The canonical order per node name. A name used in two places (`secret`
/// at top level and inside `run`, `from` on `stage`, `copy` and `bind`) gets
/// one list that covers both.
const ORDER: &[(&str, &[&str])] = &[
    ("stage", &["from", "platform", "cross-compile", "libc", "shell"]),
    ("arg", &["default"]),
    ("secret", &["target", "env", "required"]),
    ("image", &["tag", "default"]),
    ("copy", &["artifact", "from", "path", "to", "owner", "mode"]),
    ("artifact", &["path", "kind", "linkage", "platform", "owner", "mode"]),
    ("run", &["exec", "network"]),
    ("cache", &["id", "sharing", "mode", "uid", "gid"]),
    ("ssh", &["id", "target", "required"]),
    ("tmpfs", &["size"]),
    ("bind", &["from", "source", "readwrite"]),
    (
        "healthcheck",
        &["none", "shell", "interval", "timeout", "start-period", "retries"],
    ),
    ("cmd", &["shell"]),
    ("entrypoint", &["shell"]),
];

/// Sorts `keys` (given with their original positions) into the canonical
/// order for `node`. Returns the original positions in the new order.
pub fn canonical_order(node: &str, keys: &[&str]) -> Vec<usize> {
    let mut positions: Vec<usize> = (0..keys.len()).collect();
    if ORDER_PRESERVED.contains(&node) {
        return positions;
    }
    let Some((_, order)) = ORDER.iter().find(|(name, _)| *name == node) else {
        return positions;
    };
    let rank = |key: &str| order.iter().position(|known| *known == key).unwrap_or(order.len());
    // A stable sort keeps repeated and unlisted keys in their written order.
    positions.sort_by_key(|&position| rank(keys[position]));
    positions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_properties_sorted() {
        let keys = ["to", "from", "artifact"];
        assert_eq!(canonical_order("copy", &keys), [2, 1, 0]);
    }

    #[test]
    fn env_keeps_written_order() {
        let keys = ["B", "A"];
        assert_eq!(canonical_order("env", &keys), [0, 1]);
    }

    #[test]
    fn repeats_and_unknown_keys_stay_in_order() {
        let keys = ["zz", "to", "from", "to", "aa"];
        assert_eq!(canonical_order("copy", &keys), [2, 1, 3, 0, 4]);
    }
}
