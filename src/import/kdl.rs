//! Writing KDL v2 strings, property keys and comments.

/// Quotes `text` as a KDL string: a raw string `#"..."#` when that avoids
/// escapes, else a quoted string with escapes.
pub fn string(text: &str) -> String {
    let needs_escape = text.chars().any(|c| c == '"' || c == '\\');
    // A raw string whose text starts with `"` can open with `#"""` (for
    // the text `"` or `""x`), which KDL reads as a multi-line string.
    let raw_ok = needs_escape
        && !text.starts_with('"')
        && !text
            .chars()
            .any(|c| c == '\n' || c == '\r' || is_disallowed(c) || c.is_control());
    if raw_ok {
        let mut hashes = 1;
        while text.contains(&format!("\"{}", "#".repeat(hashes))) {
            hashes += 1;
        }
        let fence = "#".repeat(hashes);
        return format!("{fence}\"{text}\"{fence}");
    }

    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            c if c.is_control() || is_disallowed(c) => quoted.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// Quotes `text` as a KDL string. Multi-line text becomes a raw multi-line
/// string with each line indented by `indent` plus four spaces, so that a
/// script stays readable.
pub fn block_string(text: &str, indent: &str) -> String {
    let plain = text
        .chars()
        .all(|c| c == '\n' || c == '\t' || !(c.is_control() || is_disallowed(c)));
    if !text.contains('\n') || !plain {
        return string(text);
    }
    let mut hashes = 1;
    while text.contains(&format!("\"\"\"{}", "#".repeat(hashes))) {
        hashes += 1;
    }
    let fence = "#".repeat(hashes);
    let inner = format!("{indent}    ");
    let mut out = format!("{fence}\"\"\"\n");
    for line in text.split('\n') {
        if !line.trim().is_empty() {
            out.push_str(&inner);
            out.push_str(line);
        }
        out.push('\n');
    }
    out.push_str(&format!("{inner}\"\"\"{fence}"));
    out
}

/// Writes a property key: bare when it is a plain identifier, else quoted.
pub fn key(name: &str) -> String {
    let plain = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        && !matches!(name, "true" | "false" | "null" | "inf" | "nan");
    if plain { name.to_string() } else { string(name) }
}

/// Code points that KDL v2 forbids anywhere in a document, even escaped
/// into a comment: direction controls and the byte order mark.
fn is_disallowed(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// Turns `text` into `//` comment lines at `indent`, one per source line.
pub fn comment_lines(text: &str, indent: &str) -> Vec<String> {
    text.lines()
        .map(|line| format!("{indent}// {}", comment_text(line).trim_end()))
        .collect()
}

/// Returns `text` as it can stand in one `//` comment: a tab becomes a
/// space, and control characters (KDL reads form feed, vertical tab and
/// NEL as line ends) and code points KDL forbids become `?`.
pub fn comment_text(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c == '\t' {
                ' '
            } else if c.is_control() || is_disallowed(c) || matches!(c, '\u{2028}' | '\u{2029}') {
                '?'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_uses_raw_form_for_quotes() {
        assert_eq!(string(r#"echo "hi""#), r##"#"echo "hi""#"##);
        assert_eq!(string("plain"), "\"plain\"");
    }

    #[test]
    fn string_starting_with_quote_is_escaped() {
        assert_eq!(string(r#""" x"#), r#""\"\" x""#);
        assert_eq!(string(r#"""#), r#""\"""#);
        assert_eq!(string(r#""x"#), r#""\"x""#);
    }

    #[test]
    fn string_raw_form_grows_fence() {
        assert_eq!(string(r##"a"#b"##), r###"##"a"#b"##"###);
    }

    #[test]
    fn string_escapes_newlines() {
        assert_eq!(string("a\n\"b\""), r#""a\n\"b\"""#);
    }

    #[test]
    fn block_string_indents_lines() {
        assert_eq!(
            block_string("a\n\nb", "    "),
            "#\"\"\"\n        a\n\n        b\n        \"\"\"#"
        );
        assert_eq!(block_string("one line", "    "), "\"one line\"");
    }

    #[test]
    fn key_quotes_dotted_and_keywords() {
        assert_eq!(key("CGO_ENABLED"), "CGO_ENABLED");
        assert_eq!(
            key("org.opencontainers.image.title"),
            "\"org.opencontainers.image.title\""
        );
        assert_eq!(key("true"), "\"true\"");
        assert_eq!(key("a b"), "\"a b\"");
        assert_eq!(key("1x"), "\"1x\"");
    }
}
