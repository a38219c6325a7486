//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/evaldata/<name>`, which tests read in place (never copied).
pub fn evaldata(name: &str) -> PathBuf {
    root().join("..").join("shared").join("evaldata").join(name)
}

/// The `subtext` binary with the repository's models and no `RUST_LOG` from outside.
pub fn subtext() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_subtext"));
    cmd.env("SUBTEXT_MODELS", root().join("models"))
        .env_remove("RUST_LOG");
    cmd
}
