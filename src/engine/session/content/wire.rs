//! Messages of containerd's content service (`containerd.services.content.v1`),
//! with the tags of proto/containerd/services/content/v1/content.proto
//! (containerd v1.7.13). They are written by hand because the crate
//! `bollard-buildkit-proto` lacks them and nine small messages do not
//! justify a code generator in the build.

use bollard_buildkit_proto::google::protobuf::Timestamp;

#[derive(Clone, PartialEq, prost::Message)]
pub struct Info {
    #[prost(string, tag = "1")]
    pub digest: String,
    #[prost(int64, tag = "2")]
    pub size: i64,
    #[prost(message, optional, tag = "3")]
    pub created_at: Option<Timestamp>,
    #[prost(message, optional, tag = "4")]
    pub updated_at: Option<Timestamp>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct InfoRequest {
    #[prost(string, tag = "1")]
    pub digest: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct InfoResponse {
    #[prost(message, optional, tag = "1")]
    pub info: Option<Info>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct UpdateRequest {
    #[prost(message, optional, tag = "1")]
    pub info: Option<Info>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ListContentRequest {
    #[prost(string, repeated, tag = "1")]
    pub filters: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ListContentResponse {
    #[prost(message, repeated, tag = "1")]
    pub info: Vec<Info>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct DeleteContentRequest {
    #[prost(string, tag = "1")]
    pub digest: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadContentRequest {
    #[prost(string, tag = "1")]
    pub digest: String,
    #[prost(int64, tag = "2")]
    pub offset: i64,
    #[prost(int64, tag = "3")]
    pub size: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadContentResponse {
    #[prost(int64, tag = "1")]
    pub offset: i64,
    #[prost(bytes = "vec", tag = "2")]
    pub data: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Status {
    #[prost(message, optional, tag = "1")]
    pub started_at: Option<Timestamp>,
    #[prost(message, optional, tag = "2")]
    pub updated_at: Option<Timestamp>,
    #[prost(string, tag = "3")]
    pub r#ref: String,
    #[prost(int64, tag = "4")]
    pub offset: i64,
    #[prost(int64, tag = "5")]
    pub total: i64,
    #[prost(string, tag = "6")]
    pub expected: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StatusRequest {
    #[prost(string, tag = "1")]
    pub r#ref: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StatusResponse {
    #[prost(message, optional, tag = "1")]
    pub status: Option<Status>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ListStatusesRequest {
    #[prost(string, repeated, tag = "1")]
    pub filters: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ListStatusesResponse {
    #[prost(message, repeated, tag = "1")]
    pub statuses: Vec<Status>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, prost::Enumeration)]
#[repr(i32)]
pub enum WriteAction {
    Stat = 0,
    Write = 1,
    Commit = 2,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteContentRequest {
    #[prost(enumeration = "WriteAction", tag = "1")]
    pub action: i32,
    #[prost(string, tag = "2")]
    pub r#ref: String,
    #[prost(int64, tag = "3")]
    pub total: i64,
    #[prost(string, tag = "4")]
    pub expected: String,
    #[prost(int64, tag = "5")]
    pub offset: i64,
    #[prost(bytes = "vec", tag = "6")]
    pub data: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteContentResponse {
    #[prost(enumeration = "WriteAction", tag = "1")]
    pub action: i32,
    #[prost(message, optional, tag = "2")]
    pub started_at: Option<Timestamp>,
    #[prost(message, optional, tag = "3")]
    pub updated_at: Option<Timestamp>,
    #[prost(int64, tag = "4")]
    pub offset: i64,
    #[prost(int64, tag = "5")]
    pub total: i64,
    #[prost(string, tag = "6")]
    pub digest: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AbortRequest {
    #[prost(string, tag = "1")]
    pub r#ref: String,
}
