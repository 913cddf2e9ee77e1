//! RUN: shell and exec forms, heredoc scripts, `--mount` and `--network`.

use super::convert::Converter;
use super::kdl;
use super::parse::{Instruction, SyntaxError};
use super::scope;

impl Converter {
    pub(super) fn run_step(&mut self, instruction: &Instruction) -> Result<(), SyntaxError> {
        let command = match &instruction.json {
            Some(argv) if argv.is_empty() => {
                self.keep(
                    instruction,
                    "an empty exec form cannot be expressed: a spec run needs a program",
                );
                return Ok(());
            }
            Some(argv) if argv.len() == 1 => format!("run {} exec=#true", kdl::string(&argv[0])),
            Some(argv) => format!(
                "run {}",
                argv.iter().map(|arg| kdl::string(arg)).collect::<Vec<_>>().join(" ")
            ),
            None => {
                if !self.stage().has_shell {
                    self.keep(
                        instruction,
                        "a shell-form RUN in a stage without a shell (scratch) cannot run",
                    );
                    return Ok(());
                }
                let Some(text) = self.shell_text(instruction) else {
                    return Ok(());
                };
                if text.trim().is_empty() {
                    return Err(super::convert::error(
                        instruction,
                        "RUN needs a command".to_string(),
                        "write `RUN make`",
                    ));
                }
                format!("run {}", kdl::block_string(&text, "    "))
            }
        };

        let mut properties = String::new();
        let mut children = Vec::new();
        for flag in &instruction.flags {
            let value = flag.value.clone().unwrap_or_default();
            match flag.name.as_str() {
                "network" if matches!(value.as_str(), "none" | "host" | "default") => {
                    if value != "default" {
                        properties.push_str(&format!(" network={}", kdl::string(&value)));
                        self.need_syntax(3);
                    }
                }
                "mount" => match self.mount(&value, instruction.line) {
                    Ok((node, notes)) => {
                        children.push(node);
                        for note in notes {
                            self.note(instruction.line, &note);
                        }
                    }
                    Err(reason) => {
                        self.keep(instruction, &reason);
                        return Ok(());
                    }
                },
                _ => self.note(
                    instruction.line,
                    &format!(
                        "RUN flag `--{}{}` is not supported and is left out",
                        flag.name,
                        flag.value.as_ref().map(|v| format!("={v}")).unwrap_or_default()
                    ),
                ),
            }
        }

        let mut node = format!("{command}{properties}");
        if !children.is_empty() {
            node.push_str(" {\n");
            for child in children {
                node.push_str(&format!("        {child}\n"));
            }
            node.push_str("    }");
        }
        self.push(node);
        Ok(())
    }

    /// Returns the shell text of a RUN. Heredoc bodies follow the command as a
    /// shell heredoc, which `/bin/sh -c` runs the same way. A lone `<<EOF` is
    /// the script itself.
    fn shell_text(&mut self, instruction: &Instruction) -> Option<String> {
        let rest = instruction.rest.as_str();
        let Some(first) = instruction.heredocs.first() else {
            return Some(rest.to_string());
        };
        let alone = instruction.heredocs.len() == 1
            && rest
                .trim_start_matches('<')
                .trim_start_matches('-')
                .trim_matches(['"', '\''])
                == first.marker;
        if alone {
            if let Some(shebang) = first.body.lines().next().and_then(|line| line.strip_prefix("#!")) {
                let interpreter = shebang.trim();
                self.note(
                    instruction.line,
                    &format!("the heredoc script is passed on standard input to its interpreter `{interpreter}`"),
                );
                let marker = fresh_marker(&first.body);
                return Some(format!("{interpreter} <<'{marker}'\n{}{marker}", first.body));
            }
            return Some(first.body.trim_end_matches('\n').to_string());
        }
        let mut text = rest.to_string();
        for heredoc in &instruction.heredocs {
            text.push('\n');
            text.push_str(&heredoc.body);
            text.push_str(&heredoc.marker);
        }
        Some(text)
    }

    /// Converts one `--mount=...` value into a `run` child node, with notes
    /// about options left out.
    fn mount(&mut self, value: &str, line: usize) -> Result<(String, Vec<String>), String> {
        let mut options: Vec<(String, Option<String>)> = Vec::new();
        for field in value.split(',') {
            let (key, value) = match field.split_once('=') {
                Some((key, value)) => (
                    key.trim().to_ascii_lowercase(),
                    Some(value.trim().trim_matches('"').to_string()),
                ),
                None => (field.trim().to_ascii_lowercase(), None),
            };
            options.push((key, value));
        }
        let get = |names: &[&str]| {
            // A bare key such as `required` has the empty value.
            options
                .iter()
                .find(|(key, _)| names.contains(&key.as_str()))
                .map(|(_, value)| value.clone().unwrap_or_default())
        };
        let kind = get(&["type"]).unwrap_or_else(|| "bind".to_string());
        let mut target = get(&["target", "dst", "destination"]);
        // BuildKit resolves a relative target against the working directory.
        if let Some(relative) = target.clone().filter(|target| !target.starts_with('/')) {
            let workdir = self.workdir_or_root(line);
            let resolved = scope::resolve(&workdir, &relative);
            let trimmed = resolved.trim_end_matches('/');
            target = Some(if trimmed.is_empty() {
                "/".to_string()
            } else {
                trimmed.to_string()
            });
        }
        let mut notes = Vec::new();
        let mut known: Vec<&str> = vec!["type", "target", "dst", "destination"];

        let node = match kind.as_str() {
            "cache" => {
                known.extend(["id", "sharing", "mode", "uid", "gid"]);
                let target = target.ok_or("a cache mount needs target=")?;
                let mut node = format!("cache {}", kdl::string(&target));
                if let Some(id) = get(&["id"]) {
                    node.push_str(&format!(" id={}", kdl::string(&id)));
                }
                if let Some(sharing) =
                    get(&["sharing"]).filter(|s| matches!(s.as_str(), "shared" | "private" | "locked"))
                {
                    node.push_str(&format!(" sharing={}", kdl::string(&sharing)));
                }
                if let Some(mode) = get(&["mode"]) {
                    node.push_str(&format!(" mode={}", kdl::string(&mode)));
                }
                for key in ["uid", "gid"] {
                    if let Some(number) = get(&[key]).and_then(|v| v.parse::<u32>().ok()) {
                        node.push_str(&format!(" {key}={number}"));
                    }
                }
                node
            }
            "secret" => {
                known.extend(["id", "required", "env"]);
                let id = get(&["id"]).or_else(|| target.as_deref().map(|t| scope::basename(t).to_string()));
                let id = id
                    .filter(|id| !id.is_empty())
                    .ok_or("a secret mount needs id= or target=")?;
                self.secrets.insert(id.clone());
                let mut node = format!("secret {}", kdl::string(&id));
                if let Some(target) = &target {
                    node.push_str(&format!(" target={}", kdl::string(target)));
                }
                if let Some(env) = get(&["env"]) {
                    node.push_str(&format!(" env={}", kdl::string(&env)));
                    self.need_syntax(10);
                }
                // BuildKit's default is not required; the spec's is required.
                if !is_true(get(&["required"])) {
                    node.push_str(" required=#false");
                }
                node
            }
            "ssh" => {
                known.extend(["id", "required"]);
                let mut node = "ssh".to_string();
                if let Some(id) = get(&["id"]) {
                    node.push_str(&format!(" id={}", kdl::string(&id)));
                }
                if let Some(target) = &target {
                    node.push_str(&format!(" target={}", kdl::string(target)));
                }
                // BuildKit's default is not required; the spec's is required.
                if !is_true(get(&["required"])) {
                    node.push_str(" required=#false");
                }
                node
            }
            "tmpfs" => {
                known.push("size");
                let target = target.ok_or("a tmpfs mount needs target=")?;
                let mut node = format!("tmpfs {}", kdl::string(&target));
                if let Some(written) = get(&["size"]) {
                    match ram_in_bytes(&written) {
                        Some(size) => {
                            node.push_str(&format!(" size={size}"));
                            self.need_syntax(4);
                        }
                        None => notes.push(format!(
                            "the tmpfs size `{written}` is not a size such as `64m` and is left out"
                        )),
                    }
                }
                node
            }
            "bind" => {
                known.extend(["source", "src", "from", "rw", "readwrite", "ro", "readonly"]);
                let target = target.ok_or("a bind mount needs target=")?;
                let mut node = format!("bind {}", kdl::string(&target));
                let source = get(&["source", "src"]);
                match get(&["from"]) {
                    Some(from) => {
                        let producer = self.producer(&from);
                        let path = scope::normalize(&format!("/{}", source.as_deref().unwrap_or("")));
                        let path = path.trim_end_matches('/');
                        let path = if path.is_empty() { "/" } else { path };
                        self.declare_artifact(producer, &format!("{}/", path.trim_end_matches('/')));
                        let stage = self.stages[producer].name.clone();
                        node.push_str(&format!(" from={} source={}", kdl::string(&stage), kdl::string(path)));
                    }
                    None => {
                        if let Some(source) = source.filter(|s| !s.is_empty() && s != ".") {
                            if source.split('/').any(|part| part == "..") {
                                return Err(format!("the bind source `{source}` leaves the build context"));
                            }
                            node.push_str(&format!(" source={}", kdl::string(source.trim_start_matches('/'))));
                        }
                    }
                }
                let readwrite = options
                    .iter()
                    .any(|(key, value)| matches!(key.as_str(), "rw" | "readwrite") && !is_false(value.clone()));
                if readwrite {
                    node.push_str(" readwrite=#true");
                }
                node
            }
            other => return Err(format!("the mount type `{other}` is not supported")),
        };

        for (key, value) in &options {
            if !known.contains(&key.as_str()) {
                let text = value
                    .as_ref()
                    .map(|value| format!("{key}={value}"))
                    .unwrap_or(key.clone());
                notes.push(format!("the mount option `{text}` is not supported and is left out"));
            }
        }
        Ok((node, notes))
    }
}

/// Parses a size as BuildKit's tmpfs mount does (`RAMInBytes` of
/// github.com/docker/go-units): a number, an optional space, then an
/// optional `k`, `m`, `g`, `t` or `p` in any case for powers of 1024, an
/// optional `i` and an optional `b`. A fraction is truncated to whole bytes.
fn ram_in_bytes(text: &str) -> Option<u64> {
    let number_end = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(number_end);
    let mut digit_groups = number.split('.');
    let valid_number = number.matches('.').count() <= 1
        && digit_groups.all(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
    if !valid_number {
        return None;
    }
    let unit = unit.strip_prefix(' ').unwrap_or(unit).to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let power = match unit {
        "" => 0,
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        _ => return None,
    };
    let multiplier = 1024u64.pow(power);
    match number.parse::<u64>() {
        Ok(whole) => whole.checked_mul(multiplier),
        Err(_) => {
            let bytes = number.parse::<f64>().ok()? * multiplier as f64;
            (bytes < u64::MAX as f64).then_some(bytes as u64)
        }
    }
}

fn is_true(value: Option<String>) -> bool {
    value.is_some_and(|value| value.eq_ignore_ascii_case("true") || value.is_empty())
}

fn is_false(value: Option<String>) -> bool {
    value.is_some_and(|value| value.eq_ignore_ascii_case("false"))
}

fn fresh_marker(body: &str) -> String {
    let mut marker = "STAGEC_EOF".to_string();
    while body.lines().any(|line| line == marker) {
        marker.push('_');
    }
    marker
}
