//! Writing the formatting tree in the canonical layout: four spaces per
//! level, one node per line, ` {` on the node's line and `}` on its own.

use kdl::KdlDocument;

use super::tree::{Block, FormatEntry, FormatNode, Leading};
use super::trivia::Comment;

const INDENT: &str = "    ";

pub fn print_document(block: &Block, out: &mut String) {
    print_nodes(block, 0, out);
    print_dangling(&block.dangling, 0, out);
}

fn print_nodes(block: &Block, level: usize, out: &mut String) {
    let indent = INDENT.repeat(level);
    for (position, node) in block.nodes.iter().enumerate() {
        print_leading(&node.leading, &indent, position == 0, out);
        print_node(node, level, &indent, out);
    }
}

fn print_leading(leading: &[Leading], indent: &str, first_in_block: bool, out: &mut String) {
    for (position, item) in leading.iter().enumerate() {
        match item {
            Leading::Blank if first_in_block && position == 0 => {}
            Leading::Blank => out.push('\n'),
            Leading::Comment(comment) => {
                out.push_str(indent);
                out.push_str(&comment.text);
                out.push('\n');
            }
        }
    }
}

/// Prints the comments after the last node of a block, dropping blank lines
/// that would end the block.
fn print_dangling(dangling: &[Leading], level: usize, out: &mut String) {
    let last_comment = dangling.iter().rposition(|item| matches!(item, Leading::Comment(_)));
    let Some(last_comment) = last_comment else {
        return;
    };
    let indent = INDENT.repeat(level);
    print_leading(
        &dangling[..=last_comment],
        &indent,
        out.is_empty() || out.ends_with("{\n"),
        out,
    );
}

fn print_node(node: &FormatNode, level: usize, indent: &str, out: &mut String) {
    out.push_str(indent);
    out.push_str(&node.head);
    for entry in &node.entries {
        print_inline(&entry.leading, level, out);
        out.push(' ');
        out.push_str(&entry_text(entry, level));
    }
    print_inline(&node.before_block, level, out);

    if let Some(block) = &node.children {
        let empty = block.nodes.is_empty()
            && block.open_trailing.is_empty()
            && !block.dangling.iter().any(|item| matches!(item, Leading::Comment(_)));
        if empty {
            out.push_str(" {}");
        } else {
            out.push_str(" {");
            print_trailing(&block.open_trailing, out);
            out.push('\n');
            print_nodes(block, level + 1, out);
            print_dangling(&block.dangling, level + 1, out);
            out.push_str(indent);
            out.push('}');
        }
    }
    print_trailing(&node.trailing, out);
    out.push('\n');
}

/// Prints comments inside a node's line. A `//` comment must end its line,
/// so it is written after a `\` line continuation.
fn print_inline(comments: &[Comment], level: usize, out: &mut String) {
    for comment in comments {
        if comment.ends_line {
            out.push_str(" \\ ");
            out.push_str(&comment.text);
            out.push('\n');
            out.push_str(&INDENT.repeat(level + 1));
            // The next entry's own space follows; drop one to keep the column.
            out.pop();
        } else {
            out.push(' ');
            out.push_str(&comment.text);
        }
    }
}

fn print_trailing(comments: &[Comment], out: &mut String) {
    for comment in comments {
        out.push(' ');
        out.push_str(&comment.text);
    }
}

/// Returns the entry's text, with a multi-line string re-indented to one level
/// below the node when that leaves its value unchanged.
fn entry_text(entry: &FormatEntry, level: usize) -> String {
    let text = &entry.text;
    let Some(quote_at) = text.find("\"\"\"") else {
        return text.clone();
    };
    // A multi-line string starts with `"""` or `#"""`, after any `key=` and `(type)`.
    let value_start = text[..quote_at].rfind(|c: char| c != '#').map_or(0, |at| at + 1);
    let value = &text[value_start..];
    let Some(closing_line_start) = value.rfind('\n') else {
        return text.clone();
    };
    let closing_line = &value[closing_line_start + 1..];
    let old_prefix_len = closing_line.len() - closing_line.trim_start().len();
    let old_prefix = &closing_line[..old_prefix_len];
    let new_prefix = INDENT.repeat(level + 1);

    let mut lines = value.split('\n');
    let mut reindented = lines.next().unwrap_or_default().to_string();
    for line in lines {
        reindented.push('\n');
        if line.trim().is_empty() {
            continue;
        }
        match line.strip_prefix(old_prefix) {
            Some(rest) => {
                reindented.push_str(&new_prefix);
                reindented.push_str(rest);
            }
            None => return text.clone(),
        }
    }

    if same_string_value(value, &reindented) {
        format!("{}{reindented}", &text[..value_start])
    } else {
        text.clone()
    }
}

/// Returns whether two string literals have the same value.
fn same_string_value(first: &str, second: &str) -> bool {
    let parse = |literal: &str| {
        KdlDocument::parse_v2(&format!("node {literal}\n"))
            .ok()
            .and_then(|document| {
                document
                    .nodes()
                    .first()
                    .and_then(|node| node.entries().first().map(|entry| entry.value().clone()))
            })
    };
    match (parse(first), parse(second)) {
        (Some(first), Some(second)) => first == second,
        _ => false,
    }
}
