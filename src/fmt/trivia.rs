//! Scanning the text between KDL tokens: whitespace, newlines, `;`, line
//! continuations, comments and slashdashed items. The `kdl` crate's own
//! trivia strings do not always round-trip (a comment after a closing `}`
//! can go missing), so the formatter reads these gaps from the source.

/// One piece of trivia that the formatter keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trivia {
    /// A line break outside any comment.
    Newline,
    /// A `//` comment (without its line break), a `/* */` comment, or a
    /// slashdashed item with its `/-`, as written.
    Comment(Comment),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub text: String,
    /// Whether the comment runs to the end of its line, so nothing can
    /// follow it on that line.
    pub ends_line: bool,
}

/// The kind of item a slashdash comments out at a position: a whole node, or one
/// argument, property or children block of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Node,
    Entry,
}

/// Reads trivia from `start` up to the first character that is not trivia.
/// Returns the pieces and the offset of that character (the length of
/// `source` at the end).
pub fn scan(source: &str, start: usize, context: Context) -> (Vec<Trivia>, usize) {
    let bytes = source.as_bytes();
    let mut pieces = Vec::new();
    let mut at = start;

    while at < bytes.len() {
        let rest = &source[at..];
        if rest.starts_with("\r\n") {
            pieces.push(Trivia::Newline);
            at += 2;
        } else if let Some(length) = newline_length(rest) {
            pieces.push(Trivia::Newline);
            at += length;
        } else if rest.starts_with("//") {
            let end = line_end(source, at);
            pieces.push(comment(&source[at..end], true));
            at = end;
        } else if rest.starts_with("/*") {
            let end = block_comment_end(source, at);
            pieces.push(comment(&source[at..end], false));
            at = end;
        } else if rest.starts_with("/-") {
            let end = match context {
                Context::Node => slashdashed_node_end(source, at + 2),
                Context::Entry => slashdashed_entry_end(source, at + 2),
            };
            pieces.push(comment(source[at..end].trim_end(), false));
            at = end;
        } else if rest.starts_with('\\') {
            // A line continuation: the line break after it is not a node
            // terminator, so it is not reported as a newline.
            at += 1;
            at = skip_blanks(source, at);
            let rest = &source[at..];
            if rest.starts_with("//") {
                let end = line_end(source, at);
                pieces.push(comment(&source[at..end], true));
                at = end;
            }
            let rest = &source[at..];
            if rest.starts_with("\r\n") {
                at += 2;
            } else if let Some(length) = newline_length(rest) {
                at += length;
            }
        } else if rest.starts_with(';') {
            at += 1;
        } else if let Some(character) = rest.chars().next().filter(|c| is_blank(*c)) {
            at += character.len_utf8();
        } else {
            break;
        }
    }
    (pieces, at)
}

fn comment(text: &str, ends_line: bool) -> Trivia {
    Trivia::Comment(Comment {
        text: text.to_string(),
        ends_line,
    })
}

/// Lists every comment and slashdash marker in `source`, found by a scan
/// of the whole text that skips strings. The scan does not depend on the
/// node structure, so it also finds comments inside an entry such as
/// `key=/* c */1`.
pub fn all_comments(source: &str) -> Vec<String> {
    let mut comments = Vec::new();
    let mut at = 0;
    while at < source.len() {
        let rest = &source[at..];
        if let Some(end) = string_end(source, at) {
            at = end;
        } else if rest.starts_with("//") {
            let end = line_end(source, at);
            comments.push(source[at..end].to_string());
            at = end;
        } else if rest.starts_with("/*") {
            let end = block_comment_end(source, at);
            comments.push(source[at..end].to_string());
            at = end;
        } else if rest.starts_with("/-") {
            comments.push("/-".to_string());
            at += 2;
        } else {
            at += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    comments
}

/// Unicode whitespace that KDL v2 treats as a space (not a line break).
pub fn is_blank(character: char) -> bool {
    matches!(
        character,
        '\t' | ' ' | '\u{00A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' | '\u{FEFF}'
    )
}

/// Returns the byte length of the KDL v2 line break at the start of `text`, if any.
fn newline_length(text: &str) -> Option<usize> {
    let character = text.chars().next()?;
    matches!(
        character,
        '\n' | '\r' | '\u{000B}' | '\u{000C}' | '\u{0085}' | '\u{2028}' | '\u{2029}'
    )
    .then(|| character.len_utf8())
}

fn skip_blanks(source: &str, mut at: usize) -> usize {
    while let Some(character) = source[at..].chars().next().filter(|c| is_blank(*c)) {
        at += character.len_utf8();
    }
    at
}

/// Skips what KDL v2 allows between `/-` and the item it comments out:
/// blanks, line breaks, comments and line continuations.
fn skip_line_space(source: &str, mut at: usize) -> usize {
    loop {
        at = skip_blanks(source, at);
        let rest = &source[at..];
        if let Some(length) = newline_length(rest) {
            at += length;
        } else if rest.starts_with("//") {
            at = line_end(source, at);
        } else if rest.starts_with("/*") {
            at = block_comment_end(source, at);
        } else if rest.starts_with('\\') {
            at += 1;
        } else {
            return at;
        }
    }
}

/// Returns the offset of the line break that ends the line containing `at`.
fn line_end(source: &str, at: usize) -> usize {
    let mut end = at;
    while end < source.len() && newline_length(&source[end..]).is_none() {
        end += source[end..].chars().next().map_or(1, char::len_utf8);
    }
    end
}

/// Returns the offset just after the `/* ... */` comment at `at`; these nest in KDL.
fn block_comment_end(source: &str, at: usize) -> usize {
    let mut depth = 0usize;
    let mut end = at;
    while end < source.len() {
        let rest = &source[end..];
        if rest.starts_with("/*") {
            depth += 1;
            end += 2;
        } else if rest.starts_with("*/") {
            depth = depth.saturating_sub(1);
            end += 2;
            if depth == 0 {
                return end;
            }
        } else {
            end += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    source.len()
}

/// Returns the offset just after the string starting at `at` (quoted, multi-line
/// or raw), or `None` when no string starts there.
fn string_end(source: &str, at: usize) -> Option<usize> {
    let rest = &source[at..];
    let hashes = rest.len() - rest.trim_start_matches('#').len();
    let after_hashes = &rest[hashes..];
    if !after_hashes.starts_with('"') {
        return None;
    }

    let multi_line = after_hashes.starts_with("\"\"\"");
    let quotes = if multi_line { 3 } else { 1 };
    let closing = format!("{}{}", "\"".repeat(quotes), "#".repeat(hashes));
    let mut end = at + hashes + quotes;
    while end < source.len() {
        let text = &source[end..];
        if hashes == 0 && text.starts_with('\\') {
            // Skip the escaped character, whatever it is.
            end += 1;
            end += source[end..].chars().next().map_or(0, char::len_utf8);
        } else if text.starts_with(&closing) {
            return Some(end + closing.len());
        } else {
            end += text.chars().next().map_or(1, char::len_utf8);
        }
    }
    Some(source.len())
}

/// Returns the end of a slashdashed node: its terminator at brace depth 0 (a line
/// break, `;`, a `//` comment or the parent's `}`), skipping strings,
/// comments and children blocks.
fn slashdashed_node_end(source: &str, start: usize) -> usize {
    let mut depth = 0usize;
    let mut at = skip_line_space(source, start);
    while at < source.len() {
        let rest = &source[at..];
        if let Some(end) = string_end(source, at) {
            at = end;
        } else if rest.starts_with("/*") {
            at = block_comment_end(source, at);
        } else if rest.starts_with("//") {
            if depth == 0 {
                return at;
            }
            at = line_end(source, at);
        } else if rest.starts_with('\\') {
            at = line_end(source, at + 1);
            at += newline_length(&source[at..]).unwrap_or(0);
        } else if newline_length(rest).is_some() || rest.starts_with(';') {
            if depth == 0 {
                return at;
            }
            at += 1;
        } else if rest.starts_with('{') {
            depth += 1;
            at += 1;
        } else if rest.starts_with('}') {
            if depth == 0 {
                return at;
            }
            depth -= 1;
            at += 1;
        } else {
            at += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    source.len()
}

/// Returns the end of a slashdashed argument, property or children block.
fn slashdashed_entry_end(source: &str, start: usize) -> usize {
    let at = skip_line_space(source, start);
    if source[at..].starts_with('{') {
        return balanced_block_end(source, at);
    }
    let at = value_end(source, at);
    let after_key = skip_blanks(source, at);
    if source[after_key..].starts_with('=') {
        let value_start = skip_blanks(source, after_key + 1);
        return value_end(source, value_start);
    }
    at
}

/// Returns the end of one value, with an optional `(type)` annotation in front.
fn value_end(source: &str, mut at: usize) -> usize {
    if source[at..].starts_with('(') {
        at = source[at..].find(')').map_or(source.len(), |close| at + close + 1);
    }
    if let Some(end) = string_end(source, at) {
        return end;
    }
    while let Some(character) = source[at..].chars().next() {
        if is_blank(character) || newline_length(&source[at..]).is_some() || "{}();=\\\"/".contains(character) {
            break;
        }
        at += character.len_utf8();
    }
    at
}

fn balanced_block_end(source: &str, start: usize) -> usize {
    let mut depth = 0usize;
    let mut at = start;
    while at < source.len() {
        let rest = &source[at..];
        if let Some(end) = string_end(source, at) {
            at = end;
        } else if rest.starts_with("/*") {
            at = block_comment_end(source, at);
        } else if rest.starts_with("//") {
            at = line_end(source, at);
        } else if rest.starts_with('{') {
            depth += 1;
            at += 1;
        } else if rest.starts_with('}') {
            depth = depth.saturating_sub(1);
            at += 1;
            if depth == 0 {
                return at;
            }
        } else {
            at += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    source.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comments(source: &str, context: Context) -> Vec<String> {
        scan(source, 0, context)
            .0
            .into_iter()
            .filter_map(|piece| match piece {
                Trivia::Comment(comment) => Some(comment.text),
                Trivia::Newline => None,
            })
            .collect()
    }

    #[test]
    fn scan_stops_at_first_token() {
        let (pieces, end) = scan("  // a\n\n stage", 0, Context::Node);
        assert_eq!(end, 9);
        assert_eq!(pieces.len(), 3);
    }

    #[test]
    fn slashdashed_node_skips_braces_in_strings() {
        let source = "/-run \"echo }\" {\n    env A=\"{\"\n} // after\nnext";
        assert_eq!(
            comments(source, Context::Node),
            ["/-run \"echo }\" {\n    env A=\"{\"\n}", "// after"]
        );
    }

    #[test]
    fn slashdashed_entry_ends_at_blank() {
        assert_eq!(comments(" /-\"gone\" from", Context::Entry), ["/-\"gone\""]);
        assert_eq!(comments(" /- x=#\"a b\"# y", Context::Entry), ["/- x=#\"a b\"#"]);
        assert_eq!(comments("/-{ a; b } {", Context::Entry), ["/-{ a; b }"]);
    }

    #[test]
    fn slashdash_may_precede_line_break_and_comment() {
        assert_eq!(comments("/-\nnode 1\nnext", Context::Node), ["/-\nnode 1"]);
        assert_eq!(comments("/- // why\nnode1\nnode2", Context::Node), ["/- // why\nnode1"]);
        assert_eq!(comments(" /- /*\nx\n*/ 2 3", Context::Entry), ["/- /*\nx\n*/ 2"]);
    }

    #[test]
    fn all_comments_skips_strings() {
        let source = "a \"// no\" #\"/* no */\"# k=/* yes */1 /-b // yes\n";
        assert_eq!(all_comments(source), ["/* yes */", "/-", "// yes"]);
    }

    #[test]
    fn nested_block_comment_is_one_piece() {
        assert_eq!(comments("/* a /* b */ c */ x", Context::Node), ["/* a /* b */ c */"]);
    }

    #[test]
    fn line_continuation_keeps_its_comment() {
        let (pieces, end) = scan(" \\ // why\n    x", 0, Context::Entry);
        assert_eq!(pieces, vec![comment("// why", true)]);
        assert_eq!(end, 14);
    }
}
