//! Character classes and the whitespace, newline and comment rules of KDL
//! v2, over a byte position in the source. The fast parser mirrors the
//! grammar of the `kdl` crate 6.7 (src/v2_parser.rs), including where that
//! crate backtracks and where it commits to an error.

/// The outcome of a grammar rule that did not match. `Backtrack` lets the caller try the
/// next alternative. `Cut` rejects the document: the `kdl` crate records an
/// error at that point, so no other reading of the text can succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fail {
    Backtrack,
    Cut(usize),
}

pub(super) type Step<T> = Result<T, Fail>;

/// Characters that end an identifier, besides whitespace, newlines and the
/// disallowed code points.
const NON_IDENTIFIER_CHARS: [char; 12] = ['\\', '/', '(', ')', '{', '}', '[', ']', ';', '"', '#', '='];

/// Returns whether `c` may never appear literally, as the `kdl` crate
/// decides it. Unlike the KDL v2 table, that crate allows U+007F.
pub(super) fn is_disallowed(c: char) -> bool {
    matches!(c,
        '\u{0000}'..='\u{0008}'
        | '\u{000E}'..='\u{001F}'
        | '\u{200E}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{FEFF}'
    )
}

pub(super) fn is_unicode_space(c: char) -> bool {
    matches!(
        c,
        '\t' | ' ' | '\u{00A0}' | '\u{1680}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

/// Returns whether `c` starts a newline (CRLF counts as one newline).
pub(super) fn is_newline_start(c: char) -> bool {
    matches!(
        c,
        '\r' | '\n' | '\u{0085}' | '\u{000B}' | '\u{000C}' | '\u{2028}' | '\u{2029}'
    )
}

pub(super) fn is_identifier_char(c: char) -> bool {
    !(is_unicode_space(c) || is_newline_start(c) || is_disallowed(c) || NON_IDENTIFIER_CHARS.contains(&c))
}

/// A position in the source text. Every rule that returns
/// `Fail::Backtrack` leaves the position where the rule started.
pub(super) struct Cursor<'s> {
    pub(super) src: &'s str,
    pub(super) pos: usize,
}

impl<'s> Cursor<'s> {
    pub(super) fn new(src: &'s str) -> Self {
        Cursor { src, pos: 0 }
    }

    pub(super) fn rest(&self) -> &'s str {
        &self.src[self.pos..]
    }

    pub(super) fn at_eof(&self) -> bool {
        self.pos >= self.src.len()
    }

    pub(super) fn peek_byte(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    pub(super) fn peek_char(&self) -> Option<char> {
        match self.peek_byte() {
            Some(byte) if byte < 0x80 => Some(byte as char),
            Some(_) => self.rest().chars().next(),
            None => None,
        }
    }

    pub(super) fn starts_with(&self, literal: &str) -> bool {
        self.src.as_bytes()[self.pos..].starts_with(literal.as_bytes())
    }

    pub(super) fn eat(&mut self, literal: &str) -> bool {
        let found = self.starts_with(literal);
        if found {
            self.pos += literal.len();
        }
        found
    }

    pub(super) fn bump(&mut self, c: char) {
        self.pos += c.len_utf8();
    }

    /// Byte length of the newline at the position, or 0.
    pub(super) fn newline_len(&self) -> usize {
        let bytes = &self.src.as_bytes()[self.pos..];
        match bytes {
            [b'\r', b'\n', ..] => 2,
            [b'\r' | b'\n' | 0x0B | 0x0C, ..] => 1,
            [0xC2, 0x85, ..] => 2,
            [0xE2, 0x80, 0xA8 | 0xA9, ..] => 3,
            _ => 0,
        }
    }

    pub(super) fn newline(&mut self) -> bool {
        let len = self.newline_len();
        self.pos += len;
        len > 0
    }

    pub(super) fn unicode_space(&mut self) -> bool {
        match self.peek_byte() {
            Some(b' ' | b'\t') => {
                self.pos += 1;
                true
            }
            Some(byte) if byte >= 0x80 => match self.peek_char() {
                Some(c) if is_unicode_space(c) => {
                    self.bump(c);
                    true
                }
                _ => false,
            },
            _ => false,
        }
    }

    /// `ws := unicode-space | multi-line-comment`
    pub(super) fn ws(&mut self) -> Step<bool> {
        if self.unicode_space() {
            return Ok(true);
        }
        if self.starts_with("/*") {
            self.multi_line_comment()?;
            return Ok(true);
        }
        Ok(false)
    }

    pub(super) fn wss(&mut self) -> Step<()> {
        while self.ws()? {}
        Ok(())
    }

    /// Skips a `/* ... */` comment, in which `/*` opens a nested comment. An
    /// unterminated comment is an error at its opening.
    fn multi_line_comment(&mut self) -> Step<()> {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let mut depth = 0usize;
        let mut index = self.pos;
        while index + 1 < bytes.len() {
            match (bytes[index], bytes[index + 1]) {
                (b'/', b'*') => {
                    depth += 1;
                    index += 2;
                }
                (b'*', b'/') => {
                    depth -= 1;
                    index += 2;
                    if depth == 0 {
                        self.pos = index;
                        return Ok(());
                    }
                }
                _ => index += 1,
            }
        }
        Err(Fail::Cut(start))
    }

    /// `single-line-comment := '//' ^newline* (newline | eof)`
    pub(super) fn single_line_comment(&mut self) -> bool {
        if !self.starts_with("//") {
            return false;
        }
        self.pos += 2;
        while !self.at_eof() {
            if self.newline() {
                return true;
            }
            let c = self.peek_char().unwrap_or_default();
            self.bump(c);
        }
        true
    }

    /// `escline := '\\' ws* (single-line-comment | newline | eof) ws*`
    fn escline(&mut self) -> Step<bool> {
        let start = self.pos;
        if !self.eat("\\") {
            return Ok(false);
        }
        self.wss()?;
        if self.single_line_comment() || self.newline() || self.at_eof() {
            self.wss()?;
            return Ok(true);
        }
        self.pos = start;
        Ok(false)
    }

    /// Skips node space, `(ws* escline ws* | ws+)*`, and returns whether any
    /// was there.
    pub(super) fn node_space0(&mut self) -> Step<bool> {
        let start = self.pos;
        loop {
            match self.peek_byte() {
                Some(b' ' | b'\t' | b'/' | b'\\') => {}
                Some(byte) if byte >= 0x80 => {}
                _ => break,
            }
            if !(self.ws()? || self.escline()?) {
                break;
            }
        }
        Ok(self.pos > start)
    }

    /// `line-space := node-space | newline | single-line-comment`, repeated.
    pub(super) fn line_space0(&mut self) -> Step<()> {
        loop {
            if self.node_space0()? {
                continue;
            }
            if !(self.newline() || self.single_line_comment()) {
                return Ok(());
            }
        }
    }

    /// `slashdash := '/-' (node-space | line-space)*`
    pub(super) fn slashdash(&mut self) -> Step<bool> {
        if !self.eat("/-") {
            return Ok(false);
        }
        self.line_space0()?;
        Ok(true)
    }

    /// `node-terminator := ';' | newline | single-line-comment`
    pub(super) fn node_terminator(&mut self) -> bool {
        self.eat(";") || self.newline() || self.single_line_comment()
    }

    /// Checks, without moving, that a value may end here: at the end of the
    /// text, `=`, `)`, `{`, `}`, node space or a node terminator.
    pub(super) fn at_value_terminator(&mut self) -> Step<bool> {
        let start = self.pos;
        let found = match self.peek_byte() {
            None | Some(b'=' | b')' | b'{' | b'}' | b';') => true,
            _ => self.node_space0()? || self.node_terminator(),
        };
        self.pos = start;
        Ok(found)
    }

    /// Commits to an error unless a value may end here.
    pub(super) fn expect_value_terminator(&mut self) -> Step<()> {
        if self.at_value_terminator()? {
            Ok(())
        } else {
            Err(Fail::Cut(self.pos))
        }
    }
}
