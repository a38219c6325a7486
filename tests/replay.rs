//! `subtext replay`: plain timed lines through a pipe, and the full-screen view in a
//! real terminal (tmux: keys sent, the screen captured).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{root, subtext};
use subtext::hints::HintCatalog;

/// A sample call's turns as the real models tagged them, with hints and summary,
/// written as a `NAME.subtext.json` into `dir`.
fn tagged_call(dir: &Path, name: &str) -> (PathBuf, subtext::Transcript) {
    let path = root().join(format!("tests/fixtures/tagged/{name}.subtext.json"));
    let mut t = subtext::Transcript::read(&path).unwrap();
    let catalog = HintCatalog::builtin();
    t.hints = Some(subtext::hints::hints_for_call(&catalog, &t));
    t.summary = Some(subtext::summary::summarize(&t, &catalog));
    let out = dir.join(format!("{name}.subtext.json"));
    std::fs::write(&out, serde_json::to_string(&t).unwrap()).unwrap();
    (out, t)
}

fn stdout_of(args: &[&str], json: &Path) -> (std::process::ExitStatus, String, String) {
    let out = subtext()
        .arg("replay")
        .arg(json)
        .args(args)
        .output()
        .unwrap();
    (
        out.status,
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn plain_replay_shows_turns_at_their_end_and_hints_after_their_turn() {
    let dir = tempfile::tempdir().unwrap();
    let (json, t) = tagged_call(dir.path(), "call-en-2");
    let (status, text, err) = stdout_of(&["--speed", "max"], &json);
    assert!(status.success(), "{err}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("replay ") && lines[0].contains("personal data redacted"));
    // Each turn's line carries the call time at which it appeared: its end.
    let mut last = 0;
    for turn in &t.turns {
        let at = lines
            .iter()
            .position(|l| l.contains(&turn.text))
            .unwrap_or_else(|| panic!("turn {} missing:\n{text}", turn.id));
        assert!(at > last, "turn {} out of order", turn.id);
        last = at;
        let stamp = subtext::sink::clock(turn.end, '.', false);
        assert!(lines[at].starts_with(&stamp), "{} vs {stamp}", lines[at]);
    }
    let hints = t.hints.as_ref().unwrap();
    assert!(!hints.is_empty());
    for hint in hints {
        let hint_at = lines
            .iter()
            .position(|l| l.contains(&hint.text))
            .expect("hint line");
        let turn_at = lines
            .iter()
            .position(|l| l.contains(&t.turns[hint.turn].text))
            .unwrap();
        assert!(hint_at > turn_at);
    }
    assert!(lines.last().unwrap().ends_with("end of call"));

    // --from skips what came before and says so.
    let from = t.turns[2].end + 0.05;
    let (status, text, _) = stdout_of(&["--speed", "max", "--from", &format!("{from}")], &json);
    assert!(status.success());
    assert!(!text.contains(&t.turns[1].text));
    assert!(text.contains(&t.turns[3].text));
    assert!(text.contains("events before"));
}

#[test]
fn plain_replay_keeps_the_call_clock() {
    let dir = tempfile::tempdir().unwrap();
    let (json, t) = tagged_call(dir.path(), "call-en-2");
    // At 8× the call's last turn appears after end/8 seconds; never sooner.
    let speed = 8.0;
    let start = Instant::now();
    let (status, text, _) = stdout_of(&["--speed", "8"], &json);
    let took = start.elapsed().as_secs_f64();
    assert!(status.success());
    assert!(text.contains(&t.turns.last().unwrap().text));
    let expected = t.turns.last().unwrap().end / speed;
    assert!(
        took >= expected * 0.95,
        "replay took {took:.2} s, the call clock needs {expected:.2} s"
    );
}

#[test]
fn replay_refuses_bad_arguments_and_files_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (json, _) = tagged_call(dir.path(), "call-en-2");
    let (status, _, err) = stdout_of(&["--speed", "0"], &json);
    assert!(!status.success());
    assert!(err.contains("not a speed"), "{err}");
    let (status, _, err) = stdout_of(&["--from", "1:75"], &json);
    assert!(!status.success());
    assert!(err.contains("not a time"), "{err}");
    let broken = dir.path().join("broken.subtext.json");
    std::fs::write(&broken, r#"{"schema":"subtext/1","turns":[]}"#).unwrap();
    let (status, _, err) = stdout_of(&[], &broken);
    assert_eq!(status.code(), Some(2));
    assert!(
        err.contains("broken.subtext.json") && err.contains("call"),
        "{err}"
    );
    // A wrong value is located, but not quoted: it may be call content.
    let mut t: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    t["turns"][0]["words"][0]["start"] = "IBAN NL91ABNA0417164300".into();
    std::fs::write(&broken, t.to_string()).unwrap();
    let (status, _, err) = stdout_of(&[], &broken);
    assert_eq!(status.code(), Some(2));
    assert!(err.contains("turns[0].words[0].start"), "{err}");
    assert!(!err.contains("NL91"), "{err}");
}

/// A tmux server of the test's own (its own socket), killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(width: u16, height: u16, command: &str) -> Tmux {
        assert!(
            Command::new("tmux").arg("-V").output().is_ok(),
            "tmux is missing: `make test` installs it (apt package tmux)"
        );
        let tmux = Tmux {
            socket: format!("subtext-test-{}", std::process::id()),
        };
        let ok = tmux
            .cmd()
            .args(["new-session", "-d", "-s", "replay"])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .arg(command)
            .status()
            .unwrap()
            .success();
        assert!(ok, "tmux new-session failed");
        tmux
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }

    fn screen(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "replay"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &str) {
        self.cmd()
            .args(["send-keys", "-t", "replay", keys])
            .status()
            .unwrap();
    }

    fn alive(&self) -> bool {
        self.cmd()
            .args(["has-session", "-t", "replay"])
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// Waits (up to 15 s) for the screen to satisfy `ok`; returns that screen.
    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "waited 15 s for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

/// The status line (last non-empty line of the screen).
fn status_line(screen: &str) -> String {
    screen
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .to_string()
}

/// How many of the call's turns are on the screen (by the start of their text).
fn turns_on_screen(screen: &str, t: &subtext::Transcript) -> usize {
    t.turns
        .iter()
        .filter(|turn| {
            let head: String = turn.text.chars().take(24).collect();
            screen.contains(&head)
        })
        .count()
}

#[test]
fn terminal_replay_in_tmux_pauses_skips_turns_and_quits() {
    let dir = tempfile::tempdir().unwrap();
    let (json, t) = tagged_call(dir.path(), "call-en-2");
    let command = format!(
        "{} replay --speed 2 {}",
        env!("CARGO_BIN_EXE_subtext"),
        json.display()
    );
    let tmux = Tmux::start(110, 32, &command);

    // The first turn appears at its end (call time), with the status line below.
    let screen = tmux.wait_for("the first turn", |s| turns_on_screen(s, &t) >= 1);
    let status = status_line(&screen);
    assert!(status.contains('▶'), "{status}");
    assert!(status.contains(&subtext::sink::clock(t.call.duration, '.', false)));
    assert!(screen.contains("replay ") && screen.contains("speed ×2"));

    // Space pauses: the clock stands still and no new turn appears.
    tmux.keys("Space");
    let paused = tmux.wait_for("the pause", |s| status_line(s).contains("paused"));
    let shown = turns_on_screen(&paused, &t);
    std::thread::sleep(Duration::from_millis(1500));
    let still = tmux.screen();
    assert_eq!(status_line(&still), status_line(&paused));
    assert_eq!(turns_on_screen(&still, &t), shown);

    // → shows the next turn, ← goes back one, both while paused.
    tmux.keys("Right");
    tmux.wait_for("the next turn", |s| turns_on_screen(s, &t) == shown + 1);
    tmux.keys("Right");
    tmux.wait_for("the turn after", |s| turns_on_screen(s, &t) == shown + 2);
    tmux.keys("Left");
    tmux.wait_for("one turn back", |s| turns_on_screen(s, &t) == shown + 1);

    // The customer's emotion in the status line is that of the last customer turn shown.
    let screen = tmux.screen();
    if screen.contains("customer: ") {
        let status = status_line(&screen);
        let emotions: Vec<&str> = t
            .turns
            .iter()
            .filter(|x| x.speaker == subtext::Speaker::Customer)
            .filter_map(|x| x.tags.as_ref()?.emotions.first().map(|e| e.id.as_str()))
            .collect();
        assert!(emotions.iter().any(|e| status.contains(e)), "{status}");
    }

    // Space resumes and the call runs to its end; q then quits.
    tmux.keys("Space");
    tmux.wait_for("the end of the call", |s| {
        status_line(s).contains("end of call") && turns_on_screen(s, &t) == t.turns.len()
    });
    tmux.keys("q");
    let deadline = Instant::now() + Duration::from_secs(5);
    while tmux.alive() {
        assert!(Instant::now() < deadline, "replay did not quit on q");
        std::thread::sleep(Duration::from_millis(100));
    }
}
