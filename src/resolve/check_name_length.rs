//! Paths whose file or directory names are longer than Linux file systems
//! allow (NAME_MAX, 255 bytes). The build would fail in the middle with
//! "file name too long"; the spec can say so first.

use super::chain::Stages;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::model::{CopySource, Spanned, StepKind};

/// NAME_MAX of ext4, xfs, btrfs and overlayfs.
const NAME_MAX: usize = 255;

pub fn check(stages: &Stages<'_>, diagnostics: &mut Diagnostics) {
    for stage in &stages.spec.stages {
        for artifact in &stage.artifacts {
            check_path(&artifact.path, "artifact `path`", diagnostics);
        }
        for step in &stage.steps {
            match &step.kind {
                StepKind::Workdir(path) => check_path(path, "`workdir`", diagnostics),
                StepKind::Volume(paths) => paths.iter().for_each(|path| check_path(path, "`volume`", diagnostics)),
                StepKind::Copy(copy) => {
                    check_path(&copy.to, "`copy to=`", diagnostics);
                    match &copy.source {
                        CopySource::Context(paths) => {
                            paths
                                .iter()
                                .for_each(|path| check_path(path, "`copy` source", diagnostics));
                        }
                        CopySource::StagePath { path, .. } => check_path(path, "`copy path=`", diagnostics),
                        CopySource::Artifact { .. } => {}
                    }
                }
                _ => {}
            }
        }
    }
}

fn check_path(path: &Spanned<String>, what: &str, diagnostics: &mut Diagnostics) {
    let Some(long) = path.value.split('/').find(|name| name.len() > NAME_MAX) else {
        return;
    };
    diagnostics.push(
        Diagnostic::new(
            Code::InvalidValue,
            format!(
                "{what} has a {}-byte file name, over the {NAME_MAX}-byte limit of Linux file systems",
                long.len()
            ),
        )
        .label(path.span, "a name in this path is too long")
        .help(format!(
            "shorten each file and directory name in the path to at most {NAME_MAX} bytes"
        )),
    );
}

#[cfg(test)]
mod tests {
    use crate::diag::Code;

    #[test]
    fn long_copy_destination_name_is_an_error() {
        let name = "y".repeat(256);
        let source =
            format!("stage \"a\" from=\"alpine:3\" {{\n    copy \"f\" to=\"/x/{name}\"\n}}\nimage \"a\" tag=\"a:1\"\n");
        let codes: Vec<Code> = crate::compile::check(&source)
            .diagnostics
            .iter()
            .map(|d| d.code)
            .collect();
        assert!(codes.contains(&Code::InvalidValue), "{codes:?}");
    }

    #[test]
    fn name_of_255_bytes_is_accepted() {
        let name = "y".repeat(255);
        let source =
            format!("stage \"a\" from=\"alpine:3\" {{\n    workdir \"/x/{name}\"\n}}\nimage \"a\" tag=\"a:1\"\n");
        let compilation = crate::compile::check(&source);
        assert!(!compilation.has_errors(), "{:?}", compilation.diagnostics);
    }
}
