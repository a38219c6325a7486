//! Personal data out of what subtext writes: e-mail addresses, IBANs, payment card,
//! phone and citizen-service (BSN) numbers, dates (of birth), Dutch postcodes and
//! street addresses are replaced by a typed placeholder such as `[IBAN]` in the turn
//! text and in its words; the placeholder word keeps the times of the words it
//! replaces, so `subtext redact-audio` can silence them.
//!
//! On by default (privacy by default); `--no-redact` turns it off. Every run of 7 or
//! more digits is replaced, whatever it is; the checks (IBAN mod-97, the BSN
//! 11-test, Luhn for cards, phone number shapes) only choose the label. Numbers
//! spoken as words ("nul zes twaalf ...") are caught as runs of six or more number
//! words. This lowers the risk, it does not remove it: a recogniser can write a
//! number in a way no pattern foresees.

pub mod audio;

use std::sync::OnceLock;

use regex::Regex;

use crate::turns::join_words;
use crate::types::{Turn, Word};

/// Every placeholder redaction writes.
pub const LABELS: &[&str] = &[
    "[EMAIL]",
    "[IBAN]",
    "[DATE]",
    "[PHONE]",
    "[BSN]",
    "[CARD]",
    "[NUMBER]",
    "[POSTCODE]",
    "[ADDRESS]",
];

/// Month names a date can have, Dutch and English.
const MONTHS: &str = "januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|december|january|february|march|may|june|july|august|october|jan|feb|mrt|mar|apr|jun|jul|aug|sep|sept|okt|oct|nov|dec";

/// Number words (Dutch and English) that make up a spoken-out number.
const NUMBER_WORDS: &str = "nul|een|één|twee|drie|vier|vijf|zes|zeven|acht|negen|tien|elf|twaalf|dertien|veertien|vijftien|zestien|zeventien|achttien|negentien|\\p{L}*(?:twintig|dertig|veertig|vijftig|zestig|zeventig|tachtig|negentig)|honderd|zero|oh|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\\p{L}*teen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|double|dubbel";

/// What a pattern found; `Digits` is labelled by [`label_digits`].
#[derive(Clone, Copy)]
enum Kind {
    Fixed(&'static str),
    Iban,
    Digits,
}

/// Kinds of personal data, in the order they are looked for (first match wins).
fn pattern_sources() -> Vec<(Kind, String)> {
    vec![
        (Kind::Fixed("[EMAIL]"), r"(?i)\b[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}\b".into()),
        // Two letters, two check digits, a 4-character bank code, then digit groups
        // (spaces allowed between groups, so the words after it are never swallowed).
        (Kind::Iban, r"(?i)\b[a-z]{2}\d{2} ?[a-z0-9]{4}(?: ?\d{2,4}){2,7}\b".into()),
        // Full dates (a date of birth is the usual reason to say one in a call).
        (
            Kind::Fixed("[DATE]"),
            r"\b\d{1,2}[-/.]\d{1,2}[-/.](?:19|20)\d{2}\b".into(),
        ),
        (
            Kind::Fixed("[DATE]"),
            format!(r"(?i)\b\d{{1,2}}(?:e|ste|de|st|nd|rd|th)?\s+(?:of\s+)?(?:{MONTHS})\.?,?\s+(?:19|20)\d{{2}}\b"),
        ),
        (
            Kind::Fixed("[DATE]"),
            format!(r"(?i)\b(?:{MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+(?:19|20)\d{{2}}\b"),
        ),
        // 7 to 19 digits in groups, with an optional international prefix.
        (Kind::Digits, r"(?:\+|\b)\d(?:[ .\-]?\d){6,18}\b".into()),
        (Kind::Fixed("[POSTCODE]"), r"\b[1-9]\d{3} ?[A-Z]{2}\b".into()),
        (
            Kind::Fixed("[ADDRESS]"),
            r"(?i)\b\p{L}+(?:straat|laan|weg|plein|gracht|kade|singel|dijk|steeg|hof|dreef|pad|street|road|lane|avenue|drive)\s+\d+\s?[a-z]?\b".into(),
        ),
        // Six or more number words or digit groups in a row: a number spoken out.
        (
            Kind::Fixed("[NUMBER]"),
            format!(r"(?i)\b(?:(?:{NUMBER_WORDS})|\d+)(?:[\s,.\-]+(?:(?:{NUMBER_WORDS})|\d+)){{5,}}\b"),
        ),
    ]
}

fn patterns() -> &'static [(Kind, Regex)] {
    static COMPILED: OnceLock<Vec<(Kind, Regex)>> = OnceLock::new();
    COMPILED.get_or_init(|| {
        pattern_sources()
            .into_iter()
            .map(|(kind, re)| {
                (
                    kind,
                    Regex::new(&re).expect("the redaction patterns are valid"),
                )
            })
            .collect()
    })
}

/// The placeholder for what a pattern matched.
fn label(kind: Kind, matched: &str) -> &'static str {
    match kind {
        Kind::Fixed(label) => label,
        Kind::Iban => {
            let compact: String = matched.chars().filter(|c| !c.is_whitespace()).collect();
            // A valid checksum, or the Dutch shape (a misheard digit breaks the sum).
            let dutch = compact.len() == 18 && compact[..2].eq_ignore_ascii_case("nl");
            if iban_checksum_ok(&compact) || dutch {
                "[IBAN]"
            } else {
                label_digits(matched)
            }
        }
        Kind::Digits => label_digits(matched),
    }
}

/// Phone, BSN, card or other number, from the digits alone.
fn label_digits(matched: &str) -> &'static str {
    let digits: Vec<u32> = matched.chars().filter_map(|c| c.to_digit(10)).collect();
    let international = matched.trim_start().starts_with('+') || digits.starts_with(&[0, 0]);
    match digits.len() {
        _ if international && digits.len() >= 9 => "[PHONE]",
        10 if digits[0] == 0 => "[PHONE]",
        9 if bsn_ok(&digits) => "[BSN]",
        13..=19 if luhn_ok(&digits) => "[CARD]",
        _ => "[NUMBER]",
    }
}

/// ISO 13616: move the first four characters to the end, letters to numbers
/// (A = 10 ... Z = 35), and the whole must be 1 modulo 97.
pub fn iban_checksum_ok(iban: &str) -> bool {
    if iban.len() < 15 || iban.len() > 34 || !iban.chars().all(|c| c.is_ascii_alphanumeric()) {
        return false;
    }
    let (head, tail) = iban.split_at(4);
    let mut remainder = 0u32;
    for c in tail.chars().chain(head.chars()) {
        let value = c.to_digit(36).expect("alphanumeric");
        for digit in value.to_string().chars() {
            remainder = (remainder * 10 + digit.to_digit(10).expect("digit")) % 97;
        }
    }
    remainder == 1
}

/// The Dutch BSN "11-test": 9·d1 + 8·d2 + … + 2·d8 − 1·d9 is a multiple of 11.
pub fn bsn_ok(digits: &[u32]) -> bool {
    if digits.len() != 9 || digits.iter().all(|&d| d == 0) {
        return false;
    }
    let sum: i64 = digits
        .iter()
        .zip([9i64, 8, 7, 6, 5, 4, 3, 2, -1])
        .map(|(&d, w)| d as i64 * w)
        .sum();
    sum % 11 == 0
}

/// Luhn's check for payment card numbers.
pub fn luhn_ok(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| match (i % 2, d * 2) {
            (1, doubled) if doubled > 9 => doubled - 9,
            (1, doubled) => doubled,
            _ => d,
        })
        .sum();
    !digits.is_empty() && sum % 10 == 0
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
    for (kind, regex) in patterns() {
        for m in regex.find_iter(&text) {
            let label = label(*kind, m.as_str());
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
        let words = Word::sequence(text, 1.0, 0.5);
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
            "Bel me op [PHONE] of [PHONE]"
        );
        assert_eq!(
            redacted("Or +44 20 7946 0958 or 0031 6 1234 5678 please"),
            "Or [PHONE] or [PHONE] please"
        );
        assert_eq!(redacted("Mijn BSN is 123456782."), "Mijn BSN is [BSN]");
        // Nine digits that fail the 11-test are still a number to hide.
        assert_eq!(redacted("Polis 123456789 graag"), "Polis [NUMBER] graag");
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
    fn dates_and_spoken_numbers_are_replaced() {
        assert_eq!(
            redacted("Ik ben geboren op 12 maart 1985 in Delft."),
            "Ik ben geboren op [DATE] in Delft."
        );
        assert_eq!(
            redacted("Geboortedatum 03-11-1979 klopt."),
            "Geboortedatum [DATE] klopt."
        );
        assert_eq!(
            redacted("I was born on March 12th, 1985 actually."),
            "I was born on [DATE] actually."
        );
        assert_eq!(
            redacted("Mijn nummer is nul zes twaalf vierendertig zesenvijftig achtenzeventig."),
            "Mijn nummer is [NUMBER]"
        );
        assert_eq!(
            redacted("It is oh seven seven double nine one two three please"),
            "It is [NUMBER] please"
        );
    }

    #[test]
    fn checksums() {
        assert!(iban_checksum_ok("NL91ABNA0417164300"));
        assert!(iban_checksum_ok("GB82WEST12345698765432"));
        assert!(!iban_checksum_ok("NL91ABNA0417164301"));
        let digits = |s: &str| s.chars().filter_map(|c| c.to_digit(10)).collect::<Vec<_>>();
        assert!(bsn_ok(&digits("111222333")));
        assert!(!bsn_ok(&digits("111222334")));
        assert!(luhn_ok(&digits("4111111111111111")));
        assert!(!luhn_ok(&digits("4111111111111112")));
        // A foreign IBAN with a broken checksum is still hidden, as a number.
        assert_eq!(
            redacted("Rekening DE89 3704 0044 0532 0130 01 ja"),
            "Rekening [NUMBER] ja"
        );
        assert_eq!(
            redacted("Rekening DE89 3704 0044 0532 0130 00 ja"),
            "Rekening [IBAN] ja"
        );
    }

    #[test]
    fn ordinary_numbers_and_words_stay() {
        for text in [
            "Ik wacht al 20 minuten, sinds 2024.",
            "Het kost 145 euro per maand.",
            "I have been waiting for twenty minutes.",
            "Tussen 9 en 17 uur.",
            "Een twee drie, ik tel tot tien.",
            "Op 12 maart heb ik gebeld.",
            "We hebben een of twee keer gebeld.",
        ] {
            assert_eq!(redacted(text), text);
        }
    }

    #[test]
    fn a_span_over_several_words_becomes_one_word_with_their_times() {
        let mut t = turn("nummer 06 1234 5678 graag");
        assert_eq!(redact_turn(&mut t), 1);
        let w = &t.words[1];
        assert_eq!((w.text.as_str(), w.start, w.end), ("[PHONE]", 1.0, 3.5));
        assert_eq!(t.words.len(), 3);
    }
}
