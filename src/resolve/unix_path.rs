//! Lexical operations on the Unix paths inside a container filesystem. No
//! path here is ever looked up on the host, so `std::path` (which follows
//! the host's rules) is not used.

/// Returns whether `path` starts at the filesystem root.
pub fn is_absolute(path: &str) -> bool {
    path.starts_with('/')
}

/// Returns whether `path` starts with a `${NAME}` interpolation. Whether
/// such a path is absolute is known only at build time.
pub fn starts_with_interpolation(path: &str) -> bool {
    path.starts_with("${")
}

/// Normalizes an absolute path: collapses repeated `/`, drops `.`, resolves
/// `..` (which stops at the root, as in the kernel) and the trailing `/`.
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Joins `path` onto the absolute directory `dir` and normalizes the result.
/// An absolute `path` replaces `dir`.
pub fn join(dir: &str, path: &str) -> String {
    if is_absolute(path) {
        normalize(path)
    } else {
        normalize(&format!("{dir}/{path}"))
    }
}

/// Returns whether the normalized path `path` is `dir` or lies inside it.
pub fn is_within(path: &str, dir: &str) -> bool {
    if dir == "/" {
        return true;
    }
    path == dir || path.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/'))
}

/// Returns the last component of a normalized path, or `/` for the root.
pub fn file_name(path: &str) -> &str {
    match path.rsplit('/').next() {
        Some("") | None => "/",
        Some(name) => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_table() {
        let cases = [
            ("/", "/"),
            ("/app/", "/app"),
            ("//app//bin/", "/app/bin"),
            ("/app/./bin", "/app/bin"),
            ("/app/../etc", "/etc"),
            ("/../..", "/"),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize(input), expected, "{input}");
        }
    }

    #[test]
    fn join_table() {
        assert_eq!(join("/src", "app"), "/src/app");
        assert_eq!(join("/src", "../app/"), "/app");
        assert_eq!(join("/src", "/opt"), "/opt");
        assert_eq!(join("/", "."), "/");
    }

    #[test]
    fn within_table() {
        assert!(is_within("/app/main", "/app"));
        assert!(is_within("/app", "/app"));
        assert!(is_within("/etc", "/"));
        assert!(!is_within("/application", "/app"));
        assert!(!is_within("/ap", "/app"));
    }

    #[test]
    fn file_name_table() {
        assert_eq!(file_name("/app/main"), "main");
        assert_eq!(file_name("/"), "/");
    }
}
