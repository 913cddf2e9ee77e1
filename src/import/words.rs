//! Word splitting for the instructions whose arguments the Dockerfile
//! frontend expands (ENV, LABEL, ARG, COPY, WORKDIR, USER and others):
//! quotes, the escape character, and `$NAME` / `${NAME}` references.

/// A part of a word: literal text or a variable reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    /// `$NAME` or `${NAME}`. `modifier` is the rest of `${NAME:-word}` and
    /// the other shell forms, which the spec language has no equivalent of.
    Var {
        name: String,
        modifier: Option<String>,
    },
}

pub type Word = Vec<Piece>;

/// Splits `text` into words at unquoted whitespace. With `split` false the
/// whole text is one word, and its whitespace is kept.
pub fn split_words(text: &str, escape: char, split: bool) -> Result<Vec<Word>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut words = Vec::new();
    let mut word: Word = Vec::new();
    let mut started = false;
    let mut index = 0;

    while index < chars.len() {
        let current = chars[index];
        if split && current.is_whitespace() {
            if started {
                words.push(std::mem::take(&mut word));
                started = false;
            }
            index += 1;
            continue;
        }
        started = true;

        if current == escape {
            match chars.get(index + 1) {
                Some(next) => push_text(&mut word, *next),
                None => push_text(&mut word, current),
            }
            index += 2;
        } else if current == '\'' {
            let Some(end) = chars[index + 1..].iter().position(|c| *c == '\'') else {
                return Err("a single quote is not closed".to_string());
            };
            for c in &chars[index + 1..index + 1 + end] {
                push_text(&mut word, *c);
            }
            index += end + 2;
            // An empty quoted string still makes a word.
            if end == 0 {
                word.push(Piece::Text(String::new()));
            }
        } else if current == '"' {
            index += 1;
            let mut closed = false;
            while index < chars.len() {
                let inner = chars[index];
                if inner == '"' {
                    closed = true;
                    index += 1;
                    break;
                }
                if inner == escape && matches!(chars.get(index + 1), Some('"' | '$')) {
                    push_text(&mut word, chars[index + 1]);
                    index += 2;
                } else if inner == escape && chars.get(index + 1) == Some(&escape) {
                    push_text(&mut word, escape);
                    index += 2;
                } else if inner == '$' {
                    index = read_variable(&chars, index, &mut word)?;
                } else {
                    push_text(&mut word, inner);
                    index += 1;
                }
            }
            if !closed {
                return Err("a double quote is not closed".to_string());
            }
            if word.is_empty() {
                word.push(Piece::Text(String::new()));
            }
        } else if current == '$' {
            index = read_variable(&chars, index, &mut word)?;
        } else {
            push_text(&mut word, current);
            index += 1;
        }
    }
    if started {
        words.push(word);
    }
    Ok(words)
}

fn push_text(word: &mut Word, c: char) {
    if let Some(Piece::Text(text)) = word.last_mut() {
        text.push(c);
    } else {
        word.push(Piece::Text(c.to_string()));
    }
}

/// Reads a reference at `chars[start]` (a `$`) and returns the index after it.
fn read_variable(chars: &[char], start: usize, word: &mut Word) -> Result<usize, String> {
    let is_name_start = |c: char| c.is_ascii_alphabetic() || c == '_';
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';

    match chars.get(start + 1) {
        Some('{') => {
            let Some(close) = chars[start + 2..].iter().position(|c| *c == '}') else {
                return Err("a `${` reference is not closed with `}`".to_string());
            };
            let inner: String = chars[start + 2..start + 2 + close].iter().collect();
            let name_end = inner.find(|c: char| !is_name(c)).unwrap_or(inner.len());
            let name = &inner[..name_end];
            if name.is_empty() || !name.starts_with(is_name_start) {
                return Err(format!("`${{{inner}}}` is not a valid variable reference"));
            }
            let modifier = (name_end < inner.len()).then(|| inner[name_end..].to_string());
            word.push(Piece::Var {
                name: name.to_string(),
                modifier,
            });
            Ok(start + 3 + close)
        }
        Some(c) if is_name_start(*c) => {
            let mut end = start + 1;
            while end < chars.len() && is_name(chars[end]) {
                end += 1;
            }
            let name: String = chars[start + 1..end].iter().collect();
            word.push(Piece::Var { name, modifier: None });
            Ok(end)
        }
        _ => {
            push_text(word, '$');
            Ok(start + 1)
        }
    }
}

/// Returns the word's text when it has no variable references.
pub fn literal(word: &Word) -> Option<String> {
    let mut text = String::new();
    for piece in word {
        match piece {
            Piece::Text(part) => text.push_str(part),
            Piece::Var { .. } => return None,
        }
    }
    Some(text)
}

/// Splits a `key=value` word at its first literal `=`.
pub fn split_key_value(word: &Word) -> Option<(String, Word)> {
    let Some(Piece::Text(first)) = word.first() else {
        return None;
    };
    let (key, value_start) = first.split_once('=')?;
    let mut value = Vec::new();
    if !value_start.is_empty() {
        value.push(Piece::Text(value_start.to_string()));
    }
    value.extend(word[1..].iter().cloned());
    Some((key.to_string(), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> Piece {
        Piece::Text(value.to_string())
    }

    #[test]
    fn words_split_at_unquoted_space() {
        let words = split_words(r#"a "b c" 'd e' f\ g"#, '\\', true).unwrap();
        assert_eq!(
            words,
            vec![vec![text("a")], vec![text("b c")], vec![text("d e")], vec![text("f g")]]
        );
    }

    #[test]
    fn variables_with_and_without_braces() {
        let words = split_words("/app/$NAME-${V:-1}", '\\', true).unwrap();
        assert_eq!(
            words[0],
            vec![
                text("/app/"),
                Piece::Var {
                    name: "NAME".into(),
                    modifier: None
                },
                text("-"),
                Piece::Var {
                    name: "V".into(),
                    modifier: Some(":-1".into())
                },
            ]
        );
    }

    #[test]
    fn single_quotes_keep_dollar() {
        let words = split_words("'$HOME'", '\\', true).unwrap();
        assert_eq!(words, vec![vec![text("$HOME")]]);
    }

    #[test]
    fn unclosed_quote_is_error() {
        assert!(split_words("\"abc", '\\', true).is_err());
        assert!(split_words("${abc", '\\', true).is_err());
    }

    #[test]
    fn key_value_split_at_first_equals() {
        let words = split_words("A=b=c", '\\', true).unwrap();
        assert_eq!(split_key_value(&words[0]), Some(("A".to_string(), vec![text("b=c")])));
    }
}
