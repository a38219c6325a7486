//! A fake recogniser for tests of the pure stages: it "hears" a chunk as one word
//! per stretch of sound, so timing, packing and speaker attribution can be checked
//! without a model.

use super::{AsrSegment, Language, Transcriber};
use crate::error::Result;
use crate::types::Word;

/// Emits one word per stretch of non-silent audio, named `{label}{n}`, with the
/// stretch's true times (10 ms resolution).
#[derive(Debug, Clone)]
pub struct ToneTranscriber {
    pub label: String,
    /// The Dutch probability `dutch_probability` reports.
    pub dutch: f32,
}

impl Transcriber for ToneTranscriber {
    fn transcribe(&mut self, pcm: &[f32], _language: Language) -> Result<Vec<AsrSegment>> {
        const FRAME: usize = 160; // 10 ms at 16 kHz
        let loud: Vec<bool> = pcm
            .chunks(FRAME)
            .map(|f| (f.iter().map(|s| s * s).sum::<f32>() / f.len() as f32).sqrt() > 0.01)
            .collect();
        let mut words = Vec::new();
        let mut start = None;
        for (i, &is_loud) in loud.iter().chain(std::iter::once(&false)).enumerate() {
            match (is_loud, start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    words.push(Word {
                        text: format!("{}{}", self.label, words.len()),
                        start: s as f64 * 0.01,
                        end: i as f64 * 0.01,
                        probability: 1.0,
                    });
                    start = None;
                }
                _ => {}
            }
        }
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let text = words
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        Ok(vec![AsrSegment {
            start: words[0].start,
            end: words[words.len() - 1].end,
            text,
            words,
        }])
    }

    fn dutch_probability(&mut self, _pcm: &[f32]) -> Result<f32> {
        Ok(self.dutch)
    }
}
