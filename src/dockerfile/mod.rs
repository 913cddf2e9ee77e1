//! The Dockerfile backend.
