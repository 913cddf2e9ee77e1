//! Spec text shown in diagnostics. A spec string may contain newlines,
//! carriage returns, terminal escape sequences or bidirectional overrides,
//! and printing those raw would redraw or reorder the user's terminal. So
//! every such character is shown as a Rust escape (`\n`, `\u{1b}`), and
//! very long values are shortened.

/// Values longer than this many characters are cut in messages.
pub const MAX_VALUE_CHARS: usize = 80;

/// Returns `text` for a message or help: control and invisible formatting
/// characters escaped, and cut to [`MAX_VALUE_CHARS`] characters with `…`.
pub fn display_value(text: &str) -> String {
    truncate_chars(&escape_controls(text), MAX_VALUE_CHARS)
}

/// Returns `text` with every character that could move the cursor, change
/// colours or reorder the line written as its Rust escape. Other text,
/// including quotes and backslashes, is unchanged.
pub fn escape_controls(text: &str) -> String {
    if !text.chars().any(needs_escape) {
        return text.to_string();
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !needs_escape(c) {
            escaped.push(c);
        } else if c.escape_debug().next() == Some('\\') {
            escaped.extend(c.escape_debug());
        } else {
            // `escape_debug` leaves some invisible format characters as they are.
            escaped.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        }
    }
    escaped
}

/// Returns whether a character must not reach a terminal as it is: C0 and
/// C1 controls (including ESC, which starts colour sequences), line and
/// paragraph separators, bidirectional marks and overrides, and the
/// zero-width no-break space.
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}'
        )
}

/// Returns the first `max_chars` characters of `text`, followed by `…` when
/// anything was cut.
pub fn truncate_chars(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_value_escapes_terminal_controls() {
        let cases = [
            ("plain \"quoted\" \\ text", "plain \"quoted\" \\ text"),
            ("line1\nline2", "line1\\nline2"),
            ("cr\rx", "cr\\rx"),
            ("\u{1b}[31mred", "\\u{1b}[31mred"),
            ("\u{202e}rtl", "\\u{202e}rtl"),
            ("a\u{2028}b", "a\\u{2028}b"),
            ("del\u{7f}", "del\\u{7f}"),
            ("nul\u{0}", "nul\\0"),
            ("é and 日本", "é and 日本"),
        ];
        for (text, expected) in cases {
            assert_eq!(display_value(text), expected, "{text:?}");
        }
    }

    #[test]
    fn display_value_cuts_long_values() {
        let long = "x".repeat(70_000);
        let shown = display_value(&long);
        assert_eq!(shown.chars().count(), MAX_VALUE_CHARS + 1);
        assert!(shown.ends_with('…'));
    }
}
