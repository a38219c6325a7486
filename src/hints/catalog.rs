//! The hint catalog: a TOML data file a CX team edits without touching code.
//!
//! It holds the settings, the *signals* (phrases that mark a situation, such as
//! hold time or a third call), one *mirror* sentence per deep metaphor, the phrases
//! that tell how a call ended, and the hint entries: conditions on the tags and
//! text templates in Dutch and English. See `models/hints.toml` for the format.
//!
//! Everything is checked on load; an error names the file, the entry and the field.
//! One rule is not the file's to relax: no text that can reach a worried customer
//! may push a sale ([`PERSUASION_WORDS`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use regex::{Regex, RegexBuilder};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::score::{lexicon, CONTACT_TYPES, EMOTIONS, NEEDS};

/// The catalog shipped with subtext.
pub const BUILTIN: &str = include_str!("../../models/hints.toml");

/// Context flags the engine computes from the call so far (besides earlier signals).
pub const BUILTIN_CONTEXT: [&str; 3] = ["earlier_negative", "negative_streak", "worsening"];

/// The slots a text template may use.
pub const SLOTS: [&str; 2] = ["quote", "emotion"];

/// Words of a sales or retention push (matched as word prefixes, case-insensitive).
/// Domain rule: detected fear or worry is never used to sell (`domain.md` §9.20), and
/// a turn can carry worry next to anger, so no entry at all may hold one. Words with
/// an innocent everyday sense ("pakket" is a parcel, "premium" an insurance premium,
/// "deal with") are listed only in their selling phrases.
pub const PERSUASION_WORDS: [&str; 27] = [
    "aanbieding",
    "aanbod doen",
    "bied aan",
    "bied een",
    "korting",
    "upgrade",
    "groter pakket",
    "duurder pakket",
    "extra pakket",
    "verkop",
    "verkoop",
    "bijverkoop",
    "extra product",
    "extra verzekering",
    "voordeel",
    "behouden",
    "binnenhouden",
    "sell",
    "sale",
    "upsell",
    "cross-sell",
    "discount",
    "a deal",
    "special offer",
    "offer",
    "retain",
    "retention",
];

/// Text in the two languages subtext speaks.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Localized {
    pub nl: String,
    pub en: String,
}

impl Localized {
    /// The text for `language` (`en`, else Dutch).
    pub fn get(&self, language: &str) -> &str {
        if language == "en" {
            &self.en
        } else {
            &self.nl
        }
    }

    fn both(&self) -> [(&'static str, &str); 2] {
        [("nl", &self.nl), ("en", &self.en)]
    }
}

/// Catalog-wide settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// A hint fires only when its evidence confidence reaches this.
    pub min_confidence: f32,
    /// After a hint, no other hint for this long unless it has a higher priority.
    pub cooldown_seconds: f64,
    /// Longest rendered hint (text, mirror sentence and question together).
    pub max_chars: usize,
}

/// Conditions of an entry; every one given must hold, lists mean "any of".
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    #[serde(default)]
    pub emotions: Vec<String>,
    #[serde(default)]
    pub metaphors: Vec<String>,
    #[serde(default)]
    pub needs: Vec<String>,
    #[serde(default)]
    pub contact_types: Vec<String>,
    /// Signals found in this turn's words.
    #[serde(default)]
    pub signals: Vec<String>,
    /// Signals of earlier customer turns, or a [`BUILTIN_CONTEXT`] flag.
    #[serde(default)]
    pub context: Vec<String>,
    pub min_intensity: Option<f32>,
    pub max_valence: Option<f32>,
    pub min_valence: Option<f32>,
}

impl Conditions {
    /// How many conditions are given (more: more specific).
    pub fn count(&self) -> usize {
        [
            &self.emotions,
            &self.metaphors,
            &self.needs,
            &self.contact_types,
            &self.signals,
            &self.context,
        ]
        .iter()
        .filter(|l| !l.is_empty())
        .count()
            + [self.min_intensity, self.max_valence, self.min_valence]
                .iter()
                .filter(|v| v.is_some())
                .count()
    }
}

/// One hint of the catalog.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub id: String,
    /// The need (question behind the question) this hint serves.
    pub need: String,
    /// 0..100; among matching entries the highest wins.
    #[serde(default = "default_priority")]
    pub priority: i64,
    /// Append the metaphor's mirror sentence when the quote is a metaphor cue.
    #[serde(default = "yes")]
    pub mirror: bool,
    pub when: Conditions,
    pub text: Localized,
    pub question: Option<Localized>,
}

fn default_priority() -> i64 {
    50
}

fn yes() -> bool {
    true
}

/// Phrases per language, as written in the file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPatterns {
    #[serde(default)]
    nl: Vec<String>,
    #[serde(default)]
    en: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    version: u32,
    settings: Settings,
    #[serde(default)]
    signals: BTreeMap<String, RawPatterns>,
    #[serde(default)]
    mirror: BTreeMap<String, Localized>,
    #[serde(default)]
    outcome: BTreeMap<String, RawPatterns>,
    /// Read one by one, so a type error can name its entry.
    hint: Vec<toml::Value>,
}

/// A named set of phrases (Dutch and English patterns both apply: callers switch).
#[derive(Debug, Clone)]
pub struct Signal {
    pub id: String,
    patterns: Vec<Regex>,
}

impl Signal {
    /// The first stretch of `text` that a pattern matches, as written.
    pub fn find<'t>(&self, text: &'t str) -> Option<&'t str> {
        self.patterns
            .iter()
            .filter_map(|p| p.find(text))
            .min_by_key(|m| m.start())
            .map(|m| m.as_str())
    }
}

/// What a call's last words can say about the matter being solved.
pub const OUTCOME_KINDS: [&str; 3] = ["resolved", "pending", "not_resolved"];

/// A checked catalog, ready for the engine.
#[derive(Debug, Clone)]
pub struct HintCatalog {
    pub settings: Settings,
    pub signals: Vec<Signal>,
    pub mirror: BTreeMap<String, Localized>,
    /// Keyed by [`OUTCOME_KINDS`].
    pub outcome: BTreeMap<String, Signal>,
    pub entries: Vec<Entry>,
    fingerprint: String,
}

/// Longest quote put into a hint; longer ones are cut at a word.
pub const MAX_QUOTE_CHARS: usize = 60;

impl HintCatalog {
    pub fn builtin() -> Self {
        Self::parse(BUILTIN, "built-in hint catalog").expect("the built-in hint catalog is valid")
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and checks a catalog; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let raw: RawCatalog =
            toml::from_str(text).map_err(|e| Error::Config(format!("{origin}: {e}")))?;
        let fail = |what: String| Error::Config(format!("{origin}: {what}"));
        if raw.version != 1 {
            return Err(fail(format!(
                "field `version`: {} is not a version this subtext reads (1)",
                raw.version
            )));
        }
        check_settings(&raw.settings).map_err(|m| fail(format!("[settings] {m}")))?;

        let signals = raw
            .signals
            .iter()
            .map(|(id, p)| compile(id, p).map_err(|m| fail(format!("[signals.{id}] {m}"))))
            .collect::<Result<Vec<_>>>()?;
        let outcome = raw
            .outcome
            .iter()
            .map(|(id, p)| {
                if !OUTCOME_KINDS.contains(&id.as_str()) {
                    return Err(fail(format!(
                        "[outcome.{id}]: unknown outcome (known: {})",
                        OUTCOME_KINDS.join(", ")
                    )));
                }
                let signal = compile(id, p).map_err(|m| fail(format!("[outcome.{id}] {m}")))?;
                Ok((id.clone(), signal))
            })
            .collect::<Result<BTreeMap<_, _>>>()?;
        for (class, text) in &raw.mirror {
            if !lexicon::CLASSES.contains(&class.as_str()) {
                return Err(fail(format!(
                    "[mirror.{class}]: unknown deep metaphor (known: {})",
                    lexicon::CLASSES.join(", ")
                )));
            }
            for (lang, t) in text.both() {
                check_plain_text(t)
                    .map_err(|m| fail(format!("[mirror.{class}] field `{lang}`: {m}")))?;
                check_no_persuasion(t)
                    .map_err(|m| fail(format!("[mirror.{class}] field `{lang}`: {m}")))?;
            }
        }

        let signal_ids: BTreeSet<&str> = signals.iter().map(|s| s.id.as_str()).collect();
        let mut seen = BTreeSet::new();
        if raw.hint.is_empty() {
            return Err(fail("no [[hint]] entries".into()));
        }
        let entries = raw
            .hint
            .into_iter()
            .enumerate()
            .map(|(n, value)| {
                let id = value
                    .get("id")
                    .and_then(|v| v.as_str())
                    .unwrap_or("?")
                    .to_string();
                // The path names the field of a wrong type (`when.min_intensity`).
                serde_path_to_error::deserialize::<_, Entry>(value).map_err(|e| {
                    let field = e.path().to_string();
                    let message = e.into_inner().message().to_string();
                    let at = format!("hint '{id}' (entry {})", n + 1);
                    fail(match field.as_str() {
                        "." | "" => format!("{at}: {message}"),
                        _ => format!("{at}, field `{field}`: {message}"),
                    })
                })
            })
            .collect::<Result<Vec<Entry>>>()?;
        for (n, entry) in entries.iter().enumerate() {
            let at = format!("hint '{}' (entry {})", entry.id, n + 1);
            check_entry(entry, &signal_ids, &raw.settings)
                .map_err(|m| fail(format!("{at}, field {m}")))?;
            if !seen.insert(entry.id.as_str()) {
                return Err(fail(format!("{at}, field `id`: used twice")));
            }
        }
        Ok(HintCatalog {
            settings: raw.settings,
            signals,
            mirror: raw.mirror,
            outcome,
            entries,
            fingerprint: crate::models::sha256_str(text),
        })
    }

    /// SHA-256 of the catalog text: part of the settings hash, so edits re-tag.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub fn signal(&self, id: &str) -> Option<&Signal> {
        self.signals.iter().find(|s| s.id == id)
    }
}

fn check_settings(s: &Settings) -> std::result::Result<(), String> {
    if !(0.0..=1.0).contains(&s.min_confidence) {
        return Err(format!(
            "field `min_confidence`: {} is not in 0..1",
            s.min_confidence
        ));
    }
    if !(0.0..=3600.0).contains(&s.cooldown_seconds) {
        return Err(format!(
            "field `cooldown_seconds`: {} is not in 0..3600",
            s.cooldown_seconds
        ));
    }
    if !(60..=1000).contains(&s.max_chars) {
        return Err(format!(
            "field `max_chars`: {} is not in 60..1000",
            s.max_chars
        ));
    }
    Ok(())
}

fn compile(id: &str, raw: &RawPatterns) -> std::result::Result<Signal, String> {
    if !is_id(id, '_') {
        return Err("the name may hold only lowercase letters, digits and '_'".into());
    }
    if raw.nl.is_empty() && raw.en.is_empty() {
        return Err("no patterns: give `nl` and/or `en`".into());
    }
    let mut patterns = Vec::new();
    for (lang, list) in [("nl", &raw.nl), ("en", &raw.en)] {
        for (i, p) in list.iter().enumerate() {
            let regex = RegexBuilder::new(p)
                .case_insensitive(true)
                .build()
                .map_err(|e| format!("field `{lang}`, pattern {}: {e}", i + 1))?;
            patterns.push(regex);
        }
    }
    Ok(Signal {
        id: id.to_string(),
        patterns,
    })
}

fn is_id(id: &str, sep: char) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == sep)
}

fn check_entry(
    entry: &Entry,
    signal_ids: &BTreeSet<&str>,
    settings: &Settings,
) -> std::result::Result<(), String> {
    if !is_id(&entry.id, '-') {
        return Err("`id`: use only lowercase letters, digits and '-'".into());
    }
    if entry.need == "none" || !NEEDS.contains(&entry.need.as_str()) {
        return Err(format!(
            "`need`: unknown need '{}' (known: {})",
            entry.need,
            NEEDS[1..].join(", ")
        ));
    }
    if !(0..=100).contains(&entry.priority) {
        return Err(format!("`priority`: {} is not in 0..100", entry.priority));
    }
    let w = &entry.when;
    let known = |field: &str, values: &[String], allowed: &[&str]| {
        for v in values {
            if !allowed.contains(&v.as_str()) {
                return Err(format!(
                    "`when.{field}`: unknown value '{v}' (known: {})",
                    allowed.join(", ")
                ));
            }
        }
        Ok(())
    };
    known("emotions", &w.emotions, &EMOTIONS)?;
    known("metaphors", &w.metaphors, &lexicon::CLASSES)?;
    known("needs", &w.needs, &NEEDS)?;
    known("contact_types", &w.contact_types, &CONTACT_TYPES)?;
    let signals: Vec<&str> = signal_ids.iter().copied().collect();
    known("signals", &w.signals, &signals)?;
    let context: Vec<&str> = signals.iter().copied().chain(BUILTIN_CONTEXT).collect();
    known("context", &w.context, &context)?;
    if let Some(v) = w.min_intensity {
        if !(0.0..=1.0).contains(&v) {
            return Err(format!("`when.min_intensity`: {v} is not in 0..1"));
        }
    }
    for (field, v) in [
        ("max_valence", w.max_valence),
        ("min_valence", w.min_valence),
    ] {
        if let Some(v) = v {
            if !(-1.0..=1.0).contains(&v) {
                return Err(format!("`when.{field}`: {v} is not in -1..1"));
            }
        }
    }
    if w.count() == 0 {
        return Err("`when`: give at least one condition (a hint on every turn is noise)".into());
    }

    for (lang, t) in entry.text.both() {
        let field = format!("`text.{lang}`");
        check_plain_text(t).map_err(|m| format!("{field}: {m}"))?;
        check_slots(t).map_err(|m| format!("{field}: {m}"))?;
        if !t.contains("{quote}") {
            return Err(format!(
                "{field}: must quote the customer with {{quote}} (a hint names its evidence)"
            ));
        }
        let question = entry
            .question
            .as_ref()
            .map_or(0, |q| q.get(lang).chars().count());
        let fixed = t
            .replace("{quote}", "")
            .replace("{emotion}", "")
            .chars()
            .count();
        let budget = settings.max_chars.saturating_sub(MAX_QUOTE_CHARS + 20);
        if fixed + question > budget {
            return Err(format!(
                "{field}: text and question are {} characters; at most {budget} leave room for the quote within max_chars {}",
                fixed + question,
                settings.max_chars
            ));
        }
    }
    if let Some(q) = &entry.question {
        for (lang, t) in q.both() {
            let t = t.trim();
            if !t.ends_with('?') || t.matches('?').count() != 1 {
                return Err(format!(
                    "`question.{lang}`: one open question, ending in '?' and holding no other"
                ));
            }
            if t.contains('{') {
                return Err(format!("`question.{lang}`: questions take no slots"));
            }
        }
    }
    {
        let texts = entry
            .text
            .both()
            .into_iter()
            .map(|(lang, t)| (format!("text.{lang}"), t.to_string()))
            .chain(entry.question.iter().flat_map(|q| {
                q.both()
                    .into_iter()
                    .map(|(lang, t)| (format!("question.{lang}"), t.to_string()))
            }));
        for (field, t) in texts {
            check_no_persuasion(&t).map_err(|m| {
                format!("`{field}`: {m} (a customer may be worried, whatever else they feel)")
            })?;
        }
    }
    Ok(())
}

/// Texts are shown inline: one line, no question mark (questions have their field).
fn check_plain_text(t: &str) -> std::result::Result<(), String> {
    if t.trim().is_empty() {
        return Err("is empty".into());
    }
    if t.contains('\n') {
        return Err("must be one line".into());
    }
    if t.contains('?') {
        return Err("holds a '?': put the one open question in `question`".into());
    }
    Ok(())
}

fn check_slots(t: &str) -> std::result::Result<(), String> {
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| "a '{' without its '}'".to_string())?;
        let slot = &after[..close];
        if !SLOTS.contains(&slot) {
            return Err(format!(
                "unknown slot {{{slot}}} (known: {})",
                SLOTS.map(|s| format!("{{{s}}}")).join(", ")
            ));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

/// Fails when `t` holds a word of a sales or retention push.
pub fn check_no_persuasion(t: &str) -> std::result::Result<(), String> {
    match persuasion_word(t) {
        Some(w) => Err(format!("'{w}' reads as a sales or retention push")),
        None => Ok(()),
    }
}

/// The first [`PERSUASION_WORDS`] entry that starts a word of `t`.
pub fn persuasion_word(t: &str) -> Option<&'static str> {
    let lower = t.to_lowercase();
    PERSUASION_WORDS.into_iter().find(|w| {
        lower.match_indices(w).any(|(i, _)| {
            lower[..i]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
version = 1
[settings]
min_confidence = 0.5
cooldown_seconds = 10
max_chars = 240
[signals.hold_time]
nl = ['wacht(en)? al']
en = ['waiting']
[[hint]]
id = "lost-time"
need = "time_effort"
when = { signals = ["hold_time"] }
text = { nl = "Mogelijk speelt: verloren tijd. Klant noemt \"{quote}\".", en = "Possibly: lost time. Customer says \"{quote}\"." }
"#;

    fn error_of(text: &str) -> String {
        HintCatalog::parse(text, "my.toml").unwrap_err().to_string()
    }

    #[test]
    fn builtin_catalog_loads() {
        let c = HintCatalog::builtin();
        assert!(c.entries.len() >= 20);
        assert!(c.signal("hold_time").is_some());
    }

    #[test]
    fn minimal_catalog_loads_and_signals_find_words() {
        let c = HintCatalog::parse(MINIMAL, "my.toml").unwrap();
        let s = c.signal("hold_time").unwrap();
        assert_eq!(s.find("Ik WACHT al een uur"), Some("WACHT al"));
        assert_eq!(s.find("I have been waiting"), Some("waiting"));
        assert_eq!(s.find("geen idee"), None);
    }

    #[test]
    fn errors_name_file_entry_and_field() {
        let e = error_of(&MINIMAL.replace("time_effort", "patience"));
        assert!(
            e.contains("my.toml")
                && e.contains("hint 'lost-time' (entry 1)")
                && e.contains("`need`"),
            "{e}"
        );
        let e = error_of(&MINIMAL.replace(r#"signals = ["hold_time"]"#, r#"signals = ["queue"]"#));
        assert!(e.contains("`when.signals`") && e.contains("'queue'"), "{e}");
        let e = error_of(&MINIMAL.replace("Customer says \\\"{quote}\\\".", "Customer is upset."));
        assert!(e.contains("`text.en`") && e.contains("{quote}"), "{e}");
        let e = error_of(&MINIMAL.replace("{quote}\\\".\", en", "{quot}\\\".\", en"));
        assert!(
            e.contains("`text.nl`") && e.contains("unknown slot {quot}"),
            "{e}"
        );
        let e = error_of(&MINIMAL.replace("wacht(en)? al", "wacht(en al"));
        assert!(
            e.contains("[signals.hold_time] field `nl`, pattern 1"),
            "{e}"
        );
        let e = error_of(&MINIMAL.replace("need = ", "colour = \"red\"\nneed = "));
        assert!(
            e.contains("my.toml: hint 'lost-time' (entry 1), field `colour`: unknown field"),
            "{e}"
        );
        let e = error_of(&MINIMAL.replace("when = { signals = [\"hold_time\"] }", "when = {}"));
        assert!(e.contains("`when`: give at least one condition"), "{e}");
        let twice = format!("{MINIMAL}{}", &MINIMAL[MINIMAL.find("[[hint]]").unwrap()..]);
        let e = error_of(&twice);
        assert!(
            e.contains("hint 'lost-time' (entry 2), field `id`: used twice"),
            "{e}"
        );
    }

    #[test]
    fn questions_are_one_open_question() {
        let with = |q: &str| {
            format!("{MINIMAL}question = {{ nl = \"{q}\", en = \"What would help?\" }}\n")
        };
        assert!(HintCatalog::parse(&with("Wat zou helpen?"), "x").is_ok());
        let e = error_of(&with("Wat zou helpen? En wanneer?"));
        assert!(e.contains("`question.nl`"), "{e}");
    }

    #[test]
    fn no_sales_push_can_reach_a_worried_customer() {
        let pushy = MINIMAL.replace(
            "Possibly: lost time.",
            "Possibly: lost time, offer the premium package.",
        );
        let e = error_of(&pushy);
        assert!(e.contains("`text.en`") && e.contains("'offer'"), "{e}");
        // Any entry, even one for happy customers: worry can come with any emotion.
        let happy = MINIMAL
            .replace(
                r#"when = { signals = ["hold_time"] }"#,
                r#"when = { emotions = ["joy"] }"#,
            )
            .replace("Customer says", "Offer a discount. Customer says");
        assert!(error_of(&happy).contains("reads as a sales or retention push"));
        assert_eq!(persuasion_word("Geef korting"), Some("korting"));
        assert_eq!(
            persuasion_word("Uw pakket komt morgen, de premium is betaald"),
            None
        );
        assert_eq!(persuasion_word("We can deal with it"), None);
        assert_eq!(
            persuasion_word("bied een extra pakket aan"),
            Some("bied een")
        );
    }
}
