//! `copy` steps as file ops, the way BuildKit's Dockerfile frontend lowers
//! `COPY` and `COPY --from` (`dispatchCopy` in dockerfile2llb/convert.go).
//! Each step is one file op with one copy action per source. The actions
//! follow symlinks, copy a directory's contents, create the destination's
//! parents, and match `*` globs.

use super::Lowering;
use super::context::{self, context_relative, has_wildcard};
use super::state::StageState;
use crate::diag::{Code, Diagnostic, Span};
use crate::llb::caps::FILE_COPY_INCLUDE_EXCLUDE_PATTERNS;
use crate::llb::{Chown, CopyAction, FileAction, FileOp, OpMetadata};
use crate::lower::{self, CopySource};
use crate::model::{ArtifactKind, Spanned};

/// The source of a copy from another stage, to explain a failed copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactSource {
    /// The producing stage, as the spec names it.
    pub stage: String,
    /// Absolute path in that stage.
    pub path: String,
    /// The artifact's `path=` in the spec, or the copy's `path=` for a raw path.
    pub span: Span,
}

impl Lowering<'_> {
    /// Reports a context path that the context source cannot send.
    fn report_untransferable(&mut self, path: &Spanned<String>) {
        self.diagnostics.push(
            Diagnostic::new(
                Code::UnrepresentableValue,
                format!("context path {:?} starts or ends with whitespace", path.value),
            )
            .label(path.span, "BuildKit trims the include patterns that select the files to send")
            .help("rename the file so that its name neither starts nor ends with whitespace"),
        );
    }

    pub(super) fn copy(
        &mut self,
        state: &mut StageState,
        copy: &lower::CopyStep,
        name: String,
        span: Span,
    ) -> Option<ArtifactSource> {
        let include_patterns: Vec<String> = copy.include.iter().map(|pattern| pattern.value.clone()).collect();
        let exclude_patterns: Vec<String> = copy.exclude.iter().map(|pattern| pattern.value.clone()).collect();
        let first_pattern = copy.include.first().or(copy.exclude.first());
        // Without the capability, a copy action ignores its patterns.
        let patterns_unsupported = first_pattern.is_some() && !self.caps.supports(FILE_COPY_INCLUDE_EXCLUDE_PATTERNS);

        // (source filesystem, absolute source path) per source.
        let mut sources = Vec::new();
        let mut directory = false;
        let mut artifact = None;
        match &copy.source {
            CopySource::Context(paths) if patterns_unsupported => {
                if let Some(path) = paths.iter().find(|path| has_wildcard(&path.value)) {
                    self.report_unsupported(
                        FILE_COPY_INCLUDE_EXCLUDE_PATTERNS,
                        "a copy of a context path with wildcards and `include` or `exclude` patterns",
                        path.span,
                        "name the directories to copy without wildcards",
                    );
                    return None;
                }
                let relative: Vec<String> = paths.iter().map(|path| context_relative(&path.value)).collect();
                let inputs = self.context_inputs.clone().unwrap_or_default();
                let filtered =
                    inputs.add_filtered_source(&mut self.graph, &relative, &include_patterns, &exclude_patterns, &name);
                sources.extend(relative.iter().map(|path| (filtered, format!("/{path}"))));
            }
            CopySource::Context(paths) => {
                if let Some(path) = paths.iter().find(|path| !context::is_sendable(&path.value)) {
                    self.report_untransferable(path);
                    return None;
                }
                let context = self.context_fs();
                for path in paths {
                    sources.push((context, format!("/{}", context_relative(&path.value))));
                }
            }
            CopySource::Stage { .. } if patterns_unsupported => {
                let pattern = first_pattern.expect("a copy with unsupported patterns has a pattern");
                self.report_unsupported(
                    FILE_COPY_INCLUDE_EXCLUDE_PATTERNS,
                    "a copy from another stage with `include` or `exclude` patterns",
                    pattern.span,
                    "make the producing stage write only the needed files into the artifact's directory",
                );
                return None;
            }
            CopySource::Stage { stage, path, kind } => {
                directory = *kind == Some(ArtifactKind::Dir);
                sources.push((self.stage_fs(*stage), super::state::clean_path(&path.value)));
                artifact = Some(ArtifactSource {
                    stage: self.build.stage(*stage).name.value.clone(),
                    path: super::state::clean_path(&path.value),
                    span: path.span,
                });
            }
        }

        // Several sources, or a directory's contents, go into a directory,
        // which the Dockerfile backend marks with a trailing `/`.
        let mut dest = state.absolute(&state.expand(&copy.to.value, &self.args));
        if (sources.len() > 1 || directory) && !dest.ends_with('/') {
            dest.push('/');
        }
        let owner = copy
            .owner
            .as_ref()
            .map(|owner| Chown::parse(&state.expand(owner, &self.args)));
        let mode = copy.mode.as_ref().map(|mode| mode.value);
        // The filtered source already applied the patterns.
        let (include_patterns, exclude_patterns) = if patterns_unsupported {
            (Vec::new(), Vec::new())
        } else {
            (include_patterns, exclude_patterns)
        };

        let actions = sources
            .into_iter()
            .map(|(source, src)| {
                FileAction::Copy(CopyAction {
                    source,
                    src,
                    dest: dest.clone(),
                    owner: owner.clone(),
                    mode,
                    follow_symlinks: true,
                    dir_copy_contents: true,
                    attempt_unpack: false,
                    create_dest_path: true,
                    allow_wildcard: true,
                    allow_empty_wildcard: true,
                    include_patterns: include_patterns.clone(),
                    exclude_patterns: exclude_patterns.clone(),
                })
            })
            .collect();

        let mut locations = vec![span];
        if let Some(artifact) = &artifact {
            locations.push(artifact.span);
        }
        let metadata = OpMetadata {
            custom_name: Some(name),
            locations,
            ..OpMetadata::default()
        };
        state.fs = self.graph.file(
            FileOp {
                base: state.fs,
                actions,
            },
            metadata,
        );
        artifact
    }
}
