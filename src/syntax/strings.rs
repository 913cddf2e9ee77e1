//! KDL v2 strings: identifier strings, quoted strings with escapes, raw
//! strings, and the multi-line forms of both with their dedent rule.

use super::cursor::{Cursor, Fail, Step, is_disallowed, is_identifier_char, is_newline_start};

/// Bare words that KDL v2 reserves, so they are not identifier strings.
const RESERVED_WORDS: [&str; 6] = ["true", "false", "null", "inf", "-inf", "nan"];

impl<'s> Cursor<'s> {
    /// `string := identifier-string | raw-string | quoted-string`, each of
    /// which must be followed by a value terminator.
    pub(super) fn string(&mut self) -> Step<String> {
        if let Some(text) = self.identifier_string()? {
            self.expect_value_terminator()?;
            return Ok(text.to_string());
        }
        if let Some(text) = self.raw_string()? {
            self.expect_value_terminator()?;
            return Ok(text);
        }
        if let Some(text) = self.quoted_string()? {
            self.expect_value_terminator()?;
            return Ok(text);
        }
        Err(Fail::Backtrack)
    }

    fn identifier_chars(&mut self) {
        let bytes = self.src.as_bytes();
        while let Some(&byte) = bytes.get(self.pos) {
            if byte.is_ascii() {
                if !is_ascii_identifier_byte(byte) {
                    break;
                }
                self.pos += 1;
                continue;
            }
            match self.peek_char() {
                Some(c) if is_identifier_char(c) => self.bump(c),
                _ => break,
            }
        }
    }

    /// `identifier-string := unambiguous-ident | signed-ident | dotted-ident`
    fn identifier_string(&mut self) -> Step<Option<&'s str>> {
        let start = self.pos;
        let Some(first) = self.peek_char() else {
            return Ok(None);
        };

        let unambiguous = !matches!(first, '0'..='9' | '-' | '+' | '.') && is_identifier_char(first);
        if unambiguous {
            self.identifier_chars();
            let text = &self.src[start..self.pos];
            if RESERVED_WORDS.contains(&text) {
                return Err(Fail::Cut(start));
            }
            return Ok(Some(text));
        }

        let signed = matches!(first, '-' | '+');
        if signed {
            self.pos += 1;
            match self.peek_byte() {
                Some(b'0'..=b'9' | b'.') => {}
                _ => {
                    self.identifier_chars();
                    return Ok(Some(&self.src[start..self.pos]));
                }
            }
        }

        // dotted-ident := sign? '.' ((identifier-char - digit) identifier-char*)?
        if self.eat(".") && !matches!(self.peek_byte(), Some(b'0'..=b'9')) {
            self.identifier_chars();
            return Ok(Some(&self.src[start..self.pos]));
        }
        self.pos = start;
        Ok(None)
    }

    /// `ws-escape := '\' (unicode-space | newline)+`, which a string skips.
    fn ws_escape(&mut self) -> bool {
        if !self.starts_with("\\") {
            return false;
        }
        let start = self.pos;
        self.pos += 1;
        while self.unicode_space() || self.newline() {}
        if self.pos == start + 1 {
            self.pos = start;
            return false;
        }
        true
    }

    /// Reads one `string-character` (an escape or a literal character other
    /// than `\` and `"`). Every failure is an error, because the `kdl` crate
    /// commits once a quoted string has opened.
    fn string_char(&mut self, body: &mut String) -> Step<()> {
        let start = self.pos;
        let Some(c) = self.peek_char() else {
            return Err(Fail::Cut(start));
        };
        if c != '\\' {
            if c == '"' || is_disallowed(c) {
                return Err(Fail::Cut(start));
            }
            self.bump(c);
            body.push(c);
            return Ok(());
        }

        self.pos += 1;
        let escaped = match self.peek_byte() {
            Some(b'\\') => '\\',
            Some(b'"') => '"',
            Some(b'b') => '\u{0008}',
            Some(b'f') => '\u{000C}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b's') => ' ',
            Some(b'u') if self.rest()[1..].starts_with('{') => {
                self.pos += 2;
                let digits = self.rest().bytes().take(6).take_while(u8::is_ascii_hexdigit).count();
                let hex = &self.rest()[..digits];
                self.pos += digits;
                if digits == 0 || !self.eat("}") {
                    return Err(Fail::Cut(self.pos));
                }
                let code = u32::from_str_radix(hex, 16).map_err(|_| Fail::Cut(start))?;
                body.push(char::from_u32(code).ok_or(Fail::Cut(start))?);
                return Ok(());
            }
            _ => return Err(Fail::Cut(start)),
        };
        self.pos += 1;
        body.push(escaped);
        Ok(())
    }

    /// Reads a literal `"` inside a multi-line string, which may not start
    /// `"""`. Returns false, without moving, when there is no such quote.
    fn lone_quote(&mut self) -> bool {
        let lone = self.starts_with("\"") && !self.starts_with("\"\"\"");
        if lone {
            self.pos += 1;
        }
        lone
    }

    /// `quoted-string := '"' single-line-body '"' | '"""' newline multi-line-body '"""'`
    fn quoted_string(&mut self) -> Step<Option<String>> {
        if self.starts_with("\"\"\"") {
            self.pos += 3;
            if !self.newline() {
                return Err(Fail::Cut(self.pos));
            }
            return self.multi_line_quoted_body().map(Some);
        }
        if !self.eat("\"") {
            return Ok(None);
        }

        let mut body = String::new();
        loop {
            let run = self.plain_run();
            body.push_str(run);
            match self.peek_byte() {
                Some(b'"') => break,
                _ if self.newline_len() > 0 => return Err(Fail::Cut(self.pos)),
                _ if self.ws_escape() => {}
                _ => self.string_char(&mut body)?,
            }
        }
        self.pos += 1;
        Ok(Some(body))
    }

    /// Skips and returns the longest run of plain printable ASCII, which
    /// needs no check beyond its bytes.
    fn plain_run(&mut self) -> &'s str {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        while let Some(&byte) = bytes.get(self.pos) {
            if !(0x20..0x7F).contains(&byte) || byte == b'"' || byte == b'\\' {
                break;
            }
            self.pos += 1;
        }
        &self.src[start..self.pos]
    }

    /// Reads one line of a multi-line quoted string up to and including its
    /// newline, appending the characters to `body` when given.
    fn multi_line_quoted_line(&mut self, mut body: Option<&mut String>) -> Step<()> {
        let mut scratch = String::new();
        loop {
            if self.newline() {
                return Ok(());
            }
            if self.ws_escape() {
                continue;
            }
            if self.lone_quote() {
                if let Some(body) = body.as_deref_mut() {
                    body.push('"');
                }
                continue;
            }
            match body.as_deref_mut() {
                Some(body) => self.string_char(body)?,
                None => {
                    scratch.clear();
                    self.string_char(&mut scratch)?;
                }
            }
        }
    }

    /// Skips `(ws-escape | unicode-space)*` and returns the unicode spaces.
    fn escaped_whitespace(&mut self) -> String {
        let mut spaces = String::new();
        loop {
            if self.ws_escape() {
                continue;
            }
            let before = self.pos;
            if !self.unicode_space() {
                return spaces;
            }
            spaces.push_str(&self.src[before..self.pos]);
        }
    }

    /// `empty-line := (ws-escape | unicode-space)* newline`, without moving.
    fn at_empty_line(&mut self) -> bool {
        let start = self.pos;
        self.escaped_whitespace();
        let empty = self.newline_len() > 0;
        self.pos = start;
        empty
    }

    fn skip_empty_line(&mut self) -> bool {
        let start = self.pos;
        self.escaped_whitespace();
        if self.newline() {
            return true;
        }
        self.pos = start;
        false
    }

    /// Finds the whitespace before the closing `"""`, which every line of
    /// the body must start with, without moving.
    fn multi_line_quoted_prefix(&mut self) -> Step<String> {
        let start = self.pos;
        loop {
            let line = self.pos;
            let prefix = self.escaped_whitespace();
            if self.starts_with("\"\"\"") {
                self.pos = start;
                return Ok(prefix);
            }
            self.pos = line;
            self.multi_line_quoted_line(None)?;
        }
    }

    fn multi_line_quoted_body(&mut self) -> Step<String> {
        let prefix = self.multi_line_quoted_prefix()?;
        let mut body = String::new();
        loop {
            let line = self.pos;
            if self.eat(&prefix) {
                while self.ws_escape() {}
                if self.starts_with("\"\"\"") {
                    break;
                }
                self.pos = line;
            }

            if !self.eat(&prefix) && !self.at_empty_line() {
                return Err(Fail::Cut(self.pos));
            }
            if self.skip_empty_line() {
                body.push('\n');
                continue;
            }
            self.multi_line_quoted_line(Some(&mut body))?;
            body.push('\n');
        }
        body.pop();
        self.pos += 3;
        Ok(body)
    }

    /// `raw-string := '#'+ '"' body '"' '#'+ | '#'+ '"""' newline body '"""' '#'+`
    fn raw_string(&mut self) -> Step<Option<String>> {
        let start = self.pos;
        let hashes = self.rest().bytes().take_while(|&byte| byte == b'#').count();
        if hashes == 0 {
            return Ok(None);
        }
        self.pos += hashes;
        let closing_hashes = &self.src[start..start + hashes];

        let multi_line = self.starts_with("\"\"\"") && {
            self.pos += 3;
            let newline = self.newline();
            if !newline {
                self.pos -= 3;
            }
            newline
        };
        let body = if multi_line {
            self.multi_line_raw_body(closing_hashes)?
        } else if self.eat("\"") {
            self.single_line_raw_body(closing_hashes)?
        } else {
            None
        };

        let Some(body) = body else {
            self.pos = start;
            return Ok(None);
        };
        if body == "\"" {
            return Err(Fail::Cut(start));
        }
        Ok(Some(body))
    }

    fn at_closing(&self, quotes: &str, hashes: &str) -> bool {
        self.starts_with(quotes) && self.src[self.pos + quotes.len()..].starts_with(hashes)
    }

    fn single_line_raw_body(&mut self, hashes: &str) -> Step<Option<String>> {
        let start = self.pos;
        loop {
            if self.at_closing("\"", hashes) {
                let body = self.src[start..self.pos].to_string();
                self.pos += 1 + hashes.len();
                return Ok(Some(body));
            }
            match self.peek_char() {
                Some(c) if !is_disallowed(c) && !is_newline_start(c) => self.bump(c),
                _ => return Ok(None),
            }
        }
    }

    /// Skips one line of a multi-line raw string, up to and including its
    /// newline. Returns false where the line has no newline, holds a
    /// disallowed code point (when `check_disallowed`), or the closing quotes.
    fn multi_line_raw_line(&mut self, hashes: &str, check_disallowed: bool) -> bool {
        loop {
            if self.newline() {
                return true;
            }
            if self.at_closing("\"\"\"", hashes) {
                return false;
            }
            match self.peek_char() {
                Some(c) if !(check_disallowed && is_disallowed(c)) => self.bump(c),
                _ => return false,
            }
        }
    }

    fn unicode_spaces(&mut self) -> &'s str {
        let start = self.pos;
        while self.unicode_space() {}
        &self.src[start..self.pos]
    }

    fn multi_line_raw_body(&mut self, hashes: &str) -> Step<Option<String>> {
        let body_start = self.pos;
        let prefix = loop {
            let line = self.pos;
            let spaces = self.unicode_spaces();
            if self.at_closing("\"\"\"", hashes) {
                break spaces;
            }
            self.pos = line;
            if !self.multi_line_raw_line(hashes, true) {
                return Ok(None);
            }
        };
        self.pos = body_start;

        let mut body = String::new();
        loop {
            let line = self.pos;
            if self.eat(prefix) {
                self.unicode_spaces();
                if self.at_closing("\"\"\"", hashes) {
                    break;
                }
                self.pos = line;
            }

            if !self.eat(prefix) && !self.at_empty_line() {
                return Err(Fail::Cut(self.pos));
            }
            // The `kdl` crate reads a line of only whitespace and
            // backslash-whitespace escapes as empty, even in a raw string.
            if self.skip_empty_line() {
                body.push('\n');
                continue;
            }
            let content = self.pos;
            if !self.multi_line_raw_line(hashes, false) {
                return Ok(None);
            }
            body.push_str(trim_newline(&self.src[content..self.pos]));
            body.push('\n');
        }
        body.pop();
        self.pos += 3 + hashes.len();
        Ok(Some(body))
    }
}

/// Returns whether an ASCII byte is an identifier character: a printable
/// character, or DEL, that is not one of `\/(){}[];"#=`. The same as
/// `is_identifier_char` for ASCII, without its table lookups.
fn is_ascii_identifier_byte(byte: u8) -> bool {
    byte > b' '
        && !matches!(
            byte,
            b'\\' | b'/' | b'(' | b')' | b'{' | b'}' | b'[' | b']' | b';' | b'"' | b'#' | b'='
        )
}

/// Removes the one newline (CRLF counts as one) that ends `line`.
fn trim_newline(line: &str) -> &str {
    if let Some(stripped) = line.strip_suffix("\r\n") {
        return stripped;
    }
    let mut chars = line.chars();
    match chars.next_back() {
        Some(c) if is_newline_start(c) => chars.as_str(),
        _ => line,
    }
}

#[cfg(test)]
mod tests {
    use super::trim_newline;

    #[test]
    fn trim_newline_removes_one_newline() {
        assert_eq!(trim_newline("a\r\n"), "a");
        assert_eq!(trim_newline("a\n\n"), "a\n");
        assert_eq!(trim_newline("a\u{2028}"), "a");
    }

    #[test]
    fn ascii_identifier_bytes_match_identifier_chars() {
        for byte in 0u8..0x80 {
            let expected = crate::syntax::cursor::is_identifier_char(byte as char);
            assert_eq!(super::is_ascii_identifier_byte(byte), expected, "byte {byte:#04x}");
        }
    }

    #[test]
    fn unicode_space_table_matches_kdl() {
        assert!(crate::syntax::cursor::is_unicode_space('\u{3000}'));
        assert!(!crate::syntax::cursor::is_unicode_space('\u{200B}'));
    }
}
