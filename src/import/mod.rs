//! `stagec import`: converts a multi-stage Dockerfile into a spec. Stages
//! keep their names, `COPY --from` sources become artifacts declared by the
//! producing stage, and ARG/ENV references become explicit `${NAME}` or
//! `${env:NAME}`. An instruction the spec language cannot express is kept
//! as a `// stagec import:` comment and reported as a warning.

mod convert;
mod copy;
mod emit;
pub mod kdl;
pub mod parse;
mod run;
mod scope;
pub mod words;

pub use parse::SyntaxError;

/// What [`convert`] produces. With `error` set, `spec` is empty.
#[derive(Debug, Clone, Default)]
pub struct ImportOutput {
    /// The spec as KDL text.
    pub spec: String,
    pub warnings: Vec<ImportWarning>,
    pub error: Option<SyntaxError>,
    /// The minor version of the Dockerfile syntax level that the spec needs,
    /// when above stagec's default 1.2 (for `--dockerfile-syntax 1.N`).
    pub syntax_level: Option<u16>,
}

/// Something kept as a comment or changed, at a 1-based Dockerfile line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportWarning {
    pub line: usize,
    pub message: String,
}

/// Converts Dockerfile text into spec text. Never panics; a Dockerfile that
/// does not parse gives an `error` with its line and column.
pub fn convert(source: &str) -> ImportOutput {
    let dockerfile = match parse::parse(source) {
        Ok(dockerfile) => dockerfile,
        Err(error) => return ImportOutput { error: Some(error), ..ImportOutput::default() },
    };
    match convert::Converter::new(dockerfile.escape).convert_all(&dockerfile) {
        Ok(output) => output,
        Err(error) => ImportOutput { error: Some(error), ..ImportOutput::default() },
    }
}
