//! The metaphor cue lexicon: finds the customer's own figurative words in a turn.
//!
//! The entries live in a data file (`models/scorer/metaphor_lexicon.toml`, compiled
//! into the binary; `--lexicon` reads another) so CX analysts can extend it without
//! touching code. An entry names a deep metaphor and the content words of one idiom:
//!
//! ```toml
//! [[cue]]
//! lang = "nl"
//! class = "journey"
//! example = "ik word van het kastje naar de muur gestuurd"
//! terms = ["kastje", "muur"]
//! ```
//!
//! Matching is tolerant of inflection and word order, because speech is: the text is
//! lowercased and split into word tokens; an entry matches when every term matches a
//! different token and all of them lie within `terms + 4` tokens, in any order. A term
//! lists alternatives separated by `|`; an alternative ending in `*` is a prefix.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use serde::Deserialize;

use crate::asr::Language;
use crate::error::{Error, Result};

/// The lexicon shipped with subtext.
pub const BUILTIN: &str = include_str!("../../models/scorer/metaphor_lexicon.toml");

/// The seven deep metaphors a cue may name.
pub const CLASSES: [&str; 7] = [
    "balance",
    "transformation",
    "journey",
    "container",
    "connection",
    "resource",
    "control",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LexiconFile {
    cue: Vec<RawEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    lang: String,
    class: String,
    example: String,
    terms: Vec<String>,
}

/// One alternative of a term: an exact word or a prefix.
#[derive(Debug, Clone, PartialEq)]
enum Alt {
    Exact(String),
    Prefix(String),
}

#[derive(Debug, Clone)]
struct Entry {
    class: &'static str,
    lang: String,
    terms: Vec<Vec<Alt>>,
}

/// A lexicon hit in a text.
#[derive(Debug, Clone, PartialEq)]
pub struct CueMatch {
    pub class: &'static str,
    /// Character offsets in the text (end exclusive), from the first to the last matched word.
    pub start: usize,
    pub end: usize,
    /// The text between those offsets, as written.
    pub quote: String,
    /// Number of terms of the entry; more terms, more specific.
    pub terms: usize,
}

#[derive(Debug, Clone)]
pub struct MetaphorLexicon {
    entries: Vec<Entry>,
    index: TermIndex,
    /// SHA-256 of the source text: part of the settings a resumed batch compares.
    fingerprint: String,
}

/// Which entries' terms each word (and each prefix) belongs to, so that a turn's
/// tokens are looked up once rather than every entry scanning every token: with
/// some 600 entries the scan took 160 µs a turn, 2% of scoring one.
#[derive(Debug, Clone, Default)]
struct TermIndex {
    exact: HashMap<String, Vec<TermRef>>,
    prefix: HashMap<String, Vec<TermRef>>,
}

/// Term `term` of entry `entry`.
#[derive(Debug, Clone, Copy)]
struct TermRef {
    entry: usize,
    term: usize,
}

impl TermIndex {
    fn new(entries: &[Entry]) -> Self {
        let mut index = TermIndex::default();
        for (entry, e) in entries.iter().enumerate() {
            for (term, alts) in e.terms.iter().enumerate() {
                for alt in alts {
                    let (map, word) = match alt {
                        Alt::Exact(w) => (&mut index.exact, w),
                        Alt::Prefix(p) => (&mut index.prefix, p),
                    };
                    map.entry(word.clone())
                        .or_default()
                        .push(TermRef { entry, term });
                }
            }
        }
        index
    }

    /// Every term that `token` matches: as a whole word, or by any of its prefixes.
    fn matches<'a>(&'a self, token: &'a str) -> impl Iterator<Item = TermRef> + 'a {
        let prefixes = token
            .char_indices()
            .skip(1)
            .map(|(end, _)| &token[..end])
            .chain(std::iter::once(token));
        self.exact
            .get(token)
            .into_iter()
            .chain(prefixes.filter_map(|p| self.prefix.get(p)))
            .flatten()
            .copied()
    }
}

/// A word token: lowercased text and its character offsets in the source.
struct Token {
    text: String,
    start: usize,
    end: usize,
}

fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    let mut count = 0;
    for (i, c) in text.chars().enumerate() {
        count = i + 1;
        if c.is_alphanumeric() || c == '\'' || c == '’' {
            if current.is_empty() {
                start = i;
            }
            current.extend(c.to_lowercase());
        } else if !current.is_empty() {
            tokens.push(Token {
                text: std::mem::take(&mut current),
                start,
                end: i,
            });
        }
    }
    if !current.is_empty() {
        tokens.push(Token {
            text: current,
            start,
            end: count,
        });
    }
    tokens
}

/// Dutch or English for a text of unknown origin (`subtext score`), from its
/// function words; `None` when they do not clearly say which. Lets the lexicon try
/// one language's idioms, as it does for calls whose language is known.
pub fn guess_language(text: &str) -> Option<Language> {
    // Frequent words of one language that are not (common) words of the other: "is",
    // "we", "was", "want" and "me" are everyday words of both, so they count for neither
    // (they made "ik was boos want ..." English).
    const DUTCH: &[&str] = &[
        "de", "het", "een", "en", "ik", "je", "jij", "niet", "dat", "van", "op", "te", "met",
        "voor", "maar", "wel", "nog", "al", "er", "zijn", "mijn", "u", "uw", "ze", "dit", "die",
        "wat", "hoe", "waarom", "geen", "ook", "naar", "bij", "heb", "ben", "kan", "wil", "moet",
        "word", "wordt", "weer", "nu", "dan", "als", "ja", "nee", "keer",
    ];
    const ENGLISH: &[&str] = &[
        "the", "a", "an", "and", "i", "you", "not", "that", "of", "on", "to", "with", "for", "but",
        "my", "your", "they", "this", "what", "how", "why", "no", "also", "have", "am", "can",
        "must", "it", "are", "be", "been", "do", "don't", "i'm", "get", "just", "yes", "time",
        "again", "now", "then", "if",
    ];
    let (mut dutch, mut english) = (0usize, 0usize);
    for word in text
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
    {
        let word = word.to_lowercase();
        dutch += usize::from(DUTCH.contains(&word.as_str()));
        english += usize::from(ENGLISH.contains(&word.as_str()));
    }
    // Clear means at least two such words and twice as many as the other side's.
    if dutch >= 2 && dutch >= 2 * english {
        Some(Language::Dutch)
    } else if english >= 2 && english >= 2 * dutch {
        Some(Language::English)
    } else {
        None
    }
}

impl MetaphorLexicon {
    /// The lexicon compiled into subtext.
    pub fn builtin() -> Self {
        Self::parse(BUILTIN, "built-in metaphor lexicon").expect("the built-in lexicon is valid")
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and validates a lexicon; errors name the entry (1-based) and field.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let file: LexiconFile =
            toml::from_str(text).map_err(|e| Error::Config(format!("{origin}: {e}")))?;
        let mut entries = Vec::with_capacity(file.cue.len());
        let mut seen = HashSet::new();
        for (n, raw) in file.cue.into_iter().enumerate() {
            let at = |field: &str, why: String| {
                Error::Config(format!(
                    "{origin}: cue #{} ({:?}), {field}: {why}",
                    n + 1,
                    raw.example
                ))
            };
            let class = CLASSES.iter().find(|c| **c == raw.class).ok_or_else(|| {
                at(
                    "class",
                    format!("{:?} is not one of {CLASSES:?}", raw.class),
                )
            })?;
            if raw.lang != "nl" && raw.lang != "en" {
                return Err(at(
                    "lang",
                    format!("{:?} is not \"nl\" or \"en\"", raw.lang),
                ));
            }
            if raw.terms.is_empty() {
                return Err(at("terms", "is empty".into()));
            }
            let mut terms = Vec::new();
            for term in &raw.terms {
                let alts: Vec<Alt> = term
                    .split('|')
                    .map(|a| a.trim().to_lowercase())
                    .map(|a| match a.strip_suffix('*') {
                        Some(p) => Alt::Prefix(p.to_string()),
                        None => Alt::Exact(a),
                    })
                    .collect();
                // A very short prefix matches half the language.
                if alts.iter().any(|a| match a {
                    Alt::Exact(w) => w.is_empty(),
                    Alt::Prefix(p) => p.chars().count() < 3,
                }) {
                    return Err(at(
                        "terms",
                        format!("{term:?} has an empty word or a prefix shorter than 3 letters"),
                    ));
                }
                terms.push(alts);
            }
            if !seen.insert((raw.lang.clone(), raw.terms.clone())) {
                return Err(at(
                    "terms",
                    "the same terms appear in an earlier cue".into(),
                ));
            }
            entries.push(Entry {
                class,
                lang: raw.lang,
                terms,
            });
        }
        Ok(MetaphorLexicon {
            index: TermIndex::new(&entries),
            entries,
            fingerprint: crate::models::sha256_str(text),
        })
    }

    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every cue in `text`, in text order; overlapping hits keep the most specific.
    /// With a `language`, only that language's entries are tried: a Dutch entry such
    /// as "fair" or "offer" is a different word in an English turn.
    pub fn find(&self, text: &str, language: Option<Language>) -> Vec<CueMatch> {
        let tokens = tokenize(text);
        // For each entry with a matching term: the token positions of each of its
        // terms (ascending). Keyed by entry, so that hits the sort below ranks equal
        // stay in lexicon order.
        let mut positions: BTreeMap<usize, Vec<Vec<usize>>> = BTreeMap::new();
        for (i, token) in tokens.iter().enumerate() {
            for r in self.index.matches(&token.text) {
                let entry = &self.entries[r.entry];
                if language.is_some_and(|l| entry.lang != l.code()) {
                    continue;
                }
                let slots = positions
                    .entry(r.entry)
                    .or_insert_with(|| vec![Vec::new(); entry.terms.len()]);
                // Two alternatives of one term may match the same token.
                if slots[r.term].last() != Some(&i) {
                    slots[r.term].push(i);
                }
            }
        }
        let mut hits: Vec<CueMatch> = positions
            .iter()
            .filter_map(|(&entry, hits)| {
                let (first, last) = tightest_match(hits, tokens.len())?;
                let (start, end) = (tokens[first].start, tokens[last].end);
                Some(CueMatch {
                    class: self.entries[entry].class,
                    start,
                    end,
                    quote: super::char_span(text, start, end),
                    terms: hits.len(),
                })
            })
            .collect();
        // Most specific first (more terms, then longer span), then keep non-overlapping.
        hits.sort_by(|a, b| {
            b.terms
                .cmp(&a.terms)
                .then((b.end - b.start).cmp(&(a.end - a.start)))
                .then(a.start.cmp(&b.start))
        });
        let mut kept: Vec<CueMatch> = Vec::new();
        for h in hits {
            if kept.iter().all(|k| h.end <= k.start || h.start >= k.end) {
                kept.push(h);
            }
        }
        kept.sort_by_key(|h| h.start);
        kept
    }
}

/// The tightest place (the first of equals) where all of an entry's terms match
/// distinct tokens within its window, given each term's matching token positions
/// (`hits`) among `token_count` tokens; returns (first token, last token).
/// Tightest, because a term may also occur earlier in the turn ("elke dag komen
/// ... goed voor de dag komen"), and the quote should be the idiom itself.
fn tightest_match(hits: &[Vec<usize>], token_count: usize) -> Option<(usize, usize)> {
    if hits.iter().any(Vec::is_empty) {
        return None;
    }
    let window = hits.len() + 4;
    let mut best: Option<(usize, usize)> = None;
    for anchor in 0..token_count {
        let end = (anchor + window).min(token_count);
        let mut used: Vec<usize> = Vec::with_capacity(hits.len());
        for positions in hits {
            match positions
                .iter()
                .find(|&&p| p >= anchor && p < end && !used.contains(&p))
            {
                Some(&p) => used.push(p),
                None => break,
            }
        }
        if used.len() == hits.len() && used.contains(&anchor) {
            let first = *used.iter().min().expect("non-empty");
            let last = *used.iter().max().expect("non-empty");
            if best.is_none_or(|(f, l)| last - first < l - f) {
                best = Some((first, last));
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
[[cue]]
lang = "nl"
class = "journey"
example = "ik word van het kastje naar de muur gestuurd"
terms = ["kastje", "muur"]

[[cue]]
lang = "nl"
class = "container"
example = "ik sta op ontploffen"
terms = ["ontplof*"]

[[cue]]
lang = "en"
class = "control"
example = "I'm at the end of my rope"
terms = ["end", "rope|tether"]
"#;

    #[test]
    fn finds_inflected_and_reordered_cues_with_char_offsets() {
        let lex = MetaphorLexicon::parse(SMALL, "test").unwrap();
        let text = "Ze sturen me van het kastje naar de muur, ik ontplof bijna!";
        let hits = lex.find(text, None);
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].class, "journey");
        assert_eq!(hits[0].quote, "kastje naar de muur");
        let chars: Vec<char> = text.chars().collect();
        let quoted: String = chars[hits[0].start..hits[0].end].iter().collect();
        assert_eq!(quoted, hits[0].quote);
        assert_eq!(hits[1].quote, "ontplof");
        // Word order may change: "muur ... kastje" still within the window.
        assert_eq!(lex.find("de muur en dan weer het kastje", None).len(), 1);
        // Too far apart is not the idiom.
        assert!(lex
            .find(
                "het kastje is wit en de monteur zette het later tegen de muur",
                None
            )
            .is_empty());
        // A term seen earlier in the turn: the quote is the idiom, not the stretch.
        let hits = lex.find("Het kastje, weer het kastje naar de muur", None);
        assert_eq!(hits[0].quote, "kastje naar de muur");
    }

    #[test]
    fn a_token_two_alternatives_match_counts_once_for_its_term() {
        let lex = MetaphorLexicon::parse(
            r#"
[[cue]]
lang = "nl"
class = "container"
example = "de maat is vol"
terms = ["maat|maa*", "vol|vol*"]
"#,
            "test",
        )
        .unwrap();
        // "maat" is both the word and the prefix, "vol" both a word and a whole prefix;
        // still two distinct tokens for two terms, so it matches, and one token does not.
        let hits = lex.find("nu is de maat echt vol", None);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].quote, "maat echt vol");
        assert!(lex.find("de maat", None).is_empty());
        // A prefix never matches a shorter word.
        assert!(lex.find("ma vol", None).is_empty());
    }

    #[test]
    fn offsets_count_characters_not_bytes() {
        let lex = MetaphorLexicon::parse(SMALL, "test").unwrap();
        let hits = lex.find("Ééé, I'm at the end of my tether", None);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].quote, "end of my tether");
        assert_eq!(hits[0].start, 16);
    }

    #[test]
    fn a_known_language_tries_only_its_own_entries() {
        let lex = MetaphorLexicon::parse(SMALL, "test").unwrap();
        let text = "I'm at the end of my rope";
        assert_eq!(lex.find(text, None).len(), 1);
        assert_eq!(lex.find(text, Some(Language::English)).len(), 1);
        assert!(lex.find(text, Some(Language::Dutch)).is_empty());
        let dutch = "ik sta op ontploffen";
        assert_eq!(lex.find(dutch, Some(Language::Dutch)).len(), 1);
        assert!(lex.find(dutch, Some(Language::English)).is_empty());
    }

    #[test]
    fn a_text_s_language_is_guessed_from_its_function_words() {
        let nl = "Dit is de derde keer dat ik bel, ik word van het kastje naar de muur gestuurd.";
        assert_eq!(guess_language(nl), Some(Language::Dutch));
        let en = "I'm at the end of my rope, this is the third time I call.";
        assert_eq!(guess_language(en), Some(Language::English));
        assert_eq!(guess_language("Dank u wel"), Some(Language::Dutch));
        assert_eq!(
            guess_language("Ik was boos, want het is me niet gelukt"),
            Some(Language::Dutch)
        );
        assert_eq!(
            guess_language("We want it, as I was told"),
            Some(Language::English)
        );
        // Too little to tell: all idioms are tried.
        assert_eq!(guess_language("Oké, prima."), None);
        assert_eq!(guess_language("Het ticket, the ticket"), None);
    }

    #[test]
    fn builtin_lexicon_is_valid_and_large() {
        let lex = MetaphorLexicon::builtin();
        assert!(lex.len() >= 450, "{}", lex.len());
        for lang in ["nl", "en"] {
            for class in CLASSES {
                assert!(
                    lex.entries
                        .iter()
                        .any(|e| e.lang == lang && e.class == class),
                    "no {lang} {class} cue"
                );
            }
        }
    }

    #[test]
    fn bad_entries_are_named() {
        let bad = SMALL.replace("class = \"control\"", "class = \"controll\"");
        let err = MetaphorLexicon::parse(&bad, "lex.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("lex.toml: cue #3"), "{err}");
        assert!(err.contains("class"), "{err}");
        let err = MetaphorLexicon::parse("[[cue]]\nlang = \"nl\"\n", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("x.toml"), "{err}");
    }
}
