//! Shell completions and the man page, generated from the clap definition
//! so they always match the flags.

use clap::CommandFactory;

use super::{Failure, write_stdout};
use super::args::Cli;

pub fn completions(shell: clap_complete::Shell) -> Result<(), Failure> {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "stagec", &mut out);
    write_stdout(&out)
}

/// Writes one roff document: the main page, then a section per command.
pub fn man_page() -> Result<(), Failure> {
    let command = Cli::command();
    let mut out = Vec::new();
    let write = |error: std::io::Error| Failure::io(format!("cannot write the man page: {error}"));

    clap_mangen::Man::new(command.clone()).render(&mut out).map_err(write)?;
    for sub in command.get_subcommands().filter(|sub| sub.get_name() != "help") {
        let name = format!("stagec-{}", sub.get_name());
        let page = sub.clone().name(name);
        clap_mangen::Man::new(page).render(&mut out).map_err(write)?;
    }

    write_stdout(&out)
}
