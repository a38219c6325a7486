//! `subtext show`: a tagged call for people. Turns with speaker, time and tags as
//! short badges, hints inline, then the call summary; for a terminal (colour when
//! wanted) or as Markdown to share.

use crate::sink::{clock, tag_badges};
use crate::summary::{NEGATIVE_VALENCE, POSITIVE_VALENCE};
use crate::types::{
    CallSummary, FunctionalOutcome, Hint, MomentKind, Speaker, SpeakerCurve, Transcript, Turn,
};

/// How the view is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Plain text for a terminal; `color` adds ANSI colours.
    Terminal {
        color: bool,
    },
    Markdown,
}

/// ANSI colours used for the terminal view.
#[derive(Clone, Copy)]
enum Paint {
    Dim,
    Bold,
    Agent,
    Customer,
    Hint,
    Negative,
    Positive,
}

impl Paint {
    fn code(self) -> &'static str {
        match self {
            Paint::Dim => "2",
            Paint::Bold => "1",
            Paint::Agent => "34",
            Paint::Customer => "35",
            Paint::Hint => "1;33",
            Paint::Negative => "31",
            Paint::Positive => "32",
        }
    }
}

struct Writer {
    style: Style,
    out: String,
}

impl Writer {
    fn paint(&self, paint: Paint, text: &str) -> String {
        match self.style {
            Style::Terminal { color: true } => format!("\x1b[{}m{text}\x1b[0m", paint.code()),
            _ => text.to_string(),
        }
    }

    fn line(&mut self, text: &str) {
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn markdown(&self) -> bool {
        self.style == Style::Markdown
    }

    /// `start -0.60 frustration → peak -0.70 at 00:08.7 → end +0.40 relief · recovered  ▁▂▅▇`
    fn curve_text(&self, c: &SpeakerCurve) -> String {
        let v = |x: f32| {
            let s = format!("{x:+.2}");
            match x {
                x if x <= NEGATIVE_VALENCE => self.paint(Paint::Negative, &s),
                x if x >= POSITIVE_VALENCE => self.paint(Paint::Positive, &s),
                _ => s,
            }
        };
        let trajectory = format!("{:?}", c.trajectory).to_lowercase();
        format!(
            "start {} {} → peak {} at {} → end {} {} · {trajectory}  {}",
            v(c.start.valence),
            c.start.emotion,
            v(c.peak.valence),
            clock(c.peak.time, '.', false),
            v(c.end.valence),
            c.end.emotion,
            sparkline(&c.valence, 40)
        )
    }
}

/// Renders a transcript in `style`.
pub fn render(transcript: &Transcript, style: Style) -> String {
    let mut w = Writer {
        style,
        out: String::new(),
    };
    header(&mut w, transcript);
    let hints: &[Hint] = transcript.hints.as_deref().unwrap_or_default();
    for turn in &transcript.turns {
        turn_lines(&mut w, turn, hints.iter().filter(|h| h.turn == turn.id));
    }
    if let Some(summary) = &transcript.summary {
        summary_lines(&mut w, summary, transcript);
    }
    w.out
}

fn header(w: &mut Writer, t: &Transcript) {
    let c = &t.call;
    let layout = c
        .channel_map
        .iter()
        .map(|s| s.title().to_lowercase())
        .collect::<Vec<_>>()
        .join("/");
    let facts = format!(
        "{} · language {} ({}) · {} · {}",
        clock(c.duration, '.', false),
        c.language,
        format!("{:?}", c.language_source).to_lowercase(),
        layout,
        if c.redacted {
            "personal data redacted"
        } else {
            "NOT redacted"
        }
    );
    if w.markdown() {
        w.line(&format!(
            "# Call `{}`\n\n{facts}\n\n## Transcript\n",
            c.source
        ));
    } else {
        let title = w.paint(Paint::Bold, &c.source);
        w.line(&format!("{title}  {facts}"));
        w.line(&"─".repeat(72));
    }
}

/// A turn's tags and voice cues as short badges: `frustration 0.62`, `need be_heard`,
/// `complaint`, `voice +4 dB`, `interrupts` (shared with `replay`).
pub fn turn_badges(turn: &Turn) -> Vec<String> {
    let mut badges = turn.tags.as_ref().map(tag_badges).unwrap_or_default();
    if let Some(c) = turn.tags.as_ref().and_then(|t| t.contact_type.as_ref()) {
        badges.push(c.id.clone());
    }
    if let Some(a) = &turn.acoustic {
        if a.loudness_db.abs() >= 3.0 {
            badges.push(format!("voice {:+.0} dB", a.loudness_db));
        }
        if a.interrupts {
            badges.push("interrupts".into());
        }
    }
    badges
}

fn turn_lines<'h>(w: &mut Writer, turn: &Turn, hints: impl Iterator<Item = &'h Hint>) {
    let time = clock(turn.start, '.', false);
    let badges = turn_badges(turn);
    if w.markdown() {
        w.line(&format!(
            "**[{time}] {}:** {}  ",
            turn.speaker.title(),
            turn.text
        ));
        if !badges.is_empty() {
            w.line(&format!("<sub>{}</sub>  ", badges.join(" · ")));
        }
        for h in hints {
            w.line(&format!(
                "> 💡 **Hint:** {}{}",
                h.text,
                question(h, " *", "*")
            ));
        }
        w.line("");
    } else {
        let paint = match turn.speaker {
            Speaker::Agent => Paint::Agent,
            _ => Paint::Customer,
        };
        let who = w.paint(paint, &format!("{:<9}", turn.speaker.title()));
        w.line(&format!("[{time}] {who}{}", turn.text));
        if !badges.is_empty() {
            let line = w.paint(Paint::Dim, &badges.join(" · "));
            w.line(&format!("{:19}{line}", ""));
        }
        for h in hints {
            let text = w.paint(Paint::Hint, &format!("➜ {}", h.text));
            w.line(&format!("{:19}{text}", ""));
            if let Some(q) = &h.question {
                w.line(&format!("{:21}{q}", ""));
            }
        }
    }
}

fn question(h: &Hint, open: &str, close: &str) -> String {
    h.question
        .as_ref()
        .map(|q| format!("{open}{q}{close}"))
        .unwrap_or_default()
}

fn summary_lines(w: &mut Writer, s: &CallSummary, t: &Transcript) {
    let mut rows: Vec<(String, String)> = Vec::new();
    if let Some(c) = &s.contact_type {
        rows.push((
            "Contact type".into(),
            format!("{} ({:.2})", c.id, c.confidence),
        ));
    }
    for curve in &s.curves {
        rows.push((curve.speaker.title().to_string(), w.curve_text(curve)));
    }
    for m in &s.moments {
        let kind = match m.kind {
            MomentKind::NegativePeak => "negative peak",
            MomentKind::Recovery => "recovery",
            MomentKind::PositivePeak => "9+ moment",
        };
        rows.push((
            "Moment".into(),
            format!("{} {kind}: \"{}\"", clock(m.time, '.', false), m.quote),
        ));
    }
    let functional = match s.outcome.functional {
        FunctionalOutcome::Resolved => "resolved",
        FunctionalOutcome::Partly => "partly resolved",
        FunctionalOutcome::NotResolved => "not resolved",
        FunctionalOutcome::Unknown => "unknown",
    };
    let evidence = s
        .outcome
        .evidence
        .iter()
        .map(|e| format!("\"{e}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let mut outcome = format!("functional: {functional}");
    if !evidence.is_empty() {
        outcome.push_str(&format!(" ({evidence})"));
    }
    if let Some(e) = &s.outcome.emotional {
        outcome.push_str(&format!(" · emotional: {e}"));
    }
    rows.push(("Outcome".into(), outcome));
    let talk = &s.talk;
    let mut talk_text = String::new();
    if let Some(r) = talk.agent_talk_ratio {
        talk_text.push_str(&format!("agent {:.0}% of talk · ", r * 100.0));
    }
    talk_text.push_str(&format!(
        "silence {:.0}% · overlap {:.1} s · interruptions: agent {}, customer {}",
        talk.silence_share * 100.0,
        talk.overlap_seconds,
        talk.interruptions_by_agent,
        talk.interruptions_by_customer
    ));
    rows.push(("Talk".into(), talk_text));
    let n_hints = t.hints.as_ref().map_or(0, Vec::len);
    rows.push(("Hints".into(), n_hints.to_string()));
    rows.push((
        "Follow-up".into(),
        if s.follow_up.needed {
            format!("yes: {}", s.follow_up.reasons.join(", ").replace('_', " "))
        } else {
            "no".into()
        },
    ));

    if w.markdown() {
        w.line("## Summary\n");
        w.line("| | |\n|---|---|");
        for (k, v) in rows {
            w.line(&format!("| **{k}** | {} |", v.replace('|', "\\|")));
        }
    } else {
        w.line(&"─".repeat(72));
        w.line(&w.paint(Paint::Bold, "Summary"));
        for (k, v) in rows {
            w.line(&format!("  {k:<13}{v}"));
        }
    }
}

/// The valence curve (-1..1) in at most `width` block characters.
pub fn sparkline(values: &[f32], width: usize) -> String {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    if values.is_empty() {
        return String::new();
    }
    let buckets = width.min(values.len()).max(1);
    (0..buckets)
        .map(|b| {
            let from = b * values.len() / buckets;
            let to = ((b + 1) * values.len() / buckets).max(from + 1);
            let mean = values[from..to].iter().sum::<f32>() / (to - from) as f32;
            let level = (((mean + 1.0) / 2.0) * 7.0).round().clamp(0.0, 7.0) as usize;
            BLOCKS[level]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_maps_valence_to_blocks() {
        assert_eq!(sparkline(&[-1.0, 0.0, 1.0], 10), "▁▅█");
        assert_eq!(sparkline(&[-1.0, -1.0, 1.0, 1.0], 2), "▁█");
        assert_eq!(sparkline(&[], 5), "");
    }
}
