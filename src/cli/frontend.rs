//! `stagec frontend`: the entry point of the frontend image. BuildKit
//! starts it with the LLBBridge connection on standard input and output,
//! so nothing else may write to standard output. Logs go to standard
//! error, which Docker Engine 26.1 copies to the daemon's log.

use super::{EXIT_FAILURE, Failure};

pub fn run() -> Result<(), Failure> {
    let runtime = super::build::runtime()?;
    let served = runtime.block_on(crate::frontend::serve_stdio());
    // The blocking read of standard input never ends, because BuildKit
    // closes the pipe only after this process exits, and dropping the
    // runtime would wait for it.
    runtime.shutdown_background();
    served.map_err(|error| Failure {
        code: EXIT_FAILURE,
        message: Some(error.to_string()),
    })
}
