//! whisper.cpp through whisper-rs: one loaded model (`WhisperModel`, shared), one
//! decoder per worker (`WhisperTranscriber`, `&mut`), which takes a fresh decoding
//! state for each chunk (see `DecodeOptions::fresh_state`).
//!
//! Decoding is deterministic by default: greedy (or beam) search at temperature 0
//! with the temperature fallback off, so the same audio gives the same transcript on
//! every run. Word times come from whisper.cpp's token timestamps.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};

use whisper_rs::{
    DtwMode, DtwModelPreset, FullParams, SamplingStrategy, WhisperContext,
    WhisperContextParameters, WhisperState,
};

use super::{AsrSegment, Language, Transcriber};
use crate::error::{Error, Result};
use crate::types::Word;

/// How to decode. The defaults are what `subtext` measured best on a 2-core CPU.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeOptions {
    /// 1 = greedy search; more = beam search with that width.
    pub beam_size: u32,
    /// Temperature step for whisper's fallback on low-confidence output; 0 turns the
    /// fallback off (deterministic output).
    pub temperature_inc: f32,
    /// Threads for one decoding state. Parallel single-thread states measured faster
    /// than one multi-thread state on 2 cores, so `--jobs` is the lever, not this.
    pub threads: u32,
    /// Decode every chunk on a state that has decoded nothing before. whisper.cpp
    /// 1.8.3 carries something over from one decode to the next on a state: the
    /// same chunk decoded after another gave other word probabilities and now and
    /// then other words ("mistake!" p 0.23 against "mistake." p 0.71). Since which
    /// worker gets which chunk depends on timing, a rerun of a call could differ.
    /// A new state costs 10-35 ms against 1-3 s to decode a chunk (measured on the
    /// Dutch benchmark: two runs identical with it, different without).
    pub fresh_state: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            beam_size: 1,
            temperature_inc: 0.0,
            threads: 1,
            fresh_state: true,
        }
    }
}

/// A loaded ggml whisper model, shared by all workers.
pub struct WhisperModel {
    context: Arc<WhisperContext>,
    path: PathBuf,
    dtw: bool,
}

static LOGGING: Once = Once::new();

extern "C" {
    /// Defined by `third_party/whisper_cpp_patch.cmake`, which makes whisper.cpp's
    /// beam search take each beam's k likeliest tokens instead of k random draws.
    /// Calling it makes a build without the patch fail to link.
    fn subtext_whisper_beam_top_k() -> std::ffi::c_int;
}

impl WhisperModel {
    pub fn load(path: &Path) -> Result<Self> {
        // whisper.cpp prints dozens of lines per context to stderr; route them into
        // `tracing` (shown with RUST_LOG=whisper_rs=debug).
        LOGGING.call_once(whisper_rs::install_logging_hooks);
        // SAFETY: a C function without arguments or state; called only so that the
        // binary links against the patched whisper.cpp.
        unsafe { subtext_whisper_beam_top_k() };
        if !path.is_file() {
            return Err(Error::ModelLoad {
                path: path.to_owned(),
                reason: "file not found (run `make models`, or pass --model with a whisper.cpp ggml file)".into(),
            });
        }
        let path_str = path.to_str().ok_or_else(|| Error::ModelLoad {
            path: path.to_owned(),
            reason: "path is not valid UTF-8".into(),
        })?;
        let mut params = WhisperContextParameters::default();
        // Word times from cross-attention alignment (DTW) are far closer to the
        // audio than whisper's interpolated token times; it needs the alignment
        // heads of the model's size, so only known shapes get it.
        let preset = read_hparams(path).ok().and_then(|h| h.dtw_preset());
        if let Some(preset) = preset.clone() {
            params.dtw_parameters.mode = DtwMode::ModelPreset {
                model_preset: preset,
            };
        } else {
            tracing::warn!(model = %path.display(), "unknown model shape: word times are approximate");
        }
        let context =
            WhisperContext::new_with_params(path_str, params).map_err(|e| Error::ModelLoad {
                path: path.to_owned(),
                reason: format!("whisper.cpp could not load it as a ggml model ({e})"),
            })?;
        if !context.is_multilingual() {
            tracing::warn!(model = %path.display(), "model is English-only; Dutch calls will not be transcribed well");
        }
        Ok(WhisperModel {
            context: Arc::new(context),
            path: path.to_owned(),
            dtw: preset.is_some(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A new decoding state on this model (about 20 MB each for base).
    pub fn transcriber(&self, options: DecodeOptions) -> Result<WhisperTranscriber> {
        let state = self
            .context
            .create_state()
            .map_err(|e| Error::Transcription(format!("cannot create a whisper state: {e}")))?;
        Ok(WhisperTranscriber {
            state,
            used: false,
            context: Arc::clone(&self.context),
            options,
            dtw: self.dtw,
            abort: None,
        })
    }
}

/// One whisper decoding state with its options.
pub struct WhisperTranscriber {
    state: WhisperState,
    /// Whether `state` has decoded anything yet (see `DecodeOptions::fresh_state`).
    used: bool,
    context: Arc<WhisperContext>,
    options: DecodeOptions,
    dtw: bool,
    /// Set by another thread to stop the decode in progress (live mode drops a
    /// partial decode when a final is due).
    abort: Option<Arc<AtomicBool>>,
}

/// whisper.cpp's abort callback: `data` points at the transcriber's `AtomicBool`.
unsafe extern "C" fn abort_requested(data: *mut std::ffi::c_void) -> bool {
    // SAFETY: `data` is `Arc::as_ptr` of the flag the transcriber holds for as long
    // as the decode that calls this runs.
    unsafe { (*(data as *const AtomicBool)).load(Ordering::Relaxed) }
}

impl WhisperTranscriber {
    /// Readies the state for a decode: a new one when `fresh_state` asks for it and
    /// this one has been used.
    fn prepare_state(&mut self) -> Result<()> {
        if self.options.fresh_state && self.used {
            self.state = self
                .context
                .create_state()
                .map_err(|e| Error::Transcription(format!("cannot create a whisper state: {e}")))?;
        }
        self.used = true;
        Ok(())
    }

    fn params(&self, language: Language) -> FullParams<'static, 'static> {
        let strategy = if self.options.beam_size > 1 {
            SamplingStrategy::BeamSearch {
                beam_size: self.options.beam_size as i32,
                patience: -1.0,
            }
        } else {
            SamplingStrategy::Greedy { best_of: 1 }
        };
        let mut params = FullParams::new(strategy);
        params.set_n_threads(self.options.threads.max(1) as i32);
        params.set_language(Some(language.code()));
        params.set_translate(false);
        // Chunks are independent stretches of speech: carrying text over would let
        // one misrecognition (or hallucination) leak into the next chunk.
        params.set_no_context(true);
        params.set_token_timestamps(true);
        params.set_temperature(0.0);
        params.set_temperature_inc(self.options.temperature_inc);
        params.set_suppress_blank(true);
        params.set_print_special(false);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_timestamps(false);
        params
    }
}

impl Transcriber for WhisperTranscriber {
    fn set_threads(&mut self, threads: usize) {
        self.options.threads = threads.max(1) as u32;
    }

    fn transcribe(&mut self, pcm: &[f32], language: Language) -> Result<Vec<AsrSegment>> {
        // whisper.cpp rejects input shorter than its 100 ms mel window; pad with
        // silence rather than lose a short "ja".
        let mut padded;
        let pcm = if pcm.len() < 16_000 {
            padded = pcm.to_vec();
            padded.resize(16_000, 0.0);
            &padded[..]
        } else {
            pcm
        };
        let mut params = self.params(language);
        // The encoder window is fitted to the audio instead of always 30 s: much
        // faster on live utterances, and a third faster on batch chunks (10-29 s),
        // at the same word error rate on the Dutch benchmark set.
        params.set_audio_ctx(fitted_audio_ctx(pcm.len()));
        // Audio cannot hold more than a few tokens a second; the cap stops
        // whisper's repetition loops ("nanana…"), which otherwise run to the
        // context limit and take a minute on 2 cores.
        params.set_max_tokens(max_tokens_for(pcm.len()));
        // One segment per chunk: whisper.cpp's seek loop would otherwise decode a
        // 100-140 ms tail on its own, and its DTW median filter (width 7 over 20 ms
        // steps) asserts on that and aborts the process.
        params.set_single_segment(true);
        if let Some(flag) = &self.abort {
            // SAFETY: the callback only reads the flag, which `self.abort` keeps alive
            // until `full` returns; whisper.cpp calls it on this thread.
            unsafe {
                params.set_abort_callback(Some(abort_requested));
                params.set_abort_callback_user_data(Arc::as_ptr(flag) as *mut std::ffi::c_void);
            }
        }
        self.prepare_state()?;
        let started = std::time::Instant::now();
        let result = self.state.full(params, pcm);
        tracing::debug!(
            audio_seconds = pcm.len() as f64 / 16_000.0,
            seconds = started.elapsed().as_secs_f64(),
            threads = self.options.threads,
            "chunk decoded"
        );
        if self
            .abort
            .as_ref()
            .is_some_and(|f| f.load(Ordering::Relaxed))
        {
            return Err(Error::Cancelled);
        }
        result.map_err(|e| Error::Transcription(format!("whisper failed on a chunk: {e}")))?;
        let eot = self.context.token_eot();
        let mut segments = Vec::new();
        for segment in self.state.as_iter() {
            let mut words = WordBuilder::default();
            for i in 0..segment.n_tokens() {
                let Some(token) = segment.get_token(i) else {
                    continue;
                };
                let data = token.token_data();
                // Ids at and above end-of-text are control and timestamp tokens.
                if data.id >= eot {
                    continue;
                }
                let bytes = token.to_bytes().unwrap_or_default();
                let (t0, t1) = if self.dtw && data.t_dtw >= 0 {
                    (data.t_dtw as f64 / 100.0, data.t_dtw as f64 / 100.0)
                } else {
                    (data.t0 as f64 / 100.0, data.t1 as f64 / 100.0)
                };
                words.push(bytes, t0, t1, data.p);
            }
            let mut words = words.finish();
            if self.dtw {
                close_word_ends(&mut words, segment.end_timestamp() as f64 / 100.0);
            }
            let text = segment
                .to_str_lossy()
                .map(|s| s.trim().to_string())
                .unwrap_or_default();
            if text.is_empty() || words.is_empty() {
                continue;
            }
            segments.push(AsrSegment {
                start: segment.start_timestamp() as f64 / 100.0,
                end: segment.end_timestamp() as f64 / 100.0,
                text,
                words,
            });
        }
        Ok(segments)
    }

    fn set_abort_flag(&mut self, flag: Arc<AtomicBool>) {
        self.abort = Some(flag);
    }

    fn dutch_probability(&mut self, pcm: &[f32]) -> Result<f32> {
        let threads = self.options.threads.max(1) as usize;
        let fail = |e| Error::Transcription(format!("language detection failed: {e}"));
        let mut padded = pcm.to_vec();
        padded.resize(pcm.len().max(16_000), 0.0);
        // Language detection encodes with the encoder window of the state's last
        // decode (whisper.cpp keeps `exp_n_audio_ctx`); a one-token decode sets it
        // to this audio's length, so detection encodes seconds, not 30 s.
        let mut params = self.params(Language::Dutch);
        params.set_audio_ctx(fitted_audio_ctx(padded.len()));
        params.set_max_tokens(1);
        params.set_single_segment(true);
        self.prepare_state()?;
        self.state.full(params, &padded).map_err(fail)?;
        self.state.pcm_to_mel(&padded, threads).map_err(fail)?;
        let (_, probs) = self.state.lang_detect(0, threads).map_err(fail)?;
        let id = |code| whisper_rs::get_lang_id(code).map(|i| i as usize);
        let (Some(nl), Some(en)) = (id("nl"), id("en")) else {
            return Err(Error::Transcription(
                "model has no nl/en language tokens".into(),
            ));
        };
        let (p_nl, p_en) = (probs[nl], probs[en]);
        Ok(if p_nl + p_en > 0.0 {
            p_nl / (p_nl + p_en)
        } else {
            0.5
        })
    }
}

/// Encoder frames (20 ms each) for `samples` of 16 kHz audio, plus a margin of
/// silence so the last word is not cut, rounded up to a multiple of 64 (whisper's
/// full window is 1500 frames = 30 s). A 16-frame margin measured as accurate as
/// 50 on the Dutch benchmark set, and faster.
fn fitted_audio_ctx(samples: usize) -> i32 {
    let frames = samples.div_ceil(320) + 16;
    (frames.div_ceil(64) * 64).min(1500) as i32
}

/// Tokens allowed per segment for `samples` of 16 kHz audio: fast speech is about
/// 4 words (6 tokens) a second, so 10 a second plus a margin never cuts real words.
fn max_tokens_for(samples: usize) -> i32 {
    (16 + samples * 10 / 16_000).min(224) as i32
}

/// The header of a ggml whisper file: enough to tell the model's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hparams {
    pub n_vocab: i32,
    pub n_audio_state: i32,
    pub n_text_layer: i32,
    pub n_mels: i32,
}

impl Hparams {
    /// The whisper.cpp alignment-head preset for this shape, when it is a
    /// standard one (a wrong preset crashes whisper.cpp, so unknown shapes get none).
    pub fn dtw_preset(&self) -> Option<DtwModelPreset> {
        let english_only = self.n_vocab == 51864;
        Some(
            match (self.n_audio_state, self.n_text_layer, english_only) {
                (384, 4, true) => DtwModelPreset::TinyEn,
                (384, 4, false) => DtwModelPreset::Tiny,
                (512, 6, true) => DtwModelPreset::BaseEn,
                (512, 6, false) => DtwModelPreset::Base,
                (768, 12, true) => DtwModelPreset::SmallEn,
                (768, 12, false) => DtwModelPreset::Small,
                (1024, 24, true) => DtwModelPreset::MediumEn,
                (1024, 24, false) => DtwModelPreset::Medium,
                (1280, 4, false) if self.n_mels == 128 => DtwModelPreset::LargeV3Turbo,
                (1280, 32, false) if self.n_mels == 128 => DtwModelPreset::LargeV3,
                _ => return None,
            },
        )
    }
}

/// Reads the hyper-parameters from a ggml whisper file's header (magic `ggml`,
/// then n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer,
/// n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, ftype as i32 LE).
pub fn read_hparams(path: &Path) -> std::io::Result<Hparams> {
    use std::io::Read;
    let mut header = [0u8; 48];
    std::fs::File::open(path)?.read_exact(&mut header)?;
    let field =
        |i: usize| i32::from_le_bytes(header[4 * i..4 * i + 4].try_into().expect("4 bytes"));
    if field(0) as u32 != 0x6767_6d6c {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not a ggml whisper file",
        ));
    }
    Ok(Hparams {
        n_vocab: field(1),
        n_audio_state: field(3),
        n_text_layer: field(9),
        n_mels: field(10),
    })
}

/// Joins whisper's sub-word tokens into words. A token whose text starts with a
/// space opens a new word; bytes are joined before decoding because a token can
/// end in the middle of a UTF-8 character ("é" split over two tokens).
#[derive(Default)]
struct WordBuilder {
    words: Vec<Word>,
    bytes: Vec<u8>,
    start: f64,
    end: f64,
    probs: Vec<f32>,
}

impl WordBuilder {
    fn push(&mut self, bytes: &[u8], t0: f64, t1: f64, p: f32) {
        if bytes.is_empty() {
            return;
        }
        let opens_word = bytes[0] == b' ';
        if opens_word && !self.bytes.is_empty() {
            self.flush();
        }
        if self.bytes.is_empty() {
            self.start = t0;
            self.end = f64::NEG_INFINITY;
        }
        self.bytes.extend_from_slice(bytes);
        // Punctuation tokens get unreliable times (DTW often puts a full stop at
        // the next sound, seconds later); only letters and digits move the end.
        if bytes
            .iter()
            .any(|b| b.is_ascii_alphanumeric() || *b >= 0x80)
            || self.end < self.start
        {
            self.end = t1.max(self.start);
        }
        self.probs.push(p);
    }

    fn flush(&mut self) {
        let text = String::from_utf8_lossy(&self.bytes).trim().to_string();
        if !text.is_empty() {
            // Geometric mean: one unsure token makes the word unsure, but less
            // harshly than the minimum would.
            let n = self.probs.len().max(1) as f32;
            let log_sum: f32 = self.probs.iter().map(|p| p.max(1e-6).ln()).sum();
            self.words.push(Word {
                text,
                start: self.start,
                end: self.end,
                probability: (log_sum / n).exp(),
            });
        }
        self.bytes.clear();
        self.probs.clear();
    }

    fn finish(mut self) -> Vec<Word> {
        self.flush();
        self.words
    }
}

/// DTW gives each token one instant (its onset), so a word's end is unknown:
/// let it run to the next word's onset, but no longer than a generous spoken
/// length for its letters (a pause after it is not part of it).
fn close_word_ends(words: &mut [Word], segment_end: f64) {
    for i in 0..words.len() {
        let next = words.get(i + 1).map_or(segment_end, |w| w.start);
        let longest = words[i].start + 0.15 + 0.09 * words[i].text.chars().count() as f64;
        words[i].end = words[i]
            .end
            .max(next.min(longest))
            .max(words[i].start + 0.02);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_join_into_words_across_split_utf8() {
        let mut b = WordBuilder::default();
        b.push(b" Ik", 0.0, 0.2, 0.9);
        b.push(b" ben", 0.2, 0.4, 0.8);
        b.push(b" ge", 0.4, 0.5, 0.9);
        // "ë" (0xC3 0xAB) split over two tokens.
        b.push(&[0xC3], 0.5, 0.55, 0.9);
        b.push(&[0xAB, b'r', b'g', b'e', b'r', b'd'], 0.55, 0.9, 0.9);
        b.push(b".", 3.9, 3.95, 0.99);
        let words = b.finish();
        let texts: Vec<_> = words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["Ik", "ben", "geërgerd."]);
        assert_eq!(words[2].start, 0.4);
        assert_eq!(words[2].end, 0.9, "the full stop's late time is ignored");
        assert!(words[1].probability > 0.79 && words[1].probability < 0.81);
    }

    #[test]
    fn word_ends_reach_the_next_word_but_not_across_a_pause() {
        let w = |t: &str, s: f64| Word {
            text: t.into(),
            start: s,
            end: s,
            probability: 1.0,
        };
        let mut words = vec![w("Goedemorgen,", 0.0), w("ja.", 0.8), w("Dag.", 5.0)];
        close_word_ends(&mut words, 5.6);
        assert_eq!(words[0].end, 0.8);
        assert!(
            (words[1].end - (0.8 + 0.15 + 0.27)).abs() < 1e-9,
            "{}",
            words[1].end
        );
        assert!((words[2].end - 5.51).abs() < 1e-9);
    }
}
