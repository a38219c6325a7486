//! Silero VAD v6 through ONNX Runtime: 16 kHz mono PCM in, one speech probability per
//! 32 ms window out, then Silero's hysteresis rules turn probabilities into
//! [`SpeechSpan`]s.
//!
//! The model is `silero_vad_v6.onnx` from the faster-whisper 1.2.1 wheel (Silero VAD,
//! MIT). It is the *sequence* export (silero-vad PR #784), not the streaming one:
//!
//! | name           | shape          | meaning                                               |
//! |----------------|----------------|-------------------------------------------------------|
//! | `input`        | `[N, 576]` f32 | N windows of 512 samples, each prefixed with the last 64 samples of the window before (zeros for the first) |
//! | `h`, `c`       | `[1, 1, 128]`  | LSTM state carried from the previous call              |
//! | `speech_probs` | `[N]`          | one probability per window                             |
//! | `hn`, `cn`     | `[1, 1, 128]`  | LSTM state after the last window                       |
//!
//! There is no `sr` input: the export is 16 kHz only. Because the only recurrence is
//! the LSTM over the N axis, running a track in blocks while carrying `h`/`c` gives the
//! same probabilities as feeding one window at a time (faster-whisper 1.2.1
//! `vad.py::SileroVADModel.__call__`, silero-vad 6.2.3 `sequence_vad.py::frame_blocks`).
//!
//! Post-processing ([`spans_from_probabilities`]) follows silero-vad 6.2.3
//! `utils_vad.py::get_speech_timestamps_from_probs` (lines 421-590) with
//! `use_max_poss_sil_at_max_speech=True`; the defaults in [`VadConfig`] are tuned for
//! telephone calls, and where the rules differ from upstream the comment says why.

use crate::error::{Error, Result};
use crate::vad::SpeechSpan;

/// The only rate the model accepts.
pub const SAMPLE_RATE: usize = 16_000;
/// Samples per window: 32 ms at 16 kHz.
pub const WINDOW: usize = 512;
/// Samples of the previous window prepended to each window.
pub const CONTEXT: usize = 64;
const STATE: usize = 128;
/// Default windows per `Session::run`: ~16 s of audio, 1.2 MB of input (silero-vad's
/// `sequence_vad.py` uses the same). Bigger blocks cost memory for little speed.
#[cfg_attr(not(feature = "onnx"), allow(dead_code))]
const BLOCK: usize = 512;

/// Thresholds that turn per-window probabilities into speech spans.
///
/// Defaults are Silero's, except the durations marked "phone": calls have short
/// back-channel pauses inside a turn and the recogniser wants whole phrases, so we wait
/// longer before closing a span and pad more than Silero's 30 ms.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VadConfig {
    /// A window with probability >= this is speech (Silero default 0.5).
    pub threshold: f32,
    /// Inside speech, only a window below this counts as silence (hysteresis).
    /// `None`: `max(threshold - 0.15, 0.01)`, Silero's rule (utils_vad.py line 476).
    pub neg_threshold: Option<f32>,
    /// Spans shorter than this are dropped (Silero default 250 ms): clicks, coughs.
    pub min_speech_ms: u32,
    /// Silence needed to close a span. Phone: 500 ms (Silero 100 ms cuts mid-sentence
    /// on hesitations; faster-whisper's 2000 ms merges the two parties' turns).
    pub min_silence_ms: u32,
    /// Padding on each side of a span. Phone: 200 ms (Silero 30 ms clips plosives and
    /// trailing fricatives that telephone band-limiting already weakens).
    pub speech_pad_ms: u32,
    /// Longest span, padding included. 30 s is Whisper's input window, so a span never
    /// has to be cut again by the recogniser. Silero default: no limit.
    pub max_speech_s: f32,
    /// When a span hits `max_speech_s`, only pauses longer than this are cut points
    /// (Silero `min_silence_at_max_speech`, 98 ms); without one, it is a hard cut.
    pub min_silence_at_max_speech_ms: u32,
}

impl Default for VadConfig {
    fn default() -> Self {
        VadConfig {
            threshold: 0.5,
            neg_threshold: None,
            min_speech_ms: 250,
            min_silence_ms: 500,
            speech_pad_ms: 200,
            max_speech_s: 30.0,
            min_silence_at_max_speech_ms: 98,
        }
    }
}

impl VadConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::Config(format!("vad: {what}")));
        if !(0.0..=1.0).contains(&self.threshold) {
            return bad("threshold must be within 0..=1");
        }
        if let Some(neg) = self.neg_threshold {
            if !(0.0..=self.threshold).contains(&neg) {
                return bad("neg_threshold must be within 0..=threshold");
            }
        }
        let pad = 2.0 * self.speech_pad_ms as f32 / 1000.0 + WINDOW as f32 / SAMPLE_RATE as f32;
        if self.max_speech_s.is_nan() || self.max_speech_s <= pad {
            return bad("max_speech_s must exceed twice speech_pad_ms plus one 32 ms window");
        }
        Ok(())
    }

    fn neg_threshold(&self) -> f32 {
        self.neg_threshold
            .unwrap_or((self.threshold - 0.15).max(0.01))
    }
}

/// The per-track state of a streaming pass: the LSTM state, the tail of the last
/// window (the model's context) and samples that do not yet fill a window. One per
/// channel; the session is shared.
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "onnx"), allow(dead_code))]
pub struct VadStream {
    h: [f32; STATE],
    c: [f32; STATE],
    context: [f32; CONTEXT],
    pending: Vec<f32>,
}

impl Default for VadStream {
    fn default() -> Self {
        VadStream {
            h: [0.0; STATE],
            c: [0.0; STATE],
            context: [0.0; CONTEXT],
            pending: Vec::with_capacity(WINDOW * 2),
        }
    }
}

/// The model itself, behind the `onnx` feature: the span rules above and below are
/// plain code that live mode and the tests use without ONNX Runtime.
#[cfg(feature = "onnx")]
mod model {
    use std::path::Path;

    use ort::session::Session;
    use ort::value::TensorRef;

    use super::*;
    use crate::vad::Vad;

    /// Silero VAD v6 on a single-threaded ONNX Runtime session.
    ///
    /// Needs [`crate::onnx::init_runtime`] first. One instance per worker thread:
    /// `Session::run` takes `&mut self`.
    pub struct SileroVad {
        session: Session,
        config: VadConfig,
        max_block: usize,
    }

    impl SileroVad {
        /// Load the model with the default [`VadConfig`].
        pub fn new(model: &Path) -> Result<Self> {
            Self::with_config(model, VadConfig::default())
        }

        pub fn with_config(model: &Path, config: VadConfig) -> Result<Self> {
            config.validate()?;
            let env = crate::onnx::environment_for(model)?;
            let load_err = |reason: String| Error::ModelLoad {
                path: model.to_path_buf(),
                reason,
            };
            if !model.is_file() {
                return Err(load_err(
                    "file not found; run `python3 models/fetch_models.py` to extract it".into(),
                ));
            }
            // One intra-op and one inter-op thread: the target is a 2-core box where
            // Whisper owns the other core, and the model is too small to gain from more.
            let session = Session::builder(env)
                .and_then(|b| Ok(b.with_intra_threads(1)?.with_inter_threads(1)?))
                .and_then(|mut b| b.commit_from_file(model))
                .map_err(|e| load_err(e.to_string()))?;

            let inputs: Vec<&str> = session.inputs().iter().map(|o| o.name()).collect();
            let outputs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
            if inputs != ["input", "h", "c"] || outputs != ["speech_probs", "hn", "cn"] {
                return Err(load_err(format!(
                    "not the Silero VAD v6 sequence model (inputs {inputs:?}, outputs {outputs:?}; \
                     expected [input, h, c] -> [speech_probs, hn, cn])"
                )));
            }
            Ok(SileroVad {
                session,
                config,
                max_block: BLOCK,
            })
        }

        pub fn config(&self) -> &VadConfig {
            &self.config
        }

        /// At most this many 32 ms windows go into one model call (default 512). The
        /// probabilities do not depend on it beyond float rounding; 1 is streaming.
        pub fn set_max_block(&mut self, windows: usize) {
            self.max_block = windows.max(1);
        }

        /// One speech probability per 32 ms window (`ceil(pcm.len() / 512)` values); the
        /// last window is zero-padded. The LSTM state starts from zero on every call.
        pub fn probabilities(&mut self, pcm: &[f32]) -> Result<Vec<f32>> {
            let mut stream = VadStream::default();
            let mut probs = self.push(&mut stream, pcm)?;
            probs.extend(self.finish(&mut stream)?);
            Ok(probs)
        }

        /// Streaming: appends `pcm` to `stream` and returns the probabilities of the
        /// windows it completed; a partial window waits for the next call. Feeding a
        /// track piece by piece gives the same probabilities as [`Self::probabilities`].
        pub fn push(&mut self, stream: &mut VadStream, pcm: &[f32]) -> Result<Vec<f32>> {
            stream.pending.extend_from_slice(pcm);
            let n_windows = stream.pending.len() / WINDOW;
            let probs = self.run_windows(stream, n_windows)?;
            stream.pending.drain(..n_windows * WINDOW);
            Ok(probs)
        }

        /// Streaming: the probability of the last, zero-padded window, if samples are
        /// left over (end of input).
        pub fn finish(&mut self, stream: &mut VadStream) -> Result<Option<f32>> {
            if stream.pending.is_empty() {
                return Ok(None);
            }
            stream.pending.resize(WINDOW, 0.0);
            let probs = self.run_windows(stream, 1)?;
            stream.pending.clear();
            Ok(probs.first().copied())
        }

        /// Runs the first `n_windows` whole windows of `stream.pending`, in blocks.
        fn run_windows(&mut self, stream: &mut VadStream, n_windows: usize) -> Result<Vec<f32>> {
            let mut probs = Vec::with_capacity(n_windows);
            let block = self.max_block;
            let mut input = Vec::with_capacity(block.min(n_windows) * (CONTEXT + WINDOW));
            for first in (0..n_windows).step_by(block) {
                let count = block.min(n_windows - first);
                input.clear();
                for w in first..first + count {
                    input.extend_from_slice(&stream.context);
                    input.extend_from_slice(&stream.pending[w * WINDOW..(w + 1) * WINDOW]);
                    // The next window's context is the tail of this one.
                    stream
                        .context
                        .copy_from_slice(&input[input.len() - CONTEXT..]);
                }
                probs.extend(self.run_block(&input, count, &mut stream.h, &mut stream.c)?);
            }
            Ok(probs)
        }

        fn run_block(
            &mut self,
            input: &[f32],
            count: usize,
            h: &mut [f32; STATE],
            c: &mut [f32; STATE],
        ) -> Result<Vec<f32>> {
            let vad_err = |e: ort::Error| Error::Vad(e.to_string());
            let outputs = self
                .session
                .run(ort::inputs![
                    "input" => TensorRef::from_array_view(([count, CONTEXT + WINDOW], input)).map_err(vad_err)?,
                    "h" => TensorRef::from_array_view(([1usize, 1, STATE], &h[..])).map_err(vad_err)?,
                    "c" => TensorRef::from_array_view(([1usize, 1, STATE], &c[..])).map_err(vad_err)?,
                ])
                .map_err(vad_err)?;
            let (_, probs) = outputs["speech_probs"]
                .try_extract_tensor::<f32>()
                .map_err(vad_err)?;
            let (_, hn) = outputs["hn"].try_extract_tensor::<f32>().map_err(vad_err)?;
            let (_, cn) = outputs["cn"].try_extract_tensor::<f32>().map_err(vad_err)?;
            if probs.len() != count || hn.len() != STATE || cn.len() != STATE {
                return Err(Error::Vad(format!(
                    "unexpected output sizes: {} probabilities for {count} windows, state {}/{}",
                    probs.len(),
                    hn.len(),
                    cn.len()
                )));
            }
            h.copy_from_slice(hn);
            c.copy_from_slice(cn);
            Ok(probs.to_vec())
        }
    }

    impl Vad for SileroVad {
        fn speech_spans(&mut self, pcm: &[f32]) -> Result<Vec<SpeechSpan>> {
            let probs = self.probabilities(pcm)?;
            Ok(spans_from_probabilities(&probs, pcm.len(), &self.config))
        }
    }
}

#[cfg(feature = "onnx")]
pub use model::SileroVad;

/// Turn per-window probabilities (window `i` covers samples `512*i..512*(i+1)`) of a
/// track of `n_samples` samples into padded speech spans in seconds.
///
/// Port of silero-vad 6.2.3 `utils_vad.py::get_speech_timestamps_from_probs`, lines
/// 461-590, with `use_max_poss_sil_at_max_speech=True`, run through [`SpanTracker`]
/// (which live mode drives window by window). Spans come out sorted and
/// non-overlapping.
pub fn spans_from_probabilities(
    probs: &[f32],
    n_samples: usize,
    cfg: &VadConfig,
) -> Vec<SpeechSpan> {
    let mut tracker = SpanTracker::new(cfg);
    let mut raw = Vec::new();
    for &p in probs {
        tracker.push(p, &mut raw);
    }
    raw.extend(tracker.finish(n_samples));
    super::pad_to_seconds(raw, tracker.pad, n_samples)
}

/// Silero's hysteresis rules as a state machine over one probability per 32 ms
/// window. It yields raw (unpadded) spans in samples as soon as they close: after
/// `min_silence_ms` of silence, or at a cut when a span reaches `max_speech_s`.
#[derive(Debug, Clone)]
pub struct SpanTracker {
    threshold: f32,
    neg_threshold: f32,
    /// Padding the caller adds on each side, in samples.
    pub pad: usize,
    min_speech: usize,
    min_silence: usize,
    min_silence_at_max: usize,
    max_speech: usize,
    /// Windows seen so far.
    windows: usize,
    /// Start of the current span, when in speech.
    start: Option<usize>,
    /// Start of the pause we are in (probability fell below neg_threshold), if any.
    pause_start: Option<usize>,
    /// Pauses inside the current span long enough to cut at: (start, length).
    cut_points: Vec<(usize, usize)>,
}

impl SpanTracker {
    pub fn new(cfg: &VadConfig) -> Self {
        let ms = |v: u32| (SAMPLE_RATE as u64 * v as u64 / 1000) as usize;
        let pad = ms(cfg.speech_pad_ms);
        // Upstream line 467: leave room for one window and both pads, so a span is at
        // most `max_speech_s` long after padding.
        let max_speech = (SAMPLE_RATE as f64 * cfg.max_speech_s as f64) as usize;
        SpanTracker {
            threshold: cfg.threshold,
            neg_threshold: cfg.neg_threshold(),
            pad,
            min_speech: ms(cfg.min_speech_ms),
            min_silence: ms(cfg.min_silence_ms),
            min_silence_at_max: ms(cfg.min_silence_at_max_speech_ms),
            max_speech: max_speech.saturating_sub(WINDOW + 2 * pad).max(WINDOW),
            windows: 0,
            start: None,
            pause_start: None,
            cut_points: Vec::new(),
        }
    }

    /// Start (in samples) of the span in progress, if speech is going on.
    pub fn open_since(&self) -> Option<usize> {
        self.start
    }

    /// Whether speech is open but has paused (a window fell below the negative
    /// threshold and speech has not come back yet).
    pub fn pausing(&self) -> bool {
        self.start.is_some() && self.pause_start.is_some()
    }

    /// Samples covered by the windows seen so far.
    pub fn position(&self) -> usize {
        self.windows * WINDOW
    }

    /// Takes the next window's probability; spans it closes are appended to `out`.
    pub fn push(&mut self, p: f32, out: &mut Vec<(usize, usize)>) {
        let cur = self.windows * WINDOW;
        self.windows += 1;
        let Some(s) = self.start else {
            // Upstream lines 494-497: speech starts at the first window >= threshold.
            if p >= self.threshold {
                self.start = Some(cur);
                self.pause_start = None;
                self.cut_points.clear();
            }
            return;
        };

        // Lines 485-491: speech came back after a pause; remember the pause as a cut
        // point in case the span grows too long.
        if p >= self.threshold {
            if let Some(ps) = self.pause_start.take() {
                if cur - ps > self.min_silence_at_max {
                    self.cut_points.push((ps, cur - ps));
                }
            }
        }

        // Lines 500-534: the span reached max_speech. Cut at the longest pause seen
        // (upstream `use_max_poss_sil_at_max_speech`). Unlike upstream we also consider
        // the pause we may be in right now, and a hard cut continues the span at once
        // instead of dropping the next window.
        if cur - s > self.max_speech {
            let current = self
                .pause_start
                .map(|ps| (ps, cur - ps))
                .filter(|&(_, len)| len > self.min_silence_at_max);
            let past = self.cut_points.iter().copied().max_by_key(|&(_, len)| len);
            match (current, past) {
                (Some((ps, len)), past) if past.is_none_or(|(_, l)| len >= l) => {
                    // The longest pause is the one we are in: close the span where it
                    // began and wait for speech to come back.
                    out.push((s, ps));
                    self.start = None;
                    self.pause_start = None;
                    self.cut_points.clear();
                    return;
                }
                (_, Some((ps, len))) => {
                    out.push((s, ps));
                    self.start = Some(ps + len);
                    self.cut_points.retain(|&(q, _)| q > ps);
                }
                (_, None) => {
                    out.push((s, cur));
                    self.start = Some(cur);
                    self.pause_start = None;
                    self.cut_points.clear();
                }
            }
        }

        // Lines 537-555: inside speech, a window below neg_threshold starts (or
        // continues) a pause; a pause of min_silence closes the span at its start.
        if p < self.neg_threshold {
            let ps = *self.pause_start.get_or_insert(cur);
            if cur - ps >= self.min_silence {
                let s = self.start.take().expect("in speech");
                if ps - s > self.min_speech {
                    out.push((s, ps));
                }
                self.pause_start = None;
                self.cut_points.clear();
            }
        }
    }

    /// End of the track (`n_samples` long): the span still open, if long enough.
    /// Upstream (lines 557-559) ends it at the last sample even when the track ends
    /// in a (short) pause; we end it where the pause began, since that tail is not
    /// speech.
    pub fn finish(&mut self, n_samples: usize) -> Option<(usize, usize)> {
        let s = self.start.take()?;
        let end = self.pause_start.take().unwrap_or(n_samples).min(n_samples);
        self.cut_points.clear();
        (end > s && end - s > self.min_speech).then_some((s, end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Probabilities from a pattern of (probability, duration in ms) pieces.
    fn probs(pattern: &[(f32, u32)]) -> Vec<f32> {
        let mut out = Vec::new();
        for &(p, ms) in pattern {
            let windows = (ms as usize * SAMPLE_RATE / 1000).div_ceil(WINDOW);
            out.extend(std::iter::repeat_n(p, windows));
        }
        out
    }

    fn spans(pattern: &[(f32, u32)], cfg: &VadConfig) -> Vec<(f64, f64)> {
        let p = probs(pattern);
        spans_from_probabilities(&p, p.len() * WINDOW, cfg)
            .into_iter()
            .map(|s| (s.start, s.end))
            .collect()
    }

    fn no_pad() -> VadConfig {
        VadConfig {
            speech_pad_ms: 0,
            ..VadConfig::default()
        }
    }

    fn assert_close(got: &[(f64, f64)], want: &[(f64, f64)]) {
        assert_eq!(got.len(), want.len(), "got {got:?}, want {want:?}");
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g.0 - w.0).abs() < 1e-6 && (g.1 - w.1).abs() < 1e-6,
                "got {got:?}, want {want:?}"
            );
        }
    }

    fn assert_well_formed(s: &[(f64, f64)], len: f64) {
        for w in s.windows(2) {
            assert!(w[0].1 <= w[1].0, "overlap: {s:?}");
        }
        for &(a, b) in s {
            assert!(
                0.0 <= a && a < b && b <= len + 1e-9,
                "bad span {a}..{b} in {s:?}"
            );
        }
    }

    // Durations in the tests are multiples of 32 ms so boundaries are exact.

    #[test]
    fn empty_and_silent_tracks_have_no_spans() {
        let cfg = VadConfig::default();
        assert!(spans_from_probabilities(&[], 0, &cfg).is_empty());
        assert!(spans(&[(0.0, 4992)], &cfg).is_empty());
        // Just under the threshold never starts speech.
        assert!(spans(&[(0.49, 4992)], &cfg).is_empty());
    }

    #[test]
    fn one_utterance_between_silences() {
        let got = spans(&[(0.0, 992), (0.9, 2016), (0.0, 992)], &no_pad());
        assert_close(&got, &[(0.992, 3.008)]);
    }

    #[test]
    fn padding_is_added_and_clamped_to_the_track() {
        let cfg = VadConfig::default(); // 200 ms pad
        let got = spans(&[(0.0, 992), (0.9, 2016), (0.0, 992)], &cfg);
        assert_close(&got, &[(0.792, 3.208)]);
        // Speech at the very start and end: the pad cannot leave the track.
        let p = probs(&[(0.9, 992)]);
        let n = p.len() * WINDOW - 100;
        let got = spans_from_probabilities(&p, n, &cfg);
        assert_eq!(
            got,
            vec![SpeechSpan {
                start: 0.0,
                end: n as f64 / 16000.0
            }]
        );
    }

    #[test]
    fn close_spans_share_the_gap_instead_of_overlapping() {
        // An 800 ms pause (> min_silence 500 ms) but < 2 * 500 ms of padding.
        let cfg = VadConfig {
            speech_pad_ms: 500,
            ..VadConfig::default()
        };
        let got = spans(
            &[
                (0.0, 2016),
                (0.9, 1024),
                (0.0, 800),
                (0.9, 1024),
                (0.0, 2016),
            ],
            &cfg,
        );
        assert_eq!(got[0].1, got[1].0, "gap split evenly: {got:?}");
        assert_close(&got, &[(1.516, 3.44), (3.44, 5.364)]);
    }

    #[test]
    fn short_pauses_are_bridged_long_ones_split() {
        let cfg = no_pad();
        // 288 ms < min_silence 500 ms: one span.
        let got = spans(
            &[(0.0, 512), (0.9, 992), (0.0, 288), (0.9, 992), (0.0, 992)],
            &cfg,
        );
        assert_close(&got, &[(0.512, 2.784)]);
        // 704 ms: two spans, the first ending where the pause began.
        let got = spans(
            &[(0.0, 512), (0.9, 992), (0.0, 704), (0.9, 992), (0.0, 992)],
            &cfg,
        );
        assert_close(&got, &[(0.512, 1.504), (2.208, 3.2)]);
    }

    #[test]
    fn hysteresis_keeps_speech_between_thresholds() {
        let pattern = [(0.4, 992), (0.9, 512), (0.4, 2016), (0.9, 512), (0.0, 992)];
        // threshold 0.5, neg 0.35: 0.4 cannot start speech, nor end it.
        assert_close(&spans(&pattern, &no_pad()), &[(0.992, 4.032)]);
        // With neg_threshold 0.45 the 2 s of 0.4 are a pause.
        let cfg = VadConfig {
            neg_threshold: Some(0.45),
            ..no_pad()
        };
        assert_close(&spans(&pattern, &cfg), &[(0.992, 1.504), (3.52, 4.032)]);
    }

    #[test]
    fn too_short_speech_is_dropped() {
        let cfg = no_pad(); // min_speech 250 ms
        assert!(spans(&[(0.0, 992), (0.9, 160), (0.0, 992)], &cfg).is_empty());
        assert_eq!(spans(&[(0.0, 992), (0.9, 320), (0.0, 992)], &cfg).len(), 1);
        // Also at the end of the track.
        assert!(spans(&[(0.0, 992), (0.9, 160)], &cfg).is_empty());
    }

    #[test]
    fn trailing_pause_is_not_part_of_the_last_span() {
        // The track ends 288 ms into a pause (shorter than min_silence).
        let got = spans(&[(0.0, 992), (0.9, 992), (0.0, 288)], &no_pad());
        assert_close(&got, &[(0.992, 1.984)]);
    }

    #[test]
    fn long_speech_is_split_at_the_longest_pause() {
        let cfg = VadConfig {
            max_speech_s: 10.0,
            ..no_pad()
        };
        // 20 s of speech with a 320 ms pause at 3 s and a 160 ms pause at 6.3 s, both
        // shorter than min_silence. Upstream's legacy rule would cut at the last pause;
        // we cut at the longest.
        let got = spans(
            &[
                (0.9, 3008),
                (0.0, 320),
                (0.9, 3008),
                (0.0, 160),
                (0.9, 14016),
            ],
            &cfg,
        );
        assert_well_formed(&got, 20.512);
        assert_close(&got[..1], &[(0.0, 3.008)]);
        assert!((got[1].0 - 3.328).abs() < 1e-9, "{got:?}");
        for &(a, b) in &got {
            assert!(b - a <= 10.0 + 1e-9, "span longer than max: {got:?}");
        }
    }

    #[test]
    fn long_speech_without_pauses_is_hard_cut() {
        let cfg = VadConfig {
            max_speech_s: 10.0,
            ..VadConfig::default()
        };
        let got = spans(&[(0.0, 992), (0.9, 35008), (0.0, 992)], &cfg);
        assert!(got.len() >= 4, "{got:?}");
        assert_well_formed(&got, 36.992);
        for &(a, b) in &got {
            assert!(b - a <= 10.0 + 1e-9, "span longer than max: {got:?}");
        }
        // The pieces cover the speech without holes.
        for w in got.windows(2) {
            assert_eq!(w[1].0, w[0].1, "hole between hard-cut pieces: {got:?}");
        }
        assert_close(&[(got[0].0, got.last().unwrap().1)], &[(0.792, 36.2)]);
    }

    #[test]
    fn max_length_reached_inside_a_pause_closes_there() {
        // max 5 s: the limit (5 s - one window) falls inside the 448 ms pause at 4.8 s.
        let cfg = VadConfig {
            max_speech_s: 5.0,
            ..no_pad()
        };
        let got = spans(&[(0.9, 4800), (0.0, 448), (0.9, 1984), (0.0, 992)], &cfg);
        assert_close(&got, &[(0.0, 4.8), (5.248, 7.232)]);
    }

    #[test]
    fn spans_are_sorted_and_disjoint_for_noisy_probabilities() {
        // Deterministic pseudo-random probabilities (xorshift).
        let mut x: u32 = 0x9e37_79b9;
        let p: Vec<f32> = (0..20_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x % 1000) as f32 / 1000.0
            })
            .collect();
        for cfg in [
            VadConfig::default(),
            VadConfig {
                max_speech_s: 3.0,
                min_silence_ms: 100,
                speech_pad_ms: 30,
                ..VadConfig::default()
            },
        ] {
            let n = p.len() * WINDOW - 100;
            let got: Vec<(f64, f64)> = spans_from_probabilities(&p, n, &cfg)
                .into_iter()
                .map(|s| (s.start, s.end))
                .collect();
            assert!(!got.is_empty());
            assert_well_formed(&got, n as f64 / 16000.0);
            for &(a, b) in &got {
                assert!(
                    b - a <= cfg.max_speech_s as f64 + 1e-9,
                    "{a}..{b} longer than max"
                );
            }
        }
    }

    #[test]
    fn config_validation() {
        assert!(VadConfig::default().validate().is_ok());
        assert!(VadConfig {
            threshold: 1.5,
            ..VadConfig::default()
        }
        .validate()
        .is_err());
        assert!(VadConfig {
            neg_threshold: Some(0.6),
            ..VadConfig::default()
        }
        .validate()
        .is_err());
        assert!(VadConfig {
            max_speech_s: 0.3,
            ..VadConfig::default()
        }
        .validate()
        .is_err());
    }
}
