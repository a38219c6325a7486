//! Builds a real `Pipeline` from model files: whisper.cpp for speech, Silero (ONNX
//! Runtime) for voice activity. Kept apart from `pipeline` so the pipeline itself
//! compiles and tests without the native libraries.

use std::path::PathBuf;

use crate::asr::whisper::{DecodeOptions, WhisperModel};
use crate::error::{Error, Result};
use crate::models;
use crate::pipeline::{BoxedScorer, BoxedTranscriber, BoxedVad, Pipeline, PipelineConfig};
use crate::score::lexicon::MetaphorLexicon;
use crate::score::onnx::OnnxScorer;
use crate::score::{TagConfig, Tagger};
use crate::types::ModelInfo;
use crate::vad;

/// Which voice activity detector to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VadKind {
    /// Silero VAD v6 (ONNX): robust to noise and music.
    Silero,
    /// Energy threshold: no model needed, fine for clean recordings.
    Energy,
    /// No VAD: every second of audio is transcribed.
    Off,
}

#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// A whisper.cpp ggml model; the default is `models/ggml-base-q8_0.bin`.
    pub model: Option<PathBuf>,
    pub models_dir: PathBuf,
    pub vad: VadKind,
    /// Parallel whisper states (one thread each).
    pub jobs: usize,
    pub decode: DecodeOptions,
    pub pipeline: PipelineConfig,
    /// Tag turns with emotion, metaphor cues, need and contact type (on by default).
    pub tags: bool,
    /// A metaphor lexicon to use instead of the built-in one.
    pub lexicon: Option<PathBuf>,
    /// A hint catalog to use instead of the built-in one.
    pub hints: Option<PathBuf>,
    /// Refuse recordings longer than this (seconds).
    pub max_duration: Option<f64>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            model: None,
            models_dir: models::models_dir(),
            vad: VadKind::Silero,
            jobs: 2,
            decode: DecodeOptions::default(),
            pipeline: PipelineConfig::default(),
            tags: true,
            lexicon: None,
            hints: None,
            max_duration: Some(DEFAULT_MAX_DURATION),
        }
    }
}

/// Four hours: longer than any call, and about 1.8 GB of stereo once decoded.
pub const DEFAULT_MAX_DURATION: f64 = 4.0 * 3600.0;

/// Loads the models and returns a ready pipeline.
pub fn build(options: &EngineOptions) -> Result<Pipeline> {
    if options.jobs == 0 {
        return Err(Error::Config("--jobs must be at least 1".into()));
    }
    // Checked before any model loads, so a typo in the catalog fails fast.
    let hints = options
        .hints
        .as_deref()
        .map(crate::hints::HintCatalog::load)
        .transpose()?;
    let model_path = options
        .model
        .clone()
        .unwrap_or_else(|| options.models_dir.join(models::DEFAULT_WHISPER));
    // The scorer's file hash is part of the settings hash, which a resumed batch
    // compares before any call: hashed beside the whisper load. The scorer itself
    // loads later, while the first call is transcribed.
    let scorer_files = (
        options.models_dir.join(models::SCORER),
        options.models_dir.join(models::SCORER_TOKENIZER),
    );
    let scorer_hash = if options.tags {
        OnnxScorer::check_files(&scorer_files.0, &scorer_files.1)?;
        let path = scorer_files.0.clone();
        Some(std::thread::spawn(move || models::sha256_file(&path)))
    } else {
        None
    };
    let tagger = options
        .tags
        .then(|| build_tagger(options.lexicon.as_deref()))
        .transpose()?;
    // Hashing the model file (it goes into every transcript) reads 80 MB or more:
    // on the other core while this one loads the models.
    let asr_sha256 = {
        let path = model_path.clone();
        std::thread::spawn(move || models::sha256_file(&path))
    };
    let model = WhisperModel::load(&model_path)?;
    let workers = (0..options.jobs)
        .map(|_| {
            model
                .transcriber(options.decode.clone())
                .map(|t| Box::new(t) as BoxedTranscriber)
        })
        .collect::<Result<Vec<_>>>()?;

    let (vad, vad_name): (BoxedVad, String) = match options.vad {
        VadKind::Silero => {
            crate::onnx::init_runtime(&options.models_dir.join(models::ONNX_RUNTIME))?;
            let path = options.models_dir.join(models::SILERO_VAD);
            (
                Box::new(vad::silero::SileroVad::new(&path)?),
                models::SILERO_VAD.to_string(),
            )
        }
        VadKind::Energy => (
            Box::new(vad::energy::EnergyVad::default()),
            "energy".to_string(),
        ),
        VadKind::Off => (Box::new(vad::WholeTrack), "none".to_string()),
    };
    let info = ModelInfo {
        asr: model_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        asr_sha256: models::join(asr_sha256)?,
        whisper_cpp: whisper_rs::WHISPER_CPP_VERSION.to_string(),
        vad: vad_name,
        scorer: None,
        scorer_sha256: None,
    };
    let settings = format!("{:?}", options.decode);
    let mut pipeline = Pipeline::new(vad, workers, options.pipeline.clone(), info, &settings)?
        .with_max_duration(options.max_duration);
    if let Some(catalog) = hints {
        pipeline = pipeline.with_hints(catalog);
    }
    let (Some(scorer_hash), Some(tagger)) = (scorer_hash, tagger) else {
        return Ok(pipeline);
    };
    let sha256 = models::join(scorer_hash)?;
    let runtime = options.models_dir.join(models::ONNX_RUNTIME);
    let loading = {
        let ((model, tokenizer), sha256) = (scorer_files, sha256.clone());
        std::thread::spawn(move || -> Result<BoxedScorer> {
            lowest_priority();
            crate::onnx::init_runtime(&runtime)?;
            // One intra-op thread: ONNX Runtime's pool threads would inherit this
            // thread's lowest priority and starve whenever anything else runs. Two
            // scored turns 1.3-1.5x faster, but saved only 0.03 s of a 4-call batch's
            // 0.34 s of tagging.
            let scorer = OnnxScorer::load_hashed(&model, &tokenizer, 1, sha256)?;
            Ok(Box::new(scorer))
        })
    };
    Ok(pipeline.with_tagging_loading(models::SCORER.to_string(), sha256, loading, tagger))
}

/// Puts the calling thread (and the threads it starts) at the lowest scheduling
/// priority, so that it only takes CPU that nothing else wants: the scorer loads in
/// the gaps the first call's transcription leaves, instead of slowing it down (whose
/// two-thread steps, language detection first, stall when a core is taken). On Linux
/// the nice value belongs to the thread. Best effort: should it fail, nothing changes.
fn lowest_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its arguments; `who` 0 is the calling thread.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 19);
    }
}

/// The scorer model and the tagging rules (built-in lexicon unless `lexicon` is given).
/// `threads`: ONNX Runtime intra-op threads for the scorer.
pub fn build_tagging(
    models_dir: &std::path::Path,
    lexicon: Option<&std::path::Path>,
    threads: usize,
) -> Result<(OnnxScorer, Tagger)> {
    crate::onnx::init_runtime(&models_dir.join(models::ONNX_RUNTIME))?;
    let scorer = OnnxScorer::load(
        &models_dir.join(models::SCORER),
        &models_dir.join(models::SCORER_TOKENIZER),
        threads,
    )?;
    Ok((scorer, build_tagger(lexicon)?))
}

/// The tagging rules, with the built-in lexicon unless `lexicon` is given.
fn build_tagger(lexicon: Option<&std::path::Path>) -> Result<Tagger> {
    let lexicon = match lexicon {
        Some(path) => MetaphorLexicon::load(path)?,
        None => MetaphorLexicon::builtin(),
    };
    Ok(Tagger::new(lexicon, TagConfig::default()))
}

/// What `subtext live` runs: the Silero model (one streaming state per track is
/// made when the stream's layout is known) and the recognition worker.
pub struct LiveParts {
    pub vad: vad::silero::SileroVad,
    pub worker: crate::live::worker::Worker,
}

/// Loads the models for live mode. Whisper decodes one utterance at a time with
/// `threads` threads and an encoder window fitted to the utterance: on 2 cores that
/// measured 0.3-0.7 s for a 2-8 s utterance, against 2.1 s with the full 30 s window.
pub fn build_live(options: &EngineOptions, threads: usize) -> Result<LiveParts> {
    let hints = match options.hints.as_deref() {
        Some(path) => crate::hints::HintCatalog::load(path)?,
        None => crate::hints::HintCatalog::builtin(),
    };
    let model_path = options
        .model
        .clone()
        .unwrap_or_else(|| options.models_dir.join(models::DEFAULT_WHISPER));
    let model = WhisperModel::load(&model_path)?;
    let transcriber = model.transcriber(DecodeOptions {
        threads: threads.max(1) as u32,
        // A new state per decode would add 10-35 ms to every hint; live output
        // depends on when audio arrives anyway, so it is not reproducible as is.
        fresh_state: false,
        ..options.decode.clone()
    })?;
    crate::onnx::init_runtime(&options.models_dir.join(models::ONNX_RUNTIME))?;
    let vad = vad::silero::SileroVad::new(&options.models_dir.join(models::SILERO_VAD))?;
    let tagging = if options.tags {
        let (scorer, tagger) = build_tagging(&options.models_dir, options.lexicon.as_deref(), 1)?;
        Some((Box::new(scorer) as BoxedScorer, tagger))
    } else {
        None
    };
    Ok(LiveParts {
        vad,
        worker: crate::live::worker::Worker {
            transcriber: Box::new(transcriber),
            language: options.pipeline.language,
            speakers: Vec::new(),
            tagging,
            catalog: std::sync::Arc::new(hints),
            redact: options.pipeline.redact,
        },
    })
}
