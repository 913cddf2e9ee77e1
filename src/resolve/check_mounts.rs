//! SC0307: run mounts on `/`, which BuildKit rejects, and two mounts of one
//! run on the same target, where the later one hides the earlier.

use std::collections::BTreeMap;

use super::chain::Stages;
use super::unix_path;
use crate::diag::{Code, Diagnostic, Diagnostics, Span, display_value};
use crate::model::{Mount, MountKind, StepKind};

pub fn check(stages: &Stages<'_>, diagnostics: &mut Diagnostics) {
    for stage in &stages.spec.stages {
        for step in &stage.steps {
            let StepKind::Run(run) = &step.kind else { continue };

            let mut first: BTreeMap<String, (Span, &'static str)> = BTreeMap::new();
            for mount in &run.mounts {
                let Some((target, span)) = target(mount) else { continue };
                // A relative target is SC0304.
                if !unix_path::is_absolute(&target) {
                    continue;
                }
                let normalized = unix_path::normalize(&target);
                let kind = kind_name(&mount.kind);

                if normalized == "/" {
                    diagnostics.push(
                        Diagnostic::new(Code::InvalidMountTarget, format!("`{kind}` mount on `/`"))
                            .label(span, "the root cannot be a mount target")
                            .help(format!(
                                "mount the `{kind}` on the directory the command uses, such as `/root/.cache` or \
                                 `/tmp`"
                            )),
                    );
                    continue;
                }

                match first.get(&normalized) {
                    Some(&(earlier, earlier_kind)) => diagnostics.push(
                        Diagnostic::new(
                            Code::InvalidMountTarget,
                            format!("two mounts of one `run` on `{}`", display_value(&normalized)),
                        )
                        .label(span, format!("this `{kind}` hides the `{earlier_kind}` mount"))
                        .label(earlier, format!("`{earlier_kind}` mounted here first"))
                        .help("give each mount its own target directory, or remove one of them"),
                    ),
                    None => {
                        first.insert(normalized, (span, kind));
                    }
                }
            }
        }
    }
}

/// Returns the target a mount uses and the span to label. A secret mount
/// without `target=` or `env=` goes to `/run/secrets/ID`. An ssh mount
/// without `target=` gets a socket path that BuildKit chooses, which cannot clash.
fn target(mount: &Mount) -> Option<(String, Span)> {
    match &mount.kind {
        MountKind::Cache { target, .. } | MountKind::Tmpfs { target, .. } | MountKind::Bind { target, .. } => {
            Some((target.value.clone(), target.span))
        }
        MountKind::Secret {
            target: Some(target), ..
        }
        | MountKind::Ssh {
            target: Some(target), ..
        } => Some((target.value.clone(), target.span)),
        MountKind::Secret {
            id,
            target: None,
            env: None,
            ..
        } => Some((format!("/run/secrets/{}", id.value), mount.span)),
        MountKind::Secret { env: Some(_), .. } | MountKind::Ssh { target: None, .. } => None,
    }
}

fn kind_name(kind: &MountKind) -> &'static str {
    match kind {
        MountKind::Cache { .. } => "cache",
        MountKind::Secret { .. } => "secret",
        MountKind::Ssh { .. } => "ssh",
        MountKind::Tmpfs { .. } => "tmpfs",
        MountKind::Bind { .. } => "bind",
    }
}

#[cfg(test)]
mod tests {
    use crate::diag::Code::InvalidMountTarget;
    use crate::resolve::test_support::{codes_among, first_among};

    #[test]
    fn mount_target_table() {
        let run = |mounts: &str| format!(r#"secret "t"; stage "a" from="alpine:3" {{ run "true" {{ {mounts} }} }}"#);
        let cases = [
            (r#"cache "/""#, 1),
            (r#"tmpfs "/./""#, 1),
            (r#"bind "//" source=".""#, 1),
            (r#"cache "/c"; cache "/c" id="other""#, 1),
            (r#"cache "/c/"; tmpfs "/c/.""#, 1),
            (r#"cache "/c"; cache "/d"; tmpfs "/e""#, 0),
            (r#"secret "t"; secret "t""#, 1),
            (r#"secret "t" target="/run/secrets/t"; secret "t" env="T""#, 0),
            (r#"ssh; ssh"#, 0),
            (r#"cache "c"; cache "c""#, 0),
        ];
        for (mounts, expected) in cases {
            let source = run(mounts);
            assert_eq!(codes_among(&source, &[InvalidMountTarget]).len(), expected, "{source}");
        }
    }

    #[test]
    fn duplicate_target_labels_both_mounts() {
        let source = r#"stage "a" from="alpine:3" { run "true" { cache "/c"; tmpfs "/c" } }"#;
        let diagnostic = first_among(source, InvalidMountTarget);
        assert_eq!(diagnostic.labels.len(), 2);
        assert_eq!(diagnostic.labels[0].text, "this `tmpfs` hides the `cache` mount");
    }
}
