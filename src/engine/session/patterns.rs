//! Include and exclude patterns of a FileSync transfer, with the meaning
//! that BuildKit's sender gives them (github.com/moby/patternmatcher as
//! vendored by Docker Engine 26.1, the `.dockerignore` syntax):
//!
//! - `*` matches any run of characters except `/`, `?` one such character,
//!   and `[a-z]` a character class.
//! - `**` matches any number of folders, including none, so `**/x` also
//!   matches `x`, and a trailing `**` matches everything below.
//! - `\` makes the next character literal.
//! - A pattern that starts with `!` is an exception: it takes back the
//!   match of an earlier pattern.
//! - A path also matches when one of its parent folders matches, so `src`
//!   includes everything under `src/`.
//!
//! Patterns are cleaned like Go's `filepath.Clean` (`a//b/` is `a/b`) and
//! matched against paths relative to the served folder, with `/` separators.
//! A leading `/` is kept, so `/app` never matches, as in BuildKit.

use regex::Regex;

/// An ordered list of patterns, in which later patterns override earlier ones.
#[derive(Debug, Clone, Default)]
pub(crate) struct PatternSet {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone)]
struct Pattern {
    /// The cleaned pattern without its leading `!`.
    text: String,
    exception: bool,
    matcher: Matcher,
}

#[derive(Debug, Clone)]
enum Matcher {
    /// No wildcard: the path must equal the pattern.
    Exact(String),
    /// Literal text followed by a final `**`.
    Prefix(String),
    /// `**` followed by literal text, such as `**/name`.
    Suffix(String),
    Regex(Regex),
}

/// Per-pattern results for a folder, which its entries reuse: a path whose
/// parent folder matched pattern `i` matches pattern `i` as well.
#[derive(Debug, Clone, Default)]
pub(crate) struct ParentMatches {
    matched: Vec<bool>,
}

/// Characters that make a pattern more than a literal path.
const WILDCARD_CHARACTERS: &[char] = &['*', '?', '[', ']', '\\', '^'];

impl PatternSet {
    /// Parses `patterns` and skips blank ones. Returns the error message for
    /// a pattern that is only `!` or that has an unclosed `[`.
    pub(crate) fn new<S: AsRef<str>>(patterns: &[S]) -> Result<PatternSet, String> {
        let mut parsed = Vec::new();
        for raw in patterns {
            let trimmed = raw.as_ref().trim();
            if trimmed.is_empty() {
                continue;
            }
            let cleaned = clean_path(trimmed);
            let (exception, text) = match cleaned.strip_prefix('!') {
                Some("") => return Err("invalid exception pattern \"!\": it names nothing".to_string()),
                Some(rest) => (true, rest.to_string()),
                None => (false, cleaned),
            };
            let matcher = compile(&text).map_err(|error| format!("invalid pattern {:?}: {error}", raw.as_ref()))?;
            parsed.push(Pattern {
                text,
                exception,
                matcher,
            });
        }
        Ok(PatternSet { patterns: parsed })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|pattern| pattern.exception)
    }

    /// Matches `path`, given the results of its parent folder (`None` for a
    /// top-level entry), and returns the result together with the per-pattern
    /// results that the entries of `path` reuse when it is a folder.
    pub(crate) fn matches(&self, path: &str, parent: Option<&ParentMatches>) -> (bool, ParentMatches) {
        let parent = parent.filter(|parent| parent.matched.len() == self.patterns.len());
        let mut matched = false;
        let mut results = vec![false; self.patterns.len()];

        for (index, pattern) in self.patterns.iter().enumerate() {
            let mut hit = parent.is_some_and(|parent| parent.matched[index]);
            if !hit {
                // An include pattern cannot change a path that already
                // matched, and an exception cannot change one that did not.
                if pattern.exception != matched {
                    continue;
                }
                hit = pattern.matches(path);
                if !hit && parent.is_none() {
                    hit = ancestors(path).any(|ancestor| pattern.matches(ancestor));
                }
            }
            results[index] = hit;
            if hit {
                matched = !pattern.exception;
            }
        }
        (matched, ParentMatches { matched: results })
    }

    /// Returns whether some non-exception pattern might match a path below
    /// the folder `dir`. A `false` lets the walk skip a folder that did not
    /// match, such as `node_modules` when only `src` is included.
    pub(crate) fn may_include_below(&self, dir: &str) -> bool {
        self.patterns
            .iter()
            .filter(|pattern| !pattern.exception)
            .any(|pattern| may_match_below(&pattern.text, dir))
    }

    /// Returns whether an exception might take back the match of a path
    /// below the folder `dir`. A `false` lets the walk skip an excluded folder.
    pub(crate) fn may_except_below(&self, dir: &str) -> bool {
        self.has_exceptions()
            && self
                .patterns
                .iter()
                .filter(|pattern| pattern.exception)
                .any(|pattern| may_match_below(&pattern.text, dir))
    }
}

impl Pattern {
    fn matches(&self, path: &str) -> bool {
        match &self.matcher {
            Matcher::Exact(text) => path == text,
            Matcher::Prefix(prefix) => path.starts_with(prefix.as_str()),
            Matcher::Suffix(suffix) => {
                path.ends_with(suffix.as_str()) || suffix.strip_prefix('/').is_some_and(|rest| path == rest)
            }
            Matcher::Regex(regex) => regex.is_match(path),
        }
    }
}

/// Returns whether the copy source `source`, a context path or glob,
/// covers the context path `path` (relative, with `/` separators): `path`
/// matches it or lies in a folder that matches it.
pub(crate) fn source_covers(source: &str, path: &str) -> bool {
    PatternSet::new(&[source]).is_ok_and(|set| set.matches(path, None).0)
}

/// Returns whether a path that starts with `dir/` could match `pattern`:
/// the literal text before the first wildcard must agree with `dir/` on
/// their common length.
fn may_match_below(pattern: &str, dir: &str) -> bool {
    let literal_end = pattern.find(WILDCARD_CHARACTERS).unwrap_or(pattern.len());
    let literal = &pattern[..literal_end];
    let below = format!("{dir}/");
    let common = literal.len().min(below.len());
    literal.as_bytes()[..common] == below.as_bytes()[..common]
}

/// Yields the parent folders of `path`, shortest first: `a`, `a/b` for `a/b/c`.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(index, _)| &path[..index])
}

/// Translates a cleaned pattern into its matcher.
fn compile(pattern: &str) -> Result<Matcher, String> {
    #[derive(PartialEq)]
    enum Kind {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }

    let mut kind = Kind::Exact;
    let mut expression = String::from("^");
    let characters: Vec<char> = pattern.chars().collect();
    let mut position = 0;

    while position < characters.len() {
        let character = characters[position];
        let at_start = position == 0;
        position += 1;
        match character {
            '*' if characters.get(position) == Some(&'*') => {
                position += 1;
                // `**/` means the same as `**`.
                if characters.get(position) == Some(&'/') {
                    position += 1;
                }
                if position == characters.len() {
                    if kind == Kind::Exact {
                        kind = Kind::Prefix;
                    } else {
                        expression.push_str(".*");
                        kind = Kind::Regex;
                    }
                } else {
                    expression.push_str("(.*/)?");
                    kind = Kind::Regex;
                }
                if at_start {
                    kind = Kind::Suffix;
                }
            }
            '*' => {
                expression.push_str("[^/]*");
                kind = Kind::Regex;
            }
            '?' => {
                expression.push_str("[^/]");
                kind = Kind::Regex;
            }
            '\\' => match characters.get(position) {
                Some(&escaped) => {
                    position += 1;
                    expression.push_str(&regex::escape(&escaped.to_string()));
                    kind = Kind::Regex;
                }
                None => expression.push_str(r"\\"),
            },
            '[' | ']' => {
                expression.push(character);
                kind = Kind::Regex;
            }
            '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$' => {
                expression.push('\\');
                expression.push(character);
            }
            _ => expression.push(character),
        }
    }

    Ok(match kind {
        Kind::Exact => Matcher::Exact(pattern.to_string()),
        Kind::Prefix => Matcher::Prefix(pattern[..pattern.len() - 2].to_string()),
        Kind::Suffix => Matcher::Suffix(pattern[2..].to_string()),
        Kind::Regex => {
            expression.push('$');
            let expression = go_classes_to_rust(&expression)?;
            Matcher::Regex(Regex::new(&expression).map_err(|error| one_line(&error))?)
        }
    })
}

/// Rewrites the character classes of a Go (RE2) expression into the Rust
/// `regex` syntax. BuildKit compiles the translated pattern with Go's
/// `regexp`, where `[` inside a class is a literal (so `[[]` matches `[`),
/// a `]` right after `[` or `[^` is a literal, and `&&`, `--` and `~~` have
/// no special meaning. In Rust `[` opens a nested class and those pairs are
/// set operations, so they are escaped here.
fn go_classes_to_rust(expression: &str) -> Result<String, String> {
    let characters: Vec<char> = expression.chars().collect();
    let mut translated = String::with_capacity(expression.len());
    let mut in_class = false;
    let mut position = 0;

    while position < characters.len() {
        let character = characters[position];
        position += 1;

        if character == '\\' {
            translated.push(character);
            if let Some(&escaped) = characters.get(position) {
                translated.push(escaped);
                position += 1;
            }
            continue;
        }

        if !in_class {
            translated.push(character);
            if character == '[' {
                in_class = true;
                if characters.get(position) == Some(&'^') {
                    translated.push('^');
                    position += 1;
                }
                if characters.get(position) == Some(&']') {
                    translated.push_str("\\]");
                    position += 1;
                }
            }
            continue;
        }

        match character {
            ']' => {
                translated.push(']');
                in_class = false;
            }
            // A POSIX class such as `[:digit:]` means the same in both syntaxes.
            '[' if characters.get(position) == Some(&':') => {
                let rest: String = characters[position..].iter().collect();
                match rest.find(":]") {
                    Some(end) => {
                        translated.push('[');
                        translated.push_str(&rest[..end + 2]);
                        position += rest[..end + 2].chars().count();
                    }
                    None => translated.push_str("\\["),
                }
            }
            '[' | '&' | '~' => {
                translated.push('\\');
                translated.push(character);
            }
            '-' if translated.ends_with('-') && !translated.ends_with("\\-") => translated.push_str("\\-"),
            _ => translated.push(character),
        }
    }

    if in_class {
        return Err("unclosed character class: a `[` has no matching `]`".to_string());
    }
    Ok(translated)
}

/// Returns the last line of a `regex` error, which states the problem
/// without the multi-line excerpt of the expression.
fn one_line(error: &regex::Error) -> String {
    let text = error.to_string();
    let last = text.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or(&text);
    last.trim().trim_start_matches("error: ").to_string()
}

/// Cleans a slash-separated path lexically, like Go's `path.Clean`: it
/// drops empty and `.` elements, resolves `..` against the element before
/// it, and removes a trailing `/`. An empty result is `.`.
pub(crate) fn clean_path(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Matches `path` the way a walk does: every parent folder first, each
    /// with its own parent's results.
    fn walk_match(patterns: &[&str], path: &str) -> bool {
        let set = PatternSet::new(patterns).expect("valid patterns");
        let mut parent: Option<ParentMatches> = None;
        let mut result = false;
        let mut prefix = String::new();
        for part in path.split('/') {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            let (matched, info) = set.matches(&prefix, parent.as_ref());
            result = matched;
            parent = Some(info);
        }
        result
    }

    #[test]
    fn pattern_table() {
        let cases: &[(&[&str], &str, bool)] = &[
            (&["app.txt"], "app.txt", true),
            (&["app.txt"], "app.txt.bak", false),
            (&["src"], "src/main.go", true),
            (&["src"], "srcx/main.go", false),
            (&["*.go"], "main.go", true),
            (&["*.go"], "cmd/main.go", false),
            (&["**/*.go"], "cmd/tool/main.go", true),
            (&["**/*.go"], "main.go", true),
            (&["**/vendor"], "vendor/x.go", true),
            (&["**/vendor"], "a/vendor/x.go", true),
            (&["docs/**"], "docs/a/b.md", true),
            (&["docs/**"], "docsx", false),
            (&["a?c"], "abc", true),
            (&["a?c"], "a/c", false),
            (&["[ab].txt"], "b.txt", true),
            (&["[ab].txt"], "c.txt", false),
            (&["a.txt"], "abtxt", false),
            (&[r"a\*b"], "a*b", true),
            (&[r"a\*b"], "axb", false),
            (&["src", "!src/secret.key"], "src/secret.key", false),
            (&["src", "!src/secret.key"], "src/main.go", true),
            (&["*", "!*.md", "README.md"], "README.md", true),
            (&["*", "!*.md"], "NOTES.md", false),
            (&["./src/"], "src/a", true),
            (&["/app"], "app", false),
        ];
        for (patterns, path, expected) in cases {
            assert_eq!(walk_match(patterns, path), *expected, "{patterns:?} against {path}");
        }
    }

    #[test]
    fn pattern_without_parent_results() {
        let set = PatternSet::new(&["src/**/*.go"]).expect("valid");
        assert!(set.matches("src/a/b/c.go", None).0);
        let set = PatternSet::new(&["src"]).expect("valid");
        assert!(set.matches("src/a/b", None).0, "a parent folder match counts");
    }

    #[test]
    fn pattern_only_bang_rejected() {
        let error = PatternSet::new(&["!"]).expect_err("a bare ! is invalid");
        assert!(error.contains("\"!\""), "{error}");
    }

    #[test]
    fn pattern_unclosed_class_rejected() {
        let error = PatternSet::new(&["[abc"]).expect_err("an unclosed class is invalid");
        assert!(error.contains("[abc"), "{error}");
    }

    #[test]
    fn pattern_bracket_classes_like_go() {
        let cases: &[(&str, &str, bool)] = &[
            ("a[[]1].txt", "a[1].txt", true),
            ("a[[]1].txt", "a1].txt", false),
            ("[]]x", "]x", true),
            ("[^]]x", "ax", true),
            ("[^]]x", "]x", false),
            ("[a&&b]", "&", true),
            ("[+--]", ",", true),
            ("[a~~b]", "~", true),
            ("[[:digit:]].txt", "7.txt", true),
            ("[[:digit:]].txt", "x.txt", false),
            ("[a-c]", "b", true),
            ("[a-c]", "d", false),
        ];
        for (pattern, path, expected) in cases {
            assert_eq!(walk_match(&[pattern], path), *expected, "{pattern} against {path}");
        }
    }

    #[test]
    fn pattern_error_is_one_line() {
        let error = PatternSet::new(&["a[1.txt"]).expect_err("an unclosed class is invalid");
        assert!(!error.contains('\n'), "{error}");
    }

    #[test]
    fn source_covers_table() {
        assert!(source_covers("go.mod", "go.mod"));
        assert!(source_covers("src", "src/main.go"));
        assert!(source_covers("*.go", "main.go"));
        assert!(source_covers("./src/", "src/a/b.go"));
        assert!(!source_covers("src", "srcx/main.go"));
        assert!(!source_covers("go.mod", "go.sum"));
    }

    #[test]
    fn blank_patterns_skipped() {
        let set = PatternSet::new(&["  ", ""]).expect("valid");
        assert!(set.is_empty());
    }

    #[test]
    fn include_below_prunes_folders() {
        let set = PatternSet::new(&["src/app", "docs/*.md"]).expect("valid");
        assert!(set.may_include_below("src"));
        assert!(set.may_include_below("docs"));
        assert!(!set.may_include_below("node_modules"));
        assert!(!set.may_include_below("srcx"));

        let everywhere = PatternSet::new(&["**/*.go"]).expect("valid");
        assert!(everywhere.may_include_below("anything"));
    }

    #[test]
    fn exceptions_below_excluded_folder() {
        let set = PatternSet::new(&["build", "!build/keep.txt"]).expect("valid");
        assert!(set.may_except_below("build"));
        assert!(!set.may_except_below("other"));
        let plain = PatternSet::new(&["build"]).expect("valid");
        assert!(!plain.may_except_below("build"));
    }

    #[test]
    fn clean_path_table() {
        let cases = [
            ("a//b/", "a/b"),
            ("./a/./b", "a/b"),
            ("a/../b", "b"),
            ("../a", "../a"),
            ("/../a", "/a"),
            ("", "."),
            ("/", "/"),
            ("!x/", "!x"),
        ];
        for (input, expected) in cases {
            assert_eq!(clean_path(input), expected, "{input}");
        }
    }
}
