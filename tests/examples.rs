//! Checks the example specs under specs/examples/ and the KDL examples in
//! docs/language.md against the compiler, so that neither drifts from the
//! language as implemented.

use std::fs;
use std::path::{Path, PathBuf};

use stagec::compile::{self, Compilation};
use stagec::diag::render::{RenderOptions, render_all};
use stagec::diag::{Code, Diagnostics};
use stagec::dockerfile::{DockerfileOptions, SyntaxLevel};
use stagec::lower::LowerOptions;
use stagec::model::{CopySource, MountKind, Spec, StepKind};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Lists every directory under specs/examples/, in name order.
fn example_dirs() -> Vec<PathBuf> {
    let examples = repo_root().join("specs/examples");
    let entries = fs::read_dir(&examples).unwrap_or_else(|error| panic!("reading {}: {error}", examples.display()));
    let mut dirs: Vec<PathBuf> = entries
        .map(|entry| entry.expect("reading a directory entry").path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no examples under {}", examples.display());
    dirs
}

fn read_spec(dir: &Path) -> String {
    let path = dir.join("app.kdl");
    fs::read_to_string(&path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

fn render(diagnostics: &Diagnostics, file_name: &str, source: &str) -> String {
    render_all(diagnostics, file_name, source, &RenderOptions::default())
}

/// Compiles a spec, prints its warnings, and panics with the rendered
/// diagnostics when there is an error.
fn check_without_errors(file_name: &str, source: &str) -> Compilation {
    let compilation = compile::check(source);
    let rendered = render(&compilation.diagnostics, file_name, source);
    assert!(!compilation.has_errors(), "{file_name} has errors:\n{rendered}");
    if !compilation.diagnostics.is_empty() {
        eprintln!("{file_name}: warnings:\n{rendered}");
    }
    compilation
}

#[test]
fn examples_compile_without_errors() {
    for dir in example_dirs() {
        let source = read_spec(&dir);
        let name = dir.join("app.kdl").display().to_string();
        let compilation = check_without_errors(&name, &source);
        let spec = compilation.spec.expect("a spec without errors has a model");
        assert!(!spec.images.is_empty(), "{name} declares no image");
    }
}

#[test]
fn examples_have_readme() {
    for dir in example_dirs() {
        let readme = dir.join("README.md");
        let text = fs::read_to_string(&readme).unwrap_or_else(|error| panic!("reading {}: {error}", readme.display()));
        assert!(
            text.starts_with("# "),
            "{} does not start with a `# ` title",
            readme.display()
        );
    }
}

/// Collects the context paths that a spec reads: the sources of context
/// copies and of bind mounts that name no stage.
fn context_inputs(spec: &Spec) -> Vec<String> {
    let mut inputs = Vec::new();
    for stage in &spec.stages {
        for step in &stage.steps {
            match &step.kind {
                StepKind::Copy(copy) => {
                    if let CopySource::Context(paths) = &copy.source {
                        inputs.extend(paths.iter().map(|path| path.value.clone()));
                    }
                }
                StepKind::Run(run) => {
                    for mount in &run.mounts {
                        if let MountKind::Bind {
                            from: None,
                            source: Some(source),
                            ..
                        } = &mount.kind
                        {
                            inputs.push(source.value.clone());
                        }
                    }
                }
                _ => {}
            }
        }
    }
    inputs
}

/// Returns the part of a context path before its first glob component:
/// `wordfreq` for `wordfreq/*.go`, the empty path for `*.go`, and the whole
/// path when it has no glob.
fn literal_prefix(path: &str) -> PathBuf {
    path.split('/')
        .take_while(|component| !component.contains(['*', '?', '[']))
        .filter(|component| !component.is_empty() && *component != ".")
        .collect()
}

#[test]
fn literal_prefix_stops_at_first_glob() {
    let cases = [
        ("main.go", "main.go"),
        ("./pages", "pages"),
        ("*.go", ""),
        ("wordfreq/*.go", "wordfreq"),
        ("a/b?/c", "a"),
        ("a/[xy]/c", "a"),
        (".", ""),
    ];
    for (path, expected) in cases {
        assert_eq!(literal_prefix(path), PathBuf::from(expected), "{path}");
    }
}

#[test]
fn example_context_inputs_exist() {
    for dir in example_dirs() {
        let source = read_spec(&dir);
        let spec = compile::check(&source).spec.expect("example parses as KDL");
        let inputs = context_inputs(&spec);
        assert!(!inputs.is_empty(), "{} copies nothing from its context", dir.display());

        for input in inputs {
            let path = dir.join(literal_prefix(&input));
            assert!(
                path.exists(),
                "{}: context input `{input}` needs {}, which does not exist",
                dir.display(),
                path.display()
            );
        }

        // The compiler's own check also matches globs and applies the
        // spec's `context { exclude }` patterns.
        let mut diagnostics = Diagnostics::default();
        stagec::resolve::check_context_inputs(&spec, &dir, &mut diagnostics);
        let name = dir.join("app.kdl").display().to_string();
        assert!(diagnostics.is_empty(), "{}", render(&diagnostics, &name, &source));
    }
}

/// A fenced KDL block of a Markdown file.
struct KdlBlock {
    /// 1-based line of the opening fence.
    line: usize,
    /// The fence's info string after `kdl`, such as `expect=SC0101`.
    attributes: String,
    text: String,
}

/// Collects the ```kdl blocks of a Markdown document. Blocks fenced with
/// another language, or with none, are skipped.
fn kdl_blocks(markdown: &str) -> Vec<KdlBlock> {
    let mut blocks = Vec::new();
    let mut current: Option<KdlBlock> = None;
    let mut in_other_block = false;

    for (index, line) in markdown.lines().enumerate() {
        let trimmed = line.trim();
        // CommonMark: a closing fence has no info string.
        let closing_fence = trimmed.len() >= 3 && trimmed.chars().all(|c| c == '`');

        if let Some(block) = current.as_mut() {
            if closing_fence {
                blocks.extend(current.take());
            } else {
                block.text.push_str(line);
                block.text.push('\n');
            }
            continue;
        }
        if in_other_block {
            in_other_block = !closing_fence;
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
                    text: String::new(),
                })
            }
            _ => in_other_block = true,
        }
    }

    assert!(current.is_none(), "unclosed ```kdl block");
    blocks
}

#[test]
fn kdl_blocks_skip_other_languages() {
    let markdown = "text\n```kdl\nstage \"a\"\n```\n```sh\n```kdl inside\n```\n```kdl expect=SC0101\nx\n```\n";
    let blocks = kdl_blocks(markdown);
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[0].line, 2);
    assert_eq!(blocks[0].text, "stage \"a\"\n");
    assert_eq!(blocks[1].attributes, "expect=SC0101");
}

fn language_doc() -> String {
    let path = repo_root().join("docs/language.md");
    fs::read_to_string(&path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

/// Reports whether a block is a complete spec, which declares both a stage
/// and an image at the top level. Other blocks are fragments that show one
/// node.
fn is_complete_spec(text: &str) -> bool {
    let top_level = |name: &str| text.lines().any(|line| line.starts_with(&format!("{name} \"")));
    top_level("stage") && top_level("image")
}

/// Every KDL example in the language reference must at least parse, so
/// that no fragment shows syntax that the parser rejects.
#[test]
fn language_doc_kdl_blocks_parse() {
    let doc = language_doc();
    let blocks = kdl_blocks(&doc);
    assert!(
        blocks.len() >= 20,
        "docs/language.md has only {} ```kdl blocks",
        blocks.len()
    );

    for block in &blocks {
        let name = format!("docs/language.md, block at line {}", block.line);
        if let Err(errors) = stagec::syntax::parse(&block.text) {
            let mut diagnostics = Diagnostics::default();
            diagnostics.extend(errors);
            panic!("{name} is not valid KDL:\n{}", render(&diagnostics, &name, &block.text));
        }
    }
}

/// Complete specs in the language reference compile without errors, and
/// those fenced with `expect=CODE` report that code. Every failing block is
/// listed, so that one run shows all the examples to fix.
#[test]
fn language_doc_complete_specs_compile() {
    let doc = language_doc();
    let mut complete = 0;
    let mut failures = Vec::new();

    for block in kdl_blocks(&doc) {
        let name = format!("docs/language.md, block at line {}", block.line);
        let compilation = compile::check(&block.text);
        let rendered = render(&compilation.diagnostics, &name, &block.text);

        if let Some(code) = block.attributes.strip_prefix("expect=") {
            let Some(code) = Code::parse(code) else {
                failures.push(format!("{name}: unknown code in `expect={code}`"));
                continue;
            };
            if !compilation.diagnostics.iter().any(|diagnostic| diagnostic.code == code) {
                failures.push(format!("{name} should report {code}, but reports:\n{rendered}"));
            }
            continue;
        }

        if !is_complete_spec(&block.text) {
            continue;
        }
        complete += 1;
        if compilation.has_errors() {
            failures.push(format!("{name} has errors:\n{rendered}"));
        } else if !compilation.diagnostics.is_empty() {
            eprintln!("{name}: warnings:\n{rendered}");
        }
    }

    assert!(
        failures.is_empty(),
        "{} failing examples:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(complete >= 5, "docs/language.md has only {complete} complete specs");
}

/// Emits the Dockerfile for every image output of a spec that compiled
/// without errors, at the default syntax level, and returns the diagnostics
/// of the outputs that fail.
fn emit_every_output(compilation: &Compilation) -> Diagnostics {
    let spec = compilation.spec.as_ref().expect("a spec without errors has a model");
    let mut failures = Diagnostics::default();

    for image in &spec.images {
        let options = LowerOptions {
            target: Some(image.stage.value.clone()),
            ..LowerOptions::default()
        };
        let emitted = stagec::lower::lower(spec, &compilation.graph, &options).and_then(|graph| {
            let options = DockerfileOptions {
                syntax: SyntaxLevel::DEFAULT,
                spec_path: "app.kdl".to_string(),
            };
            stagec::dockerfile::emit(&graph, &options)
        });
        if let Err(diagnostics) = emitted {
            failures.extend(diagnostics);
        }
    }
    failures
}

/// Complete specs in the language reference also compile to a Dockerfile
/// at the default syntax level, which Docker 20.10's built-in frontend
/// builds, so that a reader can build every example as written.
#[test]
fn language_doc_complete_specs_emit_dockerfile() {
    let doc = language_doc();
    let mut failures = Vec::new();

    for block in kdl_blocks(&doc) {
        if !block.attributes.is_empty() || !is_complete_spec(&block.text) {
            continue;
        }
        let name = format!("docs/language.md, block at line {}", block.line);
        let compilation = compile::check(&block.text);
        if compilation.has_errors() {
            // language_doc_complete_specs_compile reports these.
            continue;
        }
        let diagnostics = emit_every_output(&compilation);
        if !diagnostics.is_empty() {
            failures.push(format!("{name}:\n{}", render(&diagnostics, &name, &block.text)));
        }
    }

    assert!(
        failures.is_empty(),
        "{} examples fail to emit:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}
