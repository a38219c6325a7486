//! Many recorded calls: find the inputs, skip what is already done, transcribe the
//! rest one call at a time (each call uses all workers), write outputs atomically,
//! and keep a running `batch-summary.json`.
//!
//! Failure of one file never stops the batch: its error is recorded with its name
//! and the batch goes on. A first Ctrl-C lets the calls in progress finish and then
//! stops; outputs are only ever renamed into place whole, so a killed run leaves no
//! half-written file and a rerun resumes where it stopped.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use crate::sink::{self, Format};
use crate::types::Transcript;

/// File extensions picked up when a folder is given (a file named explicitly is
/// always tried, whatever its extension).
pub const AUDIO_EXTENSIONS: &[&str] = &["wav", "wave", "mp3", "flac", "ogg", "oga"];

pub const SUMMARY_FILE: &str = "batch-summary.json";

#[derive(Debug, Clone)]
pub struct BatchOptions {
    pub inputs: Vec<PathBuf>,
    pub out: PathBuf,
    pub formats: Vec<Format>,
    /// Redo calls whose outputs are up to date.
    pub force: bool,
    /// Draw a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
}

/// One input file and where its outputs go.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub path: PathBuf,
    /// Path relative to the folder it was found in, without extension: outputs keep
    /// the folder structure, so `a/call.wav` and `b/call.wav` do not collide.
    pub stem: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Done,
    Skipped,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub source: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    pub audio_seconds: f64,
    pub processing_seconds: f64,
    /// Why someone should get back to this customer (empty: no follow-up needed);
    /// the batch's closed-loop list.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub follow_up: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BatchReport {
    pub files: Vec<FileReport>,
    pub done: usize,
    pub skipped: usize,
    pub failed: usize,
    /// Inputs not reached because the run was interrupted, or stopped because the
    /// tag scorer could not be loaded.
    pub not_started: usize,
    pub interrupted: bool,
    pub audio_seconds: f64,
    pub processing_seconds: f64,
    /// Audio seconds transcribed per wall-clock second (done calls only).
    pub speed_x_realtime: f64,
}

impl BatchReport {
    pub fn all_succeeded(&self) -> bool {
        self.failed == 0 && !self.interrupted
    }
}

/// Expands files and folders (recursively) into inputs, in a stable order.
pub fn discover(inputs: &[PathBuf]) -> Result<Vec<Input>> {
    let mut found = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input).map_err(|e| Error::io(input, e))?;
        if meta.is_dir() {
            let mut files: Vec<PathBuf> = walkdir::WalkDir::new(input)
                .follow_links(true)
                .into_iter()
                .filter_map(|entry| match entry {
                    Ok(e) => Some(e),
                    Err(e) => {
                        tracing::warn!("skipping unreadable entry: {e}");
                        None
                    }
                })
                .filter(|e| e.file_type().is_file() && has_audio_extension(e.path()))
                .map(|e| e.into_path())
                .collect();
            files.sort();
            for path in files {
                let rel = path.strip_prefix(input).unwrap_or(&path).with_extension("");
                found.push(Input { stem: rel, path });
            }
        } else {
            let stem = PathBuf::from(input.file_stem().unwrap_or(input.as_os_str()));
            found.push(Input {
                path: input.clone(),
                stem,
            });
        }
    }
    Ok(found)
}

fn has_audio_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Output path of `input` for `format` under `out`.
pub fn output_path(out: &Path, input: &Input, format: Format) -> PathBuf {
    let mut name = input.stem.clone().into_os_string();
    name.push(".");
    name.push(format.extension());
    out.join(name)
}

/// The earlier transcript, when every requested output exists and its JSON says it
/// was made from the same bytes with the same settings. The JSON is written last,
/// so its presence means the others are complete; one that no longer parses as the
/// current schema is simply redone.
fn up_to_date_transcript(
    out: &Path,
    input: &Input,
    formats: &[Format],
    sha256: &str,
    settings_hash: &str,
) -> Option<Transcript> {
    let text = std::fs::read_to_string(output_path(out, input, Format::Json)).ok()?;
    let transcript: Transcript = serde_json::from_str(&text).ok()?;
    let complete = formats
        .iter()
        .all(|f| output_path(out, input, *f).is_file());
    (transcript.call.sha256 == sha256 && transcript.call.settings_hash == settings_hash && complete)
        .then_some(transcript)
}

/// Called with every finished or up-to-date call, as the batch goes (used to
/// stream JSON Lines to stdout).
pub type CallSink<'a> = dyn FnMut(&Transcript) -> std::io::Result<()> + 'a;
pub type OnCall<'a> = &'a mut CallSink<'a>;

/// Runs the batch. `interrupt` is set by the Ctrl-C handler.
pub fn run(
    pipeline: &mut Pipeline,
    options: &BatchOptions,
    interrupt: &AtomicBool,
    mut on_call: Option<OnCall>,
) -> Result<BatchReport> {
    let inputs = discover(&options.inputs)?;
    std::fs::create_dir_all(&options.out).map_err(|e| Error::io(&options.out, e))?;
    // Always write JSON (it carries what resume needs), and write it last.
    let mut formats: Vec<Format> = options
        .formats
        .iter()
        .copied()
        .filter(|f| *f != Format::Json)
        .collect();
    formats.dedup();
    formats.push(Format::Json);

    // Durations from headers, for a progress bar in audio time.
    let durations: Vec<f64> = inputs
        .iter()
        .map(|i| crate::audio::decode::probe_duration(&i.path).unwrap_or(0.0))
        .collect();
    let total: f64 = durations.iter().sum();
    let bar = progress_bar(options.progress, total, inputs.len());

    let started = Instant::now();
    let mut report = BatchReport {
        files: Vec::new(),
        done: 0,
        skipped: 0,
        failed: 0,
        not_started: 0,
        interrupted: false,
        audio_seconds: 0.0,
        processing_seconds: 0.0,
        speed_x_realtime: 0.0,
    };
    let mut done_audio = 0.0;
    let mut done_wall = 0.0;
    for (index, (input, duration)) in inputs.iter().zip(&durations).enumerate() {
        if interrupt.load(Ordering::SeqCst) {
            report.interrupted = true;
            report.not_started = inputs.len() - index;
            break;
        }
        let source = input.path.display().to_string();
        bar.set_message(format!(
            "{}/{} {}",
            index + 1,
            inputs.len(),
            input.stem.display()
        ));
        let file_started = Instant::now();
        tracing::info!(file = %source, "started");
        let outcome = process_one(
            pipeline,
            options,
            &formats,
            input,
            &source,
            *duration,
            on_call.as_deref_mut(),
        );
        let elapsed = file_started.elapsed().as_secs_f64();
        let entry = match outcome {
            Ok((status, audio_seconds, follow_up)) => {
                if status == Status::Done {
                    report.done += 1;
                    done_audio += audio_seconds;
                    done_wall += elapsed;
                    tracing::info!(file = %source, audio_seconds, seconds = elapsed, "done");
                } else {
                    report.skipped += 1;
                    tracing::info!(file = %source, "up to date, skipped (use --force to redo)");
                }
                report.audio_seconds += audio_seconds;
                FileReport {
                    source,
                    status,
                    error: None,
                    output: Some(
                        output_path(&options.out, input, Format::Json)
                            .display()
                            .to_string(),
                    ),
                    audio_seconds,
                    processing_seconds: elapsed,
                    follow_up,
                }
            }
            Err(error) => {
                report.failed += 1;
                let message = format!("{error:#}");
                bar.suspend(|| tracing::error!("failed: {message}"));
                FileReport {
                    source,
                    status: Status::Failed,
                    error: Some(message),
                    output: None,
                    audio_seconds: *duration,
                    processing_seconds: elapsed,
                    follow_up: Vec::new(),
                }
            }
        };
        report.files.push(entry);
        bar.inc((duration * 1000.0) as u64);
        report.processing_seconds = started.elapsed().as_secs_f64();
        report.speed_x_realtime = if done_wall > 0.0 {
            done_audio / done_wall
        } else {
            0.0
        };
        // Without its scorer every further call would fail the same way.
        let scorer_failure = pipeline.scorer_failure().map(str::to_string);
        if scorer_failure.is_some() {
            report.not_started = inputs.len() - index - 1;
        }
        // Kept current after every call, so even a killed run leaves a summary.
        write_summary(&options.out, &report)?;
        if let Some(reason) = scorer_failure {
            bar.finish_and_clear();
            return Err(Error::Scoring(format!(
                "batch stopped, {} call(s) not started (summary in {}): {reason}",
                report.not_started,
                options.out.join(SUMMARY_FILE).display()
            )));
        }
    }
    bar.finish_and_clear();
    report.processing_seconds = started.elapsed().as_secs_f64();
    write_summary(&options.out, &report)?;
    Ok(report)
}

fn process_one(
    pipeline: &mut Pipeline,
    options: &BatchOptions,
    formats: &[Format],
    input: &Input,
    source: &str,
    probed_duration: f64,
    on_call: Option<&mut CallSink<'_>>,
) -> Result<(Status, f64, Vec<String>)> {
    let stdout_error = |e| Error::io("<stdout>", e);
    let sha256 = crate::models::sha256_file(&input.path)?;
    let earlier = (!options.force)
        .then(|| {
            up_to_date_transcript(
                &options.out,
                input,
                formats,
                &sha256,
                pipeline.settings_hash(),
            )
        })
        .flatten();
    if let Some(transcript) = earlier {
        if let Some(on_call) = on_call {
            on_call(&transcript).map_err(stdout_error)?;
        }
        return Ok((Status::Skipped, probed_duration, follow_up(&transcript)));
    }
    let started = Instant::now();
    let audio = pipeline.load_audio(&input.path)?;
    let transcript = pipeline.run_audio(audio, source, sha256, started)?;
    for format in formats {
        let path = output_path(&options.out, input, *format);
        sink::write_atomic(&path, sink::render(&transcript, *format).as_bytes())?;
    }
    if let Some(on_call) = on_call {
        on_call(&transcript).map_err(stdout_error)?;
    }
    Ok((
        Status::Done,
        transcript.call.duration,
        follow_up(&transcript),
    ))
}

fn follow_up(transcript: &Transcript) -> Vec<String> {
    transcript
        .summary
        .as_ref()
        .map(|s| s.follow_up.reasons.clone())
        .unwrap_or_default()
}

fn write_summary(out: &Path, report: &BatchReport) -> Result<()> {
    let json = serde_json::to_string_pretty(report).expect("a report always serialises");
    sink::write_atomic(&out.join(SUMMARY_FILE), json.as_bytes())
}

fn progress_bar(enabled: bool, total_seconds: f64, files: usize) -> ProgressBar {
    if !enabled || files == 0 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(
        Some((total_seconds * 1000.0) as u64),
        ProgressDrawTarget::stderr(),
    );
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {audio} audio · ETA {eta} · {msg}",
    )
    .expect("the template is valid")
    .with_key(
        "audio",
        |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let hours = |ms: u64| ms as f64 / 3_600_000.0;
            let _ = write!(
                w,
                "{:.2}/{:.2} h",
                hours(state.pos()),
                hours(state.len().unwrap_or(0))
            );
        },
    );
    bar.set_style(style);
    bar.enable_steady_tick(std::time::Duration::from_millis(250));
    bar
}
