//! Checks of single values that Docker parses when it builds or runs the
//! image: stop signals, exposed ports, healthcheck durations and user
//! specs. Each mistake here would pass a Dockerfile through to the engine
//! and fail there, or worse, only when a container starts. All report SC0004.

use crate::diag::{Code, Diagnostic, Diagnostics, display_value};
use crate::model::Spanned;

/// Signal names that Docker's `ParseSignal` (moby/sys/signal, Linux table)
/// accepts, without the optional `SIG` prefix. It also accepts the name in
/// any case.
const SIGNAL_NAMES: &[&str] = &[
    "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL", "PIPE", "POLL",
    "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP", "TTIN", "TTOU", "URG", "USR1",
    "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ", "RTMIN", "RTMAX",
];

/// Highest signal number on Linux (`SIGRTMAX`).
const MAX_SIGNAL: u32 = 64;

/// Shortest healthcheck duration Docker accepts, in nanoseconds. Docker
/// 20.10's Dockerfile frontend rejects anything below 1ms, zero included;
/// newer frontends take zero to mean "inherit".
const MIN_HEALTHCHECK_NANOS: u128 = 1_000_000;

/// Reports a `stopsignal` that Docker cannot parse: a name such as
/// `SIGTERM` or `TERM` (in any case), `SIGRTMIN+3`, `SIGRTMAX-2`, or a
/// number from 1 to 64.
pub fn check_stop_signal(signal: &Spanned<String>, diagnostics: &mut Diagnostics) {
    if is_signal(&signal.value) {
        return;
    }
    diagnostics.push(
        Diagnostic::new(
            Code::InvalidValue,
            format!("invalid stop signal `{}`", display_value(&signal.value)),
        )
        .label(signal.span, "not a signal name or number")
        .help("write a signal name such as \"SIGTERM\", \"SIGINT\" or \"SIGQUIT\", or a number from 1 to 64"),
    );
}

fn is_signal(text: &str) -> bool {
    if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) {
        return text
            .parse::<u32>()
            .is_ok_and(|number| (1..=MAX_SIGNAL).contains(&number));
    }
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if SIGNAL_NAMES.contains(&name) {
        return true;
    }
    // Real-time signals: RTMIN+1 to RTMIN+15 and RTMAX-14 to RTMAX-1.
    let offset = |rest: Option<&str>, max: u32| {
        rest.and_then(|digits| digits.parse::<u32>().ok())
            .is_some_and(|number| (1..=max).contains(&number) && !digits_have_sign_or_zero_prefix(rest))
    };
    offset(name.strip_prefix("RTMIN+"), 15) || offset(name.strip_prefix("RTMAX-"), 14)
}

/// Docker's table spells offsets without a sign or leading zero, as `RTMIN+3`.
fn digits_have_sign_or_zero_prefix(rest: Option<&str>) -> bool {
    rest.is_some_and(|digits| digits.starts_with(['+', '-', '0']))
}

/// Reports an `expose` value that is not `PORT`, `PORT/PROTOCOL` or a
/// range `START-END[/PROTOCOL]`, with ports from 1 to 65535 and the
/// protocols Docker knows (`tcp`, `udp`, `sctp`). Values with `${NAME}`
/// are checked only at build time.
pub fn check_port(port: &Spanned<String>, diagnostics: &mut Diagnostics) {
    if port.value.contains("${") {
        return;
    }
    let Err(problem) = parse_port(&port.value) else {
        return;
    };
    diagnostics.push(
        Diagnostic::new(
            Code::InvalidValue,
            format!("invalid port `{}` in `expose`", display_value(&port.value)),
        )
        .label(port.span, problem)
        .help("write a port from 1 to 65535, optionally with a protocol or as a range: 8080, \"53/udp\", \"8000-8010/tcp\""),
    );
}

fn parse_port(text: &str) -> Result<(), &'static str> {
    let (ports, protocol) = match text.split_once('/') {
        Some((ports, protocol)) => (ports, Some(protocol)),
        None => (text, None),
    };
    if let Some(protocol) = protocol
        && !["tcp", "udp", "sctp"].contains(&protocol.to_ascii_lowercase().as_str())
    {
        return Err("the protocol must be tcp, udp or sctp");
    }

    let number = |text: &str| -> Result<u32, &'static str> {
        if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err("not a port number");
        }
        match text.parse::<u32>() {
            Ok(port) if (1..=65535).contains(&port) => Ok(port),
            _ => Err("ports range from 1 to 65535"),
        }
    };
    match ports.split_once('-') {
        Some((start, end)) => {
            if number(start)? > number(end)? {
                return Err("the range starts after it ends");
            }
        }
        None => {
            number(ports)?;
        }
    }
    Ok(())
}

/// Reports a healthcheck duration that is not a Go duration (`30s`,
/// `1m30s`, `500ms`) or that is shorter than 1ms.
pub fn check_duration(key: &str, duration: &Spanned<String>, diagnostics: &mut Diagnostics) {
    let problem = match duration_nanos(&duration.value) {
        None => "not a duration",
        Some(nanos) if nanos < MIN_HEALTHCHECK_NANOS => "shorter than 1ms",
        Some(_) => return,
    };
    diagnostics.push(
        Diagnostic::new(
            Code::InvalidValue,
            format!("invalid healthcheck {key} `{}`", display_value(&duration.value)),
        )
        .label(duration.span, problem)
        .help(format!(
            "write a number with a unit (ns, us, ms, s, m or h) of at least 1ms, such as {key}=\"30s\", \"1m30s\" or \
             \"500ms\"; leave {key} out to keep Docker's default"
        )),
    );
}

/// Parses Go's `time.ParseDuration` syntax without a sign: one or more
/// decimal numbers, each with a unit. Returns nanoseconds, rounded down.
pub fn duration_nanos(text: &str) -> Option<u128> {
    const UNITS: [(&str, u128); 8] = [
        ("ns", 1),
        ("us", 1_000),
        ("\u{b5}s", 1_000),
        ("\u{3bc}s", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
    ];
    if text.is_empty() {
        return None;
    }

    let mut rest = text;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return None;
        }
        rest = &rest[number_len..];

        // `ms` before `m`, so the longest unit wins.
        let (unit, scale) = UNITS
            .iter()
            .filter(|(unit, _)| rest.starts_with(unit))
            .max_by_key(|(unit, _)| unit.len())?;
        rest = &rest[unit.len()..];

        let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
        let mut fraction_nanos: u128 = 0;
        let mut divisor: u128 = 1;
        for digit in fraction.bytes().take(18) {
            fraction_nanos = fraction_nanos * 10 + u128::from(digit - b'0');
            divisor *= 10;
        }
        total = total
            .checked_add(whole.checked_mul(*scale)?)?
            .checked_add(fraction_nanos * scale / divisor)?;
    }
    Some(total)
}

/// Reports a `user` or `owner=` value that Docker would split wrongly:
/// empty, with whitespace or control characters, with an empty part, or
/// with more than one `:`. `what` names the field, such as "user".
/// Values with `${NAME}` are checked only at build time.
pub fn check_user(what: &str, user: &Spanned<String>, diagnostics: &mut Diagnostics) {
    if user.value.contains("${") {
        return;
    }
    let problem = if user.value.is_empty() {
        "empty"
    } else if user.value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        "contains whitespace or control characters"
    } else if user.value.matches(':').count() > 1 {
        "more than one `:`"
    } else if user.value.split(':').any(str::is_empty) {
        "a user or group part is empty"
    } else {
        return;
    };
    diagnostics.push(
        Diagnostic::new(
            Code::InvalidValue,
            format!("invalid {what} `{}`", display_value(&user.value)),
        )
        .label(user.span, problem)
        .help("write a user name or uid, optionally with a group: \"app\", \"1000\", \"app:app\" or \"1000:1000\""),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_table() {
        for good in [
            "SIGTERM",
            "TERM",
            "sigterm",
            "Sigint",
            "9",
            "64",
            "SIGRTMIN+3",
            "SIGRTMAX-1",
            "rtmax",
            "SIGIOT",
        ] {
            assert!(is_signal(good), "{good}");
        }
        for bad in [
            "",
            "FOO",
            "SIG",
            "0",
            "65",
            "-1",
            "+9",
            "SIGRTMIN+16",
            "SIGRTMAX-0",
            "SIGRTMIN+03",
            "SIG TERM",
        ] {
            assert!(!is_signal(bad), "{bad}");
        }
    }

    #[test]
    fn port_table() {
        for good in [
            "80",
            "8080/tcp",
            "53/udp",
            "53/UDP",
            "9/sctp",
            "8000-8010",
            "8000-8000/tcp",
            "65535",
        ] {
            assert_eq!(parse_port(good), Ok(()), "{good}");
        }
        for bad in [
            "", "0", "99999", "-1", "abc", "90-80", "80/icmp", "80/", "/tcp", "80-", "8080:80", "1.5",
        ] {
            assert!(parse_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn duration_table() {
        let cases = [
            ("30s", Some(30_000_000_000)),
            ("1m30s", Some(90_000_000_000)),
            ("500ms", Some(500_000_000)),
            ("1.5s", Some(1_500_000_000)),
            (".5s", Some(500_000_000)),
            ("1h", Some(3_600_000_000_000)),
            ("1ns", Some(1)),
            ("10µs", Some(10_000)),
            ("", None),
            ("30", None),
            ("s", None),
            ("1d", None),
            ("30 s", None),
            ("-1s", None),
            ("1..5s", None),
            (".s", None),
        ];
        for (text, expected) in cases {
            assert_eq!(duration_nanos(text), expected, "{text}");
        }
    }

    #[test]
    fn user_table() {
        let check = |text: &str| {
            let mut diagnostics = Diagnostics::default();
            check_user(
                "user",
                &Spanned::new(text.to_string(), Default::default()),
                &mut diagnostics,
            );
            diagnostics.is_empty()
        };
        for good in ["app", "1000", "app:app", "1000:1000", "${USER}", "a b${X}"] {
            assert!(check(good), "{good}");
        }
        for bad in ["", "a b", "root:root:root", ":root", "root:", "a\tb"] {
            assert!(!check(bad), "{bad}");
        }
    }
}
