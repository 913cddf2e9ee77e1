//! Writes the converted stages as spec text.

use super::convert::Converter;
use super::kdl;
use super::{ImportOutput, ImportWarning};

impl Converter {
    pub(super) fn finish(self) -> ImportOutput {
        let mut lines = vec!["// Imported from a Dockerfile by `stagec import`.".to_string()];
        if self.syntax_minor > 2 {
            lines.push(format!(
                "// It uses features of Dockerfile syntax 1.{0}: check and compile it with --dockerfile-syntax 1.{0}.",
                self.syntax_minor
            ));
        }
        lines.extend(self.top_comments.iter().cloned());
        lines.push(String::new());

        for (name, default) in &self.global_args {
            let mut node = format!("arg {}", kdl::string(name));
            if let Some(default) = default {
                node.push_str(&format!(" default={}", kdl::string(default)));
            }
            lines.push(node);
        }
        for secret in &self.secrets {
            lines.push(format!("secret {}", kdl::string(secret)));
        }
        if !self.global_args.is_empty() || !self.secrets.is_empty() {
            lines.push(String::new());
        }

        // `stagec dockerfile` ends with a bare `FROM stage` when check stages
        // follow the image's stage; that alias stage is the image's stage.
        let mut image_stage = self.final_stage;
        let mut skipped = None;
        if let Some(index) = self.final_stage {
            let stage = &self.stages[index];
            if !stage.named && stage.body.is_empty() && stage.artifacts.is_empty() && stage.base_stage.is_some() {
                image_stage = stage.base_stage;
                skipped = Some(index);
            }
        }

        for (index, stage) in self.stages.iter().enumerate() {
            if Some(index) == skipped {
                continue;
            }
            let mut header = format!("stage {} from={}", kdl::string(&stage.name), kdl::string(&stage.from));
            if let Some(platform) = &stage.platform {
                header.push_str(&format!(" platform={}", kdl::string(platform)));
            }
            if stage.cross_compile {
                header.push_str(" cross-compile=#true");
            }
            let mut body = stage.body.clone();
            for path in &stage.artifact_order {
                if let Some((name, kind)) = stage.artifacts.get(path) {
                    let mut node = format!("    artifact {} path={}", kdl::string(name), kdl::string(path));
                    if *kind != "file" {
                        node.push_str(&format!(" kind={}", kdl::string(kind)));
                    }
                    body.push(node);
                }
            }
            if body.is_empty() {
                lines.push(header);
            } else {
                lines.push(format!("{header} {{"));
                lines.extend(body);
                lines.push("}".to_string());
            }
            lines.push(String::new());
        }

        if let Some(index) = image_stage {
            lines.push(format!("image {}", kdl::string(&self.stages[index].name)));
        }
        let checks: Vec<String> = self
            .checks
            .iter()
            .filter_map(|name| self.stage_by_name(name))
            .filter(|index| Some(*index) != image_stage)
            .map(|index| kdl::string(&self.stages[index].name))
            .collect();
        if !checks.is_empty() {
            lines.push(format!("check {}", checks.join(" ")));
        }
        let mut spec = lines.join("\n");
        spec.push('\n');

        let mut warnings: Vec<ImportWarning> = self.warnings;
        warnings.sort_by_key(|warning| warning.line);
        ImportOutput {
            spec,
            warnings,
            error: None,
            syntax_level: (self.syntax_minor > 2).then_some(self.syntax_minor),
        }
    }
}
