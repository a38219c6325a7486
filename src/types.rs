//! The transcript model every stage produces and every writer consumes.
//!
//! `Transcript` is what `NAME.subtext.json` holds; its layout is the documented,
//! versioned schema (see README "Output schema"). Times are seconds from the start
//! of the call, as `f64` rounded to milliseconds when written.

use serde::{Deserialize, Serialize};

/// Bumped whenever a field changes meaning or disappears (additions keep it).
pub const SCHEMA_VERSION: &str = "subtext/1";

/// Who is speaking on a track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Speaker {
    Agent,
    Customer,
    Unknown,
}

impl Speaker {
    /// Display name used in WebVTT voice spans and subtitles.
    pub fn title(self) -> &'static str {
        match self {
            Speaker::Agent => "Agent",
            Speaker::Customer => "Customer",
            Speaker::Unknown => "Speaker",
        }
    }
}

/// One recognised word with its timing and the recogniser's confidence (0..1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    pub text: String,
    pub start: f64,
    pub end: f64,
    pub probability: f32,
}

#[cfg(test)]
impl Word {
    /// Test words: one per whitespace-separated piece of `text`, the i-th starting
    /// at `i * step` seconds and lasting `length`, all at probability 0.9.
    pub(crate) fn sequence(text: &str, step: f64, length: f64) -> Vec<Word> {
        text.split_whitespace()
            .enumerate()
            .map(|(i, w)| Word {
                text: w.into(),
                start: i as f64 * step,
                end: i as f64 * step + length,
                probability: 0.9,
            })
            .collect()
    }
}

/// A stretch of one speaker's speech, as a reader of the call would split it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    /// 0-based position in the call, in time order.
    pub id: usize,
    pub speaker: Speaker,
    pub start: f64,
    pub end: f64,
    pub text: String,
    pub words: Vec<Word>,
    /// Emotion, metaphor, need and contact-type hypotheses (absent with `--no-tags`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<TurnTags>,
    /// Voice cues measured on this speaker's own channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acoustic: Option<AcousticCues>,
}

/// A label with the scorer's confidence in it (0..1). A hypothesis, never a verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelScore {
    pub id: String,
    pub confidence: f32,
}

/// Where a metaphor cue was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CueSource {
    /// The metaphor lexicon matched these words (the model's view sets the confidence).
    Lexicon,
    /// The model, not the lexicon: its cue tagger marked these words (with `quote` and
    /// `span`), or its sentence head sees the deep metaphor in the turn as a whole
    /// (without them).
    Model,
}

/// A deep-metaphor cue: which of Zaltman's seven, and the customer's own words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaphorCue {
    /// balance, transformation, journey, container, connection, resource or control.
    pub class: String,
    pub confidence: f32,
    /// The quoted words, exactly as in the turn text (absent for a `model` cue that is
    /// about the turn as a whole).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
    /// Character (Unicode scalar) offsets of `quote` in the turn text, end exclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span: Option<(usize, usize)>,
    pub source: CueSource,
}

/// The scorer's hypotheses for one turn. Tags below their calibrated threshold are
/// left out; `emotion_scores` keeps every probability for curves and audits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnTags {
    /// Emotions above threshold, most likely first (at least one).
    pub emotions: Vec<LabelScore>,
    /// Every emotion's probability, in label-table order.
    pub emotion_scores: Vec<f32>,
    /// -1 (very negative) .. 1 (very positive).
    pub valence: f32,
    /// 0 (flat) .. 1 (very strong); text and voice combined when the voice is known.
    pub intensity: f32,
    pub metaphors: Vec<MetaphorCue>,
    /// The question behind the question, when the scorer is confident enough.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub need: Option<LabelScore>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_type: Option<LabelScore>,
}

/// Voice cues of one turn, relative to the same speaker elsewhere in the call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AcousticCues {
    /// Loudness (RMS over the turn's words) in dB relative to the speaker's median turn.
    pub loudness_db: f32,
    /// Median pitch in Hz over voiced frames (absent when too little is voiced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitch_hz: Option<f32>,
    /// Pitch range (10th to 90th percentile) in semitones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitch_range_st: Option<f32>,
    /// Words per second of speaking time.
    pub speech_rate: f32,
    /// Seconds of silence between words longer than 0.3 s, summed.
    pub pauses: f32,
    /// Seconds during which the other speaker talked at the same time.
    pub overlap: f32,
    /// The turn started while the other speaker was still talking.
    pub interrupts: bool,
}

/// The label table of a tagged transcript: ids in score order and Dutch display names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelTable {
    pub emotion: Vec<String>,
    pub metaphor: Vec<String>,
    pub need: Vec<String>,
    pub contact_type: Vec<String>,
    /// Dutch display name per emotion id (e.g. frustration: frustratie).
    pub display_nl: std::collections::BTreeMap<String, String>,
}

/// Facts about the call and about what produced the transcript, so that a result can
/// be reproduced and a resumed batch can tell whether it is still valid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallMeta {
    /// The input path as given (relative to the batch root where there is one).
    pub source: String,
    /// SHA-256 of the input file's bytes.
    pub sha256: String,
    /// Length of the audio in seconds.
    pub duration: f64,
    /// Sample rate of the input file (audio is resampled to 16 kHz internally).
    pub sample_rate: u32,
    /// Number of channels in the input file.
    pub channels: u16,
    /// How channels were mapped to speakers, e.g. `["agent", "customer"]` or `["unknown"]`.
    pub channel_map: Vec<Speaker>,
    /// Language of the call (`nl` or `en`) and how it was chosen.
    pub language: String,
    pub language_source: LanguageSource,
    pub model: ModelInfo,
    /// Fingerprint of every setting that changes the transcript; used by resume.
    pub settings_hash: String,
    pub subtext_version: String,
    /// Whether personal data was replaced by placeholders such as `[IBAN]`.
    pub redacted: bool,
    /// Seconds of speech found by voice activity detection (all tracks).
    pub speech_seconds: f64,
    /// Wall-clock seconds spent on the call.
    pub processing_seconds: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LanguageSource {
    /// Given with `--language`.
    Forced,
    /// Detected (only Dutch and English are considered).
    Detected,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// File name of the whisper model.
    pub asr: String,
    pub asr_sha256: String,
    pub whisper_cpp: String,
    /// File name of the voice activity model, or `none`.
    pub vad: String,
    /// File name and SHA-256 of the tag scorer (absent with `--no-tags`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scorer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scorer_sha256: Option<String>,
}

/// The whole result for one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    pub schema: String,
    pub call: CallMeta,
    /// What the tag ids mean (present when turns carry tags).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<LabelTable>,
    pub turns: Vec<Turn>,
    /// Hints an agent would have seen, in time order (absent without tags).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hints: Option<Vec<Hint>>,
    /// The call as a whole: emotion curve, trajectory, moments, outcome, follow-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<CallSummary>,
}

/// A double-quoted string in an error message.
static QUOTED: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(r#""(?:[^"\\]|\\.)*""#).expect("valid regex"));

impl Transcript {
    /// Reads a `NAME.subtext.json`; the error names the file and, for a malformed
    /// one, the field that is wrong.
    pub fn read(path: &std::path::Path) -> crate::Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| crate::Error::io(path, e))?;
        let mut json = serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(&mut json).map_err(|e| {
            // serde quotes the offending value, which may be call content: the
            // message keeps where and what kind of error, not the value.
            let reason = e.to_string();
            let reason = QUOTED.replace_all(&reason, "\"…\"");
            crate::Error::BadTranscript {
                path: path.to_path_buf(),
                reason: reason.into_owned(),
            }
        })
    }
}

/// A suggestion for the agent about what may lie behind a customer turn. Worded as
/// a possibility, quoting the customer; `evidence` says why it fired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hint {
    /// The customer turn it belongs to.
    pub turn: usize,
    /// When it would have appeared live: the end of that turn, in seconds.
    pub time: f64,
    /// The catalog entry that produced it.
    pub id: String,
    /// The need (question behind the question) the hint serves.
    pub need: String,
    /// `nl` or `en`: the call's language.
    pub language: String,
    pub text: String,
    /// At most one open question the agent may ask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    /// The lowest confidence among the tags the hint rests on (0..1).
    pub confidence: f32,
    pub evidence: HintEvidence,
}

/// The tags, signals and quoted words a hint rests on.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HintEvidence {
    /// The customer's own words the hint quotes.
    pub quote: String,
    /// Where the quote came from: `metaphor`, `signal` or `turn`.
    pub quote_source: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emotions: Vec<LabelScore>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metaphor: Option<MetaphorCue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub need: Option<LabelScore>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_type: Option<LabelScore>,
    /// Catalog signals found in this turn's words (e.g. `hold_time`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signals: Vec<String>,
    /// What the call so far added (earlier signals, `worsening`, `negative_streak`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<String>,
    pub valence: f32,
    pub intensity: f32,
}

/// A call seen whole, computed from its turns and tags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallSummary {
    /// One entry per speaker with tagged turns (absent without tags).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub curves: Vec<SpeakerCurve>,
    /// The call's trajectory: the customer's (or, in mono calls, the single speaker's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trajectory: Option<Trajectory>,
    /// Negative peak, recovery and 9+ moments, in time order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moments: Vec<Moment>,
    /// Main contact type of the call, from the customer's turns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_type: Option<LabelScore>,
    pub outcome: Outcome,
    pub talk: TalkStats,
    pub follow_up: FollowUp,
}

/// Valence and intensity of one speaker over the call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeakerCurve {
    pub speaker: Speaker,
    /// One point per tagged turn, raw and smoothed.
    pub points: Vec<CurvePoint>,
    /// Seconds between samples of `valence` and `intensity`.
    pub step: f64,
    /// The smoothed curve resampled every `step` seconds from 0, for plotting.
    pub valence: Vec<f32>,
    pub intensity: Vec<f32>,
    pub start: EmotionState,
    /// The most strongly felt point: |valence| × (0.5 + intensity), negative points
    /// weighing 1.5× (a negative peak outweighs an equal positive one).
    pub peak: EmotionState,
    pub end: EmotionState,
    pub trajectory: Trajectory,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    pub turn: usize,
    /// Middle of the turn, in seconds.
    pub time: f64,
    pub valence: f32,
    pub intensity: f32,
    /// Exponentially smoothed over the speaker's earlier turns.
    pub smooth_valence: f32,
    pub smooth_intensity: f32,
}

/// Where a speaker stood at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmotionState {
    pub turn: usize,
    pub time: f64,
    pub valence: f32,
    pub intensity: f32,
    /// The turn's most likely emotion.
    pub emotion: String,
}

/// How a speaker's feeling moved over the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trajectory {
    /// Ended clearly better than it started, without a negative-to-positive turn.
    Improving,
    /// Ended clearly worse than it started.
    Worsening,
    /// No clear change.
    Stable,
    /// Went from negative to positive (the service-recovery moment) and stayed there.
    Recovered,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MomentKind {
    /// The most negative point of the customer's curve.
    NegativePeak,
    /// The first positive turn after a negative one.
    Recovery,
    /// A clearly positive, strongly felt turn (a "9+" moment).
    PositivePeak,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Moment {
    pub kind: MomentKind,
    pub turn: usize,
    pub time: f64,
    pub speaker: Speaker,
    pub valence: f32,
    pub intensity: f32,
    /// The words of that turn (redacted like the transcript).
    pub quote: String,
}

/// Whether the customer's matter got solved (functional), kept apart from how the
/// customer felt at the end (emotional).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub functional: FunctionalOutcome,
    /// The words that decided `functional` (empty when unknown).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    /// The customer's end state: positive, neutral or negative (absent without tags).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emotional: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FunctionalOutcome {
    Resolved,
    Partly,
    NotResolved,
    Unknown,
}

/// Who talked how much, silences and interruptions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TalkStats {
    pub agent_seconds: f64,
    pub customer_seconds: f64,
    /// Share of talk time that is the agent's (absent in mono calls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_talk_ratio: Option<f32>,
    /// Share of the call in which nobody speaks.
    pub silence_share: f32,
    /// Seconds in which both speak.
    pub overlap_seconds: f64,
    /// Turns that started while the other speaker was still talking.
    pub interruptions_by_agent: usize,
    pub interruptions_by_customer: usize,
}

/// Whether someone should get back to this customer, and why (closed-loop feedback).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowUp {
    pub needed: bool,
    /// complaint, unrecovered_negative_end, cancellation_intent, compliment_to_thank.
    pub reasons: Vec<String>,
}
