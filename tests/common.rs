//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/evaldata/<name>`, which tests read in place (never copied).
pub fn evaldata(name: &str) -> PathBuf {
    root().join("..").join("shared").join("evaldata").join(name)
}
