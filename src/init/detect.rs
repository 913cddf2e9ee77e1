//! Project detection for `stagec init`: which stack a directory contains and
//! the names a starter spec needs (module, binary, entry point).

use std::fmt;
use std::path::{Path, PathBuf};

/// A language or build system that `stagec init` has a template for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stack {
    Go,
    Rust,
    Node,
    Python,
    Java,
    Dotnet,
    Make,
    Static,
}

impl Stack {
    /// Every stack, in detection priority order: when a directory has the
    /// markers of several stacks, the first one wins.
    pub const ALL: [Stack; 8] = [
        Stack::Go,
        Stack::Rust,
        Stack::Node,
        Stack::Python,
        Stack::Java,
        Stack::Dotnet,
        Stack::Make,
        Stack::Static,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stack::Go => "go",
            Stack::Rust => "rust",
            Stack::Node => "node",
            Stack::Python => "python",
            Stack::Java => "java",
            Stack::Dotnet => "dotnet",
            Stack::Make => "make",
            Stack::Static => "static",
        }
    }

    /// Returns the files whose presence selects this stack, as shown in messages.
    pub fn markers(self) -> &'static str {
        match self {
            Stack::Go => "go.mod",
            Stack::Rust => "Cargo.toml",
            Stack::Node => "package.json",
            Stack::Python => "pyproject.toml or requirements.txt",
            Stack::Java => "pom.xml",
            Stack::Dotnet => "*.csproj",
            Stack::Make => "Makefile",
            Stack::Static => "index.html or public/index.html",
        }
    }
}

impl fmt::Display for Stack {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// The facts `init` reads from the project directory.
#[derive(Debug, Clone, Default)]
pub struct Project {
    /// The directory name, the fallback for every other name.
    pub dir_name: String,
    /// Stacks whose markers exist, in priority order.
    pub stacks: Vec<Stack>,
    pub go: Option<GoFacts>,
    pub rust: Option<RustFacts>,
    pub node: Option<NodeFacts>,
    pub python: Option<PythonFacts>,
    pub java: Option<JavaFacts>,
    pub dotnet: Option<DotnetFacts>,
    pub static_root: Option<String>,
    pub has_makefile: bool,
}

#[derive(Debug, Clone, Default)]
pub struct GoFacts {
    /// The module path from the `module` line.
    pub module: Option<String>,
    /// The `go` directive as major.minor, such as `1.21`.
    pub go_version: Option<String>,
    pub has_go_sum: bool,
    /// The package to build: `.` or `./cmd/NAME`.
    pub main_package: String,
}

#[derive(Debug, Clone, Default)]
pub struct RustFacts {
    /// The binary name: the first `[[bin]]` name, else the package name.
    pub binary: Option<String>,
    pub has_lock: bool,
}

#[derive(Debug, Clone, Default)]
pub struct NodeFacts {
    pub name: Option<String>,
    pub has_lock: bool,
    pub has_build_script: bool,
    /// The file `node` runs: `main` from package.json, else the file of a
    /// `start` script of the form `node FILE`, else index.js.
    pub entry: String,
}

#[derive(Debug, Clone, Default)]
pub struct PythonFacts {
    pub has_pyproject: bool,
    pub has_requirements: bool,
    /// The script to run: main.py or app.py when present.
    pub entry: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct JavaFacts {
    pub artifact_id: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct DotnetFacts {
    /// The project file name without `.csproj`, which names the published dll.
    pub project: String,
}

/// Reads the markers in `dir`. Unreadable or malformed marker files still
/// select their stack; only the names they would have given are missing.
pub fn detect(dir: &Path) -> std::io::Result<Project> {
    let entries = list_dir(dir)?;
    let has = |name: &str| entries.iter().any(|entry| entry == name);
    let dir_name = dir
        .canonicalize()
        .ok()
        .and_then(|path| path.file_name().map(|name| name.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "app".to_string());

    let mut project = Project {
        dir_name,
        ..Project::default()
    };

    if has("go.mod") {
        project.go = Some(go_facts(dir, has("go.sum"), has("main.go")));
    }
    if has("Cargo.toml") {
        let manifest = read(dir.join("Cargo.toml"));
        project.rust = Some(RustFacts {
            binary: rust_binary(&manifest),
            has_lock: has("Cargo.lock"),
        });
    }
    if has("package.json") {
        project.node = Some(node_facts(&read(dir.join("package.json")), has("package-lock.json")));
    }
    if has("pyproject.toml") || has("requirements.txt") {
        let entry = ["main.py", "app.py"]
            .into_iter()
            .find(|name| has(name))
            .map(str::to_string);
        project.python = Some(PythonFacts {
            has_pyproject: has("pyproject.toml"),
            has_requirements: has("requirements.txt"),
            entry,
        });
    }
    if has("pom.xml") {
        project.java = Some(JavaFacts {
            artifact_id: pom_artifact_id(&read(dir.join("pom.xml"))),
        });
    }
    if let Some(csproj) = entries
        .iter()
        .find(|name| name.ends_with(".csproj") && name.len() > ".csproj".len())
    {
        project.dotnet = Some(DotnetFacts {
            project: csproj.trim_end_matches(".csproj").to_string(),
        });
    }
    project.has_makefile = has("Makefile") || has("makefile") || has("GNUmakefile");
    if has("index.html") {
        project.static_root = Some(".".to_string());
    } else if dir.join("public/index.html").is_file() {
        project.static_root = Some("public".to_string());
    }

    project.stacks = Stack::ALL
        .into_iter()
        .filter(|stack| project.has_stack(*stack))
        .collect();
    Ok(project)
}

impl Project {
    pub fn has_stack(&self, stack: Stack) -> bool {
        match stack {
            Stack::Go => self.go.is_some(),
            Stack::Rust => self.rust.is_some(),
            Stack::Node => self.node.is_some(),
            Stack::Python => self.python.is_some(),
            Stack::Java => self.java.is_some(),
            Stack::Dotnet => self.dotnet.is_some(),
            Stack::Make => self.has_makefile,
            Stack::Static => self.static_root.is_some(),
        }
    }
}

/// File names in `dir`, sorted so detection does not depend on the order
/// the file system returns them in.
fn list_dir(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        names.push(entry?.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn go_facts(dir: &Path, has_go_sum: bool, has_root_main: bool) -> GoFacts {
    let go_mod = read(dir.join("go.mod"));
    let mut facts = GoFacts {
        has_go_sum,
        main_package: ".".to_string(),
        ..GoFacts::default()
    };

    for line in go_mod.lines() {
        let line = line.split("//").next().unwrap_or("").trim();
        if let Some(module) = line.strip_prefix("module ") {
            facts.module = Some(module.trim().trim_matches('"').to_string());
        } else if let Some(version) = line.strip_prefix("go ") {
            facts.go_version = major_minor(version.trim());
        }
    }

    // Without a main package at the root, the usual layout is cmd/NAME.
    if !has_root_main {
        if let Ok(mut commands) = list_dir(&dir.join("cmd")) {
            commands.retain(|name| dir.join("cmd").join(name).join("main.go").is_file());
            if let Some(first) = commands.first() {
                facts.main_package = format!("./cmd/{first}");
            }
        }
    }
    facts
}

/// `1.21.3` -> `1.21`; anything that is not digits and dots -> None.
fn major_minor(version: &str) -> Option<String> {
    let mut parts = version.split('.');
    let major = parts.next()?;
    let minor = parts.next()?;
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    (digits(major) && digits(minor)).then(|| format!("{major}.{minor}"))
}

/// Finds the first `name = "..."` in a `[[bin]]` table, else in `[package]`. A
/// line-based reading is enough for the names of a starter spec.
fn rust_binary(manifest: &str) -> Option<String> {
    let mut section = "";
    let mut package_name = None;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            section = line;
            continue;
        }
        let Some(value) = line
            .strip_prefix("name")
            .map(str::trim_start)
            .and_then(|rest| rest.strip_prefix('='))
        else {
            continue;
        };
        let value = value.trim().trim_matches('"').to_string();
        if section == "[[bin]]" {
            return Some(value);
        }
        if section == "[package]" && package_name.is_none() {
            package_name = Some(value);
        }
    }
    package_name
}

fn node_facts(package_json: &str, has_lock: bool) -> NodeFacts {
    let value: serde_json::Value = serde_json::from_str(package_json).unwrap_or_default();
    let text = |key: &str| value.get(key).and_then(|value| value.as_str()).map(str::to_string);
    let has_build_script = value.get("scripts").and_then(|scripts| scripts.get("build")).is_some();
    NodeFacts {
        name: text("name"),
        has_lock,
        has_build_script,
        entry: text("main")
            .or_else(|| start_script_file(&value))
            .unwrap_or_else(|| "index.js".into()),
    }
}

/// Returns FILE when `scripts.start` is exactly `node FILE`, which is what
/// `npm start` then runs. Anything more, such as flags or `&&`, is left alone.
fn start_script_file(package: &serde_json::Value) -> Option<String> {
    let start = package.get("scripts")?.get("start")?.as_str()?;
    match start.split_whitespace().collect::<Vec<_>>().as_slice() {
        ["node", file] if !file.starts_with('-') && !file.contains(['$', '&', '|', ';', '<', '>']) => {
            Some(file.to_string())
        }
        _ => None,
    }
}

/// Finds the project's own `<artifactId>`: the first one outside `<parent>`.
fn pom_artifact_id(pom: &str) -> Option<String> {
    let without_parent = match (pom.find("<parent>"), pom.find("</parent>")) {
        (Some(start), Some(end)) if start < end => format!("{}{}", &pom[..start], &pom[end..]),
        _ => pom.to_string(),
    };
    let start = without_parent.find("<artifactId>")? + "<artifactId>".len();
    let end = without_parent[start..].find("</artifactId>")? + start;
    Some(without_parent[start..end].trim().to_string()).filter(|id| !id.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_minor_cases() {
        assert_eq!(major_minor("1.21.3").as_deref(), Some("1.21"));
        assert_eq!(major_minor("1.19").as_deref(), Some("1.19"));
        assert_eq!(major_minor("1"), None);
        assert_eq!(major_minor("1.x"), None);
    }

    #[test]
    fn rust_binary_prefers_bin_table() {
        let manifest = "[package]\nname = \"pkg\"\n\n[[bin]]\nname = \"tool\"\npath = \"src/main.rs\"\n";
        assert_eq!(rust_binary(manifest).as_deref(), Some("tool"));
        assert_eq!(rust_binary("[package]\nname=\"pkg\"\n").as_deref(), Some("pkg"));
        assert_eq!(rust_binary("[dependencies]\nname = \"x\"\n"), None);
    }

    #[test]
    fn pom_artifact_id_skips_parent() {
        let pom = "<project><parent><artifactId>spring</artifactId></parent><artifactId>shop</artifactId></project>";
        assert_eq!(pom_artifact_id(pom).as_deref(), Some("shop"));
        assert_eq!(pom_artifact_id("<project/>"), None);
    }

    #[test]
    fn node_facts_defaults() {
        let facts = node_facts("{\"name\":\"web\",\"scripts\":{\"build\":\"tsc\"}}", false);
        assert_eq!(facts.name.as_deref(), Some("web"));
        assert!(facts.has_build_script);
        assert_eq!(facts.entry, "index.js");
        assert_eq!(node_facts("not json", true).entry, "index.js");
    }

    #[test]
    fn node_entry_from_start_script() {
        let facts = node_facts(r#"{"scripts":{"start":"node server.js"}}"#, false);
        assert_eq!(facts.entry, "server.js");
        let facts = node_facts(r#"{"main":"lib/app.js","scripts":{"start":"node server.js"}}"#, false);
        assert_eq!(facts.entry, "lib/app.js");
        let facts = node_facts(r#"{"scripts":{"start":"node --inspect server.js"}}"#, false);
        assert_eq!(facts.entry, "index.js");
        let facts = node_facts(r#"{"scripts":{"start":"tsc && node dist/app.js"}}"#, false);
        assert_eq!(facts.entry, "index.js");
    }
}
