//! The build context as one `local://context` source. Its include patterns
//! name exactly the context inputs that the build's copies and bind mounts
//! read, so the client sends nothing else, and `context { exclude }`
//! patterns apply to all of them.

use crate::llb::{Fs, Graph, LocalSource, OpMetadata, SourceOp};
use crate::lower::{BindSource, BuildGraph, BuildStepKind, CopySource, MountKind};

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
        let mut inputs = ContextInputs::default();
        let mut used = false;
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
                            for path in paths {
                                add(Some(&path.value), &mut inputs);
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
        if !used {
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
