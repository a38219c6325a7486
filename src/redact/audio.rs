//! `subtext redact-audio`: the recording with every redacted span covered, for
//! listening sessions. The spans come from the transcript's placeholder words
//! (`[IBAN]`, `[PHONE]` ...), whose times are those of the words they replaced.
//!
//! Every channel is covered, not only the speaker's: the other party's microphone
//! often picks the number up too, and an agent repeating it back is common.

use std::io::Cursor;
use std::path::Path;

use crate::audio::Audio;
use crate::error::{Error, Result};
use crate::types::Transcript;

/// What replaces personal data in the audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cover {
    /// A 1 kHz tone at -20 dBFS: the listener hears that something was removed.
    Tone,
    Silence,
}

/// Stretches of a call in seconds, (start, end).
pub type Spans = Vec<(f64, f64)>;

/// Whether a word is one of the redaction placeholders.
pub fn is_placeholder(word: &str) -> bool {
    super::LABELS.contains(&word)
}

/// The stretches (seconds) to cover: each placeholder word, widened by `pad` on
/// both sides (word times are approximate), overlapping ones merged.
pub fn spans(transcript: &Transcript, pad: f64) -> Vec<(f64, f64)> {
    let mut spans: Vec<(f64, f64)> = transcript
        .turns
        .iter()
        .flat_map(|t| &t.words)
        .filter(|w| is_placeholder(&w.text))
        .map(|w| ((w.start - pad).max(0.0), w.end + pad))
        .collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(spans.len());
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// Covers `spans` in every channel of `audio`, with 5 ms fades so no click gives
/// away where a word began.
pub fn cover(audio: &mut Audio, spans: &[(f64, f64)], cover: Cover) {
    let rate = f64::from(audio.sample_rate);
    let fade = (0.005 * rate) as usize;
    for &(start, end) in spans {
        let from = ((start * rate) as usize).min(audio.frames());
        let to = ((end * rate).ceil() as usize).min(audio.frames());
        for channel in &mut audio.channels {
            for (i, sample) in channel[from..to].iter_mut().enumerate() {
                let replacement = match cover {
                    Cover::Silence => 0.0,
                    Cover::Tone => {
                        let t = (from + i) as f64 / rate;
                        0.1 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin() as f32
                    }
                };
                // Cross-fade at both edges.
                let edge = i.min(to - from - 1 - i);
                let w = if edge < fade {
                    edge as f32 / fade as f32
                } else {
                    1.0
                };
                *sample = w * replacement + (1.0 - w) * *sample;
            }
        }
    }
}

/// Reads `audio_path` and `transcript_path`, covers the redacted spans and writes a
/// 16-bit WAV at the recording's own rate to `out` (atomically). Returns the spans.
///
/// # Errors
/// When the transcript is not redacted (nothing is marked), or it was made from
/// other audio (its sha256 differs) and `force` is not set.
pub fn redact_file(
    audio_path: &Path,
    transcript_path: &Path,
    out: &Path,
    cover_with: Cover,
    pad: f64,
    force: bool,
) -> Result<Vec<(f64, f64)>> {
    let transcript = Transcript::read(transcript_path)?;
    if !transcript.call.redacted {
        return Err(Error::Config(format!(
            "{}: made with --no-redact, so no personal data is marked in it; transcribe the call again without --no-redact",
            transcript_path.display()
        )));
    }
    check_source(audio_path, transcript_path, &transcript, force)?;
    let (wav, spans) = redacted_wav(audio_path, &transcript, cover_with, pad)?;
    crate::sink::write_atomic(out, &wav)?;
    Ok(spans)
}

/// Fails unless `audio_path` is the recording `transcript` was made from (its
/// sha256), or `force` is set.
pub fn check_source(
    audio_path: &Path,
    transcript_path: &Path,
    transcript: &Transcript,
    force: bool,
) -> Result<()> {
    let sha256 = crate::models::sha256_file(audio_path)?;
    if sha256 != transcript.call.sha256 && !force {
        return Err(Error::Config(format!(
            "{} is not the recording {} was made from (sha256 differs); --force covers its times anyway",
            audio_path.display(),
            transcript_path.display()
        )));
    }
    Ok(())
}

/// The recording at `audio_path` with `transcript`'s redacted spans covered, as a
/// 16-bit WAV in memory, and the spans (used by `redact-audio`, `serve`, `report`).
pub fn redacted_wav(
    audio_path: &Path,
    transcript: &Transcript,
    cover_with: Cover,
    pad: f64,
) -> Result<(Vec<u8>, Spans)> {
    let mut audio = crate::audio::decode::decode_file(audio_path)?;
    let spans = spans(transcript, pad);
    cover(&mut audio, &spans, cover_with);
    Ok((wav_bytes(&audio)?, spans))
}

/// 16-bit PCM WAV of `audio`, in memory.
fn wav_bytes(audio: &Audio) -> Result<Vec<u8>> {
    let spec = hound::WavSpec {
        channels: audio.channels.len() as u16,
        sample_rate: audio.sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let fail = |e: hound::Error| Error::Config(format!("cannot write WAV: {e}"));
    let mut bytes = Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut bytes, spec).map_err(fail)?;
    for i in 0..audio.frames() {
        for channel in &audio.channels {
            writer
                .write_sample(crate::audio::to_i16(channel[i]))
                .map_err(fail)?;
        }
    }
    writer.finalize().map_err(fail)?;
    Ok(bytes.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_covered_in_every_channel_and_nothing_else_changes() {
        let rate = 8_000;
        let signal: Vec<f32> = (0..3 * rate)
            .map(|i| ((i % 50) as f32 / 50.0) - 0.5)
            .collect();
        let mut audio = Audio::new(rate as u32, vec![signal.clone(), signal.clone()]);
        cover(&mut audio, &[(1.0, 1.5)], Cover::Silence);
        for channel in &audio.channels {
            assert_eq!(&channel[..rate], &signal[..rate]);
            assert_eq!(&channel[rate * 3 / 2 + 1..], &signal[rate * 3 / 2 + 1..]);
            let middle = &channel[rate + 100..rate * 3 / 2 - 100];
            assert!(middle.iter().all(|&s| s == 0.0));
        }
        cover(&mut audio, &[(2.0, 2.5)], Cover::Tone);
        let tone = &audio.channels[1][2 * rate + 100..2 * rate + 500];
        let peak = tone.iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!((peak - 0.1).abs() < 0.01, "{peak}");
    }
}
