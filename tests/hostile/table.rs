//! The hostile values, and how to write one as a KDL string.

/// One hostile value with a short name for failure messages.
pub struct Hostile {
    pub name: &'static str,
    pub value: String,
}

fn hostile(name: &'static str, value: impl Into<String>) -> Hostile {
    Hostile {
        name,
        value: value.into(),
    }
}

/// Values that break quoting, escaping, line structure, interpolation,
/// JSON, heredocs, terminals or paths in some output format.
pub fn table() -> Vec<Hostile> {
    vec![
        hostile("newline", "line1\nline2"),
        hostile("newline-instruction", "x\nRUN echo injected > /injected"),
        hostile("crlf-instruction", "x\r\nRUN echo injected > /injected"),
        hostile("carriage-return", "cr\rhere"),
        hostile("nul", "nul\0byte"),
        hostile("backslash", "back\\slash"),
        hostile("trailing-backslash", "trailing\\"),
        hostile("line-continuation", "continued \\\nRUN echo injected"),
        hostile("double-quotes", "say \"hi\""),
        hostile("single-quotes", "it's 'quoted'"),
        hostile("backticks", "`id`"),
        hostile("dollar-name", "$HOME"),
        hostile("dollar-braces", "${HOME}"),
        hostile("dollar-default", "${HOME:-fallback}"),
        hostile("escaped-braces", "$${LITERAL}"),
        hostile("command-substitution", "$(id)"),
        hostile("lone-dollar", "cost: 5$"),
        hostile("shell-operators", "a && b || c; d | e > f < g & h"),
        hostile("heredoc", "<<EOF\nRUN echo injected\nEOF"),
        hostile("heredoc-dash", "<<-EOT\n\tinjected\n\tEOT"),
        hostile("json-array", "[\"sh\", \"-c\", \"echo injected\"]"),
        hostile("json-breaker", "\"], \"injected\": [\""),
        hostile("json-object", "{\"a\": 1}"),
        hostile("escaped-unicode-text", "\\u0000 \\n \\t"),
        hostile("tab", "a\tb"),
        hostile("leading-trailing-space", "  padded  "),
        hostile("only-space", " "),
        hostile("empty", ""),
        hostile("hash-comment", "# not a comment"),
        hostile("flag", "--flag=value"),
        hostile("dash", "-"),
        hostile("equals", "a=b=c"),
        hostile("percent-format", "%s %n %x %%"),
        hostile("glob", "*?[abc]"),
        hostile("tilde", "~root"),
        hostile("rtl-override", "abc\u{202E}fed\u{202C}"),
        hostile("combining-marks", "e\u{301}\u{302}\u{303}\u{304}"),
        hostile("zwj-emoji", "\u{1F469}\u{200D}\u{1F469}\u{200D}\u{1F467}"),
        hostile("byte-order-mark", "\u{FEFF}bom"),
        hostile("line-separator", "a\u{2028}b\u{2029}c"),
        hostile("next-line", "a\u{0085}b"),
        hostile("ansi-escape", "\u{1b}[31mred\u{1b}[0m"),
        hostile("cjk", "中文テキスト"),
        hostile("dot-dot", ".."),
        hostile("parent-escape", "../../../etc/passwd"),
        hostile("double-slash", "a//b//"),
        hostile("windows-path", "C:\\Windows\\system32"),
        hostile("dot-segments", "./a/./b/."),
        hostile("very-long", "x".repeat(30_000)),
        hostile("long-component", "y".repeat(300)),
    ]
}

/// Writes `text` as a quoted KDL string that parses back to `text`. Control
/// characters, and the code points KDL v2 forbids in a document, become
/// `\u{...}` escapes.
pub fn kdl_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn needs_escape(character: char) -> bool {
    character.is_control()
        || matches!(
            character,
            '\u{200E}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{2028}' | '\u{2029}'
        )
}

/// The value a field that interpolates `${NAME}` gives to the image, for a
/// value that stagec accepted: `$${` is a literal `${`.
pub fn interpolated(text: &str) -> String {
    text.replace("$${", "${")
}

/// Cleans an absolute path lexically, as BuildKit does: no `.` or empty
/// components, and `..` removes the previous one.
pub fn clean_path(path: &str) -> String {
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

/// Whether `text` can be the name of a file in the build context and be
/// copied by that name: the spec language reads copy sources as globs.
pub fn usable_file_name(text: &str) -> bool {
    !text.is_empty()
        && text != "."
        && text != ".."
        && text.len() <= 255
        && !text.contains(['/', '\0', '*', '?', '[', '\\'])
}
