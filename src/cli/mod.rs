//! The `stagec` command line: a thin layer that reads files, calls the
//! library, prints diagnostics and chooses the exit code.

pub mod args;
mod build;
mod build_outputs;
mod check;
mod dockerfile;
mod explain;
mod files;
mod fmt;
mod frontend;
mod generated;
mod graph;
mod import;
mod init;
mod llb;
mod lock;

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

use crate::compile::{self, Compilation};
use crate::diag::render::{RenderOptions, render_report};
use args::{Cli, ColorChoice, Command, MessageFormat, SpecArgs};

/// Exit code for a spec with errors or a stale `--check` file.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code for an invalid command line (clap uses it too), and for an
/// output file that a command will not overwrite without `--force`.
pub const EXIT_USAGE: u8 = 2;
/// Exit code for a file that could not be read or written.
pub const EXIT_IO: u8 = 3;

/// A failure that ends the command with a message and an exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: Option<String>,
}

impl Failure {
    pub fn io(message: String) -> Self {
        Failure { code: EXIT_IO, message: Some(message) }
    }

    pub fn usage(message: String) -> Self {
        Failure { code: EXIT_USAGE, message: Some(message) }
    }

    /// Exit 1 after diagnostics or a diff were already printed.
    pub fn reported() -> Self {
        Failure { code: EXIT_FAILURE, message: None }
    }
}

/// Parses the process arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);

    let color = match cli.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };

    let result = match &cli.command {
        Command::Check(args) => check::run(args, color),
        Command::Dockerfile(args) => dockerfile::run(args, color),
        Command::Explain(args) => explain::run(args),
        Command::Fmt(args) => fmt::run(args, color),
        Command::Graph(args) => graph::run(args, color),
        Command::Llb(args) => llb::run(args, color),
        Command::Lock(args) => lock::run(args, color),
        Command::Build(args) => build::run(args, color),
        Command::Init(args) => init::run(args),
        Command::Import(args) => import::run(args),
        Command::Completions(args) => generated::completions(args.shell),
        Command::Man => generated::man_page(),
        Command::Frontend => frontend::run(),
    };

    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if let Some(message) = failure.message {
                eprintln!("error: {message}");
            }
            ExitCode::from(failure.code)
        }
    }
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => tracing_subscriber::filter::LevelFilter::WARN,
        1 => tracing_subscriber::filter::LevelFilter::INFO,
        _ => tracing_subscriber::filter::LevelFilter::DEBUG,
    };
    // Colour escape codes are noise in a pipe or a log file.
    let subscriber = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time();

    // Without RUST_LOG a level filter is enough, and it skips the directive
    // parser of `EnvFilter`, which compiles a regex for a field-value directive.
    let _ = match std::env::var_os("RUST_LOG") {
        Some(_) => {
            let filter = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level.to_string()));
            subscriber.with_env_filter(filter).try_init()
        }
        None => subscriber.with_max_level(level).try_init(),
    };
}

/// A spec read from disk or stdin, with the names used in messages.
pub struct LoadedSpec {
    /// The spec path as the user wrote it, used in diagnostics and headers.
    pub display_name: String,
    pub source: String,
    pub context_dir: PathBuf,
}

pub fn load_spec(args: &SpecArgs) -> Result<LoadedSpec, Failure> {
    let (display_name, source, default_context) = if args.spec == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)
            .map_err(|error| Failure::io(format!("cannot read the spec from standard input: {error}")))?;
        let source = String::from_utf8(bytes).map_err(|error| {
            Failure::io(format!(
                "the spec on standard input is not valid UTF-8 (invalid byte at offset {}); KDL files must be UTF-8",
                error.utf8_error().valid_up_to()
            ))
        })?;
        ("<stdin>".to_string(), source, PathBuf::from("."))
    } else {
        let bytes = std::fs::read(&args.spec)
            .map_err(|error| Failure::io(format!("cannot read spec `{}`: {error}", args.spec.display())))?;
        let source = String::from_utf8(bytes).map_err(|error| {
            Failure::io(format!(
                "spec `{}` is not valid UTF-8 (invalid byte at offset {}); KDL files must be UTF-8",
                args.spec.display(),
                error.utf8_error().valid_up_to()
            ))
        })?;
        let parent = args.spec.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        (args.spec.display().to_string(), source, parent.to_path_buf())
    };

    let context_dir = args.context.clone().unwrap_or(default_context);
    if !context_dir.is_dir() {
        let reason = if context_dir.exists() { "is not a directory" } else { "not found" };
        return Err(Failure::io(format!("build context `{}` {reason}", context_dir.display())));
    }
    tracing::info!(spec = %display_name, context = %context_dir.display(), "loaded spec");
    Ok(LoadedSpec { display_name, source, context_dir })
}

/// Compiles and checks a loaded spec, including the context inputs on disk
/// and the `--build-arg` overrides (unknown names, and values that turn a
/// `from=` into a stage name).
pub fn compile_loaded(spec: &LoadedSpec, build_args: &BTreeMap<String, String>) -> Compilation {
    let mut compilation = compile::check(&spec.source);
    if let Some(model) = &compilation.spec {
        if spec.context_dir.is_dir() {
            crate::resolve::check_context_inputs(model, &spec.context_dir, &mut compilation.diagnostics);
        }
        compilation.diagnostics.extend(crate::resolve::check_build_arg_overrides(model, build_args));
        compilation.diagnostics.sort();
    }
    compilation
}

/// Parses repeated `--build-arg NAME=VALUE` flags; a later one wins.
pub fn parse_build_args(values: &[String]) -> Result<BTreeMap<String, String>, Failure> {
    let mut args = BTreeMap::new();
    for value in values {
        let Some((name, text)) = value.split_once('=') else {
            return Err(Failure::usage(format!("--build-arg `{value}` must be NAME=VALUE")));
        };
        if !crate::model::interpolate::is_arg_name(name) {
            return Err(Failure::usage(format!(
                "--build-arg `{value}`: `{name}` is not a valid arg name (letters, digits and _, not starting with a digit)"
            )));
        }
        args.insert(name.to_string(), text.to_string());
    }
    Ok(args)
}

/// Prints diagnostics in the chosen format to stderr. Returns whether the
/// run must fail: any error, or any warning under `--deny-warnings`.
pub fn report(compilation_diagnostics: &crate::diag::Diagnostics, spec: &LoadedSpec, args: &SpecArgs, color: bool) -> bool {
    // Rendering indexes every line of the spec, which costs more than the
    // whole compile of a large spec, so skip it when there is nothing to show.
    if compilation_diagnostics.is_empty() {
        return false;
    }
    let text = match args.message_format {
        MessageFormat::Human => {
            let options = RenderOptions { color, unicode: true, width: terminal_width() };
            render_report(compilation_diagnostics, &spec.display_name, &spec.source, &options, args.deny_warnings)
        }
        MessageFormat::Json => crate::diag::json::render_lines(compilation_diagnostics, &spec.display_name, &spec.source),
    };
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());

    compilation_diagnostics.has_errors() || (args.deny_warnings && !compilation_diagnostics.is_empty())
}

/// Writes command output to stdout. A closed pipe (`stagec ... | head`) ends
/// the output quietly instead of failing.
pub fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(error) => Err(Failure::io(format!("cannot write to standard output: {error}"))),
    }
}

fn terminal_width() -> usize {
    std::env::var("COLUMNS").ok().and_then(|value| value.parse().ok()).unwrap_or(100)
}
