//! `subtext replay`: a tagged call played back on its own clock, as the agent would
//! have seen it live. A turn appears when it ended (that is when live mode writes
//! its `final`), a hint when it fired. In → a `Transcript`; out → timed lines
//! (plain mode, for pipes and tests) or a full-screen view with keys (`terminal`).
//!
//! The timeline and the clock are pure so both views share them and tests can
//! drive them without sleeping.

pub mod terminal;

use std::io::Write;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::show::turn_badges;
use crate::sink::clock;
use crate::types::{Hint, Speaker, Transcript, Turn};

/// One thing that appears on the agent's screen during the call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shown<'a> {
    Turn(&'a Turn),
    Hint(&'a Hint),
}

/// Everything that appears during a call, in the order and at the time it appears.
pub struct Timeline<'a> {
    pub transcript: &'a Transcript,
    /// (call time in seconds, what appears), sorted by time; a hint comes after the
    /// turn it belongs to when both appear at the same moment.
    events: Vec<(f64, Shown<'a>)>,
}

impl<'a> Timeline<'a> {
    pub fn new(transcript: &'a Transcript) -> Self {
        let mut events: Vec<(f64, Shown<'a>)> = transcript
            .turns
            .iter()
            .map(|t| (t.end, Shown::Turn(t)))
            .collect();
        for hint in transcript.hints.iter().flatten() {
            // A hint cannot fire before the words it answers were final.
            let after = transcript
                .turns
                .iter()
                .find(|t| t.id == hint.turn)
                .map_or(hint.time, |t| t.end);
            events.push((hint.time.max(after), Shown::Hint(hint)));
        }
        // Stable sort: turns were pushed before hints, so ties keep that order.
        events.sort_by(|a, b| a.0.total_cmp(&b.0));
        Timeline { transcript, events }
    }

    pub fn events(&self) -> &[(f64, Shown<'a>)] {
        &self.events
    }

    /// The call's length: its audio, or the last event when the metadata is short.
    pub fn duration(&self) -> f64 {
        let last = self.events.last().map_or(0.0, |e| e.0);
        self.transcript.call.duration.max(last)
    }

    /// How many events have appeared by call time `now`.
    pub fn shown_at(&self, now: f64) -> usize {
        self.events.partition_point(|e| e.0 <= now)
    }

    /// When the next event after `now` appears.
    pub fn next_after(&self, now: f64) -> Option<f64> {
        self.events.get(self.shown_at(now)).map(|e| e.0)
    }

    /// The time to jump to for "previous turn": the moment the turn before the last
    /// one on screen appeared (0 when there is none).
    pub fn previous_turn(&self, now: f64) -> f64 {
        let ends: Vec<f64> = self.turn_times().filter(|&t| t <= now).collect();
        match ends.len() {
            0 | 1 => 0.0,
            n => ends[n - 2],
        }
    }

    /// The time to jump to for "next turn": when the next turn appears (or the end).
    pub fn next_turn(&self, now: f64) -> f64 {
        self.turn_times()
            .find(|&t| t > now)
            .unwrap_or_else(|| self.duration())
    }

    fn turn_times(&self) -> impl Iterator<Item = f64> + '_ {
        self.events.iter().filter_map(|(t, s)| match s {
            Shown::Turn(_) => Some(*t),
            Shown::Hint(_) => None,
        })
    }

    /// The customer's emotion as the agent last saw it: the most confident emotion
    /// of the latest tagged customer turn (or, in a mono call, any turn) by `now`.
    pub fn customer_mood(&self, now: f64) -> Option<Mood> {
        let mono = !self
            .transcript
            .turns
            .iter()
            .any(|t| t.speaker == Speaker::Customer);
        self.events[..self.shown_at(now)]
            .iter()
            .rev()
            .find_map(|(_, s)| match s {
                Shown::Turn(t) if t.speaker == Speaker::Customer || mono => {
                    let tags = t.tags.as_ref()?;
                    let top = tags.emotions.first()?;
                    let dutch = self
                        .transcript
                        .labels
                        .as_ref()
                        .and_then(|l| l.display_nl.get(&top.id))
                        .cloned();
                    Some(Mood {
                        emotion: top.id.clone(),
                        dutch,
                        confidence: top.confidence,
                        valence: tags.valence,
                    })
                }
                _ => None,
            })
    }
}

/// The customer's latest emotion tag, for the status line.
#[derive(Debug, Clone, PartialEq)]
pub struct Mood {
    pub emotion: String,
    pub dutch: Option<String>,
    pub confidence: f32,
    pub valence: f32,
}

impl std::fmt::Display for Mood {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.emotion)?;
        if let Some(nl) = self.dutch.as_ref().filter(|nl| **nl != self.emotion) {
            write!(f, " ({nl})")?;
        }
        write!(f, " {:.2} · valence {:+.2}", self.confidence, self.valence)
    }
}

/// Replay speed: a factor of real time, or as fast as the output takes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    Times(f64),
    Max,
}

impl std::str::FromStr for Speed {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s.eq_ignore_ascii_case("max") {
            return Ok(Speed::Max);
        }
        match s.trim_end_matches(['x', 'X']).parse::<f64>() {
            Ok(x) if x > 0.0 && x.is_finite() => Ok(Speed::Times(x)),
            _ => Err(format!(
                "'{s}' is not a speed: use a factor such as 1, 2 or 4, or max"
            )),
        }
    }
}

impl std::fmt::Display for Speed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Speed::Times(x) => write!(f, "×{x}"),
            Speed::Max => write!(f, "max"),
        }
    }
}

/// Parses a call time: `130`, `130.5`, `02:10`, `1:02:10` or `02:10.5`.
pub fn parse_time(s: &str) -> std::result::Result<f64, String> {
    let bad = || format!("'{s}' is not a time: use seconds (130) or mm:ss (02:10)");
    let parts: Vec<&str> = s.trim().split(':').collect();
    if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return Err(bad());
    }
    let mut seconds = 0.0;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let value: f64 = part.parse().map_err(|_| bad())?;
        // Only the seconds may have a fraction; minutes and seconds after a colon
        // stay under 60.
        let whole = value.fract() == 0.0;
        if !value.is_finite() || value < 0.0 || (!last && !whole) || (i > 0 && value >= 60.0) {
            return Err(bad());
        }
        seconds = seconds * 60.0 + value;
    }
    Ok(seconds)
}

/// The call clock: call time runs at `speed` from `origin` unless paused.
#[derive(Debug, Clone)]
pub struct Clock {
    origin: f64,
    since: Instant,
    speed: Speed,
    paused: bool,
}

impl Clock {
    pub fn new(from: f64, speed: Speed) -> Self {
        Clock {
            origin: from,
            since: Instant::now(),
            speed,
            paused: false,
        }
    }

    /// Call time now, in seconds (`f64::INFINITY` at max speed).
    pub fn now(&self) -> f64 {
        match (self.paused, self.speed) {
            (true, _) => self.origin,
            (false, Speed::Max) => f64::INFINITY,
            (false, Speed::Times(x)) => self.origin + self.since.elapsed().as_secs_f64() * x,
        }
    }

    pub fn paused(&self) -> bool {
        self.paused
    }

    pub fn speed(&self) -> Speed {
        self.speed
    }

    /// Jumps to call time `t` (keeps paused or running).
    pub fn seek(&mut self, t: f64) {
        self.origin = t.max(0.0);
        self.since = Instant::now();
    }

    pub fn toggle_pause(&mut self, end: f64) {
        let now = self.now().min(end);
        self.paused = !self.paused;
        self.seek(now);
    }

    /// Real time until call time reaches `t` (zero when it has, `None` when paused).
    pub fn wait_until(&self, t: f64) -> Option<Duration> {
        match (self.paused, self.speed) {
            (true, _) => None,
            (false, Speed::Max) => Some(Duration::ZERO),
            (false, Speed::Times(x)) => {
                // `try_`: a damaged file's absurd time must not panic the replay.
                let wait = ((t - self.now()) / x).max(0.0);
                Some(Duration::try_from_secs_f64(wait).unwrap_or(Duration::MAX))
            }
        }
    }
}

/// The lines one event shows: `[00:12.3] Customer  text`, a badge line, or a hint.
pub fn event_lines(shown: &Shown) -> Vec<(LineKind, String)> {
    match shown {
        Shown::Turn(turn) => {
            let mut lines = vec![(
                LineKind::from(turn.speaker),
                format!(
                    "[{}] {:<9}{}",
                    clock(turn.start, '.', false),
                    turn.speaker.title(),
                    turn.text
                ),
            )];
            let badges = turn_badges(turn);
            if !badges.is_empty() {
                lines.push((LineKind::Badges, badges.join(" · ")));
            }
            lines
        }
        Shown::Hint(hint) => {
            let mut lines = vec![(
                LineKind::Hint,
                format!("➜ hint ({:.2}): {}", hint.confidence, hint.text),
            )];
            if let Some(q) = &hint.question {
                lines.push((LineKind::Hint, format!("  ask: {q}")));
            }
            lines
        }
    }
}

/// What a line is, so a view can colour and indent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Agent,
    Customer,
    Badges,
    Hint,
}

impl From<Speaker> for LineKind {
    fn from(s: Speaker) -> Self {
        match s {
            Speaker::Agent => LineKind::Agent,
            _ => LineKind::Customer,
        }
    }
}

/// The header both views print: what call this is and how it is replayed.
pub fn header(t: &Transcript, speed: Speed, from: f64) -> String {
    let mut text = format!(
        "replay {} · {} · {} · {}",
        t.call.source,
        clock(t.call.duration, '.', false),
        t.call.language,
        if t.call.redacted {
            "personal data redacted"
        } else {
            "NOT redacted"
        }
    );
    text.push_str(&format!(" · speed {speed}"));
    if from > 0.0 {
        text.push_str(&format!(" · from {}", clock(from, '.', false)));
    }
    text
}

/// Plain mode: each event printed when it appears, prefixed with the call time at
/// which it appeared. Events before `from` are skipped (their count is said once).
pub fn play_plain(
    transcript: &Transcript,
    speed: Speed,
    from: f64,
    out: &mut impl Write,
) -> Result<()> {
    let timeline = Timeline::new(transcript);
    let io = |e| Error::io("stdout", e);
    writeln!(out, "{}", header(transcript, speed, from)).map_err(io)?;
    let skipped = timeline.shown_at(from);
    if skipped > 0 {
        writeln!(
            out,
            "({skipped} events before {} skipped)",
            clock(from, '.', false)
        )
        .map_err(io)?;
    }
    out.flush().map_err(io)?;
    let clock_ = Clock::new(from, speed);
    for (at, shown) in &timeline.events()[skipped..] {
        if let Some(wait) = clock_.wait_until(*at) {
            std::thread::sleep(wait);
        }
        let stamp = clock(*at, '.', false);
        for (kind, line) in event_lines(shown) {
            match kind {
                LineKind::Agent | LineKind::Customer => writeln!(out, "{stamp} {line}"),
                LineKind::Badges => writeln!(out, "{:8}{:19}{line}", "", ""),
                LineKind::Hint => writeln!(out, "{stamp} {:19}{line}", ""),
            }
            .map_err(io)?;
        }
        // Flushed per event: a pipe reader sees each line when it "happens".
        out.flush().map_err(io)?;
    }
    writeln!(
        out,
        "{} end of call",
        clock(timeline.duration(), '.', false)
    )
    .map_err(io)?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A sample call's turns as the real models tagged them, with hints and summary
    /// from the built-in catalog (as `tests/hints.rs` makes them).
    pub(crate) fn fixture() -> Transcript {
        let text = include_str!("../../tests/fixtures/tagged/call-en-2.subtext.json");
        let mut t: Transcript = serde_json::from_str(text).unwrap();
        let catalog = crate::hints::HintCatalog::builtin();
        t.hints = Some(crate::hints::hints_for_call(&catalog, &t));
        t.summary = Some(crate::summary::summarize(&t, &catalog));
        assert!(!t.hints.as_ref().unwrap().is_empty());
        t
    }

    #[test]
    fn times_parse() {
        assert_eq!(parse_time("130"), Ok(130.0));
        assert_eq!(parse_time("02:10"), Ok(130.0));
        assert_eq!(parse_time("1:02:10.5"), Ok(3730.5));
        assert_eq!(parse_time("0:05.25"), Ok(5.25));
        for bad in ["", "2:", "1:60", "a", "-3", "1.5:00", "1:2:3:4", "inf"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn speeds_parse() {
        assert_eq!("2".parse::<Speed>(), Ok(Speed::Times(2.0)));
        assert_eq!("4x".parse::<Speed>(), Ok(Speed::Times(4.0)));
        assert_eq!("MAX".parse::<Speed>(), Ok(Speed::Max));
        assert!("0".parse::<Speed>().is_err());
        assert!("fast".parse::<Speed>().is_err());
    }

    #[test]
    fn turns_appear_at_their_end_and_hints_after_their_turn() {
        let t = fixture();
        let timeline = Timeline::new(&t);
        let events = timeline.events();
        assert_eq!(
            events.len(),
            t.turns.len() + t.hints.as_ref().unwrap().len()
        );
        assert!(events.windows(2).all(|w| w[0].0 <= w[1].0));
        let hint_at = events
            .iter()
            .position(|e| matches!(e.1, Shown::Hint(_)))
            .unwrap();
        let Shown::Hint(hint) = events[hint_at].1 else {
            unreachable!()
        };
        let turn_at = events
            .iter()
            .position(|e| matches!(e.1, Shown::Turn(t) if t.id == hint.turn))
            .unwrap();
        assert!(turn_at < hint_at);
        assert_eq!(events[turn_at].0, t.turns[hint.turn].end);
    }

    #[test]
    fn skipping_moves_between_turn_ends() {
        let t = fixture();
        let timeline = Timeline::new(&t);
        let ends: Vec<f64> = t.turns.iter().map(|t| t.end).collect();
        assert_eq!(timeline.next_turn(0.0), ends[0]);
        assert_eq!(timeline.next_turn(ends[0]), ends[1]);
        assert_eq!(timeline.previous_turn(ends[2] + 0.1), ends[1]);
        assert_eq!(timeline.previous_turn(ends[0]), 0.0);
        assert_eq!(timeline.next_turn(1e9), timeline.duration());
    }

    #[test]
    fn mood_is_the_last_customer_turn_shown() {
        let t = fixture();
        let timeline = Timeline::new(&t);
        assert_eq!(timeline.customer_mood(0.0), None);
        let first_customer = t
            .turns
            .iter()
            .find(|t| t.speaker == Speaker::Customer)
            .unwrap();
        let mood = timeline.customer_mood(first_customer.end).unwrap();
        let tags = first_customer.tags.as_ref().unwrap();
        assert_eq!(mood.emotion, tags.emotions[0].id);
        assert_eq!(mood.valence, tags.valence);
        assert!(mood.to_string().contains("valence"));
    }

    #[test]
    fn plain_replay_at_max_speed_writes_every_event_in_order() {
        let t = fixture();
        let mut out = Vec::new();
        play_plain(&t, Speed::Max, 0.0, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut at = 0;
        for turn in &t.turns {
            let found = text[at..].find(&turn.text).expect(&turn.text);
            at += found;
        }
        assert!(text.contains("➜ hint"));
        assert!(text.trim_end().ends_with("end of call"));

        let mut out = Vec::new();
        let from = t.turns[3].end + 0.01;
        play_plain(&t, Speed::Max, from, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains(&t.turns[0].text));
        assert!(text.contains(&t.turns[4].text));
        assert!(text.contains("skipped"));
    }

    #[test]
    fn paused_clock_stands_still() {
        let mut c = Clock::new(10.0, Speed::Times(1000.0));
        c.toggle_pause(100.0);
        let a = c.now();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(c.now(), a);
        assert_eq!(c.wait_until(50.0), None);
        c.toggle_pause(100.0);
        std::thread::sleep(Duration::from_millis(5));
        assert!(c.now() > a);
    }
}
