pub mod engine;
pub mod image;
