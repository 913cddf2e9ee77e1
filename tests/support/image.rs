//! Image configs and file trees of built images, for tests that compare
//! two images built from the same spec in different ways.

#![allow(dead_code)]

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::engine::Engine;

/// The image config fields that must match.
pub const CONFIG_FIELDS: [&str; 10] = [
    "Cmd",
    "Entrypoint",
    "Env",
    "WorkingDir",
    "User",
    "ExposedPorts",
    "Labels",
    "Healthcheck",
    "Volumes",
    "StopSignal",
];

pub fn config(engine: &Engine, image: &str) -> BTreeMap<String, serde_json::Value> {
    let text = engine.inspect(image, "{{json .Config}}");
    let config: serde_json::Value = serde_json::from_str(&text).expect("the config is JSON");
    CONFIG_FIELDS
        .iter()
        .map(|field| {
            (
                field.to_string(),
                config.get(*field).cloned().unwrap_or(serde_json::Value::Null),
            )
        })
        .collect()
}

/// One entry of an exported file system: type, mode, uid:gid, then the
/// content digest or link target.
pub type Tree = BTreeMap<String, String>;

/// Returns the files of `image`, read from `docker export` of a container
/// that is created and never started.
pub fn file_tree(engine: &Engine, image: &str) -> Tree {
    let created = engine.run(["create", image, "/nonexistent-command"]);
    let container = String::from_utf8_lossy(&created.stdout).trim().to_string();
    let exported = engine.run(["export", &container]);
    engine.run(["rm", &container]);
    parse_tar(&exported.stdout)
}

/// Reads a tar stream as Go's archive/tar writes it (ustar, with PAX
/// records for long names) into a [`Tree`].
pub fn parse_tar(data: &[u8]) -> Tree {
    let mut tree = Tree::new();
    let mut offset = 0;
    let mut pax: BTreeMap<String, String> = BTreeMap::new();
    while offset + 512 <= data.len() {
        let header = &data[offset..offset + 512];
        if header.iter().all(|&byte| byte == 0) {
            break;
        }
        let text = |range: std::ops::Range<usize>| {
            let field = &header[range];
            let end = field.iter().position(|&byte| byte == 0).unwrap_or(field.len());
            String::from_utf8_lossy(&field[..end]).into_owned()
        };
        let octal = |range: std::ops::Range<usize>| u64::from_str_radix(text(range).trim(), 8).unwrap_or(0);
        let size = pax
            .get("size")
            .and_then(|size| size.parse().ok())
            .unwrap_or_else(|| octal(124..136)) as usize;
        let kind = header[156];
        let body_start = offset + 512;
        let body = &data[body_start..(body_start + size).min(data.len())];
        offset = body_start + size.div_ceil(512) * 512;

        if kind == b'x' {
            pax = parse_pax(body);
            continue;
        }
        if kind == b'g' {
            continue;
        }
        let prefix = text(345..500);
        let name = text(0..100);
        let path = pax.get("path").cloned().unwrap_or_else(|| {
            if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            }
        });
        let link = pax.get("linkpath").cloned().unwrap_or_else(|| text(157..257));
        let uid = pax.get("uid").cloned().unwrap_or_else(|| octal(108..116).to_string());
        let gid = pax.get("gid").cloned().unwrap_or_else(|| octal(116..124).to_string());
        let mode = octal(100..108) & 0o7777;
        let what = match kind {
            b'0' | 0 => format!("file {:x}", Sha256::digest(body)),
            b'1' => format!("hardlink {link}"),
            b'2' => format!("symlink {link}"),
            b'5' => "dir".to_string(),
            other => format!("type {}", other as char),
        };
        let path = format!("/{}", path.trim_start_matches("./").trim_end_matches('/'));
        tree.insert(path, format!("{what} mode {mode:04o} owner {uid}:{gid}"));
        pax.clear();
    }
    tree
}

/// Parses PAX records: `LENGTH key=value\n`.
fn parse_pax(body: &[u8]) -> BTreeMap<String, String> {
    let mut records = BTreeMap::new();
    let mut rest = body;
    while let Some(space) = rest.iter().position(|&byte| byte == b' ') {
        let Ok(length) = String::from_utf8_lossy(&rest[..space]).parse::<usize>() else {
            break;
        };
        if length == 0 || length > rest.len() {
            break;
        }
        let record = String::from_utf8_lossy(&rest[space + 1..length])
            .trim_end_matches('\n')
            .to_string();
        if let Some((key, value)) = record.split_once('=') {
            records.insert(key.to_string(), value.to_string());
        }
        rest = &rest[length..];
    }
    records
}
