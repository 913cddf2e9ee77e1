//! Mermaid flowchart output, which GitHub and many Markdown tools render.

use super::dot::{UNREACHABLE_COLOR, UNREACHABLE_FILL, fill_color};
use super::{EdgeKind, Graph, Node, NodeKind};

pub fn write(graph: &Graph) -> String {
    let mut out = String::from("flowchart TB\n");

    let context: Vec<&Node> = graph
        .nodes
        .iter()
        .filter(|node| node.kind == NodeKind::Context)
        .collect();
    if !context.is_empty() {
        out.push_str("    subgraph build_context[\"build context\"]\n");
        for node in context {
            out.push_str(&format!("        {}\n", node_statement(node)));
        }
        out.push_str("    end\n");
    }
    for node in graph.nodes.iter().filter(|node| node.kind != NodeKind::Context) {
        out.push_str(&format!("    {}\n", node_statement(node)));
    }

    let mut unreachable_links = Vec::new();
    for (position, edge) in graph.edges.iter().enumerate() {
        let arrow = match edge.kind {
            EdgeKind::Bind => "-.->",
            EdgeKind::Artifact => "==>",
            EdgeKind::Base | EdgeKind::Context | EdgeKind::Output => "-->",
        };
        let label = if edge.lines.is_empty() {
            String::new()
        } else {
            format!("|{}|", text(&edge.lines))
        };
        out.push_str(&format!(
            "    {} {arrow}{label} {}\n",
            graph.nodes[edge.from].id, graph.nodes[edge.to].id
        ));
        if edge.unreachable {
            unreachable_links.push(position.to_string());
        }
    }

    for kind in [NodeKind::Image, NodeKind::Context, NodeKind::Stage, NodeKind::Output] {
        out.push_str(&format!(
            "    classDef {} fill:{}\n",
            class_name(kind),
            fill_color(kind)
        ));
    }
    out.push_str("    classDef marked stroke-width:3px\n");
    out.push_str(&format!(
        "    classDef unreachable fill:{UNREACHABLE_FILL},stroke:{UNREACHABLE_COLOR},color:{UNREACHABLE_COLOR}\n"
    ));
    for node in &graph.nodes {
        let mut classes = vec![class_name(node.kind)];
        if node.marked && node.kind == NodeKind::Stage {
            classes.push("marked");
        }
        if node.unreachable {
            classes.push("unreachable");
        }
        // A `class` statement takes one class name; commas would separate node ids.
        for class in classes {
            out.push_str(&format!("    class {} {class}\n", node.id));
        }
    }
    if !unreachable_links.is_empty() {
        out.push_str(&format!(
            "    linkStyle {} stroke:{UNREACHABLE_COLOR},color:{UNREACHABLE_COLOR}\n",
            unreachable_links.join(",")
        ));
    }
    out
}

fn class_name(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Image => "image",
        NodeKind::Context => "context",
        NodeKind::Stage => "build_stage",
        NodeKind::Output | NodeKind::Check => "output",
    }
}

fn node_statement(node: &Node) -> String {
    let label = text(&node.lines);
    match node.kind {
        NodeKind::Image => format!("{}[/{label}/]", node.id),
        NodeKind::Context => format!("{}[{label}]", node.id),
        NodeKind::Stage => format!("{}[{label}]", node.id),
        NodeKind::Output | NodeKind::Check => format!("{}([{label}])", node.id),
    }
}

/// Writes lines as a quoted Mermaid label: `"` and the characters Mermaid
/// reads as markup become entity codes, and lines are joined with `<br/>`.
fn text(lines: &[String]) -> String {
    let mut quoted = String::from("\"");
    for (position, line) in lines.iter().enumerate() {
        if position > 0 {
            quoted.push_str("<br/>");
        }
        for character in line.chars() {
            match character {
                '"' => quoted.push_str("#quot;"),
                '<' => quoted.push_str("#lt;"),
                '>' => quoted.push_str("#gt;"),
                '#' => quoted.push_str("#35;"),
                character => quoted.push(character),
            }
        }
    }
    quoted.push('"');
    quoted
}
