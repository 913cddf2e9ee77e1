//! The formatter's view of a spec: each node's parts in canonical order,
//! with the comments around them attached to the part they belong to.
//! Built from the `kdl` crate's tree for structure and from the source
//! text for comments.

use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};

use super::order::canonical_order;
use super::trivia::{Comment, Context, Trivia, scan};

/// A comment or a blank line before a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leading {
    Blank,
    Comment(Comment),
}

#[derive(Debug, Clone, Default)]
pub struct Block {
    /// Comments on the line of the opening `{` (or, at top level, none).
    pub open_trailing: Vec<Comment>,
    pub nodes: Vec<FormatNode>,
    /// Comments after the last node, before the closing `}` or the end.
    pub dangling: Vec<Leading>,
}

#[derive(Debug, Clone)]
pub struct FormatNode {
    pub leading: Vec<Leading>,
    /// The type annotation and name, as written.
    pub head: String,
    /// Arguments in written order, then properties in canonical order.
    pub entries: Vec<FormatEntry>,
    /// Comments between the last entry and the `{`, or the end of the node.
    pub before_block: Vec<Comment>,
    pub children: Option<Block>,
    /// Comments after the node on its last line.
    pub trailing: Vec<Comment>,
}

#[derive(Debug, Clone)]
pub struct FormatEntry {
    /// Comments and slashdashed entries written just before this entry.
    pub leading: Vec<Comment>,
    pub text: String,
}

/// The reason a spec that parses cannot be formatted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

/// Builds the formatting tree of `document`, parsed from `source`, whose
/// nodes start at or after `start`.
pub fn build(source: &str, document: &KdlDocument, start: usize) -> Result<Block, Unsupported> {
    let mut builder = Builder { source };
    let (leading, at) = scan(source, start, Context::Node);
    let (block, end) = builder.nodes(document.nodes(), leading_items(&leading, false), at)?;
    if end < source.len() {
        return Err(Unsupported(format!("unexpected text at byte {end}")));
    }
    Ok(block)
}

struct Builder<'a> {
    source: &'a str,
}

impl Builder<'_> {
    /// Reads a sequence of sibling nodes. `leading` contains what came before
    /// the first one; `at` is the offset of the first node or of the end.
    /// Returns the block and the offset of the first character after the
    /// trivia that follows the last node.
    fn nodes(
        &mut self,
        nodes: &[KdlNode],
        mut leading: Vec<Leading>,
        mut at: usize,
    ) -> Result<(Block, usize), Unsupported> {
        let mut block = Block::default();
        for node in nodes {
            let start = node_start(self.source, node);
            if start != at {
                return Err(Unsupported(format!("unexpected text at byte {at}")));
            }
            let (mut formatted, end) = self.node(node, std::mem::take(&mut leading))?;

            let (gap, next) = scan(self.source, end, Context::Node);
            let first_line = gap
                .iter()
                .position(|piece| *piece == Trivia::Newline)
                .unwrap_or(gap.len());
            formatted.trailing.extend(comments(&gap[..first_line]));
            leading = leading_items(&gap[first_line.min(gap.len())..], true);
            block.nodes.push(formatted);
            at = next;
        }
        block.dangling = leading;
        Ok((block, at))
    }

    /// Reads one node. Returns it and the offset just after its last
    /// entry or its closing `}`.
    fn node(&mut self, node: &KdlNode, leading: Vec<Leading>) -> Result<(FormatNode, usize), Unsupported> {
        let start = node_start(self.source, node);
        let name_span = node.name().span();
        let name_end = name_span.offset() + name_span.len();
        if self.source.get(start..name_end).is_none() {
            return Err(Unsupported(format!("invalid node span at byte {start}")));
        }
        let mut head = String::new();
        if let Some(ty) = node.ty() {
            head.push('(');
            head.push_str(&ty.repr().map_or_else(|| quote(ty.value()), str::to_string));
            head.push(')');
        }
        head.push_str(
            &node
                .name()
                .repr()
                .map_or_else(|| quote(node.name().value()), str::to_string),
        );

        let mut at = name_end;
        let mut arguments = Vec::new();
        let mut properties = Vec::new();
        for entry in node.entries() {
            let (gap, next) = scan(self.source, at, Context::Entry);
            if next != entry.span().offset() {
                return Err(Unsupported(format!(
                    "unexpected text at byte {next} in node `{}`",
                    node.name().value()
                )));
            }
            let formatted = FormatEntry {
                leading: comments(&gap),
                text: entry_text(entry),
            };
            match entry.name() {
                Some(key) => properties.push((key.value().to_string(), formatted)),
                None => arguments.push(formatted),
            }
            at = entry.span().offset() + entry.span().len();
        }

        let keys: Vec<&str> = properties.iter().map(|(key, _)| key.as_str()).collect();
        let order = canonical_order(node.name().value(), &keys);
        let mut slots: Vec<Option<FormatEntry>> = properties.into_iter().map(|(_, entry)| Some(entry)).collect();
        let mut entries = arguments;
        entries.extend(order.into_iter().filter_map(|position| slots[position].take()));

        let mut formatted = FormatNode {
            leading,
            head,
            entries,
            before_block: Vec::new(),
            children: None,
            trailing: Vec::new(),
        };
        let Some(children) = node.children() else {
            return Ok((formatted, at));
        };

        let (gap, brace) = scan(self.source, at, Context::Entry);
        if !self.source[brace..].starts_with('{') {
            return Err(Unsupported(format!("expected `{{` at byte {brace}")));
        }
        formatted.before_block = comments(&gap);

        let (gap, first) = scan(self.source, brace + 1, Context::Node);
        let first_line = gap
            .iter()
            .position(|piece| *piece == Trivia::Newline)
            .unwrap_or(gap.len());
        let (mut block, close) = self.nodes(children.nodes(), leading_items(&gap[first_line..], false), first)?;
        block.open_trailing = comments(&gap[..first_line]);
        if !self.source[close..].starts_with('}') {
            return Err(Unsupported(format!("expected `}}` at byte {close}")));
        }
        formatted.children = Some(block);
        Ok((formatted, close + 1))
    }
}

/// Returns the offset where a node starts: its type annotation's `(`, or its name.
fn node_start(source: &str, node: &KdlNode) -> usize {
    let name_start = node.name().span().offset();
    match node.ty() {
        Some(ty) => source[..ty.span().offset().min(name_start)]
            .rfind('(')
            .unwrap_or(name_start),
        None => name_start,
    }
}

fn comments(pieces: &[Trivia]) -> Vec<Comment> {
    pieces
        .iter()
        .filter_map(|piece| match piece {
            Trivia::Comment(comment) => Some(comment.clone()),
            Trivia::Newline => None,
        })
        .collect()
}

/// Turns the trivia before a node into comments and blank lines. A blank
/// line is an empty line between two pieces, and a run of them becomes one.
/// Blank lines at the start are dropped unless `keep_first_blank` is set,
/// as it is between two nodes, where a blank line separates groups.
fn leading_items(pieces: &[Trivia], keep_first_blank: bool) -> Vec<Leading> {
    let mut items = Vec::new();
    // Whether the previous piece ended a line, so a newline now makes a blank line.
    let mut at_line_start = true;
    let mut seen_newline = false;
    for piece in pieces {
        match piece {
            Trivia::Newline => {
                if at_line_start && seen_newline {
                    let is_first = items.is_empty();
                    if items.last() != Some(&Leading::Blank) && (keep_first_blank || !is_first) {
                        items.push(Leading::Blank);
                    }
                }
                seen_newline = true;
                at_line_start = true;
            }
            Trivia::Comment(comment) => {
                items.push(Leading::Comment(comment.clone()));
                at_line_start = false;
                // A comment that ends a line is followed by that line's break.
                seen_newline = true;
            }
        }
    }
    if !keep_first_blank {
        while items.first() == Some(&Leading::Blank) {
            items.remove(0);
        }
    }
    items
}

/// Writes the canonical text of an entry: `(type)` and `key=` without spaces, and
/// the value as written, except that bare identifier strings get quotes
/// and multi-line strings are re-indented later by the printer.
fn entry_text(entry: &KdlEntry) -> String {
    let mut text = String::new();
    if let Some(key) = entry.name() {
        text.push_str(&key.repr().map_or_else(|| quote(key.value()), str::to_string));
        text.push('=');
    }
    if let Some(ty) = entry.ty() {
        text.push('(');
        text.push_str(&ty.repr().map_or_else(|| quote(ty.value()), str::to_string));
        text.push(')');
    }

    let repr = entry
        .format()
        .map(|format| format.value_repr.trim().to_string())
        .unwrap_or_default();
    let written = if repr.is_empty() {
        entry.value().to_string()
    } else {
        repr
    };
    match entry.value() {
        KdlValue::String(value) if !written.starts_with('"') && !written.starts_with('#') => {
            text.push_str(&quote(value))
        }
        _ => text.push_str(&written),
    }
    text
}

/// Writes `text` as a quoted KDL string.
pub fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for character in text.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            character if character.is_control() => quoted.push_str(&format!("\\u{{{:x}}}", character as u32)),
            character => quoted.push(character),
        }
    }
    quoted.push('"');
    quoted
}
