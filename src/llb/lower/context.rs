//! The build context as one `local://context` source. Its include patterns
//! name exactly the context inputs that the build's copies and bind mounts
//! read, so the client sends nothing else, and `context { exclude }`
//! patterns apply to all of them.

use crate::llb::{Fs, Graph, LocalSource, OpMetadata, SourceOp, digest_of};
use crate::lower::{BindSource, BuildGraph, BuildStepKind, CopySource, CopyStep, MountKind};
use crate::model::Spanned;

/// Whether the context source can send the context path `path`. BuildKit
/// trims whitespace around each include pattern, so a name that starts or
/// ends with whitespace would never reach the build.
pub fn is_sendable(path: &str) -> bool {
    let relative = context_relative(path);
    relative.trim() == relative
}

/// Name of the local directory the engine client serves, as in BuildKit's
/// Dockerfile frontend.
pub const CONTEXT_NAME: &str = "context";

/// The context inputs of a build, relative to the context root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContextInputs {
    /// Sorted and without repeats. Empty when `whole` is set.
    pub paths: Vec<String>,
    /// A bind mount or copy reads the whole context.
    pub whole: bool,
    pub excludes: Vec<String>,
}

impl ContextInputs {
    /// Collects the context paths that `graph` reads.
    pub fn collect(graph: &BuildGraph) -> Option<ContextInputs> {
        ContextInputs::collect_for(graph, false)
    }

    /// Collects the context paths that `graph` reads. With
    /// `filter_copies_at_source`, the paths of a copy with `include` or
    /// `exclude` patterns and no wildcards are left out, because that copy
    /// reads its own source (see [`ContextInputs::add_filtered_source`]).
    pub(super) fn collect_for(graph: &BuildGraph, filter_copies_at_source: bool) -> Option<ContextInputs> {
        let mut inputs = ContextInputs::default();
        let mut used = false;
        let mut read_by_filtered_copy = false;
        let mut add = |path: Option<&str>, inputs: &mut ContextInputs| {
            used = true;
            match path.map(context_relative) {
                Some(relative) if !relative.is_empty() => inputs.paths.push(relative),
                _ => inputs.whole = true,
            }
        };

        for stage in &graph.stages {
            for step in &stage.steps {
                match &step.kind {
                    BuildStepKind::Copy(copy) => {
                        if let CopySource::Context(paths) = &copy.source {
                            let own_source = filter_copies_at_source && filters_at_source(copy, paths);
                            for path in paths {
                                if own_source {
                                    read_by_filtered_copy = true;
                                } else {
                                    add(Some(&path.value), &mut inputs);
                                }
                            }
                        }
                    }
                    BuildStepKind::Run(run) => {
                        for mount in &run.mounts {
                            if let MountKind::Bind {
                                source: BindSource::Context(path),
                                ..
                            } = &mount.kind
                            {
                                add(path.as_ref().map(|path| path.value.as_str()), &mut inputs);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        if !used && !read_by_filtered_copy {
            return None;
        }

        inputs.paths.sort();
        inputs.paths.dedup();
        if inputs.whole {
            inputs.paths.clear();
        }
        inputs.excludes = graph
            .context_excludes
            .iter()
            .map(|pattern| pattern.value.clone())
            .collect();
        Some(inputs)
    }

    /// Adds the local source to `graph`.
    pub fn add_source(&self, graph: &mut Graph) -> Fs {
        let local = LocalSource {
            name: CONTEXT_NAME.to_string(),
            session_id: None,
            include_patterns: self.paths.clone(),
            exclude_patterns: self.excludes.clone(),
            // Like the Dockerfile frontend, follow symlinks on the input
            // paths so that a linked input sends its target.
            follow_paths: self.paths.clone(),
            shared_key_hint: Some(CONTEXT_NAME.to_string()),
        };
        let metadata = OpMetadata {
            custom_name: Some("[internal] load build context".to_string()),
            ..OpMetadata::default()
        };
        graph.source(SourceOp::local(&local), None, metadata)
    }

    /// Adds a local source that sends only what one copy reads: the files
    /// below `paths` (relative to the context root, without wildcards)
    /// that match the copy's `include` patterns and none of its `exclude`
    /// patterns. Copying `paths` from it then gives what a copy action with
    /// those patterns gives, on engines whose copy actions take no patterns.
    pub(super) fn add_filtered_source(
        &self,
        graph: &mut Graph,
        paths: &[String],
        include: &[String],
        exclude: &[String],
        step_name: &str,
    ) -> Fs {
        let mut include_patterns = Vec::new();
        let mut exclude_patterns = self.excludes.clone();
        for path in paths {
            if include.is_empty() {
                include_patterns.push(path.clone());
            }
            include_patterns.extend(include.iter().map(|pattern| join_pattern(path, pattern)));
            exclude_patterns.extend(exclude.iter().map(|pattern| join_pattern(path, pattern)));
        }
        // The whole context without include patterns is every file.
        if include.is_empty() && paths.iter().any(String::is_empty) {
            include_patterns.clear();
        }

        // One hint per pattern set, so that the engine keeps each filtered
        // copy of the context apart and a later build sends only changes.
        let patterns = serde_json::json!([include_patterns, exclude_patterns]).to_string();
        let hint = format!("{CONTEXT_NAME}-{}", &digest_of(patterns.as_bytes())[7..19]);
        let local = LocalSource {
            name: CONTEXT_NAME.to_string(),
            session_id: None,
            include_patterns,
            exclude_patterns,
            // The client adds follow paths to the include patterns, so the
            // copied paths cannot be follow paths here.
            // NOTE: a copied path that is a symlink to a directory is
            // therefore not followed, and its copy fails on these engines.
            follow_paths: Vec::new(),
            shared_key_hint: Some(hint),
        };
        let metadata = OpMetadata {
            custom_name: Some(format!("[internal] load build context for {step_name}")),
            ..OpMetadata::default()
        };
        graph.source(SourceOp::local(&local), None, metadata)
    }
}

/// Returns whether a copy on an engine without copy patterns reads its own
/// filtered source: it has patterns, and no path has a wildcard.
pub(super) fn filters_at_source(copy: &CopyStep, paths: &[Spanned<String>]) -> bool {
    let has_patterns = !copy.include.is_empty() || !copy.exclude.is_empty();
    has_patterns && !paths.iter().any(|path| has_wildcard(&path.value))
}

pub(super) fn has_wildcard(path: &str) -> bool {
    path.contains(['*', '?', '[', '\\'])
}

/// Prefixes a copy pattern, which is relative to the copied path, with that
/// path, so that it applies to the whole context.
fn join_pattern(path: &str, pattern: &str) -> String {
    let mut relative = pattern;
    while let Some(rest) = relative.strip_prefix("./").or_else(|| relative.strip_prefix('/')) {
        relative = rest;
    }
    if path.is_empty() {
        relative.to_string()
    } else {
        format!("{path}/{relative}")
    }
}

/// Returns a context path relative to the context root, without `./`, leading or
/// trailing `/`, `.` or `..` components; empty for the root itself.
pub fn context_relative(path: &str) -> String {
    super::state::clean_path(&format!("/{path}"))
        .trim_start_matches('/')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::{LowerOptions, lower};

    fn inputs(source: &str) -> Option<ContextInputs> {
        let compilation = crate::compile::check(source);
        assert!(!compilation.has_errors(), "{:?}", compilation.diagnostics);
        let spec = compilation.spec.expect("a spec");
        ContextInputs::collect(&lower(&spec, &compilation.graph, &LowerOptions::default()).expect("lowers"))
    }

    #[test]
    fn collects_copy_and_bind_paths() {
        let found = inputs(
            r#"
context { exclude "**/*.md" }
stage "b" from="alpine:3" {
    copy "./src/" "go.mod" to="/src/"
    copy "go.mod" to="/again/"
    run "ls /cfg" network="none" { bind "/cfg" source="config" }
}
image "b" tag="b:1"
"#,
        )
        .expect("uses the context");
        assert_eq!(found.paths, ["config", "go.mod", "src"]);
        assert!(!found.whole);
        assert_eq!(found.excludes, ["**/*.md"]);
    }

    #[test]
    fn whole_context_bind_drops_patterns() {
        let found = inputs(
            r#"
stage "b" from="alpine:3" {
    copy "go.mod" to="/src/"
    run "ls /ctx" network="none" { bind "/ctx" }
}
image "b" tag="b:1"
"#,
        )
        .expect("uses the context");
        assert!(found.whole);
        assert!(found.paths.is_empty());
    }

    #[test]
    fn no_context_input_no_source() {
        let found = inputs("stage \"b\" from=\"alpine:3\" {\n    cmd \"true\"\n}\nimage \"b\" tag=\"b:1\"\n");
        assert_eq!(found, None);
    }

    #[test]
    fn context_relative_table() {
        assert_eq!(context_relative("./src/"), "src");
        assert_eq!(context_relative("/go.mod"), "go.mod");
        assert_eq!(context_relative("."), "");
        assert_eq!(context_relative("a/../b/*.go"), "b/*.go");
    }
}
