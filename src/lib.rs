//! subtext: offline transcription and tagging of contact-centre calls.
//!
//! The pipeline, one module per stage:
//! `audio` (file → 16 kHz PCM per channel) → `vad` (speech spans) →
//! `asr` (chunks → timed words) → `turns` (words of both speakers → turns) →
//! `redact` → `score` (emotion, metaphor, need tags and voice cues) →
//! `hints` (agent hints from a catalog) → `summary` (curve, outcome, follow-up) →
//! `sink` (JSON, WebVTT, SRT, text) and `show` (terminal and Markdown views).
//! `batch` runs it over many files; `live` runs it on a stream as the call goes;
//! `replay` and `web` (serve, report) play tagged calls back for people.

pub mod asr;
pub mod audio;
pub mod batch;
pub mod chunk;
#[cfg(all(feature = "whisper", feature = "onnx"))]
pub mod engine;
pub mod error;
pub mod hints;
pub mod live;
pub mod models;
#[cfg(feature = "onnx")]
pub mod onnx;
pub mod pipeline;
pub mod redact;
pub mod replay;
pub mod score;
pub mod show;
pub mod sink;
pub mod summary;
pub mod turns;
pub mod types;
pub mod vad;
pub mod web;

pub use error::{Error, Result};
pub use types::*;
