//! Encoding of spec strings into Dockerfile text. Every string that reaches
//! the Dockerfile goes through one of these functions, which either encode
//! it so that the built image contains exactly that value, or reject it.
//!
//! The rules they rely on, from BuildKit's Dockerfile frontend (the parser
//! of 1.2 and of the newest release agree on each):
//! - Lines are read one by one; a line ending in `\` plus optional spaces or
//!   tabs continues on the next. `#` starts a comment only at line start,
//!   and parser directives are read only before the first other line.
//! - Words starting with `--` right after the instruction are flags. The
//!   flag parser strips quotes and backslashes and reads bytes, not UTF-8.
//! - ENV, LABEL, ARG, WORKDIR, USER, STOPSIGNAL, EXPOSE, VOLUME and the
//!   paths of COPY run through the frontend's lexer: `'...'` and `"..."`
//!   quote, `\` escapes, and `$NAME` and `${NAME}` expand. Inside double
//!   quotes a backslash escapes only `"`, `$` and `\`. The JSON forms of
//!   COPY and VOLUME are decoded as JSON and then lexed the same way.
//! - RUN, CMD, ENTRYPOINT, SHELL and HEALTHCHECK in JSON form are not
//!   lexed, and a shell-form RUN line reaches the shell verbatim.
//! - From 1.4 on, a word starting with `<<` (optionally after digits)
//!   opens a heredoc in a RUN line that is not JSON, and in a COPY line in
//!   either form: dockerd 26.1 reads `COPY ["<<EOF","/f"]` as a heredoc.

use crate::model::interpolate::Part;

/// Maximum line length, in bytes, that the frontend reads: it scans lines with Go's
/// `bufio.Scanner`, whose default buffer is 64 KiB including the `\n`.
pub const MAX_LINE_BYTES: usize = 64 * 1024 - 1;

/// The reason a value cannot be written to the Dockerfile exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unrepresentable {
    /// The problem with the value, such as "contains a line break".
    pub reason: String,
    /// The change that makes the value representable.
    pub help: String,
}

impl Unrepresentable {
    fn new(reason: impl Into<String>, help: impl Into<String>) -> Unrepresentable {
        Unrepresentable {
            reason: reason.into(),
            help: help.into(),
        }
    }
}

/// Characters a word may hold without quotes in every lexed instruction.
fn is_bare(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_./:@%+,=~*?[]^-".contains(c)
}

/// Characters the lexer treats specially outside quotes.
fn is_lexer_special(c: char) -> bool {
    matches!(c, '\\' | '$' | '"' | '\'')
}

/// Line breaks, other control characters and the byte order mark. The
/// frontend reads lines, and its lexer (Go's `text/scanner`) reports NUL and
/// a byte order mark as errors.
fn is_unsafe_in_line(c: char) -> bool {
    (c.is_control() && c != '\t') || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

fn describe(c: char) -> String {
    match c {
        '\n' => "a line break".to_string(),
        '\r' => "a carriage return".to_string(),
        '\0' => "a NUL character".to_string(),
        '\u{feff}' => "a byte order mark (U+FEFF)".to_string(),
        other => format!("the control character U+{:04X}", u32::from(other)),
    }
}

fn literals(parts: &[Part]) -> impl Iterator<Item = &str> {
    parts.iter().filter_map(|part| match part {
        Part::Literal(text) => Some(text.as_str()),
        Part::Arg { .. } | Part::Env { .. } => None,
    })
}

fn check_line_safe(parts: &[Part]) -> Result<(), Unrepresentable> {
    for text in literals(parts) {
        if let Some(c) = text.chars().find(|&c| is_unsafe_in_line(c)) {
            return Err(Unrepresentable::new(
                format!("contains {}", describe(c)),
                "this Dockerfile instruction is one line with no escape for it; remove the character",
            ));
        }
    }
    Ok(())
}

/// Writes a `${NAME}` or `${env:NAME}` reference as `${NAME}`, which the
/// frontend expands from the stage's env, else from its declared args.
fn push_reference(out: &mut String, name: &str) {
    out.push_str("${");
    out.push_str(name);
    out.push('}');
}

/// Encodes a value for a lexed instruction argument (ENV and LABEL values,
/// ARG defaults, WORKDIR, USER, STOPSIGNAL and COPY paths outside JSON). A
/// value of only [`is_bare`] characters is written as it is; anything else
/// is double-quoted with `\`, `"` and `$` escaped. `${NAME}` and
/// `${env:NAME}` parts are written as `${NAME}` for the lexer to expand. Rejects line breaks and
/// control characters other than tab, which no lexed form can hold.
pub fn lexed_word(parts: &[Part]) -> Result<String, Unrepresentable> {
    check_line_safe(parts)?;
    let first = literals(parts).next().and_then(|text| text.chars().next());
    let starts_with_literal = matches!(parts.first(), Some(Part::Literal(_)));
    let bare = !parts.is_empty()
        && literals(parts).all(|text| text.chars().all(is_bare))
        && !(starts_with_literal && matches!(first, Some('-' | '[')));
    if bare {
        return Ok(plain(parts));
    }
    Ok(double_quoted(parts))
}

/// Encodes a value in double quotes, whatever it holds; see [`lexed_word`].
pub fn lexed_quoted(parts: &[Part]) -> Result<String, Unrepresentable> {
    check_line_safe(parts)?;
    Ok(double_quoted(parts))
}

fn plain(parts: &[Part]) -> String {
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Literal(text) => out.push_str(text),
            Part::Arg { name, .. } | Part::Env { name, .. } => push_reference(&mut out, name),
        }
    }
    out
}

fn double_quoted(parts: &[Part]) -> String {
    let mut out = String::from("\"");
    for part in parts {
        match part {
            Part::Literal(text) => {
                for c in text.chars() {
                    if matches!(c, '\\' | '"' | '$') {
                        out.push('\\');
                    }
                    out.push(c);
                }
            }
            Part::Arg { name, .. } | Part::Env { name, .. } => push_reference(&mut out, name),
        }
    }
    out.push('"');
    out
}

/// Whether a COPY path must go in a JSON array: the plain form splits words
/// at whitespace and could open a heredoc.
pub fn needs_json_form(parts: &[Part]) -> bool {
    literals(parts).any(|text| text.chars().any(|c| c.is_whitespace() || is_unsafe_in_line(c)) || text.contains("<<"))
}

/// Encodes one item of a JSON array that the lexer reads after JSON
/// decoding (COPY and VOLUME): the lexer's specials are escaped with `\`,
/// then [`json_string`] escapes for JSON. Rejects NUL and the byte order
/// mark, which the lexer reports as errors.
pub fn lexed_json_item(parts: &[Part]) -> Result<String, Unrepresentable> {
    let mut lexed = String::new();
    for part in parts {
        match part {
            Part::Literal(text) => {
                if let Some(c) = text.chars().find(|&c| matches!(c, '\0' | '\u{feff}')) {
                    return Err(Unrepresentable::new(
                        format!("contains {}", describe(c)),
                        "remove the character: Dockerfile paths cannot hold it",
                    ));
                }
                for c in text.chars() {
                    if is_lexer_special(c) {
                        lexed.push('\\');
                    }
                    lexed.push(c);
                }
            }
            Part::Arg { name, .. } | Part::Env { name, .. } => push_reference(&mut lexed, name),
        }
    }
    Ok(json_string(&lexed))
}

/// Encodes a string as JSON. Control characters, line separators and the
/// byte order mark are escaped so that the Dockerfile line stays one line.
pub fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Encodes an argv for an exec form that is not lexed (RUN, CMD,
/// ENTRYPOINT, SHELL, HEALTHCHECK). Rejects NUL, which no process argument
/// can hold.
pub fn exec_array<S: AsRef<str>>(argv: &[S]) -> Result<String, Unrepresentable> {
    let mut items = Vec::with_capacity(argv.len());
    for arg in argv {
        let arg = arg.as_ref();
        if arg.contains('\0') {
            return Err(Unrepresentable::new(
                "contains a NUL character",
                "remove it: a process argument ends at the first NUL byte",
            ));
        }
        items.push(json_string(arg));
    }
    Ok(format!("[{}]", items.join(",")))
}

/// Returns whether shell-form text can follow `RUN` (and its flags)
/// verbatim, so that the shell receives exactly `text`. It must be one line
/// with no surrounding whitespace (the parser trims it) and no trailing `\`
/// (a continuation). It must not start with `-` (a flag) or `[` (a JSON
/// array), nor contain `<<` (a heredoc from 1.4 on).
pub fn is_verbatim_shell_form(text: &str) -> bool {
    !text.is_empty()
        && !text.chars().any(is_unsafe_in_line)
        && text.trim() == text
        && !text.ends_with('\\')
        && !text.starts_with('-')
        && !text.starts_with('[')
        && !text.contains("<<")
}

/// Quotes text for a POSIX shell: inside single quotes every byte is
/// literal, and a `'` is written as `'\''`.
pub fn shell_single_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Returns whether a POSIX shell can set the variable `name`: a letter or `_`, then
/// letters, digits or `_`.
pub fn is_shell_name(name: &str) -> bool {
    crate::model::interpolate::is_arg_name(name)
}

/// Encodes the value of a flag such as `--chown` or `--exclude`. The flag
/// parser strips quotes and backslashes and reads bytes, so only printable
/// ASCII without quotes, `\`, `$` and backquote is accepted. `${NAME}`
/// parts are written as they are, for flags that the frontend expands.
pub fn flag_value(parts: &[Part]) -> Result<String, Unrepresentable> {
    if parts.is_empty() {
        return Err(Unrepresentable::new("is empty", "give a value"));
    }
    for text in literals(parts) {
        if let Some(c) = text
            .chars()
            .find(|&c| !c.is_ascii_graphic() || matches!(c, '"' | '\'' | '\\' | '$' | '`'))
        {
            return Err(Unrepresentable::new(
                format!("contains {}", quote_char(c)),
                "Dockerfile flag values hold printable ASCII without spaces, quotes, `\\`, `$` or backquotes; \
                 rename the value",
            ));
        }
    }
    Ok(plain(parts))
}

/// Checks one value of a `--mount` option. On top of the flag rules, the
/// options are comma-separated `key=value` fields, so `,` and `=` are
/// rejected too, and `$` is (1.3 and later expand it, 1.2 does not).
pub fn mount_value(text: &str) -> Result<&str, Unrepresentable> {
    if text.is_empty() {
        return Err(Unrepresentable::new("is empty", "give a value"));
    }
    if let Some(c) = text
        .chars()
        .find(|&c| !c.is_ascii_graphic() || matches!(c, '"' | '\'' | '\\' | '$' | '`' | ',' | '='))
    {
        return Err(Unrepresentable::new(
            format!("contains {}", quote_char(c)),
            "`--mount` values hold printable ASCII without spaces, quotes, `\\`, `$`, backquotes, `,` or `=`; \
             choose another path or id",
        ));
    }
    Ok(text)
}

fn quote_char(c: char) -> String {
    match c {
        ' ' => "a space".to_string(),
        c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => describe(c),
        c if !c.is_ascii() => format!("the non-ASCII character `{c}`"),
        c => format!("`{c}`"),
    }
}

/// Makes text safe for a `#` comment line: control characters and line
/// separators are written as Rust escapes so that the comment stays one line.
pub fn comment_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_unsafe_in_line(c) || c == '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
#[path = "quote_tests.rs"]
mod tests;
