//! Steps that only change the image configuration (`expose`, `label`,
//! `cmd`, `entrypoint`, `healthcheck`, `volume`, `stopsignal`, `shell`),
//! applied the way BuildKit's Dockerfile frontend applies the matching
//! instructions, and the configuration JSON of the result.

use std::collections::BTreeMap;

use super::state::StageState;
use crate::diag::{Code, Diagnostic, Span};
use crate::lock::Healthcheck;
use crate::lower;
use crate::model::{CommandForm, Platform};

/// Returns the argv a `cmd`, `entrypoint` or `healthcheck` command runs: exec form
/// as written, shell form through the shell in effect. The Dockerfile
/// backend writes these commands in exec form with the same argv.
pub fn command_argv(command: &lower::Command) -> Vec<String> {
    match &command.form {
        CommandForm::Exec(argv) => argv.iter().map(|arg| arg.value.clone()).collect(),
        CommandForm::Shell(text) => command.shell.iter().cloned().chain([text.value.clone()]).collect(),
    }
}

pub fn set_cmd(state: &mut StageState, command: &lower::Command) {
    state.config.cmd = Some(command_argv(command));
    state.config.args_escaped = true;
    state.cmd_set = true;
}

/// Sets the entry point. Like a Dockerfile `ENTRYPOINT`, it clears a
/// command inherited from the base unless this stage set one before.
pub fn set_entrypoint(state: &mut StageState, command: &lower::Command) {
    state.config.entrypoint = Some(command_argv(command));
    if !state.cmd_set {
        state.config.cmd = None;
    }
}

/// Adds exposed ports: `8080` is `8080/tcp`, and a range such as
/// `8000-8002/udp` adds each port, as Docker's port parser does.
pub fn expose(state: &mut StageState, port: &str, span: Span) -> Result<(), Diagnostic> {
    let invalid = |reason: &str| {
        Diagnostic::new(Code::InvalidValue, format!("invalid port `{port}`: {reason}"))
            .label(span, "not a port")
            .help("write a port such as 8080, a range such as 8000-8010, and optionally a protocol: \"53/udp\"")
    };
    let (ports, protocol) = port.split_once('/').unwrap_or((port, "tcp"));
    if protocol.is_empty() || !protocol.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(invalid("the protocol is not a word such as tcp or udp"));
    }
    let parse = |text: &str| {
        text.parse::<u16>()
            .map_err(|_| invalid("a port is a number from 0 to 65535"))
    };
    let (first, last) = match ports.split_once('-') {
        Some((first, last)) => (parse(first)?, parse(last)?),
        None => {
            let port = parse(ports)?;
            (port, port)
        }
    };
    if last < first {
        return Err(invalid("the range ends before it starts"));
    }

    let exposed = state.config.exposed_ports.get_or_insert_with(BTreeMap::new);
    for number in first..=last {
        exposed.insert(format!("{number}/{protocol}"), BTreeMap::new());
    }
    Ok(())
}

pub fn set_healthcheck(state: &mut StageState, check: &lower::Healthcheck) -> Result<(), Diagnostic> {
    let Some(command) = &check.command else {
        state.config.healthcheck = Some(Healthcheck {
            test: vec!["NONE".to_string()],
            ..Healthcheck::default()
        });
        return Ok(());
    };
    let duration = |value: &Option<crate::model::Spanned<String>>, name: &str| -> Result<i64, Diagnostic> {
        let Some(value) = value else { return Ok(0) };
        parse_duration(&value.value)
            .filter(|nanos| *nanos == 0 || *nanos >= MIN_HEALTHCHECK_DURATION)
            .ok_or_else(|| {
                Diagnostic::new(
                    Code::InvalidValue,
                    format!("invalid healthcheck {name} `{}`", value.value),
                )
                .label(value.span, "not a duration of at least 1ms")
                .help("write a duration such as \"30s\", \"1m30s\" or \"500ms\"")
            })
    };
    let mut test = vec!["CMD".to_string()];
    test.extend(command_argv(command));
    state.config.healthcheck = Some(Healthcheck {
        test,
        interval: duration(&check.interval, "interval")?,
        timeout: duration(&check.timeout, "timeout")?,
        start_period: duration(&check.start_period, "start-period")?,
        start_interval: 0,
        retries: check.retries.as_ref().map_or(0, |retries| i64::from(retries.value)),
    });
    Ok(())
}

/// Shortest non-zero healthcheck duration Docker accepts: 1 ms.
const MIN_HEALTHCHECK_DURATION: i64 = 1_000_000;

/// Parses a duration in Go's `time.ParseDuration` syntax, such as `1m30s`
/// or `1.5h`, into nanoseconds. Returns `None` for anything else or on overflow.
pub fn parse_duration(text: &str) -> Option<i64> {
    if text == "0" {
        return Some(0);
    }
    let mut rest = text;
    let mut total: f64 = 0.0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += number * unit;
    }
    (total <= i64::MAX as f64).then_some(total.round() as i64)
}

/// Returns the OCI image configuration JSON of a stage's result, as the engine's
/// exporter takes it: platform fields and the `config` object.
pub fn image_config_json(state: &StageState, platform: &Platform) -> serde_json::Value {
    let mut image = serde_json::Map::new();
    image.insert("architecture".into(), platform.architecture.clone().into());
    image.insert("os".into(), platform.os.clone().into());
    if let Some(variant) = &platform.variant {
        image.insert("variant".into(), variant.clone().into());
    }
    let config = serde_json::to_value(&state.config).expect("an image config serializes to JSON");
    image.insert("config".into(), config);
    serde_json::Value::Object(image)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llb::{Fs, NetworkMode};
    use crate::lock::ImageConfig;

    fn state() -> StageState {
        let platform = Platform::parse("linux/amd64").expect("valid");
        StageState::from_image(Fs::Scratch, platform, ImageConfig::default(), NetworkMode::Sandbox)
    }

    #[test]
    fn parse_duration_table() {
        let cases = [
            ("30s", Some(30_000_000_000)),
            ("1m30s", Some(90_000_000_000)),
            ("500ms", Some(500_000_000)),
            ("1.5h", Some(5_400_000_000_000)),
            ("0", Some(0)),
            ("10", None),
            ("", None),
            ("5 s", None),
            ("1d", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration(text), expected, "{text}");
        }
    }

    #[test]
    fn expose_table() {
        let mut state = state();
        for port in ["8080", "53/udp", "9000-9002"] {
            expose(&mut state, port, Span::default()).expect(port);
        }
        let ports: Vec<String> = state.config.exposed_ports.expect("ports").into_keys().collect();
        assert_eq!(ports, ["53/udp", "8080/tcp", "9000/tcp", "9001/tcp", "9002/tcp"]);

        let mut state = super::tests::state();
        for port in ["http", "70000", "9-1", "80/"] {
            assert!(expose(&mut state, port, Span::default()).is_err(), "{port}");
        }
    }
}
