//! A KDL v2 parser that builds the syntax tree directly, with the byte span
//! of every node, name and value. It accepts and rejects exactly what the
//! `kdl` crate 6.7 does (tests/kdl_conformance.rs compares the two), except
//! past `MAX_SLASHDASH_NESTING`. On rejection it returns only the offset,
//! and the caller asks the `kdl` crate for the full diagnostics.

use super::cursor::{Cursor, Fail, Step};
use super::{MAX_NESTING, Node, Property, Value, ValueKind};
use crate::diag::Span;

/// The maximum number of slashdashed entries that may prefix each other
/// (`/- /- a b`). That grammar recurses once per level, so past the limit
/// the parser rejects the spec and `syntax::parse` leaves the decision to
/// the `kdl` crate on its large stack.
const MAX_SLASHDASH_NESTING: usize = 32;

/// Parses a whole KDL v2 document. On rejection, returns the byte offset
/// where the parser committed to an error.
pub(super) fn parse_document(src: &str) -> Result<Vec<Node>, usize> {
    let mut parser = Parser {
        cursor: Cursor::new(src),
        slashdash_depth: 0,
    };
    parser.document().map_err(|fail| match fail {
        Fail::Cut(at) => at,
        Fail::Backtrack => parser.cursor.pos,
    })
}

struct Parser<'s> {
    cursor: Cursor<'s>,
    slashdash_depth: usize,
}

/// A node entry before it is sorted into arguments and properties.
enum Entry {
    Argument(Value),
    Property(Property),
}

fn span(start: usize, end: usize) -> Span {
    Span::new(start, end - start)
}

impl Parser<'_> {
    fn document(&mut self) -> Step<Vec<Node>> {
        self.cursor.eat("\u{feff}");
        let nodes = self.nodes(0)?;
        if !self.cursor.at_eof() {
            return Err(Fail::Cut(self.cursor.pos));
        }
        Ok(nodes)
    }

    /// `(line-space | slashdash base-node)*`, the space around nodes.
    fn skip_leading(&mut self, depth: usize) -> Step<()> {
        loop {
            self.cursor.line_space0()?;
            let before = self.cursor.pos;
            if !self.cursor.slashdash()? {
                return Ok(());
            }
            match self.base_node(depth) {
                Ok(_) => {}
                Err(Fail::Backtrack) => {
                    self.cursor.pos = before;
                    return Ok(());
                }
                Err(cut) => return Err(cut),
            }
        }
    }

    /// `nodes := (line-space* node)* line-space*`, where nodes are separated
    /// by node terminators.
    fn nodes(&mut self, depth: usize) -> Step<Vec<Node>> {
        let mut nodes = Vec::new();
        self.skip_leading(depth)?;
        match self.base_node(depth) {
            Ok(node) => nodes.push(node),
            Err(Fail::Backtrack) => {}
            Err(cut) => return Err(cut),
        }

        if !nodes.is_empty() {
            loop {
                let before = self.cursor.pos;
                if !self.cursor.node_terminator() {
                    break;
                }
                self.skip_leading(depth)?;
                match self.base_node(depth) {
                    Ok(node) => nodes.push(node),
                    Err(Fail::Backtrack) => {
                        self.cursor.pos = before;
                        break;
                    }
                    Err(cut) => return Err(cut),
                }
            }
        }

        self.cursor.node_terminator();
        self.skip_leading(depth)?;
        Ok(nodes)
    }

    fn base_node(&mut self, depth: usize) -> Step<Node> {
        match self.cursor.peek_byte() {
            None | Some(b'}') => return Err(Fail::Backtrack),
            Some(b'{') => return Err(Fail::Cut(self.cursor.pos)),
            _ => {}
        }

        let start = self.cursor.pos;
        self.attempt(Self::optional_type)?;
        self.cursor.node_space0()?;
        let name_start = self.cursor.pos;
        let name = match self.cursor.string() {
            Ok(name) => name,
            Err(Fail::Backtrack) => return Err(Fail::Cut(name_start)),
            Err(cut) => return Err(cut),
        };
        let name_span = span(name_start, self.cursor.pos);

        let mut args = Vec::new();
        let mut props = Vec::new();
        loop {
            let before = self.cursor.pos;
            let spaced = self.cursor.node_space0()?;
            self.cursor.pos = before;
            if !spaced {
                break;
            }
            match self.node_entry() {
                Ok(Entry::Argument(value)) => args.push(value),
                Ok(Entry::Property(prop)) => props.push(prop),
                Err(Fail::Backtrack) => {
                    self.cursor.pos = before;
                    break;
                }
                Err(cut) => return Err(cut),
            }
        }

        let before_children = self.cursor.pos;
        let children = match self
            .before_node_children(depth)
            .and_then(|()| self.node_children(depth))
        {
            Ok(children) => Some(children),
            Err(Fail::Backtrack) => {
                self.cursor.pos = before_children;
                None
            }
            Err(cut) => return Err(cut),
        };
        if children.is_some() {
            let before = self.cursor.pos;
            if let Err(fail) = self.slashdashed_children(depth) {
                self.restore(before, fail)?;
            }
        } else {
            self.before_node_children(depth)?;
        }
        self.cursor.node_space0()?;

        Ok(Node {
            name,
            name_span,
            args,
            props,
            has_block: children.is_some(),
            children: children.unwrap_or_default(),
            span: span(start, self.cursor.pos),
        })
    }

    /// Moves back to `before` on a backtrack, and passes a cut on.
    fn restore(&mut self, before: usize, fail: Fail) -> Step<()> {
        match fail {
            Fail::Backtrack => {
                self.cursor.pos = before;
                Ok(())
            }
            cut => Err(cut),
        }
    }

    /// Runs `rule` and moves back when it backtracks. Returns whether it matched.
    fn attempt(&mut self, rule: impl FnOnce(&mut Self) -> Step<()>) -> Step<bool> {
        let before = self.cursor.pos;
        match rule(self) {
            Ok(()) => Ok(true),
            Err(fail) => self.restore(before, fail).map(|()| false),
        }
    }

    fn node_space1(&mut self) -> Step<()> {
        if self.cursor.node_space0()? {
            Ok(())
        } else {
            Err(Fail::Backtrack)
        }
    }

    /// Skips the space before a node's children, which may contain
    /// slashdashed entries and slashdashed child blocks.
    fn before_node_children(&mut self, depth: usize) -> Step<()> {
        let matched = self.attempt(|parser| {
            parser.node_space1()?;
            parser.slashdashed_entries()?;
            parser.node_space1()?;
            parser.slashdashed_children(depth)
        })? || self.attempt(|parser| {
            parser.node_space1()?;
            parser.slashdashed_entries()
        })? || self.attempt(|parser| {
            parser.node_space1()?;
            parser.slashdashed_children(depth)
        })?;
        if !matched {
            self.cursor.node_space0()?;
        }
        self.cursor.node_space0()?;
        Ok(())
    }

    /// `(slashdash entry) (node-space+ slashdash entry)*`
    fn slashdashed_entries(&mut self) -> Step<()> {
        if self.slashdash_depth >= MAX_SLASHDASH_NESTING {
            return Err(Fail::Cut(self.cursor.pos));
        }
        self.slashdash_depth += 1;
        let result = self.slashdashed_entries_unbounded();
        self.slashdash_depth -= 1;
        result
    }

    fn slashdashed_entries_unbounded(&mut self) -> Step<()> {
        let start = self.cursor.pos;
        let first = self.attempt(|parser| {
            if !parser.cursor.slashdash()? {
                return Err(Fail::Backtrack);
            }
            parser.node_entry().map(drop)
        })?;
        if !first {
            self.cursor.pos = start;
            return Err(Fail::Backtrack);
        }
        while self.attempt(|parser| {
            parser.node_space1()?;
            if !parser.cursor.slashdash()? {
                return Err(Fail::Backtrack);
            }
            parser.node_entry().map(drop)
        })? {}
        Ok(())
    }

    /// `node-space* (slashdash node-children) (node-space+ slashdash node-children)*`
    fn slashdashed_children(&mut self, depth: usize) -> Step<()> {
        let start = self.cursor.pos;
        self.cursor.node_space0()?;
        let first = self.attempt(|parser| {
            if !parser.cursor.slashdash()? {
                return Err(Fail::Backtrack);
            }
            parser.node_children(depth).map(drop)
        })?;
        if !first {
            self.cursor.pos = start;
            return Err(Fail::Backtrack);
        }
        while self.attempt(|parser| {
            parser.node_space1()?;
            if !parser.cursor.slashdash()? {
                return Err(Fail::Backtrack);
            }
            parser.node_children(depth).map(drop)
        })? {}
        Ok(())
    }

    /// `node-children := '{' nodes '}'`
    fn node_children(&mut self, depth: usize) -> Step<Vec<Node>> {
        let open = self.cursor.pos;
        if !self.cursor.eat("{") {
            return Err(Fail::Backtrack);
        }
        // The nesting pre-scan enforces the limit with its own diagnostic.
        // This check only keeps the recursion bounded if the two disagree.
        if depth >= MAX_NESTING {
            return Err(Fail::Cut(open));
        }
        let children = self.nodes(depth + 1)?;
        if !self.cursor.eat("}") {
            return Err(Fail::Cut(open));
        }
        Ok(children)
    }

    /// Parses an argument or a property, after any slashdashed entries before it.
    fn node_entry(&mut self) -> Step<Entry> {
        self.cursor.node_space0()?;
        self.attempt(|parser| {
            parser.slashdashed_entries()?;
            parser.node_space1()
        })?;

        let start = self.cursor.pos;
        let key = match self.cursor.string() {
            Ok(key) => Some(key),
            Err(Fail::Backtrack) => None,
            Err(cut) => return Err(cut),
        };
        let Some(key) = key else {
            let value = self.value()?;
            return Ok(Entry::Argument(value));
        };
        let key_end = self.cursor.pos;

        self.cursor.node_space0()?;
        if !self.cursor.eat("=") {
            self.cursor.pos = key_end;
            let value = Value {
                kind: ValueKind::String(key),
                span: span(start, key_end),
            };
            return Ok(Entry::Argument(value));
        }
        self.cursor.node_space0()?;
        let value = match self.value() {
            Ok(value) => value,
            Err(Fail::Backtrack) => return Err(Fail::Cut(self.cursor.pos)),
            Err(cut) => return Err(cut),
        };
        Ok(Entry::Property(Property {
            key,
            key_span: span(start, key_end),
            span: span(start, value.span.end()),
            value,
        }))
    }

    /// `value := type? node-space* (keyword | number | string)`
    fn value(&mut self) -> Step<Value> {
        let start = self.cursor.pos;
        if self.cursor.peek_byte() == Some(b'(') {
            self.attempt(|parser| {
                parser.optional_type()?;
                parser.cursor.node_space0().map(drop)
            })?;
        }

        let kind = match self.keyword() {
            Err(Fail::Backtrack) => match self.cursor.number() {
                Err(Fail::Backtrack) => self.cursor.string().map(ValueKind::String),
                number => number,
            },
            keyword => keyword,
        };
        match kind {
            Ok(kind) => Ok(Value {
                kind,
                span: span(start, self.cursor.pos),
            }),
            Err(fail) => {
                self.cursor.pos = start;
                Err(fail)
            }
        }
    }

    /// `keyword := '#true' | '#false' | '#null' | '#inf' | '#-inf' | '#nan'`.
    /// The crate checks for no value terminator after a keyword.
    fn keyword(&mut self) -> Step<ValueKind> {
        let start = self.cursor.pos;
        if !self.cursor.eat("#") {
            return Err(Fail::Backtrack);
        }
        if matches!(self.cursor.peek_byte(), Some(b'#' | b'"')) {
            self.cursor.pos = start;
            return Err(Fail::Backtrack);
        }
        let keywords = [
            ("true", ValueKind::Bool(true)),
            ("false", ValueKind::Bool(false)),
            ("null", ValueKind::Null),
            ("nan", ValueKind::Float(f64::NAN)),
            ("inf", ValueKind::Float(f64::INFINITY)),
            ("-inf", ValueKind::Float(f64::NEG_INFINITY)),
        ];
        for (word, kind) in keywords {
            if self.cursor.eat(word) {
                return Ok(kind);
            }
        }
        Err(Fail::Cut(start))
    }

    /// Skips a type annotation `'(' node-space* string node-space* ')'` if
    /// there is one. stagec does not use types, so the name is dropped.
    fn optional_type(&mut self) -> Step<()> {
        let start = self.cursor.pos;
        if !self.cursor.eat("(") {
            return Ok(());
        }
        self.cursor.node_space0()?;
        let name_start = self.cursor.pos;
        match self.cursor.string() {
            Ok(_) => {}
            Err(Fail::Backtrack) => return Err(Fail::Cut(name_start)),
            Err(cut) => return Err(cut),
        }
        let before = self.cursor.pos;
        let spaced = self.cursor.node_space0()?;
        self.cursor.pos = before;
        if !spaced && self.cursor.peek_byte() != Some(b')') {
            return Err(Fail::Cut(self.cursor.pos));
        }
        self.cursor.node_space0()?;
        if !self.cursor.eat(")") {
            self.cursor.pos = start;
            return Err(Fail::Backtrack);
        }
        Ok(())
    }
}
