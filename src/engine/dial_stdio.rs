//! Connections through `buildctl dial-stdio` in a container or a
//! Kubernetes pod, as buildctl makes for `docker-container://` and
//! `kube-pod://` addresses: `docker exec -i` or `kubectl exec -i` runs
//! buildctl next to buildkitd, and its stdin and stdout carry the gRPC
//! connection.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::oneshot;

use super::address::BuildkitAddress;
use super::error::EngineError;

/// Most bytes of the helper's stderr kept for the error message.
const MAX_STDERR_BYTES: u64 = 8 * 1024;

/// Returns the program and arguments that open a connection to
/// `address`, or `None` for addresses that stagec dials itself.
pub(crate) fn helper_command(address: &BuildkitAddress) -> Option<Vec<String>> {
    let owned = |items: &[&str]| items.iter().map(|item| item.to_string()).collect::<Vec<_>>();
    match address {
        BuildkitAddress::DockerContainer { container } => {
            let mut command = owned(&["docker", "exec", "-i", container]);
            command.extend(owned(&["buildctl", "dial-stdio"]));
            Some(command)
        }
        BuildkitAddress::KubePod {
            pod,
            namespace,
            context,
            container,
        } => {
            let mut command = owned(&["kubectl"]);
            if let Some(context) = context {
                command.extend(owned(&["--context", context]));
            }
            if let Some(namespace) = namespace {
                command.extend(owned(&["--namespace", namespace]));
            }
            command.extend(owned(&["exec", "-i"]));
            if let Some(container) = container {
                command.extend(owned(&["--container", container]));
            }
            command.extend(owned(&[pod, "--", "buildctl", "dial-stdio"]));
            Some(command)
        }
        BuildkitAddress::Unix { .. } | BuildkitAddress::Tcp { .. } => None,
    }
}

/// Starts `command` and returns its stdin and stdout as one connection.
pub(crate) fn spawn(command: &[String], address: &str) -> Result<DialStdio, EngineError> {
    let command_line = command.join(" ");
    let failed = |detail: String| EngineError::DialStdio {
        address: address.to_string(),
        command: command_line.clone(),
        detail,
    };
    let (program, args) = command
        .split_first()
        .ok_or_else(|| failed("the command is empty".to_string()))?;

    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| match error.kind() {
            io::ErrorKind::NotFound => failed(format!("`{program}` is not installed or not on PATH")),
            _ => failed(format!("cannot start `{program}`: {error}")),
        })?;
    let (Some(stdin), Some(stdout), Some(mut stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(failed("the command's pipes are missing".to_string()));
    };

    // The helper's stderr says why a connection failed, such as
    // "No such container", so it is kept for the error on the first read.
    let (stderr_sender, stderr_receiver) = oneshot::channel();
    tokio::spawn(async move {
        let mut text = String::new();
        let _ = (&mut stderr).take(MAX_STDERR_BYTES).read_to_string(&mut text).await;
        let _ = stderr_sender.send(text);
    });
    tracing::debug!(command = %command_line, "started BuildKit connection helper");

    Ok(DialStdio {
        child,
        stdin,
        stdout,
        stderr: Some(stderr_receiver),
        received_data: false,
        address: address.to_string(),
        command: command_line,
    })
}

/// The stdin and stdout of a running helper. Dropping it kills the helper.
pub(crate) struct DialStdio {
    #[allow(dead_code)] // Kept so that dropping the connection kills the helper.
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    stderr: Option<oneshot::Receiver<String>>,
    received_data: bool,
    address: String,
    command: String,
}

impl AsyncRead for DialStdio {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.stdout).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                this.received_data = true;
                Poll::Ready(Ok(()))
            }
            // The helper closed stdout before it sent anything: it failed,
            // and its stderr, complete once it exits, says why.
            Poll::Ready(Ok(())) if !this.received_data => {
                let Some(receiver) = this.stderr.as_mut() else {
                    return Poll::Ready(Ok(()));
                };
                let stderr = match Pin::new(receiver).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(text) => text.unwrap_or_default(),
                };
                this.stderr = None;
                tracing::debug!(command = %this.command, stderr = %stderr, "BuildKit connection helper failed");
                // The last line of stderr is the summary for docker and kubectl,
                // which may write retries and warnings before it.
                let detail = match stderr.lines().map(str::trim).rfind(|line| !line.is_empty()) {
                    None => "it ended without sending any data".to_string(),
                    Some(line) => format!("it ended without sending any data: {line}"),
                };
                let error = EngineError::DialStdio {
                    address: this.address.clone(),
                    command: this.command.clone(),
                    detail,
                };
                Poll::Ready(Err(io::Error::other(error)))
            }
            other => other,
        }
    }
}

impl AsyncWrite for DialStdio {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stdin).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stdin).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stdin).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::address::parse_address;

    fn command_for(address: &str) -> Vec<String> {
        helper_command(&parse_address(address).expect("valid address")).expect("a helper address")
    }

    #[test]
    fn docker_container_command() {
        assert_eq!(
            command_for("docker-container://buildkitd").join(" "),
            "docker exec -i buildkitd buildctl dial-stdio"
        );
    }

    #[test]
    fn kube_pod_command_plain() {
        assert_eq!(
            command_for("kube-pod://buildkitd-0").join(" "),
            "kubectl exec -i buildkitd-0 -- buildctl dial-stdio"
        );
    }

    #[test]
    fn kube_pod_command_with_query() {
        assert_eq!(
            command_for("kube-pod://buildkitd-0?namespace=builds&context=prod&container=buildkitd"),
            [
                "kubectl",
                "--context",
                "prod",
                "--namespace",
                "builds",
                "exec",
                "-i",
                "--container",
                "buildkitd",
                "buildkitd-0",
                "--",
                "buildctl",
                "dial-stdio"
            ]
        );
    }

    #[test]
    fn direct_addresses_have_no_helper() {
        assert_eq!(
            helper_command(&parse_address("tcp://127.0.0.1:1234").expect("valid")),
            None
        );
        assert_eq!(
            helper_command(&parse_address("unix:///run/b.sock").expect("valid")),
            None
        );
    }

    #[tokio::test]
    async fn helper_pipes_both_ways() {
        use tokio::io::AsyncWriteExt;

        let command = ["cat".to_string()];
        let mut connection = spawn(&command, "docker-container://test").expect("cat starts");
        connection.write_all(b"ping").await.expect("write");
        let mut received = [0u8; 4];
        connection.read_exact(&mut received).await.expect("read");
        assert_eq!(&received, b"ping");
    }

    #[tokio::test]
    async fn helper_failure_shows_stderr() {
        let command = [
            "sh".to_string(),
            "-c".to_string(),
            "echo 'No such container: x' >&2".to_string(),
        ];
        let mut connection = spawn(&command, "docker-container://x").expect("sh starts");
        let mut received = Vec::new();
        let error = connection
            .read_to_end(&mut received)
            .await
            .expect_err("the helper failed");
        let message = error.to_string();
        assert!(message.contains("No such container: x"), "{message}");
        assert!(message.contains("docker-container://x"), "{message}");
    }

    #[tokio::test]
    async fn helper_failure_keeps_last_line() {
        let script = "echo 'retrying' >&2; echo 'connection refused' >&2; echo >&2";
        let command = ["sh".to_string(), "-c".to_string(), script.to_string()];
        let mut connection = spawn(&command, "kube-pod://p").expect("sh starts");
        let mut received = Vec::new();
        let error = connection
            .read_to_end(&mut received)
            .await
            .expect_err("the helper failed");
        let message = error.to_string();
        let (_, detail) = message.rsplit_once("sending any data: ").expect("the helper's stderr");
        assert_eq!(detail, "connection refused", "{message}");
    }

    #[test]
    fn missing_program_named() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let command = ["stagec-no-such-program".to_string()];
        let error = runtime
            .block_on(async { spawn(&command, "kube-pod://p").map(|_| ()) })
            .expect_err("not found");
        assert!(error.to_string().contains("not installed or not on PATH"), "{error}");
    }
}
