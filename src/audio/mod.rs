//! Audio in: any supported file → per-channel `f32` PCM at 16 kHz.
//!
//! WAV is read with hound (all common PCM layouts); MP3, FLAC, Ogg/Vorbis and the
//! WAV flavours hound rejects (μ-law/A-law telephony recordings) go through
//! symphonia ([`decode`]). Everything is then resampled to 16 kHz with rubato
//! ([`resample`]), the rate whisper and Silero VAD expect. Channels stay separate:
//! in call recordings each channel is one speaker.

use std::path::Path;

use crate::error::{Error, Result};

pub mod decode;
mod metadata_guard;
pub mod resample;

/// The sample rate every later stage works at.
pub const TARGET_RATE: u32 = 16_000;

/// Decoded audio, one `Vec<f32>` per channel (all the same length), samples in [-1, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    /// The rate of the samples in `channels`.
    pub sample_rate: u32,
    /// The rate the file was recorded at, kept through resampling so reports can
    /// say "8 kHz telephony" even after everything runs at [`TARGET_RATE`].
    pub source_rate: u32,
    pub channels: Vec<Vec<f32>>,
}

impl Audio {
    /// Audio that has not been resampled (`source_rate == sample_rate`).
    pub fn new(sample_rate: u32, channels: Vec<Vec<f32>>) -> Self {
        Audio {
            sample_rate,
            source_rate: sample_rate,
            channels,
        }
    }

    /// Samples per channel.
    pub fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    /// Seconds of audio. Resampling keeps this (within one sample), so it is the
    /// length of the original recording whichever rate the samples are at now.
    pub fn duration(&self) -> f64 {
        if self.sample_rate == 0 {
            return 0.0;
        }
        self.frames() as f64 / f64::from(self.sample_rate)
    }
}

/// A sample in [-1, 1] as 16-bit PCM: the inverse of the decoders' `i16 / 32768`,
/// so 16-bit audio that is decoded and written again comes back bit for bit.
pub fn to_i16(sample: f32) -> i16 {
    (sample * 32_768.0).round().clamp(-32_768.0, 32_767.0) as i16
}

/// Decodes `path` and resamples it to [`TARGET_RATE`]; `source_rate` keeps the
/// file's own rate.
///
/// ```no_run
/// let audio = subtext::audio::load(std::path::Path::new("call.mp3"))?;
/// assert_eq!(audio.sample_rate, subtext::audio::TARGET_RATE);
/// # Ok::<(), subtext::Error>(())
/// ```
pub fn load(path: &Path) -> Result<Audio> {
    let mut audio = decode::decode_file(path)?;
    // A NaN or infinity in a float WAV would poison every later stage (the VAD's
    // LSTM state, whisper's mel): silence it, and clip what is out of range.
    for channel in &mut audio.channels {
        for s in channel.iter_mut() {
            *s = if s.is_finite() {
                s.clamp(-1.0, 1.0)
            } else {
                0.0
            };
        }
    }
    resample::to_rate(audio, TARGET_RATE).map_err(|e| Error::BadAudio {
        path: path.to_path_buf(),
        reason: format!("cannot resample: {e}"),
    })
}
