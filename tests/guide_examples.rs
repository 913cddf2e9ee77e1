//! Compiles every ```kdl block of README.md and of every Markdown file under
//! docs/, so that no page shows a spec the compiler rejects. Each block gets
//! one expectation from the table in `expectation`:
//!
//! - a fence written ```` ```kdl expect=SC0101 ```` must report that code;
//! - a complete spec (a top-level `stage`) must compile without errors, and
//!   without warnings on the user guide's pages;
//! - any other block is a fragment, such as one `run` node, and must parse.
//!
//! The failing examples of docs/diagnostics.md need a build context, a
//! backend or an engine to report their code, so tests/docs_diagnostics.rs
//! checks them, and this test skips them.

use std::fs;
use std::path::{Path, PathBuf};

use stagec::compile;
use stagec::diag::render::{RenderOptions, render_all};
use stagec::diag::{Code, Diagnostics};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fenced KDL block of a Markdown file.
#[derive(Debug)]
struct KdlBlock {
    /// 1-based line of the opening fence.
    line: usize,
    /// The fence's info string after `kdl`, such as `expect=SC0101`.
    attributes: String,
    /// The last Markdown heading before the block, without its `#` marks.
    heading: String,
    /// Spaces before the opening fence, which CommonMark removes from each
    /// line of the block too, as inside a list item.
    indent: usize,
    text: String,
}

/// What a block must do to pass.
#[derive(Debug, PartialEq)]
enum Expectation {
    /// A complete spec: compiles without errors, and without warnings when `strict`.
    Compiles { strict: bool },
    /// An `expect=CODE` block: reports this code.
    Reports(Code),
    /// A fragment: parses as KDL.
    Parses,
    /// Checked by another test, named here.
    CheckedBy(&'static str),
}

/// Collects the ```kdl blocks of a Markdown document. Blocks fenced with
/// another language, or with none, are skipped. Fences may be indented, as
/// inside a list item.
fn kdl_blocks(markdown: &str) -> Result<Vec<KdlBlock>, String> {
    let mut blocks = Vec::new();
    let mut current: Option<KdlBlock> = None;
    let mut in_other_block = false;
    let mut heading = String::new();

    for (index, line) in markdown.lines().enumerate() {
        let trimmed = line.trim();
        // CommonMark: a closing fence has no info string.
        let closing_fence = trimmed.len() >= 3 && trimmed.chars().all(|c| c == '`');

        if let Some(block) = current.as_mut() {
            if closing_fence {
                blocks.extend(current.take());
            } else {
                block.text.push_str(strip_indent(line, block.indent));
                block.text.push('\n');
            }
            continue;
        }
        if in_other_block {
            in_other_block = !closing_fence;
            continue;
        }
        if line.starts_with('#') {
            heading = line.trim_start_matches('#').trim().to_string();
            continue;
        }
        let Some(info) = trimmed.strip_prefix("```") else {
            continue;
        };

        let info = info.trim_start_matches('`');
        match info.strip_prefix("kdl") {
            Some(rest) if rest.is_empty() || rest.starts_with(' ') => {
                current = Some(KdlBlock {
                    line: index + 1,
                    attributes: rest.trim().to_string(),
                    heading: heading.clone(),
                    indent: line.len() - line.trim_start_matches(' ').len(),
                    text: String::new(),
                })
            }
            _ => in_other_block = true,
        }
    }

    match current {
        Some(block) => Err(format!("the ```kdl block at line {} is never closed", block.line)),
        None => Ok(blocks),
    }
}

/// Removes up to `indent` leading spaces from a line of a fenced block.
fn strip_indent(line: &str, indent: usize) -> &str {
    let spaces = line.len() - line.trim_start_matches(' ').len();
    &line[spaces.min(indent)..]
}

/// Reports whether a block is a complete spec: one with a `stage` node at
/// the top level, not indented inside another node.
fn is_complete_spec(text: &str) -> bool {
    text.lines().any(|line| line.starts_with("stage \""))
}

/// Chooses what a block of the page at `path` (relative to the repository) must do.
fn expectation(path: &str, block: &KdlBlock) -> Result<Expectation, String> {
    if let Some(code) = block.attributes.strip_prefix("expect=") {
        return Code::parse(code)
            .map(Expectation::Reports)
            .ok_or_else(|| format!("unknown code in `expect={code}`"));
    }
    if !block.attributes.is_empty() {
        return Err(format!(
            "unknown fence attributes `{}`: write `kdl` or `kdl expect=CODE`",
            block.attributes
        ));
    }
    if path == "docs/diagnostics.md" && block.heading == "Failing example" {
        return Ok(Expectation::CheckedBy("tests/docs_diagnostics.rs"));
    }
    if is_complete_spec(&block.text) {
        return Ok(Expectation::Compiles {
            strict: path.starts_with("docs/guide/"),
        });
    }
    Ok(Expectation::Parses)
}

/// Lists README.md and every Markdown file under docs/, relative to the
/// repository root, in path order.
fn markdown_files() -> Vec<String> {
    let root = repo_root();
    let mut files = vec!["README.md".to_string()];
    let mut pending = vec![root.join("docs")];
    while let Some(dir) = pending.pop() {
        let entries = fs::read_dir(&dir).unwrap_or_else(|error| panic!("reading {}: {error}", dir.display()));
        for entry in entries {
            let path = entry.expect("reading a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|extension| extension == "md") {
                let relative = path.strip_prefix(&root).expect("a path under the repository");
                files.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    files.sort();
    files
}

fn render(diagnostics: &Diagnostics, name: &str, source: &str) -> String {
    render_all(diagnostics, name, source, &RenderOptions::default())
}

/// Checks one block and returns the reason it fails, if it does.
fn check_block(name: &str, block: &KdlBlock, expectation: &Expectation) -> Option<String> {
    match expectation {
        Expectation::CheckedBy(_) => None,
        Expectation::Parses => match stagec::syntax::parse(&block.text) {
            Ok(_) => None,
            Err(errors) => {
                let mut diagnostics = Diagnostics::default();
                diagnostics.extend(errors);
                Some(format!(
                    "{name}: not valid KDL:\n{}",
                    render(&diagnostics, name, &block.text)
                ))
            }
        },
        Expectation::Reports(code) => {
            let compilation = compile::check(&block.text);
            if compilation
                .diagnostics
                .iter()
                .any(|diagnostic| diagnostic.code == *code)
            {
                return None;
            }
            let rendered = render(&compilation.diagnostics, name, &block.text);
            Some(format!("{name}: should report {code}, but reports:\n{rendered}"))
        }
        Expectation::Compiles { strict } => {
            let compilation = compile::check(&block.text);
            let rendered = render(&compilation.diagnostics, name, &block.text);
            if compilation.has_errors() {
                Some(format!("{name}: a complete spec with errors:\n{rendered}"))
            } else if *strict && !compilation.diagnostics.is_empty() {
                Some(format!("{name}: a user guide spec with warnings:\n{rendered}"))
            } else {
                None
            }
        }
    }
}

/// Every ```kdl block of the docs passes its expectation. All failing
/// blocks are listed, each as `FILE:LINE` of its opening fence.
#[test]
fn docs_kdl_blocks_pass() {
    let root = repo_root();
    let mut failures = Vec::new();
    let mut checked = 0;

    for path in markdown_files() {
        let markdown = fs::read_to_string(root.join(&path)).unwrap_or_else(|error| panic!("reading {path}: {error}"));
        let blocks = match kdl_blocks(&markdown) {
            Ok(blocks) => blocks,
            Err(error) => {
                failures.push(format!("{path}: {error}"));
                continue;
            }
        };

        for block in &blocks {
            let name = format!("{path}:{}", block.line);
            match expectation(&path, block) {
                Ok(expectation) => {
                    checked += 1;
                    failures.extend(check_block(&name, block, &expectation));
                }
                Err(error) => failures.push(format!("{name}: {error}")),
            }
        }
    }

    assert!(
        failures.is_empty(),
        "{} failing ```kdl blocks:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        checked >= 100,
        "only {checked} ```kdl blocks found under docs/ and in README.md"
    );
}

/// Every cookbook page has one complete spec, so that a reader can copy a
/// whole build, not only parts of one.
#[test]
fn cookbook_pages_have_complete_spec() {
    let dir = repo_root().join("docs/guide/cookbook");
    for page in ["go.md", "rust.md", "node.md", "python.md", "java.md", "static-site.md"] {
        let path = dir.join(page);
        let markdown = fs::read_to_string(&path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
        let blocks = kdl_blocks(&markdown).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let complete = blocks
            .iter()
            .filter(|block| block.attributes.is_empty() && is_complete_spec(&block.text))
            .count();
        assert!(complete >= 1, "{} has no complete spec", path.display());
    }
}

#[test]
fn kdl_blocks_skip_other_languages() {
    let markdown =
        "## Title\n```kdl\nstage \"a\"\n```\n```sh\n```kdl inside\n```\n  ```kdl expect=SC0101\n  x\n  ```\n";
    let blocks = kdl_blocks(markdown).expect("closed blocks");
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[0].line, 2);
    assert_eq!(blocks[0].heading, "Title");
    assert_eq!(blocks[0].text, "stage \"a\"\n");
    assert_eq!(blocks[1].attributes, "expect=SC0101");
    assert_eq!(blocks[1].text, "x\n", "the fence's indentation is removed");
}

/// A block inside a list item keeps its own indentation relative to the fence.
#[test]
fn kdl_blocks_remove_fence_indent() {
    let markdown = "1. Step:\n\n   ```kdl\n   # syntax=x\n   stage \"a\" {\n       cmd \"b\"\n   }\n   ```\n";
    let blocks = kdl_blocks(markdown).expect("closed blocks");
    assert_eq!(blocks[0].text, "# syntax=x\nstage \"a\" {\n    cmd \"b\"\n}\n");
    assert!(is_complete_spec(&blocks[0].text));
}

#[test]
fn kdl_blocks_report_unclosed_fence() {
    let error = kdl_blocks("text\n```kdl\nstage \"a\"\n").expect_err("an unclosed block");
    assert!(error.contains("line 2"), "{error}");
}

#[test]
fn expectation_table() {
    let block = |heading: &str, attributes: &str, text: &str| KdlBlock {
        line: 1,
        attributes: attributes.to_string(),
        heading: heading.to_string(),
        indent: 0,
        text: text.to_string(),
    };
    let spec = "stage \"a\" from=\"alpine:3\" {\n}\n";
    let cases = [
        (
            "docs/language.md",
            block("", "expect=SC0101", spec),
            Ok(Expectation::Reports(Code::UnknownStage)),
        ),
        (
            "docs/language.md",
            block("", "", spec),
            Ok(Expectation::Compiles { strict: false }),
        ),
        (
            "docs/guide/concepts.md",
            block("", "", spec),
            Ok(Expectation::Compiles { strict: true }),
        ),
        (
            "docs/language.md",
            block("", "", "workdir \"/app\"\n"),
            Ok(Expectation::Parses),
        ),
        (
            "docs/diagnostics.md",
            block("Failing example", "", spec),
            Ok(Expectation::CheckedBy("tests/docs_diagnostics.rs")),
        ),
        (
            "docs/diagnostics.md",
            block("Fixed example", "", spec),
            Ok(Expectation::Compiles { strict: false }),
        ),
    ];
    for (path, block, expected) in cases {
        assert_eq!(
            expectation(path, &block),
            expected,
            "{path}, heading {:?}",
            block.heading
        );
    }

    let unknown = expectation("docs/cli.md", &block("", "expect=SC9999", spec));
    assert!(unknown.is_err(), "{unknown:?}");
    let attributes = expectation("docs/cli.md", &block("", "ignore", spec));
    assert!(attributes.is_err(), "{attributes:?}");
}

#[test]
fn markdown_files_include_readme_and_guide() {
    let files = markdown_files();
    assert_eq!(files.first().map(String::as_str), Some("README.md"));
    assert!(files.iter().any(|file| file == "docs/language.md"), "{files:?}");
    assert!(
        files.iter().any(|file| file == "docs/guide/cookbook/go.md"),
        "{files:?}"
    );
    assert!(
        files
            .iter()
            .all(|file| Path::new(file).extension().is_some_and(|e| e == "md"))
    );
}
