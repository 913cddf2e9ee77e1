//! COPY and ADD: context copies, `--from` copies that become artifacts of
//! the producing stage, and heredoc files.

use super::convert::{Converter, StageOut};
use super::kdl;
use super::parse::Instruction;
use super::scope;
use super::words::{self, Word};
use crate::import::parse::SyntaxError;

/// File name endings that ADD extracts as archives.
const ARCHIVES: &[&str] = &[
    ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst", ".gz", ".bz2", ".xz",
];

/// The flags COPY and ADD take that the conversion handles.
const COPY_FLAGS: &[&str] = &["from", "chown", "chmod", "link", "exclude"];

impl Converter {
    pub(super) fn copy(&mut self, instruction: &Instruction, is_add: bool) -> Result<(), SyntaxError> {
        if !instruction.heredocs.is_empty() {
            self.copy_heredoc(instruction);
            return Ok(());
        }
        let mut args: Vec<Word> = match &instruction.json {
            Some(items) => self.json_words(instruction, items)?,
            None => self.split(instruction, &instruction.rest, true)?,
        };
        if args.len() < 2 {
            return Err(super::convert::error(
                instruction,
                format!("{} needs a source and a destination", instruction.keyword),
                "write `COPY SOURCE... DEST`",
            ));
        }
        let dest = args.pop().unwrap_or_default();

        if let Some(reason) = self.unsupported_copy(instruction, &args, is_add) {
            self.keep(instruction, &reason);
            return Ok(());
        }
        for flag in &instruction.flags {
            if flag.name == "link" {
                self.note(
                    instruction.line,
                    "`--link` is left out: specs have no layer linking, and the files copied are the same",
                );
            } else if !COPY_FLAGS.contains(&flag.name.as_str()) {
                self.note(
                    instruction.line,
                    &format!(
                        "{} flag `--{}` is not supported and is left out",
                        instruction.keyword, flag.name
                    ),
                );
            }
        }

        let mut properties = String::new();
        if let Some(owner) = instruction.flag("chown").and_then(|flag| flag.value.clone()) {
            let word = self
                .split(instruction, &owner, false)?
                .into_iter()
                .next()
                .unwrap_or_default();
            match self.render(&word) {
                Ok(text) => properties.push_str(&format!(" owner={}", kdl::string(&text))),
                Err(reason) => {
                    self.keep(instruction, &reason);
                    return Ok(());
                }
            }
        }
        if let Some(mode) = instruction.flag("chmod").and_then(|flag| flag.value.clone()) {
            let mode = if mode.len() == 3 { format!("0{mode}") } else { mode };
            properties.push_str(&format!(" mode={}", kdl::string(&mode)));
        }

        let dest = match self.render(&dest) {
            Ok(text) => text,
            Err(reason) => {
                self.keep(instruction, &reason);
                return Ok(());
            }
        };
        let mut to = if dest.starts_with('/') || dest.starts_with("${") {
            dest.clone()
        } else {
            let workdir = self.workdir_or_root(instruction.line);
            scope::resolve(&workdir, &dest)
        };
        if args.len() > 1 && !to.ends_with('/') {
            to.push('/');
        }
        let sources: Vec<String> = args.iter().filter_map(words::literal).collect();
        let context_sources: Vec<String> = sources
            .iter()
            .map(|source| match source.trim_start_matches('/') {
                "" => ".".to_string(),
                // `[<]` is how `stagec dockerfile` keeps `<<` from reading as a
                // heredoc. The class matches only `<`, so the spec path uses `<`.
                relative => relative.replace("[<]", "<"),
            })
            .collect();

        match instruction.flag("from").and_then(|flag| flag.value.clone()) {
            None => {
                let mut node = format!(
                    "copy {}",
                    context_sources
                        .iter()
                        .map(|source| kdl::string(source))
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                node.push_str(&format!(" to={}{properties}", kdl::string(&to)));
                let excludes: Vec<String> = instruction
                    .flags
                    .iter()
                    .filter(|flag| flag.name == "exclude")
                    .filter_map(|flag| flag.value.clone())
                    .collect();
                if !excludes.is_empty() {
                    let patterns: Vec<String> = excludes.iter().map(|pattern| kdl::string(pattern)).collect();
                    node.push_str(&format!(" {{\n        exclude {}\n    }}", patterns.join(" ")));
                }
                self.push(node);
            }
            Some(from) => {
                if let Some(error) = self.stage_index_error(instruction, &from) {
                    return Err(error);
                }
                let producer = self.producer(&from);
                let destinations: Vec<String> = sources.iter().map(|source| landing(&to, source)).collect();
                let taken = &self.stages[self.current.unwrap_or(0)].copy_destinations;
                if let Some(destination) = destinations.iter().find(|destination| taken.contains(*destination)) {
                    let reason = format!(
                        "a second copy from another stage into `{destination}` cannot be expressed: a spec allows one per destination"
                    );
                    self.keep(instruction, &reason);
                    return Ok(());
                }
                self.stage().copy_destinations.extend(destinations);
                for source in &sources {
                    // Docker resolves a relative `--from` source from the stage's root, not its WORKDIR.
                    let artifact = self.declare_artifact(producer, &scope::normalize(&format!("/{source}")));
                    let stage = kdl::string(&self.stages[producer].name);
                    self.push(format!(
                        "copy artifact={} from={stage} to={}{properties}",
                        kdl::string(&artifact),
                        kdl::string(&to)
                    ));
                }
            }
        }
        Ok(())
    }

    /// Returns why a COPY or ADD must stay a comment, if it must.
    fn unsupported_copy(&self, instruction: &Instruction, sources: &[Word], is_add: bool) -> Option<String> {
        if instruction.flag("parents").is_some() {
            return Some("`--parents` keeps source directories, which a spec copy cannot express".to_string());
        }
        let from = instruction.flag("from").and_then(|flag| flag.value.clone());
        if is_add && from.is_some() {
            return Some("ADD does not take --from".to_string());
        }
        if let Some(mode) = instruction.flag("chmod").and_then(|flag| flag.value.clone())
            && !(matches!(mode.len(), 3 | 4) && mode.chars().all(|c| ('0'..='7').contains(&c)))
        {
            return Some(format!(
                "`--chmod={mode}` is not an octal mode, which a spec copy needs"
            ));
        }
        if from.is_some() && instruction.flag("exclude").is_some() {
            return Some("`--exclude` on a copy from another stage cannot be expressed".to_string());
        }
        for source in sources {
            let Some(text) = words::literal(source) else {
                return Some(
                    "a source path with variables cannot be expressed: spec copy sources are not interpolated"
                        .to_string(),
                );
            };
            if is_add && (text.contains("://") || text.starts_with("git@")) {
                return Some(format!(
                    "ADD from the URL `{text}` downloads at build time, which specs cannot declare"
                ));
            }
            if is_add && ARCHIVES.iter().any(|ending| text.ends_with(ending)) {
                return Some(format!("ADD extracts the archive `{text}`, which a spec copy does not"));
            }
            if from.is_some() && text.contains(['*', '?', '[']) {
                return Some(format!(
                    "the glob `{text}` in a copy from another stage cannot be an artifact path"
                ));
            }
            if from.is_none() && (text.contains('\\') || leaves_context(&text)) {
                return Some(format!("the context path `{text}` cannot be expressed"));
            }
        }
        None
    }

    /// Returns an error for a numeric `COPY --from` that names no stage
    /// before this instruction. BuildKit's dockerfile2llb (`toCommand` and
    /// `findStateByIndex` in convert.go, master branch) reads any value that
    /// parses as an integer as a stage index, so such a value is never an
    /// image name. An index out of range fails with "invalid stage index",
    /// and a stage defined later fails with "needs to be defined before".
    fn stage_index_error(&self, instruction: &Instruction, from: &str) -> Option<SyntaxError> {
        if self.stage_by_name(from).is_some() {
            return None;
        }
        let index = from.parse::<i64>().ok()?;
        let defined = self.by_index.len();
        let stage = usize::try_from(index).ok().and_then(|index| self.by_index.get(index));
        if let Some(stage) = stage {
            if Some(*stage) != self.current {
                return None;
            }
            // BuildKit reports a stage that copies from itself as a circular dependency.
            return Some(super::convert::error(
                instruction,
                format!("`--from={from}` names the stage this {} is in", instruction.keyword),
                "a stage cannot copy from itself: use the index or name of an earlier stage",
            ));
        }
        Some(super::convert::error(
            instruction,
            format!(
                "`--from={from}` names stage index {index}, but only {defined} stage(s) come before this {}; BuildKit rejects it as an invalid stage index",
                instruction.keyword
            ),
            "use the index or name of an earlier stage (the first FROM is index 0)",
        ))
    }

    /// Returns the stage that `--from=VALUE` names: a stage name, a stage
    /// index, or an image, which gets a stage of its own.
    pub(super) fn producer(&mut self, from: &str) -> usize {
        if let Some(index) = self.stage_by_name(from) {
            return index;
        }
        if let Ok(number) = from.parse::<usize>()
            && let Some(index) = self.by_index.get(number)
        {
            return *index;
        }
        if let Some(index) = self.image_stages.get(from) {
            return *index;
        }
        let repository = from.split(['@']).next().unwrap_or(from);
        let repository = repository
            .rsplit_once(':')
            .filter(|(_, tag)| !tag.contains('/'))
            .map_or(repository, |(name, _)| name);
        let taken: Vec<String> = self.stages.iter().map(|stage| stage.name.clone()).collect();
        let name = scope::unique_name(scope::basename(repository), true, &taken);
        let mut stage = StageOut::new(name, from.to_string());
        stage.workdir = Some("/".to_string());
        self.stages.push(stage);
        let index = self.stages.len() - 1;
        self.image_stages.insert(from.to_string(), index);
        index
    }

    /// Declares the artifact at `path` in `producer`, once, and returns its name.
    pub(super) fn declare_artifact(&mut self, producer: usize, path: &str) -> String {
        let stage = &mut self.stages[producer];
        let key = path.trim_end_matches('/');
        let key = if key.is_empty() { "/" } else { key };
        if let Some((name, _)) = stage.artifacts.get(key) {
            return name.clone();
        }
        let taken: Vec<String> = stage.artifacts.values().map(|(name, _)| name.clone()).collect();
        let name = scope::unique_name(scope::basename(key), false, &taken);
        let kind = if path.ends_with('/') { "dir" } else { "file" };
        stage.artifacts.insert(key.to_string(), (name.clone(), kind));
        stage.artifact_order.push(key.to_string());
        name
    }
}

/// Returns whether a context path climbs above the context root with `..`.
fn leaves_context(path: &str) -> bool {
    let mut depth = 0i32;
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

/// Returns where a copy of `source` into `to` lands, as stagec's destination check
/// compares it: a file keeps its name inside a directory `to`, while a
/// directory's contents go into `to` itself.
fn landing(to: &str, source: &str) -> String {
    let is_directory = source.ends_with('/');
    if to.ends_with('/') && !is_directory {
        return scope::normalize(&format!("{to}{}", scope::basename(source)));
    }
    scope::normalize(to.trim_end_matches('/'))
        .trim_end_matches('/')
        .to_string()
}

impl Converter {
    /// Converts `COPY <<EOF /path` into a run step that writes the file.
    fn copy_heredoc(&mut self, instruction: &Instruction) {
        if !self.stage().has_shell || instruction.flag("from").is_some() {
            self.keep(
                instruction,
                "a COPY heredoc in a stage without a shell cannot be converted",
            );
            return;
        }
        let Some(dest) = instruction.rest.split_whitespace().last().map(str::to_string) else {
            self.keep(instruction, "the COPY heredoc has no destination");
            return;
        };
        let workdir = if dest.starts_with('/') {
            "/".to_string()
        } else {
            self.workdir_or_root(instruction.line)
        };
        let dest = scope::resolve(&workdir, &dest);
        if dest.contains(['$', '\'']) {
            self.keep(
                instruction,
                "a COPY heredoc destination with variables or quotes cannot be converted",
            );
            return;
        }
        let mut script = Vec::new();
        for heredoc in &instruction.heredocs {
            let file = if dest.ends_with('/') {
                format!("{dest}{}", heredoc.marker)
            } else {
                dest.clone()
            };
            let directory = scope::normalize(&format!("{file}/.."));
            let mut marker = "STAGEC_EOF".to_string();
            while heredoc.body.lines().any(|line| line == marker) {
                marker.push('_');
            }
            // BuildKit expands `$NAME` in the body of an unquoted heredoc.
            // The run step's shell expands it from the same args and env,
            // but it also runs `$(...)` and backticks and reads backslashes.
            let expands = !heredoc.quoted && heredoc.body.contains('$');
            let quote = if expands { "" } else { "'" };
            if expands && (heredoc.body.contains(['`', '\\']) || heredoc.body.contains("$(")) {
                self.note(
                    instruction.line,
                    "the shell expands the COPY heredoc's backticks, `$(` and backslashes, which BuildKit keeps",
                );
            }
            script.push(format!(
                "mkdir -p '{directory}' && cat > '{file}' <<{quote}{marker}{quote}\n{}{marker}",
                heredoc.body
            ));
            if let Some(mode) = instruction.flag("chmod").and_then(|flag| flag.value.clone()) {
                script.push(format!("chmod {mode} '{file}'"));
            }
            if let Some(owner) = instruction.flag("chown").and_then(|flag| flag.value.clone()) {
                script.push(format!("chown {owner} '{file}'"));
            }
        }
        self.note(
            instruction.line,
            "the COPY heredoc is written as a run step that creates the file",
        );
        self.push(format!("run {}", kdl::block_string(&script.join("\n"), "    ")));
    }
}
