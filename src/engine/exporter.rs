//! Build outputs (`-o`/`--output`), parsed with the syntax of `docker buildx
//! build`: `type=TYPE,key=value,...` as one CSV record, where a field may be
//! double-quoted to hold a comma. Two shorthands exist: `-o DIR` is
//! `type=local,dest=DIR`, and `-o -` is `type=tar,dest=-`.
//!
//! Each output becomes one exporter of the Control `Solve`. An output with a
//! `dest` is written by stagec itself, from the FileSend stream that
//! BuildKit opens on the session (see session/filesend.rs).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// Exporter of Docker Engine's embedded BuildKit that stores the result in
/// the engine's image store, like `docker build` does.
pub const MOBY_EXPORTER: &str = "moby";

/// Kind of output, as the `type=` field names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OutputKind {
    /// An image in the engine's image store or pushed to a registry.
    Image,
    /// `type=registry`: an image pushed to a registry (`type=image,push=true`).
    Registry,
    /// A Docker image tarball, or with no `dest` the engine's image store.
    Docker,
    /// An OCI image layout tarball.
    Oci,
    /// The result's filesystem written into a local folder.
    Local,
    /// The result's filesystem as a tarball.
    Tar,
    /// No export: only the build cache keeps the result.
    Cacheonly,
}

impl OutputKind {
    const ALL: [OutputKind; 7] = [
        OutputKind::Image,
        OutputKind::Registry,
        OutputKind::Docker,
        OutputKind::Oci,
        OutputKind::Local,
        OutputKind::Tar,
        OutputKind::Cacheonly,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OutputKind::Image => "image",
            OutputKind::Registry => "registry",
            OutputKind::Docker => "docker",
            OutputKind::Oci => "oci",
            OutputKind::Local => "local",
            OutputKind::Tar => "tar",
            OutputKind::Cacheonly => "cacheonly",
        }
    }

    fn parse(name: &str) -> Option<OutputKind> {
        OutputKind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// Attributes that BuildKit 0.13's exporter of this kind reads, besides
    /// `dest` and the `annotation` prefixes.
    fn known_attrs(self) -> &'static [&'static str] {
        const IMAGE: &[&str] = &[
            "name",
            "push",
            "push-by-digest",
            "insecure",
            "registry.insecure",
            "unpack",
            "store",
            "dangling-name-prefix",
            "name-canonical",
            "compression",
            "compression-level",
            "force-compression",
            "oci-mediatypes",
            "buildinfo",
            "buildinfo-attrs",
            "source-date-epoch",
            "rewrite-timestamp",
        ];
        const ARCHIVE: &[&str] = &[
            "name",
            "compression",
            "compression-level",
            "force-compression",
            "oci-mediatypes",
            "buildinfo",
            "buildinfo-attrs",
            "source-date-epoch",
            "rewrite-timestamp",
            "tar",
        ];
        const FILES: &[&str] = &["platform-split", "source-date-epoch"];
        match self {
            OutputKind::Image | OutputKind::Registry => IMAGE,
            OutputKind::Docker | OutputKind::Oci => ARCHIVE,
            OutputKind::Local | OutputKind::Tar => FILES,
            OutputKind::Cacheonly => &[],
        }
    }
}

impl fmt::Display for OutputKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// Destination of an output that BuildKit streams to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A folder, for `type=local`.
    Directory(PathBuf),
    /// A file, for the tarball outputs.
    File(PathBuf),
    /// Standard output, from `dest=-`.
    Stdout,
}

/// One parsed `--output`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub kind: OutputKind,
    /// Exporter attributes other than `type` and `dest`, as written.
    pub attrs: BTreeMap<String, String>,
    pub destination: Option<Destination>,
}

impl Output {
    /// Returns the output that a plain `stagec build` has: the engine's image store.
    pub fn image_store() -> Output {
        Output {
            kind: OutputKind::Docker,
            attrs: BTreeMap::new(),
            destination: None,
        }
    }

    /// Returns whether this output pushes to a registry.
    pub fn pushes(&self) -> bool {
        self.kind == OutputKind::Registry || self.attrs.get("push").is_some_and(|value| is_true(value))
    }

    /// Returns whether the output names images: the outputs that `-t` fills.
    pub fn takes_names(&self) -> bool {
        matches!(
            self.kind,
            OutputKind::Image | OutputKind::Registry | OutputKind::Docker | OutputKind::Oci
        )
    }

    /// Returns the BuildKit exporter type for this output.
    pub fn exporter_type(&self) -> &'static str {
        match (self.kind, &self.destination) {
            // Docker Engine's own exporter stores into its image store with
            // either image store; `docker` without a file means that store.
            (OutputKind::Docker, None) => MOBY_EXPORTER,
            (OutputKind::Registry, _) => "image",
            (kind, _) => kind.name(),
        }
    }

    /// Returns the exporter attributes sent to BuildKit: the written ones,
    /// `push=true` for `type=registry`, and `name` from `tags` when the
    /// output names images but has no name of its own.
    pub fn exporter_attrs(&self, tags: &[String]) -> BTreeMap<String, String> {
        let mut attrs = self.attrs.clone();
        if self.kind == OutputKind::Registry {
            attrs.insert("push".to_string(), "true".to_string());
        }
        if self.takes_names() && !attrs.contains_key("name") && !tags.is_empty() {
            attrs.insert("name".to_string(), tags.join(","));
        }
        attrs
    }
}

/// Invalid `--output` value, with the value and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputError(pub String);

impl fmt::Display for OutputError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::error::Error for OutputError {}

/// Parses every `--output` value and checks that they fit together: at
/// most one writes to standard output.
pub fn parse_outputs(values: &[String]) -> Result<Vec<Output>, OutputError> {
    let outputs = values
        .iter()
        .map(|value| parse_output(value))
        .collect::<Result<Vec<_>, _>>()?;
    let to_stdout = outputs
        .iter()
        .filter(|output| output.destination == Some(Destination::Stdout))
        .count();
    if to_stdout > 1 {
        return Err(OutputError(
            "--output: only one output can write to standard output (dest=-)".to_string(),
        ));
    }
    Ok(outputs)
}

/// Parses one `--output` value.
pub fn parse_output(value: &str) -> Result<Output, OutputError> {
    let invalid = |reason: String| OutputError(format!("--output `{value}`: {reason}"));

    if value == "-" {
        return Ok(Output {
            kind: OutputKind::Tar,
            attrs: BTreeMap::new(),
            destination: Some(Destination::Stdout),
        });
    }
    if !value.contains('=') {
        if value.is_empty() {
            return Err(invalid(
                "the value is empty; write type=TYPE,... or a folder".to_string(),
            ));
        }
        return Ok(Output {
            kind: OutputKind::Local,
            attrs: BTreeMap::new(),
            destination: Some(Destination::Directory(PathBuf::from(value))),
        });
    }

    let fields = split_csv(value).map_err(|reason| invalid(reason.to_string()))?;
    let mut kind = None;
    let mut dest = None;
    let mut attrs = BTreeMap::new();
    for field in fields {
        let (key, text) = field
            .split_once('=')
            .ok_or_else(|| invalid(format!("`{field}` is not key=value")))?;
        let key = key.trim().to_ascii_lowercase();
        match key.as_str() {
            "type" => {
                let parsed = OutputKind::parse(text).ok_or_else(|| {
                    let names: Vec<&str> = OutputKind::ALL.iter().map(|kind| kind.name()).collect();
                    invalid(format!("unknown type `{text}`; use one of {}", names.join(", ")))
                })?;
                kind = Some(parsed);
            }
            "dest" => dest = Some(text.to_string()),
            _ => {
                attrs.insert(key, text.to_string());
            }
        }
    }
    let kind = kind.ok_or_else(|| invalid("the type is missing; start with type=TYPE".to_string()))?;

    for key in attrs.keys() {
        let annotation = key.starts_with("annotation.") || key.starts_with("annotation-");
        let annotated_kind = matches!(
            kind,
            OutputKind::Image | OutputKind::Registry | OutputKind::Docker | OutputKind::Oci
        );
        if (annotation && annotated_kind) || kind.known_attrs().contains(&key.as_str()) {
            continue;
        }
        let known = kind.known_attrs();
        let help = if known.is_empty() {
            format!("type={kind} takes no options")
        } else {
            format!("type={kind} takes {}", known.join(", "))
        };
        return Err(invalid(format!("unknown option `{key}`; {help}")));
    }
    for flag in [
        "push",
        "push-by-digest",
        "insecure",
        "registry.insecure",
        "unpack",
        "store",
        "oci-mediatypes",
    ] {
        if let Some(text) = attrs.get(flag)
            && parse_bool(text).is_none()
        {
            return Err(invalid(format!(
                "`{flag}={text}` is not a boolean; write {flag}=true or {flag}=false"
            )));
        }
    }

    let destination = match dest.as_deref() {
        None | Some("") if kind == OutputKind::Local => {
            return Err(invalid(
                "type=local needs dest=PATH, the folder to write; use type=tar,dest=- for standard output".to_string(),
            ));
        }
        None | Some("") if matches!(kind, OutputKind::Tar | OutputKind::Oci) => {
            return Err(invalid(format!(
                "type={kind} needs dest=PATH (or dest=- for standard output)"
            )));
        }
        None => None,
        Some(_) if matches!(kind, OutputKind::Image | OutputKind::Registry | OutputKind::Cacheonly) => {
            return Err(invalid(format!(
                "type={kind} takes no dest; use type=oci or type=docker to write a file"
            )));
        }
        Some("") => return Err(invalid("dest is empty; write dest=PATH".to_string())),
        Some("-") if kind == OutputKind::Local => {
            return Err(invalid(
                "type=local writes a folder and cannot write to standard output; use type=tar,dest=-".to_string(),
            ));
        }
        Some("-") => Some(Destination::Stdout),
        Some(path) if kind == OutputKind::Local => Some(Destination::Directory(PathBuf::from(path))),
        Some(path) => Some(Destination::File(PathBuf::from(path))),
    };

    if kind == OutputKind::Registry && attrs.get("push").is_some_and(|value| !is_true(value)) {
        return Err(invalid(
            "type=registry always pushes; use type=image,push=false to keep the image local".to_string(),
        ));
    }
    Ok(Output {
        kind,
        attrs,
        destination,
    })
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "t" => Some(true),
        "false" | "0" | "f" => Some(false),
        _ => None,
    }
}

fn is_true(text: &str) -> bool {
    parse_bool(text) == Some(true)
}

/// Splits one CSV record as Go's `encoding/csv` reads it, which buildx
/// uses: commas separate fields, and double quotes group text that holds
/// commas, with `""` for a quote inside them. Quotes may also start in the
/// middle of a field, as in `name="a,b"`.
pub(crate) fn split_csv(record: &str) -> Result<Vec<String>, &'static str> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = record.chars().peekable();
    while let Some(character) = chars.next() {
        match character {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            _ => field.push(character),
        }
    }
    if quoted {
        return Err("a double quote is not closed");
    }
    fields.push(field);
    Ok(fields.into_iter().filter(|field| !field.trim().is_empty()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(value: &str) -> Output {
        parse_output(value).unwrap_or_else(|error| panic!("{value}: {error}"))
    }

    fn error(value: &str) -> String {
        match parse_output(value) {
            Ok(output) => panic!("{value} parsed as {output:?}"),
            Err(error) => error.0,
        }
    }

    #[test]
    fn shorthand_folder_and_stdout() {
        let folder = parsed("out");
        assert_eq!(folder.kind, OutputKind::Local);
        assert_eq!(folder.destination, Some(Destination::Directory(PathBuf::from("out"))));

        let stdout = parsed("-");
        assert_eq!(stdout.kind, OutputKind::Tar);
        assert_eq!(stdout.destination, Some(Destination::Stdout));
    }

    #[test]
    fn image_push_attrs() {
        let output = parsed("type=image,name=127.0.0.1:5000/app:1,push=true");
        assert_eq!(output.kind, OutputKind::Image);
        assert!(output.pushes());
        assert_eq!(output.exporter_type(), "image");
        assert_eq!(output.attrs["name"], "127.0.0.1:5000/app:1");
        assert_eq!(output.destination, None);
    }

    #[test]
    fn registry_is_image_with_push() {
        let output = parsed("type=registry");
        assert!(output.pushes());
        assert_eq!(output.exporter_type(), "image");
        let attrs = output.exporter_attrs(&["127.0.0.1:5000/app:1".to_string()]);
        assert_eq!(attrs["push"], "true");
        assert_eq!(attrs["name"], "127.0.0.1:5000/app:1");
        assert!(error("type=registry,push=false").contains("always pushes"));
    }

    #[test]
    fn quoted_names_keep_commas() {
        let output = parsed(r#"type=image,"name=a:1,b:2",push=false"#);
        assert_eq!(output.attrs["name"], "a:1,b:2");
        let output = parsed(r#"type=image,name="a:1,b:2""#);
        assert_eq!(output.attrs["name"], "a:1,b:2");
        assert!(error(r#"type=image,name="a"#).contains("not closed"));
    }

    #[test]
    fn archive_destinations() {
        assert_eq!(
            parsed("type=oci,dest=out/app.tar").destination,
            Some(Destination::File(PathBuf::from("out/app.tar")))
        );
        assert_eq!(parsed("type=tar,dest=-").destination, Some(Destination::Stdout));

        let docker = parsed("type=docker");
        assert_eq!(docker.destination, None);
        assert_eq!(
            docker.exporter_type(),
            "moby",
            "docker without dest loads into the image store"
        );
        assert_eq!(parsed("type=docker,dest=a.tar").exporter_type(), "docker");
    }

    #[test]
    fn invalid_outputs_name_the_fix() {
        assert!(error("type=local").contains("needs dest=PATH"));
        assert!(
            !error("type=local").contains("or dest=-"),
            "type=local cannot write to standard output"
        );
        assert!(error("type=oci").contains("needs dest=PATH"));
        assert!(error("type=tar,dest=").contains("needs dest=PATH"));
        assert!(error("type=local,dest=-").contains("type=tar,dest=-"));
        assert!(error("type=image,dest=x").contains("takes no dest"));
        assert!(error("type=floppy").contains("unknown type `floppy`"));
        assert!(error("dest=out").contains("type is missing"));
        assert!(error("type=local,dest=out,push=true").contains("unknown option `push`"));
        assert!(error("type=image,push=maybe").contains("not a boolean"));
        assert!(error("type=image,name").contains("is not key=value"));
        assert!(error("").contains("empty"));
    }

    #[test]
    fn annotations_on_image_outputs() {
        let output = parsed("type=image,annotation.org.opencontainers.image.title=app");
        assert_eq!(output.attrs["annotation.org.opencontainers.image.title"], "app");
        assert!(error("type=local,dest=out,annotation.x=y").contains("unknown option"));
    }

    #[test]
    fn one_output_to_stdout() {
        let values = ["-".to_string(), "type=oci,dest=-".to_string()];
        assert!(parse_outputs(&values).is_err());
        let values = ["-".to_string(), "type=local,dest=out".to_string()];
        assert_eq!(parse_outputs(&values).expect("valid outputs").len(), 2);
    }

    #[test]
    fn tags_fill_missing_names() {
        let tags = ["app:1".to_string(), "app:latest".to_string()];
        assert_eq!(parsed("type=image").exporter_attrs(&tags)["name"], "app:1,app:latest");
        assert_eq!(parsed("type=image,name=x:1").exporter_attrs(&tags)["name"], "x:1");
        assert!(!parsed("type=local,dest=o").exporter_attrs(&tags).contains_key("name"));
    }
}
