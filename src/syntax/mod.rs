//! Parsing: KDL source to a small syntax tree that keeps a byte span for
//! every node, name and value. Later passes never see the `kdl` crate.

mod cursor;
mod depth;
mod numbers;
mod parse;
mod parser;
mod strings;

pub use depth::MAX_NESTING;
pub use parse::{SYNTAX_LINE_PREFIX, parse, parse_with_kdl_crate, parse_without_fallback};

use crate::diag::Span;

/// A scalar value with the span of its source text.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub kind: ValueKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind {
    String(String),
    Integer(i128),
    Float(f64),
    Bool(bool),
    Null,
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            ValueKind::String(text) => Some(text),
            _ => None,
        }
    }

    /// Names the value's type the way KDL users write it, for messages.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            ValueKind::String(_) => "a string",
            ValueKind::Integer(_) => "an integer",
            ValueKind::Float(_) => "a decimal number",
            ValueKind::Bool(_) => "a boolean",
            ValueKind::Null => "#null",
        }
    }
}

/// A property `key=value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    pub key: String,
    pub key_span: Span,
    pub value: Value,
    /// Span of the whole `key=value` text.
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    pub name_span: Span,
    pub args: Vec<Value>,
    pub props: Vec<Property>,
    pub children: Vec<Node>,
    /// Whether the node had a `{ ... }` block, even an empty one.
    pub has_block: bool,
    pub span: Span,
}

impl Node {
    pub fn prop(&self, key: &str) -> Option<&Property> {
        // KDL lets a later property override an earlier one with the same key.
        self.props.iter().rev().find(|prop| prop.key == key)
    }
}

/// A parsed spec file.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub nodes: Vec<Node>,
    /// The frontend image named by a leading `# syntax=` line, if any.
    pub syntax: Option<(String, Span)>,
}
