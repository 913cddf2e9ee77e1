//! stagec compiles declarative container build specs (KDL) into Dockerfiles
//! and BuildKit LLB. The pipeline: [`syntax`] parses KDL into a tree with
//! spans, [`resolve`] builds the typed [`model`] and validates it, [`lower`]
//! orders it into a backend-neutral build graph, and backends such as
//! [`dockerfile`] emit output from that graph.

pub mod cli;
pub mod compile;
pub mod diag;
pub mod dockerfile;
pub mod engine;
pub mod import;
pub mod fmt;
pub mod frontend;
pub mod graph;
pub mod init;
pub mod llb;
pub mod lock;
pub mod lower;
pub mod model;
pub mod resolve;
pub mod syntax;
