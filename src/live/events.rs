//! What `subtext live` writes: one JSON object per line (see README "Live events"),
//! or with `--pretty` a readable view for a terminal.

use std::io::Write;

use serde::Serialize;

use crate::types::{Hint, Speaker, Turn};

/// One line of output. Times are seconds from the start of the stream.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Event {
    Partial(Partial),
    Final(Final),
    Hint(HintEvent),
    Stats(Stats),
}

/// The utterance still being spoken, as recognised so far.
#[derive(Debug, Clone, Serialize)]
pub struct Partial {
    /// Links partials to the `final` of the same utterance.
    pub utterance: u64,
    pub speaker: Speaker,
    pub start: f64,
    /// Stream time of the last audio decoded.
    pub end: f64,
    /// Words two consecutive decodes agreed on (LocalAgreement-2); they stay.
    pub stable: String,
    /// Words that may still change.
    pub unstable: String,
}

/// A finished turn: words, times, tags.
#[derive(Debug, Clone, Serialize)]
pub struct Final {
    pub utterance: u64,
    /// The same `Turn` as in `NAME.subtext.json`; `id` counts finals in this stream.
    pub turn: Turn,
    pub language: String,
    /// Stream time at which voice activity detection closed the utterance.
    pub vad_close: f64,
    /// Seconds from reading the audio that closed the utterance to this line.
    pub latency: f64,
    /// Seconds spent recognising this utterance.
    pub decode_seconds: f64,
}

/// A hint for the agent, for the customer turn of `utterance`.
#[derive(Debug, Clone, Serialize)]
pub struct HintEvent {
    pub utterance: u64,
    pub hint: Hint,
    /// Seconds from reading the audio that closed the utterance to this line.
    pub latency: f64,
}

/// How the stream is keeping up; every `--stats-every` seconds and once at the end.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Seconds since the stream started (wall clock).
    pub elapsed: f64,
    /// Seconds of audio read from the input.
    pub received: f64,
    /// Seconds of audio through voice activity detection.
    pub processed: f64,
    /// How far the output trails the input (s): audio received but not yet
    /// turned into finals (an utterance still being spoken does not count).
    pub lag: f64,
    /// Closed utterances waiting for their final.
    pub pending_finals: usize,
    pub finals: u64,
    pub hints: u64,
    pub partials: u64,
    /// Partial decodes left out to keep up (a newer one replaced them, or a final
    /// came first).
    pub partials_skipped: u64,
    /// Seconds spent recognising, all utterances together.
    pub decode_seconds: f64,
    /// The last final's decode time (s).
    pub last_decode_seconds: f64,
    /// Language of the call once known (`nl` or `en`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Seconds of audio held for open utterances.
    pub buffered: f64,
    /// Resident memory of the process (MB), where the system tells.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_mb: Option<f64>,
    /// True on the last line, written when the input has ended.
    pub done: bool,
}

/// Where events go.
pub trait EventSink: Send {
    fn emit(&mut self, event: &Event) -> std::io::Result<()>;
}

/// JSON Lines, flushed after every line so a reader sees each event at once.
pub struct JsonLines<W>(pub W);

impl<W: Write + Send> EventSink for JsonLines<W> {
    fn emit(&mut self, event: &Event) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.0, event)?;
        self.0.write_all(b"\n")?;
        self.0.flush()
    }
}

/// A readable view: finals as transcript lines with tag badges, hints under them.
/// On a terminal, the partial of the utterance in progress is redrawn in place.
pub struct Pretty<W> {
    out: W,
    terminal: bool,
    /// A partial line is on screen (to be overwritten).
    partial_shown: bool,
}

impl<W: Write + Send> Pretty<W> {
    pub fn new(out: W, terminal: bool) -> Self {
        Pretty {
            out,
            terminal,
            partial_shown: false,
        }
    }

    fn clear_partial(&mut self) -> std::io::Result<()> {
        if self.partial_shown {
            self.out.write_all(b"\r\x1b[2K")?;
            self.partial_shown = false;
        }
        Ok(())
    }
}

impl<W: Write + Send> EventSink for Pretty<W> {
    fn emit(&mut self, event: &Event) -> std::io::Result<()> {
        match event {
            Event::Partial(p) => {
                if !self.terminal {
                    return Ok(());
                }
                self.clear_partial()?;
                let text = format!("{} {}", p.stable, p.unstable);
                // One screen line: the end of what is being said.
                let tail: String = {
                    let chars: Vec<char> = text.trim().chars().collect();
                    chars[chars.len().saturating_sub(70)..].iter().collect()
                };
                write!(
                    self.out,
                    "[{}] {} … {}",
                    crate::sink::clock(p.start, '.', false),
                    p.speaker.title(),
                    tail
                )?;
                self.partial_shown = true;
            }
            Event::Final(f) => {
                self.clear_partial()?;
                let badges = f
                    .turn
                    .tags
                    .as_ref()
                    .map(crate::sink::tag_badges)
                    .unwrap_or_default();
                writeln!(
                    self.out,
                    "[{}] {}: {}",
                    crate::sink::clock(f.turn.start, '.', false),
                    f.turn.speaker.title(),
                    f.turn.text
                )?;
                if !badges.is_empty() {
                    writeln!(self.out, "           {}", badges.join(" · "))?;
                }
            }
            Event::Hint(h) => {
                self.clear_partial()?;
                writeln!(self.out, "           ➜ {}", h.hint.text)?;
                if let Some(q) = &h.hint.question {
                    writeln!(self.out, "             {q}")?;
                }
            }
            Event::Stats(s) if s.done => {
                self.clear_partial()?;
                writeln!(
                    self.out,
                    "— {:.1} s of audio, {} turn(s), {} hint(s); final lag {:.2} s",
                    s.received, s.finals, s.hints, s.lag
                )?;
            }
            Event::Stats(_) => return Ok(()),
        }
        self.out.flush()
    }
}

/// Resident memory in MB (Linux `/proc/self/status`), None elsewhere.
pub fn rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((kb / 1024.0 * 10.0).round() / 10.0)
}
