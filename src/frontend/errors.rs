//! Errors that the frontend returns to BuildKit with `LLBBridge.Return`.
//!
//! BuildKit v0.13 decodes the details of the returned `google.rpc.Status`
//! with `grpcerrors.FromGRPC`. A detail with the type URL
//! `github.com/moby/buildkit/errdefs.Source+json` and a JSON value of the
//! Go type `errdefs.Source` (solver/errdefs/errdefs.proto: a `pb.SourceInfo`
//! and `pb.Range`s) marks the spec lines of the error. buildx prints them
//! under the error. Docker 20.10's `docker build` prints only the message,
//! so the message carries the rendered diagnostics, spec lines included.

use base64::Engine as _;
use bollard_buildkit_proto::google::protobuf::Any;
use bollard_buildkit_proto::google::rpc::Status as RpcStatus;
use prost::Message as _;
use serde::Serialize;

use crate::diag::render::{RenderOptions, render_report};
use crate::diag::{Diagnostics, Span};

/// Type URL of an `errdefs.Source` detail, as BuildKit registers it with typeurl.
pub const SOURCE_DETAIL_TYPE_URL: &str = "github.com/moby/buildkit/errdefs.Source+json";

/// Language name of the spec in source details; the spec map of `stagec build` uses it too.
pub const SPEC_LANGUAGE: &str = "KDL";

/// Maximum size of the message and details of a returned error. BuildKit
/// v0.13 in Docker Engine 26.1 rejects an `LLBBridge.Return` request above
/// about 4 MiB (grpc-go's default maximum received message size), and the
/// frontend then exits without showing the error.
const MAX_RETURN_BYTES: usize = 3 * 1024 * 1024;

/// A failed frontend run, as BuildKit receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct FrontendFailure {
    pub status: RpcStatus,
}

impl FrontendFailure {
    /// Creates a failure with a message and no details. The gRPC code is
    /// always Unknown: BuildKit v0.13 (util/grpcerrors) prefixes the message
    /// with the name of any other code at each hop, so `docker build` would
    /// print `InvalidArgument: InvalidArgument: ...`.
    pub fn new(message: impl Into<String>) -> FrontendFailure {
        FrontendFailure {
            status: RpcStatus {
                code: tonic::Code::Unknown as i32,
                message: message.into(),
                details: Vec::new(),
            },
        }
    }

    /// Turns the diagnostics of a spec with errors into a failure whose
    /// message is the rendered report and whose details point at the spec
    /// line of every error.
    pub fn from_diagnostics(diagnostics: &Diagnostics, filename: &str, source: &str) -> FrontendFailure {
        let options = RenderOptions {
            color: false,
            unicode: false,
            width: 100,
        };
        let report = render_report(diagnostics, filename, source, &options, false);
        let message = format!("stagec: the spec has errors\n{}", report.trim_end());

        // Every detail carries the whole spec, so a large spec with many
        // errors gets details only while they fit in one message: the report
        // in the message still shows every error's line.
        let mut budget = MAX_RETURN_BYTES.saturating_sub(message.len());
        let mut details = Vec::new();
        // An error without a label, such as one about a `--build-arg`, has no spec line to show.
        for diagnostic in diagnostics
            .iter()
            .filter(|diagnostic| diagnostic.is_error() && !diagnostic.labels.is_empty())
        {
            let detail = source_detail(filename, source, diagnostic.primary_span());
            if detail.value.len() > budget {
                tracing::debug!(code = %diagnostic.code, "the error's source location does not fit in the message");
                break;
            }
            budget -= detail.value.len();
            details.push(detail);
        }

        // Unknown, as in `new`, and as the Dockerfile frontend's parse errors use.
        FrontendFailure {
            status: RpcStatus {
                code: tonic::Code::Unknown as i32,
                message,
                details,
            },
        }
    }

    /// Keeps the code, message and details of a failed bridge call, so that
    /// BuildKit reports a failed step with the location its source map gives.
    pub fn from_status(status: &tonic::Status) -> FrontendFailure {
        let details = if status.details().is_empty() {
            Vec::new()
        } else {
            match RpcStatus::decode(status.details()) {
                Ok(decoded) => decoded.details,
                Err(error) => {
                    tracing::debug!(%error, "the error details of a bridge call do not decode");
                    Vec::new()
                }
            }
        };
        FrontendFailure {
            status: RpcStatus {
                code: status.code() as i32,
                message: status.message().to_string(),
                details,
            },
        }
    }
}

impl std::fmt::Display for FrontendFailure {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}", self.status.message)
    }
}

/// Returns the `errdefs.Source` detail for `span` of the spec.
pub fn source_detail(filename: &str, source: &str, span: Span) -> Any {
    let detail = SourceDetail {
        info: SourceInfoJson {
            filename,
            data: base64::engine::general_purpose::STANDARD.encode(source.as_bytes()),
            language: SPEC_LANGUAGE,
        },
        ranges: vec![range_json(source, span)],
    };
    Any {
        type_url: SOURCE_DETAIL_TYPE_URL.to_string(),
        value: serde_json::to_vec(&detail).expect("a source detail serializes to JSON"),
    }
}

/// Go's `encoding/json` form of `errdefs.Source`. Byte fields are base64.
#[derive(Debug, Serialize)]
struct SourceDetail<'a> {
    info: SourceInfoJson<'a>,
    ranges: Vec<RangeJson>,
}

#[derive(Debug, Serialize)]
struct SourceInfoJson<'a> {
    filename: &'a str,
    data: String,
    language: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RangeJson {
    pub start: PositionJson,
    pub end: PositionJson,
}

/// A 1-based line and 1-based character, as stagec's LLB source map counts
/// them. buildx prints whole lines, so only the line matters for display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PositionJson {
    pub line: i32,
    pub character: i32,
}

/// Returns the range of `span` in `source`. The end is the position after
/// the span's last character, on that character's line. BuildKit marks
/// every line from the start line to the end line, so a span that ends with
/// a newline must not end on the next line.
pub fn range_json(source: &str, span: Span) -> RangeJson {
    let start = position_json(source, span.start);
    let end = match source.get(span.start..span.end().min(source.len())) {
        Some(text) if !text.is_empty() => {
            let last = text.chars().next_back().map_or(1, char::len_utf8);
            let last_character = position_json(source, span.start + text.len() - last);
            PositionJson {
                line: last_character.line,
                character: last_character.character.saturating_add(1),
            }
        }
        _ => start,
    };
    RangeJson { start, end }
}

fn position_json(source: &str, offset: usize) -> PositionJson {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |index| index + 1);
    let character = before[line_start..].chars().count() + 1;
    PositionJson {
        line: i32::try_from(line).unwrap_or(i32::MAX),
        character: i32::try_from(character).unwrap_or(i32::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = "stage \"app\" from=\"alpine:3\" {\n    copy artifact=\"bin\" from=\"bulid\" to=\"/app\"\n}\nimage \"app\" tag=\"app:1\"\n";

    #[test]
    fn source_detail_json_shape() {
        let span = Span::new(SPEC.find("\"bulid\"").expect("in spec"), 7);
        let detail = source_detail("app.kdl", SPEC, span);
        assert_eq!(detail.type_url, SOURCE_DETAIL_TYPE_URL);
        let json: serde_json::Value = serde_json::from_slice(&detail.value).expect("JSON");
        assert_eq!(json["info"]["filename"], "app.kdl");
        assert_eq!(json["info"]["language"], "KDL");
        let data = base64::engine::general_purpose::STANDARD
            .decode(json["info"]["data"].as_str().expect("a string"))
            .expect("base64");
        assert_eq!(data, SPEC.as_bytes());
        assert_eq!(
            json["ranges"][0]["start"],
            serde_json::json!({"line": 2, "character": 30})
        );
        assert_eq!(
            json["ranges"][0]["end"],
            serde_json::json!({"line": 2, "character": 37})
        );
    }

    #[test]
    fn diagnostics_failure_has_code_and_line() {
        let compilation = crate::compile::check(SPEC);
        assert!(compilation.has_errors());
        let failure = FrontendFailure::from_diagnostics(&compilation.diagnostics, "app.kdl", SPEC);
        assert_eq!(failure.status.code, tonic::Code::Unknown as i32);
        assert!(failure.status.message.contains("SC0"), "{}", failure.status.message);
        assert!(
            failure.status.message.contains("from=\"bulid\""),
            "{}",
            failure.status.message
        );
        assert_eq!(failure.status.details.len(), compilation.diagnostics.error_count());
    }

    #[test]
    fn range_ending_in_newline_stays_on_line() {
        let source = "a {\n  b\n}\n";
        let range = range_json(source, Span::new(0, source.len()));
        assert_eq!(range.start, PositionJson { line: 1, character: 1 });
        assert_eq!(range.end, PositionJson { line: 3, character: 3 }, "not line 4");

        let multibyte = "x \"é☃\"\n";
        let range = range_json(multibyte, Span::new(2, "\"é☃\"".len()));
        assert_eq!(range.start, PositionJson { line: 1, character: 3 });
        assert_eq!(range.end, PositionJson { line: 1, character: 7 });

        let empty = range_json(source, Span::new(4, 0));
        assert_eq!(empty.start, empty.end);
    }

    #[test]
    fn spanless_error_has_no_source_detail() {
        let source = "arg \"GO\" default=\"1\"\nstage \"app\" from=\"alpine:3\" {\n    arg \"GO\"\n}\nimage \"app\" tag=\"app:1\"\n";
        let compilation = crate::compile::check(source);
        let spec = compilation.spec.expect("a spec");
        let overrides = std::collections::BTreeMap::from([("NOPE".to_string(), "1".to_string())]);
        let diagnostics = crate::resolve::check_build_arg_overrides(&spec, &overrides);
        assert_eq!(diagnostics.error_count(), 1);

        let failure = FrontendFailure::from_diagnostics(&diagnostics, "app.kdl", source);
        assert!(failure.status.message.contains("NOPE"), "{failure}");
        assert!(
            failure.status.details.is_empty(),
            "no line 1 marker for a --build-arg error"
        );
    }

    #[test]
    fn large_spec_details_fit_return_message() {
        let padding = "// a comment line that makes the spec large\n".repeat(12_000);
        let images: String = (0..30)
            .map(|index| format!("image \"nope{index}\" tag=\"x:{index}\"\n"))
            .collect();
        let source = format!("{padding}stage \"app\" from=\"alpine:3\" {{\n    run \"true\"\n}}\n{images}");
        let compilation = crate::compile::check(&source);
        assert!(compilation.diagnostics.error_count() >= 30, "one error per image");

        let failure = FrontendFailure::from_diagnostics(&compilation.diagnostics, "app.kdl", &source);
        let size = failure.status.message.len()
            + failure
                .status
                .details
                .iter()
                .map(|detail| detail.value.len())
                .sum::<usize>();
        assert!(size <= MAX_RETURN_BYTES, "{size} bytes");
        assert!(
            !failure.status.details.is_empty(),
            "the first errors keep their location"
        );
        assert!(
            failure.status.message.contains("nope29"),
            "the message lists every error"
        );
    }

    #[test]
    fn failure_code_is_unknown() {
        let failure = FrontendFailure::new("invalid frontend option `platform=x`");
        assert_eq!(failure.status.code, tonic::Code::Unknown as i32, "no code name prefix");
    }

    #[test]
    fn position_counts_characters() {
        let source = "ab\ncdé\n\nx";
        assert_eq!(position_json(source, 0), PositionJson { line: 1, character: 1 });
        assert_eq!(position_json(source, 3), PositionJson { line: 2, character: 1 });
        assert_eq!(position_json(source, 7), PositionJson { line: 2, character: 4 });
        assert_eq!(
            position_json(source, 6),
            PositionJson { line: 2, character: 3 },
            "inside é"
        );
        assert_eq!(position_json(source, 99), PositionJson { line: 4, character: 2 });
    }

    #[test]
    fn status_details_pass_through() {
        let inner = RpcStatus {
            code: tonic::Code::Unknown as i32,
            message: "process did not complete".to_string(),
            details: vec![Any {
                type_url: "github.com/moby/buildkit/errdefs.Vertex+json".to_string(),
                value: br#"{"digest":"sha256:aa"}"#.to_vec(),
            }],
        };
        let status = tonic::Status::with_details(
            tonic::Code::Unknown,
            "process did not complete",
            inner.encode_to_vec().into(),
        );
        let failure = FrontendFailure::from_status(&status);
        assert_eq!(failure.status.details, inner.details);
        assert_eq!(failure.status.message, "process did not complete");
    }
}
