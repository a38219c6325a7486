//! A model-free VAD: frame energy against the track's own noise floor.
//!
//! 16 kHz mono PCM in, speech spans out. It is what `--vad energy` runs when the Silero
//! model is not wanted, and the fast, deterministic fake the unit tests of later stages
//! use. It knows nothing about speech: on a call channel it finds "someone is making
//! sound louder than the line noise", which is usually good enough because each
//! party's channel is quiet while the other talks.
//!
//! Rules, in order:
//! 1. RMS level in dBFS of each 32 ms frame (512 samples, the same grid as Silero).
//! 2. The noise floor is a low percentile of the frame levels: robust to the speech
//!    itself as long as at least that fraction of the track is not speech.
//! 3. A frame is loud when it is `margin_db` above the floor and above
//!    `min_level_dbfs` (so digital silence and faint line hiss never count). Once in
//!    speech, a frame stays speech until it drops `hysteresis_db` further, like
//!    Silero's `neg_threshold`.
//! 4. Pauses shorter than `min_silence_ms` are bridged, spans shorter than
//!    `min_speech_ms` dropped, long spans cut at their quietest frame, and spans padded
//!    without overlapping: the same shape of output as the Silero post-processing.

use crate::error::{Error, Result};
use crate::vad::{SpeechSpan, Vad};

const SAMPLE_RATE: usize = 16_000;
const FRAME: usize = 512;

/// Settings for [`EnergyVad`]. The durations match the Silero defaults for phone calls.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnergyVadConfig {
    /// Loud means this many dB above the noise floor. 12 dB: a voice at normal level
    /// over a quiet line is 25-40 dB above it; stationary noise varies by ~1 dB.
    pub margin_db: f32,
    /// ... and at least this loud: -50 dBFS is well under quiet speech on a telephone
    /// recording (around -30 dBFS) and above dither and codec noise.
    pub min_level_dbfs: f32,
    /// Inside speech, a frame has to fall this much below the entry level to count as
    /// a pause.
    pub hysteresis_db: f32,
    /// Percentile (0..1) of frame levels taken as the noise floor.
    pub floor_percentile: f32,
    pub min_speech_ms: u32,
    pub min_silence_ms: u32,
    pub speech_pad_ms: u32,
    pub max_speech_s: f32,
}

impl Default for EnergyVadConfig {
    fn default() -> Self {
        EnergyVadConfig {
            margin_db: 12.0,
            min_level_dbfs: -50.0,
            hysteresis_db: 3.0,
            floor_percentile: 0.1,
            min_speech_ms: 250,
            min_silence_ms: 500,
            speech_pad_ms: 200,
            max_speech_s: 30.0,
        }
    }
}

/// Energy-threshold VAD; see the module docs.
#[derive(Debug, Clone, Default)]
pub struct EnergyVad {
    config: EnergyVadConfig,
}

impl EnergyVad {
    pub fn new(config: EnergyVadConfig) -> Result<Self> {
        if !(0.0..1.0).contains(&config.floor_percentile) {
            return Err(Error::Config(
                "vad: floor_percentile must be within 0..1".into(),
            ));
        }
        let pad = 2.0 * config.speech_pad_ms as f32 / 1000.0 + FRAME as f32 / SAMPLE_RATE as f32;
        if config.max_speech_s.is_nan() || config.max_speech_s <= pad {
            return Err(Error::Config(
                "vad: max_speech_s must exceed twice speech_pad_ms plus one 32 ms frame".into(),
            ));
        }
        Ok(EnergyVad { config })
    }

    pub fn config(&self) -> &EnergyVadConfig {
        &self.config
    }

    /// Level of each 32 ms frame in dBFS (the last frame may be shorter).
    pub fn frame_levels(pcm: &[f32]) -> Vec<f32> {
        pcm.chunks(FRAME)
            .map(|f| {
                let mean_sq =
                    f.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>() / f.len() as f64;
                (10.0 * (mean_sq + 1e-12).log10()) as f32
            })
            .collect()
    }
}

impl Vad for EnergyVad {
    fn speech_spans(&mut self, pcm: &[f32]) -> Result<Vec<SpeechSpan>> {
        let levels = Self::frame_levels(pcm);
        Ok(spans_from_levels(&levels, pcm.len(), &self.config))
    }
}

fn spans_from_levels(levels: &[f32], n_samples: usize, cfg: &EnergyVadConfig) -> Vec<SpeechSpan> {
    if levels.is_empty() {
        return Vec::new();
    }
    let frames = |ms: u32| (ms as usize * SAMPLE_RATE / 1000).div_ceil(FRAME);
    let floor = {
        let mut sorted = levels.to_vec();
        sorted.sort_by(f32::total_cmp);
        sorted[((sorted.len() - 1) as f32 * cfg.floor_percentile) as usize]
    };
    let enter = (floor + cfg.margin_db).max(cfg.min_level_dbfs);
    let stay = enter - cfg.hysteresis_db;

    // Rule 3: frame decisions with hysteresis, as runs of frame indices [start, end).
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut open: Option<usize> = None;
    for (i, &l) in levels.iter().enumerate() {
        match open {
            None if l >= enter => open = Some(i),
            Some(s) if l < stay => {
                runs.push((s, i));
                open = None;
            }
            _ => {}
        }
    }
    if let Some(s) = open {
        runs.push((s, levels.len()));
    }

    // Rule 4: bridge short pauses, drop short bursts.
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for r in runs {
        match merged.last_mut() {
            Some(last) if r.0 - last.1 < frames(cfg.min_silence_ms) => last.1 = r.1,
            _ => merged.push(r),
        }
    }
    merged.retain(|&(s, e)| (e - s) * FRAME > cfg.min_speech_ms as usize * SAMPLE_RATE / 1000);

    // Cut spans longer than the maximum (padding included) at their quietest frame in
    // the second half of the allowed length, so pieces are neither tiny nor too long.
    let pad = cfg.speech_pad_ms as usize * SAMPLE_RATE / 1000;
    let max_frames = ((cfg.max_speech_s as f64 * SAMPLE_RATE as f64) as usize)
        .saturating_sub(2 * pad + FRAME)
        / FRAME;
    let max_frames = max_frames.max(2);
    let mut cut: Vec<(usize, usize)> = Vec::new();
    for (mut s, e) in merged {
        while e - s > max_frames {
            let lo = s + max_frames / 2;
            let hi = s + max_frames;
            let at = (lo..hi)
                .min_by(|&a, &b| levels[a].total_cmp(&levels[b]))
                .unwrap_or(hi);
            cut.push((s, at));
            s = at;
        }
        cut.push((s, e));
    }

    // Samples, padded, clamped, never overlapping (shared with Silero).
    let raw: Vec<(usize, usize)> = cut
        .into_iter()
        .map(|(s, e)| (s * FRAME, (e * FRAME).min(n_samples)))
        .collect();
    super::pad_to_seconds(raw, pad, n_samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic white noise at `dbfs` RMS (uniform, xorshift).
    fn noise(n: usize, dbfs: f32, seed: u32) -> Vec<f32> {
        let amp = 10f32.powf(dbfs / 20.0) * 3f32.sqrt(); // uniform in [-a, a] has RMS a/sqrt(3)
        let mut x = seed.max(1);
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x as f32 / u32::MAX as f32 * 2.0 - 1.0) * amp
            })
            .collect()
    }

    /// A 200 Hz tone at `dbfs` RMS, standing in for voiced speech.
    fn tone(n: usize, dbfs: f32) -> Vec<f32> {
        let amp = 10f32.powf(dbfs / 20.0) * 2f32.sqrt();
        (0..n)
            .map(|i| amp * (i as f32 * 200.0 * std::f32::consts::TAU / 16000.0).sin())
            .collect()
    }

    fn mix(a: &mut [f32], b: &[f32], at: usize) {
        for (x, y) in a[at..].iter_mut().zip(b) {
            *x += y;
        }
    }

    fn run(pcm: &[f32]) -> Vec<(f64, f64)> {
        EnergyVad::default()
            .speech_spans(pcm)
            .unwrap()
            .into_iter()
            .map(|s| (s.start, s.end))
            .collect()
    }

    #[test]
    fn silence_and_stationary_noise_have_no_speech() {
        assert!(run(&[]).is_empty());
        assert!(run(&vec![0.0; 16000 * 5]).is_empty());
        assert!(run(&noise(16000 * 5, -60.0, 1)).is_empty());
        // Loud but stationary noise: no frame stands out from the floor.
        assert!(run(&noise(16000 * 5, -20.0, 2)).is_empty());
    }

    #[test]
    fn tone_over_line_noise_is_found_with_padding() {
        let mut pcm = noise(16000 * 8, -55.0, 3);
        mix(&mut pcm, &tone(16000 * 2, -25.0), 16000 * 3);
        let got = run(&pcm);
        assert_eq!(got.len(), 1, "{got:?}");
        let (s, e) = got[0];
        assert!((s - 2.8).abs() < 0.04 && (e - 5.2).abs() < 0.04, "{got:?}");
    }

    #[test]
    fn short_pause_bridged_long_pause_split_short_burst_dropped() {
        let mut pcm = vec![0.0; 16000 * 10];
        mix(&mut pcm, &tone(16000, -25.0), 16000); // 1..2 s
        mix(&mut pcm, &tone(16000, -25.0), 16000 * 2 + 4800); // 2.3..3.3 s: 300 ms pause
        mix(&mut pcm, &tone(16000, -25.0), 16000 * 5); // 5..6 s: 1.7 s pause
        mix(&mut pcm, &tone(1600, -25.0), 16000 * 8); // 100 ms click
        let got = run(&pcm);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(
            (got[0].0 - 0.8).abs() < 0.04 && (got[0].1 - 3.5).abs() < 0.04,
            "{got:?}"
        );
        assert!(
            (got[1].0 - 4.8).abs() < 0.04 && (got[1].1 - 6.2).abs() < 0.04,
            "{got:?}"
        );
    }

    #[test]
    fn long_speech_is_cut_below_the_maximum_and_spans_never_overlap() {
        let mut pcm = noise(16000 * 80, -60.0, 4);
        // 70 s of "speech" with a slightly quieter stretch every 7 s.
        for k in 0..10 {
            mix(
                &mut pcm,
                &tone(16000 * 7 - 1600, -25.0),
                16000 * (5 + 7 * k),
            );
            mix(&mut pcm, &tone(1600, -40.0), 16000 * (5 + 7 * k + 7) - 1600);
        }
        let got = run(&pcm);
        assert!(got.len() >= 3, "{got:?}");
        for &(s, e) in &got {
            assert!(e - s <= 30.0 + 1e-9, "{got:?}");
        }
        for w in got.windows(2) {
            assert!(w[0].1 <= w[1].0, "{got:?}");
        }
        assert!((got[0].0 - 4.8).abs() < 0.04, "{got:?}");
    }

    #[test]
    fn rejects_bad_settings() {
        assert!(EnergyVad::new(EnergyVadConfig {
            floor_percentile: 1.0,
            ..Default::default()
        })
        .is_err());
        assert!(EnergyVad::new(EnergyVadConfig {
            max_speech_s: 0.2,
            ..Default::default()
        })
        .is_err());
    }
}
