//! One call, end to end: audio → tracks → speech spans → chunks → words → turns.
//!
//! `Pipeline` owns its stages behind traits (`Vad`, `Transcriber`), so tests can
//! run it with fakes and the binary with whisper.cpp and Silero. Chunks of a call
//! are spread over `workers` (single-thread whisper decoders, each chunk on a
//! fresh state), which on a 2-core machine measured faster than one decoder with
//! two threads.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Instant;

use crate::asr::{AsrSegment, Language, Transcriber};
use crate::audio::{self, Audio};
use crate::chunk::{self, Chunk, ChunkConfig};
use crate::error::{Error, Result};
use crate::hints::HintCatalog;
use crate::score::acoustic::{self, TrackAudio};
use crate::score::{Tagger, TextScorer};
use crate::turns::{self, TurnConfig};
use crate::types::{
    CallMeta, LanguageSource, ModelInfo, Speaker, Transcript, Word, SCHEMA_VERSION,
};
use crate::vad::Vad;

/// Which language to transcribe in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LanguageChoice {
    /// Decide per call between Dutch and English from the first speech of each track.
    Auto,
    Fixed(Language),
}

/// How a file's channels map to speakers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelLayout {
    /// Channel 0 is the agent, channel 1 the customer (the usual recorder layout).
    AgentCustomer,
    CustomerAgent,
    /// Mix all channels into one track; speaker `unknown`.
    Mono,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PipelineConfig {
    pub language: LanguageChoice,
    pub channels: ChannelLayout,
    pub chunk: ChunkConfig,
    pub turns: TurnConfig,
    /// Replace personal data (IBAN, e-mail, phone, card and BSN numbers,
    /// postcodes, addresses) in the output by placeholders. On by default.
    pub redact: bool,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            language: LanguageChoice::Auto,
            channels: ChannelLayout::AgentCustomer,
            chunk: ChunkConfig::default(),
            turns: TurnConfig::default(),
            redact: true,
        }
    }
}

pub type BoxedVad = Box<dyn Vad + Send>;
pub type BoxedTranscriber = Box<dyn Transcriber + Send>;
pub type BoxedScorer = Box<dyn TextScorer + Send>;

pub struct Pipeline {
    vad: BoxedVad,
    workers: Vec<BoxedTranscriber>,
    config: PipelineConfig,
    models: ModelInfo,
    settings_hash: String,
    /// The tag scorer and the rules that turn its scores into tags; None: untagged.
    tagging: Option<(ScorerSlot, Tagger)>,
    /// Hint catalog: hints for tagged calls, and the phrases the summary reads.
    hints: HintCatalog,
    /// Longer recordings are refused before they are decoded (memory: about
    /// 0.45 GB per hour of stereo once decoded).
    max_duration: Option<f64>,
}

/// The tag scorer, loaded or still loading on a thread of its own. Loading takes
/// most of a second of CPU (a 250k-piece tokenizer, an ONNX Runtime session); the
/// first call is transcribed meanwhile, and a batch with nothing to redo never
/// waits for it.
enum ScorerSlot {
    Ready(BoxedScorer),
    Loading(JoinHandle<Result<BoxedScorer>>),
    /// Loading failed: why, for every call that would need it.
    Failed(String),
}

impl ScorerSlot {
    fn get(&mut self) -> Result<&mut BoxedScorer> {
        let slot = std::mem::replace(self, ScorerSlot::Failed(String::new()));
        *self = match slot {
            ScorerSlot::Loading(handle) => {
                let waiting = Instant::now();
                let loaded = handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                // How long the first call still waited (it counts in its tagging time).
                tracing::info!(
                    seconds = waiting.elapsed().as_secs_f64(),
                    "waited for the tag scorer to load"
                );
                match loaded {
                    Ok(scorer) => ScorerSlot::Ready(scorer),
                    Err(e) => ScorerSlot::Failed(format!("{e:#}")),
                }
            }
            ready_or_failed => ready_or_failed,
        };
        match self {
            ScorerSlot::Ready(scorer) => Ok(scorer),
            ScorerSlot::Failed(reason) => Err(Error::Scoring(format!(
                "the tag scorer could not be loaded: {reason}"
            ))),
            ScorerSlot::Loading(_) => unreachable!("joined above"),
        }
    }
}

/// A track of the call: whose voice, and its 16 kHz samples.
struct Track {
    speaker: Speaker,
    pcm: Vec<f32>,
}

impl Pipeline {
    /// `settings` describes everything else that changes the output (decoding and
    /// VAD options); it goes into the settings hash that `batch` resume compares.
    pub fn new(
        vad: BoxedVad,
        workers: Vec<BoxedTranscriber>,
        config: PipelineConfig,
        models: ModelInfo,
        settings: &str,
    ) -> Result<Self> {
        if workers.is_empty() {
            return Err(Error::Config(
                "at least one transcription worker is needed".into(),
            ));
        }
        // The hint catalog shapes hints and summary, so the built-in one counts too:
        // a new release with an edited catalog redoes calls on resume.
        let hints = HintCatalog::builtin();
        let settings_hash = crate::models::sha256_str(&format!(
            "{SCHEMA_VERSION}|{config:?}|{}|{}|{settings}|hints {}",
            models.asr_sha256,
            models.vad,
            hints.fingerprint()
        ));
        Ok(Pipeline {
            vad,
            workers,
            config,
            models,
            settings_hash,
            tagging: None,
            hints,
            max_duration: None,
        })
    }

    /// Tags every turn (emotion, metaphor cues, need, contact type, voice cues).
    /// The scorer model and the lexicon become part of the settings hash.
    pub fn with_tagging(self, scorer: BoxedScorer, tagger: Tagger) -> Self {
        let (name, sha256) = (scorer.name(), scorer.sha256());
        self.tagging_with(name, sha256, ScorerSlot::Ready(scorer), tagger)
    }

    /// As [`Pipeline::with_tagging`], with a scorer still loading on `loading`; its
    /// model file's `name` and `sha256` are known now, for the settings hash. Should
    /// it fail to load, every call that needs it fails with the reason.
    pub fn with_tagging_loading(
        self,
        name: String,
        sha256: String,
        loading: JoinHandle<Result<BoxedScorer>>,
        tagger: Tagger,
    ) -> Self {
        self.tagging_with(name, sha256, ScorerSlot::Loading(loading), tagger)
    }

    fn tagging_with(
        mut self,
        name: String,
        sha256: String,
        slot: ScorerSlot,
        tagger: Tagger,
    ) -> Self {
        self.settings_hash = crate::models::sha256_str(&format!(
            "{}|{}|{}|{:?}",
            self.settings_hash,
            sha256,
            tagger.lexicon().fingerprint(),
            tagger.config()
        ));
        self.models.scorer = Some(name);
        self.models.scorer_sha256 = Some(sha256);
        self.tagging = Some((slot, tagger));
        self
    }

    /// Why the tag scorer could not be loaded, once a call has found out.
    pub fn scorer_failure(&self) -> Option<&str> {
        match &self.tagging {
            Some((ScorerSlot::Failed(reason), _)) => Some(reason),
            _ => None,
        }
    }

    /// Uses another hint catalog than the built-in one; it joins the settings hash.
    pub fn with_hints(mut self, catalog: HintCatalog) -> Self {
        self.settings_hash = crate::models::sha256_str(&format!(
            "{}|hints {}",
            self.settings_hash,
            catalog.fingerprint()
        ));
        self.hints = catalog;
        self
    }

    /// Refuses recordings longer than `seconds` (checked from the file's header,
    /// before decoding). Not part of the settings hash: it changes no output.
    pub fn with_max_duration(mut self, seconds: Option<f64>) -> Self {
        self.max_duration = seconds;
        self
    }

    pub fn settings_hash(&self) -> &str {
        &self.settings_hash
    }

    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// Transcribes one file. `source` is the name recorded in the output.
    pub fn run_file(&mut self, path: &Path, source: &str) -> Result<Transcript> {
        let started = Instant::now();
        let sha256 = crate::models::sha256_file(path)?;
        let audio = self.load_audio(path)?;
        self.run_audio(audio, source, sha256, started)
    }

    /// Decodes a recording to 16 kHz, refusing it first when its header says it is
    /// longer than the `max_duration` (a header that cannot be probed is left to
    /// the decoder to judge).
    pub fn load_audio(&self, path: &Path) -> Result<Audio> {
        if let Some(max) = self.max_duration {
            if let Ok(seconds) = audio::decode::probe_duration(path) {
                if seconds > max {
                    return Err(Error::TooLong {
                        path: path.to_path_buf(),
                        seconds,
                        max,
                    });
                }
            }
        }
        audio::load(path)
    }

    /// Transcribes decoded audio (already at 16 kHz).
    pub fn run_audio(
        &mut self,
        audio: Audio,
        source: &str,
        sha256: String,
        started: Instant,
    ) -> Result<Transcript> {
        let (duration, source_rate, n_channels) =
            (audio.duration(), audio.source_rate, audio.channels.len());
        // Tracks take the channels over (no copy: an hour of stereo is ~0.5 GB).
        let tracks = self.split_tracks(audio);
        let channel_map: Vec<Speaker> = tracks.iter().map(|t| t.speaker).collect();

        // Speech spans and chunks, per track.
        let mut jobs: Vec<(usize, Chunk)> = Vec::new();
        for (index, track) in tracks.iter().enumerate() {
            let spans = self.vad.speech_spans(&track.pcm)?;
            jobs.extend(
                chunk::pack(&track.pcm, &spans, self.config.chunk)
                    .into_iter()
                    .map(|c| (index, c)),
            );
        }
        let speech_seconds: f64 = jobs.iter().map(|(_, c)| c.speech_seconds()).sum();

        let (language, language_source) = match self.config.language {
            LanguageChoice::Fixed(l) => (l, LanguageSource::Forced),
            LanguageChoice::Auto => (
                self.detect_language(&tracks, &jobs)?,
                LanguageSource::Detected,
            ),
        };

        let results = self.transcribe_chunks(&jobs, language)?;
        let mut words_per_track: Vec<(Speaker, Vec<Word>)> =
            tracks.iter().map(|t| (t.speaker, Vec::new())).collect();
        for ((track, chunk), segments) in jobs.iter().zip(results) {
            words_per_track[*track]
                .1
                .extend(segments.into_iter().flat_map(|s| to_track_words(chunk, s)));
        }
        for (_, words) in &mut words_per_track {
            words.sort_by(|a, b| a.start.total_cmp(&b.start));
        }
        let mut turns = turns::build(&words_per_track, self.config.turns);
        if self.config.redact {
            let spans: usize = turns.iter_mut().map(crate::redact::redact_turn).sum();
            tracing::debug!(spans, "personal data redacted");
        }
        // Tags are computed on the text as written, so quoted cues never hold
        // personal data and their offsets match the output.
        let tagging_started = Instant::now();
        let labels = match &mut self.tagging {
            Some((slot, tagger)) => {
                let scorer = slot.get()?;
                let audio: Vec<TrackAudio> = tracks
                    .iter()
                    .map(|t| TrackAudio {
                        speaker: t.speaker,
                        pcm: &t.pcm,
                    })
                    .collect();
                let cues = acoustic::measure(&turns, &audio);
                tagger.tag_turns(scorer.as_mut(), &mut turns, &cues, Some(language))?;
                Some(scorer.labels().table())
            }
            None => None,
        };

        let tagging_seconds = tagging_started.elapsed().as_secs_f64();
        let processing_seconds = started.elapsed().as_secs_f64();
        tracing::info!(%source, turns = turns.len(), speech_seconds, processing_seconds, tagging_seconds, language = language.code(), "call transcribed");
        let mut transcript = Transcript {
            schema: SCHEMA_VERSION.to_string(),
            call: CallMeta {
                source: source.to_string(),
                sha256,
                duration: round_ms(duration),
                sample_rate: source_rate,
                channels: n_channels as u16,
                channel_map,
                language: language.code().to_string(),
                language_source,
                model: self.models.clone(),
                settings_hash: self.settings_hash.clone(),
                subtext_version: env!("CARGO_PKG_VERSION").to_string(),
                redacted: self.config.redact,
                speech_seconds: round_ms(speech_seconds),
                processing_seconds: round_ms(processing_seconds),
            },
            labels,
            turns,
            hints: None,
            summary: None,
        };
        if transcript.labels.is_some() {
            transcript.hints = Some(crate::hints::hints_for_call(&self.hints, &transcript));
        }
        transcript.summary = Some(crate::summary::summarize(&transcript, &self.hints));
        Ok(transcript)
    }

    fn split_tracks(&self, audio: Audio) -> Vec<Track> {
        let layout = match self.config.channels {
            _ if audio.channels.len() < 2 => ChannelLayout::Mono,
            layout => layout,
        };
        let (first, second) = match layout {
            ChannelLayout::Mono => {
                let pcm = audio::resample::downmix(&audio);
                return vec![Track {
                    speaker: Speaker::Unknown,
                    pcm,
                }];
            }
            ChannelLayout::AgentCustomer => (Speaker::Agent, Speaker::Customer),
            ChannelLayout::CustomerAgent => (Speaker::Customer, Speaker::Agent),
        };
        if audio.channels.len() > 2 {
            tracing::warn!(
                channels = audio.channels.len(),
                "more than two channels: using the first two"
            );
        }
        let mut channels = audio.channels.into_iter();
        let (a, b) = (
            channels.next().unwrap_or_default(),
            channels.next().unwrap_or_default(),
        );
        vec![
            Track {
                speaker: first,
                pcm: a,
            },
            Track {
                speaker: second,
                pcm: b,
            },
        ]
    }

    /// Dutch or English, from the first chunk of the track with the most speech in
    /// it, then (only when that is not clear-cut) the other track too, weighted by
    /// speech. Each look costs a whole encoder pass, hence the early stop. Only
    /// these two languages are compared: a short or noisy stretch of Dutch is
    /// otherwise easily taken for Afrikaans or German.
    fn detect_language(&mut self, tracks: &[Track], jobs: &[(usize, Chunk)]) -> Result<Language> {
        let mut firsts: Vec<&Chunk> = (0..tracks.len())
            .filter_map(|index| jobs.iter().find(|(t, _)| *t == index).map(|(_, c)| c))
            .collect();
        firsts.sort_by(|a, b| b.speech_seconds().total_cmp(&a.speech_seconds()));
        let budget = self.workers.len();
        self.workers[0].set_threads(budget);
        let (mut weighted, mut weight) = (0.0f64, 0.0f64);
        for chunk in firsts {
            let p = self.workers[0].dutch_probability(&chunk.samples)? as f64;
            let w = chunk.speech_seconds().max(0.1);
            weighted += p * w;
            weight += w;
            if !(0.2..=0.8).contains(&p) {
                break;
            }
        }
        let p_dutch = if weight > 0.0 { weighted / weight } else { 1.0 };
        tracing::debug!(p_dutch, "language detected");
        // Calls are mostly Dutch: ties go to Dutch.
        Ok(if p_dutch >= 0.5 {
            Language::Dutch
        } else {
            Language::English
        })
    }

    /// Runs every chunk through the workers in parallel; results keep chunk order.
    fn transcribe_chunks(
        &mut self,
        jobs: &[(usize, Chunk)],
        language: Language,
    ) -> Result<Vec<Vec<AsrSegment>>> {
        let results: Mutex<Vec<Option<Result<Vec<AsrSegment>>>>> =
            Mutex::new((0..jobs.len()).map(|_| None).collect());
        // Longest chunks first, so the last worker is not left with a long one.
        let mut order: Vec<usize> = (0..jobs.len()).collect();
        order.sort_by(|&a, &b| jobs[b].1.samples.len().cmp(&jobs[a].1.samples.len()));
        let thread_budget = self.workers.len();
        let lengths: Vec<usize> = order.iter().map(|&i| jobs[i].1.samples.len()).collect();
        let solo = solo_chunks(&lengths, thread_budget);
        // A chunk far longer than the rest is decoded first with every thread
        // (otherwise it would run on one core while the others finish and idle).
        for &job in &order[..solo] {
            let worker = &mut self.workers[0];
            worker.set_threads(thread_budget);
            let segments = worker.transcribe(&jobs[job].1.samples, language)?;
            results.lock().expect("no worker runs yet")[job] = Some(Ok(segments));
        }
        let order = &order[solo..];
        let next = AtomicUsize::new(0);
        let n_workers = thread_budget.min(order.len()).max(1);
        std::thread::scope(|scope| {
            for worker in self.workers.iter_mut().take(n_workers) {
                let (next, results, order) = (&next, &results, &order);
                scope.spawn(move || loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&job) = order.get(i) else { break };
                    // The thread count depends only on the plan, never on timing:
                    // whisper.cpp's output depends on its thread count, so a count
                    // chosen from what the other workers happened to be doing (as
                    // the last chunks once were) made a rerun of the same call
                    // differ ("Ok" vs "Okay").
                    worker.set_threads(thread_budget / n_workers);
                    let out = worker.transcribe(&jobs[job].1.samples, language);
                    let failed = out.is_err();
                    results
                        .lock()
                        .expect("no worker panics while holding the lock")[job] = Some(out);
                    if failed {
                        // Stop handing out work: the call fails as a whole.
                        next.store(order.len(), Ordering::Relaxed);
                    }
                });
            }
        });
        results
            .into_inner()
            .expect("workers are done")
            .into_iter()
            .map(|r| {
                r.unwrap_or(Err(Error::Transcription(
                    "a chunk was not transcribed".into(),
                )))
            })
            .collect()
    }
}

/// How many of the longest chunks (`lengths`, longest first) to decode one at a
/// time with all `threads`, before the rest run in parallel on one thread each.
/// Two threads on one chunk measured 1.6x one thread here, so a chunk is worth
/// running alone while the others together are under 0.6x its length per spare
/// worker: in parallel it would run alone on one core at the end anyway.
fn solo_chunks(lengths: &[usize], threads: usize) -> usize {
    if threads < 2 {
        return 0;
    }
    let mut solo = 0;
    while solo + 1 < lengths.len() {
        let rest: usize = lengths[solo + 1..].iter().sum();
        if rest as f64 >= 0.6 * lengths[solo] as f64 * (threads - 1) as f64 {
            break;
        }
        solo += 1;
    }
    solo
}

/// A segment's words (annotations and loops removed) with times moved from the
/// chunk's timeline to the track's.
fn to_track_words(chunk: &Chunk, segment: AsrSegment) -> Vec<Word> {
    crate::asr::cleanup::clean_words(segment.words)
        .into_iter()
        .map(|w| {
            let (start, end) = chunk.to_track_span(w.start, w.end);
            placed_word(w, start, end)
        })
        .collect()
}

/// A recognised word at its place in the track, times to the millisecond and the
/// probability to three decimals, as written.
pub(crate) fn placed_word(word: Word, start: f64, end: f64) -> Word {
    Word {
        start: round_ms(start),
        end: round_ms(end),
        probability: (word.probability * 1000.0).round() / 1000.0,
        ..word
    }
}

pub(crate) fn round_ms(t: f64) -> f64 {
    (t * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_far_longer_than_the_rest_runs_alone_with_all_threads() {
        assert_eq!(solo_chunks(&[26, 3], 2), 1);
        assert_eq!(solo_chunks(&[26, 20], 2), 0, "balanced: in parallel");
        assert_eq!(solo_chunks(&[26, 10, 8], 2), 0);
        assert_eq!(
            solo_chunks(&[29, 12, 2], 2),
            2,
            "29 alone, then 12 alone, then 2"
        );
        assert_eq!(solo_chunks(&[26, 3], 1), 0, "one thread: nothing to share");
        assert_eq!(
            solo_chunks(&[26], 2),
            0,
            "one chunk gets every thread anyway"
        );
        assert_eq!(
            solo_chunks(&[26, 16, 16, 8], 3),
            0,
            "enough for two spare workers"
        );
        assert_eq!(solo_chunks(&[26, 10, 5], 3), 2);
    }
}
