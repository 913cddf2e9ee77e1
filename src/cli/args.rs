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
    #[command(after_help = "\
Examples:
  stagec check specs/examples/go-web/app.kdl
  stagec check app.kdl --dockerfile-syntax 1.4   also accept what Dockerfile syntax 1.4 can express")]
    Check(CheckArgs),

    /// Write the Dockerfile (and its ignore file) a spec compiles to.
    #[command(after_help = "\
Examples:
  stagec dockerfile app.kdl                  print the Dockerfile (the ignore file needs -o)
  stagec dockerfile app.kdl -o Dockerfile    write Dockerfile and Dockerfile.dockerignore
  stagec dockerfile app.kdl --check Dockerfile
                                             exit 1 with a diff when Dockerfile is stale")]
    Dockerfile(DockerfileArgs),

    /// Print the long explanation of a diagnostic code.
    #[command(after_help = "Example:\n  stagec explain SC0101\n  stagec explain unknown-stage")]
    Explain(ExplainArgs),

    /// Write the BuildKit LLB definition a spec compiles to.
    #[command(after_help = "\
Examples:
  stagec llb app.kdl > app.llb               the marshalled pb.Definition
  stagec llb app.kdl --format json           one JSON object per op, like `buildctl debug dump-llb`
  buildctl build --local context=. < app.llb build it with BuildKit's own client")]
    Llb(LlbArgs),

    /// Record the configuration of the spec's base images in SPEC.lock.
    #[command(after_help = "\
Examples:
  stagec lock app.kdl                        write app.kdl.lock from the engine at DOCKER_HOST
  stagec lock app.kdl --build-arg GO=1.20    add the images of another build arg value")]
    Lock(LockArgs),

    /// Build a spec's image on the BuildKit of Docker Engine, without a Dockerfile.
    #[command(after_help = "\
Examples:
  stagec build app.kdl
  stagec build app.kdl -t app:dev --network none --progress plain
  stagec build app.kdl --secret id=npm_token,env=NPM_TOKEN

Exit codes: 0 success, 1 the spec has errors or the build failed, 2 invalid command
line, 3 a file could not be read or written, 130 interrupted (Ctrl-C).")]
    Build(BuildArgs),

    /// Write a commented starter spec for the project in a directory.
    #[command(after_help = "\
Examples:
  stagec init                       detect the stack from go.mod, Cargo.toml, package.json, ...
  stagec init path/to/project --stack rust
  stagec init --print               print the spec instead of writing app.kdl")]
    Init(InitArgs),

    /// Convert a multi-stage Dockerfile into a spec.
    #[command(after_help = "\
Examples:
  stagec import Dockerfile                  print the spec
  stagec import Dockerfile -o app.kdl       write app.kdl (--force to replace an existing file)
  stagec import - < Dockerfile              read standard input

What a spec cannot express is kept as a `// stagec import:` comment and
reported as a warning with its Dockerfile line. Exit codes: 0 success
(warnings allowed unless --deny-warnings), 1 a Dockerfile syntax error or
denied warnings, 2 invalid command line or an existing output file,
3 a file could not be read or written.")]
    Import(ImportArgs),

    /// Rewrite specs in the canonical layout, keeping comments and meaning.
    #[command(after_help = "\
Examples:
  stagec fmt app.kdl                        rewrite app.kdl when it is not formatted
  stagec fmt --check specs/*.kdl            exit 1 with a diff when a spec is not formatted
  stagec fmt --diff app.kdl                 print the changes without writing
  stagec fmt - < app.kdl                    format standard input to standard output

Exit codes: 0 success, 1 a spec is not valid KDL or --check found an unformatted
spec, 2 invalid command line, 3 a file could not be read or written.")]
    Fmt(FmtArgs),

    /// Draw a spec's stages, context inputs, artifacts and images as a graph.
    #[command(after_help = "\
Examples:
  stagec graph app.kdl                      Graphviz DOT on standard output
  stagec graph app.kdl --format mermaid     a Mermaid flowchart, for Markdown
  stagec graph app.kdl --format svg -o app.svg
                                            an SVG laid out by stagec, no Graphviz needed
  stagec graph app.kdl --target debug       grey out what the debug stage does not need")]
    Graph(GraphArgs),

    /// Serve one build as a BuildKit gateway frontend over standard input and output.
    ///
    /// BuildKit runs this in the frontend image that a spec's `# syntax=` line
    /// names; it is not meant to be run by hand (see docs/frontend.md).
    #[command(hide = true)]
    Frontend,

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

    /// Dockerfile syntax level to check the spec against, as `stagec
    /// dockerfile` takes it: from 1.2 (the default, Docker 20.10's built-in
    /// frontend) to 1.26. A spec that needs a higher level is reported.
    #[arg(long, value_name = "LEVEL")]
    pub dockerfile_syntax: Option<String>,
}

#[derive(Debug, Args)]
pub struct DockerfileArgs {
    #[command(flatten)]
    pub spec: SpecArgs,

    /// Write the Dockerfile to PATH, and the ignore file to PATH.dockerignore.
    /// Both are replaced atomically; a failed compile leaves them untouched.
    /// Without -o, only the Dockerfile is printed, to standard output.
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
pub struct FmtArgs {
    /// The spec files to format, or `-` to format standard input to standard output.
    #[arg(value_name = "SPEC", required = true)]
    pub files: Vec<PathBuf>,

    /// Write nothing; exit 1 with a unified diff when a spec is not formatted.
    #[arg(long, conflicts_with = "diff")]
    pub check: bool,

    /// Write nothing; print a unified diff of the changes and exit 0.
    #[arg(long)]
    pub diff: bool,

    /// How to print diagnostics for specs that are not valid KDL.
    #[arg(long, value_enum, default_value_t = MessageFormat::Human)]
    pub message_format: MessageFormat,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub spec: SpecArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,

    /// Write the graph to PATH instead of standard output.
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,

    /// The stage whose dependencies count as needed [default: every image
    /// output]. Check stages always count; other stages are greyed.
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,

    /// Override a build arg's default, as NAME=VALUE. Repeatable.
    #[arg(long = "build-arg", value_name = "NAME=VALUE")]
    pub build_args: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Graphviz DOT, for `dot -Tsvg` or other DOT tools.
    Dot,
    /// A Mermaid flowchart, which GitHub renders in Markdown.
    Mermaid,
    /// SVG laid out by stagec itself.
    Svg,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A code such as SC0101, or its name such as unknown-stage.
    pub code: String,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The Dockerfile, or `-` for standard input.
    #[arg(value_name = "DOCKERFILE")]
    pub dockerfile: PathBuf,

    /// Write the spec to PATH atomically instead of printing it.
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,

    /// Replace the -o file when it exists.
    #[arg(long)]
    pub force: bool,

    /// Fail, writing nothing, when the conversion has warnings.
    #[arg(long)]
    pub deny_warnings: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The project directory [default: the current directory].
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// The template to use, instead of the one the directory's files select.
    #[arg(long, value_enum)]
    pub stack: Option<StackArg>,

    /// Output path of the spec [default: DIR/app.kdl].
    #[arg(short, long, value_name = "PATH", conflicts_with = "print")]
    pub output: Option<PathBuf>,

    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,

    /// Print the spec to standard output instead of writing a file.
    #[arg(long)]
    pub print: bool,
}

/// The stacks `stagec init` has templates for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StackArg {
    /// Go module (go.mod): static binary on alpine.
    Go,
    /// Cargo package (Cargo.toml): static musl binary on alpine.
    Rust,
    /// npm package (package.json) on node:20-slim.
    Node,
    /// pyproject.toml or requirements.txt: a virtual environment on python:3.12-slim.
    Python,
    /// Maven project (pom.xml): a jar on a JRE image.
    Java,
    /// .NET project (*.csproj) on the ASP.NET Core runtime image.
    Dotnet,
    /// C program built by a Makefile, linked statically.
    Make,
    /// Static site (index.html) served by busybox httpd.
    Static,
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

/// Flags that choose what a build builds, shared by `llb`, `lock` and `build`.
#[derive(Debug, Args)]
pub struct BuildSelectArgs {
    /// The stage to build [default: the image output marked default=#true,
    /// or the only one].
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,

    /// Override a build arg's default, as NAME=VALUE. Repeatable.
    #[arg(long = "build-arg", value_name = "NAME=VALUE")]
    pub build_args: Vec<String>,

    /// Platform of the image, as os/arch[/variant]; `lock` and `build` also
    /// take a comma-separated list, which builds one image index, and so does
    /// `llb --format json`, which dumps one definition per platform [default:
    /// the engine's platform for `lock` and `build`, this machine's for `llb`].
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,

    /// The lock file with the base images' configuration [default: SPEC.lock].
    #[arg(long, value_name = "PATH")]
    pub lock: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LlbArgs {
    #[command(flatten)]
    pub spec: SpecArgs,

    #[command(flatten)]
    pub select: BuildSelectArgs,

    /// Network of `run` steps without `network=`.
    #[arg(long, value_enum, default_value_t = NetworkArg::Default)]
    pub network: NetworkArg,

    /// Output format.
    #[arg(long, value_enum, default_value_t = LlbFormat::Binary)]
    pub format: LlbFormat,

    /// Write the binary definition even when standard output is a terminal.
    #[arg(long)]
    pub force: bool,
}

/// Flags that choose the BuildKit to build on, as buildctl names them.
#[derive(Debug, Args)]
pub struct BuildkitArgs {
    /// BuildKit daemon to build on: unix:///PATH, tcp://HOST:PORT,
    /// docker-container://NAME or kube-pod://POD?namespace=NS [default: the
    /// BuildKit of Docker Engine at DOCKER_HOST]. See docs/remote-builders.md.
    #[arg(long, value_name = "ADDRESS", env = "BUILDKIT_HOST")]
    pub addr: Option<String>,

    /// PEM file of the CA that signed the server certificate of a tcp:// address.
    #[arg(long, value_name = "PATH")]
    pub tlscacert: Option<PathBuf>,

    /// PEM file of the client certificate, for mutual TLS.
    #[arg(long, value_name = "PATH", requires_all = ["tlskey", "tlscacert"])]
    pub tlscert: Option<PathBuf>,

    /// PEM file of the client certificate's private key.
    #[arg(long, value_name = "PATH", requires_all = ["tlscert", "tlscacert"])]
    pub tlskey: Option<PathBuf>,

    /// Server name to check the server certificate against [default: the host of --addr].
    #[arg(long, value_name = "NAME", requires = "tlscacert")]
    pub tlsservername: Option<String>,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    #[command(flatten)]
    pub spec: SpecArgs,

    #[command(flatten)]
    pub select: BuildSelectArgs,

    #[command(flatten)]
    pub buildkit: BuildkitArgs,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub spec: SpecArgs,

    #[command(flatten)]
    pub select: BuildSelectArgs,

    #[command(flatten)]
    pub buildkit: BuildkitArgs,

    /// Name and tag of the image, as name:tag. Repeatable; replaces the
    /// spec's tags.
    #[arg(short, long = "tag", value_name = "NAME:TAG")]
    pub tags: Vec<String>,

    /// A secret for `secret` mounts, as id=ID,src=PATH or id=ID,env=VAR. Repeatable.
    #[arg(long = "secret", value_name = "id=ID,src=PATH|env=VAR")]
    pub secrets: Vec<String>,

    /// Run every step again instead of using the build cache.
    #[arg(long)]
    pub no_cache: bool,

    /// Network of `run` steps without `network=`.
    #[arg(long, value_enum, default_value_t = NetworkArg::Default)]
    pub network: NetworkArg,

    /// How to show build progress: auto is tty on a terminal and plain otherwise.
    #[arg(long, value_enum, default_value_t = ProgressArg::Auto)]
    pub progress: ProgressArg,

    /// Write the build result to PATH as a JSON object: the engine's exporter
    /// response (such as containerimage.digest) and stagec.context.bytes_sent,
    /// the bytes sent for the build context.
    #[arg(long, value_name = "PATH")]
    pub metadata_file: Option<PathBuf>,

    /// Where the result goes, as in `docker buildx build`: type=image,
    /// registry, docker, oci, local, tar or cacheonly with key=value options;
    /// DIR for type=local,dest=DIR; `-` for a tarball on standard output.
    /// Repeatable [default: the engine's image store]. See docs/outputs.md.
    #[arg(short, long = "output", value_name = "type=TYPE,...|DIR|-")]
    pub outputs: Vec<String>,

    /// Push the image to its registry: short for --output type=registry.
    #[arg(long)]
    pub push: bool,

    /// Store the image in the engine's image store: short for --output type=docker.
    #[arg(long)]
    pub load: bool,

    /// Export the build cache, as type=registry,ref=NAME[,mode=max],
    /// type=local,dest=DIR[,mode=max] or type=inline. Repeatable. See docs/cache.md.
    #[arg(long = "cache-to", value_name = "type=TYPE,...")]
    pub cache_to: Vec<String>,

    /// Import build cache, as type=registry,ref=NAME, NAME or
    /// type=local,src=DIR. Repeatable.
    #[arg(long = "cache-from", value_name = "type=TYPE,...")]
    pub cache_from: Vec<String>,

    /// Timestamp in seconds since the Unix epoch for the image's creation
    /// time and its files' modification times; the classic image store
    /// ignores it. See docs/reproducible-builds.md.
    #[arg(long, value_name = "SECONDS", env = "SOURCE_DATE_EPOCH", allow_hyphen_values = true,
          value_parser = super::build_outputs::parse_source_date_epoch)]
    pub source_date_epoch: Option<u64>,

    /// Attach an attestation to the image, as type=provenance[,mode=min|max]
    /// or type=sbom. Repeatable; needs an engine with the containerd image store.
    #[arg(long = "attest", value_name = "type=TYPE,...")]
    pub attestations: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LlbFormat {
    /// The marshalled pb.Definition, as BuildKit's `buildctl build` reads it.
    Binary,
    /// One JSON object per op per line.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NetworkArg {
    /// The engine's default network for builds.
    Default,
    /// No network, only a loopback interface.
    None,
    /// The host's network; the engine must allow the network.host entitlement.
    Host,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressArg {
    Auto,
    Plain,
    Tty,
    Quiet,
    /// One JSON object per progress event per line.
    Rawjson,
}
