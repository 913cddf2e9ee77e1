//! The command-line definition. Help text, the man page and shell
//! completions are all generated from these clap types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  stagec check app.kdl
  stagec dockerfile app.kdl -o Dockerfile
  stagec dockerfile app.kdl --check Dockerfile
  stagec explain SC0101

Exit codes:
  0  success (warnings allowed unless --deny-warnings)
  1  the spec has errors, or --check found a stale file
  2  invalid command line
  3  a file could not be read or written";

#[derive(Debug, Parser)]
#[command(
    name = "stagec",
    version,
    about = "Compile declarative container build specs (KDL) into Dockerfiles",
    long_about = "stagec validates how artifacts flow between the builder and runtime stages of a KDL \
                  spec, reports mistakes with their place in the spec, and writes a Dockerfile that \
                  builds the declared images.",
    after_help = EXAMPLES,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// When to colour diagnostics.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,

    /// Log progress to stderr (-v info, -vv debug). RUST_LOG overrides it.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a spec and report every error and warning.
    #[command(after_help = "Example:\n  stagec check specs/examples/go-web/app.kdl")]
    Check(CheckArgs),

    /// Write the Dockerfile (and its ignore file) a spec compiles to.
    #[command(after_help = "\
Examples:
  stagec dockerfile app.kdl                  print the Dockerfile
  stagec dockerfile app.kdl -o Dockerfile    write Dockerfile and Dockerfile.dockerignore
  stagec dockerfile app.kdl --check Dockerfile
                                             exit 1 with a diff when Dockerfile is stale")]
    Dockerfile(DockerfileArgs),

    /// Print the long explanation of a diagnostic code.
    #[command(after_help = "Example:\n  stagec explain SC0101\n  stagec explain unknown-stage")]
    Explain(ExplainArgs),

    /// Print a shell completion script.
    #[command(after_help = "Example:\n  stagec completions bash > /etc/bash_completion.d/stagec")]
    Completions(CompletionsArgs),

    /// Print the man page (roff) for stagec and its commands.
    #[command(after_help = "Example:\n  stagec man | man -l -")]
    Man,
}

#[derive(Debug, Args)]
pub struct SpecArgs {
    /// The spec file, or `-` for standard input.
    #[arg(value_name = "SPEC")]
    pub spec: PathBuf,

    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = MessageFormat::Human)]
    pub message_format: MessageFormat,

    /// Treat warnings as errors.
    #[arg(long)]
    pub deny_warnings: bool,

    /// Build context directory that context inputs are relative to
    /// [default: the spec's directory].
    #[arg(long, value_name = "DIR")]
    pub context: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
}

#[derive(Debug, Args)]
pub struct DockerfileArgs {
    #[command(flatten)]
    pub spec: SpecArgs,

    /// Write the Dockerfile to PATH, and the ignore file to PATH.dockerignore.
    /// Both are replaced atomically; a failed compile leaves them untouched.
    #[arg(short, long, value_name = "PATH", conflicts_with = "check")]
    pub output: Option<PathBuf>,

    /// Compare with the Dockerfile at PATH (and PATH.dockerignore) instead
    /// of writing; exit 1 with a diff when they differ.
    #[arg(long, value_name = "PATH")]
    pub check: Option<PathBuf>,

    /// Overwrite an output file that stagec did not generate.
    #[arg(long)]
    pub force: bool,

    /// Dockerfile syntax level to emit for, from 1.2 to 1.26. The default,
    /// 1.2, is what Docker 20.10's built-in frontend builds; a spec that
    /// needs more is rejected with a diagnostic naming the level.
    #[arg(long, value_name = "LEVEL")]
    pub dockerfile_syntax: Option<String>,

    /// The image output to build last, by stage name [default: the image
    /// output marked default=#true, or the only one].
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,

    /// Override a build arg's default, as NAME=VALUE. Repeatable.
    #[arg(long = "build-arg", value_name = "NAME=VALUE")]
    pub build_args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A code such as SC0101, or its name such as unknown-stage.
    pub code: String,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to generate completions for.
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MessageFormat {
    /// Rendered diagnostics with source snippets.
    Human,
    /// One JSON object per diagnostic per line.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}
