//! Build progress: the Control service's `Status` stream turned into events
//! per vertex (a step of the build graph). printer.rs prints the events.
//!
//! Each `StatusResponse` carries the full state of the vertices that
//! changed, their sub-task statuses (such as `transferring context`) and
//! their log output. [`VertexTracker`] remembers what it already reported,
//! so every event happens once, and numbers the vertices `#1`, `#2`, ... in
//! the order they first appear.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use bollard_buildkit_proto::google::protobuf::Timestamp;
use bollard_buildkit_proto::moby::buildkit::v1::{StatusResponse, Vertex};

/// Log lines that the tracker keeps per vertex for error reports.
pub const LOG_TAIL_LINES: usize = 20;

/// Output stream of a build step that a log chunk comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
    Other(i64),
}

/// One change in the progress of a build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressEvent {
    /// A vertex started. `index` is its `#n` number.
    Started { index: usize, digest: String, name: String },
    /// A vertex was found in the build cache and did not run.
    Cached { index: usize, digest: String },
    /// A vertex finished. `duration` is `None` when the engine sent no times.
    Completed {
        index: usize,
        digest: String,
        duration: Option<Duration>,
    },
    Failed {
        index: usize,
        digest: String,
        error: String,
    },
    /// Output of a vertex. A chunk may end in the middle of a line.
    Log {
        index: usize,
        digest: String,
        stream: LogStream,
        data: Vec<u8>,
        elapsed: Option<Duration>,
    },
    /// Progress of a sub-task, such as a layer pull or a context transfer.
    /// `current` and `total` are bytes for transfers, and `total` is 0 when
    /// unknown.
    Status {
        index: usize,
        digest: String,
        name: String,
        current: i64,
        total: i64,
        completed: bool,
    },
    Warning {
        index: usize,
        digest: String,
        message: String,
    },
}

/// Receives progress events while a build runs.
pub trait ProgressSink: Send {
    fn event(&mut self, event: &ProgressEvent);
}

impl<F: FnMut(&ProgressEvent) + Send> ProgressSink for F {
    fn event(&mut self, event: &ProgressEvent) {
        self(event)
    }
}

/// State of one vertex, as far as the status messages reported it.
#[derive(Debug, Default)]
struct VertexState {
    /// The `#n` number, or 0 until the vertex has an event.
    index: usize,
    name: String,
    started: Option<Timestamp>,
    started_reported: bool,
    ended_reported: bool,
    error: Option<String>,
    log_tail: LogTail,
}

/// The last lines a vertex printed, for the report of a failed step and
/// the terminal view.
#[derive(Debug, Default)]
pub(crate) struct LogTail {
    lines: VecDeque<String>,
    partial: Vec<u8>,
}

impl LogTail {
    pub(crate) fn push(&mut self, data: &[u8]) {
        self.partial.extend_from_slice(data);
        while let Some(newline) = self.partial.iter().position(|&byte| byte == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=newline).collect();
            let text = String::from_utf8_lossy(&line[..line.len() - 1])
                .trim_end_matches('\r')
                .to_string();
            self.lines.push_back(text);
            if self.lines.len() > LOG_TAIL_LINES {
                self.lines.pop_front();
            }
        }
    }

    /// Returns the last lines, oldest first, and an unfinished last line.
    pub(crate) fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.lines.iter().cloned().collect();
        if !self.partial.is_empty() {
            lines.push(String::from_utf8_lossy(&self.partial).to_string());
            if lines.len() > LOG_TAIL_LINES {
                lines.remove(0);
            }
        }
        lines
    }
}

/// Turns `StatusResponse` messages into [`ProgressEvent`]s and remembers
/// the vertices, so that a failed build can name its failed step.
#[derive(Debug, Default)]
pub struct VertexTracker {
    vertices: BTreeMap<String, VertexState>,
    next_index: usize,
}

/// The failed step of a build, as the status stream reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedVertex {
    pub name: String,
    pub error: String,
    pub last_logs: Vec<String>,
}

impl VertexTracker {
    pub fn new() -> VertexTracker {
        VertexTracker::default()
    }

    /// Applies one status message and reports its changes to `sink`.
    pub fn apply(&mut self, response: StatusResponse, sink: &mut dyn ProgressSink) {
        // A vertex's end comes after its statuses and logs of the same
        // message, so that a printer shows them above its DONE line.
        let with_output: BTreeSet<String> = (response.statuses.iter().map(|status| &status.vertex))
            .chain(response.logs.iter().map(|log| &log.vertex))
            .chain(response.warnings.iter().map(|warning| &warning.vertex))
            .cloned()
            .collect();
        let mut ended_events = Vec::new();
        for vertex in response.vertexes {
            let state = self.numbered_if(&vertex.digest, vertex.started.is_some() || vertex_ended(&vertex));
            if !vertex.name.is_empty() {
                state.name = vertex.name.clone();
            }
            if vertex.started.is_some() {
                state.started = vertex.started;
            }
            let ended = vertex_ended(&vertex);

            if (vertex.started.is_some() || ended) && !state.started_reported {
                state.started_reported = true;
                sink.event(&ProgressEvent::Started {
                    index: state.index,
                    digest: vertex.digest.clone(),
                    name: state.name.clone(),
                });
            }
            if ended && !state.ended_reported {
                state.ended_reported = true;
                let index = state.index;
                let digest = vertex.digest.clone();
                let event = if !vertex.error.is_empty() {
                    state.error = Some(vertex.error.clone());
                    ProgressEvent::Failed {
                        index,
                        digest,
                        error: vertex.error.clone(),
                    }
                } else if vertex.cached {
                    ProgressEvent::Cached { index, digest }
                } else {
                    let duration = duration_between(vertex.started.as_ref(), vertex.completed.as_ref());
                    ProgressEvent::Completed {
                        index,
                        digest,
                        duration,
                    }
                };
                if with_output.contains(&vertex.digest) {
                    ended_events.push(event);
                } else {
                    sink.event(&event);
                }
            }
        }

        for status in response.statuses {
            let state = self.numbered(&status.vertex);
            sink.event(&ProgressEvent::Status {
                index: state.index,
                digest: status.vertex.clone(),
                name: if status.name.is_empty() {
                    status.id.clone()
                } else {
                    status.name.clone()
                },
                current: status.current,
                total: status.total,
                completed: status.completed.is_some(),
            });
        }

        for log in response.logs {
            let state = self.numbered(&log.vertex);
            state.log_tail.push(&log.msg);
            let elapsed = duration_between(state.started.as_ref(), log.timestamp.as_ref());
            let stream = match log.stream {
                1 => LogStream::Stdout,
                2 => LogStream::Stderr,
                other => LogStream::Other(other),
            };
            sink.event(&ProgressEvent::Log {
                index: state.index,
                digest: log.vertex.clone(),
                stream,
                data: log.msg,
                elapsed,
            });
        }

        for warning in response.warnings {
            let state = self.numbered(&warning.vertex);
            let message = String::from_utf8_lossy(&warning.short).into_owned();
            sink.event(&ProgressEvent::Warning {
                index: state.index,
                digest: warning.vertex.clone(),
                message,
            });
        }

        for event in &ended_events {
            sink.event(event);
        }
    }

    /// Returns the vertex that failed first, preferring a real failure over
    /// the cancellations that a failure causes in steps that ran beside it.
    pub fn failed_vertex(&self) -> Option<FailedVertex> {
        let mut failed: Vec<&VertexState> = self.vertices.values().filter(|state| state.error.is_some()).collect();
        failed.sort_by_key(|state| (is_cancellation(state.error.as_deref().unwrap_or_default()), state.index));
        failed.first().map(|state| FailedVertex {
            name: state.name.clone(),
            error: state.error.clone().unwrap_or_default(),
            last_logs: state.log_tail.lines(),
        })
    }

    fn numbered(&mut self, digest: &str) -> &mut VertexState {
        self.numbered_if(digest, true)
    }

    /// Returns the state of a vertex, and numbers it on its first event
    /// (`reported`), as `docker build` does: the engine lists every vertex
    /// of the build in its first message, long before most of them start.
    fn numbered_if(&mut self, digest: &str, reported: bool) -> &mut VertexState {
        let state = self.vertices.entry(digest.to_string()).or_default();
        if reported && state.index == 0 {
            self.next_index += 1;
            state.index = self.next_index;
        }
        state
    }
}

fn vertex_ended(vertex: &Vertex) -> bool {
    vertex.cached || vertex.completed.is_some() || !vertex.error.is_empty()
}

fn is_cancellation(error: &str) -> bool {
    error.contains("context canceled") || error.ends_with("canceled")
}

fn duration_between(start: Option<&Timestamp>, end: Option<&Timestamp>) -> Option<Duration> {
    let (start, end) = (start?, end?);
    let nanos = |time: &Timestamp| i128::from(time.seconds) * 1_000_000_000 + i128::from(time.nanos);
    let difference = nanos(end) - nanos(start);
    u64::try_from(difference).ok().map(Duration::from_nanos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::printer::PlainProgress;
    use bollard_buildkit_proto::moby::buildkit::v1::{VertexLog, VertexStatus};

    fn time(seconds: i64, millis: i32) -> Option<Timestamp> {
        Some(Timestamp {
            seconds,
            nanos: millis * 1_000_000,
        })
    }

    fn vertex(digest: &str, name: &str) -> Vertex {
        Vertex {
            digest: digest.to_string(),
            name: name.to_string(),
            ..Vertex::default()
        }
    }

    fn log(digest: &str, seconds: i64, message: &str) -> VertexLog {
        VertexLog {
            vertex: digest.to_string(),
            timestamp: time(seconds, 0),
            stream: 1,
            msg: message.as_bytes().to_vec(),
        }
    }

    /// Runs `responses` through a tracker and a plain printer.
    fn print(responses: Vec<StatusResponse>) -> (String, VertexTracker) {
        let mut tracker = VertexTracker::new();
        let mut printer = PlainProgress::new(Vec::new());
        for response in responses {
            tracker.apply(response, &mut printer);
        }
        (String::from_utf8(printer.into_inner()).expect("utf-8 output"), tracker)
    }

    #[test]
    fn plain_progress_run_step() {
        let run = "sha256:run";
        let started = Vertex {
            started: time(100, 0),
            ..vertex(run, "[builder 2/3] RUN go build")
        };
        let done = Vertex {
            completed: time(102, 100),
            ..started.clone()
        };
        let responses = vec![
            StatusResponse {
                vertexes: vec![started],
                ..StatusResponse::default()
            },
            StatusResponse {
                logs: vec![log(run, 100, "compiling\npart")],
                ..StatusResponse::default()
            },
            StatusResponse {
                logs: vec![log(run, 101, "ial line\n")],
                ..StatusResponse::default()
            },
            StatusResponse {
                vertexes: vec![done],
                ..StatusResponse::default()
            },
        ];

        let (output, _) = print(responses);
        assert_eq!(
            output,
            "#1 [builder 2/3] RUN go build\n#1 0.000 compiling\n#1 0.000 partial line\n#1 DONE 2.1s\n\n"
        );
    }

    #[test]
    fn plain_progress_cached_once() {
        let cached = Vertex {
            cached: true,
            started: time(5, 0),
            completed: time(5, 0),
            ..vertex("d", "[a 1/1] FROM alpine")
        };
        let responses = vec![
            StatusResponse {
                vertexes: vec![cached.clone()],
                ..StatusResponse::default()
            },
            StatusResponse {
                vertexes: vec![cached],
                ..StatusResponse::default()
            },
        ];
        let (output, _) = print(responses);
        assert_eq!(output, "#1 [a 1/1] FROM alpine\n#1 CACHED\n\n");
    }

    #[test]
    fn plain_progress_numbers_in_order() {
        let responses = vec![StatusResponse {
            vertexes: vec![
                Vertex {
                    started: time(1, 0),
                    ..vertex("b", "second")
                },
                Vertex {
                    started: time(1, 0),
                    ..vertex("a", "first")
                },
            ],
            ..StatusResponse::default()
        }];
        let (output, _) = print(responses);
        assert_eq!(output, "#1 second\n#2 first\n");
    }

    #[test]
    fn plain_progress_status_done() {
        let responses = vec![StatusResponse {
            vertexes: vec![Vertex {
                started: time(1, 0),
                ..vertex("ctx", "[internal] load build context")
            }],
            statuses: vec![
                VertexStatus {
                    id: "t".to_string(),
                    vertex: "ctx".to_string(),
                    name: "transferring context".to_string(),
                    current: 1234,
                    ..VertexStatus::default()
                },
                VertexStatus {
                    id: "t".to_string(),
                    vertex: "ctx".to_string(),
                    name: "transferring context".to_string(),
                    current: 2345,
                    completed: time(2, 0),
                    ..VertexStatus::default()
                },
            ],
            ..StatusResponse::default()
        }];
        let (output, _) = print(responses);
        assert_eq!(
            output,
            "#1 [internal] load build context\n#1 transferring context 2.35kB done\n"
        );
    }

    #[test]
    fn plain_progress_numbers_by_first_event() {
        // The engine lists every vertex in its first message, before any starts.
        let listed = StatusResponse {
            vertexes: vec![
                vertex("last", "[app 2/2] RUN b"),
                vertex("first", "[app 1/2] FROM alpine"),
            ],
            ..StatusResponse::default()
        };
        let started = |digest: &str, name: &str| StatusResponse {
            vertexes: vec![Vertex {
                started: time(1, 0),
                completed: time(2, 0),
                ..vertex(digest, name)
            }],
            ..StatusResponse::default()
        };
        let responses = vec![
            listed,
            started("first", "[app 1/2] FROM alpine"),
            started("last", "[app 2/2] RUN b"),
        ];
        let (output, _) = print(responses);
        assert_eq!(
            output,
            "#1 [app 1/2] FROM alpine\n#1 DONE 1.0s\n\n#2 [app 2/2] RUN b\n#2 DONE 1.0s\n\n"
        );
    }

    #[test]
    fn plain_progress_late_status_repeats_header() {
        let context = Vertex {
            started: time(1, 0),
            completed: time(1, 0),
            ..vertex("ctx", "[internal] load build context")
        };
        let workdir = Vertex {
            started: time(1, 0),
            ..vertex("wd", "[app 2/3] WORKDIR /app")
        };
        let transferred = VertexStatus {
            id: "t".to_string(),
            vertex: "ctx".to_string(),
            name: "transferring context".to_string(),
            current: 54,
            completed: time(2, 0),
            ..VertexStatus::default()
        };
        let responses = vec![
            StatusResponse {
                vertexes: vec![context, workdir.clone()],
                ..StatusResponse::default()
            },
            StatusResponse {
                statuses: vec![transferred],
                ..StatusResponse::default()
            },
            StatusResponse {
                vertexes: vec![Vertex {
                    completed: time(3, 0),
                    ..workdir
                }],
                ..StatusResponse::default()
            },
        ];
        let (output, _) = print(responses);
        assert_eq!(
            output,
            "#1 [internal] load build context\n#1 DONE 0.0s\n\n\
             #2 [app 2/3] WORKDIR /app\n\
             #1 [internal] load build context\n#1 transferring context 54B done\n#1 DONE 0.0s\n\n\
             #2 [app 2/3] WORKDIR /app\n#2 DONE 2.0s\n\n"
        );
    }

    #[test]
    fn plain_progress_logs_before_done_same_message() {
        let run = Vertex {
            started: time(1, 0),
            completed: time(2, 0),
            ..vertex("run", "[app 2/2] RUN echo hi")
        };
        let responses = vec![StatusResponse {
            vertexes: vec![run],
            logs: vec![log("run", 1, "hi\n")],
            ..StatusResponse::default()
        }];
        let (output, _) = print(responses);
        assert_eq!(output, "#1 [app 2/2] RUN echo hi\n#1 0.000 hi\n#1 DONE 1.0s\n\n");
    }

    #[test]
    fn tracker_reports_failed_step() {
        let step = "sha256:step";
        let other = "sha256:other";
        let responses = vec![
            StatusResponse {
                vertexes: vec![Vertex {
                    started: time(1, 0),
                    ..vertex(step, "[app 2/2] RUN make")
                }],
                logs: vec![log(step, 1, "cc main.c\nmain.c:1: error: boom\nno newline")],
                ..StatusResponse::default()
            },
            StatusResponse {
                vertexes: vec![
                    Vertex {
                        started: time(1, 0),
                        error: "context canceled".to_string(),
                        ..vertex(other, "[app 1/2] RUN x")
                    },
                    Vertex {
                        started: time(1, 0),
                        error: "exit code: 2".to_string(),
                        ..vertex(step, "[app 2/2] RUN make")
                    },
                ],
                ..StatusResponse::default()
            },
        ];

        let (output, tracker) = print(responses);
        assert!(output.contains("#1 ERROR: exit code: 2\n"), "{output}");
        assert!(
            output.contains("#1 0.000 no newline\n#1 ERROR"),
            "a partial line is printed before the error: {output}"
        );

        let failed = tracker.failed_vertex().expect("a vertex failed");
        assert_eq!(failed.name, "[app 2/2] RUN make");
        assert_eq!(failed.error, "exit code: 2");
        assert_eq!(failed.last_logs, ["cc main.c", "main.c:1: error: boom", "no newline"]);
    }

    #[test]
    fn log_tail_keeps_last_lines() {
        let mut tail = LogTail::default();
        for line in 0..30 {
            tail.push(format!("line {line}\n").as_bytes());
        }
        let lines = tail.lines();
        assert_eq!(lines.len(), LOG_TAIL_LINES);
        assert_eq!(lines.first().map(String::as_str), Some("line 10"));
        assert_eq!(lines.last().map(String::as_str), Some("line 29"));
    }

    #[test]
    fn closure_is_sink() {
        let mut seen = Vec::new();
        let mut sink = |event: &ProgressEvent| seen.push(event.clone());
        let mut tracker = VertexTracker::new();
        tracker.apply(
            StatusResponse {
                vertexes: vec![Vertex {
                    started: time(1, 0),
                    ..vertex("x", "step")
                }],
                ..StatusResponse::default()
            },
            &mut sink,
        );
        assert_eq!(seen.len(), 1);
    }
}
