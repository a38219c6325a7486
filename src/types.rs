//! The transcript model every stage produces and every writer consumes.
//!
//! `Transcript` is what `NAME.subtext.json` holds; its layout is the documented,
//! versioned schema (see README "Output schema"). Times are seconds from the start
//! of the call, as `f64` rounded to milliseconds when written.

use serde::{Deserialize, Serialize};

/// Bumped whenever a field changes meaning or disappears (additions keep it).
pub const SCHEMA_VERSION: &str = "subtext/1";

/// Who is speaking on a track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Speaker {
    Agent,
    Customer,
    Unknown,
}

impl Speaker {
    /// Display name used in WebVTT voice spans and subtitles.
    pub fn title(self) -> &'static str {
        match self {
            Speaker::Agent => "Agent",
            Speaker::Customer => "Customer",
            Speaker::Unknown => "Speaker",
        }
    }
}

/// One recognised word with its timing and the recogniser's confidence (0..1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    pub text: String,
    pub start: f64,
    pub end: f64,
    pub probability: f32,
}

/// A stretch of one speaker's speech, as a reader of the call would split it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    /// 0-based position in the call, in time order.
    pub id: usize,
    pub speaker: Speaker,
    pub start: f64,
    pub end: f64,
    pub text: String,
    pub words: Vec<Word>,
}

/// Facts about the call and about what produced the transcript, so that a result can
/// be reproduced and a resumed batch can tell whether it is still valid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallMeta {
    /// The input path as given (relative to the batch root where there is one).
    pub source: String,
    /// SHA-256 of the input file's bytes.
    pub sha256: String,
    /// Length of the audio in seconds.
    pub duration: f64,
    /// Sample rate of the input file (audio is resampled to 16 kHz internally).
    pub sample_rate: u32,
    /// Number of channels in the input file.
    pub channels: u16,
    /// How channels were mapped to speakers, e.g. `["agent", "customer"]` or `["unknown"]`.
    pub channel_map: Vec<Speaker>,
    /// Language of the call (`nl` or `en`) and how it was chosen.
    pub language: String,
    pub language_source: LanguageSource,
    pub model: ModelInfo,
    /// Fingerprint of every setting that changes the transcript; used by resume.
    pub settings_hash: String,
    pub subtext_version: String,
    /// Whether personal data was replaced by placeholders such as `[IBAN]`.
    pub redacted: bool,
    /// Seconds of speech found by voice activity detection (all tracks).
    pub speech_seconds: f64,
    /// Wall-clock seconds spent on the call.
    pub processing_seconds: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LanguageSource {
    /// Given with `--language`.
    Forced,
    /// Detected (only Dutch and English are considered).
    Detected,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// File name of the whisper model.
    pub asr: String,
    pub asr_sha256: String,
    pub whisper_cpp: String,
    /// File name of the voice activity model, or `none`.
    pub vad: String,
}

/// The whole result for one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    pub schema: String,
    pub call: CallMeta,
    pub turns: Vec<Turn>,
}
