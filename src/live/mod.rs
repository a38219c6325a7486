//! Live mode: raw audio on stdin → JSON Lines events on stdout, as the call goes.
//!
//! ```text
//! stdin ─ reader thread ─▶ bounded channel ─▶ conductor (tokio task):
//!          decode PCM → resample to 16 kHz → VAD per channel (segmenter)
//!                 │ closed utterances (bounded)      │ open utterances (newest only)
//!                 ▼                                  ▼
//!          worker thread: whisper → words → redact → tags → hint → events
//! ```
//!
//! The reader only reads, so stdin is drained while recognition runs; the conductor
//! only does cheap work (a 32 ms VAD window costs ~0.1 ms); the worker owns every
//! heavy model. When recognition falls behind, partial decodes are skipped first;
//! finals never are. If even finals cannot keep up, the bounded queues fill and the
//! input is read more slowly (back-pressure) rather than memory growing.

pub mod agreement;
pub mod events;
pub mod input;
pub mod pace;
pub mod segmenter;
pub mod worker;

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Semaphore};

use crate::audio::resample::StreamResampler;
use crate::audio::TARGET_RATE;
use crate::error::{Error, Result};
use crate::types::Speaker;
use crate::vad::silero::VadConfig;
use events::{Event, Stats};
use input::{Frames, PcmDecoder, StreamFormat};
use segmenter::{PartialPolicy, Segment, Segmenter, SpeechProbability};
use worker::{DecodeQueue, SharedSink, Worker, WorkerStats};

/// Blocks of input waiting for the conductor. At the ~20 ms a paced writer sends,
/// this is seconds of audio; a file piped unpaced fills it and is then read as
/// fast as it is handled.
const INPUT_BLOCKS: usize = 256;
/// Bytes per read from stdin.
const READ_SIZE: usize = 16 * 1024;
/// Closed utterances waiting for recognition before the input is held back.
const FINAL_QUEUE: usize = 16;

/// Which channel of the stream is who.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveChannels {
    /// Channel 0 the agent, channel 1 the customer.
    AgentCustomer,
    CustomerAgent,
    /// One voice track (channels mixed); speaker `unknown`, so no hints.
    Mono,
    /// A one-track stream of the customer only (channels mixed if more).
    Customer,
    /// A one-track stream of the agent only.
    Agent,
}

impl LiveChannels {
    /// The speakers of the tracks made from a stream of `channels` channels.
    pub fn speakers(self, channels: u16) -> Vec<Speaker> {
        match (self, channels) {
            (LiveChannels::Customer, _) => vec![Speaker::Customer],
            (LiveChannels::Agent, _) => vec![Speaker::Agent],
            (LiveChannels::Mono, _) | (_, 0 | 1) => vec![Speaker::Unknown],
            (LiveChannels::AgentCustomer, _) => vec![Speaker::Agent, Speaker::Customer],
            (LiveChannels::CustomerAgent, _) => vec![Speaker::Customer, Speaker::Agent],
        }
    }

    /// The stream's channels → one track per speaker.
    fn tracks(self, mut frames: Frames) -> Frames {
        match self.speakers(frames.len() as u16).len() {
            1 if frames.len() > 1 => {
                // The rate does not matter to a mix.
                let audio = crate::audio::Audio::new(TARGET_RATE, frames);
                vec![crate::audio::resample::downmix(&audio)]
            }
            1 => frames,
            _ => {
                frames.truncate(2);
                frames
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// The format of headerless input (a WAV header overrides it).
    pub raw: StreamFormat,
    pub channels: LiveChannels,
    /// Offer the utterance in progress for partial decodes.
    pub partials: bool,
    /// Write a `stats` line this often (and always one at the end).
    pub stats_every: Option<Duration>,
    pub vad: VadConfig,
}

/// How a stream ended.
#[derive(Debug)]
pub struct LiveReport {
    /// Ctrl-C (or SIGINT) ended it; the open utterances were still flushed.
    pub interrupted: bool,
    /// The input was malformed at some point; what came before was handled.
    pub input_error: Option<Error>,
    pub stats: Stats,
}

/// A piece of input as read, and when.
struct Block {
    bytes: Vec<u8>,
    read_at: Instant,
}

/// Runs a stream to its end. `vad` makes the speech detector once the number of
/// tracks is known (from the WAV header, or the raw settings); `sink` receives
/// the events.
pub fn run<R, P, F>(
    input: R,
    options: &LiveOptions,
    vad: F,
    worker: Worker,
    sink: Box<dyn events::EventSink>,
) -> Result<LiveReport>
where
    R: Read + Send + 'static,
    P: SpeechProbability,
    F: FnOnce(usize) -> Result<P>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Config(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(conduct(
        input,
        options,
        vad,
        worker,
        Arc::new(Mutex::new(sink)),
    ))
}

/// The conductor: reads blocks, segments them, hands utterances to the worker.
async fn conduct<R, P, F>(
    input: R,
    options: &LiveOptions,
    make_vad: F,
    worker: Worker,
    sink: SharedSink,
) -> Result<LiveReport>
where
    R: Read + Send + 'static,
    P: SpeechProbability,
    F: FnOnce(usize) -> Result<P>,
{
    let started = Instant::now();
    let bytes_read = Arc::new(AtomicU64::new(0));
    let mut blocks = spawn_reader(input, Arc::clone(&bytes_read));
    let mut decoder = PcmDecoder::new(options.raw)?;
    let mut bytes_taken = 0u64;

    // Ctrl-C ends the stream like end of input; a second one exits at once.
    let interrupted = Arc::new(tokio::sync::Notify::new());
    {
        let interrupted = Arc::clone(&interrupted);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                interrupted.notify_one();
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
    }

    let mut stream: Option<Stream<P>> = None;
    // The models wait here until the input's format is known.
    let mut parts = Some((make_vad, worker));
    let mut input_error = None;
    let mut was_interrupted = false;
    let mut ticker = options.stats_every.map(|every| {
        let mut t = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });

    loop {
        let tick = async {
            match &mut ticker {
                Some(t) => {
                    t.tick().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = interrupted.notified() => {
                tracing::info!("interrupted: flushing the open utterances");
                was_interrupted = true;
                break;
            }
            block = blocks.recv() => {
                let Some(block) = block else { break };
                let block = match block {
                    Ok(b) => b,
                    Err(e) => {
                        input_error = Some(Error::Stream(format!("reading the input failed: {e}")));
                        break;
                    }
                };
                bytes_taken += block.bytes.len() as u64;
                let frames = match decoder.push(&block.bytes) {
                    Ok(f) => f,
                    Err(e) => {
                        input_error = Some(e);
                        break;
                    }
                };
                start_once(&mut stream, &mut parts, decoder.format(), options, &sink)?;
                if let Some(s) = &mut stream {
                    if !s.push(frames, block.read_at).await? {
                        break;
                    }
                }
            }
            _ = tick => {
                if let Some(s) = &stream {
                    let received = received_seconds(&decoder, bytes_read.load(Ordering::Relaxed) - bytes_taken);
                    worker::emit(&sink, &Event::Stats(s.stats(started, received, false)))?;
                }
            }
        }
    }

    // End of input (or Ctrl-C, or bad input): flush what was heard. Ctrl-C cuts a
    // stream short on purpose, which is no reason to complain about its length.
    if input_error.is_none() {
        match decoder.finish(!was_interrupted) {
            Ok(frames) => {
                if !frames.is_empty() {
                    start_once(&mut stream, &mut parts, decoder.format(), options, &sink)?;
                }
                if let Some(s) = &mut stream {
                    s.push(frames, Instant::now()).await?;
                }
            }
            Err(e) => input_error = Some(e),
        }
    }
    let stats = match stream {
        Some(mut s) => {
            s.finish().await?;
            s.join().await?;
            s.stats(started, received_seconds(&decoder, 0), true)
        }
        None => Stats {
            done: true,
            elapsed: round3(started.elapsed().as_secs_f64()),
            ..Stats::default()
        },
    };
    worker::emit(&sink, &Event::Stats(stats.clone()))?;
    Ok(LiveReport {
        interrupted: was_interrupted,
        input_error,
        stats,
    })
}

/// Starts the stream (VAD, resampler, worker thread) once the format is known.
fn start_once<P: SpeechProbability, F: FnOnce(usize) -> Result<P>>(
    stream: &mut Option<Stream<P>>,
    parts: &mut Option<(F, Worker)>,
    format: Option<StreamFormat>,
    options: &LiveOptions,
    sink: &SharedSink,
) -> Result<()> {
    if let (None, Some(format)) = (&stream, format) {
        if let Some((make_vad, worker)) = parts.take() {
            *stream = Some(Stream::start(format, options, make_vad, worker, sink)?);
        }
    }
    Ok(())
}

/// Seconds of audio read: what the decoder has had, plus bytes still in the channel.
fn received_seconds(decoder: &PcmDecoder, unread_bytes: u64) -> f64 {
    let queued = decoder.format().map_or(0.0, |f| {
        unread_bytes as f64 / (f.frame_bytes() as f64 * f64::from(f.rate))
    });
    decoder.seconds() + queued
}

/// Reads stdin on a plain thread (tokio's stdin can hang shutdown) into a bounded
/// channel, so reading never waits on recognition unless the channel is full.
fn spawn_reader<R: Read + Send + 'static>(
    mut input: R,
    counter: Arc<AtomicU64>,
) -> mpsc::Receiver<std::io::Result<Block>> {
    let (tx, rx) = mpsc::channel(INPUT_BLOCKS);
    std::thread::Builder::new()
        .name("stdin-reader".into())
        .spawn(move || {
            let mut buffer = vec![0u8; READ_SIZE];
            loop {
                let item = match input.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(n) => {
                        counter.fetch_add(n as u64, Ordering::Relaxed);
                        Ok(Block {
                            bytes: buffer[..n].to_vec(),
                            read_at: Instant::now(),
                        })
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => Err(e),
                };
                let failed = item.is_err();
                if tx.blocking_send(item).is_err() || failed {
                    break;
                }
            }
        })
        .expect("a thread can be spawned");
    rx
}

/// A started stream: its resampler, segmenter and worker.
struct Stream<P> {
    channels: LiveChannels,
    resampler: StreamResampler,
    segmenter: Segmenter<P>,
    queue: Arc<DecodeQueue>,
    final_slots: Arc<Semaphore>,
    worker: Option<std::thread::JoinHandle<Result<()>>>,
    worker_stats: Arc<Mutex<WorkerStats>>,
}

impl<P: SpeechProbability> Stream<P> {
    fn start<F: FnOnce(usize) -> Result<P>>(
        format: StreamFormat,
        options: &LiveOptions,
        make_vad: F,
        mut worker: Worker,
        sink: &SharedSink,
    ) -> Result<Self> {
        let speakers = options.channels.speakers(format.channels);
        if format.channels > 2 && speakers.len() == 2 {
            tracing::warn!(
                channels = format.channels,
                "more than two channels: using the first two"
            );
        }
        if speakers == [Speaker::Unknown] {
            tracing::warn!("one voice track, speaker unknown: no hints (use --channels customer for a customer-only stream)");
        }
        tracing::info!(rate = format.rate, channels = format.channels, sample = ?format.sample, "stream started");
        let tracks = speakers.len();
        let customer_channel = speakers.iter().position(|s| *s == Speaker::Customer);
        worker.speakers = speakers;
        let queue = Arc::new(DecodeQueue::new(tracks, customer_channel));
        let worker_stats = Arc::new(Mutex::new(WorkerStats::default()));
        let handle = {
            let (queue, sink, stats) = (
                Arc::clone(&queue),
                Arc::clone(sink),
                Arc::clone(&worker_stats),
            );
            std::thread::Builder::new()
                .name("live-recognition".into())
                .spawn(move || worker.run(queue, sink, stats))
                .map_err(|e| Error::Config(format!("cannot start the recognition thread: {e}")))?
        };
        Ok(Stream {
            channels: options.channels,
            resampler: StreamResampler::new(format.rate, TARGET_RATE, tracks)?,
            segmenter: Segmenter::new(
                make_vad(tracks)?,
                tracks,
                &options.vad,
                options.partials.then(PartialPolicy::default),
            ),
            queue,
            final_slots: Arc::new(Semaphore::new(FINAL_QUEUE)),
            worker: Some(handle),
            worker_stats,
        })
    }

    /// Feeds decoded frames; false when the worker has stopped (output gone).
    async fn push(&mut self, frames: Frames, read_at: Instant) -> Result<bool> {
        if frames.is_empty() || frames[0].is_empty() {
            return Ok(!self.queue.failed());
        }
        let tracks = self.resampler.push(&self.channels.tracks(frames))?;
        let segments = self.segmenter.push(&tracks, read_at)?;
        self.dispatch(segments).await
    }

    async fn dispatch(&mut self, segments: Vec<Segment>) -> Result<bool> {
        for segment in segments {
            match segment {
                Segment::Open(open) => self.queue.push_partial(open),
                Segment::Closed(utterance) => {
                    // Waits only when FINAL_QUEUE utterances are already waiting.
                    let Ok(permit) = Arc::clone(&self.final_slots).acquire_owned().await else {
                        return Ok(false);
                    };
                    if self.queue.failed() {
                        return Ok(false);
                    }
                    self.queue.push_final(utterance, Some(permit));
                }
            }
        }
        Ok(!self.queue.failed())
    }

    /// End of input: the resampler's tail, then the utterances still open.
    async fn finish(&mut self) -> Result<()> {
        let tail = self.resampler.finish()?;
        let mut segments = self.segmenter.push(&tail, Instant::now())?;
        segments.extend(self.segmenter.finish(Instant::now())?);
        // Partials of a stream that has ended are of no use.
        segments.retain(|s| matches!(s, Segment::Closed(_)));
        self.dispatch(segments).await?;
        self.queue.close();
        Ok(())
    }

    /// Waits for the worker to finish the queued finals.
    async fn join(&mut self) -> Result<()> {
        let Some(handle) = self.worker.take() else {
            return Ok(());
        };
        match tokio::task::spawn_blocking(move || handle.join()).await {
            Ok(Ok(result)) => result,
            _ => Err(Error::Transcription(
                "the recognition thread panicked".into(),
            )),
        }
    }

    fn stats(&self, started: Instant, received: f64, done: bool) -> Stats {
        let w = self
            .worker_stats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let (pending, oldest) = self.queue.pending();
        let processed = self.segmenter.position();
        let settled = oldest.map_or(processed, |t| t.min(processed));
        Stats {
            elapsed: round3(started.elapsed().as_secs_f64()),
            received: round3(received),
            processed: round3(processed),
            lag: round3((received - settled).max(0.0)),
            pending_finals: pending,
            finals: w.finals,
            hints: w.hints,
            partials: w.partials,
            partials_skipped: self.queue.skipped(),
            decode_seconds: round3(w.decode_seconds),
            last_decode_seconds: round3(w.last_decode_seconds),
            language: w.language.map(|l| l.code().to_string()),
            buffered: round3(self.segmenter.buffered_samples() as f64 / f64::from(TARGET_RATE)),
            rss_mb: events::rss_mb(),
            done,
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
