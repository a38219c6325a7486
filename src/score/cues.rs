//! Metaphor cue spans from the scorer's cue tagger: per token, the probability of each
//! deep metaphor (and of none), read from the encoder's last-layer states in context.
//! The lexicon finds only the expressions it lists; the tagger also marks images no
//! list holds ("het zuigt alle energie uit me"). Trained by
//! `models/scorer/train_cues.py`, whose `decode` is the twin of [`decode`].

/// One tagged span, in character offsets of the turn text (end exclusive).
#[derive(Debug, Clone, PartialEq)]
pub struct CueSpan {
    pub start: usize,
    pub end: usize,
    /// Index into the metaphor labels (never 0, "none").
    pub class: usize,
    /// The highest cue probability (1 - p(none)) of the span's tokens.
    pub confidence: f32,
}

/// How the per-token probabilities become spans (from the model's metadata).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CueThresholds {
    /// A token at or above this cue probability starts a span (calibrated on held-out
    /// train folds plus dev).
    pub start: f32,
    /// Neighbouring tokens at or above this join the span.
    pub extend: f32,
}

/// Spans from `probs` (row-major, one row of `classes` probabilities per token, column
/// 0 = none). `offsets[t]` is the token's character range in `text`, or `None` for
/// tokens that are not the text's (special tokens, the query prefix). A span grows to
/// whole words, without punctuation at its ends, and takes the class with the most
/// probability over its tokens.
pub fn decode(
    text: &str,
    offsets: &[Option<(usize, usize)>],
    probs: &[f32],
    classes: usize,
    thresholds: CueThresholds,
) -> Vec<CueSpan> {
    if classes < 2 || probs.len() != offsets.len() * classes {
        return Vec::new();
    }
    let row = |t: usize| &probs[t * classes..(t + 1) * classes];
    let cue = |t: usize| offsets[t].map(|_| 1.0 - row(t)[0]);
    let reaches = |t: usize, level: f32| cue(t).is_some_and(|p| p >= level);
    let chars: Vec<char> = text.chars().collect();
    let mut spans = Vec::new();
    let mut t = 0;
    while t < offsets.len() {
        if !reaches(t, thresholds.start) {
            t += 1;
            continue;
        }
        let (mut first, mut last) = (t, t);
        while first > 0 && reaches(first - 1, thresholds.extend) {
            first -= 1;
        }
        while last + 1 < offsets.len() && reaches(last + 1, thresholds.extend) {
            last += 1;
        }
        let (Some((mut start, _)), Some((_, mut end))) = (offsets[first], offsets[last]) else {
            unreachable!("tokens in a span have offsets");
        };
        end = end.min(chars.len());
        while start > 0 && chars[start - 1].is_alphanumeric() {
            start -= 1;
        }
        while end < chars.len() && chars[end].is_alphanumeric() {
            end += 1;
        }
        // No stray punctuation or space at the quote's ends.
        while start < end && !chars[start].is_alphanumeric() {
            start += 1;
        }
        while end > start && !chars[end - 1].is_alphanumeric() {
            end -= 1;
        }
        let mut mass = vec![0.0f32; classes];
        for p in (first..=last).map(row) {
            for (m, v) in mass.iter_mut().zip(p) {
                *m += v;
            }
        }
        let class = (1..classes)
            .max_by(|&a, &b| mass[a].total_cmp(&mass[b]))
            .expect("classes >= 2");
        let confidence = (first..=last).filter_map(cue).fold(0.0f32, f32::max);
        if start < end {
            spans.push(CueSpan {
                start,
                end,
                class,
                confidence,
            });
        }
        t = last + 1;
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: CueThresholds = CueThresholds {
        start: 0.9,
        extend: 0.5,
    };

    /// Rows of [none, balance, journey] for the given cue probabilities, the cue
    /// mass on `journey`.
    fn journey(cues: &[f32]) -> Vec<f32> {
        cues.iter().flat_map(|&c| [1.0 - c, 0.0, c]).collect()
    }

    #[test]
    fn a_confident_token_starts_a_span_that_grows_to_its_neighbours_and_whole_words() {
        let text = "ik word van het kastje naar de muur gestuurd";
        // Tokens: <s>, "ik", "word", "van", "het", "kast", "je", "naar", "de", "muur", </s>
        let offsets = [
            None,
            Some((0, 2)),
            Some((3, 7)),
            Some((8, 11)),
            Some((12, 15)),
            Some((16, 20)),
            Some((20, 22)),
            Some((23, 27)),
            Some((28, 30)),
            Some((31, 35)),
            None,
        ];
        let probs = journey(&[0.99, 0.1, 0.2, 0.6, 0.7, 0.4, 0.95, 0.8, 0.6, 0.55, 0.99]);
        let spans = decode(text, &offsets, &probs, 3, T);
        assert_eq!(spans.len(), 1);
        let s = &spans[0];
        let quote: String = text.chars().skip(s.start).take(s.end - s.start).collect();
        // "kast" at 0.4 stops the span on the left; "je" is the start token; the special
        // token at the end (0.99) is never part of it.
        assert_eq!(quote, "kastje naar de muur");
        assert_eq!(s.class, 2);
        assert!((s.confidence - 0.95).abs() < 1e-6);
    }

    #[test]
    fn quotes_do_not_end_in_punctuation() {
        let text = "Ik zit ermee in mijn maag.";
        let offsets = [
            Some((0, 2)),
            Some((3, 6)),
            Some((7, 12)),
            Some((13, 15)),
            Some((16, 20)),
            Some((21, 25)),
            Some((25, 26)),
        ];
        let spans = decode(
            text,
            &offsets,
            &journey(&[0.1, 0.2, 0.3, 0.8, 0.95, 0.97, 0.9]),
            3,
            T,
        );
        assert_eq!(
            spans.iter().map(|s| (s.start, s.end)).collect::<Vec<_>>(),
            [(13, 25)]
        );
    }

    #[test]
    fn below_the_start_threshold_nothing_is_tagged() {
        let text = "gewoon een vraag";
        let offsets = [Some((0, 6)), Some((7, 10)), Some((11, 16))];
        assert!(decode(text, &offsets, &journey(&[0.89, 0.89, 0.5]), 3, T).is_empty());
    }

    #[test]
    fn separate_images_give_separate_spans_with_char_offsets() {
        let text = "één stap vooruit, twee stappen terug";
        let offsets = [
            Some((0, 3)),
            Some((4, 8)),
            Some((9, 16)),
            Some((18, 22)),
            Some((23, 30)),
            Some((31, 36)),
        ];
        let spans = decode(
            text,
            &offsets,
            &journey(&[0.2, 0.95, 0.3, 0.1, 0.92, 0.7]),
            3,
            T,
        );
        assert_eq!(
            spans.iter().map(|s| (s.start, s.end)).collect::<Vec<_>>(),
            [(4, 8), (23, 36)]
        );
    }

    #[test]
    fn mismatched_shapes_give_no_spans() {
        assert!(decode("a b", &[Some((0, 1))], &[0.0, 1.0], 3, T).is_empty());
    }
}
