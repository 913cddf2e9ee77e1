//! Build cache export and import (`--cache-to`, `--cache-from`), parsed with
//! the syntax of `docker buildx build`: `type=registry,ref=NAME,mode=max`,
//! `type=local,dest=DIR` (export) or `src=DIR` (import), and `type=inline`.
//! A value without `=` is a registry reference, as in buildx.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use super::exporter::split_csv;

mod local;

pub use local::resolve_local_caches;
pub(crate) use local::{content_stores, update_export_index};

/// Backend of a cache entry, as the `type=` field names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CacheKind {
    /// A cache manifest in a registry, next to the image or on its own ref.
    Registry,
    /// An OCI image layout in a local folder, through the session.
    Local,
    /// Cache metadata inside the exported image's configuration.
    Inline,
}

impl CacheKind {
    pub fn name(self) -> &'static str {
        match self {
            CacheKind::Registry => "registry",
            CacheKind::Local => "local",
            CacheKind::Inline => "inline",
        }
    }
}

impl fmt::Display for CacheKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// Direction of a cache entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheDirection {
    /// `--cache-to`.
    Export,
    /// `--cache-from`.
    Import,
}

impl CacheDirection {
    fn flag(self) -> &'static str {
        match self {
            CacheDirection::Export => "--cache-to",
            CacheDirection::Import => "--cache-from",
        }
    }
}

/// One parsed `--cache-to` or `--cache-from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    pub kind: CacheKind,
    /// Attributes sent to BuildKit, such as `ref` and `mode`.
    pub attrs: BTreeMap<String, String>,
    /// Folder of a `type=local` cache: `dest` for an export, `src` for an import.
    pub local_dir: Option<PathBuf>,
}

/// Invalid `--cache-to` or `--cache-from` value, with the value and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheError(pub String);

impl fmt::Display for CacheError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::error::Error for CacheError {}

/// Parses every value of one cache flag.
pub fn parse_cache_entries(values: &[String], direction: CacheDirection) -> Result<Vec<CacheEntry>, CacheError> {
    values.iter().map(|value| parse_cache_entry(value, direction)).collect()
}

/// Parses one `--cache-to` or `--cache-from` value.
pub fn parse_cache_entry(value: &str, direction: CacheDirection) -> Result<CacheEntry, CacheError> {
    let flag = direction.flag();
    let invalid = |reason: String| CacheError(format!("{flag} `{value}`: {reason}"));

    if value.is_empty() {
        return Err(invalid("the value is empty; write type=TYPE,...".to_string()));
    }
    if !value.contains('=') {
        return Ok(CacheEntry {
            kind: CacheKind::Registry,
            attrs: BTreeMap::from([("ref".to_string(), value.to_string())]),
            local_dir: None,
        });
    }

    let fields = split_csv(value).map_err(|reason| invalid(reason.to_string()))?;
    let mut kind = None;
    let mut attrs = BTreeMap::new();
    for field in fields {
        let (key, text) = field
            .split_once('=')
            .ok_or_else(|| invalid(format!("`{field}` is not key=value")))?;
        let key = key.trim().to_ascii_lowercase();
        if key == "type" {
            kind = Some(match text {
                "registry" => CacheKind::Registry,
                "local" => CacheKind::Local,
                "inline" => CacheKind::Inline,
                "gha" | "s3" | "azblob" => {
                    return Err(invalid(format!(
                        "type={text} needs a cloud service that stagec does not reach; use registry, local or inline"
                    )));
                }
                _ => return Err(invalid(format!("unknown type `{text}`; use registry, local or inline"))),
            });
        } else {
            attrs.insert(key, text.to_string());
        }
    }
    let kind = kind.ok_or_else(|| invalid("the type is missing; start with type=TYPE".to_string()))?;

    let known: &[&str] = match (kind, direction) {
        (CacheKind::Registry, CacheDirection::Export) => &[
            "ref",
            "mode",
            "oci-mediatypes",
            "image-manifest",
            "compression",
            "compression-level",
            "force-compression",
            "ignore-error",
        ],
        (CacheKind::Registry, CacheDirection::Import) => &["ref"],
        (CacheKind::Local, CacheDirection::Export) => &[
            "dest",
            "mode",
            "oci-mediatypes",
            "image-manifest",
            "compression",
            "compression-level",
            "force-compression",
            "ignore-error",
            "tag",
        ],
        (CacheKind::Local, CacheDirection::Import) => &["src", "digest", "tag"],
        (CacheKind::Inline, CacheDirection::Export) => &[],
        (CacheKind::Inline, CacheDirection::Import) => &[],
    };
    if let Some(key) = attrs.keys().find(|key| !known.contains(&key.as_str())) {
        let help = if known.is_empty() {
            format!("type={kind} takes no options")
        } else {
            format!("type={kind} takes {}", known.join(", "))
        };
        return Err(invalid(format!("unknown option `{key}`; {help}")));
    }
    if let Some(mode) = attrs.get("mode")
        && mode != "min"
        && mode != "max"
    {
        return Err(invalid(format!("`mode={mode}` is invalid; write mode=min or mode=max")));
    }

    let local_dir = match (kind, direction) {
        (CacheKind::Registry, _) if attrs.get("ref").is_none_or(String::is_empty) => {
            return Err(invalid("type=registry needs ref=NAME".to_string()));
        }
        (CacheKind::Inline, CacheDirection::Import) => {
            return Err(invalid(
                "inline cache is read from an image; write --cache-from type=registry,ref=IMAGE".to_string(),
            ));
        }
        (CacheKind::Local, CacheDirection::Export) => Some(required_dir(&attrs, "dest").map_err(invalid)?),
        (CacheKind::Local, CacheDirection::Import) => Some(required_dir(&attrs, "src").map_err(invalid)?),
        _ => None,
    };
    Ok(CacheEntry { kind, attrs, local_dir })
}

fn required_dir(attrs: &BTreeMap<String, String>, key: &str) -> Result<PathBuf, String> {
    match attrs.get(key) {
        Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
        _ => Err(format!("type=local needs {key}=DIR")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export(value: &str) -> Result<CacheEntry, String> {
        parse_cache_entry(value, CacheDirection::Export).map_err(|error| error.0)
    }

    fn import(value: &str) -> Result<CacheEntry, String> {
        parse_cache_entry(value, CacheDirection::Import).map_err(|error| error.0)
    }

    #[test]
    fn registry_max_mode() {
        let entry = export("type=registry,ref=127.0.0.1:5000/app:cache,mode=max").expect("valid");
        assert_eq!(entry.kind, CacheKind::Registry);
        assert_eq!(entry.attrs["ref"], "127.0.0.1:5000/app:cache");
        assert_eq!(entry.attrs["mode"], "max");
        assert_eq!(entry.local_dir, None);
    }

    #[test]
    fn bare_reference_is_registry() {
        let entry = import("127.0.0.1:5000/app:cache").expect("valid");
        assert_eq!(entry.kind, CacheKind::Registry);
        assert_eq!(entry.attrs["ref"], "127.0.0.1:5000/app:cache");
    }

    #[test]
    fn local_dest_and_src() {
        let entry = export("type=local,dest=/tmp/cache").expect("valid");
        assert_eq!(entry.local_dir, Some(PathBuf::from("/tmp/cache")));
        let entry = import("type=local,src=/tmp/cache").expect("valid");
        assert_eq!(entry.local_dir, Some(PathBuf::from("/tmp/cache")));
        assert!(
            export("type=local,src=/tmp/cache")
                .unwrap_err()
                .contains("unknown option `src`")
        );
        assert!(import("type=local").unwrap_err().contains("needs src=DIR"));
    }

    #[test]
    fn inline_export_only() {
        assert_eq!(export("type=inline").expect("valid").kind, CacheKind::Inline);
        assert!(import("type=inline").unwrap_err().contains("type=registry,ref=IMAGE"));
        assert!(export("type=inline,mode=max").unwrap_err().contains("takes no options"));
    }

    #[test]
    fn invalid_cache_entries() {
        assert!(export("type=registry").unwrap_err().contains("needs ref=NAME"));
        assert!(
            export("type=registry,ref=a,mode=all")
                .unwrap_err()
                .contains("mode=min or mode=max")
        );
        assert!(export("type=gha").unwrap_err().contains("cloud service"));
        assert!(export("type=disk").unwrap_err().contains("unknown type"));
        assert!(export("ref=a").unwrap_err().contains("type is missing"));
        assert!(export("").unwrap_err().contains("empty"));
        assert!(
            export("type=registry,ref=a,mode")
                .unwrap_err()
                .contains("not key=value")
        );
    }
}
