//! Agent hints: from a customer turn's tags and the call so far to at most one short
//! suggestion, worded by the [`catalog`] (a data file), quoting the customer.
//!
//! [`HintEngine`] sees the turns of one call in time order, as a live call would
//! deliver them, so batch and live give the same hints. Pure code over tags: it is
//! tested with hand-made tags, and with the real scorer in the integration tests.
//!
//! Rules from the domain reference (§9): a hint is a possibility, never a script; it
//! quotes the customer's words; it stays in the customer's metaphor; at most one open
//! question; no hint when the evidence is weak; one hint at a time.

pub mod catalog;

use std::collections::BTreeSet;

pub use catalog::HintCatalog;
use catalog::{Entry, MAX_QUOTE_CHARS};

use crate::summary::NEGATIVE_VALENCE;
use crate::types::{
    Hint, HintEvidence, LabelScore, LabelTable, MetaphorCue, Speaker, Transcript, Turn,
};

/// Confidence given to evidence that is the customer's literal words (a signal):
/// high, but below a certain model score, since words can be meant otherwise. It is
/// scaled by how sure the recogniser was of the turn's words: a signal found in
/// misheard speech is weak evidence.
const SIGNAL_CONFIDENCE: f32 = 0.9;

/// The hints of one call, turn by turn.
pub struct HintEngine<'a> {
    catalog: &'a HintCatalog,
    language: String,
    labels: Option<&'a LabelTable>,
    /// Signals of earlier customer turns.
    seen_signals: BTreeSet<String>,
    /// Whether an earlier customer turn was negative.
    earlier_negative: bool,
    /// Valence of the last two customer turns, newest last (all the trend rules
    /// read; a live stream may run for hours).
    recent: Vec<f32>,
    fired: BTreeSet<String>,
    /// Time and priority of the last hint shown.
    last: Option<(f64, i64)>,
}

/// A catalog entry that matches a turn, with what it rests on.
struct Candidate<'e> {
    entry: &'e Entry,
    confidence: f32,
    emotions: Vec<LabelScore>,
    metaphor: Option<MetaphorCue>,
}

impl<'a> HintEngine<'a> {
    /// `language` is the call's (`nl` or `en`); `labels` gives Dutch emotion names.
    pub fn new(catalog: &'a HintCatalog, language: &str, labels: Option<&'a LabelTable>) -> Self {
        HintEngine {
            catalog,
            language: language.to_string(),
            labels,
            seen_signals: BTreeSet::new(),
            earlier_negative: false,
            recent: Vec::with_capacity(3),
            fired: BTreeSet::new(),
            last: None,
        }
    }

    /// Takes the next turn of the call; returns the hint for it, if one is due.
    /// Only customer turns get hints: in a mono call nobody knows who speaks, and a
    /// hint about the agent's own words would be noise.
    pub fn observe(&mut self, turn: &Turn) -> Option<Hint> {
        if turn.speaker != Speaker::Customer {
            return None;
        }
        let tags = turn.tags.as_ref()?;
        let signals: Vec<(&str, &str)> = self
            .catalog
            .signals
            .iter()
            .filter_map(|s| s.find(&turn.text).map(|q| (s.id.as_str(), q)))
            .collect();
        let context = self.context(tags.valence);

        let chosen = self.choose(turn, &signals, &context);
        // The call so far grows whether or not a hint fired.
        self.seen_signals
            .extend(signals.iter().map(|(id, _)| id.to_string()));
        self.earlier_negative |= tags.valence <= NEGATIVE_VALENCE;
        self.recent.push(tags.valence);
        if self.recent.len() > 2 {
            self.recent.remove(0);
        }
        let (hint, priority) = chosen?;
        self.fired.insert(hint.id.clone());
        self.last = Some((hint.time, priority));
        Some(hint)
    }

    /// Context flags for a turn with valence `valence`, from the call before it.
    fn context(&self, valence: f32) -> Vec<String> {
        let mut flags: Vec<String> = self.seen_signals.iter().cloned().collect();
        if self.earlier_negative {
            flags.push("earlier_negative".into());
        }
        let recent = &self.recent;
        if recent.len() == 2 && valence <= -0.2 && recent.iter().all(|&v| v <= -0.2) {
            flags.push("negative_streak".into());
        }
        if !recent.is_empty() {
            let mean = recent.iter().sum::<f32>() / recent.len() as f32;
            if valence <= mean - 0.3 && valence < 0.0 {
                flags.push("worsening".into());
            }
        }
        flags
    }

    /// The hint due for `turn`, if any, with its entry's priority.
    fn choose(
        &self,
        turn: &Turn,
        signals: &[(&str, &str)],
        context: &[String],
    ) -> Option<(Hint, i64)> {
        let tags = turn.tags.as_ref()?;
        let settings = &self.catalog.settings;
        let mut candidates: Vec<Candidate> = self
            .catalog
            .entries
            .iter()
            .filter(|e| !self.fired.contains(&e.id))
            .filter_map(|e| matches(e, tags, signals, context, asr_confidence(turn)))
            .filter(|c| c.confidence >= settings.min_confidence)
            .collect();
        // Highest priority, then the most specific, then the surest.
        candidates.sort_by(|a, b| {
            (b.entry.priority, b.entry.when.count())
                .cmp(&(a.entry.priority, a.entry.when.count()))
                .then(b.confidence.total_cmp(&a.confidence))
        });
        let best = candidates.into_iter().next()?;
        if let Some((time, priority)) = self.last {
            // One hint at a time: a newer one must wait, unless it matters more.
            if turn.end - time < settings.cooldown_seconds && best.entry.priority <= priority {
                return None;
            }
        }
        let priority = best.entry.priority;
        Some((self.render(turn, best, signals, context), priority))
    }

    fn render(
        &self,
        turn: &Turn,
        c: Candidate,
        signals: &[(&str, &str)],
        context: &[String],
    ) -> Hint {
        let tags = turn.tags.as_ref().expect("only tagged turns get here");
        let entry = c.entry;
        // The customer's words: their own image first, then the words of the
        // situation, then the start of what they said.
        let lexicon_cue = c
            .metaphor
            .clone()
            .filter(|m| m.quote.is_some())
            .or_else(|| {
                tags.metaphors
                    .iter()
                    .filter(|m| m.quote.is_some())
                    .max_by(|a, b| a.confidence.total_cmp(&b.confidence))
                    .cloned()
            });
        let used_signal = entry
            .when
            .signals
            .iter()
            .find_map(|id| signals.iter().find(|(s, _)| s == id))
            .or_else(|| signals.first());
        let (quote, quote_source) = match (&lexicon_cue, used_signal) {
            (Some(cue), _) => (cue.quote.clone().unwrap_or_default(), "metaphor"),
            (None, Some((_, words))) => (words.to_string(), "signal"),
            (None, None) => (excerpt(&turn.text), "turn"),
        };
        let quote = shorten(&quote, MAX_QUOTE_CHARS);
        let lang = self.language.as_str();
        // The emotion the entry matched on, else the turn's likeliest.
        let emotion = c
            .emotions
            .first()
            .or(tags.emotions.first())
            .map(|e| self.display(&e.id))
            .unwrap_or_default();
        let mut text = entry
            .text
            .get(lang)
            .replace("{quote}", &quote)
            .replace("{emotion}", &emotion);
        let question = entry.question.as_ref().map(|q| q.get(lang).to_string());
        if let (true, "metaphor", Some(cue)) = (entry.mirror, quote_source, &lexicon_cue) {
            if let Some(mirror) = self.catalog.mirror.get(&cue.class) {
                let with = format!("{text} {}", mirror.get(lang));
                let length =
                    with.chars().count() + question.as_ref().map_or(0, |q| q.chars().count() + 1);
                if length <= self.catalog.settings.max_chars {
                    text = with;
                }
            }
        }
        Hint {
            turn: turn.id,
            time: turn.end,
            id: entry.id.clone(),
            need: entry.need.clone(),
            language: lang.to_string(),
            text,
            question,
            confidence: crate::score::round3(c.confidence),
            evidence: HintEvidence {
                quote,
                quote_source: quote_source.to_string(),
                emotions: c.emotions,
                metaphor: lexicon_cue.or(c.metaphor),
                need: tags.need.clone(),
                contact_type: tags.contact_type.clone(),
                signals: signals.iter().map(|(id, _)| id.to_string()).collect(),
                context: context.to_vec(),
                valence: tags.valence,
                intensity: tags.intensity,
            },
        }
    }

    /// An emotion's name in the call's language.
    fn display(&self, id: &str) -> String {
        match (self.language.as_str(), self.labels) {
            ("en", _) | (_, None) => id.replace('_', " "),
            (_, Some(labels)) => labels
                .display_nl
                .get(id)
                .cloned()
                .unwrap_or_else(|| id.to_string()),
        }
    }
}

/// Whether `entry` applies to a turn, and the confidence of the tags it rests on
/// (the lowest of them: a hint is as sure as its weakest evidence).
fn matches<'e>(
    entry: &'e Entry,
    tags: &crate::types::TurnTags,
    signals: &[(&str, &str)],
    context: &[String],
    asr_confidence: f32,
) -> Option<Candidate<'e>> {
    let w = &entry.when;
    let mut confidence: f32 = 1.0;
    let mut used = 0;

    let emotions: Vec<LabelScore> = tags
        .emotions
        .iter()
        .filter(|e| w.emotions.contains(&e.id))
        .cloned()
        .collect();
    if !w.emotions.is_empty() {
        let best = emotions.iter().map(|e| e.confidence).fold(0.0, f32::max);
        if emotions.is_empty() {
            return None;
        }
        confidence = confidence.min(best);
        used += 1;
    }
    let metaphor = tags
        .metaphors
        .iter()
        .filter(|m| w.metaphors.contains(&m.class))
        .max_by(|a, b| a.confidence.total_cmp(&b.confidence))
        .cloned();
    if !w.metaphors.is_empty() {
        confidence = confidence.min(metaphor.as_ref()?.confidence);
        used += 1;
    }
    for (wanted, got) in [
        (&w.needs, &tags.need),
        (&w.contact_types, &tags.contact_type),
    ] {
        if !wanted.is_empty() {
            let got = got.as_ref().filter(|g| wanted.contains(&g.id))?;
            confidence = confidence.min(got.confidence);
            used += 1;
        }
    }
    if !w.signals.is_empty() {
        if !w
            .signals
            .iter()
            .any(|s| signals.iter().any(|(id, _)| id == s))
        {
            return None;
        }
        confidence = confidence.min(SIGNAL_CONFIDENCE * asr_confidence);
        used += 1;
    }
    if !w.context.is_empty() && !w.context.iter().any(|c| context.contains(c)) {
        return None;
    }
    if w.min_intensity.is_some_and(|m| tags.intensity < m)
        || w.max_valence.is_some_and(|m| tags.valence > m)
        || w.min_valence.is_some_and(|m| tags.valence < m)
    {
        return None;
    }
    if used == 0 {
        // Only context or valence conditions: the turn's own tags must carry it.
        confidence = tags.emotions.first().map_or(0.0, |e| e.confidence);
    }
    Some(Candidate {
        entry,
        confidence,
        emotions,
        metaphor,
    })
}

/// Mean recogniser confidence of a turn's words (1 for text without words).
fn asr_confidence(turn: &Turn) -> f32 {
    if turn.words.is_empty() {
        return 1.0;
    }
    turn.words.iter().map(|w| w.probability).sum::<f32>() / turn.words.len() as f32
}

/// The first clause of a turn, at most eight words: the quote when nothing sharper is known.
fn excerpt(text: &str) -> String {
    let clause = text
        .split(['.', ',', ';', '!', '?'])
        .map(str::trim)
        .find(|c| c.split_whitespace().count() >= 2)
        .unwrap_or(text.trim());
    let words: Vec<&str> = clause.split_whitespace().collect();
    if words.len() > 8 {
        format!("{} …", words[..8].join(" "))
    } else {
        words.join(" ")
    }
}

/// Cuts `s` to at most `max` characters, at a word, marking the cut.
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out = String::new();
    for word in s.split_whitespace() {
        if out.chars().count() + word.chars().count() + 3 > max {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out.push_str(" …");
    out
}

/// Every hint of a whole call, in turn order.
pub fn hints_for_call(catalog: &HintCatalog, transcript: &Transcript) -> Vec<Hint> {
    let mut engine = HintEngine::new(
        catalog,
        &transcript.call.language,
        transcript.labels.as_ref(),
    );
    transcript
        .turns
        .iter()
        .filter_map(|t| engine.observe(t))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::types::{CueSource, TurnTags};

    const CATALOG: &str = r#"
version = 1
[settings]
min_confidence = 0.5
cooldown_seconds = 20
max_chars = 260
[signals.hold_time]
nl = ['wacht(en)? al', 'aan de lijn']
en = ['waiting']
[signals.repeat_contact]
nl = ['(derde|tweede) keer']
en = ['third time']
[signals.cancellation]
nl = ['opzeggen']
en = ['cancel']
[outcome.resolved]
nl = ['is aangepast']
en = ['I will correct it']
[outcome.pending]
nl = ['bel u (morgen )?terug']
en = ['call you back']
[mirror.container]
nl = "Geef eerst ruimte."
en = "Give room first."
[[hint]]
id = "lost-time"
need = "time_effort"
priority = 80
when = { signals = ["hold_time"], emotions = ["anger", "frustration"] }
text = { nl = "Mogelijk speelt: verloren tijd. Klant noemt \"{quote}\".", en = "Possibly: lost time. Customer says \"{quote}\"." }
question = { nl = "Wat zou nu helpen?", en = "What would help now?" }
[[hint]]
id = "one-owner"
need = "ownership"
priority = 70
when = { context = ["repeat_contact"], emotions = ["anger", "frustration"] }
text = { nl = "Mogelijk speelt: steeds opnieuw beginnen ({emotion}). Klant noemt \"{quote}\".", en = "Possibly: starting over ({emotion}). Customer says \"{quote}\"." }
[[hint]]
id = "heard"
need = "be_heard"
priority = 30
when = { emotions = ["anger", "frustration"], min_intensity = 0.5 }
text = { nl = "Mogelijk speelt: {emotion}. Klant noemt \"{quote}\".", en = "Possibly: {emotion}. Customer says \"{quote}\"." }
"#;

    pub(crate) fn catalog() -> HintCatalog {
        HintCatalog::parse(CATALOG, "test").unwrap()
    }

    pub(crate) fn tagged(
        id: usize,
        start: f64,
        speaker: Speaker,
        text: &str,
        emotion: (&str, f32),
        valence: f32,
    ) -> Turn {
        Turn {
            id,
            speaker,
            start,
            end: start + 3.0,
            text: text.to_string(),
            words: Vec::new(),
            tags: Some(TurnTags {
                emotions: vec![LabelScore {
                    id: emotion.0.to_string(),
                    confidence: emotion.1,
                }],
                emotion_scores: Vec::new(),
                valence,
                intensity: 0.7,
                metaphors: Vec::new(),
                need: None,
                contact_type: None,
            }),
            acoustic: None,
        }
    }

    fn labels() -> LabelTable {
        LabelTable {
            emotion: vec!["anger".into(), "frustration".into()],
            metaphor: Vec::new(),
            need: Vec::new(),
            contact_type: Vec::new(),
            display_nl: [("frustration".to_string(), "frustratie".to_string())].into(),
        }
    }

    #[test]
    fn a_hint_quotes_the_signal_words_and_says_why() {
        let c = catalog();
        let mut engine = HintEngine::new(&c, "nl", None);
        let turn = tagged(
            1,
            5.0,
            Speaker::Customer,
            "Ik hang al een uur aan de lijn, echt.",
            ("anger", 0.8),
            -0.7,
        );
        let hint = engine.observe(&turn).expect("a hint");
        assert_eq!(hint.id, "lost-time");
        assert_eq!(hint.need, "time_effort");
        assert_eq!(
            hint.text,
            "Mogelijk speelt: verloren tijd. Klant noemt \"aan de lijn\"."
        );
        assert_eq!(hint.question.as_deref(), Some("Wat zou nu helpen?"));
        assert_eq!((hint.turn, hint.time), (1, 8.0));
        assert_eq!(hint.evidence.quote_source, "signal");
        assert_eq!(hint.evidence.signals, ["hold_time"]);
        assert!((hint.confidence - 0.8).abs() < 1e-6);
    }

    #[test]
    fn the_customers_metaphor_is_quoted_and_mirrored() {
        let c = catalog();
        let mut engine = HintEngine::new(&c, "en", None);
        let mut turn = tagged(
            0,
            0.0,
            Speaker::Customer,
            "I have been waiting and I'm boiling",
            ("anger", 0.9),
            -0.8,
        );
        turn.tags.as_mut().unwrap().metaphors.push(MetaphorCue {
            class: "container".into(),
            confidence: 0.8,
            quote: Some("I'm boiling".into()),
            span: Some((24, 35)),
            source: CueSource::Lexicon,
        });
        let hint = engine.observe(&turn).unwrap();
        assert_eq!(
            hint.text,
            "Possibly: lost time. Customer says \"I'm boiling\". Give room first."
        );
        assert_eq!(hint.evidence.quote_source, "metaphor");
        assert_eq!(hint.evidence.metaphor.unwrap().class, "container");
    }

    #[test]
    fn weak_evidence_agent_turns_and_untagged_turns_get_no_hint() {
        let c = catalog();
        let mut engine = HintEngine::new(&c, "nl", None);
        let weak = tagged(
            0,
            0.0,
            Speaker::Customer,
            "Ik wacht al even",
            ("anger", 0.3),
            -0.5,
        );
        assert!(engine.observe(&weak).is_none());
        let agent = tagged(
            1,
            4.0,
            Speaker::Agent,
            "U wacht al lang, sorry",
            ("frustration", 0.9),
            -0.5,
        );
        assert!(engine.observe(&agent).is_none());
        let mut plain = tagged(
            2,
            8.0,
            Speaker::Customer,
            "Ik wacht al even",
            ("anger", 0.9),
            -0.5,
        );
        plain.tags = None;
        assert!(engine.observe(&plain).is_none());
        let mono = tagged(
            3,
            12.0,
            Speaker::Unknown,
            "Ik wacht al even",
            ("anger", 0.9),
            -0.5,
        );
        assert!(engine.observe(&mono).is_none());
    }

    #[test]
    fn one_hint_at_a_time_and_never_the_same_twice() {
        let c = catalog();
        let labels = labels();
        let mut engine = HintEngine::new(&c, "nl", Some(&labels));
        let first = tagged(
            0,
            0.0,
            Speaker::Customer,
            "Dit is de derde keer, ik wacht al weken",
            ("frustration", 0.9),
            -0.6,
        );
        assert_eq!(engine.observe(&first).unwrap().id, "lost-time");
        // 10 s later, same situation: the lower-priority context hint waits.
        let soon = tagged(
            1,
            7.0,
            Speaker::Customer,
            "Ik ben er klaar mee",
            ("frustration", 0.9),
            -0.7,
        );
        assert!(engine.observe(&soon).is_none());
        // After the cooldown, the call's context (a repeat contact) is used.
        let later = tagged(
            2,
            40.0,
            Speaker::Customer,
            "Niemand doet iets",
            ("frustration", 0.9),
            -0.7,
        );
        let hint = engine.observe(&later).unwrap();
        assert_eq!(hint.id, "one-owner");
        assert!(hint.text.contains("(frustratie)"), "{}", hint.text);
        assert!(hint
            .evidence
            .context
            .contains(&"repeat_contact".to_string()));
        assert!(hint
            .evidence
            .context
            .contains(&"negative_streak".to_string()));
        assert_eq!(hint.evidence.quote_source, "turn");
        assert_eq!(hint.evidence.quote, "Niemand doet iets");
        // Waiting again, much later: lost-time already fired, so the general one.
        let again = tagged(
            3,
            90.0,
            Speaker::Customer,
            "Ik wacht al weer",
            ("anger", 0.9),
            -0.7,
        );
        assert_eq!(engine.observe(&again).unwrap().id, "heard");
    }

    #[test]
    fn quotes_are_short() {
        assert_eq!(
            excerpt("Nou. Ik wil gewoon weten waar mijn pakket is en wanneer het komt, want"),
            "Ik wil gewoon weten waar mijn pakket is …"
        );
        let long = "a ".repeat(50);
        assert!(shorten(&long, 20).chars().count() <= 20);
    }
}
