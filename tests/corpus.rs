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

/// Three hours of digital silence (8 kHz telephony, 173 MB; written here rather than
/// committed): a transcript without turns, not an error, a hang or a crash. Time and
/// peak memory for it are in `bench/soak.py`.
#[test]
fn three_hours_of_silence_give_a_transcript_without_turns() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let calls = dir.path().join("calls");
    std::fs::create_dir_all(&calls).unwrap();
    let (rate, seconds) = (8_000u32, 3 * 3600u32);
    let data = rate * seconds * 2;
    let mut wav =
        std::io::BufWriter::new(std::fs::File::create(calls.join("silence-3h.wav")).unwrap());
    for part in [
        &b"RIFF"[..],
        &(36 + data).to_le_bytes(),
        b"WAVEfmt ",
        &16u32.to_le_bytes(),
        &1u16.to_le_bytes(), // PCM
        &1u16.to_le_bytes(), // mono
        &rate.to_le_bytes(),
        &(rate * 2).to_le_bytes(),
        &2u16.to_le_bytes(),
        &16u16.to_le_bytes(),
        b"data",
        &data.to_le_bytes(),
    ] {
        wav.write_all(part).unwrap();
    }
    let zeros = vec![0u8; 1 << 20];
    let mut left = data as usize;
    while left > 0 {
        let n = left.min(zeros.len());
        wav.write_all(&zeros[..n]).unwrap();
        left -= n;
    }
    wav.flush().unwrap();
    drop(wav);

    let out = dir.path().join("tagged");
    let run = subtext()
        .args(["batch", "--no-progress"])
        .arg(&calls)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let t: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("silence-3h.subtext.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(t["turns"].as_array().unwrap().len(), 0);
    assert!((t["call"]["duration"].as_f64().unwrap() - 10_800.0).abs() < 0.01);
}
