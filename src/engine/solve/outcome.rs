//! Choosing the error of a failed build when the Control `Solve` and the
//! frontend both fail, which happens in either order.

use bollard_buildkit_proto::moby::buildkit::v1::SolveResponse;

use crate::engine::gateway::FrontendError;

/// Chooses the outcome of a build from the Control Solve's and the
/// frontend's. The frontend's error wins only over a Control Solve that
/// reports the cancellation it caused, and only when it is an error that
/// BuildKit returned rather than the teardown of a call.
pub(super) fn build_outcome(
    build_ref: &str,
    solved: Result<SolveResponse, tonic::Status>,
    frontend_error: Option<FrontendError>,
) -> Result<SolveResponse, tonic::Status> {
    let solve_status = match solved {
        Ok(response) => return Ok(response),
        Err(status) => status,
    };
    let Some(frontend_error) = frontend_error else {
        return Err(solve_status);
    };

    let frontend_status = frontend_error.status();
    let names_cause = !is_cancellation(frontend_status.message()) && !is_call_teardown(frontend_status);
    if is_cancellation(solve_status.message()) && names_cause {
        tracing::debug!(build = %build_ref, error = %solve_status, "build canceled after the frontend failed");
        return Err(frontend_status.clone());
    }
    Err(solve_status)
}

/// Returns whether a call failed because its stream or connection closed,
/// which happens to the frontend's calls once the build has ended.
fn is_call_teardown(status: &tonic::Status) -> bool {
    std::error::Error::source(status).is_some()
        || matches!(status.code(), tonic::Code::Unavailable | tonic::Code::Cancelled)
        || status.message().contains("h2 protocol error")
}

pub(super) fn is_cancellation(message: &str) -> bool {
    message.contains("context canceled")
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANCELED: &str = "context canceled";
    const STEP_ERROR: &str = "failed to compute cache key: \"/missing\" not found";

    fn returned(message: &str) -> Option<FrontendError> {
        Some(FrontendError::Returned(tonic::Status::unknown(message)))
    }

    #[test]
    fn frontend_error_replaces_cancellation() {
        let outcome = build_outcome("build", Err(tonic::Status::cancelled(CANCELED)), returned(STEP_ERROR));
        assert_eq!(outcome.expect_err("failed").message(), STEP_ERROR);
    }

    #[test]
    fn solve_error_kept_over_frontend() {
        let outcome = build_outcome("build", Err(tonic::Status::unknown(STEP_ERROR)), returned("other"));
        assert_eq!(outcome.expect_err("failed").message(), STEP_ERROR);
    }

    #[test]
    fn cancellation_kept_without_frontend_error() {
        let outcome = build_outcome("build", Err(tonic::Status::cancelled(CANCELED)), None);
        assert_eq!(outcome.expect_err("failed").message(), CANCELED);
    }

    #[test]
    fn frontend_teardown_not_preferred() {
        let teardown = Some(FrontendError::Returned(tonic::Status::unavailable(
            "error reading from server: h2 protocol error: stream no longer needed",
        )));
        let outcome = build_outcome("build", Err(tonic::Status::cancelled(CANCELED)), teardown);
        assert_eq!(outcome.expect_err("failed").message(), CANCELED);
    }

    #[test]
    fn frontend_cancellation_not_preferred() {
        let outcome = build_outcome("build", Err(tonic::Status::unknown(CANCELED)), returned(CANCELED));
        assert_eq!(outcome.expect_err("failed").code(), tonic::Code::Unknown);
    }

    #[test]
    fn success_ignores_frontend_error() {
        let outcome = build_outcome("build", Ok(SolveResponse::default()), returned(STEP_ERROR));
        assert!(outcome.is_ok());
    }
}
