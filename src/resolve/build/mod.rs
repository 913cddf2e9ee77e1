//! Builds the typed [`Spec`] model from the syntax tree, reporting shape
//! errors (unknown nodes and properties, wrong value types, missing values).
//! Cross-references are checked later by the validation passes.

mod reader;
mod run;
mod stage;
mod values;

use reader::{NodeReader, no_children, unknown_node};

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::model::{ArgDecl, ImageOutput, SecretDecl, Spanned, Spec};
use crate::syntax::{Document, Node};

const TOP_LEVEL: &[&str] = &["arg", "secret", "context", "stage", "image", "check"];

pub fn build(document: &Document, diagnostics: &mut Diagnostics) -> Spec {
    let mut spec = Spec::default();
    spec.syntax = document
        .syntax
        .as_ref()
        .map(|(image, span)| Spanned::new(image.clone(), *span));

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
    Some(ArgDecl {
        name: name?,
        default,
        span: node.span,
    })
}

fn build_secret(node: &Node, diagnostics: &mut Diagnostics) -> Option<SecretDecl> {
    let mut reader = NodeReader::new(node, diagnostics);
    let name = reader.one_string_arg("a secret id", "write `secret \"npm_token\"`");
    let required = reader.bool("required").map(|flag| flag.value).unwrap_or(false);
    reader.finish(Some(1));
    no_children(node, diagnostics);
    Some(SecretDecl {
        name: name?,
        required,
        span: node.span,
    })
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
                spec.context_excludes.extend(patterns.into_iter().map(root_relative));
            }
            _ => diagnostics.push(unknown_node(child, "inside `context`", &["exclude"])),
        }
    }
}

/// Drops the leading `/` of a context exclude pattern. In `.dockerignore`
/// syntax, which the patterns follow, `/node_modules` and `node_modules`
/// both name the directory at the context root.
fn root_relative(pattern: Spanned<String>) -> Spanned<String> {
    match pattern.value.trim_start_matches('/') {
        trimmed if trimmed.len() == pattern.value.len() || trimmed.is_empty() => pattern,
        trimmed => Spanned::new(trimmed.to_string(), pattern.span),
    }
}

fn build_image(node: &Node, diagnostics: &mut Diagnostics) -> Option<ImageOutput> {
    let mut reader = NodeReader::new(node, diagnostics);
    let stage = reader.one_string_arg(
        "the name of the stage to export",
        "write `image \"runtime\" tag=\"app:1.0\"`",
    );
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

    Some(ImageOutput {
        stage: stage?,
        tags,
        default,
        span: node.span,
    })
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
    fn type_errors_read_as_sentences() {
        let cases = [
            (
                "stage \"a\" from=\"alpine:3\" { expose 8080.5 }",
                "`expose` takes a port as a string or an integer, found the decimal number 8080.5",
                "write a port in double quotes",
            ),
            (
                "stage \"a\" from=3",
                "property `from` of `stage` must be a string, found the integer 3",
                "quote the value: from=\"3\"",
            ),
            (
                "stage \"a\" from=\"alpine:3\" { healthcheck \"true\" retries=-1 }",
                "property `retries` of `healthcheck` must be a non-negative integer, found the integer -1",
                "such as retries=3",
            ),
            (
                "stage \"a\" from=\"alpine:3\" { shell }",
                "`shell` needs at least one argument",
                "write `shell \"/bin/bash\" \"-c\"`",
            ),
        ];
        for (source, message, help) in cases {
            let (_, diagnostics) = build_source(source);
            let found = diagnostics
                .iter()
                .next()
                .unwrap_or_else(|| panic!("nothing for {source}"));
            assert_eq!(found.message, message, "{source}");
            assert!(
                found.help.as_deref().unwrap_or_default().contains(help),
                "{source}: {:?}",
                found.help
            );
        }
    }

    #[test]
    fn context_exclude_drops_leading_slash() {
        let (spec, diagnostics) = build_source("context { exclude \"/node_modules\" \"docs\" }");
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let patterns: Vec<&str> = spec.context_excludes.iter().map(|pattern| pattern.as_str()).collect();
        assert_eq!(patterns, ["node_modules", "docs"]);
    }

    #[test]
    fn shape_errors_table() {
        let cases = [
            (
                "stag \"a\" from=\"alpine:3\"",
                Code::UnknownNode,
                "did you mean `stage`?",
            ),
            (
                "stage \"a\" form=\"alpine:3\"",
                Code::UnknownProperty,
                "did you mean `from`?",
            ),
            ("stage \"a\" from=3", Code::InvalidValue, "a string"),
            (
                "stage \"a\" from=\"alpine:3\" { artifact \"x\" path=\"/x\" kind=\"exe\" }",
                Code::InvalidValue,
                "executable",
            ),
            (
                "stage \"a\" from=\"alpine:3\" { artifact \"x\" }",
                Code::MissingValue,
                "path",
            ),
            (
                "stage \"a\" from=\"alpine:3\" { run \"true\" { cach \"/c\" } }",
                Code::UnknownNode,
                "did you mean `cache`?",
            ),
            (
                "stage \"a\" from=\"alpine:3\" { copy \"a\" mode=\"999\" to=\"/a\" }",
                Code::InvalidValue,
                "octal",
            ),
            ("image", Code::MissingValue, "image \\\"runtime\\\""),
            (
                "stage \"a\" from=\"alpine:3\" { stopsignal \"FOO\" }",
                Code::InvalidValue,
                "invalid stop signal `FOO`",
            ),
            (
                "stage \"a\" from=\"alpine:3\" { stopsignal \"\" }",
                Code::InvalidValue,
                "invalid stop signal",
            ),
            (
                "stage \"a\" from=\"alpine:3\" { expose 99999 }",
                Code::InvalidValue,
                "1 to 65535",
            ),
            (
                "stage \"a\" from=\"alpine:3\" { expose \"90-80\" }",
                Code::InvalidValue,
                "starts after it ends",
            ),
            (
                "stage \"a\" from=\"alpine:3\" { expose -1 }",
                Code::InvalidValue,
                "invalid port `-1`",
            ),
            (
                "stage \"a\" from=\"alpine:3\" { healthcheck \"true\" interval=\"1ns\" }",
                Code::InvalidValue,
                "shorter than 1ms",
            ),
            (
                "stage \"a\" from=\"alpine:3\" { healthcheck \"true\" timeout=\"30\" }",
                Code::InvalidValue,
                "not a duration",
            ),
            (
                "stage \"a\" from=\"alpine:3\" { user \"a b\" }",
                Code::InvalidValue,
                "whitespace",
            ),
            (
                "stage \"a\" from=\"alpine:3\" { user \"\" }",
                Code::InvalidValue,
                "empty",
            ),
            (
                "stage \"a\" from=\"alpine:3\" { copy \"x\" to=\"/x\" owner=\"root:root:root\" }",
                Code::InvalidValue,
                "more than one",
            ),
            (
                "stage \"a\" from=\"alpine:3\" { artifact \"x\" path=\"/x\" owner=\":g\" }",
                Code::InvalidValue,
                "empty",
            ),
            (
                "stage \"a\" from=\"alpine:3\" { workdir \"\" }",
                Code::InvalidValue,
                "`workdir` is empty",
            ),
            (
                "stage \"a\" from=\"alpine:3\" { shell \"\" \"-c\" }",
                Code::InvalidValue,
                "program is empty",
            ),
            (
                "stage \"a\" from=\"alpine:3\" { healthcheck none=#true interval=\"3s\" }",
                Code::UnknownProperty,
                "ignores `interval`",
            ),
            (
                "stage \"a\" from=\"alpine:3\" { healthcheck none=#true retries=2 }",
                Code::UnknownProperty,
                "ignores `retries`",
            ),
        ];
        for (source, code, needle) in cases {
            let (_, diagnostics) = build_source(source);
            let found = diagnostics.iter().find(|d| d.code == code);
            let found = found.unwrap_or_else(|| panic!("no {code} for {source}: {diagnostics:?}"));
            let labels: Vec<&str> = found.labels.iter().map(|label| label.text.as_str()).collect();
            let text = format!("{} {:?} {labels:?}", found.message, found.help);
            assert!(text.contains(needle), "{source}: {text}");
        }
    }
}
