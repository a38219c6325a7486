//! Voice activity detection on real audio: Silero VAD v6 through the ONNX Runtime that
//! `models/fetch_models.py` extracts, and the model-free energy VAD.

use subtext::vad::energy::EnergyVad;
use subtext::vad::{SpeechSpan, Vad};

use crate::common;

const RATE: usize = 16_000;

/// `../shared/evaldata/nl_smoke_eentweedrie/eentweedrie.wav`: 4.5 s of Dutch speech,
/// 16 kHz mono 16-bit, so no resampling is needed.
fn eentweedrie() -> Vec<f32> {
    let path = common::evaldata("nl_smoke_eentweedrie").join("eentweedrie.wav");
    let mut reader = hound::WavReader::open(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (the shared evaldata is needed)", path.display()));
    let spec = reader.spec();
    assert_eq!(
        (spec.sample_rate, spec.channels, spec.bits_per_sample),
        (16_000, 1, 16),
        "{} changed format",
        path.display()
    );
    reader
        .samples::<i16>()
        .map(|s| s.unwrap() as f32 / 32768.0)
        .collect()
}

/// 3 s of silence, the speech, 3 s of silence.
fn padded_speech() -> (Vec<f32>, f64) {
    let speech = eentweedrie();
    let speech_len = speech.len() as f64 / RATE as f64;
    let mut pcm = vec![0.0; 3 * RATE];
    pcm.extend_from_slice(&speech);
    pcm.extend(std::iter::repeat_n(0.0, 3 * RATE));
    (pcm, speech_len)
}

/// Deterministic white noise at `dbfs` RMS.
fn white_noise(seconds: usize, dbfs: f32) -> Vec<f32> {
    let amp = 10f32.powf(dbfs / 20.0) * 3f32.sqrt();
    let mut x: u32 = 0x1234_5678;
    (0..seconds * RATE)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x as f32 / u32::MAX as f32 * 2.0 - 1.0) * amp
        })
        .collect()
}

fn total(spans: &[SpeechSpan]) -> f64 {
    spans.iter().map(|s| s.end - s.start).sum()
}

fn assert_sorted_disjoint(spans: &[SpeechSpan], len: f64) {
    for w in spans.windows(2) {
        assert!(w[0].end <= w[1].start, "overlapping spans: {spans:?}");
    }
    for s in spans {
        assert!(
            0.0 <= s.start && s.start < s.end && s.end <= len + 1e-9,
            "bad span {s:?}"
        );
    }
}

#[test]
fn energy_vad_finds_speech_between_silences() {
    let (pcm, speech_len) = padded_speech();
    let spans = EnergyVad::default().speech_spans(&pcm).unwrap();
    assert_sorted_disjoint(&spans, pcm.len() as f64 / RATE as f64);
    assert!(!spans.is_empty());
    assert!(spans[0].start >= 2.7, "{spans:?}");
    assert!(
        spans.last().unwrap().end <= 3.0 + speech_len + 0.25,
        "{spans:?}"
    );
    assert!(total(&spans) >= 0.5 * speech_len, "{spans:?}");
}

#[test]
fn energy_vad_ignores_silence_and_noise() {
    let mut vad = EnergyVad::default();
    assert!(vad.speech_spans(&vec![0.0; 10 * RATE]).unwrap().is_empty());
    assert!(vad
        .speech_spans(&white_noise(10, -60.0))
        .unwrap()
        .is_empty());
    assert!(vad
        .speech_spans(&white_noise(10, -20.0))
        .unwrap()
        .is_empty());
}

#[cfg(feature = "onnx")]
mod silero {
    use std::path::PathBuf;
    use std::sync::Once;
    use std::time::Instant;

    use subtext::vad::silero::{spans_from_probabilities, SileroVad, VadConfig, WINDOW};

    use super::*;

    fn model_path(rel: &str) -> PathBuf {
        let path = common::root().join("models").join(rel);
        assert!(
            path.is_file(),
            "{} is missing: run `python3 models/fetch_models.py` first",
            path.display()
        );
        path
    }

    fn silero() -> SileroVad {
        static INIT: Once = Once::new();
        INIT.call_once(|| {
            subtext::onnx::init_runtime(&model_path("onnxruntime/libonnxruntime.so.1.31.1"))
                .expect("load ONNX Runtime");
        });
        SileroVad::new(&model_path("silero_vad_v6.onnx")).expect("load Silero VAD")
    }

    #[test]
    fn runtime_init_is_idempotent_and_checks_the_path() {
        let _ = silero();
        let lib = model_path("onnxruntime/libonnxruntime.so.1.31.1");
        subtext::onnx::init_runtime(&lib).expect("same library again is fine");
        let err =
            subtext::onnx::init_runtime(&common::root().join("models/nope/libonnxruntime.so"))
                .unwrap_err()
                .to_string();
        assert!(err.contains("nope"), "{err}");
        assert!(subtext::onnx::loaded_library()
            .unwrap()
            .ends_with("libonnxruntime.so.1.31.1"));
    }

    #[test]
    fn missing_model_is_a_clear_error() {
        let _ = silero();
        let err = SileroVad::new(&common::root().join("models/no-such-vad.onnx"))
            .err()
            .unwrap();
        let msg = err.to_string();
        assert!(
            msg.contains("no-such-vad.onnx") && msg.contains("fetch_models"),
            "{msg}"
        );
    }

    #[test]
    fn speech_between_silences() {
        let (pcm, speech_len) = padded_speech();
        let mut vad = silero();
        let spans = vad.speech_spans(&pcm).unwrap();
        eprintln!("speech of {speech_len:.2} s at 3 s: {spans:?}");
        assert_sorted_disjoint(&spans, pcm.len() as f64 / RATE as f64);
        assert!(!spans.is_empty(), "no speech found");
        // Starts after the leading silence, less the 200 ms pad (and ends before the
        // trailing one, plus the pad).
        assert!(spans[0].start >= 3.0 - 0.2 - 1e-9, "{spans:?}");
        assert!(
            spans.last().unwrap().end <= 3.0 + speech_len + 0.2 + 1e-9,
            "{spans:?}"
        );
        // Most of the recording is covered.
        assert!(total(&spans) >= 0.5 * speech_len, "{spans:?}");
    }

    #[test]
    fn probabilities_are_per_window_and_reproducible() {
        let (pcm, _) = padded_speech();
        let mut vad = silero();
        let p1 = vad.probabilities(&pcm).unwrap();
        assert_eq!(p1.len(), pcm.len().div_ceil(WINDOW));
        assert!(p1.iter().all(|p| (0.0..=1.0).contains(p)));
        // The state is reset on every call.
        let p2 = vad.probabilities(&pcm).unwrap();
        assert_eq!(p1, p2);
        // Silence is silence, the speech is speech.
        let at = |s: f64| p1[(s * RATE as f64) as usize / WINDOW];
        assert!(
            at(1.0) < 0.1 && at(7.0 + 1.5) < 0.1,
            "silence scored as speech"
        );
        assert!(
            p1.iter().copied().fold(0.0, f32::max) > 0.9,
            "no confident speech window"
        );
        // speech_spans is the post-processing of these probabilities.
        let spans = vad.speech_spans(&pcm).unwrap();
        assert_eq!(
            spans,
            spans_from_probabilities(&p1, pcm.len(), &VadConfig::default())
        );
    }

    #[test]
    fn block_size_does_not_change_probabilities() {
        // The LSTM state carried between model calls makes block-wise inference equal
        // to window-by-window (streaming) inference.
        let (pcm, _) = padded_speech();
        let mut vad = silero();
        let whole = vad.probabilities(&pcm).unwrap();
        for block in [1, 7, 100] {
            vad.set_max_block(block);
            let parts = vad.probabilities(&pcm).unwrap();
            assert_eq!(parts.len(), whole.len());
            let worst = whole
                .iter()
                .zip(&parts)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(worst < 1e-4, "block {block}: max difference {worst}");
        }
    }

    #[test]
    fn silence_and_low_noise_have_no_speech() {
        let mut vad = silero();
        let spans = vad.speech_spans(&vec![0.0; 10 * RATE]).unwrap();
        assert!(spans.is_empty(), "silence: {spans:?}");
        let spans = vad.speech_spans(&white_noise(10, -60.0)).unwrap();
        assert!(spans.is_empty(), "low noise: {spans:?}");
        assert!(vad.speech_spans(&[]).unwrap().is_empty());
        // Shorter than one window.
        assert!(vad.speech_spans(&[0.0; 100]).unwrap().is_empty());
    }

    #[test]
    fn white_noise_is_not_much_speech() {
        let mut vad = silero();
        let pcm = white_noise(10, -20.0);
        let spans = vad.speech_spans(&pcm).unwrap();
        assert!(total(&spans) <= 1.0, "loud white noise: {spans:?}");
    }

    /// Live mode feeds the model in whatever pieces stdin delivers: the probabilities,
    /// and so the spans, must be those of the whole track.
    #[test]
    fn streaming_in_pieces_gives_the_probabilities_of_the_whole() {
        let (pcm, _) = padded_speech();
        let mut vad = silero();
        let whole = vad.probabilities(&pcm).unwrap();
        let mut stream = subtext::vad::silero::VadStream::default();
        let mut pieces = Vec::new();
        let mut pos = 0;
        for len in [100, 512, 1000, 20_000, 7, 160].iter().cycle() {
            if pos >= pcm.len() {
                break;
            }
            let end = (pos + len).min(pcm.len());
            pieces.extend(vad.push(&mut stream, &pcm[pos..end]).unwrap());
            pos = end;
        }
        pieces.extend(vad.finish(&mut stream).unwrap());
        assert_eq!(pieces.len(), whole.len());
        for (i, (a, b)) in pieces.iter().zip(&whole).enumerate() {
            // Blocks of different sizes round differently in the last bits.
            assert!((a - b).abs() < 1e-4, "window {i}: {a} vs {b}");
        }
    }

    /// Single-threaded throughput; `cargo test --release --test integration vad -- --nocapture`
    /// prints it. Asserts only a floor far below what any x86-64 machine reaches, so it
    /// does not flake on a busy CI box.
    #[test]
    fn silero_speed() {
        let (pcm, _) = padded_speech();
        let mut long = Vec::new();
        while long.len() < 120 * RATE {
            long.extend_from_slice(&pcm);
        }
        let mut vad = silero();
        vad.probabilities(&long[..RATE]).unwrap(); // warm-up
        let t = Instant::now();
        let probs = vad.probabilities(&long).unwrap();
        let secs = t.elapsed().as_secs_f64();
        let audio = long.len() as f64 / RATE as f64;
        eprintln!(
            "silero_speed: {audio:.0} s of audio in {secs:.3} s = {:.0} s of audio per second (1 thread)",
            audio / secs
        );
        assert_eq!(probs.len(), long.len().div_ceil(WINDOW));
        assert!(
            audio / secs > 20.0,
            "Silero VAD far too slow: {:.1}x real time",
            audio / secs
        );
    }
}
