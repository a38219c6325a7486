//! LocalAgreement-2: which words of an utterance still being spoken are stable.
//!
//! The open utterance is decoded again as it grows. A word is committed once two
//! consecutive decodes agree on it and on every word before it (Macháček et al.
//! 2023, "Turning Whisper into Real-Time Transcription System", the policy of
//! whisper_streaming). Committed words are never taken back in `partial` events;
//! the `final` event, decoded on the closed utterance, is what counts.

use crate::types::Word;

/// The stability state of one open utterance.
#[derive(Debug, Default, Clone)]
pub struct LocalAgreement {
    committed: Vec<Word>,
    /// The words after the committed ones in the previous decode.
    previous: Vec<Word>,
}

impl LocalAgreement {
    /// Takes the words of a new decode of the whole utterance so far; returns
    /// (committed, unstable) words.
    pub fn update(&mut self, words: Vec<Word>) -> (&[Word], &[Word]) {
        let tail = self.after_committed(words);
        let agreed = tail
            .iter()
            .zip(&self.previous)
            .take_while(|(a, b)| same_word(&a.text, &b.text))
            .count();
        let mut tail = tail;
        let rest = tail.split_off(agreed);
        self.committed.extend(tail);
        self.previous = rest;
        (&self.committed, &self.previous)
    }

    /// The part of a new decode that follows the committed words: the words after
    /// a matching prefix, or else (when the decode rephrased the start) the words
    /// that begin after the last committed word ended.
    fn after_committed(&self, mut words: Vec<Word>) -> Vec<Word> {
        let n = self.committed.len();
        let prefix_matches = words.len() >= n
            && words
                .iter()
                .zip(&self.committed)
                .all(|(a, b)| same_word(&a.text, &b.text));
        if prefix_matches {
            return words.split_off(n);
        }
        let end = self.committed.last().map_or(f64::NEG_INFINITY, |w| w.end);
        // Word times wobble between decodes by a few tens of ms.
        words.retain(|w| w.start >= end - 0.05);
        words
    }
}

/// Words compare without case and surrounding punctuation: a decode that adds a
/// comma after a word has not changed the word.
fn same_word(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase()
    };
    norm(a) == norm(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Word> {
        Word::sequence(text, 0.5, 0.4)
    }

    fn texts(w: &[Word]) -> String {
        w.iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn a_prefix_is_committed_when_two_decodes_agree() {
        let mut la = LocalAgreement::default();
        let (c, u) = la.update(words("Ik wacht"));
        assert_eq!((texts(c), texts(u)), ("".into(), "Ik wacht".into()));
        let (c, u) = la.update(words("Ik wacht al twintig"));
        assert_eq!(
            (texts(c), texts(u)),
            ("Ik wacht".into(), "al twintig".into())
        );
        let (c, u) = la.update(words("Ik wacht al 20 minuten"));
        assert_eq!(
            (texts(c), texts(u)),
            ("Ik wacht al".into(), "20 minuten".into())
        );
    }

    #[test]
    fn punctuation_and_case_do_not_break_agreement() {
        let mut la = LocalAgreement::default();
        la.update(words("ik wacht al"));
        let (c, _) = la.update(words("Ik wacht, al."));
        assert_eq!(texts(c), "Ik wacht, al.");
    }

    #[test]
    fn committed_words_are_never_taken_back() {
        let mut la = LocalAgreement::default();
        la.update(words("Ik wacht al"));
        la.update(words("Ik wacht al lang"));
        // The next decode rephrases the start: the committed words stay, and only
        // words after them in time are compared.
        let (c, u) = la.update(words("Ik wachtte al lang hier"));
        assert_eq!(texts(c), "Ik wacht al lang");
        assert_eq!(texts(u), "hier");
    }
}
