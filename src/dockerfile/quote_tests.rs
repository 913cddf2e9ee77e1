//! Tests for the encoders against a small reimplementation of how BuildKit's
//! Dockerfile frontend reads a line: continuation, flag extraction, word
//! splitting, JSON arrays and its lexer. The lexer port fails on any
//! variable expansion, so a passing round trip also proves that no `$` in a
//! value expands.

use super::*;
use crate::diag::Span;

/// Strings that have broken Dockerfile generators: quotes, escapes,
/// expansions, heredoc markers, comment and flag look-alikes, line breaks,
/// control characters and non-ASCII text.
const HOSTILE: &[&str] = &[
    "",
    " ",
    "plain",
    "two words",
    " leading space",
    "trailing space ",
    "tab\there",
    "new\nline",
    "carriage\rreturn",
    "crlf\r\n",
    "back\\slash",
    "trailing backslash\\",
    "\\",
    "\\\\",
    "backslash space\\ ",
    "dollar$",
    "$HOME",
    "${HOME}",
    "$${literal}",
    "${HOME:-/root}",
    "$1 and $@ and $?",
    "$(id -u)",
    "`id`",
    "\"double\"",
    "'single'",
    "it's",
    "mixed \"' quotes",
    "\\\"escaped quote",
    "<<EOF",
    "cat <<EOF",
    "2<<EOF",
    "<<-EOT\nbody\nEOT",
    "#comment",
    "# syntax=docker/dockerfile:1",
    "# escape=`",
    "--flag",
    "--mount=type=bind,target=/",
    "-x",
    "[\"json\"]",
    "[",
    "]",
    "[ -f x ] && echo ok",
    "semi;colon && pipe | amp & redirect > file",
    "glob * ? [a-z]",
    "a,b=c",
    "=",
    "K=V",
    "percent %s %d",
    "non-ascii é ü 中文",
    "emoji 🎉",
    "nbsp\u{a0}here",
    "line\u{2028}separator",
    "nul\0byte",
    "bell\u{7}",
    "del\u{7f}",
    "\u{feff}bom",
    "ONBUILD RUN rm -rf /",
    "x\nRUN echo injected",
];

// ---- a reimplementation of the frontend's line reading ----

/// `\\[ \t]*$`: the line continues on the next one.
fn continues(line: &str) -> bool {
    line.trim_end_matches([' ', '\t']).ends_with('\\')
}

/// Go's `strings.TrimSpace`, which trims Unicode whitespace like Rust's `trim`.
fn go_trim(text: &str) -> &str {
    text.trim()
}

/// Splits off the instruction name at the first run of `[\t\v\f\r ]`.
fn split_command(line: &str) -> (&str, &str) {
    let line = go_trim(line);
    match line.find(['\t', '\u{b}', '\u{c}', '\r', ' ']) {
        Some(index) => {
            let rest = line[index..].trim_start_matches(['\t', '\u{b}', '\u{c}', '\r', ' ']);
            (&line[..index], rest)
        }
        None => (line, ""),
    }
}

/// Port of `extractBuilderFlags`: returns the flags and the rest of the line.
/// Like the original it reads bytes, so it is only fed ASCII flags here.
fn extract_flags(line: &str) -> (Vec<String>, &str) {
    let bytes = line.as_bytes();
    let mut flags = Vec::new();
    let mut pos = 0;
    loop {
        while pos < bytes.len() && (bytes[pos] as char).is_whitespace() {
            pos += 1;
        }
        if pos >= bytes.len() || !(bytes[pos] == b'-' && bytes.get(pos + 1) == Some(&b'-')) {
            return (flags, &line[pos..]);
        }
        let mut word = String::new();
        let mut quote: Option<u8> = None;
        while pos < bytes.len() {
            let byte = bytes[pos];
            match quote {
                None if (byte as char).is_whitespace() => break,
                None if byte == b'\'' || byte == b'"' => quote = Some(byte),
                Some(open) if byte == open => quote = None,
                _ if byte == b'\\' => {
                    pos += 1;
                    if let Some(&next) = bytes.get(pos) {
                        word.push(next as char);
                    }
                }
                _ => word.push(byte as char),
            }
            pos += 1;
        }
        if word == "--" {
            return (flags, &line[pos..]);
        }
        flags.push(word);
    }
}

/// Port of `parseWords` (ENV, LABEL, ARG): splits at unquoted whitespace and
/// keeps quotes and escapes for the lexer.
fn parse_words(rest: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            None => {
                in_word = true;
                if c == '\'' || c == '"' {
                    quote = Some(c);
                }
                word.push(c);
                if c == '\\'
                    && let Some(next) = chars.next()
                {
                    word.push(next);
                }
            }
            Some(open) => {
                word.push(c);
                if c == open {
                    quote = None;
                } else if c == '\\'
                    && open != '\''
                    && let Some(next) = chars.next()
                {
                    word.push(next);
                }
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Port of the lexer's `ProcessWord` with no variables set. Fails on any
/// expansion and on unterminated quotes.
fn lex(word: &str) -> Result<String, String> {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\'' => {
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated single quote".into()),
                        Some('\'') => break,
                        Some(&c) => out.push(c),
                    }
                    i += 1;
                }
                i += 1;
            }
            '"' => {
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated double quote".into()),
                        Some('"') => break,
                        Some('$') => out.push_str(&dollar(&chars, &mut i)?),
                        Some('\\') => {
                            i += 1;
                            match chars.get(i) {
                                Some(&c @ ('"' | '$' | '\\')) => {
                                    out.push(c);
                                    i += 1;
                                }
                                _ => out.push('\\'),
                            }
                            continue;
                        }
                        Some(&c) => out.push(c),
                    }
                    i += 1;
                }
                i += 1;
            }
            '$' => out.push_str(&dollar(&chars, &mut i)?),
            '\\' => {
                if let Some(&c) = chars.get(i + 1) {
                    out.push(c);
                }
                i += 2;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// At a `$`: a name, digit, special parameter or `{` expands; else literal.
fn dollar(chars: &[char], i: &mut usize) -> Result<String, String> {
    *i += 1;
    match chars.get(*i) {
        Some(&c) if c == '{' || c.is_alphanumeric() || c == '_' || "@*#?-$!".contains(c) => {
            Err(format!("`${c}` expands"))
        }
        _ => Ok("$".into()),
    }
}

/// Decodes a JSON array the way the frontend does: the first JSON value on
/// the line, which must be an array of strings.
fn json_array(rest: &str) -> Option<Vec<String>> {
    let rest = rest.trim_start();
    if !rest.starts_with('[') {
        return None;
    }
    serde_json::Deserializer::from_str(rest)
        .into_iter::<Vec<String>>()
        .next()?
        .ok()
}

/// Returns whether the line would open a heredoc in 1.4 and later.
fn opens_heredoc(line: &str) -> bool {
    line.split_whitespace()
        .any(|word| word.trim_start_matches(|c: char| c.is_ascii_digit()).starts_with("<<"))
}

fn literal(text: &str) -> Vec<Part> {
    if text.is_empty() {
        Vec::new()
    } else {
        vec![Part::Literal(text.to_string())]
    }
}

fn check_line(line: &str) {
    assert!(!line.contains(['\n', '\r']), "line break in {line:?}");
    assert!(!continues(line), "continuation in {line:?}");
}

// ---- round trips over the hostile table ----

#[test]
fn hostile_table_is_large() {
    assert!(HOSTILE.len() >= 40);
}

#[test]
fn env_value_round_trip() {
    for &value in HOSTILE {
        let Ok(encoded) = lexed_quoted(&literal(value)) else {
            assert!(value.chars().any(is_unsafe_in_line), "rejected {value:?}");
            continue;
        };
        let line = format!("ENV KEY={encoded}");
        check_line(&line);
        let (command, rest) = split_command(&line);
        assert_eq!(command, "ENV");
        let (flags, rest) = extract_flags(rest);
        assert!(flags.is_empty(), "{value:?}");
        let words = parse_words(rest);
        assert_eq!(words.len(), 1, "{value:?}: {words:?}");
        let (key, raw) = words[0].split_once('=').expect("key=value");
        assert_eq!(key, "KEY");
        assert_eq!(lex(raw).as_deref(), Ok(value), "{line}");
    }
}

#[test]
fn single_word_instruction_round_trip() {
    for &value in HOSTILE {
        let Ok(encoded) = lexed_word(&literal(value)) else {
            assert!(value.chars().any(is_unsafe_in_line), "rejected {value:?}");
            continue;
        };
        let line = format!("WORKDIR {encoded}");
        check_line(&line);
        let (_, rest) = split_command(&line);
        let (flags, rest) = extract_flags(rest);
        assert!(flags.is_empty(), "{value:?}");
        assert_eq!(lex(go_trim(rest)).as_deref(), Ok(value), "{line}");
    }
}

#[test]
fn copy_path_round_trip() {
    for &value in HOSTILE {
        let parts = literal(value);
        let line = if needs_json_form(&parts) {
            match lexed_json_item(&parts) {
                Ok(item) => format!("COPY --chown=app [{item},\"/dst/\"]"),
                Err(_) => {
                    assert!(value.contains(['\0', '\u{feff}']), "rejected {value:?}");
                    continue;
                }
            }
        } else {
            format!(
                "COPY --chown=app {} /dst/",
                lexed_word(&parts).expect("plain-form path")
            )
        };
        check_line(&line);
        let (_, rest) = split_command(&line);
        let (flags, rest) = extract_flags(rest);
        assert_eq!(flags, ["--chown=app"], "{line}");
        assert!(json_array(rest).is_some() || !opens_heredoc(&line), "{line}");
        let words: Vec<String> = match json_array(rest) {
            Some(items) => items,
            None => rest
                .split(['\t', '\u{b}', '\u{c}', '\r', ' '])
                .filter(|w| !w.is_empty())
                .map(String::from)
                .collect(),
        };
        assert_eq!(words.len(), 2, "{line}");
        assert_eq!(lex(&words[0]).as_deref(), Ok(value), "{line}");
    }
}

#[test]
fn exec_form_round_trip() {
    for &value in HOSTILE {
        let argv = ["/bin/sh", "-c", value];
        let Ok(encoded) = exec_array(&argv) else {
            assert!(value.contains('\0'), "rejected {value:?}");
            continue;
        };
        let line = format!("RUN --network=none {encoded}");
        check_line(&line);
        let (_, rest) = split_command(&line);
        let (flags, rest) = extract_flags(rest);
        assert_eq!(flags, ["--network=none"]);
        assert_eq!(json_array(rest), Some(argv.map(String::from).to_vec()), "{line}");
    }
}

#[test]
fn verbatim_shell_form_round_trip() {
    let mut verbatim = 0;
    for &value in HOSTILE {
        if !is_verbatim_shell_form(value) {
            continue;
        }
        verbatim += 1;
        let line = format!("RUN --mount=type=cache,target=/c {value}");
        check_line(&line);
        assert!(!opens_heredoc(&line), "{line}");
        let (_, rest) = split_command(&line);
        let (flags, rest) = extract_flags(rest);
        assert_eq!(flags.len(), 1, "{line}");
        assert_eq!(go_trim(rest), value, "{line}");
        assert_eq!(json_array(rest), None, "{line}");
    }
    assert!(verbatim >= 10, "only {verbatim} verbatim cases");
}

#[test]
fn shell_form_rejects_table() {
    let exec_only = [
        "",
        " x",
        "x ",
        "a\nb",
        "a\\",
        "a\\ ",
        "--x",
        "-x",
        "[ -f a ]",
        "cat <<EOF",
        "a\rb",
        "\u{feff}x",
    ];
    for value in exec_only {
        assert!(!is_verbatim_shell_form(value), "{value:?}");
    }
    for value in [
        "go build -o /app/main .",
        "echo \"$HOME\" # note",
        "a && b || c; d",
        "printf '%s\\n' x",
    ] {
        assert!(is_verbatim_shell_form(value), "{value:?}");
    }
}

#[test]
fn single_quoted_values_reach_the_shell() {
    let Ok(shell) = std::fs::canonicalize("/bin/sh") else {
        eprintln!("skipped: /bin/sh not found");
        return;
    };
    for &value in HOSTILE {
        if value.contains('\0') {
            continue;
        }
        let script = format!("export KEY={}; printf '%s' \"$KEY\"", shell_single_quoted(value));
        let output = std::process::Command::new(&shell)
            .arg("-c")
            .arg(&script)
            .output()
            .expect("run sh");
        assert_eq!(String::from_utf8_lossy(&output.stdout), value, "{script}");
    }
}

#[test]
fn mount_and_flag_values_are_never_changed() {
    for &value in HOSTILE {
        if let Ok(accepted) = mount_value(value) {
            assert_eq!(accepted, value);
            let line = format!("--mount=type=cache,target={value} true");
            let (flags, rest) = extract_flags(&line);
            assert_eq!(flags, [format!("--mount=type=cache,target={value}")]);
            assert_eq!(rest, "true");
        }
        if let Ok(accepted) = flag_value(&literal(value)) {
            let (flags, _) = extract_flags(&format!("--chown={accepted} a b"));
            assert_eq!(flags, [format!("--chown={value}")], "{value:?}");
            assert!(
                lex(value).as_deref() == Ok(value),
                "{value:?} would change in the lexer"
            );
        }
    }
}

#[test]
fn comment_text_stays_on_one_line() {
    for &value in HOSTILE {
        let comment = format!("# from {}", comment_text(value));
        assert!(!comment.contains(['\n', '\r', '\u{2028}', '\u{2029}']), "{comment:?}");
    }
}

// ---- exact encodings ----

#[test]
fn lexed_word_exact_table() {
    let arg = |name: &str| Part::Arg {
        name: name.into(),
        span: Span::default(),
    };
    let cases: Vec<(Vec<Part>, &str)> = vec![
        (literal("/app"), "/app"),
        (literal("1.19"), "1.19"),
        (literal("nobody:nogroup"), "nobody:nogroup"),
        (literal(""), "\"\""),
        (literal("two words"), "\"two words\""),
        (literal("$HOME"), "\"\\$HOME\""),
        (literal("say \"hi\""), "\"say \\\"hi\\\"\""),
        (literal("C:\\dir\\"), "\"C:\\\\dir\\\\\""),
        (literal("it's"), "\"it's\""),
        (literal("--flag"), "\"--flag\""),
        (literal("[x]"), "\"[x]\""),
        (literal("#x"), "\"#x\""),
        (vec![Part::Literal("/srv/".into()), arg("APP")], "/srv/${APP}"),
        (vec![arg("A"), Part::Literal(" b".into())], "\"${A} b\""),
        (vec![Part::Literal("-".into()), arg("A")], "\"-${A}\""),
    ];
    for (parts, expected) in cases {
        assert_eq!(lexed_word(&parts).as_deref(), Ok(expected), "{parts:?}");
    }
}

#[test]
fn json_exact_table() {
    assert_eq!(exec_array(&["/app/main"]).as_deref(), Ok(r#"["/app/main"]"#));
    assert_eq!(
        exec_array(&["/bin/sh", "-c", "a\nb\t\"c\"\\"]).as_deref(),
        Ok(r#"["/bin/sh","-c","a\nb\t\"c\"\\"]"#)
    );
    assert_eq!(json_string("\u{7}\u{7f}\u{2028}"), r#""\u0007\u007f\u2028""#);
    assert_eq!(
        lexed_json_item(&literal("my $file's")).as_deref(),
        Ok(r#""my \\$file\\'s""#)
    );
    assert!(exec_array(&["a\0b"]).is_err());
}

#[test]
fn rejections_table() {
    let rejected_lexed = ["a\nb", "a\rb", "nul\0", "\u{7}", "\u{7f}", "\u{2028}", "\u{feff}"];
    for value in rejected_lexed {
        assert!(lexed_word(&literal(value)).is_err(), "{value:?}");
        assert!(lexed_quoted(&literal(value)).is_err(), "{value:?}");
    }
    for value in ["", "a b", "a,b", "a=b", "a\"b", "a'b", "a\\b", "$x", "é", "a`b", "a\tb"] {
        assert!(mount_value(value).is_err(), "{value:?}");
    }
    for value in ["a b", "a\"b", "$x", "é", "a\\b"] {
        assert!(flag_value(&literal(value)).is_err(), "{value:?}");
    }
    assert_eq!(mount_value("/root/.cache/go-build"), Ok("/root/.cache/go-build"));
    assert_eq!(shell_single_quoted("it's"), r"'it'\''s'");
}
