//! Personal data out of what subtext writes: e-mail addresses, IBANs, card, phone
//! and citizen-service (BSN) numbers, Dutch postcodes and street addresses are
//! replaced by a placeholder such as `[IBAN]` in the turn text and in its words.
//!
//! On by default (privacy by default); `--no-redact` turns it off. Patterns work on
//! what whisper writes (digits, not "nul zes"), so spoken-out numbers can slip
//! through: this lowers the risk, it does not remove it.

use std::sync::OnceLock;

use regex::Regex;

use crate::turns::join_words;
use crate::types::{Turn, Word};

/// Kinds of personal data, in the order they are looked for (first match wins).
const PATTERNS: &[(&str, &str)] = &[
    ("[EMAIL]", r"(?i)\b[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}\b"),
    // Two letters, two check digits, a 4-character bank code, then digit groups
    // (spaces allowed between groups, so the words after it are never swallowed).
    (
        "[IBAN]",
        r"(?i)\b[a-z]{2}\d{2} ?[a-z0-9]{4}(?: ?\d{2,4}){2,7}\b",
    ),
    // 13-19 digits in groups: payment cards.
    ("[CARD]", r"\b\d(?:[ .\-]?\d){12,18}\b"),
    // 7-12 digits: phone numbers, BSN, account and policy numbers.
    ("[NUMBER]", r"(?:\+|\b)\d(?:[ .\-]?\d){6,11}\b"),
    ("[POSTCODE]", r"\b[1-9]\d{3} ?[A-Z]{2}\b"),
    (
        "[ADDRESS]",
        r"(?i)\b\p{L}+(?:straat|laan|weg|plein|gracht|kade|singel|dijk|steeg|hof|dreef|pad|street|road|lane|avenue|drive)\s+\d+\s?[a-z]?\b",
    ),
];

fn patterns() -> &'static [(&'static str, Regex)] {
    static COMPILED: OnceLock<Vec<(&'static str, Regex)>> = OnceLock::new();
    COMPILED.get_or_init(|| {
        PATTERNS
            .iter()
            .map(|(label, re)| {
                (
                    *label,
                    Regex::new(re).expect("the redaction patterns are valid"),
                )
            })
            .collect()
    })
}

/// Redacts free text (e.g. `subtext score` input) with the same rules as turns.
/// Whitespace is normalised to single spaces, as in a transcript.
pub fn redact_text(text: &str) -> String {
    let mut turn = Turn {
        id: 0,
        speaker: crate::types::Speaker::Unknown,
        start: 0.0,
        end: 0.0,
        text: String::new(),
        words: text
            .split_whitespace()
            .map(|w| Word {
                text: w.to_string(),
                start: 0.0,
                end: 0.0,
                probability: 1.0,
            })
            .collect(),
        tags: None,
        acoustic: None,
    };
    redact_turn(&mut turn);
    join_words(&turn.words)
}

/// Redacts one turn in place; returns how many spans were replaced.
pub fn redact_turn(turn: &mut Turn) -> usize {
    // The turn text is the words joined by single spaces, so byte offsets in it map
    // back to words.
    let text = join_words(&turn.words);
    let mut offsets = Vec::with_capacity(turn.words.len());
    let mut at = 0;
    for word in &turn.words {
        offsets.push((at, at + word.text.len()));
        at += word.text.len() + 1;
    }
    // label per word: None = keep, Some((label, span id)) = part of a redacted span.
    let mut marks: Vec<Option<(&str, usize)>> = vec![None; turn.words.len()];
    let mut spans = 0;
    for (label, regex) in patterns() {
        for m in regex.find_iter(&text) {
            let hit: Vec<usize> = (0..offsets.len())
                .filter(|&i| {
                    offsets[i].0 < m.end() && m.start() < offsets[i].1 && marks[i].is_none()
                })
                .collect();
            if hit.is_empty() {
                continue;
            }
            for i in hit {
                marks[i] = Some((label, spans));
            }
            spans += 1;
        }
    }
    if spans == 0 {
        return 0;
    }
    let mut words: Vec<Word> = Vec::with_capacity(turn.words.len());
    let mut last_span = None;
    for (word, mark) in turn.words.drain(..).zip(marks) {
        match mark {
            None => {
                last_span = None;
                words.push(word);
            }
            Some((_, span)) if last_span == Some(span) => {
                let merged = words.last_mut().expect("a span's first word was pushed");
                merged.end = merged.end.max(word.end);
                merged.probability = merged.probability.min(word.probability);
            }
            Some((label, span)) => {
                last_span = Some(span);
                words.push(Word {
                    text: label.to_string(),
                    ..word
                });
            }
        }
    }
    turn.words = words;
    turn.text = join_words(&turn.words);
    spans
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Speaker;

    fn turn(text: &str) -> Turn {
        let words: Vec<Word> = text
            .split(' ')
            .enumerate()
            .map(|(i, w)| Word {
                text: w.into(),
                start: i as f64,
                end: i as f64 + 0.5,
                probability: 0.9,
            })
            .collect();
        Turn {
            id: 0,
            speaker: Speaker::Customer,
            start: 0.0,
            end: 1.0,
            text: text.into(),
            words,
            tags: None,
            acoustic: None,
        }
    }

    fn redacted(text: &str) -> String {
        let mut t = turn(text);
        redact_turn(&mut t);
        assert_eq!(t.text, join_words(&t.words));
        t.text
    }

    #[test]
    fn personal_data_is_replaced() {
        assert_eq!(
            redacted("Mijn IBAN is NL91 ABNA 0417 1643 00, klopt dat?"),
            "Mijn IBAN is [IBAN] klopt dat?"
        );
        // The words after an IBAN stay (they once were swallowed as "more IBAN").
        assert_eq!(
            redact_text("Mijn IBAN is NL91ABNA0417164300 en ik ben woedend"),
            "Mijn IBAN is [IBAN] en ik ben woedend"
        );
        assert_eq!(
            redacted("Mail naar jan.jansen@example.nl alstublieft."),
            "Mail naar [EMAIL] alstublieft."
        );
        assert_eq!(
            redacted("Bel me op 06-12345678 of 020 123 4567."),
            "Bel me op [NUMBER] of [NUMBER]"
        );
        assert_eq!(redacted("Mijn BSN is 123456782."), "Mijn BSN is [NUMBER]");
        assert_eq!(
            redacted("Kaart 4111 1111 1111 1111 graag."),
            "Kaart [CARD] graag."
        );
        assert_eq!(
            redacted("Ik woon op de Dorpsstraat 12a in 1234 AB Utrecht."),
            "Ik woon op de [ADDRESS] in [POSTCODE] Utrecht."
        );
    }

    #[test]
    fn ordinary_numbers_and_words_stay() {
        for text in [
            "Ik wacht al 20 minuten, sinds 2024.",
            "Het kost 145 euro per maand.",
            "I have been waiting for twenty minutes.",
            "Tussen 9 en 17 uur.",
        ] {
            assert_eq!(redacted(text), text);
        }
    }

    #[test]
    fn a_span_over_several_words_becomes_one_word_with_their_times() {
        let mut t = turn("nummer 06 1234 5678 graag");
        assert_eq!(redact_turn(&mut t), 1);
        let w = &t.words[1];
        assert_eq!((w.text.as_str(), w.start, w.end), ("[NUMBER]", 1.0, 3.5));
        assert_eq!(t.words.len(), 3);
    }
}
