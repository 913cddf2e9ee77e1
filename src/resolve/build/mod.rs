//! Builds the typed [`Spec`] model from the syntax tree, reporting shape
//! errors (unknown nodes and properties, wrong value types, missing values).
//! Cross-references are checked later by the validation passes.

mod reader;
mod run;
mod stage;

use reader::{NodeReader, no_children, unknown_node};

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::model::{ArgDecl, ImageOutput, SecretDecl, Spanned, Spec};
use crate::syntax::{Document, Node};

const TOP_LEVEL: &[&str] = &["arg", "secret", "context", "stage", "image", "check"];

pub fn build(document: &Document, diagnostics: &mut Diagnostics) -> Spec {
    let mut spec = Spec::default();
    spec.syntax = document.syntax.as_ref().map(|(image, span)| Spanned::new(image.clone(), *span));

    for node in &document.nodes {
        match node.name.as_str() {
            "arg" => {
                if let Some(arg) = build_arg(node, diagnostics) {
                    spec.args.push(arg);
                }
            }
            "secret" => {
                if let Some(secret) = build_secret(node, diagnostics) {
                    spec.secrets.push(secret);
                }
            }
            "context" => build_context(node, &mut spec, diagnostics),
            "stage" => {
                if let Some(stage) = stage::build_stage(node, diagnostics) {
                    spec.stages.push(stage);
                }
            }
            "image" => {
                if let Some(image) = build_image(node, diagnostics) {
                    spec.images.push(image);
                }
            }
            "check" => {
                let mut reader = NodeReader::new(node, diagnostics);
                let names = reader.string_args("a stage name");
                if node.args.is_empty() {
                    reader.push(
                        Diagnostic::new(Code::MissingValue, "`check` needs the name of a stage")
                            .label(node.name_span, "stage name missing")
                            .help("write `check \"test\"` to build the stage `test` with every output"),
                    );
                }
                reader.finish(None);
                no_children(node, diagnostics);
                spec.checks.extend(names);
            }
            _ => diagnostics.push(unknown_node(node, "at the top level", TOP_LEVEL)),
        }
    }

    spec
}

pub(crate) fn build_arg(node: &Node, diagnostics: &mut Diagnostics) -> Option<ArgDecl> {
    let mut reader = NodeReader::new(node, diagnostics);
    let name = reader.one_string_arg("a build arg name", "write `arg \"VERSION\" default=\"1.0\"`");
    let default = reader.string("default");
    reader.finish(Some(1));
    no_children(node, diagnostics);
    Some(ArgDecl { name: name?, default, span: node.span })
}

fn build_secret(node: &Node, diagnostics: &mut Diagnostics) -> Option<SecretDecl> {
    let mut reader = NodeReader::new(node, diagnostics);
    let name = reader.one_string_arg("a secret id", "write `secret \"npm_token\"`");
    let required = reader.bool("required").map(|flag| flag.value).unwrap_or(false);
    reader.finish(Some(1));
    no_children(node, diagnostics);
    Some(SecretDecl { name: name?, required, span: node.span })
}

fn build_context(node: &Node, spec: &mut Spec, diagnostics: &mut Diagnostics) {
    let reader = NodeReader::new(node, diagnostics);
    reader.finish(Some(0));
    for child in &node.children {
        match child.name.as_str() {
            "exclude" => {
                let mut reader = NodeReader::new(child, diagnostics);
                let patterns = reader.string_args("a pattern");
                reader.finish(None);
                no_children(child, diagnostics);
                spec.context_excludes.extend(patterns);
            }
            _ => diagnostics.push(unknown_node(child, "inside `context`", &["exclude"])),
        }
    }
}

fn build_image(node: &Node, diagnostics: &mut Diagnostics) -> Option<ImageOutput> {
    let mut reader = NodeReader::new(node, diagnostics);
    let stage = reader.one_string_arg("the name of the stage to export", "write `image \"runtime\" tag=\"app:1.0\"`");
    let mut tags: Vec<Spanned<String>> = reader.string("tag").into_iter().collect();
    let default = reader.bool("default").map(|flag| flag.value).unwrap_or(false);
    reader.finish(Some(1));

    for child in &node.children {
        match child.name.as_str() {
            "tag" => {
                let mut reader = NodeReader::new(child, diagnostics);
                tags.extend(reader.string_args("an image tag"));
                reader.finish(None);
                no_children(child, diagnostics);
            }
            _ => diagnostics.push(unknown_node(child, "inside `image`", &["tag"])),
        }
    }

    Some(ImageOutput { stage: stage?, tags, default, span: node.span })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse;

    fn build_source(source: &str) -> (Spec, Diagnostics) {
        let document = parse(source).expect("valid KDL");
        let mut diagnostics = Diagnostics::default();
        let spec = build(&document, &mut diagnostics);
        (spec, diagnostics)
    }

    #[test]
    fn issue_example_builds_without_diagnostics() {
        let (spec, diagnostics) = build_source(include_str!("../../../specs/examples/go-web/app.kdl"));
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        assert_eq!(spec.stages.len(), 2);
        assert_eq!(spec.images[0].tags[0].value, "go-web:1.0");
    }

    #[test]
    fn shape_errors_table() {
        let cases = [
            ("stag \"a\" from=\"alpine:3\"", Code::UnknownNode, "did you mean `stage`?"),
            ("stage \"a\" form=\"alpine:3\"", Code::UnknownProperty, "did you mean `from`?"),
            ("stage \"a\" from=3", Code::InvalidValue, "a string"),
            ("stage \"a\" from=\"alpine:3\" { artifact \"x\" path=\"/x\" kind=\"exe\" }", Code::InvalidValue, "executable"),
            ("stage \"a\" from=\"alpine:3\" { artifact \"x\" }", Code::MissingValue, "path"),
            ("stage \"a\" from=\"alpine:3\" { run \"true\" { cach \"/c\" } }", Code::UnknownNode, "did you mean `cache`?"),
            ("stage \"a\" from=\"alpine:3\" { copy \"a\" mode=\"999\" to=\"/a\" }", Code::InvalidValue, "octal"),
            ("image", Code::MissingValue, "image \\\"runtime\\\""),
        ];
        for (source, code, needle) in cases {
            let (_, diagnostics) = build_source(source);
            let found = diagnostics.iter().find(|d| d.code == code);
            let found = found.unwrap_or_else(|| panic!("no {code} for {source}: {diagnostics:?}"));
            let text = format!("{} {:?}", found.message, found.help);
            assert!(text.contains(needle), "{source}: {text}");
        }
    }
}
