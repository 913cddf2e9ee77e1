//! Inputs found by the fuzz targets in fuzz/, replayed through the same
//! pipeline code (fuzz/fuzz_targets/pipeline.rs) on every `cargo test`:
//! each crash the fuzzers found as a named test, and the minimised corpora
//! as a smoke test. `scripts/fuzz.sh` runs the fuzzers themselves.

#[path = "../fuzz/fuzz_targets/pipeline.rs"]
mod pipeline;

use std::fs;
use std::path::PathBuf;

fn corpus(target: &str) -> Vec<(PathBuf, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut inputs: Vec<(PathBuf, String)> = fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("reading {}: {error}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter_map(|path| {
            // The fuzz targets skip inputs that are not UTF-8, as the CLI rejects them.
            let text = String::from_utf8(fs::read(&path).ok()?).ok()?;
            Some((path, text))
        })
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "the {target} corpus is empty");
    inputs
}

#[test]
fn check_corpus_replays_without_panics() {
    for (_, source) in corpus("check") {
        pipeline::check(&source);
    }
}

#[test]
fn dockerfile_corpus_replays_without_panics() {
    for (_, source) in corpus("dockerfile") {
        pipeline::dockerfile(&source);
    }
}

#[test]
fn llb_corpus_replays_without_panics() {
    for (_, source) in corpus("llb") {
        pipeline::llb(&source);
    }
}

#[test]
fn import_corpus_replays_without_panics() {
    for (_, dockerfile) in corpus("import") {
        pipeline::import(&dockerfile);
    }
}

/// Found by the import target: `${A` inside an unquoted heredoc body, closed
/// on a later line, made the `run` text scan slice past the end of the line.
#[test]
fn heredoc_expansion_past_line_end() {
    let source =
        "stage \"a\" from=\"alpine:3\" {\n    run \"cat <<EOT\\n${A\\nB}\\nEOT\"\n}\nimage \"a\" tag=\"a:1\"\n";
    pipeline::check(source);
    pipeline::dockerfile(source);
    pipeline::llb(source);
}

/// Found by the import target: a warning comment quoted the FROM image,
/// whose form feeds KDL reads as line ends, so the imported spec was not KDL.
#[test]
fn import_note_with_form_feed() {
    pipeline::import(include_str!(
        "../fuzz/corpus/import/crash-control-characters-in-import-note.Dockerfile"
    ));
}

/// Found by the import target: the `run` argument `"` was written as the
/// raw string `#"""#`, which KDL reads as the start of a multi-line string,
/// so the imported spec was not KDL.
#[test]
fn import_raw_string_of_a_quote() {
    pipeline::import(include_str!(
        "../fuzz/corpus/import/crash-raw-string-opening-with-two-quotes.Dockerfile"
    ));
}
