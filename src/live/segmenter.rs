//! Live segmentation: 16 kHz samples per channel → utterances, with the same VAD
//! model and the same rules as batch ([`SpanTracker`]), run window by window.
//!
//! Each channel keeps only the audio an utterance may still need: the open span
//! (at most `max_speech_s`) plus the padding before it, so memory stays flat however
//! long the stream runs.

use std::time::Instant;

use crate::error::Result;
use crate::vad::silero::{SpanTracker, VadConfig, WINDOW};

const RATE: f64 = crate::audio::TARGET_RATE as f64;

/// Speech probabilities, one per 512-sample window, per channel, fed piece by piece.
pub trait SpeechProbability {
    /// Probabilities of the windows that `pcm` completes on `channel`.
    fn push(&mut self, channel: usize, pcm: &[f32]) -> Result<Vec<f32>>;
    /// End of input: the probability of the last, zero-padded window, if any.
    fn finish(&mut self, channel: usize) -> Result<Option<f32>>;
}

#[cfg(feature = "onnx")]
/// Silero VAD with one streaming state per channel (one session for all).
pub struct SileroChannels {
    vad: crate::vad::silero::SileroVad,
    streams: Vec<crate::vad::silero::VadStream>,
}

#[cfg(feature = "onnx")]
impl SileroChannels {
    pub fn new(vad: crate::vad::silero::SileroVad, channels: usize) -> Self {
        SileroChannels {
            vad,
            streams: vec![Default::default(); channels],
        }
    }
}

#[cfg(feature = "onnx")]
impl SpeechProbability for SileroChannels {
    fn push(&mut self, channel: usize, pcm: &[f32]) -> Result<Vec<f32>> {
        self.vad.push(&mut self.streams[channel], pcm)
    }
    fn finish(&mut self, channel: usize) -> Result<Option<f32>> {
        self.vad.finish(&mut self.streams[channel])
    }
}

/// A closed utterance: padded audio of one channel, ready for its final decode.
#[derive(Debug, Clone)]
pub struct Utterance {
    pub id: u64,
    pub channel: usize,
    /// Stream time of the first sample, in seconds.
    pub start: f64,
    pub samples: Vec<f32>,
    /// Stream time at which the VAD closed it (the end of the silence that ended it).
    pub closed_time: f64,
    /// When the audio that closed it was read from the input.
    pub closed_at: Instant,
}

impl Utterance {
    pub fn end(&self) -> f64 {
        self.start + self.samples.len() as f64 / RATE
    }
}

/// The audio so far of an utterance still being spoken, for a partial decode.
#[derive(Debug, Clone)]
pub struct OpenUtterance {
    pub id: u64,
    pub channel: usize,
    pub start: f64,
    pub samples: Vec<f32>,
}

#[derive(Debug)]
pub enum Segment {
    Open(OpenUtterance),
    Closed(Utterance),
}

/// When to offer the open utterance for a partial decode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PartialPolicy {
    /// No partial before the utterance is this long (s).
    pub min_seconds: f64,
    /// Then one every time this much new audio has come in (s).
    pub every_seconds: f64,
}

impl Default for PartialPolicy {
    fn default() -> Self {
        PartialPolicy {
            min_seconds: 1.0,
            every_seconds: 1.0,
        }
    }
}

struct Channel {
    tracker: SpanTracker,
    /// Audio from sample `buffer_start` on.
    buffer: Vec<f32>,
    buffer_start: usize,
    /// Samples received on this channel.
    received: usize,
    /// End (unpadded) of the last closed span, for the padding rule.
    previous_end: Option<usize>,
    /// The id of the span now open, and the length at its last partial.
    open: Option<(u64, usize)>,
}

pub struct Segmenter<P> {
    vad: P,
    channels: Vec<Channel>,
    partials: Option<PartialPolicy>,
    next_id: u64,
}

impl<P: SpeechProbability> Segmenter<P> {
    /// `partials: None` offers no open utterances (finals only).
    pub fn new(
        vad: P,
        channels: usize,
        config: &VadConfig,
        partials: Option<PartialPolicy>,
    ) -> Self {
        Segmenter {
            vad,
            channels: (0..channels)
                .map(|_| Channel {
                    tracker: SpanTracker::new(config),
                    buffer: Vec::new(),
                    buffer_start: 0,
                    received: 0,
                    previous_end: None,
                    open: None,
                })
                .collect(),
            partials,
            next_id: 0,
        }
    }

    /// Stream time up to which every channel has been through the VAD (s).
    pub fn position(&self) -> f64 {
        self.channels
            .iter()
            .map(|c| c.tracker.position())
            .min()
            .unwrap_or(0) as f64
            / RATE
    }

    /// Samples currently held for open utterances, all channels together.
    pub fn buffered_samples(&self) -> usize {
        self.channels.iter().map(|c| c.buffer.len()).sum()
    }

    /// Takes the next samples of every channel (read at `read_at`); returns the
    /// utterances they close, and at most one open utterance per channel to decode
    /// partially.
    pub fn push(&mut self, frames: &[Vec<f32>], read_at: Instant) -> Result<Vec<Segment>> {
        let mut out = Vec::new();
        for (index, pcm) in frames.iter().enumerate().take(self.channels.len()) {
            let probs = self.vad.push(index, pcm)?;
            let channel = &mut self.channels[index];
            channel.buffer.extend_from_slice(pcm);
            channel.received += pcm.len();
            for p in probs {
                self.step(index, p, read_at, &mut out);
            }
            if let Some(policy) = self.partials {
                self.offer_partial(index, policy, &mut out);
            }
            self.trim(index);
        }
        Ok(out)
    }

    /// End of input: closes the utterances still open.
    pub fn finish(&mut self, now: Instant) -> Result<Vec<Segment>> {
        let mut out = Vec::new();
        for index in 0..self.channels.len() {
            if let Some(p) = self.vad.finish(index)? {
                self.step(index, p, now, &mut out);
            }
            let channel = &mut self.channels[index];
            let received = channel.received;
            if let Some(span) = channel.tracker.finish(received) {
                let id = channel
                    .open
                    .take()
                    .map_or_else(|| self.take_id(), |(id, _)| id);
                out.push(Segment::Closed(self.cut(index, id, span, received, now)));
            }
            self.channels[index].open = None;
        }
        Ok(out)
    }

    fn take_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// One window's probability on channel `index`.
    fn step(&mut self, index: usize, p: f32, read_at: Instant, out: &mut Vec<Segment>) {
        let mut closed = Vec::new();
        self.channels[index].tracker.push(p, &mut closed);
        let closed_pos = self.channels[index].tracker.position();
        for span in closed {
            let id = match self.channels[index].open.take() {
                Some((id, _)) => id,
                None => self.take_id(),
            };
            out.push(Segment::Closed(
                self.cut(index, id, span, closed_pos, read_at),
            ));
        }
        let open = self.channels[index].tracker.open_since().is_some();
        match (open, self.channels[index].open) {
            (true, None) => {
                let id = self.take_id();
                self.channels[index].open = Some((id, 0));
            }
            (false, Some(_)) => self.channels[index].open = None,
            _ => {}
        }
    }

    /// The padded audio of a closed span. Padding follows batch (`pad_to_seconds`):
    /// `pad` on each side, or half the gap when the neighbour is closer than that.
    fn cut(
        &mut self,
        index: usize,
        id: u64,
        (start, end): (usize, usize),
        closed_pos: usize,
        closed_at: Instant,
    ) -> Utterance {
        let channel = &mut self.channels[index];
        let pad = channel.tracker.pad;
        let padded_start = padded_start(start, channel.previous_end, pad);
        let padded_end = match channel.tracker.open_since() {
            // The span was cut at its maximum length and speech goes on.
            Some(next) if next >= end => end + (pad.min((next - end) / 2)),
            _ => end + pad,
        }
        .min(channel.received);
        channel.previous_end = Some(end);
        let from = padded_start.max(channel.buffer_start) - channel.buffer_start;
        let to = (padded_end - channel.buffer_start).max(from);
        Utterance {
            id,
            channel: index,
            start: padded_start.max(channel.buffer_start) as f64 / RATE,
            samples: channel.buffer[from..to.min(channel.buffer.len())].to_vec(),
            closed_time: closed_pos as f64 / RATE,
            closed_at,
        }
    }

    fn offer_partial(&mut self, index: usize, policy: PartialPolicy, out: &mut Vec<Segment>) {
        let channel = &mut self.channels[index];
        let (Some(start), Some((id, last))) = (channel.tracker.open_since(), channel.open) else {
            return;
        };
        // In a pause the words are the same as at the last partial: wait for more.
        if channel.tracker.pausing() {
            return;
        }
        let padded_start = padded_start(start, channel.previous_end, channel.tracker.pad)
            .max(channel.buffer_start);
        let now = channel.tracker.position().min(channel.received);
        let len = now.saturating_sub(padded_start);
        let (min, every) = (
            (policy.min_seconds * RATE) as usize,
            (policy.every_seconds * RATE) as usize,
        );
        if len < min || (last > 0 && len < last + every) {
            return;
        }
        channel.open = Some((id, len));
        let from = padded_start - channel.buffer_start;
        out.push(Segment::Open(OpenUtterance {
            id,
            channel: index,
            start: padded_start as f64 / RATE,
            samples: channel.buffer[from..from + len].to_vec(),
        }));
    }

    /// Drops audio no utterance can need any more.
    fn trim(&mut self, index: usize) {
        let channel = &mut self.channels[index];
        let pad = channel.tracker.pad;
        let keep_from = match channel.tracker.open_since() {
            Some(start) => padded_start(start, channel.previous_end, pad),
            None => channel.tracker.position().saturating_sub(pad + WINDOW),
        };
        if keep_from > channel.buffer_start {
            let drop = (keep_from - channel.buffer_start).min(channel.buffer.len());
            channel.buffer.drain(..drop);
            channel.buffer_start += drop;
        }
    }
}

fn padded_start(start: usize, previous_end: Option<usize>, pad: usize) -> usize {
    match previous_end {
        Some(prev) if start >= prev && start - prev < 2 * pad => start - (start - prev) / 2,
        _ => start.saturating_sub(pad),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Speech wherever a window's mean absolute value is above 0.1.
    struct Loudness(Vec<Vec<f32>>);

    impl SpeechProbability for Loudness {
        fn push(&mut self, channel: usize, pcm: &[f32]) -> Result<Vec<f32>> {
            let pending = &mut self.0[channel];
            pending.extend_from_slice(pcm);
            let n = pending.len() / WINDOW;
            let probs = pending
                .chunks_exact(WINDOW)
                .take(n)
                .map(|w| {
                    if w.iter().map(|x| x.abs()).sum::<f32>() / WINDOW as f32 > 0.1 {
                        0.9
                    } else {
                        0.0
                    }
                })
                .collect();
            pending.drain(..n * WINDOW);
            Ok(probs)
        }
        fn finish(&mut self, _: usize) -> Result<Option<f32>> {
            Ok(None)
        }
    }

    fn signal(pattern: &[(f32, f64)]) -> Vec<f32> {
        pattern
            .iter()
            .flat_map(|&(level, secs)| std::iter::repeat_n(level, (secs * RATE) as usize))
            .collect()
    }

    fn run(pcm: &[f32], piece: usize, partials: Option<PartialPolicy>) -> Vec<Segment> {
        let mut seg = Segmenter::new(
            Loudness(vec![Vec::new()]),
            1,
            &VadConfig::default(),
            partials,
        );
        let now = Instant::now();
        let mut out = Vec::new();
        for chunk in pcm.chunks(piece) {
            out.extend(seg.push(&[chunk.to_vec()], now).unwrap());
            assert!(seg.buffered_samples() <= (31.0 * RATE) as usize);
        }
        out.extend(seg.finish(now).unwrap());
        out
    }

    #[test]
    fn utterances_match_batch_spans_whatever_the_piece_size() {
        let pcm = signal(&[(0.0, 1.0), (0.5, 2.0), (0.0, 1.5), (0.5, 1.0), (0.0, 0.3)]);
        let cfg = VadConfig::default();
        let mut probs = Loudness(vec![Vec::new()]).push(0, &pcm).unwrap();
        probs.extend(Loudness(vec![Vec::new()]).finish(0).unwrap());
        let batch = crate::vad::silero::spans_from_probabilities(&probs, pcm.len(), &cfg);
        for piece in [160, 512, 4000, pcm.len()] {
            let closed: Vec<Utterance> = run(&pcm, piece, None)
                .into_iter()
                .filter_map(|s| match s {
                    Segment::Closed(u) => Some(u),
                    Segment::Open(_) => None,
                })
                .collect();
            assert_eq!(closed.len(), batch.len(), "piece {piece}");
            for (u, span) in closed.iter().zip(&batch) {
                assert!(
                    (u.start - span.start).abs() < 1e-9,
                    "{} vs {:?}",
                    u.start,
                    span
                );
                assert!(
                    (u.end() - span.end).abs() < 1e-9,
                    "{} vs {:?}",
                    u.end(),
                    span
                );
                assert_eq!(
                    u.samples,
                    pcm[(u.start * RATE) as usize..(u.end() * RATE).round() as usize]
                );
            }
            // The first closes once 500 ms of silence followed it; the last at the end.
            assert!(
                (closed[0].closed_time - 3.5).abs() < 0.07,
                "{}",
                closed[0].closed_time
            );
            assert_ne!(closed[0].id, closed[1].id);
        }
    }

    #[test]
    fn open_utterances_are_offered_every_second_and_share_the_final_id() {
        let pcm = signal(&[(0.0, 0.5), (0.5, 3.6), (0.0, 1.0)]);
        let segs = run(&pcm, 1600, Some(PartialPolicy::default()));
        let opens: Vec<&OpenUtterance> = segs
            .iter()
            .filter_map(|s| {
                if let Segment::Open(o) = s {
                    Some(o)
                } else {
                    None
                }
            })
            .collect();
        let lens: Vec<f64> = opens
            .iter()
            .map(|o| o.samples.len() as f64 / RATE)
            .collect();
        assert_eq!(opens.len(), 3, "{lens:?}");
        assert!(lens.windows(2).all(|w| w[1] - w[0] >= 0.99), "{lens:?}");
        let Some(Segment::Closed(last)) = segs.last() else {
            panic!("no final")
        };
        assert!(opens.iter().all(|o| o.id == last.id));
    }

    #[test]
    fn long_speech_is_cut_and_memory_stays_bounded() {
        // 70 s of unbroken speech: cut at the 30 s limit, never holding more.
        let pcm = signal(&[(0.5, 70.0), (0.0, 1.0)]);
        let closed: Vec<f64> = run(&pcm, 3200, None)
            .into_iter()
            .filter_map(|s| {
                if let Segment::Closed(u) = s {
                    Some(u.end() - u.start)
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(closed.len(), 3, "{closed:?}");
        assert!(closed.iter().all(|&d| d <= 30.0 + 1e-9), "{closed:?}");
    }
}
