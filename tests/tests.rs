//! One integration-test binary (see Cargo.toml `[[test]]`): each module covers one
//! capability. Tests that need the real models find them under `models/` (made by
//! `make models`) and fail with a clear message when they are missing.

mod common;

mod audio;
mod batch;
mod corpus;
mod formats;
mod hints;
mod live;
mod privacy;
mod replay;
mod scoring;
mod vad;
mod web;
