//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

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

/// Runs `cmd`, failing the test with its stderr unless it succeeds.
pub fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().expect("subtext runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `subtext score ARGS` with `texts` as stdin lines: one JSON object per text.
pub fn score_lines(args: &[&str], texts: &[&str]) -> Vec<Value> {
    let mut child = subtext()
        .arg("score")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("subtext runs");
    let input = texts.join("\n") + "\n";
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), texts.len());
    rows
}
