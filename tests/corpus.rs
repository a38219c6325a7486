//! The committed bad-input corpus (`tests/corpus/`, made by `make_corpus.py`): every
//! recording either transcribes or fails alone naming the file and the reason; every
//! stream ends `subtext live` with the expected exit code and message. Never a panic.

use serde_json::Value;

use crate::common::{output_with_stdin, root, subtext};

fn expected() -> Value {
    let path = root().join("tests/corpus/expected.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_corpus_file_transcribes_or_fails_alone_with_its_reason() {
    let expected = expected();
    let dir = tempfile::tempdir().unwrap();
    let out = subtext()
        .args(["batch", "--no-progress", "--no-tags", "--format", "json"])
        .arg(root().join("tests/corpus/files"))
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(1), "some files fail: {stderr}");
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("batch-summary.json")).unwrap(),
    )
    .unwrap();
    let files = summary["files"].as_array().unwrap();
    let want = expected["files"].as_object().unwrap();
    assert_eq!(files.len(), want.len(), "{summary:#}");
    for (name, want) in want {
        let got = files
            .iter()
            .find(|f| f["source"].as_str().unwrap().ends_with(name.as_str()))
            .unwrap_or_else(|| panic!("{name} missing from the summary"));
        assert_eq!(got["status"], want["status"], "{name}: {got}");
        if want["status"] == "failed" {
            let error = got["error"].as_str().unwrap();
            assert!(
                error.contains(name.as_str()),
                "{name}: the error names the file: {error}"
            );
            let reason = want["reason"].as_str().unwrap();
            assert!(
                error.to_lowercase().contains(reason),
                "{name}: {error} should say {reason}"
            );
        } else {
            let json = dir.path().join(name.replace(".wav", ".subtext.json"));
            assert!(json.is_file(), "{name}: output written");
        }
    }
}

#[test]
fn every_corpus_stream_ends_live_with_its_exit_code_and_message() {
    let expected = expected();
    for (name, want) in expected["stdin"].as_object().unwrap() {
        let bytes = std::fs::read(root().join("tests/corpus/stdin").join(name)).unwrap();
        let args: Vec<&str> = want["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        let out = output_with_stdin(
            subtext()
                .args(["live", "--no-tags", "--no-partials"])
                .args(&args),
            &bytes,
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        assert_eq!(
            out.status.code(),
            Some(want["exit"].as_i64().unwrap() as i32),
            "{name}: {stderr}"
        );
        assert!(
            stderr.contains(want["message"].as_str().unwrap()),
            "{name}: {stderr}"
        );
        // The stream is always closed by its last stats line.
        let last = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .unwrap_or_else(|| panic!("{name}: no output"));
        assert_eq!(last["done"], true, "{name}: {last}");
    }
}
