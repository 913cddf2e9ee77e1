//! Reads what a build put into an image: its config and its files.

use std::collections::BTreeMap;

use crate::support::engine::Engine;

/// One exported file system entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    File(Vec<u8>),
    Dir,
    Other(u8),
}

pub fn config(engine: &Engine, image: &str) -> serde_json::Value {
    let text = engine.inspect(image, "{{json .Config}}");
    serde_json::from_str(&text).expect("the image config is JSON")
}

/// The entries of `image` under `/hostile`, and `/injected` if a value
/// managed to run a command, from `docker export` of a container that is
/// created and never started.
pub fn files(engine: &Engine, image: &str) -> BTreeMap<Vec<u8>, Entry> {
    let created = engine.run(["create", image, "/nonexistent-command"]);
    let container = String::from_utf8_lossy(&created.stdout).trim().to_string();
    let exported = engine.run(["export", &container]);
    engine.run(["rm", &container]);
    read_tar(&exported.stdout)
        .into_iter()
        .filter(|(path, _)| path.starts_with(b"/hostile") || path.as_slice() == b"/injected")
        .collect()
}

/// Reads a ustar stream with PAX records, as Docker writes it. Paths are
/// raw bytes with a leading `/` and no trailing one.
fn read_tar(data: &[u8]) -> BTreeMap<Vec<u8>, Entry> {
    let mut entries = BTreeMap::new();
    let mut offset = 0;
    let mut pax: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    while offset + 512 <= data.len() {
        let header = &data[offset..offset + 512];
        if header.iter().all(|&byte| byte == 0) {
            break;
        }
        let field = |range: std::ops::Range<usize>| {
            let bytes = &header[range];
            let end = bytes.iter().position(|&byte| byte == 0).unwrap_or(bytes.len());
            bytes[..end].to_vec()
        };
        let header_size = usize::from_str_radix(String::from_utf8_lossy(&field(124..136)).trim(), 8).unwrap_or(0);
        let size = pax
            .get(b"size".as_slice())
            .and_then(|size| String::from_utf8_lossy(size).parse().ok())
            .unwrap_or(header_size);
        let kind = header[156];
        let body_start = offset + 512;
        let body = &data[body_start..(body_start + size).min(data.len())];
        offset = body_start + size.div_ceil(512) * 512;

        match kind {
            b'x' => {
                pax = read_pax(body);
                continue;
            }
            b'g' => continue,
            _ => {}
        }
        let path = pax.remove(b"path".as_slice()).unwrap_or_else(|| {
            let (prefix, name) = (field(345..500), field(0..100));
            if prefix.is_empty() {
                name
            } else {
                [prefix, b"/".to_vec(), name].concat()
            }
        });
        let mut path = path.strip_prefix(b"./").unwrap_or(&path).to_vec();
        while path.last() == Some(&b'/') {
            path.pop();
        }
        let entry = match kind {
            b'0' | 0 => Entry::File(body.to_vec()),
            b'5' => Entry::Dir,
            other => Entry::Other(other),
        };
        entries.insert([b"/".as_slice(), &path].concat(), entry);
        pax.clear();
    }
    entries
}

/// Parses PAX records: `LENGTH key=value\n`, with raw byte values.
fn read_pax(body: &[u8]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut records = BTreeMap::new();
    let mut rest = body;
    while let Some(space) = rest.iter().position(|&byte| byte == b' ') {
        let Ok(length) = String::from_utf8_lossy(&rest[..space]).parse::<usize>() else {
            break;
        };
        if length <= space || length > rest.len() {
            break;
        }
        let record = &rest[space + 1..length - 1];
        if let Some(equals) = record.iter().position(|&byte| byte == b'=') {
            records.insert(record[..equals].to_vec(), record[equals + 1..].to_vec());
        }
        rest = &rest[length..];
    }
    records
}
