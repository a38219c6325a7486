//! Speech segments: which stretches of a track hold speech, so silence, hold music
//! gaps and the other party's channel are not sent to the recogniser.

use crate::error::Result;

pub mod energy;
/// Silero VAD: the span rules always, the ONNX model with the `onnx` feature.
pub mod silero;

/// A stretch of speech in seconds from the start of the track.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpeechSpan {
    pub start: f64,
    pub end: f64,
}

/// Voice activity detection over a whole 16 kHz mono track.
pub trait Vad {
    fn speech_spans(&mut self, pcm: &[f32]) -> Result<Vec<SpeechSpan>>;
}

/// Pads every span (in samples) by `pad` on both sides, clamped to the track; where
/// two spans are closer than `2 * pad` they split the gap evenly so they never
/// overlap (silero-vad 6.2.3 `utils_vad.py` lines 561-572). Returns seconds.
pub(crate) fn pad_to_seconds(
    mut spans: Vec<(usize, usize)>,
    pad: usize,
    n_samples: usize,
) -> Vec<SpeechSpan> {
    let n = spans.len();
    for i in 0..n {
        if i == 0 {
            spans[0].0 = spans[0].0.saturating_sub(pad);
        }
        if i + 1 < n {
            let gap = spans[i + 1].0.saturating_sub(spans[i].1);
            if gap < 2 * pad {
                spans[i].1 += gap / 2;
                spans[i + 1].0 -= gap / 2;
            } else {
                spans[i].1 = (spans[i].1 + pad).min(n_samples);
                spans[i + 1].0 -= pad;
            }
        } else {
            spans[i].1 = (spans[i].1 + pad).min(n_samples);
        }
    }
    let rate = crate::audio::TARGET_RATE as f64;
    spans
        .into_iter()
        .map(|(s, e)| SpeechSpan {
            start: s as f64 / rate,
            end: e as f64 / rate,
        })
        .collect()
}

/// "No VAD": the whole track is one span (the chunker cuts it into windows).
#[derive(Debug, Clone, Copy, Default)]
pub struct WholeTrack;

impl Vad for WholeTrack {
    fn speech_spans(&mut self, pcm: &[f32]) -> Result<Vec<SpeechSpan>> {
        let end = pcm.len() as f64 / crate::audio::TARGET_RATE as f64;
        Ok(if end > 0.0 {
            vec![SpeechSpan { start: 0.0, end }]
        } else {
            Vec::new()
        })
    }
}
