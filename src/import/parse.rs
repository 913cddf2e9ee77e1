//! A Dockerfile parser: parser directives, the escape character, line
//! continuations, comments, heredocs, instruction flags and the JSON (exec)
//! form. It follows the rules of BuildKit's Dockerfile frontend, but keeps
//! the source text of each instruction so that the importer can quote what
//! it cannot convert.

use std::fmt;

/// Instructions of the Dockerfile frontend.
const KEYWORDS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Instructions whose leading `--name[=value]` words are flags.
const FLAGGED: &[&str] = &["ADD", "COPY", "FROM", "HEALTHCHECK", "RUN"];

/// Instructions that may take heredocs (`<<EOF`), since Dockerfile 1.4.
const HEREDOC: &[&str] = &["ADD", "COPY", "RUN"];

/// A parsed Dockerfile.
#[derive(Debug, Clone, Default)]
pub struct Dockerfile {
    /// Parser directives in file order, such as `syntax` and `escape`.
    pub directives: Vec<Directive>,
    pub escape: char,
    pub instructions: Vec<Instruction>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub name: String,
    pub value: String,
    pub line: usize,
}

/// One instruction with its continuation lines and heredoc bodies.
#[derive(Debug, Clone)]
pub struct Instruction {
    /// The instruction name in upper case.
    pub keyword: String,
    /// 1-based line and column of the keyword.
    pub line: usize,
    pub column: usize,
    pub flags: Vec<Flag>,
    /// The text after the keyword and flags, with continuations joined.
    pub rest: String,
    /// The arguments when `rest` is a JSON array of strings (exec form).
    pub json: Option<Vec<String>>,
    pub heredocs: Vec<Heredoc>,
    /// The source lines of the instruction, heredoc bodies included.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub name: String,
    /// None for a flag written without `=`, such as `--link`.
    pub value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    pub marker: String,
    /// The body, each line ending with a newline.
    pub body: String,
    /// `<<-EOF`: leading tabs are removed from the body and the marker line.
    pub strip_tabs: bool,
    /// `<<"EOF"` or `<<'EOF'`: the body is not expanded.
    pub quoted: bool,
}

/// A Dockerfile that cannot be parsed, with a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub help: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl Instruction {
    pub fn flag(&self, name: &str) -> Option<&Flag> {
        self.flags.iter().find(|flag| flag.name == name)
    }
}

/// Parses `source` as a Dockerfile.
pub fn parse(source: &str) -> Result<Dockerfile, SyntaxError> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let lines: Vec<&str> = source
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .collect();
    let mut dockerfile = Dockerfile {
        escape: '\\',
        ..Dockerfile::default()
    };

    let mut index = read_directives(&lines, &mut dockerfile)?;
    while index < lines.len() {
        let line = lines[index];
        if is_blank_or_comment(line) {
            index += 1;
            continue;
        }
        let (instruction, next) = read_instruction(&lines, index, dockerfile.escape)?;
        dockerfile.instructions.push(instruction);
        index = next;
    }
    Ok(dockerfile)
}

fn is_blank_or_comment(line: &str) -> bool {
    let trimmed = line.trim_start();
    trimmed.is_empty() || trimmed.starts_with('#')
}

/// Reads the parser directives at the top of the file. They end at the first
/// line that is not a directive, as in BuildKit: a blank line, a comment or
/// an instruction.
fn read_directives(lines: &[&str], dockerfile: &mut Dockerfile) -> Result<usize, SyntaxError> {
    let mut index = 0;
    while let Some(line) = lines.get(index) {
        let Some((name, value)) = directive(line) else { break };
        if dockerfile.directives.iter().any(|directive| directive.name == name) {
            break;
        }
        if name == "escape" {
            dockerfile.escape = match value.as_str() {
                "\\" => '\\',
                "`" => '`',
                _ => {
                    return Err(SyntaxError {
                        line: index + 1,
                        column: 1,
                        message: format!("invalid escape directive `{value}`"),
                        help: "write `# escape=\\` or `# escape=`` (a backtick)".to_string(),
                    });
                }
            };
        }
        dockerfile.directives.push(Directive {
            name,
            value,
            line: index + 1,
        });
        index += 1;
    }
    Ok(index)
}

fn directive(line: &str) -> Option<(String, String)> {
    let body = line.trim_start().strip_prefix('#')?;
    let (name, value) = body.split_once('=')?;
    let name = name.trim().to_ascii_lowercase();
    if !matches!(name.as_str(), "syntax" | "escape" | "check") {
        return None;
    }
    Some((name, value.trim().to_string()))
}

/// Reads the instruction that starts at `start` and returns it with the
/// index of the line after it.
fn read_instruction(lines: &[&str], start: usize, escape: char) -> Result<(Instruction, usize), SyntaxError> {
    let mut logical = String::new();
    let mut source = Vec::new();
    let mut index = start;
    loop {
        let line = lines[index];
        source.push(line);
        index += 1;

        let trimmed = line.trim_end_matches([' ', '\t']);
        let Some(joined) = trimmed.strip_suffix(escape) else {
            logical.push_str(line);
            break;
        };
        logical.push_str(joined);

        // Comment and blank lines inside a continuation are skipped.
        while index < lines.len() && is_blank_or_comment(lines[index]) {
            source.push(lines[index]);
            index += 1;
        }
        if index >= lines.len() {
            break;
        }
    }

    let indent = logical.len() - logical.trim_start().len();
    let text = logical.trim_start();
    let keyword_end = text.find(char::is_whitespace).unwrap_or(text.len());
    let keyword = text[..keyword_end].to_ascii_uppercase();
    let column = indent + 1;
    if !KEYWORDS.contains(&keyword.as_str()) {
        return Err(SyntaxError {
            line: start + 1,
            column,
            message: format!("unknown instruction `{}`", &text[..keyword_end]),
            help: format!(
                "use one of {}; a line that continues the previous one must end that line with `{escape}`",
                KEYWORDS.join(", ")
            ),
        });
    }

    let mut rest = text[keyword_end..].trim_start();
    let mut flags = Vec::new();
    if FLAGGED.contains(&keyword.as_str()) {
        while let Some(word) = rest.strip_prefix("--") {
            let end = word.find(char::is_whitespace).unwrap_or(word.len());
            let (name, value) = match word[..end].split_once('=') {
                Some((name, value)) => (name, Some(value.to_string())),
                None => (&word[..end], None),
            };
            if name.is_empty() {
                return Err(SyntaxError {
                    line: start + 1,
                    column,
                    message: format!("`{keyword}` has a flag without a name"),
                    help: "write flags as --name=value, such as --from=builder".to_string(),
                });
            }
            flags.push(Flag {
                name: name.to_ascii_lowercase(),
                value,
            });
            rest = word[end..].trim_start();
        }
    }
    let rest = rest.trim_end().to_string();

    let mut heredocs = Vec::new();
    if HEREDOC.contains(&keyword.as_str()) {
        for (marker, strip_tabs, quoted) in heredoc_markers(&rest) {
            let mut body = String::new();
            loop {
                let Some(line) = lines.get(index) else {
                    return Err(SyntaxError {
                        line: start + 1,
                        column,
                        message: format!("heredoc `{marker}` is not terminated"),
                        help: format!("end the heredoc with a line that contains only `{marker}`"),
                    });
                };
                source.push(line);
                index += 1;
                let content = if strip_tabs {
                    line.trim_start_matches('\t')
                } else {
                    line
                };
                if content == marker {
                    break;
                }
                body.push_str(content);
                body.push('\n');
            }
            heredocs.push(Heredoc {
                marker,
                body,
                strip_tabs,
                quoted,
            });
        }
    }

    let json = json_form(&rest);
    let instruction = Instruction {
        keyword,
        line: start + 1,
        column,
        flags,
        rest,
        json,
        heredocs,
        source: source.join("\n"),
    };
    Ok((instruction, index))
}

/// Returns the arguments of an exec-form instruction. Text that starts with `[` but
/// is not a JSON array of strings is shell form, as in Docker.
fn json_form(rest: &str) -> Option<Vec<String>> {
    if !rest.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(rest).ok()
}

/// Finds the heredoc markers (`<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'`) of an
/// instruction, outside shell quotes, in order.
pub fn heredoc_markers(text: &str) -> Vec<(String, bool, bool)> {
    let chars: Vec<char> = text.chars().collect();
    let mut markers = Vec::new();
    let mut quote: Option<char> = None;
    let mut index = 0;
    while index < chars.len() {
        let current = chars[index];
        match quote {
            Some(open) if current == open => quote = None,
            Some(_) => {}
            None if current == '\'' || current == '"' => quote = Some(current),
            None if current == '<' && chars.get(index + 1) == Some(&'<') && chars.get(index + 2) != Some(&'<') => {
                let mut cursor = index + 2;
                let strip_tabs = chars.get(cursor) == Some(&'-');
                if strip_tabs {
                    cursor += 1;
                }
                let open = chars.get(cursor).copied().filter(|c| *c == '"' || *c == '\'');
                if open.is_some() {
                    cursor += 1;
                }
                let name_start = cursor;
                while cursor < chars.len() && (chars[cursor].is_alphanumeric() || chars[cursor] == '_') {
                    cursor += 1;
                }
                let name: String = chars[name_start..cursor].iter().collect();
                let closed = match open {
                    Some(open) => chars.get(cursor) == Some(&open),
                    None => true,
                };
                if !name.is_empty() && closed {
                    markers.push((name, strip_tabs, open.is_some()));
                    index = cursor + usize::from(open.is_some());
                    continue;
                }
            }
            None => {}
        }
        index += 1;
    }
    markers
}
