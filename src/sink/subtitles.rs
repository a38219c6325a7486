//! WebVTT and SRT renderings: one cue per turn, speaker named.

use crate::types::Transcript;

/// `HH:MM:SS.mmm` (VTT, `sep = '.'`) or `HH:MM:SS,mmm` (SRT, `sep = ','`); with
/// `hours = false`, `MM:SS.d` for compact text views.
pub fn clock(seconds: f64, sep: char, hours: bool) -> String {
    let ms = (seconds.max(0.0) * 1000.0).round() as u64;
    let (h, m, s, milli) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    if hours {
        format!("{h:02}:{m:02}:{s:02}{sep}{milli:03}")
    } else {
        format!("{:02}:{s:02}{sep}{}", h * 60 + m, milli / 100)
    }
}

/// Escapes the characters WebVTT cue text reserves.
fn vtt_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub fn to_vtt(transcript: &Transcript) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for turn in &transcript.turns {
        out.push_str(&format!(
            "{}\n{} --> {}\n<v {}>{}\n\n",
            turn.id + 1,
            clock(turn.start, '.', true),
            clock(turn.end, '.', true),
            turn.speaker.title(),
            vtt_escape(&turn.text)
        ));
    }
    out
}

pub fn to_srt(transcript: &Transcript) -> String {
    let mut out = String::new();
    for turn in &transcript.turns {
        out.push_str(&format!(
            "{}\n{} --> {}\n{}: {}\n\n",
            turn.id + 1,
            clock(turn.start, ',', true),
            clock(turn.end, ',', true),
            turn.speaker.title(),
            turn.text
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::clock;

    #[test]
    fn clocks() {
        assert_eq!(clock(3661.2345, '.', true), "01:01:01.235");
        assert_eq!(clock(59.9996, ',', true), "00:01:00,000");
        assert_eq!(clock(75.25, '.', false), "01:15.2");
        assert_eq!(clock(-1.0, '.', true), "00:00:00.000");
    }
}
