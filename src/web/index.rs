//! The calls a `serve` instance knows: every `NAME.subtext.json` under the tagged
//! folders, a list row for each, group counts for the list page, and the
//! recording each call was made from, looked up under the audio folders.
//!
//! Calls are addressed by an id made from the file name, never by a path from the
//! request, so a URL can only reach files this index found itself.

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

use crate::types::{Speaker, Transcript};

/// The suffix of the files `batch` and `transcribe` write.
pub const SUFFIX: &str = ".subtext.json";

/// One call found under a tagged folder. Only its list row is kept: the transcript
/// is read again when a page asks for it, so the index stays small with thousands
/// of calls.
#[derive(Debug)]
pub struct Call {
    pub json: PathBuf,
    /// The recording, when one was found under an audio folder (canonical path).
    pub audio: Option<PathBuf>,
    pub row: CallRow,
}

impl Call {
    /// The call's transcript, read from its file now.
    pub fn transcript(&self) -> crate::Result<Transcript> {
        Transcript::read(&self.json)
    }
}

/// What the call list shows of a call.
#[derive(Debug, Clone, Serialize)]
pub struct CallRow {
    pub id: String,
    pub file: String,
    pub source: String,
    pub modified: String,
    pub duration: f64,
    pub language: String,
    pub turns: usize,
    pub hints: usize,
    pub trajectory: Option<String>,
    pub outcome: Option<RowOutcome>,
    pub follow_up: Option<bool>,
    pub follow_up_reasons: Vec<String>,
    pub top_metaphors: Vec<MetaphorCount>,
    /// The customer's emotion at the end of the call (from the summary curve).
    pub customer_emotion: Option<String>,
    pub redacted: bool,
    pub has_audio: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RowOutcome {
    pub functional: String,
    pub emotional: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MetaphorCount {
    pub class: String,
    pub count: usize,
}

/// Calls per group, only for groups of at least `min_size` calls: smaller groups
/// could point at a person (the domain reference's rule for reporting).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Groups {
    pub min_size: usize,
    pub by_trajectory: Vec<GroupCount>,
    pub by_metaphor: Vec<GroupCount>,
    pub by_language: Vec<GroupCount>,
    pub by_follow_up: Vec<GroupCount>,
    /// How many groups were left out for being too small.
    pub hidden: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GroupCount {
    pub key: String,
    pub calls: usize,
}

/// A tagged file that could not be read, for the list's error section and the log.
#[derive(Debug, Clone, Serialize)]
pub struct Unreadable {
    pub file: String,
    pub reason: String,
}

/// A scan's result: calls by id (ids sorted), and files that failed.
#[derive(Debug, Default)]
pub struct Index {
    pub calls: BTreeMap<String, Arc<Call>>,
    pub unreadable: Vec<Unreadable>,
}

/// Keeps parsed calls between scans so a rescan only reads new or changed files.
#[derive(Default)]
pub struct Scanner {
    cache: HashMap<PathBuf, (SystemTime, u64, Arc<Call>)>,
}

impl Scanner {
    /// Finds every call under `tagged` and its recording under `audio`.
    pub fn scan(&mut self, tagged: &[PathBuf], audio: &[PathBuf]) -> Index {
        let mut files: Vec<(PathBuf, PathBuf)> = Vec::new();
        for root in tagged {
            for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
                let Ok(entry) = entry else { continue };
                let name = entry.file_name().to_string_lossy();
                if entry.file_type().is_file() && name.ends_with(SUFFIX) {
                    files.push((root.clone(), entry.into_path()));
                }
            }
        }
        let recordings = Recordings::find(audio);
        let mut index = Index::default();
        let mut taken: HashMap<String, usize> = HashMap::new();
        let mut fresh = HashMap::new();
        for (root, path) in files {
            let id = unique_id(&path, &mut taken);
            match self.load(&path, &root, &id, &recordings) {
                Ok(call) => {
                    fresh.insert(path, call.clone());
                    index.calls.insert(id, call.2);
                }
                Err(reason) => {
                    tracing::warn!(file = %path.display(), %reason, "tagged file skipped");
                    index.unreadable.push(Unreadable {
                        file: display_path(&path, &root),
                        reason,
                    });
                }
            }
        }
        self.cache = fresh;
        index
    }

    fn load(
        &self,
        path: &Path,
        root: &Path,
        id: &str,
        recordings: &Recordings,
    ) -> Result<(SystemTime, u64, Arc<Call>), String> {
        let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        if let Some((m, len, call)) = self.cache.get(path) {
            if *m == modified && *len == meta.len() && call.row.id == id {
                return Ok((*m, *len, call.clone()));
            }
        }
        let transcript = Transcript::read(path).map_err(|e| e.to_string())?;
        let audio = recordings.lookup(&transcript.call.source);
        let row = row(
            id,
            &display_path(path, root),
            modified,
            &transcript,
            audio.is_some(),
        );
        let call = Call {
            json: path.to_path_buf(),
            audio,
            row,
        };
        Ok((modified, meta.len(), Arc::new(call)))
    }
}

/// The file name without `.subtext.json`; a name met before gets `-2`, `-3` ...
fn unique_id(path: &Path, taken: &mut HashMap<String, usize>) -> String {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let stem: String = name
        .trim_end_matches(SUFFIX)
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let n = taken.entry(stem.clone()).or_insert(0);
    *n += 1;
    if *n == 1 {
        stem
    } else {
        format!("{stem}-{n}")
    }
}

fn display_path(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

fn row(id: &str, file: &str, modified: SystemTime, t: &Transcript, has_audio: bool) -> CallRow {
    let summary = t.summary.as_ref();
    let mut metaphors: BTreeMap<&str, usize> = BTreeMap::new();
    for turn in t.turns.iter().filter(|t| t.speaker != Speaker::Agent) {
        for cue in turn.tags.iter().flat_map(|g| &g.metaphors) {
            *metaphors.entry(&cue.class).or_default() += 1;
        }
    }
    let mut top_metaphors: Vec<MetaphorCount> = metaphors
        .into_iter()
        .map(|(class, count)| MetaphorCount {
            class: class.to_string(),
            count,
        })
        .collect();
    top_metaphors.sort_by(|a, b| b.count.cmp(&a.count).then(a.class.cmp(&b.class)));
    top_metaphors.truncate(3);
    let customer_curve = summary.and_then(|s| {
        s.curves
            .iter()
            .find(|c| c.speaker == Speaker::Customer)
            .or_else(|| s.curves.iter().find(|c| c.speaker == Speaker::Unknown))
    });
    CallRow {
        id: id.to_string(),
        file: file.to_string(),
        source: t.call.source.clone(),
        modified: humantime::format_rfc3339_seconds(modified).to_string(),
        duration: t.call.duration,
        language: t.call.language.clone(),
        turns: t.turns.len(),
        hints: t.hints.as_ref().map_or(0, Vec::len),
        trajectory: summary.and_then(|s| s.trajectory).map(|x| serde_name(&x)),
        outcome: summary.map(|s| RowOutcome {
            functional: serde_name(&s.outcome.functional),
            emotional: s.outcome.emotional.clone(),
        }),
        follow_up: summary.map(|s| s.follow_up.needed),
        follow_up_reasons: summary
            .map(|s| s.follow_up.reasons.clone())
            .unwrap_or_default(),
        top_metaphors,
        customer_emotion: customer_curve.map(|c| c.end.emotion.clone()),
        redacted: t.call.redacted,
        has_audio,
    }
}

/// An enum value as the JSON names it (`not_resolved`, not `NotResolved`).
fn serde_name(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        other => format!("{other:?}"),
    }
}

/// Counts calls per trajectory, metaphor, language and follow-up, keeping only
/// groups of at least `min_size` calls.
pub fn groups<'a>(rows: impl IntoIterator<Item = &'a CallRow>, min_size: usize) -> Groups {
    let mut by: [BTreeMap<String, usize>; 4] = Default::default();
    for row in rows {
        let trajectory = row.trajectory.clone().unwrap_or_else(|| "untagged".into());
        *by[0].entry(trajectory).or_default() += 1;
        for m in &row.top_metaphors {
            *by[1].entry(m.class.clone()).or_default() += 1;
        }
        *by[2].entry(row.language.clone()).or_default() += 1;
        let follow_up = match row.follow_up {
            Some(true) => "yes",
            Some(false) => "no",
            None => "unknown",
        };
        *by[3].entry(follow_up.into()).or_default() += 1;
    }
    let mut hidden = 0;
    let mut keep = |counts: BTreeMap<String, usize>| -> Vec<GroupCount> {
        let mut kept: Vec<GroupCount> = counts
            .into_iter()
            .filter(|&(_, n)| {
                let big = n >= min_size;
                hidden += usize::from(!big);
                big
            })
            .map(|(key, calls)| GroupCount { key, calls })
            .collect();
        kept.sort_by(|a, b| b.calls.cmp(&a.calls).then(a.key.cmp(&b.key)));
        kept
    };
    let [t, m, l, f] = by;
    Groups {
        min_size,
        by_trajectory: keep(t),
        by_metaphor: keep(m),
        by_language: keep(l),
        by_follow_up: keep(f),
        hidden,
    }
}

/// The audio files under the audio folders, by file name.
struct Recordings {
    roots: Vec<PathBuf>,
    by_name: HashMap<String, Vec<PathBuf>>,
}

impl Recordings {
    fn find(roots: &[PathBuf]) -> Self {
        let roots: Vec<PathBuf> = roots.iter().filter_map(|r| r.canonicalize().ok()).collect();
        let mut by_name: HashMap<String, Vec<PathBuf>> = HashMap::new();
        for root in &roots {
            for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
                let Ok(entry) = entry else { continue };
                if entry.file_type().is_file() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    by_name.entry(name).or_default().push(entry.into_path());
                }
            }
        }
        Recordings { roots, by_name }
    }

    /// The recording a transcript's `source` names: the same relative path under an
    /// audio folder, else the one file of that name whose path ends most like it.
    /// Only files that stay inside an audio folder (after links) are returned.
    fn lookup(&self, source: &str) -> Option<PathBuf> {
        let source = Path::new(source);
        let inside = |p: &Path| {
            p.canonicalize()
                .ok()
                .filter(|c| c.is_file() && self.roots.iter().any(|r| c.starts_with(r)))
        };
        let plain = source
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        if plain {
            if let Some(found) = self.roots.iter().find_map(|r| inside(&r.join(source))) {
                return Some(found);
            }
        }
        let name = source.file_name()?.to_string_lossy();
        let candidates = self.by_name.get(name.as_ref())?;
        let shared_tail = |p: &Path| {
            p.components()
                .rev()
                .zip(source.components().rev())
                .take_while(|(a, b)| a == b)
                .count()
        };
        candidates
            .iter()
            .max_by_key(|p| shared_tail(p))
            .and_then(|p| inside(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row_with(trajectory: &str, metaphor: &str) -> CallRow {
        CallRow {
            id: String::new(),
            file: String::new(),
            source: String::new(),
            modified: String::new(),
            duration: 1.0,
            language: "nl".into(),
            turns: 1,
            hints: 0,
            trajectory: Some(trajectory.into()),
            outcome: None,
            follow_up: Some(false),
            follow_up_reasons: vec![],
            top_metaphors: vec![MetaphorCount {
                class: metaphor.into(),
                count: 1,
            }],
            customer_emotion: None,
            redacted: true,
            has_audio: false,
        }
    }

    #[test]
    fn groups_under_the_minimum_are_left_out() {
        let mut rows: Vec<CallRow> = (0..10).map(|_| row_with("recovered", "journey")).collect();
        rows.extend((0..3).map(|_| row_with("worsened", "container")));
        let g = groups(&rows, 10);
        assert_eq!(
            g.by_trajectory,
            vec![GroupCount {
                key: "recovered".into(),
                calls: 10
            }]
        );
        assert_eq!(g.by_metaphor.len(), 1);
        assert_eq!(g.by_language[0].calls, 13);
        assert_eq!(g.hidden, 2);
        assert_eq!(groups(&rows, 3).hidden, 0);
    }

    #[test]
    fn ids_are_unique_and_url_safe() {
        let mut taken = HashMap::new();
        let a = unique_id(Path::new("x/call 1.subtext.json"), &mut taken);
        let b = unique_id(Path::new("y/call 1.subtext.json"), &mut taken);
        assert_eq!(a, "call_1");
        assert_eq!(b, "call_1-2");
    }

    #[test]
    fn recordings_are_found_by_relative_path_or_name_and_never_outside() {
        let dir = tempfile::tempdir().unwrap();
        let audio = dir.path().join("audio");
        std::fs::create_dir_all(audio.join("2026/11")).unwrap();
        std::fs::write(audio.join("2026/11/a.wav"), b"x").unwrap();
        std::fs::write(dir.path().join("secret.wav"), b"x").unwrap();
        let rec = Recordings::find(std::slice::from_ref(&audio));
        let found = rec.lookup("calls/2026/11/a.wav").unwrap();
        assert!(found.ends_with("2026/11/a.wav"));
        assert!(rec.lookup("2026/11/a.wav").is_some());
        assert_eq!(rec.lookup("../secret.wav"), None);
        assert_eq!(rec.lookup("/etc/passwd"), None);
        assert_eq!(rec.lookup("missing.wav"), None);
    }
}
