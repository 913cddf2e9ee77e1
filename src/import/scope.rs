//! Variable scopes and names: how a Dockerfile `$NAME` becomes a spec
//! `${NAME}` (a build arg) or `${env:NAME}` (an env var), and how stage and
//! artifact names are made valid and unique.

use std::collections::BTreeSet;

use super::words::{Piece, Word};

/// The names a reference can see at one point of the Dockerfile.
pub struct Scope<'a> {
    /// Build args declared in the stage so far, or the global args for FROM.
    pub args: &'a BTreeSet<String>,
    /// Env vars set in the stage and its `from` chain. None for FROM,
    /// which cannot read env vars.
    pub env: Option<&'a BTreeSet<String>>,
}

/// Renders `word` as an interpolated spec string. Literal `${` becomes
/// `$${`. Fails on what the spec language cannot express.
pub fn render(word: &Word, scope: &Scope<'_>) -> Result<String, String> {
    let mut out = String::new();
    for piece in word {
        match piece {
            Piece::Text(text) => out.push_str(&text.replace("${", "$${")),
            Piece::Var { name, modifier } => {
                if let Some(modifier) = modifier {
                    return Err(format!(
                        "`${{{name}{modifier}}}` uses a shell modifier, which specs cannot express"
                    ));
                }
                // `$` then `${NAME}` would read as the literal `$${`.
                if out.ends_with('$') {
                    return Err(format!(
                        "a literal `$` right before `${name}` cannot be written in a spec"
                    ));
                }
                out.push_str(&reference(name, scope)?);
            }
        }
    }
    Ok(out)
}

fn reference(name: &str, scope: &Scope<'_>) -> Result<String, String> {
    let Some(env) = scope.env else {
        return if scope.args.contains(name) {
            Ok(format!("${{{name}}}"))
        } else {
            Err(format!("`${name}` is not a global ARG, so FROM cannot use it"))
        };
    };
    // The Dockerfile prefers an env var over an arg of the same name; a spec
    // forbids reading both in one stage.
    if env.contains(name) {
        if scope.args.contains(name) {
            return Err(format!(
                "`${name}` is both an ARG and an ENV of the stage, which a spec cannot mix"
            ));
        }
        return Ok(format!("${{env:{name}}}"));
    }
    if scope.args.contains(name) {
        return Ok(format!("${{{name}}}"));
    }
    // Not declared in this stage: the base image's env, or empty.
    Ok(format!("${{env:{name}}}"))
}

/// Renders `word` with each unsupported reference replaced by its default:
/// the word of `${NAME:-word}`, else the global arg default, else empty.
pub fn render_with_defaults(word: &Word, defaults: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    for piece in word {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Var { name, modifier } => {
                let fallback = modifier
                    .as_deref()
                    .and_then(|modifier| modifier.strip_prefix(":-").or_else(|| modifier.strip_prefix('-')))
                    .map(str::to_string);
                out.push_str(&fallback.or_else(|| defaults(name)).unwrap_or_default());
            }
        }
    }
    out
}

/// Makes `wanted` a valid name (letters, digits, `_`, `-`, `.`; a letter
/// first when `letter_first`) that differs from every name in `taken`,
/// compared without case.
pub fn unique_name(wanted: &str, letter_first: bool, taken: &[String]) -> String {
    let mut base: String = wanted
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    base = base.trim_matches('-').to_string();
    if base.is_empty() {
        base = "root".to_string();
    }
    if letter_first && !base.starts_with(|c: char| c.is_ascii_alphabetic()) {
        base = format!("stage-{base}");
    }
    if matches!(base.to_ascii_lowercase().as_str(), "scratch" | "context") {
        base = format!("{base}-stage");
    }

    let is_taken = |name: &str| taken.iter().any(|other| other.eq_ignore_ascii_case(name));
    if !is_taken(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|name| !is_taken(name))
        .unwrap_or(base)
}

/// Normalises an absolute path: no `.` or empty components, `..` resolved,
/// and a trailing `/` kept.
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    let mut out = format!("/{}", parts.join("/"));
    let directory = path.ends_with('/') || path.ends_with("/.") || path == ".";
    if directory && out != "/" {
        out.push('/');
    }
    out
}

/// Resolves `path` against the working directory `workdir`.
pub fn resolve(workdir: &str, path: &str) -> String {
    if path.starts_with('/') {
        return normalize(path);
    }
    let joined = format!("{}/{}", workdir.trim_end_matches('/'), path);
    let mut resolved = normalize(&joined);
    if (path == "." || path == "./" || path.ends_with('/') || path.ends_with("/.")) && !resolved.ends_with('/') {
        resolved.push('/');
    }
    resolved
}

/// Returns the last component of `path`, for naming artifacts and stages.
pub fn basename(path: &str) -> &str {
    path.trim_end_matches('/').rsplit('/').next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_relative_keeps_directory_slash() {
        assert_eq!(resolve("/app", "."), "/app/");
        assert_eq!(resolve("/app/", "bin/"), "/app/bin/");
        assert_eq!(resolve("/app", "../x"), "/x");
        assert_eq!(resolve("/", "."), "/");
    }

    #[test]
    fn unique_name_avoids_case_duplicates() {
        let taken = vec!["app".to_string()];
        assert_eq!(unique_name("App", false, &taken), "App-2");
        assert_eq!(unique_name("my app!", false, &[]), "my-app");
        assert_eq!(unique_name("0", true, &[]), "stage-0");
        assert_eq!(unique_name("context", true, &[]), "context-stage");
    }

    #[test]
    fn render_maps_args_and_env() {
        let args: BTreeSet<String> = ["V".to_string()].into();
        let env: BTreeSet<String> = ["HOME".to_string()].into();
        let scope = Scope {
            args: &args,
            env: Some(&env),
        };
        let word = vec![
            Piece::Var {
                name: "V".into(),
                modifier: None,
            },
            Piece::Text("/${x}".into()),
            Piece::Var {
                name: "HOME".into(),
                modifier: None,
            },
        ];
        assert_eq!(render(&word, &scope).unwrap(), "${V}/$${x}${env:HOME}");
    }
}
