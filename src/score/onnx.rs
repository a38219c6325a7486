//! The real [`TextScorer`]: multilingual-e5-small (int8) with subtext's trained heads,
//! one ONNX model (`models/subtext-scorer.onnx`, made by `models/fetch_models.py`),
//! tokenised with the XLM-R `tokenizer.json` through the pure-Rust `tokenizers` crate.
//!
//! The label lists and calibrated thresholds come from the model's own metadata
//! (`subtext.scorer`), so a retrained model cannot be read with the wrong labels.
//! A model with a cue tagger (output `cue_tokens`, metadata `cue_tagger`) also yields
//! metaphor cue spans; one without it (an older or a user's model) yields none.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ort::session::Session;
use ort::value::TensorRef;
use serde::Deserialize;
use tokenizers::Tokenizer;

use super::cues::{self, CueThresholds};
use super::{Labels, TextScorer, TextScores};
use crate::error::{Error, Result};

/// onnxruntime's fused SkipLayerNormalization kernel measured 20-25% slower on
/// this int8 graph than the Add + LayerNormalization it replaces, and further from
/// the unfused result. `models/scorer/train_heads.py` embeds with the same setting,
/// so the heads see at run time what they were trained on.
const DISABLED_OPTIMIZERS: &str = "SkipLayerNormFusion";

#[derive(Debug, Deserialize)]
struct Meta {
    schema: u32,
    query_prefix: String,
    max_tokens: usize,
    labels: MetaLabels,
    emotion_thresholds: Vec<f32>,
    display_nl: BTreeMap<String, String>,
    #[serde(default)]
    cue_tagger: Option<MetaCues>,
}

#[derive(Debug, Deserialize)]
struct MetaCues {
    labels: Vec<String>,
    threshold: f32,
    extend: f32,
}

#[derive(Debug, Deserialize)]
struct MetaLabels {
    emotion: Vec<String>,
    metaphor: Vec<String>,
    need: Vec<String>,
    contact_type: Vec<String>,
}

pub struct OnnxScorer {
    session: Session,
    tokenizer: FreedBeside<Tokenizer>,
    labels: Labels,
    prefix: String,
    max_tokens: usize,
    /// Set when the model has a cue tagger.
    cue_thresholds: Option<CueThresholds>,
    path: PathBuf,
    sha256: String,
}

const CUE_OUTPUT: &str = "cue_tokens";

const OUTPUTS: [&str; 6] = [
    "emotion",
    "metaphor",
    "need",
    "contact_type",
    "valence",
    "intensity",
];

impl OnnxScorer {
    /// Loads the model and its tokenizer. ONNX Runtime must be initialised
    /// (`crate::onnx::init_runtime`). `threads`: intra-op threads (1 where whisper
    /// decodes at the same time, as in live mode).
    pub fn load(model: &Path, tokenizer: &Path, threads: usize) -> Result<Self> {
        // The file hash takes a few hundred ms: on the other core meanwhile.
        let model_hash = {
            let path = model.to_path_buf();
            std::thread::spawn(move || crate::models::sha256_file(&path))
        };
        Self::load_with(model, tokenizer, threads, || {
            crate::models::join(model_hash)
        })
    }

    /// As [`OnnxScorer::load`], for a caller that has already hashed the model
    /// file (`sha256`), so that it is not read twice.
    pub fn load_hashed(
        model: &Path,
        tokenizer: &Path,
        threads: usize,
        sha256: String,
    ) -> Result<Self> {
        Self::load_with(model, tokenizer, threads, || Ok(sha256))
    }

    /// Fails, naming the file and how to make it, unless both files exist.
    pub fn check_files(model: &Path, tokenizer: &Path) -> Result<()> {
        match [model, tokenizer].into_iter().find(|p| !p.is_file()) {
            Some(missing) => Err(Error::ModelLoad {
                path: missing.to_path_buf(),
                reason: "file not found; run `make models` (models/fetch_models.py) to make it"
                    .into(),
            }),
            None => Ok(()),
        }
    }

    /// `sha256`: the model file's hash, asked for once the model has loaded.
    fn load_with(
        model: &Path,
        tokenizer: &Path,
        threads: usize,
        sha256: impl FnOnce() -> Result<String>,
    ) -> Result<Self> {
        let env = crate::onnx::environment_for(model)?;
        let load_err = |path: &Path, reason: String| Error::ModelLoad {
            path: path.to_path_buf(),
            reason,
        };
        Self::check_files(model, tokenizer)?;
        // The tokenizer (250k pieces of JSON) takes a few hundred ms: on the other
        // core while ONNX Runtime builds the session.
        let tokenizer_load = {
            let path = tokenizer.to_path_buf();
            std::thread::spawn(move || Tokenizer::from_file(&path).map_err(|e| e.to_string()))
        };
        let session = Session::builder(env)
            .and_then(|b| {
                Ok(b.with_intra_threads(threads.max(1))?
                    // Threads that spin between runs would take cores from whisper.
                    .with_intra_op_spinning(false)?
                    .with_inter_threads(1)?
                    .with_disabled_optimizers(DISABLED_OPTIMIZERS)?)
            })
            .and_then(|mut b| b.commit_from_file(model))
            .map_err(|e| load_err(model, e.to_string()))?;
        let outputs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
        if let Some(missing) = OUTPUTS.iter().find(|o| !outputs.contains(o)) {
            return Err(load_err(
                model,
                format!("not a subtext scorer: output {missing:?} missing (has {outputs:?})"),
            ));
        }
        let meta_json = session
            .metadata()
            .ok()
            .and_then(|m| m.custom("subtext.scorer"))
            .ok_or_else(|| load_err(model, "no `subtext.scorer` metadata".into()))?;
        let meta: Meta = serde_json::from_str(&meta_json)
            .map_err(|e| load_err(model, format!("bad `subtext.scorer` metadata: {e}")))?;
        if meta.schema != 1 || meta.emotion_thresholds.len() != meta.labels.emotion.len() {
            return Err(load_err(
                model,
                "unsupported `subtext.scorer` metadata".into(),
            ));
        }
        let cue_thresholds = match &meta.cue_tagger {
            Some(c) if outputs.contains(&CUE_OUTPUT) => {
                if c.labels != meta.labels.metaphor {
                    return Err(load_err(
                        model,
                        "the cue tagger's labels differ from the metaphor labels".into(),
                    ));
                }
                Some(CueThresholds {
                    start: c.threshold,
                    extend: c.extend,
                })
            }
            _ => None,
        };
        let tokenizer_model =
            crate::models::join(tokenizer_load).map_err(|e| load_err(tokenizer, e))?;
        let sha256 = sha256()?;
        Ok(OnnxScorer {
            session,
            tokenizer: FreedBeside(Some(tokenizer_model)),
            labels: Labels {
                emotion: meta.labels.emotion,
                metaphor: meta.labels.metaphor,
                need: meta.labels.need,
                contact_type: meta.labels.contact_type,
                emotion_thresholds: meta.emotion_thresholds,
                display_nl: meta.display_nl,
            },
            prefix: meta.query_prefix,
            max_tokens: meta.max_tokens,
            cue_thresholds,
            sha256,
            path: model.to_path_buf(),
        })
    }
}

impl TextScorer for OnnxScorer {
    fn labels(&self) -> &Labels {
        &self.labels
    }

    fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn sha256(&self) -> String {
        self.sha256.clone()
    }

    /// Scores each text in a model run of its own. The int8 encoder quantizes a
    /// run's activations with one scale, so in a batch a text's scores would move
    /// with its batch-mates (and with padding); alone they are reproducible, the
    /// same in batch, `score` and live, and as fast on one core, since no padding
    /// is computed.
    fn score(&mut self, texts: &[&str]) -> Result<Vec<TextScores>> {
        texts.iter().map(|text| self.score_one(text)).collect()
    }
}

impl OnnxScorer {
    fn score_one(&mut self, text: &str) -> Result<TextScores> {
        let err = |e: String| Error::Scoring(e);
        // Character offsets, so that cue spans index the text as the lexicon's do.
        let encoding = self
            .tokenizer
            .encode_char_offsets(format!("{}{text}", self.prefix), true)
            .map_err(|e| err(e.to_string()))?;
        let all = encoding.get_ids();
        let mut ids: Vec<i64> = all
            .iter()
            .take(self.max_tokens.max(1))
            .map(|&id| id as i64)
            .collect();
        // An over-long turn keeps its start and the closing </s>.
        if all.len() > ids.len() {
            *ids.last_mut().expect("max_tokens >= 1") = *all.last().expect("non-empty") as i64;
        }
        if ids.is_empty() {
            return Err(err("the tokenizer returned no tokens".into()));
        }
        let mask = vec![1i64; ids.len()];
        let width = ids.len();
        let outputs = self
            .session
            .run(ort::inputs![
                "input_ids" => TensorRef::from_array_view(([1, width], &ids[..])).map_err(|e| err(e.to_string()))?,
                "attention_mask" => TensorRef::from_array_view(([1, width], &mask[..])).map_err(|e| err(e.to_string()))?,
            ])
            .map_err(|e| err(e.to_string()))?;
        let head = |name: &str, len: usize| -> Result<Vec<f32>> {
            let (_, data) = outputs[name]
                .try_extract_tensor::<f32>()
                .map_err(|e| err(e.to_string()))?;
            if data.len() != len {
                return Err(err(format!(
                    "output {name} has {} values, the labels {len}",
                    data.len()
                )));
            }
            Ok(data.to_vec())
        };
        let labels = &self.labels;
        let cue_spans = match self.cue_thresholds {
            Some(thresholds) => {
                let (_, probs) = outputs[CUE_OUTPUT]
                    .try_extract_tensor::<f32>()
                    .map_err(|e| err(e.to_string()))?;
                let offsets = text_offsets(
                    encoding.get_offsets(),
                    self.prefix.chars().count(),
                    width,
                    all.len() > width,
                );
                let classes = labels.metaphor.len();
                if probs.len() != width * classes {
                    return Err(err(format!(
                        "output {CUE_OUTPUT} has {} values for {width} tokens and {classes} classes",
                        probs.len()
                    )));
                }
                cues::decode(text, &offsets, probs, classes, thresholds)
            }
            None => Vec::new(),
        };
        Ok(TextScores {
            emotion: head(OUTPUTS[0], labels.emotion.len())?,
            metaphor: head(OUTPUTS[1], labels.metaphor.len())?,
            need: head(OUTPUTS[2], labels.need.len())?,
            contact_type: head(OUTPUTS[3], labels.contact_type.len())?,
            valence: head(OUTPUTS[4], 1)?[0],
            intensity: head(OUTPUTS[5], 1)?[0],
            cue_spans,
        })
    }
}

/// Holds a value that is slow to free and frees it on a thread of its own: the
/// tokenizer's 250k-piece vocabulary trie takes about 0.2 s to free, which every
/// command waited for as it exited. A process that exits first never frees it.
struct FreedBeside<T: Send + 'static>(Option<T>);

impl<T: Send + 'static> std::ops::Deref for FreedBeside<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0.as_ref().expect("present until dropped")
    }
}

impl<T: Send + 'static> Drop for FreedBeside<T> {
    fn drop(&mut self) {
        if let Some(value) = self.0.take() {
            // Should no thread start, the value is freed here, as usual.
            let _ = std::thread::Builder::new()
                .name("free".into())
                .spawn(move || drop(value));
        }
    }
}

/// Each of the first `width` tokens' character range in the text (the encoded input
/// minus the query prefix), or `None` for a token that is not the text's: special
/// tokens (empty range), the prefix, and the closing token that replaced the last one
/// of a `truncated` turn.
fn text_offsets(
    offsets: &[(usize, usize)],
    prefix_chars: usize,
    width: usize,
    truncated: bool,
) -> Vec<Option<(usize, usize)>> {
    offsets
        .iter()
        .take(width)
        .enumerate()
        .map(|(t, &(start, end))| {
            let own = start < end && end > prefix_chars && !(truncated && t + 1 == width);
            own.then(|| (start.saturating_sub(prefix_chars), end - prefix_chars))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::text_offsets;

    #[test]
    fn offsets_drop_the_prefix_and_special_tokens() {
        // <s> "query" ":" "▁Hallo" "▁daar" </s>, prefix "query: " (7 characters).
        let enc = [(0, 0), (0, 5), (5, 6), (7, 12), (13, 17), (0, 0)];
        assert_eq!(
            text_offsets(&enc, 7, 6, false),
            [None, None, None, Some((0, 5)), Some((6, 10)), None]
        );
        // Truncated to 5: the last kept position holds </s>, not "▁daar".
        assert_eq!(
            text_offsets(&enc, 7, 5, true),
            [None, None, None, Some((0, 5)), None]
        );
    }
}
