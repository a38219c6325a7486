//! `subtext batch` and `subtext transcribe` end to end, with the real whisper base
//! model and Silero VAD from `models/` (run `make models` first; `make test` does).
//!
//! One batch over a folder of good and bad files is shared by several tests (the
//! model is real, so each run costs seconds).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

use crate::common;

use crate::common::subtext;

fn run(cmd: &mut Command) -> Output {
    let output = cmd.output().expect("subtext runs");
    eprintln!(
        "--- stderr ---\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A 16-bit PCM WAV header for `data_len` bytes of data.
fn wav_header(channels: u16, rate: u32, data_len: u32) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&(36 + data_len).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&channels.to_le_bytes());
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&(rate * channels as u32 * 2).to_le_bytes());
    h.extend_from_slice(&(channels * 2).to_le_bytes());
    h.extend_from_slice(&16u16.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_len.to_le_bytes());
    h
}

struct Fixture {
    _dir: tempfile::TempDir,
    input: PathBuf,
    out: PathBuf,
    first: Output,
}

/// Inputs: one real sample call in a sub-folder, and every kind of bad file.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("calls");
        let out = dir.path().join("tagged");
        std::fs::create_dir_all(input.join("monday")).unwrap();
        std::fs::copy(
            common::root().join("samples/call-en-1.wav"),
            input.join("monday/call-en-1.wav"),
        )
        .unwrap();
        std::fs::write(input.join("empty.wav"), b"").unwrap();
        std::fs::write(
            input.join("noise.mp3"),
            (0..5000u32)
                .map(|i| (i * 7919 % 251) as u8)
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let mut truncated_header = wav_header(2, 8000, 16000);
        truncated_header.truncate(30);
        std::fs::write(input.join("cut-header.wav"), truncated_header).unwrap();
        let mut zero_channels = wav_header(0, 8000, 100);
        zero_channels.extend(vec![0u8; 100]);
        std::fs::write(input.join("zero-channels.wav"), zero_channels).unwrap();
        let mut zero_rate = wav_header(1, 0, 100);
        zero_rate.extend(vec![0u8; 100]);
        std::fs::write(input.join("zero-rate.wav"), zero_rate).unwrap();
        let mut mpeg_in_wav = wav_header(1, 8000, 100);
        mpeg_in_wav[20] = 0x55; // format tag 0x0055: MPEG layer 3 inside WAV
        mpeg_in_wav.extend(vec![0u8; 100]);
        std::fs::write(input.join("mpeg-in-wav.wav"), mpeg_in_wav).unwrap();
        // Not picked up from a folder: not an audio extension.
        std::fs::write(input.join("notes.txt"), b"call notes").unwrap();

        let first = run(subtext()
            .args(["batch", "--no-progress", "--format", "json,vtt,srt"])
            .arg(&input)
            .arg("--out")
            .arg(&out));
        Fixture {
            _dir: dir,
            input,
            out,
            first,
        }
    })
}

fn summary(out: &Path) -> Value {
    read_json(&out.join("batch-summary.json"))
}

#[test]
fn batch_reports_each_bad_file_by_name_and_goes_on() {
    let f = fixture();
    assert_eq!(
        f.first.status.code(),
        Some(1),
        "exit code 1 when some files failed"
    );
    let summary = summary(&f.out);
    let files = summary["files"].as_array().unwrap();
    assert_eq!(
        files.len(),
        7,
        "six bad files and one call; notes.txt is not audio: {summary:#}"
    );
    assert_eq!(summary["done"], 1);
    assert_eq!(summary["failed"], 6);
    let stderr = String::from_utf8_lossy(&f.first.stderr);
    for (name, reason) in [
        ("empty.wav", "empty"),
        ("noise.mp3", ""),
        ("cut-header.wav", ""),
        ("zero-channels.wav", "channel"),
        ("zero-rate.wav", "rate"),
        ("mpeg-in-wav.wav", ""),
    ] {
        let entry = files
            .iter()
            .find(|e| e["source"].as_str().unwrap().ends_with(name))
            .unwrap();
        assert_eq!(entry["status"], "failed", "{name}");
        let error = entry["error"].as_str().unwrap();
        assert!(error.contains(name), "the error names the file: {error}");
        assert!(
            error.to_lowercase().contains(reason),
            "{name}: {error} should mention {reason}"
        );
        assert!(stderr.contains(name), "stderr names {name}");
        assert!(!stderr.contains("panicked"), "no panic");
    }
}

#[test]
fn batch_writes_json_vtt_srt_keeping_folders_and_no_temp_files() {
    let f = fixture();
    let base = f.out.join("monday");
    for ext in ["subtext.json", "vtt", "srt"] {
        assert!(
            base.join(format!("call-en-1.{ext}")).is_file(),
            "{ext} written"
        );
    }
    let leftovers: Vec<_> = walk(&f.out)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temporary files left: {leftovers:?}"
    );
    let vtt = std::fs::read_to_string(base.join("call-en-1.vtt")).unwrap();
    assert!(vtt.starts_with("WEBVTT\n\n"));
    assert!(vtt.contains("<v Agent>") && vtt.contains("<v Customer>"));
    let srt = std::fs::read_to_string(base.join("call-en-1.srt")).unwrap();
    assert!(srt.starts_with("1\n00:00:0"), "{srt}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all.extend(walk(&path));
        } else {
            all.push(path);
        }
    }
    all
}

#[test]
fn stereo_call_is_attributed_to_agent_and_customer_by_channel() {
    let f = fixture();
    let json = read_json(&f.out.join("monday/call-en-1.subtext.json"));
    let reference = read_json(&common::root().join("samples/call-en-1.ref.json"));
    assert_eq!(json["schema"], "subtext/1");
    let call = &json["call"];
    assert_eq!(call["channels"], 2);
    assert_eq!(call["sample_rate"], 8000);
    assert_eq!(
        call["channel_map"],
        serde_json::json!(["agent", "customer"])
    );
    assert_eq!(call["language"], "en", "detected English");
    assert_eq!(call["sha256"].as_str().unwrap().len(), 64);

    let ref_turns = reference["turns"].as_array().unwrap();
    let turns = json["turns"].as_array().unwrap();
    assert!(
        turns.len() >= ref_turns.len() - 2,
        "about one turn per scripted line: {} vs {}",
        turns.len(),
        ref_turns.len()
    );
    // Every recognised turn's middle falls in a scripted line of the same speaker.
    for turn in turns {
        let (start, end) = (
            turn["start"].as_f64().unwrap(),
            turn["end"].as_f64().unwrap(),
        );
        assert!(start < end, "{turn}");
        let mid = (start + end) / 2.0;
        let line = ref_turns
            .iter()
            .filter(|r| {
                r["start"].as_f64().unwrap() - 0.5 <= mid && mid <= r["end"].as_f64().unwrap() + 0.5
            })
            .find(|r| r["speaker"] == turn["speaker"]);
        assert!(
            line.is_some(),
            "turn {} ({}) is not inside a line of its speaker",
            turn["text"],
            turn["speaker"]
        );
        let words = turn["words"].as_array().unwrap();
        assert!(!words.is_empty());
        for word in words {
            let p = word["probability"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&p));
            assert!(
                word["start"].as_f64().unwrap() >= start - 1e-9
                    && word["end"].as_f64().unwrap() <= end + 1e-9
            );
        }
    }
    // Turns are in time order with consecutive ids.
    for (i, pair) in turns.windows(2).enumerate() {
        assert_eq!(pair[0]["id"], i);
        assert!(pair[0]["start"].as_f64() <= pair[1]["start"].as_f64());
    }
}

#[test]
fn every_turn_carries_tags_voice_cues_and_the_label_table() {
    let f = fixture();
    let json = read_json(&f.out.join("monday/call-en-1.subtext.json"));
    let labels = &json["labels"];
    assert_eq!(labels["emotion"].as_array().unwrap().len(), 14, "{labels}");
    assert_eq!(labels["display_nl"]["frustration"], "frustratie");
    assert_eq!(json["call"]["model"]["scorer"], "subtext-scorer.onnx");
    let turns = json["turns"].as_array().unwrap();
    assert!(!turns.is_empty());
    for turn in turns {
        let tags = &turn["tags"];
        assert!(!tags["emotions"].as_array().unwrap().is_empty(), "{turn}");
        assert_eq!(tags["emotion_scores"].as_array().unwrap().len(), 14);
        let v = tags["valence"].as_f64().unwrap();
        let i = tags["intensity"].as_f64().unwrap();
        assert!(
            (-1.0..=1.0).contains(&v) && (0.0..=1.0).contains(&i),
            "{turn}"
        );
        let voice = &turn["acoustic"];
        assert!(voice["speech_rate"].as_f64().unwrap() > 0.5, "{turn}");
        assert!(voice["loudness_db"].is_number());
    }
    // The scripted customer is "really fed up" after twenty minutes in the queue
    // (samples/scripts/call-en-1.txt): some customer turn must read as negative.
    let customer: Vec<&Value> = turns
        .iter()
        .filter(|t| t["speaker"] == "customer")
        .collect();
    assert!(
        customer
            .iter()
            .any(|t| t["tags"]["valence"].as_f64().unwrap() < -0.2),
        "no negative customer turn"
    );
    // Hints and the call summary come with the tags; a complaint is flagged for
    // follow-up, in the transcript and in the batch's closed-loop list.
    assert!(json["hints"].is_array(), "{json}");
    let reasons = &json["summary"]["follow_up"]["reasons"];
    assert!(
        reasons.as_array().unwrap().contains(&"complaint".into()),
        "{reasons}"
    );
    let summary = summary(&f.out);
    let file = summary["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["source"].as_str().unwrap().ends_with("call-en-1.wav"))
        .unwrap();
    assert_eq!(&file["follow_up"], reasons, "{file}");
}

#[test]
fn vad_skips_silence_and_hold_time() {
    let f = fixture();
    let json = read_json(&f.out.join("monday/call-en-1.subtext.json"));
    let call = &json["call"];
    let (speech, duration) = (
        call["speech_seconds"].as_f64().unwrap(),
        call["duration"].as_f64().unwrap(),
    );
    // Two tracks: each speaks about half the time, so transcribed speech is far
    // less than two whole tracks.
    assert!(
        speech < duration * 1.3,
        "speech {speech} s of 2 x {duration} s tracks"
    );
    assert!(speech > duration * 0.5, "speech {speech} s of {duration} s");
    // The scripted 4 s hold: no word inside it.
    let reference = read_json(&common::root().join("samples/call-en-1.ref.json"));
    let lines = reference["turns"].as_array().unwrap();
    let hold = lines
        .windows(2)
        .find(|w| w[1]["start"].as_f64().unwrap() - w[0]["end"].as_f64().unwrap() > 3.5)
        .expect("the sample has a hold");
    let (from, to) = (
        hold[0]["end"].as_f64().unwrap() + 0.3,
        hold[1]["start"].as_f64().unwrap() - 0.3,
    );
    for turn in json["turns"].as_array().unwrap() {
        for word in turn["words"].as_array().unwrap() {
            let t = word["start"].as_f64().unwrap();
            assert!(
                !(from..to).contains(&t),
                "word {} at {t} s is in the hold {from}..{to}",
                word["text"]
            );
        }
    }
}

#[test]
fn rerun_resumes_and_force_redoes() {
    let f = fixture();
    let json_path = f.out.join("monday/call-en-1.subtext.json");
    let before = std::fs::metadata(&json_path).unwrap().modified().unwrap();
    let second = run(subtext()
        .args(["batch", "--no-progress", "--format", "json,vtt,srt,jsonl"])
        .arg(f.input.join("monday"))
        .arg("--out")
        .arg(f.out.join("monday")));
    assert_eq!(second.status.code(), Some(0));
    let s = summary(&f.out.join("monday"));
    assert_eq!(
        (s["skipped"].as_u64(), s["done"].as_u64()),
        (Some(1), Some(0)),
        "{s:#}"
    );
    assert_eq!(
        std::fs::metadata(&json_path).unwrap().modified().unwrap(),
        before,
        "untouched"
    );
    // `--format jsonl` streams the (skipped, up-to-date) call's turns on stdout.
    let lines: Vec<Value> = String::from_utf8(second.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.first().unwrap()["type"], "begin");
    assert!(lines.iter().filter(|l| l["type"] == "turn").count() >= 8);
    assert_eq!(lines.last().unwrap()["type"], "end");

    // Other settings are not "up to date": the call is redone.
    let third = run(subtext()
        .args(["batch", "--no-progress", "--channels", "customer,agent"])
        .arg(f.input.join("monday"))
        .arg("--out")
        .arg(f.out.join("swapped")));
    assert_eq!(third.status.code(), Some(0));
    let swapped = read_json(&f.out.join("swapped/call-en-1.subtext.json"));
    let original = read_json(&json_path);
    assert_ne!(
        swapped["call"]["settings_hash"],
        original["call"]["settings_hash"]
    );
    assert_eq!(
        swapped["turns"][0]["speaker"], "customer",
        "channel 0 is now the customer"
    );
    assert_eq!(swapped["turns"][0]["text"], original["turns"][0]["text"]);

    let forced = run(subtext()
        .args(["batch", "--no-progress", "--force"])
        .arg(f.input.join("monday"))
        .arg("--out")
        .arg(f.out.join("monday")));
    assert_eq!(forced.status.code(), Some(0));
    assert_eq!(summary(&f.out.join("monday"))["done"], 1);
    // Deterministic decoding: the redone transcript has the same turns.
    assert_eq!(read_json(&json_path)["turns"], original["turns"]);
}

/// Every output under its final name is whole: JSON that parses, subtitles that
/// start right. Returns the calls whose JSON is there.
fn whole_outputs(out: &Path) -> Vec<String> {
    let mut done = Vec::new();
    for path in if out.exists() { walk(out) } else { Vec::new() } {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        if let Some(call) = name.strip_suffix(".subtext.json") {
            let json: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{name} is not whole JSON: {e}"));
            assert!(json["turns"].is_array(), "{name}");
            done.push(call.to_string());
        } else if name.ends_with(".vtt") {
            assert!(text.starts_with("WEBVTT"), "{name} is whole");
        }
    }
    done.sort();
    done
}

#[test]
fn batch_killed_at_several_points_keeps_whole_files_and_resumes_without_redoing() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    for name in [
        "call-nl-1.wav",
        "call-en-2.wav",
        "call-nl-2.wav",
        "call-en-1.wav",
    ] {
        std::fs::copy(common::root().join("samples").join(name), input.join(name)).unwrap();
    }
    let out = dir.path().join("out");
    // SIGKILL at random points around three spread over model loading, decoding and
    // writing (each moved by up to ±40 %); printed so a failing run can be replayed.
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    let points: Vec<u64> = [1_300u64, 4_700, 8_900]
        .iter()
        .map(|&base| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let factor = 60 + (seed >> 33) % 81; // 60..=140 %
            base * factor / 100
        })
        .collect();
    eprintln!("killing at {points:?} ms");
    for millis in points {
        let mut child = subtext()
            .args(["batch", "--no-progress", "-q"])
            .arg(&input)
            .arg("--out")
            .arg(&out)
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(millis));
        child.kill().unwrap();
        child.wait().unwrap();
        whole_outputs(&out);
    }
    let finished_before = whole_outputs(&out);
    let resumed = run(subtext()
        .args(["batch", "--no-progress"])
        .arg(&input)
        .arg("--out")
        .arg(&out));
    assert_eq!(resumed.status.code(), Some(0));
    let s = summary(&out);
    assert_eq!(
        s["done"].as_u64().unwrap() + s["skipped"].as_u64().unwrap(),
        4
    );
    assert_eq!(
        s["skipped"].as_u64().unwrap() as usize,
        finished_before.len(),
        "calls finished before the kills are not redone: {finished_before:?}, {s:#}"
    );
    assert_eq!(whole_outputs(&out).len(), 4);
}

#[test]
fn transcribe_prints_json_and_jsonl_on_stdout() {
    let wav = common::evaldata("en_stereo_fasterwhisper").join("stereo_diarization.wav");
    let out = run(subtext().args(["transcribe", "--language", "en"]).arg(&wav));
    assert!(out.status.success());
    let json: Value = serde_json::from_slice(&out.stdout).expect("stdout is only the JSON");
    let turns = json["turns"].as_array().unwrap();
    let text_of = |speaker: &str| -> String {
        turns
            .iter()
            .filter(|t| t["speaker"] == speaker)
            .map(|t| t["text"].as_str().unwrap().to_lowercase())
            .collect::<Vec<_>>()
            .join(" ")
    };
    // Real speech, one speaker per channel (see the folder's SOURCE.md).
    assert!(
        text_of("agent").contains("confused complaint against the wizard"),
        "{}",
        text_of("agent")
    );
    assert!(
        text_of("customer").contains("horizon seems extremely distant"),
        "{}",
        text_of("customer")
    );

    let out = run(subtext()
        .args([
            "transcribe",
            "--language",
            "en",
            "--format",
            "jsonl",
            "--channels",
            "mono",
        ])
        .arg(&wav));
    assert!(out.status.success());
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.first().unwrap()["type"], "begin");
    assert_eq!(lines.last().unwrap()["type"], "end");
    assert!(lines[1..lines.len() - 1]
        .iter()
        .all(|l| l["type"] == "turn" && l["data"]["speaker"] == "unknown"));
}

#[test]
fn transcribe_reads_flac_mp3_and_ogg_like_wav() {
    let dir = tempfile::tempdir().unwrap();
    let wav = common::evaldata("en_stereo_fasterwhisper").join("stereo_diarization.wav");
    let text = |path: &Path| {
        let out = run(subtext()
            .args(["transcribe", "--language", "en", "--format", "text"])
            .arg(path));
        assert!(out.status.success(), "{}", path.display());
        String::from_utf8(out.stdout).unwrap().to_lowercase()
    };
    for ext in ["flac", "ogg", "mp3"] {
        let encoded = dir.path().join(format!("call.{ext}"));
        let status = Command::new("sox")
            .arg(&wav)
            .arg(&encoded)
            .status()
            .expect("sox is installed by `make deps`");
        assert!(status.success(), "sox made {ext}");
        let t = text(&encoded);
        assert!(t.contains("wizard") && t.contains("horizon"), "{ext}: {t}");
    }
}

#[test]
fn dutch_real_speech_is_transcribed_accurately() {
    // Ten read Dutch sentences (CC0), joined with pauses into one mono file.
    let folder = common::evaldata("nl_read_flemishguy");
    let metadata = std::fs::read_to_string(folder.join("metadata_subset.csv"))
        .or_else(|_| std::fs::read_to_string(folder.join("metadata_full.csv")))
        .unwrap();
    let mut pcm: Vec<i16> = Vec::new();
    let mut reference = String::new();
    let mut rate = 0;
    for line in metadata.lines().filter(|l| l.contains('|')).take(10) {
        let mut parts = line.split('|');
        let id = parts.next().unwrap();
        let text = parts.next_back().unwrap();
        let mut reader =
            hound::WavReader::open(folder.join("wavs").join(format!("{id}.wav"))).unwrap();
        rate = reader.spec().sample_rate;
        pcm.extend(reader.samples::<i16>().map(|s| s.unwrap()));
        pcm.extend(std::iter::repeat_n(0, rate as usize / 2));
        reference.push_str(text);
        reference.push(' ');
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("read.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(&path, spec).unwrap();
    pcm.iter().for_each(|s| writer.write_sample(*s).unwrap());
    writer.finalize().unwrap();

    let out = run(subtext()
        .args(["transcribe", "--format", "json"])
        .arg(&path));
    assert!(out.status.success());
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["call"]["language"], "nl", "Dutch detected");
    let hypothesis: String = json["turns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["text"].as_str().unwrap())
        .collect::<Vec<_>>()
        .join(" ");
    let wer = word_error_rate(&reference, &hypothesis);
    eprintln!("WER {wer:.3}\nREF {reference}\nHYP {hypothesis}");
    // Base measured ~16% on these read clips; 30% leaves room for the model's
    // variance on ten sentences while catching a broken pipeline.
    assert!(wer < 0.30, "WER {wer:.3}");
}

/// whisper.cpp 1.8.3's beam search drew its candidates at random instead of taking
/// each beam's likeliest tokens; the build patches it (`third_party/`). Unpatched,
/// the agent of `call-en-2` opened with "parcel at press" (WER 4.8%); patched, the
/// agent's lines come out word for word as scripted.
#[test]
fn beam_search_takes_the_likeliest_tokens() {
    let out = run(subtext()
        .args(["transcribe", "--no-tags", "--format", "json"])
        .arg(common::root().join("samples/call-en-2.wav")));
    assert!(out.status.success());
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let reference = read_json(&common::root().join("samples/call-en-2.ref.json"));
    let agent_text = |turns: &Value| {
        turns
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["speaker"] == "agent")
            .map(|t| t["text"].as_str().unwrap())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (scripted, heard) = (agent_text(&reference["turns"]), agent_text(&json["turns"]));
    assert_eq!(
        word_error_rate(&scripted, &heard),
        0.0,
        "scripted: {scripted}\nheard:    {heard}"
    );
}

fn normalise(text: &str) -> Vec<String> {
    text.to_lowercase()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '\'' {
                c
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .map(String::from)
        .collect()
}

fn word_error_rate(reference: &str, hypothesis: &str) -> f64 {
    let (r, h) = (normalise(reference), normalise(hypothesis));
    let mut row: Vec<usize> = (0..=h.len()).collect();
    for i in 1..=r.len() {
        let mut prev = row[0];
        row[0] = i;
        for j in 1..=h.len() {
            let cur = row[j];
            row[j] = (prev + usize::from(r[i - 1] != h[j - 1]))
                .min(row[j] + 1)
                .min(row[j - 1] + 1);
            prev = cur;
        }
    }
    row[h.len()] as f64 / r.len().max(1) as f64
}

#[test]
fn ctrl_c_finishes_the_call_in_progress_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    for name in ["call-en-2.wav", "call-nl-2.wav"] {
        std::fs::copy(common::root().join("samples").join(name), input.join(name)).unwrap();
    }
    let out = dir.path().join("out");
    let mut child = subtext()
        .args(["batch", "--no-progress", "-v"])
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once the first call is under way (models load first, which takes a
    // machine-dependent while).
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::io::BufReader::new(child.stderr.take().unwrap());
    let collector = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut all = String::new();
        for line in reader.lines().map_while(Result::ok) {
            if line.contains("started") {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    rx.recv_timeout(std::time::Duration::from_secs(120))
        .expect("the first call starts");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    let stderr = collector.join().unwrap();
    assert_eq!(exit.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let s = summary(&out);
    assert_eq!(s["interrupted"], true);
    assert_eq!(s["done"], 1, "the call in progress was finished: {s:#}");
    assert_eq!(s["not_started"], 1);
    assert!(out.join("call-en-2.subtext.json").is_file());
    assert!(!out.join("call-nl-2.subtext.json").exists());
}

#[test]
fn max_duration_refuses_a_long_file_alone_and_nan_samples_are_silenced() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("calls");
    std::fs::create_dir_all(&input).unwrap();
    let write = |name: &str, spec: hound::WavSpec, samples: &[f32]| {
        let mut w = hound::WavWriter::create(input.join(name), spec).unwrap();
        for &s in samples {
            match spec.sample_format {
                hound::SampleFormat::Float => w.write_sample(s).unwrap(),
                hound::SampleFormat::Int => w.write_sample((s * 32767.0) as i16).unwrap(),
            }
        }
        w.finalize().unwrap();
    };
    let mono = |format, bits| hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: bits,
        sample_format: format,
    };
    write(
        "long.wav",
        mono(hound::SampleFormat::Int, 16),
        &vec![0.0; 16_000 * 4],
    );
    // A float file with NaN and infinities in a tone.
    let mut poisoned: Vec<f32> = (0..16_000 * 2)
        .map(|i| 0.3 * (i as f32 * 0.1).sin())
        .collect();
    for i in (0..poisoned.len()).step_by(997) {
        poisoned[i] = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 7.5][i % 4];
    }
    write(
        "poisoned.wav",
        mono(hound::SampleFormat::Float, 32),
        &poisoned,
    );

    let audio = subtext::audio::load(&input.join("poisoned.wav")).unwrap();
    assert!(audio.channels[0]
        .iter()
        .all(|s| s.is_finite() && s.abs() <= 1.0));

    let out = dir.path().join("tagged");
    let run = run(subtext()
        .args(["batch", "--no-progress", "--no-tags", "--max-duration", "3"])
        .arg(&input)
        .arg("--out")
        .arg(&out));
    assert_eq!(run.status.code(), Some(1), "one file failed");
    let summary = summary(&out);
    let files = summary["files"].as_array().unwrap();
    let status = |name: &str| {
        files
            .iter()
            .find(|f| f["source"].as_str().unwrap().ends_with(name))
            .unwrap()
            .clone()
    };
    let long = status("long.wav");
    assert_eq!(long["status"], "failed");
    assert!(
        long["error"].as_str().unwrap().contains("--max-duration"),
        "{long}"
    );
    assert_eq!(status("poisoned.wav")["status"], "done");
    assert!(!String::from_utf8_lossy(&run.stderr).contains("panicked"));
}

/// The scorer loads while the first call is transcribed; one that cannot load
/// fails that call with the reason and stops the batch, rather than failing every
/// call alike. A missing scorer file still fails before any call.
#[test]
fn a_scorer_that_cannot_load_stops_the_batch_after_the_first_call() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    for entry in std::fs::read_dir(common::root().join("models")).unwrap() {
        let path = entry.unwrap().path();
        std::os::unix::fs::symlink(&path, models.join(path.file_name().unwrap())).unwrap();
    }
    let scorer = models.join("subtext-scorer.onnx");
    std::fs::remove_file(&scorer).unwrap();
    let input = dir.path().join("calls");
    std::fs::create_dir_all(&input).unwrap();
    for name in ["a.wav", "b.wav"] {
        std::fs::copy(
            common::root().join("samples/call-en-2.wav"),
            input.join(name),
        )
        .unwrap();
    }
    let batch = |out: &Path| {
        run(subtext()
            .args(["batch", "--no-progress", "--models-dir"])
            .arg(&models)
            .arg(&input)
            .arg("--out")
            .arg(out))
    };

    let out = dir.path().join("missing");
    let missing = batch(&out);
    assert_eq!(missing.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("subtext-scorer.onnx") && stderr.contains("make models"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing started");

    // Cut short: the file is there, but ONNX Runtime cannot parse it.
    let bytes = std::fs::read(common::root().join("models/subtext-scorer.onnx")).unwrap();
    std::fs::write(&scorer, &bytes[..100_000]).unwrap();
    let out = dir.path().join("corrupt");
    let corrupt = batch(&out);
    assert_eq!(corrupt.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&corrupt.stderr);
    assert!(
        stderr.contains("batch stopped, 1 call(s) not started"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let s = summary(&out);
    assert_eq!(
        (&s["failed"], &s["not_started"], &s["done"]),
        (&1.into(), &1.into(), &0.into()),
        "{s:#}"
    );
    let error = s["files"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("tag scorer could not be loaded") && error.contains("subtext-scorer.onnx"),
        "{error}"
    );
    assert!(!out.join("a.subtext.json").exists() && !out.join("b.subtext.json").exists());
}
