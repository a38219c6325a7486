//! The library's one error type. Variants carry the path or model they concern so a
//! batch can report "which file, and why" without guessing.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{path}: not a readable audio file: {reason}")]
    BadAudio { path: PathBuf, reason: String },

    #[error("{path}: unsupported audio: {format}")]
    UnsupportedAudio { path: PathBuf, format: String },

    #[error("{path}: {seconds:.0} s of audio is more than --max-duration allows ({max:.0} s)")]
    TooLong {
        path: PathBuf,
        seconds: f64,
        max: f64,
    },

    #[error("{path}: the file is empty")]
    EmptyAudio { path: PathBuf },

    #[error("cannot load model {path}: {reason}")]
    ModelLoad { path: PathBuf, reason: String },

    #[error("speech recognition failed: {0}")]
    Transcription(String),

    #[error("tagging failed: {0}")]
    Scoring(String),

    #[error("voice activity detection failed: {0}")]
    Vad(String),

    /// Live input that cannot be read as the audio it claims to be.
    #[error("input stream: {0}")]
    Stream(String),

    /// A `NAME.subtext.json` that cannot be read as one.
    #[error("{path} is not a subtext transcript (NAME.subtext.json): {reason}")]
    BadTranscript { path: PathBuf, reason: String },

    #[error("invalid setting: {0}")]
    Config(String),

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cancelled")]
    Cancelled,
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
