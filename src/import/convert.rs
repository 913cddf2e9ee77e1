//! The conversion driver: walks the instructions stage by stage and turns
//! each into spec nodes, tracking the working directory, env vars and args
//! that later instructions see.

use std::collections::{BTreeMap, BTreeSet};

use super::kdl;
use super::parse::{Dockerfile, Instruction, SyntaxError};
use super::scope::{self, Scope};
use super::words::{self, Word};
use super::{ImportOutput, ImportWarning};

/// Platform args whose declaration marks a stage that builds for the target platform.
const TARGET_ARGS: &[&str] = &["TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT"];

pub(super) struct Converter {
    pub escape: char,
    /// Global args in order, with their defaults.
    pub global_args: Vec<(String, Option<String>)>,
    pub global_names: BTreeSet<String>,
    pub top_comments: Vec<String>,
    pub stages: Vec<StageOut>,
    /// The stage that the current instruction belongs to.
    pub current: Option<usize>,
    /// The last stage that a FROM started: the image output.
    pub final_stage: Option<usize>,
    /// Dockerfile stage index to stage, for `--from=0`.
    pub by_index: Vec<usize>,
    /// Stage index by the lower-case name the Dockerfile gave it.
    pub aliases: BTreeMap<String, usize>,
    /// Stages made for `--from=IMAGE`, by image reference.
    pub image_stages: BTreeMap<String, usize>,
    pub secrets: BTreeSet<String>,
    /// Stage names to write as `check` outputs.
    pub checks: Vec<String>,
    pub warnings: Vec<ImportWarning>,
    pub syntax_minor: u16,
}

pub(super) struct StageOut {
    pub name: String,
    pub from: String,
    pub platform: Option<String>,
    pub cross_compile: bool,
    /// Stage children, already indented.
    pub body: Vec<String>,
    /// Declared artifacts by path: name and kind.
    pub artifacts: BTreeMap<String, (String, &'static str)>,
    pub artifact_order: Vec<String>,
    /// None when the base image decides it.
    pub workdir: Option<String>,
    pub env: BTreeSet<String>,
    pub args: BTreeSet<String>,
    /// False for `scratch` and stages based on it.
    pub has_shell: bool,
    /// Destinations of the copies from other stages, as stagec's SC0302 check compares them.
    pub copy_destinations: BTreeSet<String>,
    /// The stage this one is based on, when `from` names a stage.
    pub base_stage: Option<usize>,
    /// Whether the Dockerfile named the stage with `AS`.
    pub named: bool,
}

impl StageOut {
    pub fn new(name: String, from: String) -> Self {
        StageOut {
            name,
            from,
            platform: None,
            cross_compile: false,
            body: Vec::new(),
            artifacts: BTreeMap::new(),
            artifact_order: Vec::new(),
            workdir: None,
            env: BTreeSet::new(),
            args: BTreeSet::new(),
            has_shell: true,
            copy_destinations: BTreeSet::new(),
            base_stage: None,
            named: false,
        }
    }
}

pub(super) fn error(instruction: &Instruction, message: String, help: &str) -> SyntaxError {
    SyntaxError {
        line: instruction.line,
        column: instruction.column,
        message,
        help: help.to_string(),
    }
}

impl Converter {
    pub fn new(escape: char) -> Self {
        Converter {
            escape,
            global_args: Vec::new(),
            global_names: BTreeSet::new(),
            top_comments: Vec::new(),
            stages: Vec::new(),
            current: None,
            final_stage: None,
            by_index: Vec::new(),
            aliases: BTreeMap::new(),
            image_stages: BTreeMap::new(),
            secrets: BTreeSet::new(),
            checks: Vec::new(),
            warnings: Vec::new(),
            syntax_minor: 2,
        }
    }

    pub fn convert_all(mut self, dockerfile: &Dockerfile) -> Result<ImportOutput, SyntaxError> {
        for instruction in &dockerfile.instructions {
            self.instruction(instruction)?;
        }
        if self.final_stage.is_none() {
            let line = dockerfile.instructions.last().map_or(1, |instruction| instruction.line);
            return Err(SyntaxError {
                line,
                column: 1,
                message: "the Dockerfile has no FROM instruction".to_string(),
                help: "start a stage with `FROM IMAGE [AS NAME]`".to_string(),
            });
        }
        Ok(self.finish())
    }

    fn instruction(&mut self, instruction: &Instruction) -> Result<(), SyntaxError> {
        let keyword = instruction.keyword.as_str();
        if keyword == "FROM" {
            return self.from(instruction);
        }
        if self.current.is_none() {
            if keyword == "ARG" {
                return self.global_arg(instruction);
            }
            return Err(error(
                instruction,
                format!("{keyword} comes before the first FROM"),
                "only ARG may come before the first FROM; move this instruction into a stage",
            ));
        }
        match keyword {
            "ARG" => self.stage_arg(instruction),
            "ENV" => self.env(instruction),
            "LABEL" => self.label(instruction),
            "WORKDIR" => self.workdir(instruction),
            "USER" => self.single(instruction, "user"),
            "STOPSIGNAL" => self.single(instruction, "stopsignal"),
            "EXPOSE" => self.expose(instruction),
            "VOLUME" => self.volume(instruction),
            "SHELL" => self.shell(instruction),
            "CMD" => self.command(instruction, "cmd"),
            "ENTRYPOINT" => self.command(instruction, "entrypoint"),
            "HEALTHCHECK" => self.healthcheck(instruction),
            "COPY" => self.copy(instruction, false),
            "ADD" => self.copy(instruction, true),
            "RUN" => self.run_step(instruction),
            "MAINTAINER" => {
                self.keep(
                    instruction,
                    "MAINTAINER sets the deprecated author field, which specs do not have; use a label",
                );
                Ok(())
            }
            _ => {
                self.keep(
                    instruction,
                    "ONBUILD triggers run in images built from this one; specs cannot declare them",
                );
                Ok(())
            }
        }
    }

    pub fn stage(&mut self) -> &mut StageOut {
        let index = self.current.unwrap_or(0);
        &mut self.stages[index]
    }

    /// Adds a node to the current stage.
    pub fn push(&mut self, node: String) {
        let line = format!("    {node}");
        self.stage().body.push(line);
    }

    fn comment_target(&mut self) -> &mut Vec<String> {
        match self.current {
            Some(index) => &mut self.stages[index].body,
            None => &mut self.top_comments,
        }
    }

    /// Reports `reason` and keeps the whole instruction as a comment.
    pub fn keep(&mut self, instruction: &Instruction, reason: &str) {
        self.warn(instruction.line, reason);
        let indent = if self.current.is_some() { "    " } else { "" };
        let reason = kdl::comment_text(reason);
        let mut lines = vec![format!("{indent}// stagec import: line {}: {reason}", instruction.line)];
        lines.extend(kdl::comment_lines(&instruction.source, indent));
        self.comment_target().extend(lines);
    }

    /// Reports a change to a converted instruction, as a comment before it.
    pub fn note(&mut self, line: usize, reason: &str) {
        self.warn(line, reason);
        let indent = if self.current.is_some() { "    " } else { "" };
        let text = format!("{indent}// stagec import: line {line}: {}", kdl::comment_text(reason));
        self.comment_target().push(text);
    }

    fn warn(&mut self, line: usize, reason: &str) {
        tracing::debug!(line, reason, "import warning");
        self.warnings.push(ImportWarning {
            line,
            message: reason.to_string(),
        });
    }

    /// Records that the spec needs Dockerfile syntax 1.`minor`.
    pub fn need_syntax(&mut self, minor: u16) {
        self.syntax_minor = self.syntax_minor.max(minor);
    }

    pub fn split(&self, instruction: &Instruction, text: &str, split: bool) -> Result<Vec<Word>, SyntaxError> {
        words::split_words(text, self.escape, split)
            .map_err(|message| error(instruction, message, "close the quote or the `${` reference"))
    }

    /// Expands the items of a JSON-form COPY, ADD or VOLUME one word each:
    /// the Dockerfile frontend processes escapes and variables in them too.
    pub fn json_words(&self, instruction: &Instruction, items: &[String]) -> Result<Vec<Word>, SyntaxError> {
        let mut result = Vec::new();
        for item in items {
            let word = self
                .split(instruction, item, false)?
                .into_iter()
                .next()
                .unwrap_or_default();
            result.push(word);
        }
        Ok(result)
    }

    /// Renders a word for a field of the current stage.
    pub fn render(&mut self, word: &Word) -> Result<String, String> {
        let stage = self.stage();
        let scope = Scope {
            args: &stage.args,
            env: Some(&stage.env),
        };
        scope::render(word, &scope)
    }

    fn from(&mut self, instruction: &Instruction) -> Result<(), SyntaxError> {
        let words = self.split(instruction, &instruction.rest, true)?;
        let (image, alias) = match words.as_slice() {
            [image] => (image, None),
            [image, as_word, alias] if words::literal(as_word).is_some_and(|w| w.eq_ignore_ascii_case("as")) => {
                (image, words::literal(alias))
            }
            _ => {
                return Err(error(
                    instruction,
                    "FROM takes an image and an optional `AS name`".to_string(),
                    "write `FROM IMAGE` or `FROM IMAGE AS NAME`",
                ));
            }
        };

        let taken: Vec<String> = self.stages.iter().map(|stage| stage.name.clone()).collect();
        let wanted = alias
            .as_ref()
            .map(|alias| alias.to_ascii_lowercase())
            .unwrap_or_else(|| format!("stage-{}", self.by_index.len()));
        let name = scope::unique_name(&wanted, true, &taken);

        let mut warnings = Vec::new();
        if alias.is_some() && name != wanted {
            warnings.push(format!(
                "stage `{wanted}` is renamed `{name}`: a spec stage name must be valid and unique"
            ));
        }

        let base_stage = words::literal(image)
            .map(|text| text.to_ascii_lowercase())
            .and_then(|text| self.stage_by_name(&text));
        let from = match base_stage {
            Some(index) => self.stages[index].name.clone(),
            None => {
                let scope = Scope {
                    args: &self.global_names,
                    env: None,
                };
                match scope::render(image, &scope) {
                    Ok(text) => text,
                    Err(reason) => {
                        let defaults = &|name: &str| self.global_default(name);
                        let text = scope::render_with_defaults(image, defaults);
                        warnings.push(format!("{reason}; the image is written as `{text}`"));
                        text
                    }
                }
            }
        };

        let mut stage = StageOut::new(name, from.clone());
        stage.base_stage = base_stage;
        stage.named = alias.is_some();
        if let Some(index) = base_stage {
            let base = &self.stages[index];
            stage.workdir = base.workdir.clone();
            stage.env = base.env.clone();
            stage.has_shell = base.has_shell;
        } else if from == "scratch" {
            stage.workdir = Some("/".to_string());
            stage.has_shell = false;
        }

        if let Some(flag) = instruction.flag("platform") {
            let value = flag.value.clone().unwrap_or_default();
            match value.trim_matches(['{', '}', '$']) {
                "BUILDPLATFORM" if value.starts_with('$') => stage.platform = Some("build".to_string()),
                "TARGETPLATFORM" if value.starts_with('$') => {}
                literal if !value.contains('$') && literal.starts_with("linux/") => {
                    stage.platform = Some(literal.to_string())
                }
                _ => warnings.push(format!("`--platform={value}` cannot be expressed and is left out")),
            }
        }
        for flag in &instruction.flags {
            if flag.name != "platform" {
                warnings.push(format!("FROM flag `--{}` is not supported and is left out", flag.name));
            }
        }

        self.stages.push(stage);
        let index = self.stages.len() - 1;
        self.by_index.push(index);
        if let Some(alias) = alias {
            self.aliases.insert(alias.to_ascii_lowercase(), index);
        }
        self.current = Some(index);
        self.final_stage = Some(index);
        for warning in warnings {
            self.note(instruction.line, &warning);
        }
        Ok(())
    }

    pub fn stage_by_name(&self, name: &str) -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        if let Some(index) = self.aliases.get(&lower) {
            return Some(*index);
        }
        self.by_index
            .iter()
            .copied()
            .find(|index| self.stages[*index].name == lower)
    }

    fn global_default(&self, name: &str) -> Option<String> {
        self.global_args
            .iter()
            .find(|(arg, _)| arg == name)
            .and_then(|(_, default)| default.clone())
    }

    /// Parses `NAME[=default]` words of an ARG instruction.
    fn arg_words(&mut self, instruction: &Instruction) -> Result<Vec<(String, Option<String>)>, SyntaxError> {
        let mut args = Vec::new();
        for word in self.split(instruction, &instruction.rest, true)? {
            let (name, default) = match words::split_key_value(&word) {
                Some((name, value)) => (name, Some(value)),
                None => (words::literal(&word).unwrap_or_default(), None),
            };
            if !crate::model::interpolate::is_arg_name(&name) {
                return Err(error(
                    instruction,
                    format!("`{name}` is not a valid ARG name"),
                    "use letters, digits and _, not starting with a digit",
                ));
            }
            let default = match default {
                Some(value) => match words::literal(&value) {
                    Some(text) => Some(text),
                    None => {
                        let text = scope::render_with_defaults(&value, &|name| self.global_default(name));
                        self.note(
                            instruction.line,
                            &format!("the default of ARG {name} uses variables; it is written as `{text}`"),
                        );
                        Some(text)
                    }
                },
                None => None,
            };
            args.push((name, default));
        }
        if args.is_empty() {
            return Err(error(
                instruction,
                "ARG needs a name".to_string(),
                "write `ARG NAME` or `ARG NAME=default`",
            ));
        }
        Ok(args)
    }

    fn global_arg(&mut self, instruction: &Instruction) -> Result<(), SyntaxError> {
        for (name, default) in self.arg_words(instruction)? {
            self.global_names.insert(name.clone());
            self.global_args.retain(|(other, _)| *other != name);
            self.global_args.push((name, default));
        }
        Ok(())
    }

    fn stage_arg(&mut self, instruction: &Instruction) -> Result<(), SyntaxError> {
        for (name, default) in self.arg_words(instruction)? {
            let mut node = format!("arg {}", kdl::string(&name));
            if let Some(default) = &default {
                node.push_str(&format!(" default={}", kdl::string(default)));
            }
            let stage = self.stage();
            if stage.platform.as_deref() == Some("build") && TARGET_ARGS.contains(&name.as_str()) {
                stage.cross_compile = true;
            }
            stage.args.insert(name);
            self.push(node);
        }
        Ok(())
    }

    /// Parses ENV or LABEL pairs, in the `a=b c=d` form or the legacy
    /// `NAME value with spaces` form.
    fn pairs(&mut self, instruction: &Instruction) -> Result<Vec<(String, Word)>, SyntaxError> {
        let words = self.split(instruction, &instruction.rest, true)?;
        let first_has_equals = words.first().and_then(words::split_key_value).is_some();
        // BuildKit reads the legacy form for LABEL as well as for ENV.
        if !first_has_equals && !words.is_empty() {
            let name = words::literal(&words[0]).unwrap_or_default();
            let value_text = instruction.rest.trim_start()
                [instruction.rest.trim_start().find(char::is_whitespace).unwrap_or(0)..]
                .trim();
            let value = self
                .split(instruction, value_text, false)?
                .into_iter()
                .next()
                .unwrap_or_default();
            return Ok(vec![(name, value)]);
        }
        let mut pairs = Vec::new();
        for word in &words {
            let Some(pair) = words::split_key_value(word) else {
                return Err(error(
                    instruction,
                    format!("{} takes NAME=value pairs", instruction.keyword),
                    "write `NAME=value`, quoting values that contain spaces",
                ));
            };
            pairs.push(pair);
        }
        if pairs.is_empty() || pairs.iter().any(|(name, _)| name.is_empty()) {
            return Err(error(
                instruction,
                format!("{} needs NAME=value", instruction.keyword),
                "write `NAME=value`",
            ));
        }
        Ok(pairs)
    }

    fn env(&mut self, instruction: &Instruction) -> Result<(), SyntaxError> {
        let pairs = self.pairs(instruction)?;
        let mut rendered = Vec::new();
        for (name, value) in &pairs {
            match self.render(value) {
                Ok(text) => rendered.push(format!("{}={}", kdl::key(name), kdl::string(&text))),
                Err(reason) => {
                    self.keep(instruction, &reason);
                    return Ok(());
                }
            }
        }
        self.push(format!("env {}", rendered.join(" ")));
        let stage = self.stage();
        stage.env.extend(pairs.into_iter().map(|(name, _)| name));
        Ok(())
    }

    fn label(&mut self, instruction: &Instruction) -> Result<(), SyntaxError> {
        let pairs = self.pairs(instruction)?;
        let mut rendered = Vec::new();
        for (name, value) in &pairs {
            match self.render(value) {
                Ok(text) => rendered.push(format!("{}={}", kdl::string(name), kdl::string(&text))),
                Err(reason) => {
                    self.keep(instruction, &reason);
                    return Ok(());
                }
            }
        }
        self.push(format!("label {}", rendered.join(" ")));
        Ok(())
    }

    /// Returns the working directory that relative paths resolve against. When
    /// the base image decides it, assumes `/` and reports a warning.
    pub fn workdir_or_root(&mut self, line: usize) -> String {
        if let Some(workdir) = self.stage().workdir.clone() {
            return workdir;
        }
        self.note(
            line,
            "a relative path is resolved against `/`, assumed to be the base image's working directory",
        );
        self.stage().workdir = Some("/".to_string());
        "/".to_string()
    }

    fn workdir(&mut self, instruction: &Instruction) -> Result<(), SyntaxError> {
        let word = self
            .split(instruction, &instruction.rest, false)?
            .into_iter()
            .next()
            .unwrap_or_default();
        let text = match self.render(&word) {
            Ok(text) if !text.is_empty() => text,
            Ok(_) => {
                return Err(error(
                    instruction,
                    "WORKDIR needs a path".to_string(),
                    "write `WORKDIR /app`",
                ));
            }
            Err(reason) => {
                self.keep(instruction, &reason);
                return Ok(());
            }
        };
        let path = if text.starts_with('$') {
            text
        } else if text.starts_with('/') {
            scope::normalize(&text)
        } else {
            let base = self.workdir_or_root(instruction.line);
            scope::resolve(&base, &text)
        };
        let path = if path.len() > 1 {
            path.trim_end_matches('/').to_string()
        } else {
            path
        };
        self.stage().workdir = Some(path.clone());
        self.push(format!("workdir {}", kdl::string(&path)));
        Ok(())
    }

    fn single(&mut self, instruction: &Instruction, node: &str) -> Result<(), SyntaxError> {
        let word = self
            .split(instruction, &instruction.rest, false)?
            .into_iter()
            .next()
            .unwrap_or_default();
        match self.render(&word) {
            Ok(text) if !text.is_empty() => self.push(format!("{node} {}", kdl::string(&text))),
            Ok(_) => {
                return Err(error(
                    instruction,
                    format!("{} needs a value", instruction.keyword),
                    "give the instruction its argument",
                ));
            }
            Err(reason) => self.keep(instruction, &reason),
        }
        Ok(())
    }
}
