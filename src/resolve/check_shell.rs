//! Shell checks: shell-form commands in a stage with no shell (SC0401), and
//! exec-form argvs whose program name a shell would have split or expanded
//! (SC0402). The latter is a warning, and an error in a stage with no shell,
//! where neither form can run the command.

use super::chain::{Root, Stages};
use super::images;
use crate::diag::{Code, Diagnostic, Diagnostics, Severity, Span, display_value};
use crate::model::{CommandForm, Spanned, StepKind};

pub fn check(stages: &Stages<'_>, diagnostics: &mut Diagnostics) {
    let shells = shell_facts(stages);

    for (index, stage) in stages.spec.stages.iter().enumerate() {
        for step in &stage.steps {
            let (command, node) = match &step.kind {
                StepKind::Run(run) => (&run.command, "run"),
                StepKind::Cmd(command) => (command, "cmd"),
                StepKind::Entrypoint(command) => (command, "entrypoint"),
                StepKind::Healthcheck(healthcheck) => match &healthcheck.command {
                    Some(command) => (command, "healthcheck"),
                    None => continue,
                },
                _ => continue,
            };

            match &command.form {
                CommandForm::Shell(text) => {
                    let shell = &shells[index];
                    if !shell.present {
                        diagnostics.push(shell_form_without_shell(stage.name.as_str(), node, text, shell));
                    }
                }
                CommandForm::Exec(argv) => {
                    if let Some(diagnostic) = shell_syntax_in_exec_form(node, argv, &shells[index]) {
                        diagnostics.push(diagnostic);
                    }
                }
            }
        }
    }
}

/// Whether a stage has a shell, and the declaration that decides it.
#[derive(Debug, Clone)]
struct ShellFact {
    present: bool,
    span: Span,
    reason: String,
}

fn shell_facts(stages: &Stages<'_>) -> Vec<ShellFact> {
    stages.inherit(
        |root| match root {
            Root::Scratch(span) => ShellFact {
                present: false,
                span: *span,
                reason: "based on scratch, the empty image with no /bin/sh".to_string(),
            },
            Root::Image(reference) => match images::facts(&reference.value).has_shell {
                Some(false) => ShellFact {
                    present: false,
                    span: reference.span,
                    reason: format!("`{}` has no shell", reference.value),
                },
                // Unknown images are assumed to have /bin/sh, as most do.
                _ => ShellFact {
                    present: true,
                    span: reference.span,
                    reason: String::new(),
                },
            },
            Root::Unknown => ShellFact {
                present: true,
                span: Span::default(),
                reason: String::new(),
            },
        },
        |index, inherited| match &stages.stage(index).has_shell {
            Some(declared) => ShellFact {
                present: declared.value,
                span: declared.span,
                reason: format!("declared shell={}", if declared.value { "#true" } else { "#false" }),
            },
            None => inherited,
        },
    )
}

fn shell_form_without_shell(stage: &str, node: &str, text: &Spanned<String>, shell: &ShellFact) -> Diagnostic {
    let argv = split_simple(&text.value);
    let exec_form = match &argv {
        // One word in `run` is still shell form; exec=#true makes it an argv.
        Some(argv) if node == "run" && argv.len() == 1 => format!("`run {} exec=#true`", quote_all(argv)),
        Some(argv) => format!("`{node} {}`", quote_all(argv)),
        None => String::new(),
    };
    let help = if exec_form.is_empty() {
        format!(
            "the command uses shell syntax, so run it in a stage whose base has /bin/sh; if `{stage}` does have a \
             shell, declare shell=#true on the stage"
        )
    } else {
        format!(
            "write it in exec form, which needs no shell: {exec_form}; if `{stage}` does have a shell, declare \
             shell=#true on the stage"
        )
    };

    Diagnostic::new(
        Code::ShellFormWithoutShell,
        format!("shell-form `{node}` in stage `{stage}`, which has no shell"),
    )
    .label(text.span, "needs /bin/sh to run")
    .label(shell.span, shell.reason.clone())
    .help(help)
}

/// Splits text into words when it has no quoting or shell syntax, so the
/// exec form means exactly what the shell form did.
fn split_simple(text: &str) -> Option<Vec<&str>> {
    let special = |c: char| "\"'\\$`|&;<>()*?[]{}~#=!".contains(c) || c == '\n';
    if text.contains(special) || text.trim().is_empty() {
        return None;
    }
    Some(text.split_whitespace().collect())
}

fn quote_all(words: &[&str]) -> String {
    words
        .iter()
        .map(|word| format!("\"{}\"", escape(&display_value(word))))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Returns why an exec-form program name looks like it expects a shell, if
/// it does. Only the program is judged: later arguments reach the program
/// as text, and programs take `*`, `>` or `$1` in arguments on purpose.
fn program_shell_syntax(program: &str) -> Option<&'static str> {
    if program.trim() != program || program.contains(char::is_whitespace) {
        return Some("a program name with spaces, which exec form does not split into arguments");
    }
    if ["&&", "||", "|", ";", ">", "<"]
        .iter()
        .any(|operator| program.contains(operator))
    {
        return Some("a shell operator in the program name, which exec form passes on as it is");
    }
    if program.contains('`') || program.contains("$(") {
        return Some("a command substitution, which only a shell performs");
    }
    let bytes = program.as_bytes();
    let expands = bytes
        .windows(2)
        .any(|pair| pair[0] == b'$' && (pair[1] == b'{' || pair[1] == b'_' || pair[1].is_ascii_alphabetic()));
    if expands {
        return Some("a variable that is never expanded without a shell");
    }
    if program.contains(['*', '?']) {
        return Some("a glob that is never expanded without a shell");
    }
    None
}

fn shell_syntax_in_exec_form(node: &str, argv: &[Spanned<String>], shell: &ShellFact) -> Option<Diagnostic> {
    let program = argv.first()?;
    let reason = program_shell_syntax(&program.value)?;

    let words: Vec<&str> = argv.iter().map(|argument| argument.as_str()).collect();
    let text = words.join(" ");
    let split = argv.len() == 1 && split_simple(&text).is_some_and(|words| words.len() > 1);
    let split_argv = quote_all(&text.split_whitespace().collect::<Vec<_>>());

    let diagnostic = Diagnostic::new(
        Code::ShellSyntaxInExecForm,
        format!(
            "exec-form `{node}` program `{}` needs a shell",
            display_value(&program.value)
        ),
    )
    .label(program.span, reason);

    if !shell.present {
        let help = if split {
            format!("split it into arguments: `{node} {split_argv}`; a stage without a shell cannot run shell syntax")
        } else {
            "this stage has no shell, so run the command as a program with its arguments, or base the stage on an \
             image with /bin/sh"
                .to_string()
        };
        return Some(
            diagnostic
                .severity(Severity::Error)
                .label(shell.span, shell.reason.clone())
                .help(help),
        );
    }

    let shown = escape(&display_value(&text));
    let shell_form = match node {
        "run" if argv.len() == 1 => "remove exec=#true so that the shell runs it".to_string(),
        "run" => format!("write it as one string so that the shell runs it: `run \"{shown}\"`"),
        _ => format!("or run it through the shell: `{node} shell=\"{shown}\"`"),
    };
    let help = match (split, node) {
        (true, "run") => format!("split it into arguments: `run {split_argv}`, or {shell_form}"),
        (true, _) => format!("split it into arguments: `{node} {split_argv}`, {shell_form}"),
        (false, "run") => shell_form,
        (false, _) => format!("pass each argument separately, {shell_form}"),
    };
    Some(diagnostic.help(help))
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use crate::diag::Code::{self, ShellFormWithoutShell, ShellSyntaxInExecForm};
    use crate::resolve::test_support::{codes_among, first_among};

    const CODES: &[Code] = &[ShellFormWithoutShell, ShellSyntaxInExecForm];

    #[test]
    fn shell_checks_table() {
        let cases: &[(&str, &[Code])] = &[
            (
                r#"stage "a" from="scratch" { cmd shell="/app/main --port 8080" }"#,
                &[ShellFormWithoutShell],
            ),
            (
                r#"stage "a" from="scratch" { run "echo hi" }"#,
                &[ShellFormWithoutShell],
            ),
            (r#"stage "a" from="scratch" { run "/app/setup" "--init" }"#, &[]),
            (
                r#"stage "a" from="scratch" { entrypoint shell="/app/main" }"#,
                &[ShellFormWithoutShell],
            ),
            (
                r#"stage "a" from="scratch" { healthcheck shell="/app/main -check" }"#,
                &[ShellFormWithoutShell],
            ),
            (
                r#"stage "a" from="gcr.io/distroless/static-debian12" { cmd shell="/app" }"#,
                &[ShellFormWithoutShell],
            ),
            (
                r#"stage "a" from="gcr.io/distroless/static-debian12:debug" { cmd shell="/app" }"#,
                &[],
            ),
            (
                r#"stage "a" from="alpine:3" shell=#false { run "true" }"#,
                &[ShellFormWithoutShell],
            ),
            (r#"stage "a" from="scratch" shell=#true { run "true" }"#, &[]),
            // The shell fact is inherited through `from=` chains.
            (
                r#"stage "a" from="scratch"; stage "b" from="a" { cmd shell="/app" }"#,
                &[ShellFormWithoutShell],
            ),
            (
                r#"stage "a" from="scratch"; stage "b" from="a" shell=#true { cmd shell="/app" }"#,
                &[],
            ),
            (r#"stage "a" from="example.com/app:1" { run "true" }"#, &[]),
            (
                r#"stage "a" from="alpine:3" { cmd "/app/main --port 8080" }"#,
                &[ShellSyntaxInExecForm],
            ),
            (r#"stage "a" from="alpine:3" { cmd "/app/main" "--port" "8080" }"#, &[]),
            // Later arguments are the program's business.
            (r#"stage "a" from="alpine:3" { run "make" "&&" "make" "install" }"#, &[]),
            (r#"stage "a" from="alpine:3" { cmd "echo" "$HOME" }"#, &[]),
            (r#"stage "a" from="alpine:3" { cmd "rm" "*.tmp" }"#, &[]),
            (
                r#"stage "a" from="alpine:3" { cmd "app" "--exclude=*.md" "http://x/*" }"#,
                &[],
            ),
            (
                r#"stage "a" from="alpine:3" { cmd "/app" "--sql" "SELECT * FROM t WHERE a > 1" }"#,
                &[],
            ),
            (r#"stage "a" from="alpine:3" { cmd "/app" "--glob" "*.txt" }"#, &[]),
            (r#"stage "a" from="alpine:3" { cmd "echo" "`date`" }"#, &[]),
            (
                r#"stage "a" from="alpine:3" { cmd "/bin/sh" "-c" "echo $HOME && ls *" }"#,
                &[],
            ),
            (
                r#"stage "a" from="alpine:3" { cmd "$APP_HOME/bin/app" "--serve" }"#,
                &[ShellSyntaxInExecForm],
            ),
            (
                r#"stage "a" from="alpine:3" { cmd "make&&make" }"#,
                &[ShellSyntaxInExecForm],
            ),
            (
                r#"stage "a" from="alpine:3" { cmd "/bin/*" }"#,
                &[ShellSyntaxInExecForm],
            ),
            (
                r#"stage "a" from="alpine:3" { run "go build ./..." exec=#true }"#,
                &[ShellSyntaxInExecForm],
            ),
            (
                r#"stage "a" from="alpine:3" { healthcheck "wget -q localhost" }"#,
                &[ShellSyntaxInExecForm],
            ),
            (r#"stage "a" from="alpine:3" { cmd "price" "$5" }"#, &[]),
            // A missing `from=` leaves the base unknown, not scratch.
            (r#"stage "a" form="alpine:3" { run "true" }"#, &[]),
        ];
        for (source, expected) in cases {
            assert_eq!(codes_among(source, CODES), *expected, "{source}");
        }
    }

    #[test]
    fn shell_form_in_scratch_suggests_exec_form() {
        let source = r#"stage "a" from="scratch" { cmd shell="/app/main --port 8080" }"#;
        let diagnostic = first_among(source, ShellFormWithoutShell);
        let help = diagnostic.help.unwrap_or_default();
        assert!(help.contains(r#"`cmd "/app/main" "--port" "8080"`"#), "{help}");
        assert_eq!(
            diagnostic.labels[1].text,
            "based on scratch, the empty image with no /bin/sh"
        );
    }

    #[test]
    fn one_word_run_in_scratch_suggests_exec_flag() {
        let source = r#"stage "a" from="scratch" { run "/busybox" }"#;
        let help = first_among(source, ShellFormWithoutShell).help.unwrap_or_default();
        assert!(help.contains(r#"`run "/busybox" exec=#true`"#), "{help}");
    }

    #[test]
    fn program_needing_shell_in_scratch_is_an_error() {
        let source = r#"stage "a" from="scratch" { cmd "/app --port 8080" }"#;
        let diagnostic = first_among(source, ShellSyntaxInExecForm);
        assert_eq!(diagnostic.severity, crate::diag::Severity::Error);
        let help = diagnostic.help.unwrap_or_default();
        assert!(help.contains(r#"`cmd "/app" "--port" "8080"`"#), "{help}");
        assert!(!help.contains("shell="), "{help}");

        let with_shell = r#"stage "a" from="alpine:3" { cmd "/app --port 8080" }"#;
        assert_eq!(
            first_among(with_shell, ShellSyntaxInExecForm).severity,
            crate::diag::Severity::Warning
        );
    }

    #[test]
    fn help_escapes_control_characters() {
        let source = r#"stage "a" from="alpine:3" { cmd "/app\n--x y" }"#;
        let help = first_among(source, ShellSyntaxInExecForm).help.unwrap_or_default();
        assert!(!help.contains('\n'), "{help:?}");
    }

    #[test]
    fn argv_with_spaces_suggests_split() {
        let source = r#"stage "a" from="alpine:3" { cmd "/app/main --port 8080" }"#;
        let help = first_among(source, ShellSyntaxInExecForm).help.unwrap_or_default();
        assert!(help.contains(r#"`cmd "/app/main" "--port" "8080"`"#), "{help}");
        assert!(help.contains(r#"`cmd shell="/app/main --port 8080"`"#), "{help}");
    }
}
