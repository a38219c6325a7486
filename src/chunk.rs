//! Speech spans → recogniser chunks.
//!
//! whisper's encoder always works on a 30 s window, so sending each short span on
//! its own would pay for 30 s of encoding every time. Instead, spans are packed
//! into chunks of up to `max_seconds` of speech with a short silence between them
//! (the approach faster-whisper takes with its VAD filter), and every chunk keeps a
//! map from its own timeline back to the track's, so word times stay true.

use crate::vad::SpeechSpan;

const RATE: f64 = crate::audio::TARGET_RATE as f64;

/// How spans are packed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChunkConfig {
    /// Longest chunk, in seconds (whisper's window is 30 s).
    pub max_seconds: f64,
    /// Spans closer than this in the track are kept together with the audio
    /// between them, so a short breath does not cut a sentence.
    pub join_gap: f64,
    /// Silence inserted between packed pieces, so whisper sees a pause there.
    pub separator: f64,
}

impl Default for ChunkConfig {
    fn default() -> Self {
        ChunkConfig {
            max_seconds: 29.0,
            join_gap: 0.8,
            separator: 0.4,
        }
    }
}

/// A contiguous stretch of the track placed at `chunk_start` in the chunk.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Piece {
    pub track_start: f64,
    pub chunk_start: f64,
    pub len: f64,
}

/// Audio for one recogniser call plus its time map.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub pieces: Vec<Piece>,
    pub samples: Vec<f32>,
}

impl Chunk {
    /// The piece a chunk time falls in (or follows, in a separator).
    fn piece_at(&self, t: f64) -> &Piece {
        let idx = self
            .pieces
            .iter()
            .rposition(|p| p.chunk_start <= t)
            .unwrap_or(0);
        &self.pieces[idx]
    }

    /// Maps a time in the chunk to the track. Times that fall in an inserted
    /// separator are clamped to the end of the piece before it.
    pub fn to_track_time(&self, t: f64) -> f64 {
        let piece = self.piece_at(t);
        piece.track_start + (t - piece.chunk_start).clamp(0.0, piece.len)
    }

    /// Maps a word's (start, end) to the track, keeping the end within the piece
    /// the word starts in: a word never spans the silence cut out between pieces.
    pub fn to_track_span(&self, start: f64, end: f64) -> (f64, f64) {
        let piece = self.piece_at(start);
        let track_start = self.to_track_time(start);
        let piece_end = piece.track_start + piece.len;
        (
            track_start,
            self.to_track_time(end)
                .clamp(track_start, piece_end.max(track_start)),
        )
    }

    /// Seconds of track audio in this chunk.
    pub fn speech_seconds(&self) -> f64 {
        self.pieces.iter().map(|p| p.len).sum()
    }
}

/// Packs the `spans` of the 16 kHz `pcm` into chunks.
pub fn pack(pcm: &[f32], spans: &[SpeechSpan], config: ChunkConfig) -> Vec<Chunk> {
    let track_len = pcm.len() as f64 / RATE;
    // 1. Join spans separated by short gaps, without exceeding the chunk length.
    let mut stretches: Vec<(f64, f64)> = Vec::new();
    for span in spans {
        let (start, end) = (span.start.max(0.0), span.end.min(track_len));
        if end <= start {
            continue;
        }
        match stretches.last_mut() {
            Some(last)
                if start - last.1 < config.join_gap && end - last.0 <= config.max_seconds =>
            {
                last.1 = last.1.max(end)
            }
            _ => stretches.push((start, end)),
        }
    }
    // 2. Pack stretches into chunks. A stretch longer than a chunk (the VAD should
    //    have split it) is cut at the limit.
    let mut chunks = Vec::new();
    let mut current = Chunk {
        pieces: Vec::new(),
        samples: Vec::new(),
    };
    let separator = vec![0.0f32; (config.separator * RATE) as usize];
    let mut queue: std::collections::VecDeque<(f64, f64)> = stretches.into();
    while let Some((start, end)) = queue.pop_front() {
        let (start, end) = if end - start > config.max_seconds {
            queue.push_front((start + config.max_seconds, end));
            (start, start + config.max_seconds)
        } else {
            (start, end)
        };
        let gap = if current.pieces.is_empty() {
            0.0
        } else {
            config.separator
        };
        let used = current.samples.len() as f64 / RATE;
        if used + gap + (end - start) > config.max_seconds && !current.pieces.is_empty() {
            chunks.push(std::mem::replace(
                &mut current,
                Chunk {
                    pieces: Vec::new(),
                    samples: Vec::new(),
                },
            ));
        }
        if !current.pieces.is_empty() {
            current.samples.extend_from_slice(&separator);
        }
        let (a, b) = (
            (start * RATE) as usize,
            ((end * RATE) as usize).min(pcm.len()),
        );
        current.pieces.push(Piece {
            track_start: a as f64 / RATE,
            chunk_start: current.samples.len() as f64 / RATE,
            len: (b - a) as f64 / RATE,
        });
        current.samples.extend_from_slice(&pcm[a..b]);
    }
    if !current.pieces.is_empty() {
        chunks.push(current);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: f64, end: f64) -> SpeechSpan {
        SpeechSpan { start, end }
    }

    #[test]
    fn close_spans_join_and_far_spans_pack_with_a_separator() {
        let pcm: Vec<f32> = (0..16_000 * 60).map(|i| i as f32).collect();
        let chunks = pack(
            &pcm,
            &[span(1.0, 2.0), span(2.5, 3.0), span(10.0, 12.0)],
            ChunkConfig::default(),
        );
        assert_eq!(chunks.len(), 1);
        let c = &chunks[0];
        assert_eq!(c.pieces.len(), 2);
        assert_eq!(
            c.pieces[0],
            Piece {
                track_start: 1.0,
                chunk_start: 0.0,
                len: 2.0
            }
        );
        assert!((c.pieces[1].chunk_start - 2.4).abs() < 1e-9);
        // Samples are the track's own: the second piece starts with sample 10 s.
        assert_eq!(c.samples[(2.4 * RATE) as usize], (10 * 16_000) as f32);
        assert!((c.to_track_time(0.5) - 1.5).abs() < 1e-9);
        assert!(
            (c.to_track_time(2.2) - 3.0).abs() < 1e-9,
            "separator clamps to piece end"
        );
        assert!((c.to_track_time(3.4) - 11.0).abs() < 1e-9);
        let (start, end) = c.to_track_span(1.8, 2.6);
        assert!(
            (start - 2.8).abs() < 1e-9 && (end - 3.0).abs() < 1e-9,
            "end stays in the first piece"
        );
    }

    #[test]
    fn chunks_never_exceed_the_limit() {
        let pcm = vec![0.0f32; 16_000 * 200];
        let spans: Vec<_> = (0..40)
            .map(|i| span(i as f64 * 5.0, i as f64 * 5.0 + 3.0))
            .collect();
        let mut long = spans.clone();
        long.push(span(199.0 - 70.0, 199.0));
        for spans in [spans, vec![span(0.0, 100.0)]] {
            let chunks = pack(&pcm, &spans, ChunkConfig::default());
            let total: f64 = chunks.iter().map(Chunk::speech_seconds).sum();
            let expected: f64 = spans.iter().map(|s| s.end - s.start).sum();
            assert!(
                (total - expected).abs() < 0.01,
                "no speech lost: {total} vs {expected}"
            );
            for c in &chunks {
                assert!(c.samples.len() as f64 / RATE <= 29.0 + 1e-6);
            }
        }
    }

    #[test]
    fn spans_outside_the_track_are_clipped() {
        let pcm = vec![0.0f32; 16_000 * 5];
        let chunks = pack(
            &pcm,
            &[span(-1.0, 1.0), span(4.5, 9.0), span(7.0, 8.0)],
            ChunkConfig::default(),
        );
        let total: f64 = chunks.iter().map(Chunk::speech_seconds).sum();
        assert!((total - 1.5).abs() < 1e-6);
    }
}
