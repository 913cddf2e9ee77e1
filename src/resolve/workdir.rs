//! The working directory in effect at each step. A relative `workdir` or
//! `copy to=` is resolved against it, so the path and destination checks
//! need it. It is inherited through `from=` chains like in a Dockerfile.

use super::chain::{Root, Stages};
use super::unix_path;
use crate::model::StepKind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Workdir {
    /// A normalized absolute path.
    Known(String),
    /// The working directory of a base image, which stagec cannot see.
    ImageDefault,
    /// Depends on a build arg, an unknown stage or a cycle: not checked.
    Unresolved,
}

impl Workdir {
    /// Resolves `path` against this directory.
    pub fn resolve(&self, path: &str) -> Workdir {
        if unix_path::starts_with_interpolation(path) {
            return Workdir::Unresolved;
        }
        if unix_path::is_absolute(path) {
            return Workdir::Known(unix_path::normalize(path));
        }
        match self {
            Workdir::Known(dir) => Workdir::Known(unix_path::join(dir, path)),
            Workdir::ImageDefault | Workdir::Unresolved => Workdir::Unresolved,
        }
    }
}

/// The workdir before each step of one stage.
#[derive(Debug, Clone)]
pub struct StageWorkdirs {
    pub before_step: Vec<Workdir>,
}

/// Computes the workdir before every step of every stage.
pub fn workdirs(stages: &Stages<'_>) -> Vec<StageWorkdirs> {
    let mut result = vec![
        StageWorkdirs {
            before_step: Vec::new()
        };
        stages.count()
    ];

    stages.inherit(
        |root| match root {
            // An empty image has no WorkingDir, and the runtime then uses `/`.
            Root::Scratch(_) => Workdir::Known("/".to_string()),
            Root::Image(_) => Workdir::ImageDefault,
            Root::Unknown => Workdir::Unresolved,
        },
        |index, inherited| {
            let mut current = inherited;
            let mut before_step = Vec::new();
            for step in &stages.stage(index).steps {
                before_step.push(current.clone());
                if let StepKind::Workdir(path) = &step.kind {
                    current = current.resolve(&path.value);
                }
            }
            result[index] = StageWorkdirs { before_step };
            current
        },
    );

    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Diagnostics;
    use crate::syntax::parse;

    #[test]
    fn relative_workdir_joins_base_stage_workdir() {
        let source = r#"
            stage "base" from="alpine:3" { workdir "/src"; run "true" }
            stage "app" from="base" { workdir "app"; run "true" }
            stage "other" from="alpine:3" { run "true" }
            stage "empty" from="scratch" { workdir "data"; run "true" }
        "#;
        let mut diagnostics = Diagnostics::default();
        let spec = crate::resolve::resolve(&parse(source).expect("valid KDL"), &mut diagnostics);
        let stages = Stages::new(&spec);
        let workdirs = workdirs(&stages);

        assert_eq!(
            workdirs[0].before_step,
            [Workdir::ImageDefault, Workdir::Known("/src".into())]
        );
        assert_eq!(workdirs[1].before_step[1], Workdir::Known("/src/app".into()));
        assert_eq!(workdirs[2].before_step[0], Workdir::ImageDefault);
        assert_eq!(workdirs[3].before_step[1], Workdir::Known("/data".into()));
    }
}
