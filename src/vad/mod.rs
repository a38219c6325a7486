//! Speech segments: which stretches of a track hold speech, so silence, hold music
//! gaps and the other party's channel are not sent to the recogniser.

use crate::error::Result;

pub mod energy;
#[cfg(feature = "onnx")]
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
