//! The terminal progress view (`--progress tty`). A background thread
//! redraws a frame of the build's steps ten times a second, with timers and
//! the last log lines of running steps. When the view is dropped at the end
//! of the build, a summary replaces the frame and stays on the terminal.
//!
//! The view writes ANSI escape sequences (cursor up, erase line, hide and
//! show the cursor) and does not change the terminal mode, so Ctrl-C still
//! sends SIGINT. Dropping the view, which happens when a canceled build's
//! future is dropped, prints the summary and shows the cursor again.

mod view;

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::progress::{ProgressEvent, ProgressSink};
use view::ProgressView;

/// Time between two redraws of the running view.
const REDRAW_INTERVAL: Duration = Duration::from_millis(100);

/// Terminal size when the terminal does not report one.
const FALLBACK_SIZE: TerminalSize = TerminalSize { width: 80, height: 24 };

const HIDE_CURSOR: &str = "\x1b[?25l";
const SHOW_CURSOR: &str = "\x1b[?25h";
const ERASE_TO_LINE_END: &str = "\x1b[K";
const ERASE_BELOW: &str = "\x1b[J";

/// Columns and rows of a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerminalSize {
    pub width: usize,
    pub height: usize,
}

/// Shows build progress as a view that redraws itself in place, like
/// `docker buildx build --progress tty`.
pub struct TtyProgress {
    shared: Arc<Shared>,
    redraw: Option<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<ViewState>,
    /// Wakes the redraw thread when the view is dropped.
    stopped: Condvar,
}

struct ViewState {
    view: ProgressView,
    out: Box<dyn Write + Send>,
    terminal_size: Box<dyn Fn() -> TerminalSize + Send>,
    /// Lines of the last frame, which the next frame overwrites.
    drawn_lines: usize,
    stopped: bool,
}

impl TtyProgress {
    /// Returns a view on stderr, which must be a terminal.
    pub fn stderr() -> TtyProgress {
        TtyProgress::new(std::io::stderr(), || {
            terminal_size(libc::STDERR_FILENO).unwrap_or(FALLBACK_SIZE)
        })
    }

    /// Returns a view that writes to `out`, a terminal of the size that
    /// `terminal_size` returns at each redraw.
    pub fn new(
        out: impl Write + Send + 'static,
        terminal_size: impl Fn() -> TerminalSize + Send + 'static,
    ) -> TtyProgress {
        let shared = Arc::new(Shared {
            state: Mutex::new(ViewState {
                view: ProgressView::new(Instant::now()),
                out: Box::new(out),
                terminal_size: Box::new(terminal_size),
                drawn_lines: 0,
                stopped: false,
            }),
            stopped: Condvar::new(),
        });
        let redraw_shared = shared.clone();
        let redraw = std::thread::Builder::new()
            .name("stagec-progress".to_string())
            .spawn(move || redraw_until_stopped(&redraw_shared))
            .map_err(
                |error| tracing::debug!(%error, "failed to start the progress thread; the view shows only the summary"),
            )
            .ok();
        TtyProgress { shared, redraw }
    }
}

impl ProgressSink for TtyProgress {
    fn event(&mut self, event: &ProgressEvent) {
        lock(&self.shared.state).view.apply(event, Instant::now());
    }
}

impl Drop for TtyProgress {
    fn drop(&mut self) {
        lock(&self.shared.state).stopped = true;
        self.shared.stopped.notify_all();
        if let Some(redraw) = self.redraw.take() {
            let _ = redraw.join();
        }
        lock(&self.shared.state).draw_final();
    }
}

fn redraw_until_stopped(shared: &Shared) {
    let mut state = lock(&shared.state);
    loop {
        state = match shared.stopped.wait_timeout(state, REDRAW_INTERVAL) {
            Ok((state, _)) => state,
            Err(poisoned) => poisoned.into_inner().0,
        };
        if state.stopped {
            return;
        }
        state.draw_live();
    }
}

/// Locks the view state. A panic while the lock was held leaves the state
/// usable, because every change to it is a single step.
fn lock(state: &Mutex<ViewState>) -> MutexGuard<'_, ViewState> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ViewState {
    fn draw_live(&mut self) {
        let size = (self.terminal_size)();
        let frame = self.view.render_live(Instant::now(), size.width, size.height);
        let mut text = String::new();
        if self.drawn_lines == 0 {
            text.push_str(HIDE_CURSOR);
        }
        self.replace_frame(&mut text, &frame);
        // Progress output is best effort: a closed stderr must not fail the build.
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }

    fn draw_final(&mut self) {
        let size = (self.terminal_size)();
        let frame = if self.view.is_empty() {
            Vec::new()
        } else {
            self.view.render_final(Instant::now(), size.width)
        };
        let mut text = String::new();
        self.replace_frame(&mut text, &frame);
        text.push_str(SHOW_CURSOR);
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }

    /// Appends to `text` what moves the cursor to the start of the last
    /// frame, writes `frame` over it, and erases what is left below.
    fn replace_frame(&mut self, text: &mut String, frame: &[String]) {
        if self.drawn_lines > 0 {
            text.push_str(&format!("\x1b[{}A", self.drawn_lines));
        }
        text.push('\r');
        for line in frame {
            text.push_str(line);
            text.push_str(ERASE_TO_LINE_END);
            text.push('\n');
        }
        text.push_str(ERASE_BELOW);
        self.drawn_lines = frame.len();
    }
}

/// Returns the size of the terminal on `fd`, or `None` when `fd` is not a
/// terminal or reports no size.
fn terminal_size(fd: libc::c_int) -> Option<TerminalSize> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` to the pointer, which points
    // to a live, writable `winsize` for the whole call.
    let result = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut size) };
    if result != 0 || size.ws_col == 0 || size.ws_row == 0 {
        return None;
    }
    Some(TerminalSize {
        width: usize::from(size.ws_col),
        height: usize::from(size.ws_row),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose bytes the test reads after the view is dropped.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("capture lock").extend_from_slice(data);
            Ok(data.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().expect("capture lock")).into_owned()
        }
    }

    fn small_terminal() -> TerminalSize {
        TerminalSize { width: 60, height: 20 }
    }

    #[test]
    fn tty_redraws_in_place_and_restores_cursor() {
        let captured = Captured::default();
        let mut progress = TtyProgress::new(captured.clone(), small_terminal);
        progress.event(&ProgressEvent::Started {
            index: 1,
            digest: "sha256:1".to_string(),
            name: "[app 1/1] RUN make".to_string(),
        });
        std::thread::sleep(REDRAW_INTERVAL * 3);
        drop(progress);

        let text = captured.text();
        assert!(text.starts_with(HIDE_CURSOR), "{text:?}");
        assert!(text.ends_with(SHOW_CURSOR), "{text:?}");
        assert!(
            text.contains("\x1b[2A\r"),
            "a later frame moves up over the two lines before: {text:?}"
        );
        let summary = text.rsplit("\x1b[2A\r").next().expect("a final frame");
        assert!(summary.contains("CANCELED [app 1/1] RUN make"), "{summary:?}");
    }

    #[test]
    fn empty_build_prints_no_summary() {
        let captured = Captured::default();
        drop(TtyProgress::new(captured.clone(), small_terminal));
        assert_eq!(captured.text(), format!("\r{ERASE_BELOW}{SHOW_CURSOR}"));
    }

    #[test]
    fn pipe_has_no_terminal_size() {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        use std::os::fd::AsRawFd;
        assert_eq!(terminal_size(writer.as_raw_fd()), None);
        drop(reader);
    }
}
