//! What whisper writes that nobody said: sound annotations ("[Muziek]",
//! "(applaus)") and repetition loops, where the decoder repeats a word or a few
//! words until its token cap ("but I can, but I can, but I can, …"). Seen in batch
//! output: 12 of 1,042 turns of the soak set and samples held such a loop.

use crate::types::Word;

/// The shortest loop cut, in repetitions of one pattern. "nee nee nee" and
/// "ja, ja, ja, ja" are speech; whisper's loops run on for dozens.
const MIN_REPEATS: usize = 4;
/// ...and in words, so a single word needs six in a row.
const MIN_LOOP_WORDS: usize = 6;
/// Longest repeated pattern looked for, in words (a 9-word clause repeated was
/// seen in the soak set).
const MAX_PATTERN_WORDS: usize = 12;

/// A chunk's words without annotations, and with every loop cut to its first
/// occurrence (what the speaker most likely did say once).
pub fn clean_words(words: Vec<Word>) -> Vec<Word> {
    let words: Vec<Word> = words
        .into_iter()
        .filter(|w| !is_annotation(&w.text))
        .collect();
    cut_loops(words)
}

/// A whole word in brackets or parentheses: whisper's description of a sound.
fn is_annotation(text: &str) -> bool {
    let t = text.trim();
    (t.starts_with('[') && t.ends_with(']')) || (t.starts_with('(') && t.ends_with(')'))
}

fn cut_loops(words: Vec<Word>) -> Vec<Word> {
    // Compared without case and punctuation: loops drift between "can," and "can".
    let keys: Vec<String> = words
        .iter()
        .map(|w| {
            w.text
                .chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect()
        })
        .collect();
    let mut keep = vec![true; words.len()];
    let mut i = 0;
    while i < words.len() {
        match loop_at(&keys, i) {
            Some((pattern, repeats)) => {
                let end = i + pattern * repeats;
                keep[i + pattern..end].iter_mut().for_each(|k| *k = false);
                tracing::debug!(
                    pattern = keys[i..i + pattern].join(" "),
                    repeats,
                    "recogniser loop cut"
                );
                i = end;
            }
            None => i += 1,
        }
    }
    words
        .into_iter()
        .zip(keep)
        .filter_map(|(w, k)| k.then_some(w))
        .collect()
}

/// The (pattern length, repetitions) of a loop starting at word `i`, if any; the
/// pattern covering the most words wins.
fn loop_at(keys: &[String], i: usize) -> Option<(usize, usize)> {
    (1..=MAX_PATTERN_WORDS)
        .filter(|&n| i + n <= keys.len() && keys[i..i + n].iter().all(|k| !k.is_empty()))
        .map(|n| {
            let pattern = &keys[i..i + n];
            let repeats = keys[i..]
                .chunks_exact(n)
                .take_while(|chunk| *chunk == pattern)
                .count();
            (n, repeats)
        })
        .filter(|&(n, repeats)| repeats >= MIN_REPEATS && n * repeats >= MIN_LOOP_WORDS)
        .max_by_key(|&(n, repeats)| (n * repeats, std::cmp::Reverse(n)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Word> {
        Word::sequence(text, 1.0, 0.5)
    }

    fn text(words: &[Word]) -> String {
        words
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn a_loop_is_cut_to_its_first_occurrence_and_what_follows_stays() {
        let cleaned = clean_words(words(
            "Yeah, but I can, but I can, but I can, but I can, but I can but I can dus tot morgen",
        ));
        assert_eq!(text(&cleaned), "Yeah, but I can, dus tot morgen");
        // Kept words keep their own times.
        assert_eq!(cleaned[4].start, 19.0);
        let cleaned = clean_words(words(&"Mavic ".repeat(30)));
        assert_eq!(text(&cleaned), "Mavic");
        let clause = "I can make it up to you if you wait, ";
        let cleaned = clean_words(words(&format!("ja, {}", clause.repeat(5))));
        assert_eq!(text(&cleaned), format!("ja, {}", clause.trim_end()));
    }

    #[test]
    fn ordinary_repetition_is_speech() {
        for said in [
            "nee nee nee dat klopt niet",
            "ja, ja, ja, ja, prima",
            "dank u wel, dank u wel",
            "het is het is het is gewoon zo",
        ] {
            assert_eq!(text(&clean_words(words(said))), said);
        }
    }

    #[test]
    fn sound_annotations_are_dropped() {
        let cleaned = clean_words(words("[Muziek] goedemiddag (applaus) [BLANK_AUDIO]"));
        assert_eq!(text(&cleaned), "goedemiddag");
        assert!(is_annotation("(muziek)"));
        assert!(!is_annotation("(ja"));
        assert!(!is_annotation("ja."));
    }
}
