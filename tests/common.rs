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

/// Runs `cmd` with `input` on its stdin and returns its output. The input is
/// written from a thread: the child may fill its stdout pipe before reading it all.
pub fn output_with_stdin(cmd: &mut Command, input: &[u8]) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("subtext runs");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().expect("all input written");
    out
}

/// `subtext score ARGS` with `texts` as stdin lines: one JSON object per text.
pub fn score_lines(args: &[&str], texts: &[&str]) -> Vec<Value> {
    let input = texts.join("\n") + "\n";
    let out = output_with_stdin(subtext().arg("score").args(args), input.as_bytes());
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

pub fn read_wav(path: &std::path::Path) -> (hound::WavSpec, Vec<i16>) {
    let mut r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    (spec, r.samples::<i16>().map(|s| s.unwrap()).collect())
}

/// The tagged sample call with the words "20 minutes" of turn 1 (8.99-9.75 s)
/// marked as a redacted number, as the pipeline marks personal data.
pub fn marked_transcript(dir: &std::path::Path) -> std::path::PathBuf {
    let path = root().join("tests/fixtures/tagged/call-en-1.subtext.json");
    let mut t: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let words = t["turns"][1]["words"].as_array_mut().unwrap();
    let at = words
        .iter()
        .position(|w| w["text"] == "20")
        .expect("the word 20");
    let end = words[at + 1]["end"].clone();
    words[at]["text"] = "[NUMBER]".into();
    words[at]["end"] = end;
    words.remove(at + 1);
    let out = dir.join("call-en-1.subtext.json");
    std::fs::write(&out, serde_json::to_string(&t).unwrap()).unwrap();
    out
}
