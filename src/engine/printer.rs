//! Printers of build progress events.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use super::progress::{ProgressEvent, ProgressSink};

/// Prints nothing, for `--quiet`.
#[derive(Debug, Clone, Copy, Default)]
pub struct QuietProgress;

impl ProgressSink for QuietProgress {
    fn event(&mut self, _event: &ProgressEvent) {}
}

// TODO: a terminal view that redraws the running steps in place.
/// Prints progress as plain lines, in the style of `docker build
/// --progress=plain`:
///
/// ```text
/// #3 [builder 2/3] RUN go build
/// #3 0.512 go: downloading example.com/x v1.0.0
/// #3 DONE 2.1s
/// ```
///
/// As in `docker build`, a vertex's `#n name` header comes again when its
/// lines follow those of another vertex, and a vertex that prints after its
/// end (such as a late `transferring context` status) repeats its end line.
pub struct PlainProgress<W: Write + Send> {
    out: W,
    /// Unfinished last line of each vertex's log, by `#n`.
    partial_lines: BTreeMap<usize, (Option<Duration>, Vec<u8>)>,
    /// Name of each vertex that started, by `#n`.
    names: BTreeMap<usize, String>,
    /// End line of each vertex that ended, such as `DONE 2.1s`, by `#n`.
    end_lines: BTreeMap<usize, String>,
    /// The vertex whose line was printed last, while its header is in view.
    current: Option<usize>,
}

impl<W: Write + Send> PlainProgress<W> {
    pub fn new(out: W) -> PlainProgress<W> {
        PlainProgress {
            out,
            partial_lines: BTreeMap::new(),
            names: BTreeMap::new(),
            end_lines: BTreeMap::new(),
            current: None,
        }
    }

    /// Returns the writer, for tests that print into a buffer.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn print(&mut self, event: &ProgressEvent) -> std::io::Result<()> {
        match event {
            ProgressEvent::Started { index, name, .. } => {
                self.names.insert(*index, name.clone());
                self.current = Some(*index);
                writeln!(self.out, "#{index} {name}")
            }
            ProgressEvent::Cached { index, .. } => self.print_end(*index, "CACHED".to_string()),
            ProgressEvent::Completed { index, duration, .. } => {
                let end = match duration {
                    Some(duration) => format!("DONE {:.1}s", duration.as_secs_f64()),
                    None => "DONE".to_string(),
                };
                self.print_end(*index, end)
            }
            ProgressEvent::Failed { index, error, .. } => self.print_end(*index, format!("ERROR: {error}")),
            ProgressEvent::Log {
                index, data, elapsed, ..
            } => {
                let printed = self.print_log(*index, data, *elapsed)?;
                if printed {
                    self.repeat_end(*index)?;
                }
                Ok(())
            }
            ProgressEvent::Status {
                index,
                name,
                current,
                completed,
                ..
            } => {
                if !completed {
                    return Ok(());
                }
                self.switch_to(*index)?;
                if *current > 0 {
                    writeln!(self.out, "#{index} {name} {} done", human_bytes(*current))?;
                } else {
                    writeln!(self.out, "#{index} {name} done")?;
                }
                self.repeat_end(*index)
            }
            ProgressEvent::Warning { index, message, .. } => {
                self.switch_to(*index)?;
                writeln!(self.out, "#{index} WARNING: {message}")?;
                self.repeat_end(*index)
            }
        }
    }

    /// Prints the header of vertex `index` again when the line before it
    /// belongs to another vertex.
    fn switch_to(&mut self, index: usize) -> std::io::Result<()> {
        if self.current != Some(index) {
            if let Some(name) = self.names.get(&index) {
                writeln!(self.out, "#{index} {name}")?;
            }
            self.current = Some(index);
        }
        Ok(())
    }

    /// Prints the end line of a vertex, after its unfinished log line.
    fn print_end(&mut self, index: usize, end: String) -> std::io::Result<()> {
        self.flush_partial(index)?;
        self.switch_to(index)?;
        writeln!(self.out, "#{index} {end}\n")?;
        self.end_lines.insert(index, end);
        self.current = None;
        Ok(())
    }

    /// Repeats the end line of a vertex that printed a line after it ended.
    fn repeat_end(&mut self, index: usize) -> std::io::Result<()> {
        if let Some(end) = self.end_lines.get(&index) {
            writeln!(self.out, "#{index} {end}\n")?;
            self.current = None;
        }
        Ok(())
    }

    /// Prints the complete lines of a log chunk and returns whether there were any.
    fn print_log(&mut self, index: usize, data: &[u8], elapsed: Option<Duration>) -> std::io::Result<bool> {
        let (complete, line_start) = {
            let (line_start, pending) = self.partial_lines.entry(index).or_insert_with(|| (elapsed, Vec::new()));
            if pending.is_empty() {
                *line_start = elapsed;
            }
            pending.extend_from_slice(data);
            let Some(last_newline) = pending.iter().rposition(|&byte| byte == b'\n') else {
                return Ok(false);
            };
            let complete: Vec<u8> = pending.drain(..=last_newline).collect();
            let start = *line_start;
            *line_start = elapsed;
            (complete, start)
        };

        // `complete` ends with a newline, which ends its last line.
        for line in complete[..complete.len() - 1].split(|&byte| byte == b'\n') {
            self.print_line(index, line_start, line)?;
        }
        Ok(true)
    }

    fn print_line(&mut self, index: usize, elapsed: Option<Duration>, line: &[u8]) -> std::io::Result<()> {
        self.switch_to(index)?;
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches('\r');
        match elapsed {
            Some(elapsed) => writeln!(self.out, "#{index} {:.3} {text}", elapsed.as_secs_f64()),
            None => writeln!(self.out, "#{index} {text}"),
        }
    }

    /// Prints the unfinished last log line of a vertex that ended.
    fn flush_partial(&mut self, index: usize) -> std::io::Result<()> {
        if let Some((elapsed, pending)) = self.partial_lines.remove(&index)
            && !pending.is_empty()
        {
            self.print_line(index, elapsed, &pending)?;
        }
        Ok(())
    }
}

impl<W: Write + Send> ProgressSink for PlainProgress<W> {
    fn event(&mut self, event: &ProgressEvent) {
        // Progress output is best effort: a closed stdout must not fail the build.
        let _ = self.print(event);
        let _ = self.out.flush();
    }
}

/// Prints each progress event as one JSON object per line on stderr, for
/// `--progress rawjson`.
pub struct RawJsonProgress;

impl ProgressSink for RawJsonProgress {
    fn event(&mut self, event: &ProgressEvent) {
        let value = match event {
            ProgressEvent::Started { index, digest, name } => {
                serde_json::json!({ "event": "started", "index": index, "digest": digest, "name": name })
            }
            ProgressEvent::Cached { index, digest } => {
                serde_json::json!({ "event": "cached", "index": index, "digest": digest })
            }
            ProgressEvent::Completed {
                index,
                digest,
                duration,
            } => serde_json::json!({
                "event": "completed", "index": index, "digest": digest,
                "seconds": duration.map(|duration| duration.as_secs_f64()),
            }),
            ProgressEvent::Failed { index, digest, error } => {
                serde_json::json!({ "event": "failed", "index": index, "digest": digest, "error": error })
            }
            ProgressEvent::Log {
                index,
                digest,
                stream,
                data,
                ..
            } => serde_json::json!({
                "event": "log", "index": index, "digest": digest, "stream": format!("{stream:?}").to_lowercase(),
                "data": String::from_utf8_lossy(data),
            }),
            ProgressEvent::Status {
                index,
                digest,
                name,
                current,
                total,
                completed,
            } => serde_json::json!({
                "event": "status", "index": index, "digest": digest, "name": name,
                "current": current, "total": total, "completed": completed,
            }),
            ProgressEvent::Warning { index, digest, message } => {
                serde_json::json!({ "event": "warning", "index": index, "digest": digest, "message": message })
            }
        };
        eprintln!("{value}");
    }
}

/// Formats a byte count the way BuildKit's plain progress does: `512B`,
/// `1.23kB`, `4.56MB` (powers of 1000).
pub(crate) fn human_bytes(bytes: i64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else {
        format!("{value:.2}{}", units[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes_table() {
        assert_eq!(human_bytes(0), "0B");
        assert_eq!(human_bytes(999), "999B");
        assert_eq!(human_bytes(1234), "1.23kB");
        assert_eq!(human_bytes(4_560_000), "4.56MB");
    }
}
