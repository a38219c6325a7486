//! Privacy: typed redaction in what `subtext` writes, and `subtext redact-audio`.

use serde_json::Value;

use crate::common::{marked_transcript, read_wav, root, run_ok, score_lines, subtext};

#[test]
fn redact_audio_silences_the_marked_words_and_keeps_everything_else() {
    let dir = tempfile::tempdir().unwrap();
    let transcript = marked_transcript(dir.path());
    let wav = root().join("samples/call-en-1.wav");
    let out = dir.path().join("redacted.wav");
    let run = run_ok(
        subtext()
            .arg("redact-audio")
            .arg(&wav)
            .arg(&transcript)
            .arg("--out")
            .arg(&out)
            .arg("--silence"),
    );
    assert!(String::from_utf8_lossy(&run.stderr).contains("1 span(s)"));
    let (spec_in, before) = read_wav(&wav);
    let (spec_out, after) = read_wav(&out);
    assert_eq!(spec_in, spec_out, "same rate, channels and sample format");
    assert_eq!(before.len(), after.len());
    let rate = spec_in.sample_rate as f64;
    let frame = |t: f64| (t * rate) as usize * 2;
    // 8.992-9.752 s, padded by 150 ms: silent on both channels (inside the fades).
    assert!(after[frame(8.9)..frame(9.85)].iter().all(|&s| s == 0));
    assert!(
        before[frame(8.9)..frame(9.85)].iter().any(|&s| s != 0),
        "there was speech"
    );
    // Outside the span nothing changed.
    assert!(
        before[..frame(8.8)] == after[..frame(8.8)],
        "changed before the span"
    );
    assert!(
        before[frame(9.95)..] == after[frame(9.95)..],
        "changed after the span"
    );
}

#[test]
fn redact_audio_refuses_another_recording_and_unredacted_transcripts() {
    let dir = tempfile::tempdir().unwrap();
    let transcript = marked_transcript(dir.path());
    let out = dir.path().join("x.wav");
    let other = subtext()
        .arg("redact-audio")
        .arg(root().join("samples/call-en-2.wav"))
        .arg(&transcript)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(other.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&other.stderr).contains("not the recording"));
    assert!(!out.exists(), "nothing written");

    let mut t: Value =
        serde_json::from_str(&std::fs::read_to_string(&transcript).unwrap()).unwrap();
    t["call"]["redacted"] = false.into();
    std::fs::write(&transcript, t.to_string()).unwrap();
    let plain = subtext()
        .arg("redact-audio")
        .arg(root().join("samples/call-en-1.wav"))
        .arg(&transcript)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(plain.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&plain.stderr).contains("--no-redact"));
}

#[test]
fn typed_placeholders_reach_the_output() {
    let rows = score_lines(
        &[],
        &[
            "Mijn BSN is 111222333 en mijn nummer 06 12345678.",
            "Ik ben geboren op 3 november 1979.",
            "Mijn nummer is nul zes een twee drie vier vijf zes zeven acht.",
        ],
    );
    let texts: Vec<&str> = rows.iter().map(|r| r["text"].as_str().unwrap()).collect();
    assert_eq!(texts[0], "Mijn BSN is [BSN] en mijn nummer [PHONE]");
    assert_eq!(texts[1], "Ik ben geboren op [DATE]");
    assert_eq!(texts[2], "Mijn nummer is [NUMBER]");
    let kept = score_lines(&["--no-redact"], &["Mijn BSN is 111222333."]);
    assert!(kept[0]["text"].as_str().unwrap().contains("111222333"));
}
