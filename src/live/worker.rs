//! The recognition side of live mode: one thread that owns the whisper state, the
//! scorer and the hint engine, and takes work from a [`DecodeQueue`].
//!
//! Finals are never dropped; they go first, the customer's before the agent's.
//! Partials are a courtesy: only the newest per channel waits, and one in progress
//! is aborted when a final comes in, so a partial never delays a final by more
//! than whisper.cpp takes to notice the abort.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use tokio::sync::OwnedSemaphorePermit;

use super::agreement::LocalAgreement;
use super::events::{Event, EventSink, Final, HintEvent, Partial};
use super::segmenter::{OpenUtterance, Utterance};
use crate::asr::{AsrSegment, Language};
use crate::error::{Error, Result};
use crate::hints::{HintCatalog, HintEngine};
use crate::pipeline::{placed_word, round_ms, BoxedScorer, BoxedTranscriber, LanguageChoice};
use crate::score::acoustic::LiveVoice;
use crate::score::Tagger;
use crate::types::{Speaker, Turn, Word};

/// Audio needed before `--language auto` decides (s): shorter stretches are too
/// easily taken for the wrong language.
const DETECT_SECONDS: f64 = 2.0;
/// Recent turns kept for overlap and interruption cues.
const RECENT_TURNS: usize = 8;

/// Shared between the segmenting side (which pushes) and the worker (which pops).
pub struct DecodeQueue {
    state: Mutex<QueueState>,
    wake: Condvar,
    abort: Arc<AtomicBool>,
    customer_channel: Option<usize>,
}

struct QueueState {
    /// Closed utterances; each holds a permit of the bounded final queue.
    finals: VecDeque<(Utterance, Option<OwnedSemaphorePermit>)>,
    /// The newest open utterance per channel.
    partials: Vec<Option<OpenUtterance>>,
    /// The stream time at which the final now being decoded was closed.
    decoding_final: Option<f64>,
    decoding_partial: bool,
    skipped: u64,
    closed: bool,
    failed: bool,
}

enum Job {
    Final(Utterance, Option<OwnedSemaphorePermit>),
    Partial(OpenUtterance),
}

impl DecodeQueue {
    pub fn new(channels: usize, customer_channel: Option<usize>) -> Self {
        DecodeQueue {
            state: Mutex::new(QueueState {
                finals: VecDeque::new(),
                partials: vec![None; channels],
                decoding_final: None,
                decoding_partial: false,
                skipped: 0,
                closed: false,
                failed: false,
            }),
            wake: Condvar::new(),
            abort: Arc::new(AtomicBool::new(false)),
            customer_channel,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The flag the transcriber watches.
    pub fn abort_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.abort)
    }

    pub fn push_final(&self, utterance: Utterance, permit: Option<OwnedSemaphorePermit>) {
        let mut state = self.lock();
        if let Some(p) = state.partials.get_mut(utterance.channel) {
            if p.take().is_some() {
                state.skipped += 1;
            }
        }
        state.finals.push_back((utterance, permit));
        if state.decoding_partial {
            self.abort.store(true, Ordering::Relaxed);
        }
        self.wake.notify_one();
    }

    pub fn push_partial(&self, open: OpenUtterance) {
        let mut state = self.lock();
        let channel = open.channel;
        if state.partials[channel].replace(open).is_some() {
            state.skipped += 1;
        }
        self.wake.notify_one();
    }

    /// No more work will come; the worker ends once the finals are done.
    pub fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_all();
    }

    /// Whether the worker stopped on an error (its output is gone).
    pub fn failed(&self) -> bool {
        self.lock().failed
    }

    /// Finals waiting or in progress, and the earliest stream time one was closed.
    pub fn pending(&self) -> (usize, Option<f64>) {
        let state = self.lock();
        let queued = state.finals.iter().map(|(u, _)| u.closed_time);
        let oldest = queued.chain(state.decoding_final).min_by(f64::total_cmp);
        (
            state.finals.len() + usize::from(state.decoding_final.is_some()),
            oldest,
        )
    }

    pub fn skipped(&self) -> u64 {
        self.lock().skipped
    }

    /// Counts a partial the worker took but did not finish.
    fn skip(&self) {
        self.lock().skipped += 1;
    }

    /// The next job, waiting for one; None once closed and drained.
    fn next(&self) -> Option<Job> {
        let mut state = self.lock();
        state.decoding_final = None;
        state.decoding_partial = false;
        // A final that aborted the last partial is what is handed out next.
        self.abort.store(false, Ordering::Relaxed);
        loop {
            let customer_first = state
                .finals
                .iter()
                .position(|(u, _)| Some(u.channel) == self.customer_channel)
                .unwrap_or(0);
            if let Some((utterance, permit)) = state.finals.remove(customer_first) {
                state.decoding_final = Some(utterance.closed_time);
                return Some(Job::Final(utterance, permit));
            }
            if !state.closed {
                let order = self
                    .customer_channel
                    .into_iter()
                    .chain(0..state.partials.len());
                for channel in order.collect::<Vec<_>>() {
                    if let Some(open) = state.partials[channel].take() {
                        state.decoding_partial = true;
                        return Some(Job::Partial(open));
                    }
                }
            } else {
                return None;
            }
            state = self.wake.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// The worker is gone: drop queued finals (releasing their permits).
    fn fail(&self) {
        let mut state = self.lock();
        state.failed = true;
        state.finals.clear();
        state.decoding_final = None;
    }
}

/// Counters the stats line reads.
#[derive(Debug, Default, Clone)]
pub struct WorkerStats {
    pub finals: u64,
    pub hints: u64,
    pub partials: u64,
    pub decode_seconds: f64,
    pub last_decode_seconds: f64,
    pub language: Option<Language>,
}

/// What the worker thread owns.
pub struct Worker {
    pub transcriber: BoxedTranscriber,
    pub language: LanguageChoice,
    /// Whose voice each channel is.
    pub speakers: Vec<Speaker>,
    pub tagging: Option<(BoxedScorer, Tagger)>,
    pub catalog: Arc<HintCatalog>,
    pub redact: bool,
}

pub type SharedSink = Arc<Mutex<Box<dyn EventSink>>>;

pub fn emit(sink: &SharedSink, event: &Event) -> Result<()> {
    sink.lock()
        .unwrap_or_else(|p| p.into_inner())
        .emit(event)
        .map_err(|e| Error::io("<stdout>", e))
}

impl Worker {
    /// Runs until the queue is closed and drained, or the output fails.
    pub fn run(
        self,
        queue: Arc<DecodeQueue>,
        sink: SharedSink,
        stats: Arc<Mutex<WorkerStats>>,
    ) -> Result<()> {
        let result = self.serve(&queue, &sink, &stats);
        if result.is_err() {
            queue.fail();
        }
        result
    }

    fn serve(
        mut self,
        queue: &DecodeQueue,
        sink: &SharedSink,
        stats: &Mutex<WorkerStats>,
    ) -> Result<()> {
        self.transcriber.set_abort_flag(queue.abort_flag());
        let catalog = Arc::clone(&self.catalog);
        let labels = self.tagging.as_ref().map(|(s, _)| s.labels().table());
        // The hint engine speaks the call's language; made again (once) if `auto`
        // settles on another language than the provisional one.
        let mut hints: Option<(Language, HintEngine)> = None;
        let mut state = WorkerState {
            language: match self.language {
                LanguageChoice::Fixed(l) => Some(l),
                LanguageChoice::Auto => None,
            },
            ..WorkerState::default()
        };
        let update =
            |f: &dyn Fn(&mut WorkerStats)| f(&mut stats.lock().unwrap_or_else(|p| p.into_inner()));
        update(&|s| s.language = state.language);

        while let Some(job) = queue.next() {
            match job {
                Job::Partial(open) => {
                    let Some(language) = self.language_for(&mut state, &open.samples, false)?
                    else {
                        queue.skip();
                        continue;
                    };
                    match self.transcriber.transcribe(&open.samples, language) {
                        Ok(segments) => {
                            let words = words_at(segments, open.start);
                            let agreement = state.agreements.entry(open.id).or_default();
                            let (stable, unstable) = agreement.update(words);
                            let event = Event::Partial(Partial {
                                utterance: open.id,
                                speaker: self.speakers[open.channel],
                                start: round_ms(open.start),
                                end: round_ms(open.start + open.samples.len() as f64 / 16_000.0),
                                stable: self.text(stable),
                                unstable: self.text(unstable),
                            });
                            emit(sink, &event)?;
                            update(&|s| s.partials += 1);
                            // Ids only grow: forget utterances that ended without a final.
                            let newest = open.id;
                            state.agreements.retain(|&id, _| id + 32 > newest);
                        }
                        Err(Error::Cancelled) => queue.skip(),
                        Err(e) => {
                            queue.skip();
                            tracing::warn!("partial decode failed: {e}");
                        }
                    }
                }
                Job::Final(utterance, permit) => {
                    let language = self
                        .language_for(&mut state, &utterance.samples, true)?
                        .unwrap_or(Language::Dutch);
                    update(&|s| s.language = state.language);
                    let started = Instant::now();
                    let result = self.transcriber.transcribe(&utterance.samples, language);
                    let decode_seconds = started.elapsed().as_secs_f64();
                    update(&|s| {
                        s.decode_seconds += decode_seconds;
                        s.last_decode_seconds = decode_seconds;
                    });
                    state.agreements.remove(&utterance.id);
                    let segments = match result {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::error!(
                                "utterance at {:.1} s could not be recognised: {e}",
                                utterance.start
                            );
                            continue;
                        }
                    };
                    let words = within(words_at(segments, utterance.start), &utterance);
                    let Some(turn) = self.turn(&mut state, &utterance, words)? else {
                        continue;
                    };
                    let final_event = Final {
                        utterance: utterance.id,
                        turn,
                        language: language.code().to_string(),
                        vad_close: round_ms(utterance.closed_time),
                        latency: round_ms(utterance.closed_at.elapsed().as_secs_f64()),
                        decode_seconds: round_ms(decode_seconds),
                    };
                    emit(sink, &Event::Final(final_event.clone()))?;
                    update(&|s| s.finals += 1);
                    if hints.as_ref().is_none_or(|(l, _)| *l != language) {
                        let engine = HintEngine::new(&catalog, language.code(), labels.as_ref());
                        hints = Some((language, engine));
                    }
                    let (_, engine) = hints.as_mut().expect("made above");
                    if let Some(hint) = engine.observe(&final_event.turn) {
                        emit(
                            sink,
                            &Event::Hint(HintEvent {
                                utterance: utterance.id,
                                hint,
                                latency: round_ms(utterance.closed_at.elapsed().as_secs_f64()),
                            }),
                        )?;
                        update(&|s| s.hints += 1);
                    }
                    drop(permit);
                }
            }
        }
        Ok(())
    }

    /// The language to decode in. With `auto`, the first stretch of at least
    /// [`DETECT_SECONDS`] decides for the rest of the stream; before that, a final
    /// is decoded in Dutch (most calls are) and a partial waits.
    fn language_for(
        &mut self,
        state: &mut WorkerState,
        samples: &[f32],
        is_final: bool,
    ) -> Result<Option<Language>> {
        if let Some(l) = state.language {
            return Ok(Some(l));
        }
        if (samples.len() as f64) < DETECT_SECONDS * 16_000.0 {
            return Ok(is_final.then_some(Language::Dutch));
        }
        let p_dutch = match self.transcriber.dutch_probability(samples) {
            Ok(p) => p,
            Err(Error::Cancelled) => return Ok(None),
            Err(e) => {
                tracing::warn!("language detection failed, assuming Dutch: {e}");
                1.0
            }
        };
        let language = if p_dutch >= 0.5 {
            Language::Dutch
        } else {
            Language::English
        };
        tracing::info!(p_dutch, language = language.code(), "language detected");
        state.language = Some(language);
        Ok(Some(language))
    }

    /// The turn for a final: redacted, tagged, with voice cues. None when the
    /// recogniser heard no words.
    fn turn(
        &mut self,
        state: &mut WorkerState,
        utterance: &Utterance,
        words: Vec<Word>,
    ) -> Result<Option<Turn>> {
        if words.is_empty() {
            return Ok(None);
        }
        let start = words[0].start;
        let end = words.iter().map(|w| w.end).fold(start, f64::max);
        let mut turn = Turn {
            id: state.next_turn,
            speaker: self.speakers[utterance.channel],
            start,
            end,
            text: crate::turns::join_words(&words),
            words,
            tags: None,
            acoustic: None,
        };
        if self.redact {
            crate::redact::redact_turn(&mut turn);
        }
        if let Some((scorer, tagger)) = &mut self.tagging {
            let others = state.recent.make_contiguous();
            let cues = state
                .voice
                .measure(&turn, &utterance.samples, utterance.start, others);
            let scores = scorer.score(&[turn.text.as_str()])?;
            // Until `auto` has settled the call's language, both languages' idioms count.
            turn.tags = Some(tagger.tag(
                scorer.labels(),
                &turn.text,
                &scores[0],
                cues.as_ref(),
                state.language,
            ));
            turn.acoustic = cues;
        }
        state.next_turn += 1;
        if state.recent.len() == RECENT_TURNS {
            state.recent.pop_front();
        }
        let mut kept = turn.clone();
        kept.tags = None;
        state.recent.push_back(kept);
        Ok(Some(turn))
    }

    /// The text of a partial: redacted, and with every word of three or more digits
    /// masked, since a number still being spoken is not yet long enough for the
    /// redaction patterns to know it (the final shows what redaction lets through).
    fn text(&self, words: &[Word]) -> String {
        let text = crate::turns::join_words(words);
        if self.redact {
            mask_digits(&crate::redact::redact_text(&text))
        } else {
            text
        }
    }
}

fn mask_digits(text: &str) -> String {
    text.split(' ')
        .map(|w| {
            if w.chars().filter(char::is_ascii_digit).count() >= 3 {
                "[…]"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Default)]
struct WorkerState {
    language: Option<Language>,
    agreements: HashMap<u64, LocalAgreement>,
    voice: LiveVoice,
    recent: VecDeque<Turn>,
    next_turn: usize,
}

/// Words of a decode, moved to stream time; whisper's non-speech annotations
/// ("[BLANK_AUDIO]", "(muziek)") are not words.
fn words_at(segments: Vec<AsrSegment>, offset: f64) -> Vec<Word> {
    segments
        .into_iter()
        .flat_map(|s| crate::asr::cleanup::clean_words(s.words))
        .map(|w| {
            let (start, end) = (w.start + offset, w.end + offset);
            placed_word(w, start, end)
        })
        .collect()
}

/// Words clamped to the utterance's audio, and none from a repetition loop: when
/// whisper loops ("nananana…") its words carry no meaning and impossible times.
fn within(words: Vec<Word>, utterance: &Utterance) -> Vec<Word> {
    let text = crate::turns::join_words(&words);
    if is_repetition_loop(&text) {
        tracing::warn!(
            "utterance at {:.1} s: the recogniser looped; dropped",
            utterance.start
        );
        return Vec::new();
    }
    let (start, end) = (round_ms(utterance.start), round_ms(utterance.end()));
    words
        .into_iter()
        .map(|w| Word {
            start: w.start.clamp(start, end),
            end: w.end.clamp(start, end),
            ..w
        })
        .collect()
}

/// Whether a text is mostly one short pattern repeated: few distinct character
/// trigrams for its length (a normal sentence has nearly one per character).
fn is_repetition_loop(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() < 60 {
        return false;
    }
    let distinct: std::collections::HashSet<&[char]> = chars.windows(3).collect();
    (distinct.len() as f64) < 0.25 * (chars.len() - 2) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(id: u64, channel: usize) -> OpenUtterance {
        OpenUtterance {
            id,
            channel,
            start: 0.0,
            samples: vec![0.0; 10],
        }
    }

    fn utterance(id: u64, channel: usize, closed_time: f64) -> Utterance {
        Utterance {
            id,
            channel,
            start: 0.0,
            samples: vec![0.0; 10],
            closed_time,
            closed_at: Instant::now(),
        }
    }

    #[test]
    fn finals_come_first_customer_first_and_partials_are_coalesced() {
        let q = DecodeQueue::new(2, Some(1));
        q.push_partial(open(1, 1));
        q.push_partial(open(2, 1));
        q.push_partial(open(3, 0));
        assert_eq!(
            q.skipped(),
            1,
            "the older partial of channel 1 was replaced"
        );
        q.push_final(utterance(4, 0, 5.0), None);
        q.push_final(utterance(5, 1, 6.0), None);
        assert_eq!(q.pending(), (2, Some(5.0)));
        q.close();
        let order: Vec<String> = std::iter::from_fn(|| q.next())
            .map(|j| match j {
                Job::Final(u, _) => format!("final {}", u.id),
                Job::Partial(o) => format!("partial {}", o.id),
            })
            .collect();
        // The customer's partial (2) was dropped when its final (5) arrived.
        assert_eq!(order, ["final 5", "final 4"]);
        assert_eq!(q.skipped(), 3);
    }

    #[test]
    fn a_final_aborts_a_partial_in_progress() {
        let q = DecodeQueue::new(1, Some(0));
        q.push_partial(open(1, 0));
        assert!(matches!(q.next(), Some(Job::Partial(_))));
        assert!(!q.abort.load(Ordering::Relaxed));
        q.push_final(utterance(1, 0, 2.0), None);
        assert!(q.abort.load(Ordering::Relaxed));
        assert!(matches!(q.next(), Some(Job::Final(..))));
        assert_eq!(q.pending(), (1, Some(2.0)), "in progress counts as pending");
    }

    #[test]
    fn repetition_loops_are_recognised() {
        let looped = format!("3maa{}", "na".repeat(200));
        assert!(is_repetition_loop(&looped));
        assert!(is_repetition_loop(&"ja ja ".repeat(20)));
        assert!(!is_repetition_loop(
            "Dit is de derde keer dat ik bel, ik word van het kastje naar de muur gestuurd en niemand helpt me."
        ));
        assert!(!is_repetition_loop("Nee."));
    }

    #[test]
    fn partials_mask_numbers_still_being_spoken() {
        assert_eq!(
            mask_digits("mijn nummer is 06 1234"),
            "mijn nummer is 06 […]"
        );
        assert_eq!(mask_digits("al 20 minuten"), "al 20 minuten");
    }
}
