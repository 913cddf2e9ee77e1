//! SVG output, laid out in-process by the `layout-rs` crate (a layered,
//! Sugiyama-style layout like Graphviz `dot`), so no Graphviz is needed.
//! The crate computes the positions; [`SvgCanvas`] writes the shapes, so
//! the fonts, colours and arrowheads match the DOT output and the text is
//! the same on every run.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use layout::adt::dag::NodeHandle;
use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::format::{ClipHandle, RenderBackend};
use layout::core::geometry::Point;
use layout::core::style::{LineStyleKind, StyleAttr};
use layout::std_shapes::render::get_shape_size;
use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
use layout::topo::layout::VisualGraph;

use super::dot::{UNREACHABLE_COLOR, UNREACHABLE_FILL, fill_color};
use super::{EdgeKind, Graph, NodeKind};

const FONT_SIZE: usize = 13;
const LINE_HEIGHT: f64 = 16.0;
const MARGIN: f64 = 10.0;
const TEXT_COLOR: &str = "#212121";
const EDGE_COLOR: &str = "#455a64";

/// Lays out and writes the graph. Returns an error message when the layout
/// crate fails, which it reports by panicking.
pub fn write(graph: &Graph) -> Result<String, String> {
    if graph.nodes.is_empty() {
        return Ok(finish(&SvgCanvas::default()));
    }
    let graph = graph.clone();
    let laid_out = std::panic::catch_unwind(move || {
        let mut visual = VisualGraph::new(Orientation::TopToBottom);
        let handles: Vec<NodeHandle> = graph.nodes.iter().map(|node| visual.add_node(element(node))).collect();
        let mut canvas = SvgCanvas::default();
        for edge in &graph.edges {
            let arrow = arrow(edge);
            let look = canvas
                .edge_labels
                .entry(arrow.text.clone())
                .or_insert_with(|| arrow.look.clone());
            // A label shared by a reachable and a greyed edge is drawn in the normal colour.
            if !edge.unreachable {
                *look = arrow.look.clone();
            }
            visual.add_edge(arrow, handles[edge.from], handles[edge.to]);
        }
        visual.do_it(false, false, false, &mut canvas);
        canvas
    });
    match laid_out {
        Ok(canvas) => Ok(finish(&canvas)),
        Err(_) => Err("the graph layout failed; use --format dot and Graphviz instead".to_string()),
    }
}

fn element(node: &super::Node) -> Element {
    let (line, fill) = if node.unreachable {
        (Color::fast(UNREACHABLE_COLOR), Color::fast(UNREACHABLE_FILL))
    } else {
        (Color::fast(TEXT_COLOR), Color::fast(fill_color(node.kind)))
    };
    let width = if node.marked && node.kind == NodeKind::Stage {
        3
    } else {
        1
    };
    let rounded = match node.kind {
        NodeKind::Image | NodeKind::Output | NodeKind::Check => 12,
        NodeKind::Context | NodeKind::Stage => 2,
    };
    let look = StyleAttr::new(line, width, Some(fill), rounded, FONT_SIZE);
    // The SVG has no cluster box around the context inputs, so each node names itself.
    let text = match node.kind {
        NodeKind::Context => format!("build context\n{}", node.lines.join("\n")),
        _ => node.lines.join("\n"),
    };
    let shape = ShapeKind::Box(text);
    let mut size = get_shape_size(Orientation::TopToBottom, &shape, FONT_SIZE, false);
    // `layout-rs` gives each line the font size in height, but the lines are
    // drawn LINE_HEIGHT apart, so a node of several lines needs more room.
    let line_count = node.lines.len() + usize::from(node.kind == NodeKind::Context);
    size.y = size.y.max(line_count as f64 * LINE_HEIGHT + 6.0);
    Element::create_with_properties(shape, look, Orientation::TopToBottom, size, node.id.clone())
}

fn arrow(edge: &super::Edge) -> Arrow {
    let color = Color::fast(if edge.unreachable {
        UNREACHABLE_COLOR
    } else {
        EDGE_COLOR
    });
    let width = if edge.kind == EdgeKind::Artifact { 2 } else { 1 };
    let look = StyleAttr::new(color, width, None, 0, FONT_SIZE - 2);
    let style = if edge.kind == EdgeKind::Bind {
        LineStyleKind::Dashed
    } else {
        LineStyleKind::Normal
    };
    Arrow::new(
        LineEndKind::None,
        LineEndKind::Arrow,
        style,
        &edge.lines.join("\n"),
        &look,
        &None,
        &None,
    )
}

/// A [`RenderBackend`] that collects SVG elements and the drawing's extent.
#[derive(Default)]
struct SvgCanvas {
    content: String,
    /// Edge labels, written after every edge so that no line crosses them.
    labels: String,
    /// The style of each edge label text. `layout-rs` draws the label of an
    /// edge that spans several ranks from a connector node, and may move it
    /// to a connector that has the crate's default style (15 px, black).
    edge_labels: BTreeMap<String, StyleAttr>,
    max: (f64, f64),
}

impl SvgCanvas {
    fn grow(&mut self, x: f64, y: f64) {
        self.max.0 = self.max.0.max(x);
        self.max.1 = self.max.1.max(y);
    }
}

fn finish(canvas: &SvgCanvas) -> String {
    let width = (canvas.max.0 + MARGIN).ceil();
    let height = (canvas.max.1 + MARGIN).ceil();
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">"
    );
    out.push_str("<defs>\n");
    for (id, color) in [("arrow", EDGE_COLOR), ("arrow-unreachable", UNREACHABLE_COLOR)] {
        let _ = writeln!(
            out,
            "<marker id=\"{id}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"9\" markerHeight=\"9\" \
             markerUnits=\"userSpaceOnUse\" orient=\"auto\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"{color}\"/></marker>"
        );
    }
    out.push_str("</defs>\n");
    out.push_str("<style>text { font-family: Helvetica, Arial, sans-serif; }</style>\n");
    let _ = writeln!(out, "<rect width=\"{width}\" height=\"{height}\" fill=\"#ffffff\"/>");
    out.push_str(&canvas.content);
    out.push_str(&canvas.labels);
    out.push_str("</svg>\n");
    out
}

/// `#rrggbb` of a `layout-rs` colour, which stores RGBA.
fn web_color(color: Color) -> String {
    let web = color.to_web_color();
    web.get(..7).unwrap_or(&web).to_string()
}

fn number(value: f64) -> String {
    format!("{:.1}", value)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl RenderBackend for SvgCanvas {
    fn draw_rect(
        &mut self,
        xy: Point,
        size: Point,
        look: &StyleAttr,
        properties: Option<String>,
        _clip: Option<ClipHandle>,
    ) {
        self.grow(xy.x + size.x, xy.y + size.y);
        let fill = look.fill_color.map_or_else(|| "none".to_string(), web_color);
        let id = properties
            .map(|id| format!(" id=\"{}\"", escape(&id)))
            .unwrap_or_default();
        let _ = writeln!(
            self.content,
            "<rect{id} x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"{}\" fill=\"{fill}\" stroke=\"{}\" stroke-width=\"{}\"/>",
            number(xy.x),
            number(xy.y),
            number(size.x),
            number(size.y),
            look.rounded,
            web_color(look.line_color),
            look.line_width
        );
    }

    fn draw_line(&mut self, start: Point, stop: Point, look: &StyleAttr, _properties: Option<String>) {
        self.grow(start.x.max(stop.x), start.y.max(stop.y));
        let _ = writeln!(
            self.content,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"{}\"/>",
            number(start.x),
            number(start.y),
            number(stop.x),
            number(stop.y),
            web_color(look.line_color),
            look.line_width
        );
    }

    fn draw_circle(&mut self, xy: Point, size: Point, look: &StyleAttr, _properties: Option<String>) {
        self.grow(xy.x + size.x / 2.0, xy.y + size.y / 2.0);
        let fill = look.fill_color.map_or_else(|| "none".to_string(), web_color);
        let _ = writeln!(
            self.content,
            "<ellipse cx=\"{}\" cy=\"{}\" rx=\"{}\" ry=\"{}\" fill=\"{fill}\" stroke=\"{}\"/>",
            number(xy.x),
            number(xy.y),
            number(size.x / 2.0),
            number(size.y / 2.0),
            web_color(look.line_color)
        );
    }

    fn draw_text(&mut self, xy: Point, text: &str, look: &StyleAttr) {
        let lines: Vec<&str> = text.lines().collect();
        if lines.is_empty() {
            return;
        }
        let mut svg = String::new();
        // Node text has the node font size; anything else is an edge label.
        let is_edge_label = look.font_size != FONT_SIZE;
        let look = match self.edge_labels.get(text) {
            Some(edge_look) if is_edge_label => edge_look.clone(),
            _ => look.clone(),
        };
        if is_edge_label {
            // A white backing keeps the edge lines from running through the text.
            let widest = lines.iter().map(|line| line.chars().count()).max().unwrap_or(0) as f64;
            let width = widest * look.font_size as f64 * 0.6 + 6.0;
            let height = lines.len() as f64 * LINE_HEIGHT + 2.0;
            self.grow(xy.x + width / 2.0, xy.y + height / 2.0);
            let _ = writeln!(
                svg,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#ffffff\" fill-opacity=\"0.9\"/>",
                number(xy.x - width / 2.0),
                number(xy.y - height / 2.0),
                number(width),
                number(height)
            );
        }

        // Centre the block of lines on `xy`.
        let first = xy.y - (lines.len() as f64 - 1.0) * LINE_HEIGHT / 2.0;
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-size=\"{}\" fill=\"{}\" text-anchor=\"middle\" dominant-baseline=\"central\">",
            number(xy.x),
            number(first),
            look.font_size,
            web_color(look.line_color)
        );
        for (position, line) in lines.iter().enumerate() {
            let dy = if position == 0 { 0.0 } else { LINE_HEIGHT };
            let _ = write!(
                svg,
                "<tspan x=\"{}\" dy=\"{}\">{}</tspan>",
                number(xy.x),
                number(dy),
                escape(line)
            );
        }
        svg.push_str("</text>\n");
        if is_edge_label {
            self.labels.push_str(&svg);
        } else {
            self.content.push_str(&svg);
        }
    }

    fn draw_arrow(
        &mut self,
        path: &[(Point, Point)],
        dashed: bool,
        head: (bool, bool),
        look: &StyleAttr,
        _properties: Option<String>,
        text: &str,
    ) {
        if path.len() < 2 {
            return;
        }
        for (first, second) in path {
            self.grow(first.x.max(second.x), first.y.max(second.y));
        }

        // `layout-rs` passes the start point with its exit control point,
        // then each later point as (entry control point, point).
        let mut d = format!(
            "M {} {} C {} {}, {} {}, {} {}",
            number(path[0].0.x),
            number(path[0].0.y),
            number(path[0].1.x),
            number(path[0].1.y),
            number(path[1].0.x),
            number(path[1].0.y),
            number(path[1].1.x),
            number(path[1].1.y)
        );
        for (control, point) in &path[2..] {
            let _ = write!(
                d,
                " S {} {}, {} {}",
                number(control.x),
                number(control.y),
                number(point.x),
                number(point.y)
            );
        }

        let color = web_color(look.line_color);
        let marker = if color == UNREACHABLE_COLOR {
            "arrow-unreachable"
        } else {
            "arrow"
        };
        let dash = if dashed { " stroke-dasharray=\"6,4\"" } else { "" };
        let end = if head.1 {
            format!(" marker-end=\"url(#{marker})\"")
        } else {
            String::new()
        };
        let _ = writeln!(
            self.content,
            "<path d=\"{d}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"{}\"{dash}{end}/>",
            look.line_width
        );
        if !text.is_empty() {
            let middle = path[path.len() / 2].1;
            self.draw_text(middle, text, look);
        }
    }

    fn create_clip(&mut self, _xy: Point, _size: Point, _rounded_px: usize) -> ClipHandle {
        0
    }
}
