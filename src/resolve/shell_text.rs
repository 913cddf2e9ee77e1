//! A light reading of shell command text: which variables it expands and
//! which it assigns. stagec never rewrites run text; the checks only use
//! this to warn about variables that will be empty when the shell runs.

use crate::model::{CommandForm, Spanned};

/// Program names that take a script after `-c`.
const SHELLS: &[&str] = &["sh", "bash", "ash", "dash", "zsh", "ksh", "mksh"];

/// A `$NAME` or `${NAME...}` expansion and its byte range in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expansion {
    pub name: String,
    pub start: usize,
    pub len: usize,
}

/// Returns the shell script a command runs: the text of a shell-form command, or
/// the argument after `-c` of an exec-form `sh -c SCRIPT`.
pub fn script(form: &CommandForm) -> Option<&Spanned<String>> {
    match form {
        CommandForm::Shell(text) => Some(text),
        CommandForm::Exec(argv) => {
            let is_shell = argv.first().is_some_and(|program| is_shell_program(&program.value));
            let dash_c = argv.get(1).is_some_and(|flag| flag.value == "-c");
            if is_shell && dash_c { argv.get(2) } else { None }
        }
    }
}

/// Returns whether `program` is a POSIX-style shell, by its file name.
pub fn is_shell_program(program: &str) -> bool {
    let name = program.rsplit('/').next().unwrap_or(program);
    SHELLS.contains(&name)
}

/// Finds the variable expansions in `text`. Text inside single quotes is
/// skipped, since the shell does not expand it there; `\$` and `$$` are not
/// expansions. The body of a here-document whose delimiter is quoted
/// (`<<'EOF'`, `<<"EOF"`, `<<\EOF`) is literal and skipped too. In the body
/// of an unquoted one, quotes do not matter and `$NAME` is expanded.
pub fn expansions(text: &str) -> Vec<Expansion> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut in_single_quotes = false;
    let mut pending_heredocs: Vec<Heredoc> = Vec::new();
    let mut index = 0;

    while index < bytes.len() {
        let byte = bytes[index];
        if in_single_quotes {
            in_single_quotes = byte != b'\'';
            index += 1;
            continue;
        }
        match byte {
            b'\'' => in_single_quotes = true,
            b'\\' => index += 1,
            b'\n' if !pending_heredocs.is_empty() => {
                index = skip_heredoc_bodies(text, index + 1, &std::mem::take(&mut pending_heredocs), &mut found);
                continue;
            }
            b'<' if bytes[index..].starts_with(b"<<") && !bytes[index..].starts_with(b"<<<") => {
                if let Some((heredoc, end)) = heredoc_operator(text, index) {
                    pending_heredocs.push(heredoc);
                    index = end;
                    continue;
                }
            }
            b'$' => {
                if let Some(expansion) = expansion_at(text, index) {
                    index = expansion.start + expansion.len;
                    found.push(expansion);
                    continue;
                }
                if bytes.get(index + 1) == Some(&b'$') {
                    index += 2;
                    continue;
                }
            }
            _ => {}
        }
        index += 1;
    }
    found
}

/// A here-document announced by `<<` on the current line.
#[derive(Debug, Clone)]
struct Heredoc {
    delimiter: String,
    /// A quoted delimiter makes the body literal.
    quoted: bool,
    /// `<<-` strips leading tabs from body lines and the delimiter line.
    strip_tabs: bool,
}

/// Reads the `<<` or `<<-` operator and its delimiter word at `start`.
/// Returns the here-document and the index after the word.
fn heredoc_operator(text: &str, start: usize) -> Option<(Heredoc, usize)> {
    let bytes = text.as_bytes();
    let mut index = start + 2;
    let strip_tabs = bytes.get(index) == Some(&b'-');
    if strip_tabs {
        index += 1;
    }
    while matches!(bytes.get(index), Some(b' ' | b'\t')) {
        index += 1;
    }

    let mut delimiter = String::new();
    let mut quoted = false;
    while let Some(&byte) = bytes.get(index) {
        match byte {
            b'\'' | b'"' => {
                let close = text[index + 1..].find(char::from(byte))? + index + 1;
                delimiter.push_str(&text[index + 1..close]);
                quoted = true;
                index = close + 1;
            }
            b'\\' => {
                let next = text[index + 1..].chars().next()?;
                delimiter.push(next);
                quoted = true;
                index += 1 + next.len_utf8();
            }
            b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'<' | b'>' | b'(' | b')' => break,
            _ => {
                let next = text[index..].chars().next()?;
                delimiter.push(next);
                index += next.len_utf8();
            }
        }
    }
    // NOTE: `<<` is also the shift operator in `$((...))`. A number after it
    // is taken as a shift, not a delimiter, but `$((x << y))` is misread.
    let is_shift = !quoted && delimiter.bytes().all(|byte| byte.is_ascii_digit() || byte == b'$');
    (!delimiter.is_empty() && !is_shift).then_some((
        Heredoc {
            delimiter,
            quoted,
            strip_tabs,
        },
        index,
    ))
}

/// Skips the bodies of `heredocs`, which start at `start`, one after the
/// other. Records the expansions of bodies with an unquoted delimiter, and
/// returns the index after the last delimiter line.
fn skip_heredoc_bodies(text: &str, start: usize, heredocs: &[Heredoc], found: &mut Vec<Expansion>) -> usize {
    let mut index = start;
    for heredoc in heredocs {
        while index < text.len() {
            let line_end = text[index..].find('\n').map_or(text.len(), |offset| index + offset);
            let line = &text[index..line_end];
            let compared = if heredoc.strip_tabs {
                line.trim_start_matches('\t')
            } else {
                line
            };
            let next = (line_end + 1).min(text.len());
            if compared == heredoc.delimiter {
                index = next;
                break;
            }
            if !heredoc.quoted {
                let mut position = index;
                // An expansion such as `${A` that runs past the line ends the scan of this line.
                while let Some(offset) = text.get(position..line_end).and_then(|rest| rest.find('$')) {
                    let dollar = position + offset;
                    match expansion_at(text, dollar) {
                        Some(expansion) => {
                            position = expansion.start + expansion.len;
                            found.push(expansion);
                        }
                        None => position = dollar + 1,
                    }
                }
            }
            index = next;
        }
    }
    index
}

/// Reads a `$NAME`, `${NAME}` or `${NAME...}` expansion at the `$` at `start`.
fn expansion_at(text: &str, start: usize) -> Option<Expansion> {
    let bytes = text.as_bytes();
    let mut name_start = start + 1;
    let braced = bytes.get(name_start) == Some(&b'{');
    if braced {
        name_start += 1;
        // `${#NAME}` is the length of NAME and `${!NAME}` an indirection.
        if matches!(bytes.get(name_start), Some(b'#' | b'!')) {
            name_start += 1;
        }
    }
    let name_len = name_length(bytes.get(name_start..)?);
    if name_len == 0 {
        return None;
    }
    let name_end = name_start + name_len;
    let end = if braced {
        text[name_end..]
            .find('}')
            .map_or(name_end, |close| name_end + close + 1)
    } else {
        name_end
    };
    Some(Expansion {
        name: text[name_start..name_end].to_string(),
        start,
        len: end - start,
    })
}

/// Length of the variable name at the start of `bytes`: a letter or `_`,
/// then letters, digits or `_`.
fn name_length(bytes: &[u8]) -> usize {
    match bytes.first() {
        Some(first) if first.is_ascii_alphabetic() || *first == b'_' => bytes
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
            .count(),
        _ => 0,
    }
}

/// Returns whether the script sets `name` itself (`NAME=`, `export NAME=`,
/// `for NAME in`, `read NAME`), in which case reading it is not a mistake.
pub fn assigns(text: &str, name: &str) -> bool {
    let is_name_byte = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_';
    let bytes = text.as_bytes();
    text.match_indices(name).any(|(index, _)| {
        let before = index.checked_sub(1).map(|i| bytes[i]);
        let after_index = index + name.len();
        let after = bytes.get(after_index).copied();
        if before.is_some_and(is_name_byte) || before == Some(b'$') || before == Some(b'{') {
            return false;
        }
        if after == Some(b'=') {
            return true;
        }
        let preceding = text[..index].trim_end();
        let words_before = ["for", "read", "local", "export"];
        after.is_none_or(|byte| !is_name_byte(byte))
            && words_before
                .iter()
                .any(|word| preceding.ends_with(word) || preceding.ends_with(&format!("{word} -r")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<String> {
        expansions(text).into_iter().map(|expansion| expansion.name).collect()
    }

    #[test]
    fn expansions_table() {
        let cases: [(&str, &[&str]); 9] = [
            ("echo $VERSION", &["VERSION"]),
            ("echo ${VERSION}", &["VERSION"]),
            ("echo ${VERSION:-dev} $HOME", &["VERSION", "HOME"]),
            ("echo '$VERSION'", &[]),
            ("echo \"$VERSION\"", &["VERSION"]),
            ("echo \\$VERSION $$", &[]),
            ("echo ${#LIST}", &["LIST"]),
            ("echo $1 $@", &[]),
            ("echo 'a b' $B", &["B"]),
        ];
        for (text, expected) in cases {
            assert_eq!(names(text), expected, "{text}");
        }
    }

    #[test]
    fn quoted_heredoc_bodies_are_literal() {
        let cases: [(&str, &[&str]); 7] = [
            ("cat <<'EOF' > /f\n$APP_MODE\nEOF\necho $AFTER", &["AFTER"]),
            ("cat <<\"EOF\"\n$APP_MODE\nEOF", &[]),
            ("cat <<\\EOF\n$APP_MODE\nEOF", &[]),
            ("cat <<EOF\n'$APP_MODE'\nEOF", &["APP_MODE"]),
            ("cat <<-'EOF'\n\t$A\n\tEOF\necho $B", &["B"]),
            ("cat <<'A' <<B\n$X\nA\n$Y\nB\n$Z", &["Y", "Z"]),
            ("echo $((1 << 2))\necho $N", &["N"]),
        ];
        for (text, expected) in cases {
            assert_eq!(names(text), expected, "{text:?}");
        }
    }

    #[test]
    fn expansion_range_covers_braces() {
        let text = "go build -ldflags ${FLAGS:-x} .";
        let found = &expansions(text)[0];
        assert_eq!(&text[found.start..found.start + found.len], "${FLAGS:-x}");
    }

    #[test]
    fn assigns_table() {
        assert!(assigns("X=1; echo $X", "X"));
        assert!(assigns("export X=1 && echo $X", "X"));
        assert!(assigns("for X in a b; do echo $X; done", "X"));
        assert!(assigns("read -r X < f; echo $X", "X"));
        assert!(!assigns("echo $X", "X"));
        assert!(!assigns("echo $XY; Y=1", "X"));
    }

    #[test]
    fn script_of_sh_dash_c() {
        let argv = ["/bin/sh", "-c", "echo $A"].map(|arg| Spanned::new(arg.to_string(), Default::default()));
        let form = CommandForm::Exec(argv.to_vec());
        assert_eq!(script(&form).map(|text| text.as_str()), Some("echo $A"));
        let form = CommandForm::Exec(argv[2..].to_vec());
        assert_eq!(script(&form), None);
    }
}
