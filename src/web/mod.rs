//! `subtext serve` and `subtext report`: tagged calls in the browser.
//!
//! The server is a small axum app on one thread. Its pages and scripts are
//! compiled into the binary (`assets`), so nothing is fetched from elsewhere. It
//! reads only what `index` found under the folders it was given: calls and
//! recordings are addressed by id, never by a path from the URL.
//!
//! Privacy: a transcript written with `--no-redact` is listed but not shown unless
//! the server was started with `--allow-unredacted`, and a recording whose
//! transcript has redacted spans is served with those spans covered by a tone
//! (as `redact-audio` does) unless `--original-audio` is given.

pub mod assets;
pub mod index;
pub mod report;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower::ServiceExt;

use crate::error::{Error, Result};
use crate::redact::audio::{check_source, redacted_wav, Cover};
use index::{Call, Index, Scanner};

/// Seconds added on both sides of a redacted word when covering it in audio.
pub const AUDIO_PAD: f64 = 0.15;

/// What `subtext serve` was asked to serve, and how.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub tagged: Vec<PathBuf>,
    pub audio: Vec<PathBuf>,
    pub bind: IpAddr,
    pub port: u16,
    /// Show transcripts written with `--no-redact`.
    pub allow_unredacted: bool,
    /// Serve recordings as they are, without covering redacted spans.
    pub original_audio: bool,
    /// Smallest group the list's group counts show.
    pub min_group: usize,
}

struct App {
    options: ServeOptions,
    scanner: Mutex<Scanner>,
    index: Mutex<Arc<Index>>,
    /// Audio prepared for serving (checked, and covered where needed), per call.
    prepared: Mutex<HashMap<PathBuf, PathBuf>>,
    /// Where covered copies of recordings live while the server runs.
    scratch: tempfile::TempDir,
}

impl App {
    /// Rescans the folders (only new or changed files are read again).
    fn rescan(&self) -> Arc<Index> {
        let fresh = self
            .scanner
            .lock()
            .expect("scanner lock")
            .scan(&self.options.tagged, &self.options.audio);
        let fresh = Arc::new(fresh);
        *self.index.lock().expect("index lock") = fresh.clone();
        fresh
    }

    fn call(&self, id: &str) -> Option<Arc<Call>> {
        let index = self.index.lock().expect("index lock").clone();
        if let Some(call) = index.calls.get(id) {
            return Some(call.clone());
        }
        // A call written since the last scan.
        self.rescan().calls.get(id).cloned()
    }
}

/// Runs the server until Ctrl-C. `ready` is told the address it listens on.
pub fn serve(options: ServeOptions, ready: impl FnOnce(SocketAddr, usize)) -> Result<()> {
    for dir in options.tagged.iter().chain(&options.audio) {
        if !dir.is_dir() {
            return Err(Error::Config(format!("{} is not a folder", dir.display())));
        }
    }
    let app = Arc::new(App {
        scanner: Mutex::new(Scanner::default()),
        index: Mutex::new(Arc::default()),
        prepared: Mutex::new(HashMap::new()),
        scratch: tempfile::Builder::new()
            .prefix("subtext-serve-")
            .tempdir()
            .map_err(|e| Error::io(std::env::temp_dir(), e))?,
        options,
    });
    let calls = app.rescan().calls.len();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("tokio runtime", e))?;
    runtime.block_on(async move {
        let addr = SocketAddr::new(app.options.bind, app.options.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Error::io(addr.to_string(), e))?;
        let local = listener
            .local_addr()
            .map_err(|e| Error::io(addr.to_string(), e))?;
        ready(local, calls);
        axum::serve(listener, router(app))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| Error::io(local.to_string(), e))
    })
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(|| async { page(assets::INDEX_HTML) }))
        .route("/call/{id}", get(call_page))
        .route("/assets/{name}", get(asset))
        .route("/api/calls", get(list))
        .route("/api/calls/{id}", get(transcript))
        .route("/audio/{id}", get(audio))
        .fallback(|| async { not_found("no such page") })
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

/// Refuses requests for another host name when bound to loopback (so a web page
/// elsewhere cannot reach the server through DNS rebinding), and adds headers that
/// keep the pages from loading anything from elsewhere.
async fn guard(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    if app.options.bind.is_loopback() {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
        if !matches!(name, "127.0.0.1" | "localhost" | "[::1]") {
            return (StatusCode::FORBIDDEN, "unknown host").into_response();
        }
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; media-src 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn page(html: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

fn not_found(what: &str) -> Response {
    (StatusCode::NOT_FOUND, what.to_string()).into_response()
}

async fn call_page(State(app): State<Arc<App>>, UrlPath(id): UrlPath<String>) -> Response {
    match app.call(&id) {
        Some(_) => page(assets::CALL_HTML),
        None => not_found("no such call"),
    }
}

async fn asset(UrlPath(name): UrlPath<String>) -> Response {
    match assets::get(&name) {
        Some((content_type, body)) => {
            ([(header::CONTENT_TYPE, content_type)], body).into_response()
        }
        None => not_found("no such asset"),
    }
}

#[derive(serde::Serialize)]
struct CallList<'a> {
    calls: Vec<&'a index::CallRow>,
    groups: index::Groups,
    unreadable: &'a [index::Unreadable],
}

async fn list(State(app): State<Arc<App>>) -> Response {
    let app2 = app.clone();
    let Ok(index) = tokio::task::spawn_blocking(move || app2.rescan()).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "scan failed").into_response();
    };
    let rows: Vec<&index::CallRow> = index.calls.values().map(|c| &c.row).collect();
    let groups = index::groups(rows.iter().copied(), app.options.min_group);
    json_response(&CallList {
        calls: rows,
        groups,
        unreadable: &index.unreadable,
    })
}

fn json_response(value: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// The refusal for a call that is not shown: one made with `--no-redact`, unless
/// the server was started with `--allow-unredacted`.
fn withheld(app: &App, redacted: bool) -> Option<Response> {
    (!redacted && !app.options.allow_unredacted).then(|| {
        (
            StatusCode::FORBIDDEN,
            "this call was transcribed with --no-redact; start serve with --allow-unredacted to show it",
        )
            .into_response()
    })
}

async fn transcript(State(app): State<Arc<App>>, UrlPath(id): UrlPath<String>) -> Response {
    let Some(call) = app.call(&id) else {
        return not_found("no such call");
    };
    if let Some(refusal) = withheld(&app, call.row.redacted) {
        return refusal;
    }
    // Read again (not served as stored): the page gets what the schema holds and a
    // file changed since the scan is shown as it is now.
    match tokio::task::spawn_blocking(move || call.transcript()).await {
        // Checked again: the file may have been rewritten since the scan.
        Ok(Ok(transcript)) => {
            withheld(&app, transcript.call.redacted).unwrap_or_else(|| json_response(&transcript))
        }
        Ok(Err(e)) => (StatusCode::CONFLICT, e.to_string()).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "read failed").into_response(),
    }
}

async fn audio(
    State(app): State<Arc<App>>,
    UrlPath(id): UrlPath<String>,
    request: Request,
) -> Response {
    let Some(call) = app.call(&id) else {
        return not_found("no such call");
    };
    if let Some(refusal) = withheld(&app, call.row.redacted) {
        return refusal;
    }
    if call.audio.is_none() {
        return not_found("no recording of this call under the audio folders");
    }
    let app2 = app.clone();
    let prepared = tokio::task::spawn_blocking(move || prepare_audio(&app2, &call)).await;
    let path = match prepared {
        Ok(Ok(path)) => path,
        Ok(Err(e)) => {
            tracing::warn!(call = %id, error = %e, "recording not served");
            return (StatusCode::CONFLICT, e.to_string()).into_response();
        }
        Err(_) => return (StatusCode::INTERNAL_SERVER_ERROR, "audio failed").into_response(),
    };
    // ServeFile answers Range requests (206 with Content-Range), so seeking works.
    match tower_http::services::ServeFile::new(path)
        .oneshot(request)
        .await
    {
        Ok(response) => response.map(Body::new),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// The file to serve as a call's recording: checked once against the transcript's
/// sha256, and with the redacted spans covered unless `--original-audio`.
fn prepare_audio(app: &App, call: &Call) -> Result<PathBuf> {
    let source = call
        .audio
        .as_deref()
        .ok_or_else(|| Error::Config("no recording".into()))?;
    if let Some(done) = app.prepared.lock().expect("audio lock").get(&call.json) {
        return Ok(done.clone());
    }
    let transcript = call.transcript()?;
    check_source(source, &call.json, &transcript, false)?;
    let spans = crate::redact::audio::spans(&transcript, AUDIO_PAD);
    let served = if spans.is_empty() || app.options.original_audio {
        source.to_path_buf()
    } else {
        let (wav, _) = redacted_wav(source, &transcript, Cover::Tone, AUDIO_PAD)?;
        // Named by the call's id (unique in the index): two recordings prepared at
        // once on the blocking pool never share a file.
        let name = format!("{}.wav", call.row.id);
        let path = app.scratch.path().join(name);
        crate::sink::write_atomic(&path, &wav)?;
        path
    };
    app.prepared
        .lock()
        .expect("audio lock")
        .insert(call.json.clone(), served.clone());
    Ok(served)
}
