//! `subtext report`: the browser's call page as one HTML file, with the transcript,
//! styles and script inside it, for sharing without a server. The recording is
//! linked by a relative path; when the transcript has redacted spans and no
//! `--audio` is given, a copy with the spans covered is written beside the report
//! and linked instead of the original.

use std::path::{Component, Path, PathBuf};

use super::assets::{APP_CSS, CALL_HTML, CALL_JS};
use super::AUDIO_PAD;
use crate::error::{Error, Result};
use crate::redact::audio::{check_source, redacted_wav, spans, Cover};
use crate::types::Transcript;

/// How `report` was asked to work.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// The recording to link as it is (found from the transcript when absent).
    pub audio: Option<PathBuf>,
    /// Write a report of a transcript made with `--no-redact`.
    pub allow_unredacted: bool,
    /// Link the original recording even when it holds redacted spans.
    pub original_audio: bool,
}

/// What `report` wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// The audio the page links to, if any.
    pub audio: Option<PathBuf>,
    /// A covered copy of the recording written for the report, if one was.
    pub covered_copy: bool,
}

pub fn write_report(json: &Path, out: &Path, options: &ReportOptions) -> Result<Written> {
    let transcript = Transcript::read(json)?;
    if !transcript.call.redacted && !options.allow_unredacted {
        return Err(Error::Config(format!(
            "{}: transcribed with --no-redact; a shared report would carry personal data (use --allow-unredacted if that is intended)",
            json.display()
        )));
    }
    let out_dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&out_dir).map_err(|e| Error::io(&out_dir, e))?;

    let mut written = Written {
        audio: None,
        covered_copy: false,
    };
    if let Some(given) = &options.audio {
        if !given.is_file() {
            return Err(Error::Config(format!("{} is not a file", given.display())));
        }
        written.audio = Some(given.clone());
    } else if let Some(found) = find_recording(json, &transcript) {
        if spans(&transcript, AUDIO_PAD).is_empty() || options.original_audio {
            written.audio = Some(found);
        } else {
            let (wav, _) = redacted_wav(&found, &transcript, Cover::Tone, AUDIO_PAD)?;
            let stem = out
                .file_stem()
                .map_or("report".into(), |s| s.to_string_lossy().into_owned());
            let copy = out_dir.join(format!("{stem}.redacted.wav"));
            crate::sink::write_atomic(&copy, &wav)?;
            written.audio = Some(copy);
            written.covered_copy = true;
        }
    }
    let link = match &written.audio {
        Some(audio) => Some(relative_url(audio, &out_dir)?),
        None => None,
    };
    let html = render(&transcript, link.as_deref())?;
    crate::sink::write_atomic(out, html.as_bytes())?;
    Ok(written)
}

/// The call page with its data, style and script inlined.
pub fn render(transcript: &Transcript, audio_url: Option<&str>) -> Result<String> {
    let data = script_json(&serde_json::to_string(transcript).map_err(json_error)?);
    let audio = script_json(&serde_json::to_string(&audio_url).map_err(json_error)?);
    let parts = [
        (
            "<link rel=\"stylesheet\" href=\"/assets/app.css\">",
            format!("<style>\n{APP_CSS}\n</style>"),
        ),
        (
            "<script src=\"/assets/call.js\"></script>",
            format!("<script>\n{CALL_JS}\n</script>"),
        ),
        (
            "<!--subtext:data-->",
            format!(
                "<script id=\"subtext-call\" type=\"application/json\">{data}</script>\n<script id=\"subtext-audio\" type=\"application/json\">{audio}</script>"
            ),
        ),
    ];
    let mut html = CALL_HTML.to_string();
    for (marker, replacement) in parts {
        // The page template is ours: a missing marker is a bug, not bad input.
        assert!(html.contains(marker), "call.html lacks {marker}");
        html = html.replacen(marker, &replacement, 1);
    }
    // No server behind a report: the link back to the call list goes.
    Ok(html.replacen(BACK_LINK, "", 1))
}

/// The call page's link to the call list (served pages only).
const BACK_LINK: &str = "<a id=\"back\" class=\"back\" href=\"/\">&larr; All calls</a>";

fn json_error(e: serde_json::Error) -> Error {
    Error::Config(format!("cannot write the report's data: {e}"))
}

/// JSON made safe inside a `<script>` element: no `<`, `>` or `&` can end it or
/// open a comment (all three only occur inside JSON strings, where `\u` escapes
/// mean the same).
fn script_json(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// The recording a transcript was made from, if it can be found and matches its
/// sha256: `call.source` as given (relative to the working folder), then beside
/// the transcript and in the folder above it.
fn find_recording(json: &Path, transcript: &Transcript) -> Option<PathBuf> {
    let source = Path::new(&transcript.call.source);
    let json_dir = json.parent().unwrap_or(Path::new("."));
    let name = source.file_name()?;
    let candidates = [
        source.to_path_buf(),
        json_dir.join(source),
        json_dir.join(name),
        json_dir.join("..").join(name),
    ];
    let found = candidates.into_iter().find(|p| p.is_file())?;
    match check_source(&found, json, transcript, false) {
        Ok(()) => Some(found),
        Err(e) => {
            tracing::warn!(error = %e, "recording not linked");
            None
        }
    }
}

/// `target` as a URL relative to folder `from`, each segment percent-encoded.
fn relative_url(target: &Path, from: &Path) -> Result<String> {
    let canon = |p: &Path| p.canonicalize().map_err(|e| Error::io(p, e));
    let (target, from) = (canon(target)?, canon(from)?);
    let t: Vec<Component> = target.components().collect();
    let f: Vec<Component> = from.components().collect();
    let common = t.iter().zip(&f).take_while(|(a, b)| a == b).count();
    let mut segments: Vec<String> = vec!["..".into(); f.len() - common];
    segments.extend(
        t[common..]
            .iter()
            .map(|c| percent_encode(&c.as_os_str().to_string_lossy())),
    );
    Ok(segments.join("/"))
}

fn percent_encode(segment: &str) -> String {
    let mut out = String::new();
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_json_cannot_close_the_script() {
        let s = script_json(r#"{"text":"</script><!-- & >"}"#);
        assert!(!s.contains('<') && !s.contains('>') && !s.contains('&'));
        let back: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back["text"], "</script><!-- & >");
    }

    #[test]
    fn the_page_template_has_every_marker_and_the_inlined_parts_cannot_break_out() {
        assert!(CALL_HTML.contains(BACK_LINK));
        let html = render(&crate::replay::tests::fixture(), Some("a.wav")).unwrap();
        assert!(!html.contains("/assets/") && !html.contains(BACK_LINK));
        for (name, text) in [("call.js", CALL_JS), ("app.css", APP_CSS)] {
            let lower = text.to_lowercase();
            for bad in ["</script", "</style", "<!--"] {
                assert!(!lower.contains(bad), "{name} holds {bad}");
            }
        }
    }

    #[test]
    fn relative_urls_climb_and_encode() {
        let dir = tempfile::tempdir().unwrap();
        let audio = dir.path().join("calls/ma 1.wav");
        let out = dir.path().join("reports/x");
        std::fs::create_dir_all(audio.parent().unwrap()).unwrap();
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(&audio, b"x").unwrap();
        assert_eq!(
            relative_url(&audio, &out).unwrap(),
            "../../calls/ma%201.wav"
        );
        assert_eq!(
            relative_url(&audio, audio.parent().unwrap()).unwrap(),
            "ma%201.wav"
        );
    }
}
