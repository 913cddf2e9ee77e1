//! Starter spec text, one function per stack. Each template explains its
//! choices in comments, since the spec is the user's to edit from here.

use super::ascii::transliterate;
use super::detect::{Project, Stack};
use super::kdl_string;

/// The names every template needs.
struct Names {
    /// The program or artifact file name, safe in a path and a shell word.
    binary: String,
    /// The image tag, as `name:dev`.
    tag: String,
}

pub fn render(stack: Stack, project: &Project) -> String {
    let mut spec = String::new();
    spec.push_str(&format!(
        "// Starter spec written by `stagec init` for a {} project ({}).\n\
         // Check it with `stagec check app.kdl` and build it with `stagec build app.kdl`.\n\n",
        stack_title(stack),
        stack.markers()
    ));

    let names = names(stack, project);
    let body = match stack {
        Stack::Go => go(project, &names),
        Stack::Rust => rust(project, &names),
        Stack::Node => node(project, &names),
        Stack::Python => python(project, &names),
        Stack::Java => java(&names),
        Stack::Dotnet => dotnet(project),
        Stack::Make => make(&names),
        Stack::Static => static_site(project),
    };
    spec.push_str(&body);
    spec.push_str(&format!("\nimage \"runtime\" tag={}\n", kdl_string(&names.tag)));
    spec
}

fn stack_title(stack: Stack) -> &'static str {
    match stack {
        Stack::Go => "Go",
        Stack::Rust => "Rust",
        Stack::Node => "Node.js",
        Stack::Python => "Python",
        Stack::Java => "Java (Maven)",
        Stack::Dotnet => ".NET",
        Stack::Make => "C (Makefile)",
        Stack::Static => "static site",
    }
}

fn names(stack: Stack, project: &Project) -> Names {
    let preferred = match stack {
        Stack::Go => project.go.as_ref().and_then(|go| {
            let from_cmd = go.main_package.strip_prefix("./cmd/").map(str::to_string);
            from_cmd.or_else(|| {
                go.module
                    .as_deref()
                    .and_then(|module| module.rsplit('/').next())
                    .map(str::to_string)
            })
        }),
        Stack::Rust => project.rust.as_ref().and_then(|rust| rust.binary.clone()),
        Stack::Node => project.node.as_ref().and_then(|node| node.name.clone()),
        Stack::Java => project.java.as_ref().and_then(|java| java.artifact_id.clone()),
        Stack::Dotnet => project.dotnet.as_ref().map(|dotnet| dotnet.project.clone()),
        Stack::Python | Stack::Make | Stack::Static => None,
    };
    let base = preferred.unwrap_or_else(|| project.dir_name.clone());
    Names {
        binary: file_name(&base),
        tag: format!("{}:dev", repository_name(&base)),
    }
}

/// Turns `name` into a file name made of `[A-Za-z0-9._-]`, which needs no quoting in a shell
/// command or a path. Scoped npm names such as `@org/web` keep `web`. Latin letters with
/// diacritics become their ASCII spelling (`Über` to `Uber`). Any other character becomes `-`.
pub fn file_name(name: &str) -> String {
    let last = name.rsplit('/').next().unwrap_or(name);
    let mut cleaned = String::new();
    for c in last.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            cleaned.push(c);
        } else if let Some(ascii) = transliterate(c) {
            cleaned.push_str(ascii);
        } else {
            cleaned.push('-');
        }
    }
    let cleaned = cleaned.trim_matches(|c| matches!(c, '.' | '-'));
    if cleaned.is_empty() {
        "app".to_string()
    } else {
        cleaned.to_string()
    }
}

/// Turns `name` into a repository name that the image reference grammar allows: lowercase
/// letters and digits, single separators `.`, `_`, `-` between them.
pub fn repository_name(name: &str) -> String {
    let lowered = file_name(name).to_ascii_lowercase();
    let mut out = String::new();
    for c in lowered.chars() {
        let separator = !c.is_ascii_alphanumeric();
        if separator && (out.is_empty() || out.ends_with(['.', '_', '-'])) {
            continue;
        }
        out.push(if separator { '-' } else { c });
    }
    let trimmed = out.trim_end_matches(['.', '_', '-']);
    if trimmed.is_empty() {
        "app".to_string()
    } else {
        trimmed.to_string()
    }
}

fn go(project: &Project, names: &Names) -> String {
    let facts = project.go.clone().unwrap_or_default();
    let version = facts.go_version.as_deref().unwrap_or("1");
    let binary = &names.binary;
    let mut text = String::new();

    text.push_str("// Keep VCS data and the spec itself out of the build context.\n");
    text.push_str("context {\n    exclude \"**/.git\" \"app.kdl\"\n}\n\n");
    text.push_str(&format!(
        "// The toolchain image matches the `go` directive of go.mod.\nstage \"builder\" from=\"golang:{version}\" {{\n"
    ));
    text.push_str("    workdir \"/src\"\n");
    if facts.has_go_sum {
        text.push_str(
            "    // Module files first: the download step stays cached until they change.\n\
             \x20   copy \"go.mod\" \"go.sum\" to=\"/src/\"\n\
             \x20   run \"go mod download\" {\n\
             \x20       cache \"/go/pkg/mod\"\n\
             \x20   }\n",
        );
    }
    text.push_str("    copy \".\" to=\"/src/\"\n");
    text.push_str(&format!(
        "    // CGO_ENABLED=0 links the program statically, so it runs in any image,\n\
         \x20   // scratch included. -trimpath keeps local paths out of the binary.\n\
         \x20   run \"go build -trimpath -o /out/{binary} {package}\" {{\n\
         \x20       env CGO_ENABLED=\"0\"\n\
         \x20       cache \"/root/.cache/go-build\"\n",
        package = facts.main_package
    ));
    if facts.has_go_sum {
        text.push_str("        cache \"/go/pkg/mod\"\n");
    }
    text.push_str("    }\n");
    text.push_str(&format!(
        "    artifact \"app\" path=\"/out/{binary}\" kind=\"executable\" linkage=\"static\"\n}}\n\n"
    ));
    text.push_str(&runtime_for_binary("alpine:3", binary, "A static binary needs no libc: `scratch` also works if the program needs no\n// shell, CA certificates or time zone data."));
    text
}

fn rust(project: &Project, names: &Names) -> String {
    let facts = project.rust.clone().unwrap_or_default();
    let binary = &names.binary;
    let locked = if facts.has_lock { " --locked" } else { "" };
    let mut text = String::new();

    text.push_str("context {\n    exclude \"**/.git\" \"target\" \"app.kdl\"\n}\n\n");
    text.push_str(
        "// On Alpine the Rust toolchain targets musl, which links statically by default.\n\
         stage \"builder\" from=\"rust:1-alpine\" {\n\
         \x20   workdir \"/src\"\n\
         \x20   copy \".\" to=\"/src/\"\n",
    );
    text.push_str(&format!(
        "    // The registry cache keeps downloaded crates between builds. target/ is not\n\
         \x20   // a cache mount, because the binary must stay in the stage's file system.\n\
         \x20   run \"cargo build --release{locked} && mkdir -p /out && cp target/release/{binary} /out/{binary}\" {{\n\
         \x20       cache \"/usr/local/cargo/registry\"\n\
         \x20   }}\n\
         \x20   artifact \"app\" path=\"/out/{binary}\" kind=\"executable\" linkage=\"static\"\n}}\n\n"
    ));
    text.push_str(&runtime_for_binary(
        "alpine:3",
        binary,
        "A static musl binary also runs on `scratch` if it needs no shell or CA certificates.",
    ));
    text
}

fn runtime_for_binary(base: &str, binary: &str, comment: &str) -> String {
    format!(
        "// {comment}\n\
         stage \"runtime\" from=\"{base}\" {{\n\
         \x20   copy artifact=\"app\" from=\"builder\" to=\"/usr/local/bin/{binary}\"\n\
         \x20   // Run as an unprivileged user.\n\
         \x20   user \"nobody\"\n\
         \x20   entrypoint \"/usr/local/bin/{binary}\"\n\
         }}\n"
    )
}

fn node(project: &Project, names: &Names) -> String {
    let facts = project.node.clone().unwrap_or_default();
    let _ = names;
    let install = if facts.has_lock { "npm ci" } else { "npm install" };
    let manifests = if facts.has_lock {
        "\"package.json\" \"package-lock.json\""
    } else {
        "\"package.json\""
    };
    let mut text = String::new();

    text.push_str("context {\n    exclude \"**/.git\" \"node_modules\" \"app.kdl\"\n}\n\n");
    text.push_str(&format!(
        "// Node needs its runtime in the final image, so both stages use the slim\n\
         // Debian-based image: native modules built here load there.\n\
         stage \"builder\" from=\"node:20-slim\" {{\n\
         \x20   workdir \"/app\"\n\
         \x20   // The manifests first: the install step stays cached until they change.\n\
         \x20   copy {manifests} to=\"/app/\"\n\
         \x20   run \"{install}\" {{\n\
         \x20       cache \"/root/.npm\"\n\
         \x20   }}\n\
         \x20   copy \".\" to=\"/app/\"\n"
    ));
    if facts.has_build_script {
        text.push_str("    run \"npm run build\"\n");
    }
    text.push_str(
        "    // Development dependencies stay behind.\n\
         \x20   run \"npm prune --omit=dev\"\n\
         \x20   artifact \"app\" path=\"/app\" kind=\"dir\"\n}\n\n",
    );
    text.push_str(&format!(
        "stage \"runtime\" from=\"node:20-slim\" {{\n\
         \x20   workdir \"/app\"\n\
         \x20   copy artifact=\"app\" from=\"builder\" to=\"/app/\"\n\
         \x20   env NODE_ENV=\"production\"\n\
         \x20   // The node image has an unprivileged `node` user.\n\
         \x20   user \"node\"\n\
         \x20   cmd \"node\" {entry}\n\
         }}\n",
        entry = kdl_string(&facts.entry)
    ));
    text
}

fn python(project: &Project, names: &Names) -> String {
    let facts = project.python.clone().unwrap_or_default();
    let _ = names;
    let mut text = String::new();

    text.push_str("context {\n    exclude \"**/.git\" \"**/__pycache__\" \".venv\" \"app.kdl\"\n}\n\n");
    text.push_str(
        "// Dependencies go into a virtual environment at the same path in both\n\
         // stages, so the runtime image gets them without pip or build tools.\n\
         stage \"builder\" from=\"python:3.12-slim\" {\n\
         \x20   run \"python -m venv /opt/venv\"\n\
         \x20   workdir \"/src\"\n",
    );
    if facts.has_requirements {
        text.push_str(
            "    copy \"requirements.txt\" to=\"/src/\"\n\
             \x20   run \"/opt/venv/bin/pip install -r requirements.txt\" {\n\
             \x20       cache \"/root/.cache/pip\"\n\
             \x20   }\n",
        );
    }
    if facts.has_pyproject {
        text.push_str(
            "    // pyproject.toml: install the project itself into the environment.\n\
             \x20   copy \".\" to=\"/src/\"\n\
             \x20   run \"/opt/venv/bin/pip install .\" {\n\
             \x20       cache \"/root/.cache/pip\"\n\
             \x20   }\n",
        );
    }
    text.push_str("    artifact \"venv\" path=\"/opt/venv\" kind=\"dir\"\n}\n\n");

    let entry = facts.entry.clone().unwrap_or_else(|| "main.py".to_string());
    text.push_str(&format!(
        "stage \"runtime\" from=\"python:3.12-slim\" {{\n\
         \x20   copy artifact=\"venv\" from=\"builder\" to=\"/opt/venv/\"\n\
         \x20   workdir \"/app\"\n\
         \x20   copy \".\" to=\"/app/\"\n\
         \x20   // The environment's python comes first on PATH.\n\
         \x20   env PATH=\"/opt/venv/bin:/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin\"\n\
         \x20   env PYTHONUNBUFFERED=\"1\"\n\
         \x20   user \"nobody\"\n\
         \x20   // Change this to your program's entry point if it is not {entry}.\n\
         \x20   cmd \"python\" {quoted}\n\
         }}\n",
        quoted = kdl_string(&entry)
    ));
    text
}

fn java(names: &Names) -> String {
    let _ = names;
    "context {\n    exclude \"**/.git\" \"target\" \"app.kdl\"\n}\n\n\
     stage \"builder\" from=\"maven:3-eclipse-temurin-21\" {\n\
     \x20   workdir \"/src\"\n\
     \x20   // pom.xml first: the dependency download stays cached until it changes.\n\
     \x20   copy \"pom.xml\" to=\"/src/\"\n\
     \x20   run \"mvn -B -q dependency:go-offline\" {\n\
     \x20       cache \"/root/.m2\"\n\
     \x20   }\n\
     \x20   copy \"src\" to=\"/src/src/\"\n\
     \x20   // The packaged jar gets a fixed name. If the build makes several jars\n\
     \x20   // (sources, shaded originals), name the one to ship instead of *.jar.\n\
     \x20   run \"mvn -B -q -DskipTests package && mkdir -p /out && cp target/*.jar /out/app.jar\" {\n\
     \x20       cache \"/root/.m2\"\n\
     \x20   }\n\
     \x20   artifact \"jar\" path=\"/out/app.jar\"\n\
     }\n\n\
     // A JRE, not the JDK and Maven, is all the program needs at run time.\n\
     stage \"runtime\" from=\"eclipse-temurin:21-jre\" {\n\
     \x20   copy artifact=\"jar\" from=\"builder\" to=\"/app/app.jar\"\n\
     \x20   user \"nobody\"\n\
     \x20   cmd \"java\" \"-jar\" \"/app/app.jar\"\n\
     }\n"
    .to_string()
}

fn dotnet(project: &Project) -> String {
    let facts = project.dotnet.clone().unwrap_or_default();
    let csproj = kdl_string(&format!("{}.csproj", facts.project));
    let dll = kdl_string(&format!("/app/{}.dll", facts.project));
    format!(
        "context {{\n    exclude \"**/.git\" \"**/bin\" \"**/obj\" \"app.kdl\"\n}}\n\n\
         stage \"builder\" from=\"mcr.microsoft.com/dotnet/sdk:8.0\" {{\n\
         \x20   workdir \"/src\"\n\
         \x20   // The project file first: the restore stays cached until it changes.\n\
         \x20   copy {csproj} to=\"/src/\"\n\
         \x20   run \"dotnet restore\" {{\n\
         \x20       cache \"/root/.nuget/packages\"\n\
         \x20   }}\n\
         \x20   copy \".\" to=\"/src/\"\n\
         \x20   run \"dotnet publish -c Release -o /out --no-restore\" {{\n\
         \x20       cache \"/root/.nuget/packages\"\n\
         \x20   }}\n\
         \x20   artifact \"publish\" path=\"/out\" kind=\"dir\"\n\
         }}\n\n\
         // The ASP.NET Core runtime image also runs console programs; use\n\
         // mcr.microsoft.com/dotnet/runtime:8.0 for a smaller image without ASP.NET.\n\
         stage \"runtime\" from=\"mcr.microsoft.com/dotnet/aspnet:8.0\" {{\n\
         \x20   workdir \"/app\"\n\
         \x20   copy artifact=\"publish\" from=\"builder\" to=\"/app/\"\n\
         \x20   // The .NET 8 images have an unprivileged `app` user.\n\
         \x20   user \"app\"\n\
         \x20   cmd \"dotnet\" {dll}\n\
         }}\n"
    )
}

fn make(names: &Names) -> String {
    let binary = &names.binary;
    let mut text = String::new();
    text.push_str("context {\n    exclude \"**/.git\" \"app.kdl\"\n}\n\n");
    text.push_str(&format!(
        "stage \"builder\" from=\"gcc:13\" {{\n\
         \x20   workdir \"/src\"\n\
         \x20   copy \".\" to=\"/src/\"\n\
         \x20   // LDFLAGS=-static links the C library in, so the program runs on any base.\n\
         \x20   // `{binary}` is the program the Makefile is expected to build: change it if\n\
         \x20   // yours is named differently.\n\
         \x20   run \"make LDFLAGS=-static && mkdir -p /out && cp {binary} /out/{binary}\"\n\
         \x20   artifact \"app\" path=\"/out/{binary}\" kind=\"executable\" linkage=\"static\"\n\
         }}\n\n"
    ));
    text.push_str(&runtime_for_binary(
        "alpine:3",
        binary,
        "A static program needs no libc: `scratch` also works if it needs no shell.",
    ));
    text
}

fn static_site(project: &Project) -> String {
    let root = project.static_root.clone().unwrap_or_else(|| ".".to_string());
    let source = if root == "." {
        "\".\"".to_string()
    } else {
        kdl_string(&root)
    };
    format!(
        "context {{\n    exclude \"**/.git\" \"app.kdl\"\n}}\n\n\
         // The site's files are gathered here. A generator or minifier would run\n\
         // in this stage, so its tools stay out of the runtime image.\n\
         stage \"builder\" from=\"busybox:1\" {{\n\
         \x20   copy {source} to=\"/site/\"\n\
         \x20   artifact \"site\" path=\"/site\" kind=\"dir\"\n\
         }}\n\n\
         // busybox's httpd serves the files from an image of about 4 MB.\n\
         stage \"runtime\" from=\"busybox:1\" {{\n\
         \x20   copy artifact=\"site\" from=\"builder\" to=\"/www/\" owner=\"nobody:nobody\"\n\
         \x20   user \"nobody\"\n\
         \x20   expose 8080\n\
         \x20   cmd \"httpd\" \"-f\" \"-p\" \"8080\" \"-h\" \"/www\"\n\
         }}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_name_cases() {
        assert_eq!(file_name("@org/web"), "web");
        assert_eq!(file_name("my app"), "my-app");
        assert_eq!(file_name("..."), "app");
        assert_eq!(file_name("x$(rm)"), "x--rm");
    }

    #[test]
    fn file_name_transliterates_diacritics() {
        assert_eq!(file_name("Über App"), "Uber-App");
        assert_eq!(file_name("café-ßtraße"), "cafe-sstrasse");
        assert_eq!(file_name("Łódź"), "Lodz");
        assert_eq!(file_name("日本-app"), "app");
    }

    #[test]
    fn repository_name_transliterates_diacritics() {
        assert_eq!(repository_name("Über App"), "uber-app");
        assert_eq!(repository_name("Crème Brûlée"), "creme-brulee");
        assert_eq!(repository_name("Straße"), "strasse");
    }

    #[test]
    fn repository_name_cases() {
        assert_eq!(repository_name("MyApp"), "myapp");
        assert_eq!(repository_name("my__app"), "my-app");
        assert_eq!(repository_name("-x-"), "x");
        assert_eq!(repository_name("日本"), "app");
    }
}
