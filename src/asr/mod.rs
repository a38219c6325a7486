//! Speech to text: a 16 kHz mono chunk → timed words.

pub mod cleanup;
pub mod scripted;
#[cfg(feature = "whisper")]
pub mod whisper;

use crate::error::Result;
use crate::types::Word;

/// What a recogniser returns for one chunk: whisper's segments (sentence-like
/// pieces), with word times relative to the start of the chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct AsrSegment {
    pub start: f64,
    pub end: f64,
    pub text: String,
    pub words: Vec<Word>,
}

/// Languages subtext transcribes. `auto` picks between these two only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Dutch,
    English,
}

impl Language {
    pub fn code(self) -> &'static str {
        match self {
            Language::Dutch => "nl",
            Language::English => "en",
        }
    }
}

/// A speech recogniser. `&mut self` because whisper's decoding state is mutable;
/// run one per worker thread.
pub trait Transcriber {
    /// Transcribes one chunk of speech (at most 30 s works best).
    fn transcribe(&mut self, pcm: &[f32], language: Language) -> Result<Vec<AsrSegment>>;

    /// Probability that `pcm` is Dutch rather than English (0..1).
    fn dutch_probability(&mut self, pcm: &[f32]) -> Result<f32>;

    /// Threads the next calls may use. The pipeline raises it when fewer chunks
    /// than workers are left, so no core sits idle at the end of a call.
    fn set_threads(&mut self, _threads: usize) {}

    /// A flag another thread may set to stop the decode in progress, which then
    /// returns [`crate::Error::Cancelled`]. Recognisers that cannot stop ignore it.
    fn set_abort_flag(&mut self, _flag: std::sync::Arc<std::sync::atomic::AtomicBool>) {}
}
