//! Inputs found by the fuzz targets in fuzz/, replayed through the same
//! pipeline code (fuzz/fuzz_targets/pipeline.rs) on every `cargo test`:
//! each crash the fuzzers found as a named test, and the minimised corpora
//! as a smoke test. `scripts/fuzz.sh` runs the fuzzers themselves.

#[path = "../fuzz/fuzz_targets/pipeline.rs"]
mod pipeline;

use std::fs;
use std::path::PathBuf;

fn corpus(target: &str) -> Vec<(PathBuf, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
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
