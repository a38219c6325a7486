//! `subtext pace`: plays audio files into a pipe at real-time speed, as a phone
//! line would deliver them, for tests, demos and the latency benchmark.
//!
//! Output: a WAV stream (16 kHz, 16-bit, the files' channels) whose size fields
//! hold the streaming placeholder 0xFFFFFFFF, so `subtext live` reads the format
//! from the header; or, with `raw`, the bare samples.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::audio::{self, TARGET_RATE};
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct PaceOptions {
    /// 1.0 = real time; 2.0 twice as fast; 0 = as fast as the pipe takes it.
    pub speed: f64,
    /// No WAV header: bare s16le samples.
    pub raw: bool,
    /// Play the files over and over until this much audio has been sent (s).
    pub until: Option<f64>,
    /// Audio per write (ms).
    pub block_ms: u32,
}

impl Default for PaceOptions {
    fn default() -> Self {
        PaceOptions {
            speed: 1.0,
            raw: false,
            until: None,
            block_ms: 20,
        }
    }
}

/// The header of a 16-bit PCM WAV stream with `data_len` bytes of audio;
/// `u32::MAX` is the streaming placeholder for "until the end of input".
pub fn wav_header(rate: u32, channels: u16, data_len: u32) -> Vec<u8> {
    let mut h = Vec::with_capacity(44);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&data_len.saturating_add(36).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&channels.to_le_bytes());
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&(rate * 2 * u32::from(channels)).to_le_bytes());
    h.extend_from_slice(&(2 * channels).to_le_bytes());
    h.extend_from_slice(&16u16.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_len.to_le_bytes());
    h
}

/// Plays `files` one after another into `out`; returns the seconds of audio sent.
/// Stops early, cleanly, when `stop` is set.
pub fn pace(
    files: &[PathBuf],
    options: &PaceOptions,
    out: &mut impl Write,
    stop: &AtomicBool,
) -> Result<f64> {
    if files.is_empty() {
        return Err(Error::Config("no audio files to play".into()));
    }
    if !(options.speed >= 0.0 && options.speed.is_finite()) {
        return Err(Error::Config("--speed must be 0 (unpaced) or more".into()));
    }
    let mut calls = Vec::with_capacity(files.len());
    for path in files {
        let audio = audio::load(path)?;
        if let Some((first, a)) = calls.first().map(|(p, a): &(PathBuf, audio::Audio)| (p, a)) {
            if a.channels.len() != audio.channels.len() {
                return Err(Error::Config(format!(
                    "{} has {} channel(s) but {} has {}: play files with the same layout",
                    path.display(),
                    audio.channels.len(),
                    first.display(),
                    a.channels.len()
                )));
            }
        }
        calls.push((path.clone(), audio));
    }
    let channels = calls[0].1.channels.len();
    let io = |e| Error::io("<stdout>", e);
    if !options.raw {
        out.write_all(&wav_header(TARGET_RATE, channels as u16, u32::MAX))
            .map_err(io)?;
    }
    let block = (TARGET_RATE * options.block_ms.max(1) / 1000) as usize;
    let started = Instant::now();
    let mut sent = 0usize;
    let target = options.until.map(|s| (s * f64::from(TARGET_RATE)) as usize);
    let mut bytes = Vec::with_capacity(block * channels * 2);
    'play: loop {
        for (_, audio) in &calls {
            let frames = audio.frames();
            for from in (0..frames).step_by(block) {
                if stop.load(Ordering::Relaxed) || target.is_some_and(|t| sent >= t) {
                    break 'play;
                }
                let to = (from + block).min(frames);
                bytes.clear();
                for i in from..to {
                    for channel in &audio.channels {
                        bytes.extend_from_slice(&audio::to_i16(channel[i]).to_le_bytes());
                    }
                }
                sent += to - from;
                if options.speed > 0.0 {
                    // Send each block when its audio "has been spoken".
                    let due = Duration::from_secs_f64(
                        (sent - (to - from)) as f64 / f64::from(TARGET_RATE) / options.speed,
                    );
                    if let Some(wait) = due.checked_sub(started.elapsed()) {
                        std::thread::sleep(wait);
                    }
                }
                out.write_all(&bytes).map_err(io)?;
                out.flush().map_err(io)?;
            }
        }
        if target.is_none() {
            break;
        }
    }
    Ok(sent as f64 / f64::from(TARGET_RATE))
}
