//! `subtext serve` and `subtext report`: what the server answers (ranges, refusals,
//! covered audio) over plain HTTP, and the pages end to end in headless Chromium
//! (`tests/e2e/browser.mjs`, playwright-core driving Debian's chromium).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::common::{marked_transcript, read_wav, root, run_ok, subtext};

/// A running `subtext serve`, stopped when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(tagged: &Path, audio: Option<&Path>, extra: &[&str]) -> Server {
        let mut cmd = subtext();
        cmd.args(["serve", "--port", "0"]).arg(tagged);
        if let Some(audio) = audio {
            cmd.arg("--audio").arg(audio);
        }
        let mut child = cmd
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let addr = loop {
            let line = lines.next().expect("serve said where it listens").unwrap();
            if let Some(rest) = line.split("http://").nth(1) {
                break rest.split('/').next().unwrap().to_string();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Server { child, addr }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A GET of the raw `path` (sent as is, so `..` and `%2F` reach the server).
    fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.get_as(&self.addr, path, headers)
    }

    fn get_as(&self, host: &str, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        // HTTP/1.0: the body ends when the connection does (no chunked encoding).
        let mut request = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n");
        for (k, v) in headers {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a full response");
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let mut lines = head.lines();
        let status: u16 = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect();
        Response {
            status,
            headers,
            body: raw[split + 4..].to_vec(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Response {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// A folder of tagged calls: the four fixtures, plus a copy of call-en-2 made with
/// `--no-redact`.
fn tagged_folder(dir: &Path) -> PathBuf {
    let tagged = dir.join("tagged");
    std::fs::create_dir_all(&tagged).unwrap();
    for name in ["call-en-1", "call-en-2", "call-nl-1", "call-nl-2"] {
        let file = format!("{name}.subtext.json");
        std::fs::copy(
            root().join("tests/fixtures/tagged").join(&file),
            tagged.join(&file),
        )
        .unwrap();
    }
    let text = std::fs::read_to_string(tagged.join("call-en-2.subtext.json")).unwrap();
    let mut open: serde_json::Value = serde_json::from_str(&text).unwrap();
    open["call"]["redacted"] = false.into();
    std::fs::write(
        tagged.join("open.subtext.json"),
        serde_json::to_string(&open).unwrap(),
    )
    .unwrap();
    tagged
}

#[test]
fn serve_answers_only_for_what_it_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let tagged = tagged_folder(dir.path());
    std::fs::write(dir.path().join("secret.txt"), "SECRET-CONTENT").unwrap();
    // A broken file is listed with its reason and does not hide the others.
    std::fs::write(tagged.join("broken.subtext.json"), "{\"schema\":").unwrap();
    let server = Server::start(&tagged, Some(&root().join("samples")), &[]);

    let list = server.get("/api/calls", &[]);
    assert_eq!(list.status, 200);
    let list: serde_json::Value = serde_json::from_slice(&list.body).unwrap();
    let ids: Vec<&str> = list["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["call-en-1", "call-en-2", "call-nl-1", "call-nl-2", "open"]
    );
    assert_eq!(list["calls"][0]["has_audio"], true);
    assert_eq!(list["unreadable"][0]["file"], "broken.subtext.json");
    assert!(list["unreadable"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("not a subtext transcript"));
    assert_eq!(list["groups"]["min_size"], 10);
    // Five calls: every group is under the minimum of 10, so none is shown.
    assert_eq!(list["groups"]["by_language"], serde_json::json!([]));

    let page = server.get("/call/call-en-1", &[]);
    assert_eq!(page.status, 200);
    assert!(page.headers["content-security-policy"].contains("default-src 'self'"));
    assert_eq!(server.get("/api/calls/call-en-1", &[]).status, 200);
    assert_eq!(server.get("/assets/call.js", &[]).status, 200);

    for path in [
        "/api/calls/..%2F..%2Fsecret.txt",
        "/api/calls/../secret.txt",
        "/assets/../../secret.txt",
        "/assets/..%2F..%2FCargo.toml",
        "/audio/..%2Fsamples%2Fcall-en-1.wav",
        "/audio/call-en-1.wav",
        "/samples/call-en-1.wav",
        "/secret.txt",
        "/call/nope",
        "/api/calls/nope",
        "/audio/nope",
        "/api/calls/%2e%2e",
    ] {
        let r = server.get(path, &[]);
        assert!(
            r.status == 404 || r.status == 400,
            "{path}: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        assert!(!String::from_utf8_lossy(&r.body).contains("SECRET"));
        assert!(!r.body.starts_with(b"RIFF"), "{path} served audio");
    }

    // Another host name (DNS rebinding) is refused while bound to loopback.
    assert_eq!(server.get_as("evil.example", "/api/calls", &[]).status, 403);

    // A call made with --no-redact is listed but withheld, transcript and audio.
    let open = server.get("/api/calls/open", &[]);
    assert_eq!(open.status, 403);
    assert!(String::from_utf8_lossy(&open.body).contains("--allow-unredacted"));
    assert_eq!(server.get("/audio/open", &[]).status, 403);
    drop(server);
    let server = Server::start(&tagged, None, &["--allow-unredacted"]);
    assert_eq!(server.get("/api/calls/open", &[]).status, 200);
    // Without --audio there is no recording to serve.
    assert_eq!(server.get("/audio/call-en-1", &[]).status, 404);
}

#[test]
fn served_audio_answers_ranges_and_covers_redacted_spans() {
    let dir = tempfile::tempdir().unwrap();
    let tagged = dir.path().join("tagged");
    std::fs::create_dir_all(&tagged).unwrap();
    // call-en-1 with "20 minutes" (8.99-9.75 s, customer) marked as [NUMBER].
    marked_transcript(&tagged);
    let original = root().join("samples/call-en-1.wav");
    let server = Server::start(&tagged, Some(&root().join("samples")), &[]);

    let part = server.get("/audio/call-en-1", &[("Range", "bytes=0-99")]);
    assert_eq!(part.status, 206);
    assert_eq!(part.body.len(), 100);
    assert!(part.headers["content-range"].starts_with("bytes 0-99/"));
    let whole = server.get("/audio/call-en-1", &[]);
    assert_eq!(whole.status, 200);
    assert_eq!(&whole.body[..100], &part.body[..]);
    let tail = server.get("/audio/call-en-1", &[("Range", "bytes=-10")]);
    assert_eq!(tail.status, 206);
    assert_eq!(&tail.body[..], &whole.body[whole.body.len() - 10..]);

    // The served recording is the original with the marked span covered.
    let served = dir.path().join("served.wav");
    std::fs::write(&served, &whole.body).unwrap();
    let (spec, covered) = read_wav(&served);
    let (ospec, plain) = read_wav(&original);
    assert_eq!(
        (spec.sample_rate, spec.channels),
        (ospec.sample_rate, ospec.channels)
    );
    assert_eq!(covered.len(), plain.len());
    let channels = usize::from(spec.channels);
    let frame = |t: f64| (t * f64::from(spec.sample_rate)) as usize * channels;
    let inside = frame(9.1)..frame(9.6);
    // The cover is a 1 kHz tone at 0.1 of full scale in both channels: RMS 0.1/√2.
    let rms = (inside
        .clone()
        .map(|i| f64::from(covered[i]).powi(2))
        .sum::<f64>()
        / inside.len() as f64)
        .sqrt();
    let tone = 0.1 / 2f64.sqrt() * 32767.0;
    assert!(
        (rms / tone - 1.0).abs() < 0.05,
        "span not covered: RMS {rms:.0}"
    );
    let before = frame(1.0)..frame(8.5);
    assert!(before.clone().all(|i| (covered[i] - plain[i]).abs() <= 1));

    // --original-audio serves the file as it is.
    drop(server);
    let server = Server::start(
        &tagged,
        Some(&root().join("samples")),
        &["--original-audio"],
    );
    let whole = server.get("/audio/call-en-1", &[]);
    assert_eq!(whole.body, std::fs::read(&original).unwrap());
}

#[test]
fn report_is_one_page_with_its_data_and_no_outside_reference() {
    let dir = tempfile::tempdir().unwrap();
    let json = marked_transcript(dir.path());
    let out = dir.path().join("reports/call.html");
    // Run from the repository root, where the call's source (samples/...) lies.
    let run = run_ok(
        subtext()
            .current_dir(root())
            .args(["report"])
            .arg(&json)
            .arg("--out")
            .arg(&out),
    );
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(said.contains("redacted spans covered"), "{said}");
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains("id=\"subtext-call\""));
    assert!(
        html.contains("\"call.redacted.wav\""),
        "links the covered copy"
    );
    assert!(dir.path().join("reports/call.redacted.wav").is_file());
    // Nothing is loaded from elsewhere (the SVG namespace is a name, not a fetch).
    let html_without_ns = html.replace("http://www.w3.org/2000/svg", "");
    for outside in ["http://", "https://", "src=\"/", "href=\"/", "url("] {
        assert!(
            !html_without_ns.contains(outside),
            "report refers to {outside}"
        );
    }
    // Unredacted transcripts are refused unless asked for.
    let mut open: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    open["call"]["redacted"] = false.into();
    let open_json = dir.path().join("open.subtext.json");
    std::fs::write(&open_json, open.to_string()).unwrap();
    let refused = subtext()
        .args(["report"])
        .arg(&open_json)
        .arg("--out")
        .arg(dir.path().join("open.html"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--allow-unredacted"));
    assert!(!dir.path().join("open.html").exists());
}

/// `node tests/e2e/browser.mjs ARGS`, failing the test with its output unless
/// every check passes.
fn browser_checks(args: &[&str]) {
    let e2e = root().join("tests/e2e");
    assert!(
        e2e.join("node_modules/playwright-core").is_dir()
            && Path::new("/usr/bin/chromium").exists(),
        "the browser tests need Chromium and playwright-core: run `make test` (it installs \
         the chromium package and runs `npm ci` in tests/e2e)"
    );
    let out = Command::new("node")
        .current_dir(&e2e)
        .arg("browser.mjs")
        .args(args)
        .output()
        .expect("node runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "browser checks failed:\n{text}");
    assert!(text.contains("checks passed"), "{text}");
}

/// Where test artifacts (screenshots) are kept: `target/test-artifacts/web`.
fn artifacts() -> PathBuf {
    let dir = root().join("target/test-artifacts/web");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn browser_end_to_end_on_a_call_tagged_by_the_real_models() {
    let dir = tempfile::tempdir().unwrap();
    let tagged = dir.path().join("tagged");
    run_ok(
        subtext()
            .current_dir(root())
            .args(["batch", "samples/call-en-1.wav", "--quiet", "--out"])
            .arg(&tagged),
    );
    let server = Server::start(&tagged, Some(&root().join("samples")), &[]);
    let shots = artifacts();
    browser_checks(&[&server.url(), "call-en-1", shots.to_str().unwrap()]);
    for shot in ["list-page.png", "call-page.png"] {
        assert!(std::fs::metadata(shots.join(shot)).unwrap().len() > 10_000);
    }
    drop(server);

    // The same call as a report file, opened from disk.
    let report = shots.join("call-en-1.report.html");
    run_ok(
        subtext()
            .current_dir(root())
            .args(["report"])
            .arg(tagged.join("call-en-1.subtext.json"))
            .arg("--out")
            .arg(&report),
    );
    browser_checks(&[
        "file:///",
        "call-en-1",
        shots.to_str().unwrap(),
        &format!("report:{}", report.display()),
    ]);
}
