//! Image config instructions: EXPOSE, VOLUME, SHELL, CMD, ENTRYPOINT and
//! HEALTHCHECK.

use super::convert::{Converter, error};
use super::kdl;
use super::parse::{Instruction, SyntaxError};
use super::words::Word;

impl Converter {
    pub(super) fn expose(&mut self, instruction: &Instruction) -> Result<(), SyntaxError> {
        let mut ports = Vec::new();
        for word in self.split(instruction, &instruction.rest, true)? {
            match self.render(&word) {
                Ok(text) if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) && text.len() < 6 => {
                    ports.push(text)
                }
                Ok(text) => ports.push(kdl::string(&text)),
                Err(reason) => {
                    self.keep(instruction, &reason);
                    return Ok(());
                }
            }
        }
        if ports.is_empty() {
            return Err(error(
                instruction,
                "EXPOSE needs a port".to_string(),
                "write `EXPOSE 8080`",
            ));
        }
        self.push(format!("expose {}", ports.join(" ")));
        Ok(())
    }

    pub(super) fn volume(&mut self, instruction: &Instruction) -> Result<(), SyntaxError> {
        let words: Vec<Word> = match &instruction.json {
            Some(items) => self.json_words(instruction, items)?,
            None => self.split(instruction, &instruction.rest, true)?,
        };
        let mut paths = Vec::new();
        for word in &words {
            match self.render(word) {
                Ok(text) if text.starts_with('/') || text.starts_with('$') => paths.push(kdl::string(&text)),
                Ok(text) => {
                    self.keep(instruction, &format!("volume `{text}` is not an absolute path"));
                    return Ok(());
                }
                Err(reason) => {
                    self.keep(instruction, &reason);
                    return Ok(());
                }
            }
        }
        if paths.is_empty() {
            return Err(error(
                instruction,
                "VOLUME needs a path".to_string(),
                "write `VOLUME /data`",
            ));
        }
        self.push(format!("volume {}", paths.join(" ")));
        Ok(())
    }

    pub(super) fn shell(&mut self, instruction: &Instruction) -> Result<(), SyntaxError> {
        match &instruction.json {
            Some(argv) if !argv.is_empty() && !argv[0].trim().is_empty() => {
                let argv: Vec<String> = argv.iter().map(|arg| kdl::string(arg)).collect();
                self.push(format!("shell {}", argv.join(" ")));
                Ok(())
            }
            _ => Err(error(
                instruction,
                "SHELL needs a JSON array".to_string(),
                "write `SHELL [\"/bin/bash\", \"-c\"]`",
            )),
        }
    }

    /// Writes `cmd`/`entrypoint`/`healthcheck` arguments from exec or shell
    /// form, or None when the stage has no shell for a shell form.
    pub fn command_args(
        &mut self,
        instruction: &Instruction,
        json: &Option<Vec<String>>,
        text: &str,
    ) -> Option<String> {
        if let Some(argv) = json {
            if argv.is_empty() {
                self.keep(
                    instruction,
                    "an empty exec form cannot be expressed: a spec command needs a program",
                );
                return None;
            }
            return Some(argv.iter().map(|arg| kdl::string(arg)).collect::<Vec<_>>().join(" "));
        }
        if text.trim().is_empty() {
            self.keep(instruction, "the command is empty");
            return None;
        }
        if !self.stage().has_shell {
            self.keep(
                instruction,
                "a shell-form command in a stage without a shell (scratch) cannot run",
            );
            return None;
        }
        Some(format!("shell={}", kdl::string(text)))
    }

    pub(super) fn command(&mut self, instruction: &Instruction, node: &str) -> Result<(), SyntaxError> {
        let json = instruction.json.clone();
        if let Some(args) = self.command_args(instruction, &json, &instruction.rest) {
            self.push(format!("{node} {args}"));
        }
        Ok(())
    }

    pub(super) fn healthcheck(&mut self, instruction: &Instruction) -> Result<(), SyntaxError> {
        let rest = instruction.rest.trim();
        if rest.eq_ignore_ascii_case("none") {
            self.push("healthcheck none=#true".to_string());
            return Ok(());
        }
        let Some(command) = rest
            .get(..3)
            .filter(|word| word.eq_ignore_ascii_case("cmd"))
            .map(|_| rest[3..].trim())
        else {
            return Err(error(
                instruction,
                "HEALTHCHECK needs NONE or CMD".to_string(),
                "write `HEALTHCHECK CMD wget -q -O /dev/null http://localhost/`",
            ));
        };
        let mut options = String::new();
        for flag in &instruction.flags {
            let value = flag.value.clone().unwrap_or_default();
            match flag.name.as_str() {
                "interval" | "timeout" | "start-period" => {
                    options.push_str(&format!(" {}={}", flag.name, kdl::string(&value)))
                }
                "retries" if value.parse::<u32>().is_ok() => options.push_str(&format!(" retries={value}")),
                _ => self.note(
                    instruction.line,
                    &format!("HEALTHCHECK flag `--{}` is not supported and is left out", flag.name),
                ),
            }
        }
        let json = command
            .starts_with('[')
            .then(|| serde_json::from_str::<Vec<String>>(command).ok())
            .flatten();
        if let Some(args) = self.command_args(instruction, &json, command) {
            self.push(format!("healthcheck {args}{options}"));
        }
        Ok(())
    }
}
