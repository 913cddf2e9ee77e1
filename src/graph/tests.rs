use super::*;

fn graph_of(source: &str, options: &GraphOptions) -> Graph {
    let compilation = crate::compile::check(source);
    assert!(!compilation.has_errors(), "{:?}", compilation.diagnostics);
    let spec = compilation.spec.expect("a spec");
    build(&spec, &compilation.graph, options)
}

const SPEC: &str = r#"
arg "GO" default="1.19"
stage "builder" from="golang:${GO}" {
    copy "go.mod" "main.go" to="/src/"
    run "go build -o /out/app ." {
        bind "/cfg" from="config" source="/etc/app"
    }
    artifact "app" path="/out/app" kind="executable" linkage="static"
    artifact "doc" path="/out/README"
}
stage "config" from="alpine:3" {
    run "mkdir -p /etc/app"
    artifact "cfg" path="/etc/app" kind="dir"
}
stage "runtime" from="alpine:3" {
    copy artifact="app" from="builder" to="/app"
    copy artifact="doc" from="builder" to="/README"
    cmd "/app"
}
stage "debug" from="builder" {
    cmd "sh"
}
image "runtime" tag="app:1.0"
"#;

fn node<'a>(graph: &'a Graph, label: &str) -> &'a Node {
    graph
        .nodes
        .iter()
        .find(|node| node.lines[0] == label)
        .unwrap_or_else(|| panic!("no node {label}: {graph:?}"))
}

#[test]
fn build_arg_default_fills_base_image() {
    let graph = graph_of(SPEC, &GraphOptions::default());
    assert_eq!(node(&graph, "golang:1.19").kind, NodeKind::Image);
}

#[test]
fn build_arg_override_fills_base_image() {
    let options = GraphOptions {
        build_args: [("GO".to_string(), "1.20".to_string())].into(),
        ..GraphOptions::default()
    };
    let graph = graph_of(SPEC, &options);
    assert_eq!(node(&graph, "golang:1.20").kind, NodeKind::Image);
}

#[test]
fn parallel_artifacts_share_one_edge() {
    let graph = graph_of(SPEC, &GraphOptions::default());
    let builder = graph
        .nodes
        .iter()
        .position(|node| node.lines[0] == "builder")
        .expect("builder");
    let runtime = graph
        .nodes
        .iter()
        .position(|node| node.lines[0] == "runtime")
        .expect("runtime");
    let edges: Vec<&Edge> = graph
        .edges
        .iter()
        .filter(|edge| edge.from == builder && edge.to == runtime)
        .collect();
    assert_eq!(edges.len(), 1);
    assert_eq!(edges[0].lines, ["app /out/app", "doc /out/README"]);
}

#[test]
fn unneeded_stage_is_unreachable() {
    let graph = graph_of(SPEC, &GraphOptions::default());
    assert!(node(&graph, "debug").unreachable);
    assert!(!node(&graph, "config").unreachable);
    assert!(node(&graph, "runtime").marked);
}

#[test]
fn target_changes_reachability() {
    let options = GraphOptions {
        target: Some("debug".to_string()),
        ..GraphOptions::default()
    };
    let graph = graph_of(SPEC, &options);
    assert!(!node(&graph, "debug").unreachable);
    assert!(node(&graph, "runtime").unreachable);
}

#[test]
fn context_inputs_grouped_per_stage() {
    let graph = graph_of(SPEC, &GraphOptions::default());
    let context: Vec<&Node> = graph
        .nodes
        .iter()
        .filter(|node| node.kind == NodeKind::Context)
        .collect();
    assert_eq!(context.len(), 1);
    assert_eq!(context[0].lines, ["go.mod", "main.go"]);
}

#[test]
fn svg_contains_every_stage() {
    let graph = graph_of(SPEC, &GraphOptions::default());
    let svg = svg::write(&graph).expect("svg");
    for name in ["builder", "config", "runtime", "debug", "golang:1.19", "app:1.0"] {
        assert!(svg.contains(&format!(">{name}<")), "{name} missing");
    }
}

#[test]
fn labels_escaped() {
    let source = "stage \"a\" from=\"alpine:3\" {\n    copy \"a\\\"<b>\" to=\"/x\"\n}\nimage \"a\" tag=\"x:1\"\n";
    let graph = graph_of(source, &GraphOptions::default());
    let dot = dot::write(&graph);
    assert!(dot.contains("label=\"a\\\"<b>\""), "{dot}");
    let mermaid = mermaid::write(&graph);
    assert!(mermaid.contains("[\"a#quot;#lt;b#gt;\"]"), "{mermaid}");
    let svg = svg::write(&graph).expect("svg");
    assert!(svg.contains(">a&quot;&lt;b&gt;<"), "{svg}");
}

#[test]
fn mermaid_class_statement_names_one_class() {
    // Mermaid reads `class a b,c` as class `b,c`, which no classDef defines,
    // so a marked or unreachable stage lost all of its styling.
    let graph = graph_of(SPEC, &GraphOptions::default());
    let mermaid = mermaid::write(&graph);
    let class_lines: Vec<&str> = mermaid
        .lines()
        .filter(|line| line.trim_start().starts_with("class "))
        .collect();
    assert!(class_lines.iter().all(|line| !line.contains(',')), "{mermaid}");
    assert!(class_lines.contains(&"    class stage_3 unreachable"), "{mermaid}");
    assert!(class_lines.contains(&"    class stage_2 marked"), "{mermaid}");
}

/// A bind edge from `deps` to `debug` spans two ranks, so `layout-rs` draws
/// its label from a connector node, which may have the crate's default style.
const LONG_EDGE_SPEC: &str = r#"
stage "deps" from="golang:1.19" {
    run "go mod download"
    artifact "modcache" path="/root/go/pkg/mod" kind="dir"
}
stage "builder" from="deps" {
    run "go build"
    artifact "app" path="/out/app" kind="executable" linkage="static"
    artifact "tool" path="/out/tool" kind="executable" linkage="static"
}
stage "debug" from="alpine:3" {
    copy artifact="app" from="builder" to="/app"
    copy artifact="tool" from="builder" to="/tool"
    run "ls" {
        bind "/deps" from="deps" source="/root/go/pkg/mod"
    }
}
stage "runtime" from="scratch" {
    copy artifact="app" from="builder" to="/app"
    entrypoint "/app"
}
image "runtime" default=#true
image "debug"
"#;

#[test]
fn svg_long_edge_label_styled_and_inside() {
    let graph = graph_of(LONG_EDGE_SPEC, &GraphOptions::default());
    let svg = svg::write(&graph).expect("svg");
    let label = ">bind /root/go/pkg/mod at /deps<";
    let line = svg
        .lines()
        .find(|line| line.contains(label))
        .unwrap_or_else(|| panic!("no bind label: {svg}"));
    assert!(line.contains("font-size=\"11\""), "{line}");
    assert!(line.contains("fill=\"#455a64\""), "{line}");

    let attribute = |text: &str, name: &str| -> f64 {
        let start = text.find(&format!("{name}=\"")).expect("attribute") + name.len() + 2;
        let end = start + text[start..].find('"').expect("closing quote");
        text[start..end].parse().expect("a number")
    };
    let width = attribute(&svg[svg.find("<svg").expect("svg element")..], "width");
    let label_end = attribute(line, "x") + label.len() as f64 * 11.0 * 0.6 / 2.0;
    assert!(label_end <= width, "label ends at {label_end}, svg is {width} wide");
}

#[test]
fn svg_node_fits_its_lines() {
    let source = r#"
stage "builder" from="golang:1.19" {
    copy "go.mod" "go.sum" "main.go" "internal" to="/src/"
    run "go build -o /out/app ."
    artifact "app" path="/out/app" kind="executable" linkage="static"
}
stage "runtime" from="alpine:3" {
    copy artifact="app" from="builder" to="/app"
}
image "runtime"
"#;
    let graph = graph_of(source, &GraphOptions::default());
    let svg = svg::write(&graph).expect("svg");
    let rect = svg
        .lines()
        .find(|line| line.starts_with("<rect id=\"context_0\""))
        .unwrap_or_else(|| panic!("no context node: {svg}"));
    let start = rect.find("height=\"").expect("height") + "height=\"".len();
    let height: f64 = rect[start..start + rect[start..].find('"').expect("quote")]
        .parse()
        .expect("a number");
    // "build context" and four paths, LINE_HEIGHT (16) apart.
    assert!(height >= 5.0 * 16.0, "context node is {height} high: {rect}");
}
