//! SC0305: context inputs that match nothing in the build context, and
//! SC0303 for those that reach their files through a symbolic link to
//! outside the context. This check reads the filesystem, so it is not part
//! of [`super::validate`]; the CLI runs it once the context directory is given.

use std::fs;
use std::path::Path;

use super::check_paths::context_escape;
use super::check_patterns::glob_syntax_error;
use crate::diag::{Code, Diagnostic, Diagnostics, suggest::did_you_mean};
use crate::model::{CopySource, MountKind, Spanned, Spec, StepKind};

/// Reports every context input of `spec` (copy sources and context bind
/// mounts: files, directories or globs) that matches no file under
/// `context_dir`, or only files that `context { exclude }` removes.
pub fn check_context_inputs(spec: &Spec, context_dir: &Path, diagnostics: &mut Diagnostics) {
    for input in context_inputs(spec) {
        // Paths that leave the context are SC0303, and invalid globs SC0306.
        if context_escape(&input.value).is_some() || glob_syntax_error(&input.value).is_some() {
            continue;
        }

        let matches = find_matches(context_dir, &input.value);
        if matches.is_empty() {
            diagnostics.push(missing_input(input, context_dir));
            continue;
        }
        if let Some(diagnostic) = super::context_links::check_input(input, context_dir, &matches) {
            diagnostics.push(diagnostic);
            continue;
        }

        let excluded_by = |path: &str| {
            spec.context_excludes
                .iter()
                .find(|pattern| is_excluded(path, &pattern.value))
        };
        if let Some(pattern) = matches.iter().map(|path| excluded_by(path)).collect::<Option<Vec<_>>>() {
            let pattern = pattern[0];
            diagnostics.push(
                Diagnostic::new(
                    Code::MissingContextInput,
                    format!("`{}` matches only files that the context excludes", input.value),
                )
                .label(input.span, "every match is excluded")
                .label(pattern.span, "excluded by this pattern")
                .help("narrow the `context { exclude }` pattern, or remove this input"),
            );
        }
    }
}

fn context_inputs(spec: &Spec) -> Vec<&Spanned<String>> {
    let mut inputs = Vec::new();
    for stage in &spec.stages {
        for step in &stage.steps {
            match &step.kind {
                StepKind::Copy(copy) => {
                    if let CopySource::Context(paths) = &copy.source {
                        inputs.extend(paths);
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
                            inputs.push(source);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    inputs
}

fn missing_input(input: &Spanned<String>, context_dir: &Path) -> Diagnostic {
    let components: Vec<&str> = components(&input.value);
    let (parent, name) = match components.split_last() {
        Some((name, parent)) => (parent.join("/"), *name),
        None => (String::new(), "."),
    };

    let entries = list_dir(&context_dir.join(&parent));
    let suggestion = did_you_mean(name, entries.iter().map(String::as_str)).map(|found| {
        if parent.is_empty() {
            found.to_string()
        } else {
            format!("{parent}/{found}")
        }
    });
    let label = match &suggestion {
        Some(found) => format!("did you mean `{found}`?"),
        None => "no such file or directory in the context".to_string(),
    };
    // A file named like the glob exists: its `[`, `*` or `?` were read as glob syntax.
    if has_glob(&input.value) && fs::symlink_metadata(context_dir.join(&input.value)).is_ok() {
        return Diagnostic::new(
            Code::MissingContextInput,
            format!("`{}` is a glob that does not match the file of that name", input.value),
        )
        .label(input.span, "`[`, `*` and `?` are glob syntax in a context path")
        .help("write each `[`, `*` or `?` of the file name as `[[]`, `[*]` or `[?]`, such as `\"a[[]1].txt\"` for `a[1].txt`");
    }

    Diagnostic::new(
        Code::MissingContextInput,
        format!(
            "`{}` matches nothing in the build context `{}`",
            input.value,
            context_dir.display()
        ),
    )
    .label(input.span, label)
    .help(
        "context paths are relative to the build context directory, which is the spec's directory unless \
         --context names another; fix the path, or add the file to the context",
    )
}

fn components(path: &str) -> Vec<&str> {
    path.split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect()
}

fn list_dir(dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Returns the context-relative paths that `pattern` matches, walking only the
/// directories the pattern can reach. `**` matches any number of directories.
fn find_matches(context_dir: &Path, pattern: &str) -> Vec<String> {
    let parts = components(pattern);
    let mut found = Vec::new();
    walk(context_dir, "", &parts, &mut found);
    found.sort();
    found.dedup();
    found
}

fn walk(dir: &Path, prefix: &str, parts: &[&str], found: &mut Vec<String>) {
    let Some((part, rest)) = parts.split_first() else {
        found.push(if prefix.is_empty() {
            ".".to_string()
        } else {
            prefix.to_string()
        });
        return;
    };
    let child = |name: &str| {
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}/{name}")
        }
    };

    if *part == ".." {
        // Only reached inside the context (escapes are filtered out before).
        let parent = prefix.rsplit_once('/').map_or("", |(parent, _)| parent);
        walk(&dir.join(".."), parent, rest, found);
        return;
    }

    if *part == "**" {
        walk(dir, prefix, rest, found);
        for name in list_dir(dir) {
            let path = dir.join(&name);
            if path.is_dir() {
                walk(&path, &child(&name), parts, found);
            }
        }
        return;
    }

    if !has_glob(part) {
        let path = dir.join(part);
        if fs::symlink_metadata(&path).is_ok() {
            walk(&path, &child(part), rest, found);
        }
        return;
    }

    for name in list_dir(dir) {
        if glob_match(part, &name) {
            walk(&dir.join(&name), &child(&name), rest, found);
        }
    }
}

fn has_glob(text: &str) -> bool {
    text.contains(['*', '?', '[', '\\'])
}

/// Returns whether `path` is excluded by a `.dockerignore`-style `pattern`: the
/// pattern matches the path or one of its parent directories.
fn is_excluded(path: &str, pattern: &str) -> bool {
    let pattern_parts = components(pattern.trim_start_matches('/'));
    let path_parts = components(path);
    (1..=path_parts.len()).any(|len| match_parts(&pattern_parts, &path_parts[..len]))
}

fn match_parts(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| match_parts(rest, &path[skip..])),
        Some((part, rest)) => path
            .split_first()
            .is_some_and(|(name, path_rest)| glob_match(part, name) && match_parts(rest, path_rest)),
    }
}

/// Matches one path component against a pattern with `*`, `?`, `[...]`
/// classes (ranges, and `^` or `!` to negate) and `\` escapes, the syntax
/// of Go's `filepath.Match` that Docker uses for context paths.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    match_from(&pattern, &name)
}

fn match_from(pattern: &[char], name: &[char]) -> bool {
    let Some((&first, rest)) = pattern.split_first() else {
        return name.is_empty();
    };
    match first {
        '*' => (0..=name.len()).any(|skip| match_from(rest, &name[skip..])),
        '?' => !name.is_empty() && match_from(rest, &name[1..]),
        '[' => {
            let Some((&c, name_rest)) = name.split_first() else {
                return false;
            };
            match match_class(rest, c) {
                Some((true, after)) => match_from(after, name_rest),
                Some((false, _)) => false,
                // An unclosed `[` is taken literally.
                None => c == '[' && match_from(rest, name_rest),
            }
        }
        '\\' if !rest.is_empty() => name.first() == Some(&rest[0]) && match_from(&rest[1..], &name[1..]),
        literal => name.first() == Some(&literal) && match_from(rest, &name[1..]),
    }
}

/// Matches `c` against the class after `[`. Returns whether it matched and
/// the pattern after the closing `]`, or `None` if the class is unclosed.
fn match_class(pattern: &[char], c: char) -> Option<(bool, &[char])> {
    let (negated, mut rest) = match pattern.first() {
        Some('^' | '!') => (true, &pattern[1..]),
        _ => (false, pattern),
    };
    let mut matched = false;
    let mut first = true;
    loop {
        let (&start, after) = rest.split_first()?;
        if start == ']' && !first {
            return Some((matched != negated, after));
        }
        first = false;
        let (start, after) = if start == '\\' {
            (*after.first()?, &after[1..])
        } else {
            (start, after)
        };
        if after.first() == Some(&'-') && after.get(1).is_some_and(|end| *end != ']') {
            let end = after[1];
            matched |= start <= c && c <= end;
            rest = &after[2..];
        } else {
            matched |= start == c;
            rest = after;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_match_table() {
        let cases = [
            ("*.go", "main.go", true),
            ("*.go", "main.rs", false),
            ("m?in.go", "main.go", true),
            ("[a-c]at", "bat", true),
            ("[!a-c]at", "bat", false),
            ("[^a-c]at", "rat", true),
            ("\\*", "*", true),
            ("\\*", "a", false),
            ("[", "[", true),
            ("*", "", true),
        ];
        for (pattern, name, expected) in cases {
            assert_eq!(glob_match(pattern, name), expected, "{pattern} {name}");
        }
    }

    #[test]
    fn exclusion_covers_parent_directories() {
        assert!(is_excluded("docs/a.md", "docs"));
        assert!(is_excluded("a/b/c.md", "**/*.md"));
        assert!(is_excluded("secret.env", "/secret.env"));
        assert!(!is_excluded("src/main.go", "*.md"));
    }

    fn check(source: &str, files: &[&str]) -> Vec<(Code, String)> {
        let context = tempfile::tempdir().expect("temp dir");
        for file in files {
            let path = context.path().join(file);
            fs::create_dir_all(path.parent().expect("file has a parent")).expect("create dir");
            fs::write(&path, "x").expect("write file");
        }
        let compilation = crate::compile::check(source);
        let spec = compilation.spec.expect("valid KDL");
        let mut diagnostics = Diagnostics::default();
        check_context_inputs(&spec, context.path(), &mut diagnostics);
        diagnostics
            .into_iter()
            .map(|d| (d.code, d.labels[0].text.clone()))
            .collect()
    }

    #[test]
    fn context_inputs_table() {
        let files = ["go.mod", "main.go", "cmd/app/main.go", "docs/readme.md"];
        let cases: &[(&str, usize)] = &[
            (
                r#"stage "a" from="alpine:3" { copy "go.mod" "main.go" "." to="/src/" }"#,
                0,
            ),
            (r#"stage "a" from="alpine:3" { copy "*.go" "cmd" to="/src/" }"#, 0),
            (
                r#"stage "a" from="alpine:3" { copy "cmd/*/main.go" "**/*.md" to="/src/" }"#,
                0,
            ),
            (r#"stage "a" from="alpine:3" { copy "go.sum" to="/src/" }"#, 1),
            (r#"stage "a" from="alpine:3" { copy "*.rs" "internal" to="/src/" }"#, 2),
            (
                r#"stage "a" from="alpine:3" { run "true" { bind "/m" source="vendor" } }"#,
                1,
            ),
            (
                r#"context { exclude "docs" }; stage "a" from="alpine:3" { copy "docs" to="/d/" }"#,
                1,
            ),
            (
                r#"context { exclude "*.md" }; stage "a" from="alpine:3" { copy "docs" to="/d/" }"#,
                0,
            ),
            (r#"stage "a" from="alpine:3" { copy "../outside" to="/d/" }"#, 0),
        ];
        for (source, expected) in cases {
            let found = check(source, &files);
            assert_eq!(found.len(), *expected, "{source}: {found:?}");
            assert!(
                found.iter().all(|(code, _)| *code == Code::MissingContextInput),
                "{source}"
            );
        }
    }

    #[test]
    fn literal_bracket_file_gets_escape_help() {
        let files = ["a[1].txt"];
        let found = check(r#"stage "a" from="alpine:3" { copy "a[1].txt" to="/d/" }"#, &files);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].1.contains("glob syntax"), "{found:?}");
        assert!(check(r#"stage "a" from="alpine:3" { copy "a[[]1].txt" to="/d/" }"#, &files).is_empty());
    }

    #[test]
    fn missing_input_suggests_sibling_file() {
        let found = check(
            r#"stage "a" from="alpine:3" { copy "cmd/app/mian.go" to="/src/" }"#,
            &["cmd/app/main.go"],
        );
        assert_eq!(
            found,
            [(Code::MissingContextInput, "did you mean `cmd/app/main.go`?".to_string())]
        );
    }
}
