//! The state of the terminal progress view and its rendering into lines of
//! text, apart from the terminal so that tests can render frames at chosen
//! times. The layout follows `docker buildx build --progress tty`:
//!
//! ```text
//! [+] Building 4.2s (3/5)
//!  => CACHED [builder 1/4] FROM docker.io/library/golang:1.19           0.0s
//!  => [builder 4/4] RUN go build -o /app/main .                         2.1s
//!  => => # go: downloading example.com/x v1.0.0
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::super::printer::human_bytes;
use super::super::progress::{LogTail, ProgressEvent};

/// Log lines shown below each running step.
pub(crate) const SHOWN_LOG_LINES: usize = 6;

/// The state of a step: running, done, cached or failed.
#[derive(Debug, Clone, PartialEq)]
enum StepState {
    Running { since: Instant },
    Done { duration: Duration },
    Cached,
    Failed { duration: Duration },
}

/// A sub-task of a step, such as `transferring context`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SubTask {
    current: i64,
    total: i64,
    completed: bool,
}

#[derive(Debug)]
struct StepView {
    name: String,
    state: StepState,
    sub_tasks: BTreeMap<String, SubTask>,
    logs: LogTail,
}

/// Steps of one build, by their `#n` number, with what the view shows of them.
#[derive(Debug)]
pub(crate) struct ProgressView {
    started: Instant,
    steps: BTreeMap<usize, StepView>,
    /// Step numbers in the order the steps started, which the view lists
    /// them in. BuildKit numbers steps in the order it first reports them,
    /// which is often the last step first.
    start_order: Vec<usize>,
    warnings: Vec<String>,
}

impl ProgressView {
    pub(crate) fn new(started: Instant) -> ProgressView {
        ProgressView {
            started,
            steps: BTreeMap::new(),
            start_order: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Returns whether no step has started.
    pub(crate) fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Applies an event that arrived at `at`.
    pub(crate) fn apply(&mut self, event: &ProgressEvent, at: Instant) {
        match event {
            ProgressEvent::Started { index, name, .. } => {
                if !self.steps.contains_key(index) {
                    self.start_order.push(*index);
                }
                self.steps.insert(
                    *index,
                    StepView {
                        name: name.clone(),
                        state: StepState::Running { since: at },
                        sub_tasks: BTreeMap::new(),
                        logs: LogTail::default(),
                    },
                );
            }
            ProgressEvent::Cached { index, .. } => {
                if let Some(step) = self.steps.get_mut(index) {
                    step.state = StepState::Cached;
                }
            }
            ProgressEvent::Completed { index, duration, .. } => {
                if let Some(step) = self.steps.get_mut(index) {
                    // The engine's times are exact; the arrival time is the fallback.
                    let duration = duration.unwrap_or_else(|| step.running_time(at));
                    step.state = StepState::Done { duration };
                }
            }
            ProgressEvent::Failed { index, .. } => {
                if let Some(step) = self.steps.get_mut(index) {
                    let duration = step.running_time(at);
                    step.state = StepState::Failed { duration };
                }
            }
            ProgressEvent::Log { index, data, .. } => {
                if let Some(step) = self.steps.get_mut(index) {
                    step.logs.push(data);
                }
            }
            ProgressEvent::Status {
                index,
                name,
                current,
                total,
                completed,
                ..
            } => {
                if let Some(step) = self.steps.get_mut(index) {
                    let sub_task = SubTask {
                        current: *current,
                        total: *total,
                        completed: *completed,
                    };
                    step.sub_tasks.insert(name.clone(), sub_task);
                }
            }
            ProgressEvent::Warning { message, .. } => self.warnings.push(message.clone()),
        }
    }

    /// Renders the live view at `now` for a terminal of `width` columns and
    /// `height` rows: a header, every step, and the sub-tasks and last log
    /// lines of running steps. When the lines do not fit, the oldest
    /// finished steps are left out, then log lines.
    pub(crate) fn render_live(&self, now: Instant, width: usize, height: usize) -> Vec<String> {
        let mut blocks: Vec<(bool, Vec<String>)> = self
            .steps_in_start_order()
            .map(|step| {
                let running = matches!(step.state, StepState::Running { .. });
                let mut lines = vec![step.line(now, width, false)];
                if running {
                    lines.extend(step.detail_lines(now, width));
                }
                (running, lines)
            })
            .collect();

        // One row stays free for the cursor below the frame.
        let room = height.saturating_sub(2).max(1);
        let mut total: usize = blocks.iter().map(|(_, lines)| lines.len()).sum();
        while total > room {
            let Some(oldest_finished) = blocks.iter().position(|(running, _)| !running) else {
                break;
            };
            total -= blocks.remove(oldest_finished).1.len();
        }
        while total > room {
            // Only running steps are left: drop their oldest detail line.
            let Some(longest) = blocks
                .iter_mut()
                .filter(|(_, lines)| lines.len() > 1)
                .max_by_key(|(_, lines)| lines.len())
            else {
                break;
            };
            longest.1.remove(1);
            total -= 1;
        }

        let mut frame = vec![fit(&self.header(now, None), width)];
        frame.extend(blocks.into_iter().flat_map(|(_, lines)| lines));
        frame.truncate(room + 1);
        frame
    }

    /// Renders the summary that stays on the terminal after the build:
    /// every step with its time, and the warnings. A step that is still
    /// running was canceled.
    pub(crate) fn render_final(&self, now: Instant, width: usize) -> Vec<String> {
        let failed = self
            .steps
            .values()
            .any(|step| matches!(step.state, StepState::Failed { .. }));
        let canceled = self
            .steps
            .values()
            .any(|step| matches!(step.state, StepState::Running { .. }));
        let outcome = if failed {
            "FAILED"
        } else if canceled {
            "CANCELED"
        } else {
            "FINISHED"
        };
        let mut frame = vec![fit(&self.header(now, Some(outcome)), width)];
        frame.extend(self.steps_in_start_order().map(|step| step.line(now, width, true)));
        frame.extend(
            self.warnings
                .iter()
                .map(|warning| fit(&format!("WARNING: {}", clean(warning)), width)),
        );
        frame
    }

    fn steps_in_start_order(&self) -> impl Iterator<Item = &StepView> {
        self.start_order.iter().filter_map(|index| self.steps.get(index))
    }

    fn header(&self, now: Instant, outcome: Option<&str>) -> String {
        let finished = self
            .steps
            .values()
            .filter(|step| !matches!(step.state, StepState::Running { .. }))
            .count();
        let elapsed = seconds(now.saturating_duration_since(self.started));
        match outcome {
            Some(outcome) => format!("[+] Building {elapsed} ({finished}/{}) {outcome}", self.steps.len()),
            None => format!("[+] Building {elapsed} ({finished}/{})", self.steps.len()),
        }
    }
}

impl StepView {
    fn running_time(&self, now: Instant) -> Duration {
        match self.state {
            StepState::Running { since } => now.saturating_duration_since(since),
            StepState::Done { duration } | StepState::Failed { duration } => duration,
            StepState::Cached => Duration::ZERO,
        }
    }

    /// Returns the step's line: its name with a marker, and its time at the right.
    fn line(&self, now: Instant, width: usize, is_final: bool) -> String {
        let marker = match &self.state {
            StepState::Running { .. } if is_final => "CANCELED ",
            StepState::Running { .. } | StepState::Done { .. } => "",
            StepState::Cached => "CACHED ",
            StepState::Failed { .. } => "ERROR ",
        };
        let time = seconds(self.running_time(now));
        with_time(&format!(" => {marker}{}", clean(&self.name)), &time, width)
    }

    /// Returns the sub-task lines and the last log lines of a running step.
    fn detail_lines(&self, now: Instant, width: usize) -> Vec<String> {
        let mut lines: Vec<String> = self
            .sub_tasks
            .iter()
            .map(|(name, task)| {
                let mut text = format!(" => => {}", clean(name));
                if task.current > 0 && task.total > 0 {
                    text.push_str(&format!(" {} / {}", human_bytes(task.current), human_bytes(task.total)));
                } else if task.current > 0 {
                    text.push_str(&format!(" {}", human_bytes(task.current)));
                }
                if task.completed {
                    text.push_str(" done");
                }
                let time = seconds(self.running_time(now));
                with_time(&text, &time, width)
            })
            .collect();
        let logs = self.logs.lines();
        let shown = &logs[logs.len().saturating_sub(SHOWN_LOG_LINES)..];
        lines.extend(
            shown
                .iter()
                .map(|line| fit(&format!(" => => # {}", clean(line)), width)),
        );
        lines
    }
}

/// Formats a duration the way buildx does: `0.0s`, `12.3s`.
fn seconds(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}

/// Returns `text` and `time`, with `time` at the right edge of `width`
/// columns. `text` is cut to fit.
fn with_time(text: &str, time: &str, width: usize) -> String {
    let time_width = time.chars().count();
    let text_room = width.saturating_sub(time_width + 1);
    let text = fit(text, text_room);
    let padding = width.saturating_sub(text.chars().count() + time_width + 1).max(1);
    format!("{text}{}{time}", " ".repeat(padding))
}

/// Cuts `text` to `width - 1` characters, so that a line never wraps,
/// which would break the count of lines to redraw. A cut line ends in `…`.
fn fit(text: &str, width: usize) -> String {
    let room = width.saturating_sub(1).max(1);
    if text.chars().count() <= room {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(room.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Drops the escape sequences of colored build output (`ESC [ ... m` and
/// other CSI sequences) and replaces tabs and other control characters with
/// spaces, so that each character takes one column.
// NOTE: wide characters (CJK, emoji) take two columns and can still make a
// long line wrap.
fn clean(text: &str) -> String {
    let mut cleaned = String::with_capacity(text.len());
    let mut characters = text.chars().peekable();
    while let Some(character) = characters.next() {
        if character == '\u{1b}' && characters.peek() == Some(&'[') {
            characters.next();
            // Parameters and intermediate bytes, up to the final byte.
            for sequence_character in characters.by_ref() {
                if ('@'..='~').contains(&sequence_character) {
                    break;
                }
            }
            continue;
        }
        cleaned.push(if character.is_control() { ' ' } else { character });
    }
    cleaned
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started(index: usize, name: &str) -> ProgressEvent {
        ProgressEvent::Started {
            index,
            digest: format!("sha256:{index}"),
            name: name.to_string(),
        }
    }

    fn log(index: usize, text: &str) -> ProgressEvent {
        ProgressEvent::Log {
            index,
            digest: format!("sha256:{index}"),
            stream: crate::engine::LogStream::Stdout,
            data: text.as_bytes().to_vec(),
            elapsed: None,
        }
    }

    fn millis(start: Instant, millis: u64) -> Instant {
        start + Duration::from_millis(millis)
    }

    /// Returns the view of a build of three steps: a finished context
    /// transfer, a cached image, and a running `go build` with eight log
    /// lines and an unfinished colored line.
    fn build_in_progress(start: Instant) -> ProgressView {
        let mut view = ProgressView::new(start);
        let events = [
            (0, started(1, "[internal] load build context")),
            (
                100,
                ProgressEvent::Status {
                    index: 1,
                    digest: "sha256:1".to_string(),
                    name: "transferring context".to_string(),
                    current: 2345,
                    total: 0,
                    completed: true,
                },
            ),
            (
                150,
                ProgressEvent::Completed {
                    index: 1,
                    digest: "sha256:1".to_string(),
                    duration: Some(Duration::from_millis(150)),
                },
            ),
            (200, started(2, "[builder 1/3] FROM docker.io/library/golang:1.19")),
            (
                200,
                ProgressEvent::Cached {
                    index: 2,
                    digest: "sha256:2".to_string(),
                },
            ),
            (300, started(3, "[builder 3/3] RUN go build -o /app/main .")),
        ];
        for (at, event) in &events {
            view.apply(event, millis(start, *at));
        }
        for line in 1..=8 {
            view.apply(&log(3, &format!("line {line}\n")), millis(start, 400));
        }
        view.apply(&log(3, "\x1b[31mpartial"), millis(start, 500));
        view
    }

    #[test]
    fn live_frame_shows_running_logs() {
        let start = Instant::now();
        let view = build_in_progress(start);
        let frame = view.render_live(millis(start, 2400), 60, 40).join("\n");
        assert_eq!(
            frame,
            "[+] Building 2.4s (2/3)
 => [internal] load build context                      0.1s
 => CACHED [builder 1/3] FROM docker.io/library/golan… 0.0s
 => [builder 3/3] RUN go build -o /app/main .          2.1s
 => => # line 4
 => => # line 5
 => => # line 6
 => => # line 7
 => => # line 8
 => => # partial"
        );
    }

    #[test]
    fn live_frame_drops_finished_steps_first() {
        let start = Instant::now();
        let view = build_in_progress(start);
        let frame = view.render_live(millis(start, 2400), 60, 8);
        assert_eq!(frame.len(), 7, "{frame:#?}");
        assert_eq!(frame[0], "[+] Building 2.4s (2/3)");
        assert!(frame[1].starts_with(" => [builder 3/3] RUN go build"), "{frame:#?}");
        assert_eq!(frame[6], " => => # partial", "the newest log line stays");
    }

    #[test]
    fn final_frame_summarizes_steps() {
        let start = Instant::now();
        let mut view = build_in_progress(start);
        let done = ProgressEvent::Completed {
            index: 3,
            digest: "sha256:3".to_string(),
            duration: Some(Duration::from_millis(3250)),
        };
        view.apply(&done, millis(start, 3600));
        let warning = ProgressEvent::Warning {
            index: 3,
            digest: "sha256:3".to_string(),
            message: "deprecated flag".to_string(),
        };
        view.apply(&warning, millis(start, 3600));

        let frame = view.render_final(millis(start, 3700), 60).join("\n");
        assert_eq!(
            frame,
            "[+] Building 3.7s (3/3) FINISHED
 => [internal] load build context                      0.1s
 => CACHED [builder 1/3] FROM docker.io/library/golan… 0.0s
 => [builder 3/3] RUN go build -o /app/main .          3.2s
WARNING: deprecated flag"
        );
    }

    #[test]
    fn final_frame_marks_canceled_and_failed() {
        let start = Instant::now();
        let view = build_in_progress(start);
        let frame = view.render_final(millis(start, 1000), 60);
        assert_eq!(frame[0], "[+] Building 1.0s (2/3) CANCELED");
        assert!(frame[3].starts_with(" => CANCELED [builder 3/3]"), "{frame:#?}");

        let mut view = build_in_progress(start);
        let failed = ProgressEvent::Failed {
            index: 3,
            digest: "sha256:3".to_string(),
            error: "exit code: 1".to_string(),
        };
        view.apply(&failed, millis(start, 1300));
        let frame = view.render_final(millis(start, 1400), 60);
        assert_eq!(frame[0], "[+] Building 1.4s (3/3) FAILED");
        assert!(frame[3].starts_with(" => ERROR [builder 3/3]"), "{frame:#?}");
        assert!(frame[3].ends_with(" 1.0s"), "{frame:#?}");
    }

    #[test]
    fn steps_listed_in_start_order() {
        let start = Instant::now();
        let mut view = ProgressView::new(start);
        view.apply(&started(2, "[app 1/2] FROM alpine"), start);
        view.apply(&started(1, "[app 2/2] RUN make"), millis(start, 10));
        let frame = view.render_live(millis(start, 20), 40, 10);
        assert!(frame[1].starts_with(" => [app 1/2] FROM alpine"), "{frame:#?}");
        assert!(frame[2].starts_with(" => [app 2/2] RUN make"), "{frame:#?}");
    }

    #[test]
    fn clean_drops_color_sequences() {
        assert_eq!(clean("\u{1b}[1;31merror\u{1b}[0m:\tboom"), "error: boom");
        assert_eq!(clean("plain"), "plain");
    }

    #[test]
    fn transfer_sub_task_shown_while_running() {
        let start = Instant::now();
        let mut view = ProgressView::new(start);
        view.apply(&started(1, "[internal] load build context"), start);
        let status = ProgressEvent::Status {
            index: 1,
            digest: "sha256:1".to_string(),
            name: "transferring context".to_string(),
            current: 1_500_000,
            total: 3_000_000,
            completed: false,
        };
        view.apply(&status, millis(start, 500));
        let frame = view.render_live(millis(start, 700), 60, 40);
        assert_eq!(frame[2], " => => transferring context 1.50MB / 3.00MB            0.7s");
    }

    #[test]
    fn lines_never_reach_last_column() {
        let start = Instant::now();
        let view = build_in_progress(start);
        for width in [20, 30, 45, 60] {
            for line in view.render_live(millis(start, 2400), width, 40) {
                assert!(line.chars().count() < width, "width {width}: {line:?}");
            }
        }
    }
}
