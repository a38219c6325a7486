//! Voice cues per turn, measured on the speaker's own channel at 16 kHz.
//!
//! Everything is relative to the same speaker in the same call (their median turn),
//! because absolute loudness and pitch say more about the line and the person than
//! about the moment. Pitch is a plain normalised autocorrelation on 8 kHz frames:
//! enough for level and range, and cheap next to transcription (all tagging together,
//! model included, took 6% of batch time on `samples/`; see README "Tags").

use std::collections::HashMap;

use crate::types::{AcousticCues, Speaker, Turn};

const RATE: usize = 16_000;
/// A silence between words longer than this counts as a pause.
const PAUSE: f64 = 0.3;

/// One track's samples and whose voice they are.
pub struct TrackAudio<'a> {
    pub speaker: Speaker,
    pub pcm: &'a [f32],
}

/// Loudness in dB and (median Hz, range in semitones) of one turn, before baselines.
type RawVoice = (f32, Option<(f32, f32)>);

/// Cues for every turn (None when its speaker has no track or no audio under it).
pub fn measure(turns: &[Turn], tracks: &[TrackAudio]) -> Vec<Option<AcousticCues>> {
    let raw: Vec<Option<RawVoice>> = turns
        .iter()
        .map(|turn| {
            let track =
                tracks
                    .iter()
                    .find(|t| t.speaker == turn.speaker)
                    .or(if tracks.len() == 1 {
                        tracks.first()
                    } else {
                        None
                    })?;
            let samples = speech_samples(turn, track.pcm, 0.0);
            if samples.len() < RATE / 10 {
                return None;
            }
            Some((rms_db(&samples), pitch(&samples)))
        })
        .collect();

    // The speaker's median turn loudness is their baseline (once per speaker).
    let mut levels: HashMap<Speaker, Vec<f32>> = HashMap::new();
    for (turn, r) in turns.iter().zip(&raw) {
        if let Some((db, _)) = r {
            levels.entry(turn.speaker).or_default().push(*db);
        }
    }
    let baselines: HashMap<Speaker, f32> = levels
        .into_iter()
        .map(|(speaker, mut dbs)| {
            dbs.sort_by(f32::total_cmp);
            (speaker, dbs[dbs.len() / 2])
        })
        .collect();
    let baseline = |speaker: Speaker| baselines.get(&speaker).copied().unwrap_or(0.0);

    turns
        .iter()
        .zip(&raw)
        .map(|(turn, r)| Some(cues(turn, (*r)?, baseline(turn.speaker), turns)))
        .collect()
}

/// Voice cues for live mode, one turn at a time: the baseline is the speaker's
/// median turn so far, and the audio is that of the turn's own utterance.
#[derive(Debug, Default)]
pub struct LiveVoice {
    levels: HashMap<Speaker, Vec<f32>>,
}

/// Turns per speaker kept for the live baseline: enough for a stable median, and
/// memory stays flat on a stream that never ends.
const LIVE_BASELINE_TURNS: usize = 200;

impl LiveVoice {
    /// `pcm` is the speaker's audio from stream time `pcm_start`; `others` are the
    /// recent turns, for overlap and interruptions.
    pub fn measure(
        &mut self,
        turn: &Turn,
        pcm: &[f32],
        pcm_start: f64,
        others: &[Turn],
    ) -> Option<AcousticCues> {
        let samples = speech_samples(turn, pcm, pcm_start);
        if samples.len() < RATE / 10 {
            return None;
        }
        let raw = (rms_db(&samples), pitch(&samples));
        let levels = self.levels.entry(turn.speaker).or_default();
        if levels.len() == LIVE_BASELINE_TURNS {
            levels.remove(0);
        }
        levels.push(raw.0);
        let mut sorted = levels.clone();
        sorted.sort_by(f32::total_cmp);
        Some(cues(turn, raw, sorted[sorted.len() / 2], others))
    }
}

fn cues(turn: &Turn, (db, pitch): RawVoice, baseline: f32, turns: &[Turn]) -> AcousticCues {
    let spoken = (turn.end - turn.start).max(0.05);
    let pauses: f64 = turn
        .words
        .windows(2)
        .map(|w| w[1].start - w[0].end)
        .filter(|gap| *gap > PAUSE)
        .sum();
    let (overlap, interrupts) = overlap_with_others(turn, turns);
    AcousticCues {
        loudness_db: round1(db - baseline),
        pitch_hz: pitch.map(|(median, _)| round1(median)),
        pitch_range_st: pitch.map(|(_, range)| round1(range)),
        speech_rate: round1(turn.words.len() as f32 / (spoken - pauses).max(0.05) as f32),
        pauses: round1(pauses as f32),
        overlap: round1(overlap as f32),
        interrupts,
    }
}

/// How much the voice adds to intensity, 0..1 (0.5 = this speaker's usual turn).
pub fn arousal(a: &AcousticCues) -> f32 {
    let range = a.pitch_range_st.map_or(0.0, |r| (r - 4.0) / 16.0);
    let interrupt = if a.interrupts { 0.1 } else { 0.0 };
    (0.5 + a.loudness_db / 12.0 + range + interrupt).clamp(0.0, 1.0)
}

/// The samples under the turn's words (silences between words left out); `pcm`
/// starts at time `pcm_start`.
fn speech_samples(turn: &Turn, pcm: &[f32], pcm_start: f64) -> Vec<f32> {
    let index = |t: f64| (((t - pcm_start).max(0.0) * RATE as f64) as usize).min(pcm.len());
    let mut out = Vec::new();
    if turn.words.is_empty() {
        out.extend_from_slice(&pcm[index(turn.start)..index(turn.end)]);
    }
    for w in &turn.words {
        out.extend_from_slice(&pcm[index(w.start)..index(w.end)]);
    }
    out
}

fn rms_db(x: &[f32]) -> f32 {
    let mean_sq = x.iter().map(|s| s * s).sum::<f32>() / x.len().max(1) as f32;
    10.0 * mean_sq.max(1e-10).log10()
}

/// (median Hz, 10th-90th percentile range in semitones) over voiced frames.
fn pitch(x: &[f32]) -> Option<(f32, f32)> {
    // 8 kHz by averaging pairs: pitch lives far below 4 kHz.
    let y: Vec<f32> = x.chunks_exact(2).map(|p| 0.5 * (p[0] + p[1])).collect();
    const FRAME: usize = 320; // 40 ms
    const HOP: usize = 160;
    let (min_lag, max_lag) = (8000 / 400, 8000 / 70);
    let gate = {
        let mut e: Vec<f32> = y
            .chunks(FRAME)
            .map(|f| f.iter().map(|s| s * s).sum::<f32>())
            .collect();
        e.sort_by(f32::total_cmp);
        e.get(e.len() * 3 / 4).copied().unwrap_or(0.0) * 0.05
    };
    let mut f0s: Vec<f32> = Vec::new();
    let mut start = 0;
    while start + FRAME + max_lag <= y.len() {
        let frame = &y[start..start + FRAME];
        let energy: f32 = frame.iter().map(|s| s * s).sum();
        if energy > gate && energy > 1e-6 {
            let r: Vec<f32> = (min_lag..=max_lag)
                .map(|lag| {
                    let other = &y[start + lag..start + lag + FRAME];
                    let dot: f32 = frame.iter().zip(other).map(|(a, b)| a * b).sum();
                    let norm = (energy * other.iter().map(|s| s * s).sum::<f32>()).sqrt();
                    if norm > 0.0 {
                        dot / norm
                    } else {
                        0.0
                    }
                })
                .collect();
            let best = r.iter().copied().fold(0.0f32, f32::max);
            // The shortest lag that is nearly as periodic as the best: multiples of
            // the period correlate just as well and would halve the pitch.
            if best > 0.6 {
                let peak = (1..r.len() - 1)
                    .find(|&i| r[i] >= 0.9 * best && r[i] >= r[i - 1] && r[i] >= r[i + 1]);
                if let Some(i) = peak {
                    f0s.push(8000.0 / (min_lag + i) as f32);
                }
            }
        }
        start += HOP;
    }
    if f0s.len() < 5 {
        return None;
    }
    f0s.sort_by(f32::total_cmp);
    let at = |q: f32| f0s[((f0s.len() - 1) as f32 * q) as usize];
    Some((at(0.5), 12.0 * (at(0.9) / at(0.1)).log2()))
}

/// Seconds of this turn during which another speaker talks, and whether it began
/// while another speaker's turn was under way.
pub(crate) fn overlap_with_others(turn: &Turn, turns: &[Turn]) -> (f64, bool) {
    let mut overlap = 0.0;
    let mut interrupts = false;
    for other in turns.iter().filter(|o| o.speaker != turn.speaker) {
        let shared = turn.end.min(other.end) - turn.start.max(other.start);
        if shared > 0.0 {
            overlap += shared;
        }
        if other.start < turn.start && turn.start < other.end - 0.2 {
            interrupts = true;
        }
    }
    (overlap, interrupts)
}

fn round1(x: f32) -> f32 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Word;

    fn tone(freq: f32, secs: f32, amp: f32) -> Vec<f32> {
        (0..(secs * RATE as f32) as usize)
            .map(|i| amp * (2.0 * std::f32::consts::PI * freq * i as f32 / RATE as f32).sin())
            .collect()
    }

    fn turn(id: usize, speaker: Speaker, start: f64, end: f64) -> Turn {
        Turn {
            id,
            speaker,
            start,
            end,
            text: "a b".into(),
            words: vec![
                Word {
                    text: "a".into(),
                    start,
                    end: (start + end) / 2.0 - 0.2,
                    probability: 1.0,
                },
                Word {
                    text: "b".into(),
                    start: (start + end) / 2.0 + 0.2,
                    end,
                    probability: 1.0,
                },
            ],
            tags: None,
            acoustic: None,
        }
    }

    #[test]
    fn pitch_of_a_tone_is_found() {
        let (median, range) = pitch(&tone(200.0, 1.0, 0.3)).unwrap();
        assert!((median - 200.0).abs() < 8.0, "{median}");
        assert!(range < 1.0, "{range}");
        assert!(pitch(&vec![0.0; 16000]).is_none());
    }

    #[test]
    fn louder_turn_is_above_baseline_and_overlap_is_seen() {
        let mut pcm = tone(150.0, 2.0, 0.05);
        pcm.extend(tone(150.0, 2.0, 0.05));
        pcm.extend(tone(150.0, 2.0, 0.4));
        let other = tone(220.0, 6.0, 0.1);
        let turns = vec![
            turn(0, Speaker::Customer, 0.0, 2.0),
            turn(1, Speaker::Customer, 2.0, 4.0),
            turn(2, Speaker::Agent, 3.5, 4.5),
            turn(3, Speaker::Customer, 4.0, 6.0),
        ];
        let tracks = [
            TrackAudio {
                speaker: Speaker::Customer,
                pcm: &pcm,
            },
            TrackAudio {
                speaker: Speaker::Agent,
                pcm: &other,
            },
        ];
        let cues = measure(&turns, &tracks);
        let loud = cues[3].as_ref().unwrap();
        assert!(loud.loudness_db > 15.0, "{loud:?}");
        assert!(cues[0].as_ref().unwrap().loudness_db.abs() < 0.5);
        assert!(cues[2].as_ref().unwrap().interrupts);
        assert!((cues[2].as_ref().unwrap().overlap - 1.0).abs() < 0.01);
        assert!((loud.pauses - 0.4).abs() < 0.01);
        assert!(arousal(loud) > arousal(cues[0].as_ref().unwrap()));
    }
}
