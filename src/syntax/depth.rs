//! A lexical pre-scan that bounds how deeply `{ ... }` blocks nest before
//! the `kdl` crate parses the source. That parser recurses once per block
//! level, so a spec nested a few thousand levels deep would overflow the
//! stack. The scan skips everything that can contain a brace without
//! opening a block: quoted strings, raw strings and comments.

use crate::diag::{Code, Diagnostic, Span};

/// The deepest block nesting a spec may use. The language itself needs
/// three levels (`stage { run { cache } }`), and the rest is headroom for
/// commented-out or future nodes.
pub const MAX_NESTING: usize = 64;

/// Returns an SC0001 diagnostic at the first `{` that opens a block deeper
/// than [`MAX_NESTING`], or `None` when the nesting is within the limit.
/// Unterminated strings and comments end the scan, and the KDL parser
/// reports them.
pub fn check_nesting(source: &str) -> Option<Diagnostic> {
    let bytes = source.as_bytes();
    let mut depth = 0usize;
    let mut index = 0usize;

    while index < bytes.len() {
        index = match bytes[index] {
            b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(too_deep(index));
                }
                index + 1
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                index + 1
            }
            b'"' => skip_quoted_string(bytes, index)?,
            b'#' => skip_hashes(bytes, index)?,
            b'/' => match bytes.get(index + 1) {
                Some(b'/') => skip_line_comment(bytes, index),
                Some(b'*') => skip_block_comment(bytes, index)?,
                _ => index + 1,
            },
            _ => index + 1,
        };
    }
    None
}

fn too_deep(index: usize) -> Diagnostic {
    Diagnostic::new(
        Code::KdlSyntax,
        format!("blocks are nested more than {MAX_NESTING} levels deep"),
    )
    .label(Span::new(index, 1), format!("level {}", MAX_NESTING + 1))
    .help(format!(
        "a spec needs at most three levels (`stage {{ run {{ cache }} }}`); stagec rejects more than \
         {MAX_NESTING} so that parsing cannot exhaust the stack, so close the blocks that are left open"
    ))
}

/// Skips a `"..."` or `"""..."""` string that starts at `start` and returns
/// the index after its closing quotes. Backslash escapes apply in both.
fn skip_quoted_string(bytes: &[u8], start: usize) -> Option<usize> {
    let multi_line = bytes[start..].starts_with(b"\"\"\"");
    let (mut index, closing): (usize, &[u8]) = if multi_line {
        (start + 3, b"\"\"\"")
    } else {
        (start + 1, b"\"")
    };

    while index < bytes.len() {
        if bytes[index] == b'\\' {
            index += 2;
            continue;
        }
        if bytes[index..].starts_with(closing) {
            return Some(index + closing.len());
        }
        index += 1;
    }
    None
}

/// Skips what starts with `#` at `start` and returns the index after it.
/// That is a raw string (`#"..."#`, `##"""..."""##`), or a keyword such as
/// `#true`, of which only the `#` is skipped. Nothing is escaped in a raw
/// string, and its closing quotes are followed by as many `#` as opened it.
fn skip_hashes(bytes: &[u8], start: usize) -> Option<usize> {
    let hashes = bytes[start..].iter().take_while(|&&byte| byte == b'#').count();
    let quote = start + hashes;
    if bytes.get(quote) != Some(&b'"') {
        return Some(quote);
    }

    let multi_line = bytes[quote..].starts_with(b"\"\"\"");
    let quotes = if multi_line { 3 } else { 1 };
    let mut index = quote + quotes;
    while index < bytes.len() {
        let closes = bytes[index..].starts_with(&b"\"\"\""[..quotes])
            && bytes[index + quotes..]
                .iter()
                .take(hashes)
                .filter(|&&byte| byte == b'#')
                .count()
                == hashes;
        if closes {
            return Some(index + quotes + hashes);
        }
        index += 1;
    }
    None
}

fn skip_line_comment(bytes: &[u8], start: usize) -> usize {
    bytes[start..]
        .iter()
        .position(|&byte| byte == b'\n')
        .map_or(bytes.len(), |offset| start + offset + 1)
}

/// Skips a `/* ... */` comment, which in KDL may contain nested block comments.
fn skip_block_comment(bytes: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut index = start;
    while index + 1 < bytes.len() {
        match (bytes[index], bytes[index + 1]) {
            (b'/', b'*') => {
                depth += 1;
                index += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                index += 2;
                if depth == 0 {
                    return Some(index);
                }
            }
            _ => index += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> String {
        format!("{}{}", "a {".repeat(levels), "}".repeat(levels))
    }

    #[test]
    fn nesting_at_the_limit_passes() {
        assert!(check_nesting(&nested(MAX_NESTING)).is_none());
    }

    #[test]
    fn too_deep_points_at_first_extra_brace() {
        let source = nested(MAX_NESTING + 1);
        let diagnostic = check_nesting(&source).expect("too deep");
        assert_eq!(diagnostic.code, Code::KdlSyntax);
        let span = diagnostic.labels[0].span;
        assert_eq!(span.start, source.match_indices('{').nth(MAX_NESTING).expect("brace").0);
    }

    #[test]
    fn braces_in_strings_and_comments_do_not_count() {
        let open = "{".repeat(MAX_NESTING + 1);
        let cases = [
            format!("a \"{open}\""),
            format!("a \"\\\"{open}\""),
            format!("a \"\"\"\n{open}\n\"\"\""),
            format!("a #\"{open}\"#"),
            format!("a ##\"\"#{open}\"##"),
            format!("a #\"\"\"\n{open}\n\"\"\"#"),
            format!("// {open}\na"),
            format!("/* {open} /* nested */ {open} */ a"),
            format!("a #true /* {open} */"),
        ];
        for source in cases {
            assert!(check_nesting(&source).is_none(), "{source}");
        }
    }

    #[test]
    fn unterminated_string_ends_the_scan() {
        assert!(check_nesting("a \"{{{").is_none());
        assert!(check_nesting("a #\"{{{\"").is_none());
        assert!(check_nesting("/* {{{").is_none());
    }
}
