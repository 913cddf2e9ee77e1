//! The shell completions and the man page cover every subcommand. The
//! subcommands are read from the clap definition when the test runs, so a
//! command added later is checked without editing this file.

use assert_cmd::Command;
use clap::CommandFactory;
use stagec::cli::args::Cli;

/// Names of the subcommands that `stagec --help` lists: not hidden, and not
/// clap's own `help`.
fn visible_subcommands() -> Vec<String> {
    let names: Vec<String> = Cli::command()
        .get_subcommands()
        .filter(|command| !command.is_hide_set() && command.get_name() != "help")
        .map(|command| command.get_name().to_string())
        .collect();
    assert!(names.len() >= 10, "only {} subcommands: {names:?}", names.len());
    names
}

fn stagec_stdout(args: &[&str]) -> String {
    let output = Command::cargo_bin("stagec")
        .expect("stagec binary")
        .args(args)
        .output()
        .expect("running stagec");
    assert!(
        output.status.success(),
        "stagec {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// For each shell, the text that its script contains for a subcommand
/// NAME, in the layout that clap_complete writes.
const COMPLETION_MARKERS: &[(&str, &str)] = &[("bash", "stagec,NAME)"), ("zsh", "'NAME:"), ("fish", "-a \"NAME\"")];

#[test]
fn completions_mention_every_subcommand() {
    let subcommands = visible_subcommands();
    let mut missing = Vec::new();

    for (shell, marker) in COMPLETION_MARKERS {
        let script = stagec_stdout(&["completions", shell]);
        for name in &subcommands {
            let expected = marker.replace("NAME", name);
            if !script.contains(&expected) {
                missing.push(format!("{shell}: no `{expected}` for `stagec {name}`"));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn man_page_has_section_per_subcommand() {
    let page = stagec_stdout(&["man"]);
    assert!(
        page.starts_with(".ie") || page.contains(".TH stagec 1"),
        "not a roff man page"
    );

    let mut missing = Vec::new();
    for name in visible_subcommands() {
        // The main page lists each command as `stagec-NAME(1)`, with roff's `\-`.
        let reference = format!("stagec\\-{name}(1)");
        if !page.contains(&reference) {
            missing.push(format!("no `{reference}` in the main page's command list"));
        }
        let title = format!(".TH stagec-{name} 1");
        if !page.contains(&title) {
            missing.push(format!("no page `{title}` for `stagec {name}`"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn man_page_lists_flags_of_check() {
    let page = stagec_stdout(&["man"]);
    for flag in ["\\-\\-message\\-format", "\\-\\-deny\\-warnings", "\\-\\-context"] {
        assert!(page.contains(flag), "the man page lacks `{flag}`");
    }
}
