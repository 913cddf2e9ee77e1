//! Graphviz DOT output, for `dot -Tsvg` or any tool that reads DOT.

use super::{EdgeKind, Graph, Node, NodeKind};

/// Colours shared with the SVG writer, so both outputs look alike.
pub(super) const UNREACHABLE_COLOR: &str = "#9e9e9e";
pub(super) const UNREACHABLE_FILL: &str = "#f2f2f2";

/// Returns the fill colour of a node kind.
pub(super) fn fill_color(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Image => "#e3f2fd",
        NodeKind::Context => "#fff8e1",
        NodeKind::Stage => "#ffffff",
        NodeKind::Output | NodeKind::Check => "#e8f5e9",
    }
}

pub fn write(graph: &Graph) -> String {
    let mut out = String::new();
    out.push_str("digraph stagec {\n");
    out.push_str("    rankdir=TB;\n");
    out.push_str("    node [fontname=\"Helvetica\", fontsize=11, style=filled];\n");
    out.push_str("    edge [fontname=\"Helvetica\", fontsize=10];\n");

    let context: Vec<&Node> = graph
        .nodes
        .iter()
        .filter(|node| node.kind == NodeKind::Context)
        .collect();
    if !context.is_empty() {
        out.push_str("    subgraph cluster_context {\n");
        out.push_str("        label=\"build context\";\n");
        out.push_str("        style=dashed;\n");
        out.push_str("        fontname=\"Helvetica\";\n");
        for node in context {
            out.push_str(&format!("        {};\n", node_statement(node)));
        }
        out.push_str("    }\n");
    }
    for node in graph.nodes.iter().filter(|node| node.kind != NodeKind::Context) {
        out.push_str(&format!("    {};\n", node_statement(node)));
    }

    for edge in &graph.edges {
        let mut attributes = Vec::new();
        if !edge.lines.is_empty() {
            attributes.push(format!("label={}", quote(&edge.lines.join("\n"))));
        }
        match edge.kind {
            EdgeKind::Bind => attributes.push("style=dashed".to_string()),
            EdgeKind::Base => attributes.push("arrowhead=empty".to_string()),
            EdgeKind::Artifact => attributes.push("penwidth=1.5".to_string()),
            EdgeKind::Context | EdgeKind::Output => {}
        }
        if edge.unreachable {
            attributes.push(format!(
                "color=\"{UNREACHABLE_COLOR}\", fontcolor=\"{UNREACHABLE_COLOR}\""
            ));
        }
        let (from, to) = (&graph.nodes[edge.from].id, &graph.nodes[edge.to].id);
        if attributes.is_empty() {
            out.push_str(&format!("    {from} -> {to};\n"));
        } else {
            out.push_str(&format!("    {from} -> {to} [{}];\n", attributes.join(", ")));
        }
    }
    out.push_str("}\n");
    out
}

fn node_statement(node: &Node) -> String {
    let shape = match node.kind {
        NodeKind::Image => "box, style=\"filled,rounded\"",
        NodeKind::Context => "folder",
        NodeKind::Stage => "box",
        NodeKind::Output | NodeKind::Check => "doubleoctagon",
    };
    let mut attributes = vec![
        format!("label={}", quote(&node.lines.join("\n"))),
        format!("shape={shape}"),
    ];
    if node.unreachable {
        attributes.push(format!(
            "color=\"{UNREACHABLE_COLOR}\", fontcolor=\"{UNREACHABLE_COLOR}\", fillcolor=\"{UNREACHABLE_FILL}\""
        ));
    } else {
        attributes.push(format!("fillcolor=\"{}\"", fill_color(node.kind)));
    }
    if node.marked && node.kind == NodeKind::Stage {
        attributes.push("penwidth=2.5".to_string());
    }
    format!("{} [{}]", node.id, attributes.join(", "))
}

/// Writes `text` as a DOT string; a line break becomes `\n`.
fn quote(text: &str) -> String {
    let mut quoted = String::from("\"");
    for character in text.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => {}
            character => quoted.push(character),
        }
    }
    quoted.push('"');
    quoted
}
