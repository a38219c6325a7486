//! The `subtext` command: parses arguments, sets up logging on stderr, runs the
//! library and maps the outcome to an exit code (0 ok, 1 some calls failed,
//! 2 error, 130 interrupted).

mod cli;

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;

use cli::{Cli, Command};
use subtext::batch;
use subtext::sink::{self, Format};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose, cli.quiet);
    subtext::audio::decode::quiet_decoder_panics();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            // A closed pipe (`subtext transcribe x.wav | head`) is not an error.
            if error.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("subtext: error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Transcribe(args) => {
            let mut pipeline = subtext::engine::build(&args.engine.to_options()?)?;
            let source = args.input.display().to_string();
            let transcript = pipeline
                .run_file(&args.input, &source)
                .with_context(|| format!("cannot transcribe {source}"))?;
            let text = sink::render(&transcript, args.format.into());
            match &args.output {
                Some(path) => sink::write_atomic(path, text.as_bytes())?,
                None => std::io::stdout().lock().write_all(text.as_bytes())?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Score(args) => score(args),
        Command::Show(args) => show(args),
        Command::Hints(args) => hints(args),
        Command::Live(args) => live(args),
        Command::Pace(args) => pace(args),
        Command::Replay(args) => replay(args),
        Command::Serve(args) => serve(args, cli.quiet),
        Command::Report(args) => report(args, cli.quiet),
        Command::RedactAudio(args) => {
            use subtext::redact::audio::{redact_file, Cover};
            let cover = if args.silence {
                Cover::Silence
            } else {
                Cover::Tone
            };
            let spans = redact_file(
                &args.audio,
                &args.transcript,
                &args.out,
                cover,
                f64::from(args.pad_ms) / 1000.0,
                args.force,
            )?;
            let seconds: f64 = spans.iter().map(|(a, b)| b - a).sum();
            if !cli.quiet {
                eprintln!(
                    "subtext: {} span(s), {seconds:.1} s covered; written to {}",
                    spans.len(),
                    args.out.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Batch(args) => {
            let interrupt = install_interrupt_handler()?;
            let mut formats: Vec<Format> = args.format.iter().map(|f| (*f).into()).collect();
            let stream_jsonl = formats.contains(&Format::Jsonl);
            formats.retain(|f| *f != Format::Jsonl);
            let mut pipeline = subtext::engine::build(&args.engine.to_options()?)?;
            let options = batch::BatchOptions {
                inputs: args.inputs.clone(),
                out: args.out.clone(),
                formats,
                force: args.force,
                progress: !args.no_progress && !cli.quiet,
            };
            // `--format jsonl`: every call's JSON Lines on stdout as soon as it is done.
            let mut stdout = std::io::stdout().lock();
            let mut stream = |t: &subtext::Transcript| {
                stdout.write_all(sink::render(t, Format::Jsonl).as_bytes())?;
                stdout.flush()
            };
            let on_call: Option<batch::OnCall> = if stream_jsonl {
                Some(&mut stream)
            } else {
                None
            };
            let report = batch::run(&mut pipeline, &options, &interrupt, on_call)?;
            if !cli.quiet {
                eprintln!(
                "subtext: {} done, {} skipped (up to date), {} failed{} — {:.2} h audio at {:.1}x real time; summary in {}",
                report.done,
                report.skipped,
                report.failed,
                if report.interrupted { format!(", {} not started (interrupted)", report.not_started) } else { String::new() },
                report.audio_seconds / 3600.0,
                report.speed_x_realtime,
                args.out.join(batch::SUMMARY_FILE).display()
            );
                let follow_up = report
                    .files
                    .iter()
                    .filter(|f| !f.follow_up.is_empty())
                    .count();
                if follow_up > 0 {
                    eprintln!("subtext: {follow_up} call(s) flagged for follow-up (see follow_up in the summary)");
                }
            }
            for file in report
                .files
                .iter()
                .filter(|f| f.status == batch::Status::Failed)
            {
                eprintln!(
                    "  failed: {}",
                    file.error.as_deref().unwrap_or("unknown error")
                );
            }
            Ok(if report.interrupted {
                ExitCode::from(130)
            } else if report.failed > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

/// One `subtext score` result.
#[derive(serde::Serialize)]
struct ScoreLine<'a> {
    text: &'a str,
    tags: subtext::TurnTags,
    /// Dutch display names of the emotions (`--pretty` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    emotions_nl: Option<Vec<String>>,
    /// The agent hint (`--hints` only; null when none fires).
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<Option<subtext::Hint>>,
}

/// `subtext show`: a tagged call for reading, in the terminal or as Markdown.
fn show(args: cli::ShowArgs) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    let transcript = subtext::Transcript::read(&args.input)?;
    let style = if args.markdown {
        subtext::show::Style::Markdown
    } else {
        subtext::show::Style::Terminal {
            color: args.color.wanted(std::io::stdout().is_terminal()),
        }
    };
    std::io::stdout()
        .lock()
        .write_all(subtext::show::render(&transcript, style).as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// `subtext replay`: a tagged call on its own clock, full-screen in a terminal,
/// timed lines otherwise.
fn replay(args: cli::ReplayArgs) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    let transcript = subtext::Transcript::read(&args.input)?;
    let tty = std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    if tty && !args.plain {
        let color = args.color.wanted(true);
        subtext::replay::terminal::play(&transcript, args.speed, args.from, color)?;
    } else {
        let mut out = std::io::stdout().lock();
        subtext::replay::play_plain(&transcript, args.speed, args.from, &mut out)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `subtext serve`: the web app over tagged folders, until Ctrl-C.
fn serve(args: cli::ServeArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let options = subtext::web::ServeOptions {
        tagged: args.tagged,
        audio: args.audio,
        bind: args.bind,
        port: args.port,
        allow_unredacted: args.allow_unredacted,
        original_audio: args.original_audio,
        min_group: args.min_group,
    };
    if !options.bind.is_loopback() {
        eprintln!(
            "subtext: warning: listening on {}: anyone who can reach this machine can read these calls",
            options.bind
        );
    }
    subtext::web::serve(options, |addr, calls| {
        // Always said (also with --quiet): scripts and tests read the address here.
        eprintln!("subtext: serving {calls} call(s) on http://{addr}/ (Ctrl-C stops)");
        if quiet {
            return;
        }
        if calls == 0 {
            eprintln!(
                "subtext: no NAME.subtext.json found yet; the list updates when calls are added"
            );
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `subtext report`: one call as a self-contained HTML page.
fn report(args: cli::ReportArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let options = subtext::web::report::ReportOptions {
        audio: args.audio,
        allow_unredacted: args.allow_unredacted,
        original_audio: args.original_audio,
    };
    let written = subtext::web::report::write_report(&args.input, &args.out, &options)?;
    if !quiet {
        match (&written.audio, written.covered_copy) {
            (Some(a), true) => eprintln!(
                "subtext: report written to {}; it links {}, a copy of the recording with the redacted spans covered",
                args.out.display(),
                a.display()
            ),
            (Some(a), false) => eprintln!(
                "subtext: report written to {}; it links {}",
                args.out.display(),
                a.display()
            ),
            (None, _) => eprintln!(
                "subtext: report written to {} without audio (the recording was not found; see --audio)",
                args.out.display()
            ),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `subtext hints`: checks a catalog and lists it, or prints the built-in one.
fn hints(args: cli::HintsArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    if args.print_default {
        out.write_all(subtext::hints::catalog::BUILTIN.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    let catalog = match &args.catalog {
        Some(path) => subtext::hints::HintCatalog::load(path)?,
        None => subtext::hints::HintCatalog::builtin(),
    };
    let name = args
        .catalog
        .as_ref()
        .map_or("built-in catalog".to_string(), |p| p.display().to_string());
    writeln!(
        out,
        "{name}: valid: {} hints, {} signals, {} mirror sentences",
        catalog.entries.len(),
        catalog.signals.len(),
        catalog.mirror.len()
    )?;
    for e in &catalog.entries {
        writeln!(
            out,
            "  {:<28} need {:<16} priority {:>3}",
            e.id, e.need, e.priority
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `subtext score`: texts from the arguments or stdin lines, one JSON line each.
fn score(args: cli::ScoreArgs) -> anyhow::Result<ExitCode> {
    use std::io::BufRead;
    use subtext::score::TextScorer;

    let models_dir = args
        .models_dir
        .clone()
        .unwrap_or_else(subtext::models::models_dir);
    // The catalog first: a typo in it fails before the model loads.
    let catalog = match (&args.catalog, args.hints) {
        (Some(path), _) => Some(subtext::hints::HintCatalog::load(path)?),
        (None, true) => Some(subtext::hints::HintCatalog::builtin()),
        (None, false) => None,
    };
    let (mut scorer, tagger) =
        subtext::engine::build_tagging(&models_dir, args.lexicon.as_deref(), 1)?;
    let labels = scorer.labels().clone();
    let table = labels.table();
    let language = match args.language {
        cli::HintLanguageArg::Nl => "nl",
        cli::HintLanguageArg::En => "en",
    };
    let mut out = std::io::stdout().lock();
    let mut emit = |batch: &[String]| -> anyhow::Result<()> {
        let texts: Vec<String> = batch
            .iter()
            .map(|t| {
                if args.no_redact {
                    t.trim().to_string()
                } else {
                    subtext::redact::redact_text(t)
                }
            })
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let scores = scorer.score(&refs)?;
        for (text, s) in texts.iter().zip(&scores) {
            // The text's language is guessed from its function words (`--language`
            // is the hint's); when that is unclear the lexicon tries both languages.
            let text_language = subtext::score::lexicon::guess_language(text);
            let tags = tagger.tag(&labels, text, s, None, text_language);
            let hint = catalog.as_ref().map(|catalog| {
                // Each text is the customer's first turn of a call of its own.
                let turn = subtext::Turn {
                    id: 0,
                    speaker: subtext::Speaker::Customer,
                    start: 0.0,
                    end: 0.0,
                    text: text.clone(),
                    words: Vec::new(),
                    tags: Some(tags.clone()),
                    acoustic: None,
                };
                subtext::hints::HintEngine::new(catalog, language, Some(&table)).observe(&turn)
            });
            // Serialised from the typed struct (not a `Value`) so f32s print short.
            let line = ScoreLine {
                emotions_nl: args.pretty.then(|| {
                    tags.emotions
                        .iter()
                        .map(|e| {
                            labels
                                .display_nl
                                .get(&e.id)
                                .cloned()
                                .unwrap_or_else(|| e.id.clone())
                        })
                        .collect()
                }),
                text,
                tags,
                hint,
            };
            if args.pretty {
                writeln!(out, "{}", serde_json::to_string_pretty(&line)?)?;
            } else {
                writeln!(out, "{}", serde_json::to_string(&line)?)?;
            }
        }
        out.flush()?;
        Ok(())
    };
    if !args.texts.is_empty() {
        emit(&args.texts)?;
        return Ok(ExitCode::SUCCESS);
    }
    // Stdin: one text per line, each scored and written as it comes.
    for line in std::io::stdin().lock().lines() {
        let line = line.context("cannot read stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        emit(std::slice::from_ref(&line))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// First Ctrl-C: finish the calls in progress, then stop (outputs stay whole).
/// Second Ctrl-C: stop now; temporary files are never renamed into place, so
/// nothing half-written is left as a result.
/// `subtext live`: stdin → events on stdout until end of input or Ctrl-C.
fn live(args: cli::LiveArgs) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    use subtext::live::events::{EventSink, JsonLines, Pretty};

    let options = args.live_options()?;
    if std::io::stdin().is_terminal() {
        anyhow::bail!("stdin is a terminal: pipe audio into `subtext live`, e.g. `subtext pace call.wav | subtext live --pretty`");
    }
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let parts = subtext::engine::build_live(&args.engine_options(), threads)?;
    let stdout = std::io::stdout();
    let sink: Box<dyn EventSink> = if args.pretty {
        let terminal = stdout.is_terminal();
        Box::new(Pretty::new(stdout, terminal))
    } else {
        Box::new(JsonLines(stdout))
    };
    let vad = parts.vad;
    tracing::info!("ready: reading audio from stdin");
    let report = subtext::live::run(
        std::io::stdin(),
        &options,
        move |tracks| Ok(subtext::live::segmenter::SileroChannels::new(vad, tracks)),
        parts.worker,
        sink,
    )?;
    if let Some(error) = report.input_error {
        eprintln!("subtext: error: {error} (everything before it was processed)");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// `subtext pace`: files → a WAV stream on stdout at real-time speed.
fn pace(args: cli::PaceArgs) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        anyhow::bail!("stdout is a terminal: pipe it into `subtext live`, e.g. `subtext pace call.wav | subtext live --pretty`");
    }
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
            .context("cannot install the Ctrl-C handler")?;
    }
    let options = subtext::live::pace::PaceOptions {
        speed: args.speed,
        raw: args.raw,
        until: args.until,
        ..Default::default()
    };
    let mut out = std::io::stdout().lock();
    let seconds = subtext::live::pace::pace(&args.files, &options, &mut out, &stop)?;
    tracing::info!(seconds, "played");
    Ok(if stop.load(Ordering::SeqCst) {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

fn install_interrupt_handler() -> anyhow::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    let presses = AtomicUsize::new(0);
    let handler_flag = Arc::clone(&flag);
    ctrlc::set_handler(move || {
        if presses.fetch_add(1, Ordering::SeqCst) == 0 {
            handler_flag.store(true, Ordering::SeqCst);
            eprintln!(
                "\nsubtext: interrupted: finishing the call in progress (Ctrl-C again to stop now)"
            );
        } else {
            eprintln!("\nsubtext: stopped; finished calls are kept, rerun to resume");
            std::process::exit(130);
        }
    })
    .context("cannot install the Ctrl-C handler")?;
    Ok(flag)
}

/// Logs go to stderr so stdout carries only data. `RUST_LOG` overrides the level.
fn init_tracing(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn,whisper_rs=off",
        (false, 1) => "info,whisper_rs=warn",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
