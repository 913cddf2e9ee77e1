//! The gRPC health service. BuildKit 0.13 calls `Check` on the session
//! every 5 s and closes the session at the second failed check, unless five
//! checks succeeded in between.

use bollard_buildkit_proto::health::health_check_response::ServingStatus;
use bollard_buildkit_proto::health::health_server::Health;
use bollard_buildkit_proto::health::{HealthCheckRequest, HealthCheckResponse, HealthListRequest, HealthListResponse};
use tonic::{Request, Response, Status};

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HealthService;

#[tonic::async_trait]
impl Health for HealthService {
    async fn check(&self, _request: Request<HealthCheckRequest>) -> Result<Response<HealthCheckResponse>, Status> {
        Ok(Response::new(HealthCheckResponse {
            status: ServingStatus::Serving as i32,
        }))
    }

    async fn list(&self, _request: Request<HealthListRequest>) -> Result<Response<HealthListResponse>, Status> {
        Err(Status::unimplemented("the stagec session serves Check only"))
    }

    type WatchStream = futures::stream::Empty<Result<HealthCheckResponse, Status>>;

    async fn watch(&self, _request: Request<HealthCheckRequest>) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("the stagec session serves Check only"))
    }
}
