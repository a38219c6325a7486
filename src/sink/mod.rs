//! Writers: one `Transcript`, several renderings, and the atomic write that keeps a
//! crash or Ctrl-C from leaving half a file behind.

mod subtitles;

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::types::{Transcript, Turn};

pub use subtitles::{clock, to_srt, to_vtt};

/// The output formats subtext can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `NAME.subtext.json`: the whole transcript, the documented schema.
    Json,
    /// JSON Lines: a `begin` line (call metadata), a `turn` line per turn, an `end` line.
    Jsonl,
    /// WebVTT with `<v Agent>`/`<v Customer>` voice spans.
    Vtt,
    /// SubRip subtitles, speaker name in front of each cue.
    Srt,
    /// Plain text, one turn per line (`[00:01.2] Customer: ...`).
    Text,
}

impl Format {
    /// File name suffix used by `batch`.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "subtext.json",
            Format::Jsonl => "subtext.jsonl",
            Format::Vtt => "vtt",
            Format::Srt => "srt",
            Format::Text => "txt",
        }
    }
}

/// One JSON Lines record, ripgrep-style: `{"type": "...", "data": {...}}`.
#[derive(Serialize)]
#[serde(tag = "type", content = "data", rename_all = "lowercase")]
pub enum Message<'a> {
    Begin(&'a crate::types::CallMeta),
    Turn(&'a Turn),
    End { turns: usize, duration: f64 },
}

/// Renders `transcript` in `format`.
pub fn render(transcript: &Transcript, format: Format) -> String {
    match format {
        Format::Json => {
            let mut s =
                serde_json::to_string_pretty(transcript).expect("a transcript always serialises");
            s.push('\n');
            s
        }
        Format::Jsonl => {
            let mut out = String::new();
            let mut line = |m: Message| {
                out.push_str(&serde_json::to_string(&m).expect("a message always serialises"));
                out.push('\n');
            };
            line(Message::Begin(&transcript.call));
            for turn in &transcript.turns {
                line(Message::Turn(turn));
            }
            line(Message::End {
                turns: transcript.turns.len(),
                duration: transcript.call.duration,
            });
            out
        }
        Format::Vtt => to_vtt(transcript),
        Format::Srt => to_srt(transcript),
        Format::Text => transcript
            .turns
            .iter()
            .map(|t| {
                format!(
                    "[{}] {}: {}{}\n",
                    subtitles::clock(t.start, '.', false),
                    t.speaker.title(),
                    t.text,
                    t.tags
                        .as_ref()
                        .map(|tags| format!("  {{{}}}", tag_badges(tags).join("; ")))
                        .unwrap_or_default()
                )
            })
            .collect(),
    }
}

/// `frustration 0.95`, `journey "kastje naar de muur"`, `need ownership`: the stated
/// tags of a turn as short badges for the text and `show` views.
pub fn tag_badges(tags: &crate::types::TurnTags) -> Vec<String> {
    let mut parts: Vec<String> = tags
        .emotions
        .iter()
        .map(|e| format!("{} {:.2}", e.id, e.confidence))
        .collect();
    parts.extend(tags.metaphors.iter().map(|m| match &m.quote {
        Some(q) => format!("{} \"{q}\"", m.class),
        None => m.class.clone(),
    }));
    if let Some(need) = &tags.need {
        parts.push(format!("need {}", need.id));
    }
    parts
}

/// Writes `contents` to `path` through a temporary file in the same folder and a
/// rename, so readers (and a resumed batch) only ever see a whole file.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".subtext-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    tmp.write_all(contents).map_err(|e| Error::io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}
