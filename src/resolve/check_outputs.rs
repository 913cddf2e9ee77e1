//! Output checks: no `image` output (SC0701), two `image` nodes for one
//! stage (SC0103), several outputs without exactly one default (SC0702),
//! an output image based on a toolchain (SC0703), and base images with no
//! pinned tag (SC0704).

use super::chain::{Root, Stages};
use super::check_names::list;
use super::check_references;
use super::graph::StageGraph;
use super::images::{self, ImageReference};
use crate::diag::{Code, Diagnostic, Diagnostics, Severity, display_value};
use crate::model::{Base, ImageOutput};

pub fn check(stages: &Stages<'_>, graph: &StageGraph, diagnostics: &mut Diagnostics) {
    check_output_present(stages, graph, diagnostics);
    check_duplicate_outputs(stages, diagnostics);
    check_default_output(stages, diagnostics);
    check_toolchain_outputs(stages, diagnostics);
    check_unpinned_bases(stages, diagnostics);
}

fn check_output_present(stages: &Stages<'_>, graph: &StageGraph, diagnostics: &mut Diagnostics) {
    let spec = stages.spec;
    if !spec.images.is_empty() {
        return;
    }

    // Final stages: nothing depends on them and they are not checks.
    let mut depended_on = vec![false; stages.count()];
    for edge in graph.edges.iter().flatten() {
        depended_on[edge.to] = true;
    }
    let finals: Vec<usize> = (0..stages.count())
        .filter(|&index| !depended_on[index])
        .filter(|&index| {
            !spec
                .checks
                .iter()
                .any(|check| check.value == stages.stage(index).name.value)
        })
        .collect();

    let mut diagnostic = Diagnostic::new(Code::NoOutput, "the spec declares no image output");
    for &index in &finals {
        diagnostic = diagnostic.label(stages.stage(index).name.span, "nothing depends on this stage");
    }
    let example = finals
        .last()
        .or(spec.stages.len().checked_sub(1).as_ref())
        .map(|&index| stages.stage(index).name.value.to_ascii_lowercase());
    let help = match (finals.len(), example) {
        (_, None) => "add a stage and an image output, for example `stage \"app\" from=\"alpine:3.20\" { cmd \"echo\" \
                      \"hello\" }` and `image \"app\" tag=\"app:1.0\"`"
            .to_string(),
        (0, Some(example)) => {
            format!("add `image \"{example}\" tag=\"{example}:1.0\"` to export the stage that makes the image")
        }
        (1, Some(example)) => format!("add `image \"{example}\" tag=\"{example}:1.0\"` to export it"),
        _ => format!(
            "add `image \"NAME\" tag=\"NAME:1.0\"` for the stage to export; candidates (stages nothing depends on): \
             {}; with several images, mark one default=#true",
            list(finals.iter().map(|&index| stages.stage(index).name.as_str()))
        ),
    };
    diagnostics.push(diagnostic.help(help));
}

/// Reports a second `image` node for a stage that already has one. A
/// stage has one output, which carries all of its tags.
fn check_duplicate_outputs(stages: &Stages<'_>, diagnostics: &mut Diagnostics) {
    let images = &stages.spec.images;
    for (position, image) in images.iter().enumerate() {
        let Some(first) = images[..position]
            .iter()
            .find(|earlier| earlier.stage.value == image.stage.value)
        else {
            continue;
        };
        let stage = image.stage.as_str();
        let tags: Vec<String> = first
            .tags
            .iter()
            .chain(&image.tags)
            .map(|tag| format!("\"{}\"", display_value(&tag.value)))
            .collect();
        let example = match tags.split_first() {
            Some((main, [])) => format!("`image \"{stage}\" tag={main}`"),
            Some((main, rest)) => format!("`image \"{stage}\" tag={main} {{ tag {} }}`", rest.join(" ")),
            None => format!("`image \"{stage}\" tag=\"{}:1.0\"`", stage.to_ascii_lowercase()),
        };
        diagnostics.push(
            Diagnostic::new(
                Code::DuplicateName,
                format!("stage `{stage}` is exported by two `image` nodes"),
            )
            .label(image.span, "second output of the stage")
            .label(first.span, "first output of the stage")
            .help(format!("put both tags on one image node: {example}")),
        );
    }
}

fn check_default_output(stages: &Stages<'_>, diagnostics: &mut Diagnostics) {
    // A second `image` node for a stage is SC0103, so count each stage once.
    let all = &stages.spec.images;
    let images: Vec<&ImageOutput> = all
        .iter()
        .enumerate()
        .filter(|(position, image)| {
            !all[..*position]
                .iter()
                .any(|earlier| earlier.stage.value == image.stage.value)
        })
        .map(|(_, image)| image)
        .collect();
    if images.len() < 2 {
        return;
    }
    let defaults: Vec<&ImageOutput> = images.iter().copied().filter(|image| image.default).collect();

    match defaults.len() {
        1 => {}
        0 => {
            let mut diagnostic = Diagnostic::new(
                Code::AmbiguousOutput,
                format!("{} image outputs and none is the default", images.len()),
            );
            for image in &images {
                diagnostic = diagnostic.label(image.stage.span, format!("exports `{}`", image.stage.value));
            }
            diagnostics.push(diagnostic.help(format!(
                "add default=#true to the image a plain build should produce, such as \
                 `image \"{}\" ... default=#true`; the others build with --target",
                images[0].stage.value
            )));
        }
        _ => {
            let mut diagnostic = Diagnostic::new(
                Code::AmbiguousOutput,
                format!("{} image outputs are marked default=#true", defaults.len()),
            );
            for image in &defaults {
                diagnostic = diagnostic.label(image.span, "marked default=#true");
            }
            diagnostics.push(diagnostic.help("keep default=#true on exactly one image output"));
        }
    }
}

fn check_toolchain_outputs(stages: &Stages<'_>, diagnostics: &mut Diagnostics) {
    for image in &stages.spec.images {
        let Some(index) = stages.named(image.stage.as_str()) else {
            continue;
        };
        let Root::Image(reference) = stages.root(index) else {
            continue;
        };
        if images::facts(&reference.value).toolchain.is_none() {
            continue;
        }

        let stage = image.stage.as_str();
        let runtime = format!("{stage}-runtime");
        diagnostics.push(
            Diagnostic::new(
                Code::ToolchainFinalImage,
                format!(
                    "output image `{stage}` is based on toolchain image `{}`",
                    reference.value
                ),
            )
            .severity(Severity::Warning)
            .label(image.stage.span, "exported as an image")
            .label(
                reference.span,
                "a toolchain image: compilers and sources ship in the output",
            )
            .help(format!(
                "build in `{stage}`, declare the result there with `artifact \"app\" path=\"/PATH\" \
                 kind=\"executable\"`, copy it into a small runtime stage such as `stage \"{runtime}\" \
                 from=\"gcr.io/distroless/static-debian12:nonroot\" {{ copy artifact=\"app\" from=\"{stage}\" to=\"/app\" }}`, \
                 and export `image \"{runtime}\"` instead"
            )),
        );
    }
}

fn check_unpinned_bases(stages: &Stages<'_>, diagnostics: &mut Diagnostics) {
    for stage in &stages.spec.stages {
        let Base::Image(text) = &stage.base else { continue };
        // An invalid reference is SC0705, so its tag needs no second report.
        if check_references::reference_error(&text.value, true).is_some() {
            continue;
        }
        let Some(reference) = ImageReference::parse(&text.value) else {
            continue;
        };
        if reference.digest.is_some() {
            continue;
        }
        let label = match reference.tag.as_deref() {
            None => "no tag: the build pulls whatever `latest` is",
            Some("latest") => "`latest` moves to new versions without notice",
            Some(_) => continue,
        };
        let repository = text.value.split(['@']).next().unwrap_or(&text.value);
        let repository = repository.strip_suffix(":latest").unwrap_or(repository);

        diagnostics.push(
            Diagnostic::new(
                Code::UnpinnedBaseImage,
                format!("base image `{}` is not pinned to a version", text.value),
            )
            .severity(Severity::Warning)
            .label(text.span, label)
            .help(format!(
                "pin a version tag, such as from=\"{repository}:X.Y\", or a digest (from=\"{repository}@sha256:...\"), \
                     so that rebuilds use the same image"
            )),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::diag::Code::{self, AmbiguousOutput, NoOutput, ToolchainFinalImage, UnpinnedBaseImage};
    use crate::resolve::test_support::{codes_among, first_among};

    const CODES: &[Code] = &[NoOutput, AmbiguousOutput, ToolchainFinalImage, UnpinnedBaseImage];

    #[test]
    fn output_checks_table() {
        let cases: &[(&str, &[Code])] = &[
            (r#"stage "a" from="alpine:3"; image "a""#, &[]),
            (r#"stage "a" from="alpine:3""#, &[NoOutput]),
            ("", &[NoOutput]),
            (
                r#"stage "a" from="alpine:3"; stage "b" from="alpine:3"; image "a"; image "b""#,
                &[AmbiguousOutput],
            ),
            (
                r#"stage "a" from="alpine:3"; stage "b" from="alpine:3"; image "a" default=#true; image "b""#,
                &[],
            ),
            (
                r#"stage "a" from="alpine:3"; stage "b" from="alpine:3"; image "a" default=#true; image "b" default=#true"#,
                &[AmbiguousOutput],
            ),
            (r#"stage "a" from="golang:1.19"; image "a""#, &[ToolchainFinalImage]),
            (
                r#"stage "go" from="golang:1.19"; stage "a" from="go"; image "a""#,
                &[ToolchainFinalImage],
            ),
            (r#"stage "a" from="node:20-slim"; image "a""#, &[]),
            // Check stages may be toolchains: they are not shipped.
            (
                r#"stage "a" from="alpine:3"; stage "t" from="golang:1.19"; image "a"; check "t""#,
                &[],
            ),
            (r#"stage "a" from="alpine"; image "a""#, &[UnpinnedBaseImage]),
            (r#"stage "a" from="alpine:latest"; image "a""#, &[UnpinnedBaseImage]),
            (
                r#"stage "a" from="alpine@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"; image "a""#,
                &[],
            ),
            (r#"stage "a" from="ALPINE"; image "a""#, &[]),
            (
                r#"stage "a" from="localhost:5000/app"; image "a""#,
                &[UnpinnedBaseImage],
            ),
            (r#"arg "BASE"; stage "a" from="${BASE}"; image "a""#, &[]),
            (r#"stage "a" from="scratch"; image "a""#, &[]),
        ];
        for (source, expected) in cases {
            assert_eq!(codes_among(source, CODES), *expected, "{source}");
        }
    }

    #[test]
    fn no_output_lists_final_stages() {
        let source = r#"stage "build" from="golang:1.19" { artifact "app" path="/app" }
                        stage "api" from="alpine:3" { copy artifact="app" from="build" to="/app" }
                        stage "worker" from="alpine:3" { copy artifact="app" from="build" to="/app" }"#;
        let diagnostic = first_among(source, NoOutput);
        assert_eq!(diagnostic.labels.len(), 2);
        assert!(diagnostic.help.unwrap_or_default().contains("`api`, `worker`"));
    }

    #[test]
    fn empty_spec_help_declares_a_stage_and_output() {
        let help = first_among("", NoOutput).help.unwrap_or_default();
        assert!(help.starts_with("add a stage and an image output"), "{help}");
        assert!(!help.contains("runtime"), "{help}");
    }

    #[test]
    fn second_image_node_is_duplicate() {
        let source = r#"stage "api" from="alpine:3"; image "api" tag="a:1"; image "api" tag="a:2""#;
        let codes = codes_among(source, &[Code::DuplicateName, AmbiguousOutput]);
        assert_eq!(codes, [Code::DuplicateName]);
        let help = first_among(source, Code::DuplicateName).help.unwrap_or_default();
        assert!(help.contains(r#"`image "api" tag="a:1" { tag "a:2" }`"#), "{help}");
    }

    #[test]
    fn unpinned_help_keeps_repository() {
        let source = r#"stage "a" from="docker.io/library/alpine:latest"; image "a""#;
        let help = first_among(source, UnpinnedBaseImage).help.unwrap_or_default();
        assert!(help.contains("from=\"docker.io/library/alpine:X.Y\""), "{help}");
    }
}
