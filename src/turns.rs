//! Words of every track → the call's turns, in time order.
//!
//! Each track's words are first cut into utterances at pauses; utterances of all
//! speakers are then ordered by start time and consecutive utterances of the same
//! speaker are joined into one turn. A short interjection of the other party
//! ("ja", "hm") therefore shows as its own turn, as in a written transcript.

use crate::types::{Speaker, Turn, Word};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TurnConfig {
    /// A pause at least this long (s) within one track ends an utterance.
    pub utterance_pause: f64,
    /// Utterances of the same speaker closer than this (s) join into one turn when
    /// nobody else spoke in between.
    pub turn_join_gap: f64,
}

impl Default for TurnConfig {
    fn default() -> Self {
        TurnConfig {
            utterance_pause: 1.0,
            turn_join_gap: 2.0,
        }
    }
}

/// Builds turns from each track's words (words within a track in time order).
pub fn build(tracks: &[(Speaker, Vec<Word>)], config: TurnConfig) -> Vec<Turn> {
    let mut utterances: Vec<(Speaker, Vec<Word>)> = Vec::new();
    for (speaker, words) in tracks {
        let mut current: Vec<Word> = Vec::new();
        for word in words {
            if let Some(last) = current.last() {
                if word.start - last.end >= config.utterance_pause {
                    utterances.push((*speaker, std::mem::take(&mut current)));
                }
            }
            current.push(word.clone());
        }
        if !current.is_empty() {
            utterances.push((*speaker, current));
        }
    }
    // Stable sort: equal starts keep track order (agent before customer).
    utterances.sort_by(|a, b| a.1[0].start.total_cmp(&b.1[0].start));

    let mut turns: Vec<Turn> = Vec::new();
    for (speaker, words) in utterances {
        let start = words[0].start;
        let end = words.iter().map(|w| w.end).fold(start, f64::max);
        match turns.last_mut() {
            Some(last) if last.speaker == speaker && start - last.end < config.turn_join_gap => {
                last.end = last.end.max(end);
                last.words.extend(words);
            }
            _ => turns.push(Turn {
                id: 0,
                speaker,
                start,
                end,
                text: String::new(),
                words,
                tags: None,
                acoustic: None,
            }),
        }
    }
    for (id, turn) in turns.iter_mut().enumerate() {
        turn.id = id;
        turn.text = join_words(&turn.words);
    }
    turns
}

/// Whisper's words carry their own punctuation, so a space between them restores
/// the text.
pub fn join_words(words: &[Word]) -> String {
    words
        .iter()
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(text: &str, start: f64, end: f64) -> Word {
        Word {
            text: text.into(),
            start,
            end,
            probability: 0.9,
        }
    }

    #[test]
    fn interleaves_speakers_by_time() {
        let agent = vec![
            w("Goedemorgen,", 0.0, 0.5),
            w("waarmee", 0.6, 0.9),
            w("kan", 0.9, 1.0),
            w("ik", 1.0, 1.1),
            w("helpen?", 1.1, 1.5),
        ];
        let customer = vec![
            w("Mijn", 2.0, 2.2),
            w("pakket", 2.2, 2.6),
            w("is", 2.6, 2.7),
            w("zoek.", 2.7, 3.0),
        ];
        let turns = build(
            &[(Speaker::Agent, agent), (Speaker::Customer, customer)],
            TurnConfig::default(),
        );
        assert_eq!(turns.len(), 2);
        assert_eq!(turns[0].speaker, Speaker::Agent);
        assert_eq!(turns[0].text, "Goedemorgen, waarmee kan ik helpen?");
        assert_eq!(turns[1].speaker, Speaker::Customer);
        assert_eq!((turns[1].id, turns[1].start, turns[1].end), (1, 2.0, 3.0));
    }

    #[test]
    fn interjection_splits_a_turn_and_long_pauses_split_turns() {
        let agent = vec![
            w("Een", 0.0, 0.3),
            w("moment.", 0.3, 0.8),
            w("Ik", 6.0, 6.2),
            w("kijk.", 6.2, 6.6),
        ];
        let customer = vec![w("Ja.", 0.9, 1.1)];
        let turns = build(
            &[(Speaker::Agent, agent), (Speaker::Customer, customer)],
            TurnConfig::default(),
        );
        let speakers: Vec<_> = turns.iter().map(|t| t.speaker).collect();
        assert_eq!(
            speakers,
            [Speaker::Agent, Speaker::Customer, Speaker::Agent]
        );
        assert_eq!(turns[2].text, "Ik kijk.");
    }

    #[test]
    fn same_speaker_utterances_join_when_close() {
        let words = vec![
            w("Hallo.", 0.0, 0.5),
            w("Ben", 1.6, 2.0),
            w("je", 2.0, 2.1),
            w("daar?", 2.1, 2.5),
        ];
        let turns = build(&[(Speaker::Unknown, words)], TurnConfig::default());
        assert_eq!(turns.len(), 1);
        assert_eq!(turns[0].text, "Hallo. Ben je daar?");
    }
}
