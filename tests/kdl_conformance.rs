//! Differential test of stagec's KDL v2 parser against the `kdl` crate 6.7,
//! which stays the reference: both must accept and reject the same
//! documents, and produce the same names, values and spans. The documents
//! are every .kdl file under specs/ and tests/, the fuzz corpus when it is
//! present, the `kdl` crate's own test cases when cargo has its source, and
//! seeded generated and mutated documents.

#[path = "kdl_conformance/documents.rs"]
mod documents;

use std::fs;
use std::path::{Path, PathBuf};

use documents::Rng;
use stagec::diag::Code;
use stagec::syntax::{self, Document, Node, Value, ValueKind};

/// How many documents each generator contributes. The `kdl` crate parses
/// about 5,000 small documents a second in a debug build.
const GENERATED_PER_KIND: u64 = 3_000;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Lists the files under `dir` whose name ends in `suffix`, in path order.
fn files_under(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.to_string_lossy().ends_with(suffix) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn same_value_kind(fast: &ValueKind, reference: &ValueKind) -> bool {
    match (fast, reference) {
        (ValueKind::Float(a), ValueKind::Float(b)) => (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits(),
        _ => fast == reference,
    }
}

fn compare_value(fast: &Value, reference: &Value, what: &str) -> Result<(), String> {
    if !same_value_kind(&fast.kind, &reference.kind) {
        return Err(format!("{what}: {:?}, the kdl crate {:?}", fast.kind, reference.kind));
    }
    Ok(())
}

/// Returns the first difference between two node lists.
fn compare_nodes(fast: &[Node], reference: &[Node]) -> Result<(), String> {
    if fast.len() != reference.len() {
        return Err(format!("{} nodes, the kdl crate {}", fast.len(), reference.len()));
    }
    for (node, expected) in fast.iter().zip(reference) {
        let name = &node.name;
        if (name, node.name_span, node.span, node.has_block)
            != (&expected.name, expected.name_span, expected.span, expected.has_block)
        {
            return Err(format!(
                "node {name:?} at {:?} (whole {:?}, block {}), the kdl crate {:?} at {:?} (whole {:?}, block {})",
                node.name_span,
                node.span,
                node.has_block,
                expected.name,
                expected.name_span,
                expected.span,
                expected.has_block
            ));
        }
        if node.args.len() != expected.args.len() || node.props.len() != expected.props.len() {
            return Err(format!("node {name:?}: different number of arguments or properties"));
        }
        for (arg, expected_arg) in node.args.iter().zip(&expected.args) {
            compare_value(arg, expected_arg, &format!("argument of {name:?}"))?;
            if arg.span != expected_arg.span {
                return Err(format!(
                    "argument of {name:?} at {:?}, the kdl crate {:?}",
                    arg.span, expected_arg.span
                ));
            }
        }
        for (prop, expected_prop) in node.props.iter().zip(&expected.props) {
            let key = &prop.key;
            if (key, prop.key_span, prop.span) != (&expected_prop.key, expected_prop.key_span, expected_prop.span) {
                return Err(format!(
                    "property {key:?} of {name:?}: {prop:?}, the kdl crate {expected_prop:?}"
                ));
            }
            compare_value(
                &prop.value,
                &expected_prop.value,
                &format!("property {key:?} of {name:?}"),
            )?;
            // The old conversion guessed the value's span from the key, so
            // only check that the exact span lies after the `=`.
            let value_span = prop.value.span;
            if value_span.start <= prop.key_span.end() || value_span.end() != prop.span.end() {
                return Err(format!(
                    "property {key:?} of {name:?}: value span {value_span:?} outside {:?}",
                    prop.span
                ));
            }
        }
        compare_nodes(&node.children, &expected.children)?;
    }
    Ok(())
}

/// Parses `source` with both parsers and returns the first disagreement.
fn disagreement(source: &str) -> Option<String> {
    let fast = syntax::parse_without_fallback(source);
    let reference = syntax::parse_with_kdl_crate(source);
    match (fast, reference) {
        (Ok(fast), Ok(reference)) => compare_documents(&fast, &reference).err(),
        (Err(_), Err(_)) => None,
        (Ok(_), Err(errors)) => Some(format!("accepted, but the kdl crate rejects it: {}", errors[0].message)),
        (Err(offset), Ok(_)) => Some(format!("rejected at byte {offset}, but the kdl crate accepts it")),
    }
}

fn compare_documents(fast: &Document, reference: &Document) -> Result<(), String> {
    if fast.syntax != reference.syntax {
        return Err(format!(
            "syntax line {:?}, the kdl crate {:?}",
            fast.syntax, reference.syntax
        ));
    }
    compare_nodes(&fast.nodes, &reference.nodes)
}

/// Checks every document and panics with the first few disagreements.
fn assert_agreement(documents: impl IntoIterator<Item = (String, String)>) -> usize {
    let mut failures = Vec::new();
    let mut count = 0;
    for (label, source) in documents {
        count += 1;
        if let Some(difference) = disagreement(&source) {
            failures.push(format!("{label}: {difference}\n    document: {source:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} documents parse differently:\n{}",
        failures.len(),
        failures.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
    );
    count
}

fn read_files(paths: Vec<PathBuf>) -> Vec<(String, String)> {
    paths
        .into_iter()
        .filter_map(|path| {
            let bytes = fs::read(&path).ok()?;
            Some((path.display().to_string(), String::from_utf8(bytes).ok()?))
        })
        .collect()
}

fn repo_specs() -> Vec<(String, String)> {
    let root = repo_root();
    let mut paths = files_under(&root.join("specs"), ".kdl");
    paths.extend(files_under(&root.join("tests"), ".kdl"));
    read_files(paths)
}

#[test]
fn repository_specs_agree() {
    let count = assert_agreement(repo_specs());
    assert!(count >= 5, "found only {count} .kdl files");
}

#[test]
fn fuzz_corpus_agrees() {
    // The corpus is not committed, so there may be nothing to check.
    let paths = files_under(&repo_root().join("fuzz/corpus"), "");
    assert_agreement(read_files(paths));
}

/// The `kdl` crate ships the KDL test suite's documents. Cargo keeps the
/// crate's source under $CARGO_HOME/registry/src, which a build has fetched.
#[test]
fn kdl_crate_test_cases_agree() {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    let Some(registry) = cargo_home.map(|home| home.join("registry/src")) else {
        eprintln!("skipped: no CARGO_HOME or HOME");
        return;
    };
    let mut paths = Vec::new();
    for index in fs::read_dir(&registry).into_iter().flatten().flatten() {
        for package in fs::read_dir(index.path()).into_iter().flatten().flatten() {
            if package.file_name().to_string_lossy().starts_with("kdl-6.7") {
                paths.extend(files_under(&package.path().join("tests/test_cases"), ".kdl"));
            }
        }
    }
    if paths.is_empty() {
        eprintln!("skipped: no kdl-6.7 source under {}", registry.display());
        return;
    }
    assert_agreement(read_files(paths));
}

#[test]
fn generated_documents_agree() {
    let soup = (0..GENERATED_PER_KIND).map(|seed| {
        let mut rng = Rng::new(seed);
        (format!("token soup {seed}"), documents::token_soup(&mut rng))
    });
    let nested = (0..GENERATED_PER_KIND).map(|seed| {
        let mut rng = Rng::new(seed);
        (format!("nested {seed}"), documents::nested(&mut rng, 0))
    });
    assert_agreement(soup.chain(nested));
}

#[test]
fn mutated_specs_agree() {
    let bases = repo_specs();
    let mutated = (0..GENERATED_PER_KIND).map(|seed| {
        let mut rng = Rng::new(seed);
        let (label, base) = &bases[rng.below(bases.len())];
        (
            format!("{label} mutated with seed {seed}"),
            documents::mutate(&mut rng, base),
        )
    });
    assert_agreement(mutated);
}

#[test]
fn rejected_documents_keep_kdl_crate_diagnostics() {
    for source in [
        "stage \"a\" from=true\n",
        "node \"open\n",
        "a {\n",
        "node 0xg\n",
        "# comment\n",
    ] {
        let errors = syntax::parse(source).expect_err("invalid KDL");
        let reference = syntax::parse_with_kdl_crate(source).expect_err("invalid KDL");
        assert_eq!(errors, reference, "{source:?}");
        assert!(errors.iter().all(|error| error.code == Code::KdlSyntax), "{source:?}");
    }
}

/// The parser recurses once per block level and per slashdashed entry
/// prefix, so both must stay bounded on a thread with a small stack.
#[test]
fn deep_documents_do_not_overflow_a_small_stack() {
    let blocks = format!("{}{}", "a {".repeat(10_000), "}".repeat(10_000));
    let slashdashes = format!("node {}x y\n", "/- ".repeat(10_000));
    let limit = syntax::MAX_NESTING;
    let at_limit = format!("{}{}", "a {".repeat(limit), "}".repeat(limit));
    let parsed = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            (
                syntax::parse_without_fallback(&blocks).is_err(),
                syntax::parse_without_fallback(&slashdashes).is_err(),
                syntax::parse_without_fallback(&at_limit).is_ok(),
            )
        })
        .expect("thread starts")
        .join()
        .expect("no stack overflow");
    assert!(parsed.0, "10,000 nested blocks are over the nesting limit");
    assert!(parsed.1, "10,000 slashdashes are over the slashdash limit");
    assert!(parsed.2, "blocks at the nesting limit parse");
}

#[test]
fn byte_order_mark_and_syntax_line_agree() {
    let sources = [
        "\u{feff}stage \"a\" from=\"alpine:3\"\n",
        "# syntax=example/stagec:1\nstage \"a\" from=\"alpine:3\"\n",
        "\u{feff}# syntax=x\nnode\n",
    ];
    assert_agreement(
        sources
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("case {i}"), s.to_string())),
    );
}
