//! `copy` steps as file ops, the way BuildKit's Dockerfile frontend lowers
//! `COPY` and `COPY --from` (`dispatchCopy` in dockerfile2llb/convert.go).
//! Each step is one file op with one copy action per source. The actions
//! follow symlinks, copy a directory's contents, create the destination's
//! parents, and match `*` globs.

use super::Lowering;
use super::state::StageState;
use crate::diag::Span;
use crate::llb::{Chown, CopyAction, FileAction, FileOp, OpMetadata};
use crate::lower::{self, CopySource};
use crate::model::ArtifactKind;

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
    pub(super) fn copy(
        &mut self,
        state: &mut StageState,
        copy: &lower::CopyStep,
        name: String,
        span: Span,
    ) -> Option<ArtifactSource> {
        // (source filesystem, absolute source path) per source.
        let mut sources = Vec::new();
        let mut directory = false;
        let mut artifact = None;
        match &copy.source {
            CopySource::Context(paths) => {
                let context = self.context_fs();
                for path in paths {
                    sources.push((context, format!("/{}", super::context::context_relative(&path.value))));
                }
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
        let mut dest = state.absolute(&self.path_text(&copy.to.value));
        if (sources.len() > 1 || directory) && !dest.ends_with('/') {
            dest.push('/');
        }
        let owner = copy.owner.as_ref().map(|owner| Chown::parse(&self.path_text(owner)));
        let mode = copy.mode.as_ref().map(|mode| mode.value);
        let include_patterns: Vec<String> = copy.include.iter().map(|pattern| pattern.value.clone()).collect();
        let exclude_patterns: Vec<String> = copy.exclude.iter().map(|pattern| pattern.value.clone()).collect();

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
