//! The web app's pages, styles and scripts, compiled into the binary so `serve`
//! and `report` never load anything from elsewhere.

pub const INDEX_HTML: &str = include_str!("assets/index.html");
pub const CALL_HTML: &str = include_str!("assets/call.html");
pub const APP_CSS: &str = include_str!("assets/app.css");
pub const LIST_JS: &str = include_str!("assets/list.js");
pub const CALL_JS: &str = include_str!("assets/call.js");

/// An asset by its name under `/assets/`, with its content type.
pub fn get(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "app.css" => Some(("text/css; charset=utf-8", APP_CSS)),
        "list.js" => Some(("text/javascript; charset=utf-8", LIST_JS)),
        "call.js" => Some(("text/javascript; charset=utf-8", CALL_JS)),
        _ => None,
    }
}
