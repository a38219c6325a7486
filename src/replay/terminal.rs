//! The full-screen replay view: the transcript so far (scrolled so the newest lines
//! stay in view), a header, and a status line of call time, speed and the
//! customer's current emotion. Space pauses, ←/→ jump a turn, q quits.
//!
//! The screen is redrawn from the timeline at the current call time, so a jump
//! back is the same as a fresh draw: there is no state to undo.

use std::io::Write;
use std::time::Duration;

use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::{cursor, execute, terminal};

use super::{event_lines, header, Clock, LineKind, Speed, Timeline};
use crate::error::{Error, Result};
use crate::sink::clock;
use crate::types::Transcript;

/// How often the status line's clock is refreshed while playing.
const TICK: Duration = Duration::from_millis(200);

/// Puts the terminal back as it was, also when replay returns early with an error.
struct RawScreen;

impl RawScreen {
    fn enter(out: &mut impl Write) -> Result<Self> {
        terminal::enable_raw_mode().map_err(|e| Error::io("terminal", e))?;
        let guard = RawScreen;
        execute!(out, terminal::EnterAlternateScreen, cursor::Hide)
            .map_err(|e| Error::io("terminal", e))?;
        Ok(guard)
    }
}

impl Drop for RawScreen {
    fn drop(&mut self) {
        let mut out = std::io::stdout();
        let _ = execute!(out, cursor::Show, terminal::LeaveAlternateScreen);
        let _ = terminal::disable_raw_mode();
    }
}

/// Replays in the terminal until the user quits (the view stays at the end of the
/// call so it can be read and stepped back through).
pub fn play(transcript: &Transcript, speed: Speed, from: f64, color: bool) -> Result<()> {
    let timeline = Timeline::new(transcript);
    let end = timeline.duration();
    let mut out = std::io::stdout();
    let _screen = RawScreen::enter(&mut out)?;
    let mut clock_ = Clock::new(from.min(end), speed);
    let mut last_frame = String::new();
    loop {
        let now = clock_.now().min(end);
        let (cols, rows) = terminal::size().map_err(|e| Error::io("terminal", e))?;
        let frame = draw(&timeline, &clock_, now, cols as usize, rows as usize, color);
        if frame != last_frame {
            out.write_all(frame.as_bytes())
                .and_then(|_| out.flush())
                .map_err(|e| Error::io("stdout", e))?;
            last_frame = frame;
        }
        let wait = if now >= end {
            TICK
        } else {
            let next = timeline.next_after(now).unwrap_or(end);
            clock_.wait_until(next).map_or(TICK, |w| w.min(TICK))
        };
        if !event::poll(wait).map_err(|e| Error::io("terminal", e))? {
            continue;
        }
        match event::read().map_err(|e| Error::io("terminal", e))? {
            Event::Key(key) if key.kind != KeyEventKind::Release => {
                match action(key) {
                    Some(Action::Quit) => return Ok(()),
                    Some(Action::Pause) => clock_.toggle_pause(end),
                    Some(Action::Previous) => clock_.seek(timeline.previous_turn(now)),
                    Some(Action::Next) => clock_.seek(timeline.next_turn(now)),
                    None => {}
                }
                // Max speed has no "now" to seek to: a jump pauses there instead.
                if clock_.speed() == Speed::Max && !clock_.paused() {
                    clock_.toggle_pause(end);
                }
            }
            // Force a full redraw on resize.
            Event::Resize(..) => last_frame.clear(),
            _ => {}
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Quit,
    Pause,
    Previous,
    Next,
}

fn action(key: KeyEvent) -> Option<Action> {
    match key.code {
        KeyCode::Char('q') | KeyCode::Esc => Some(Action::Quit),
        // Raw mode turns Ctrl-C into a key, not a signal.
        KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => Some(Action::Quit),
        KeyCode::Char(' ') | KeyCode::Char('p') => Some(Action::Pause),
        KeyCode::Left | KeyCode::Up | KeyCode::Char('k') => Some(Action::Previous),
        KeyCode::Right | KeyCode::Down | KeyCode::Char('j') => Some(Action::Next),
        _ => None,
    }
}

/// The whole screen at call time `now`, as one string of terminal commands.
fn draw(
    timeline: &Timeline,
    clock_: &Clock,
    now: f64,
    cols: usize,
    rows: usize,
    color: bool,
) -> String {
    let cols = cols.max(20);
    let rows = rows.max(3);
    let paint = |code: &str, text: &str| {
        if color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    };
    let mut body: Vec<String> = Vec::new();
    for (_, shown) in &timeline.events()[..timeline.shown_at(now)] {
        for (kind, line) in event_lines(shown) {
            let (indent, code) = match kind {
                LineKind::Agent => (0, "34"),
                LineKind::Customer => (0, "35"),
                LineKind::Badges => (19, "2"),
                LineKind::Hint => (19, "1;33"),
            };
            // Continuation lines of a turn line up under its text.
            let hang = if indent == 0 { 19 } else { indent + 2 };
            for (i, piece) in wrap(
                &line,
                cols.saturating_sub(indent).max(10),
                cols.saturating_sub(hang).max(10),
            )
            .into_iter()
            .enumerate()
            {
                let pad = if i == 0 { indent } else { hang };
                body.push(format!("{:pad$}{}", "", paint(code, &piece)));
            }
        }
    }
    let room = rows - 2;
    let visible = &body[body.len().saturating_sub(room)..];

    let mut frame = String::from("\x1b[H");
    let title = fit(&header(timeline.transcript, clock_.speed(), 0.0), cols);
    frame.push_str(&paint("7", &format!("{title:<cols$}")));
    frame.push_str("\x1b[K\r\n");
    for row in 0..room {
        if let Some(line) = visible.get(row) {
            frame.push_str(line);
        }
        frame.push_str("\x1b[K\r\n");
    }
    frame.push_str(&paint(
        "7",
        &format!("{:<cols$}", fit(&status(timeline, clock_, now), cols)),
    ));
    frame.push_str("\x1b[K");
    frame
}

/// `▶ 00:12.3 / 00:26.6 ×2 │ customer: frustration (frustratie) 0.44 · valence -0.39 │ keys`
fn status(timeline: &Timeline, clock_: &Clock, now: f64) -> String {
    let end = timeline.duration();
    let state = if now >= end {
        "■ end of call"
    } else if clock_.paused() {
        "⏸ paused"
    } else {
        "▶"
    };
    let mood = timeline.customer_mood(now).map_or_else(
        || "no customer emotion yet".to_string(),
        |m| format!("customer: {m}"),
    );
    format!(
        "{state} {} / {} {} │ {mood} │ space pause · ←/→ turn · q quit",
        clock(now, '.', false),
        clock(end, '.', false),
        clock_.speed()
    )
}

/// The first `cols` characters of `text`.
fn fit(text: &str, cols: usize) -> String {
    text.chars().take(cols).collect()
}

/// Splits `text` into lines of at most `first` characters for the first line and
/// `rest` for the others, at spaces where possible.
fn wrap(text: &str, first: usize, rest: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut width = first;
    for word in text.split(' ') {
        let len = line.chars().count();
        let wlen = word.chars().count();
        if len > 0 && len + 1 + wlen > width {
            lines.push(std::mem::take(&mut line));
            width = rest;
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
        // A word longer than the line is cut.
        while line.chars().count() > width {
            let head: String = line.chars().take(width).collect();
            line = line.chars().skip(width).collect();
            lines.push(head);
            width = rest;
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_every_word_within_width() {
        let text =
            "Dit is de derde keer dat ik bel en ik word van het kastje naar de muur gestuurd";
        let lines = wrap(text, 20, 15);
        assert!(lines[0].chars().count() <= 20);
        assert!(lines[1..].iter().all(|l| l.chars().count() <= 15));
        assert_eq!(lines.join(" "), text);
        assert_eq!(wrap("", 10, 10), vec![String::new()]);
        assert_eq!(wrap("abcdefghij", 4, 4), vec!["abcd", "efgh", "ij"]);
    }

    #[test]
    fn keys_map_to_actions() {
        let key = |code| KeyEvent::new(code, KeyModifiers::NONE);
        assert_eq!(action(key(KeyCode::Char(' '))), Some(Action::Pause));
        assert_eq!(action(key(KeyCode::Left)), Some(Action::Previous));
        assert_eq!(action(key(KeyCode::Right)), Some(Action::Next));
        assert_eq!(action(key(KeyCode::Char('q'))), Some(Action::Quit));
        assert_eq!(
            action(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(action(key(KeyCode::Char('x'))), None);
    }

    #[test]
    fn a_frame_shows_the_newest_lines_and_the_status() {
        let t = super::super::tests::fixture();
        let timeline = Timeline::new(&t);
        let c = Clock::new(0.0, Speed::Times(1.0));
        let frame = draw(&timeline, &c, t.call.duration, 80, 8, false);
        let last_turn = &t.turns.last().unwrap().text;
        assert!(frame.contains(&last_turn[..last_turn.len().min(30)]));
        assert!(!frame.contains(&t.turns[0].text[..20]));
        assert!(frame.contains("end of call"));
        assert_eq!(frame.matches("\r\n").count(), 7);
    }
}
