//! Agent hints, call summary and `subtext show`, with the real models: the domain
//! reference's 20 situations as customer turns, the catalog's no-sales rule, catalog
//! errors, and golden files of the sample calls' summaries and views.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

use subtext::hints::catalog::persuasion_word;
use subtext::hints::HintCatalog;

use crate::common::{root, run_ok, score_lines, subtext};

/// `../shared/domain.md` §6 as customer turns: the needs the hint may serve (the
/// question behind the question, in our taxonomy) and words of the cue it must quote.
const SITUATIONS: [(&str, &[&str], &[&str]); 20] = [
    ("Ik had me zo verheugd op haar eerste verjaardag, en nu is er gewoon geen taart.", &["rescue_moment"], &["verheugd", "verjaardag"]),
    ("Ik hang nu al twintig minuten aan de lijn, ik kook gewoon.", &["time_effort"], &["kook", "aan de lijn"]),
    ("Met alles wat er nu op de beurs gebeurt wil ik gewoon weten of mijn vermogen goed zit.", &["reassurance"], &["goed zit", "vermogen", "beurs"]),
    ("Na dertig jaar voel ik me bij jullie gewoon een nummer.", &["belonging"], &["nummer", "dertig jaar"]),
    ("Ik kom niet wijs uit deze nota, het is een doolhof.", &["clarity_control", "fairness"], &["doolhof", "wijs"]),
    ("Met dat prijsplafond weet ik echt niet of ik de winter doorkom.", &["reassurance"], &["winter", "prijsplafond"]),
    ("Iedereen in de straat heeft zonnepanelen, wij kunnen dat gewoon niet betalen.", &["belonging", "fairness"], &["iedereen", "niet betalen"]),
    ("Het dak is eraf, de kinderen slapen bij de buren en ik weet niet waar ik moet beginnen.", &["ownership", "reassurance"], &["beginnen", "dak"]),
    ("Ik sta al maanden op de wachtlijst, ik heb het gevoel dat ik stilsta.", &["clarity_control"], &["stilsta", "wachtlijst"]),
    ("Moet ik zo'n ding echt? Dan kan ik net zo goed een bordje 'oud' omhangen.", &["be_heard", "belonging"], &["bordje", "oud"]),
    ("We hebben een jaar naar deze reis toegeleefd en nu is de vlucht geannuleerd.", &["rescue_moment"], &["toegeleefd", "reis"]),
    ("Ik heb een hele dag vrij genomen voor die monteur en er kwam niemand.", &["time_effort", "fairness"], &["dag vrij", "niemand"]),
    ("Ik wilde alleen even zeggen dat uw collega me vorige week echt geholpen heeft.", &["be_heard"], &["geholpen", "even zeggen"]),
    ("Dit is de derde keer dat ik bel, ik word van het kastje naar de muur gestuurd.", &["ownership"], &["kastje", "derde keer"]),
    ("Ik laat me niet weer met een kluitje in het riet sturen.", &["fairness", "ownership"], &["kluitje"]),
    ("Mijn moeder drukte op de alarmknop en ik hoorde het pas een uur later.", &["reassurance"], &["alarmknop", "uur later"]),
    ("Het voelt alsof ik tegen een muur praat, niemand kijkt naar mijn situatie.", &["be_heard"], &["muur", "niemand kijkt"]),
    ("Ik zeg op, ik heb ergens anders een beter aanbod.", &["be_heard"], &["zeg op", "aanbod"]),
    ("Waarom moeten jullie mijn stem opslaan? Dat wil ik eigenlijk niet.", &["clarity_control"], &["stem", "opslaan"]),
    ("Ik heb net een nieuwe baan, ik moet er elke dag komen, maar ik wil wel goed voor de dag komen.", &["belonging"], &["voor de dag", "nieuwe baan"]),
];

#[test]
fn the_twenty_domain_situations_get_a_hint_for_their_need_quoting_the_cue() {
    let texts: Vec<&str> = SITUATIONS.iter().map(|(t, _, _)| *t).collect();
    let rows = score_lines(&["--hints", "--language", "nl"], &texts);
    let mut misses = Vec::new();
    for ((text, needs, cue_words), row) in SITUATIONS.iter().zip(&rows) {
        let hint = &row["hint"];
        if hint.is_null() {
            misses.push(format!("{text:?}: no hint (tags {})", row["tags"]));
            continue;
        }
        let need = hint["need"].as_str().unwrap();
        let quote = hint["evidence"]["quote"].as_str().unwrap();
        let shown = hint["text"].as_str().unwrap();
        if !needs.contains(&need) {
            misses.push(format!(
                "{text:?}: need {need}, wanted one of {needs:?} ({})",
                hint["id"]
            ));
        }
        if !cue_words.iter().any(|w| quote.to_lowercase().contains(w)) {
            misses.push(format!(
                "{text:?}: quotes {quote:?}, wanted the cue {cue_words:?}"
            ));
        }
        // The quote is the customer's own words, shown in the hint.
        assert!(
            text.contains(quote.trim_end_matches(" …")),
            "{quote:?} not in {text:?}"
        );
        assert!(shown.contains(quote), "{shown:?} does not show {quote:?}");
        assert!(shown.starts_with("Mogelijk speelt: "), "{shown}");
        let c = hint["confidence"].as_f64().unwrap();
        assert!((0.45..=1.0).contains(&c), "{hint}");
        if let Some(q) = hint["question"].as_str() {
            assert_eq!(q.matches('?').count(), 1, "{q}");
        }
    }
    assert!(
        misses.is_empty(),
        "{} of 20 situations missed:\n{}",
        misses.len(),
        misses.join("\n")
    );
}

#[test]
fn english_customer_turns_get_english_hints() {
    let rows = score_lines(
        &["--hints", "--language", "en"],
        &[
            "This is the third time I am calling, I keep getting sent from pillar to post.",
            "I have been waiting in the queue for twenty minutes and I am really fed up.",
        ],
    );
    for row in &rows {
        let text = row["hint"]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("no hint: {row}"));
        assert!(text.starts_with("Possibly: "), "{text}");
    }
    assert_eq!(rows[0]["hint"]["need"], "ownership", "{}", rows[0]);
    assert_eq!(rows[1]["hint"]["need"], "time_effort", "{}", rows[1]);
}

#[test]
fn calm_and_factual_turns_get_no_hint() {
    let rows = score_lines(
        &["--hints"],
        &[
            "Ik wil graag mijn adreswijziging doorgeven.",
            "Mijn klantnummer heb ik hier, een momentje.",
            "Hoe laat zijn jullie morgen open?",
        ],
    );
    for row in &rows {
        assert!(row["hint"].is_null(), "{row}");
    }
}

/// Every text of the catalog, in both languages, with every mirror sentence that may
/// be appended: no sales or retention push (a worried customer may be tagged with any
/// other emotion too, so no entry is exempt).
#[test]
fn no_hint_in_the_catalog_pushes_a_sale_on_a_worried_customer() {
    let catalog = HintCatalog::builtin();
    let mut checked = 0;
    for entry in &catalog.entries {
        for lang in ["nl", "en"] {
            let mut texts = vec![entry.text.get(lang).to_string()];
            texts.extend(entry.question.as_ref().map(|q| q.get(lang).to_string()));
            texts.extend(catalog.mirror.values().map(|m| m.get(lang).to_string()));
            for t in texts {
                assert_eq!(persuasion_word(&t), None, "{}: {t}", entry.id);
                checked += 1;
            }
        }
    }
    assert!(checked > 1000, "only {checked} texts checked");
    // And through the real scorer: worried customers get reassurance, nothing pushy.
    let rows = score_lines(
        &["--hints"],
        &[
            "Ik maak me grote zorgen of ik mijn huis wel kan houden.",
            "Met dat prijsplafond weet ik echt niet of ik de winter doorkom.",
            "Ik ben bang dat mijn pensioen straks niet genoeg is.",
            "Ik weet echt niet hoe ik die rekening moet betalen.",
        ],
    );
    let mut hints = 0;
    for row in &rows {
        let hint = &row["hint"];
        if hint.is_null() {
            continue;
        }
        hints += 1;
        let shown = format!("{} {}", hint["text"], hint["question"]);
        assert_eq!(persuasion_word(&shown), None, "{row}");
    }
    assert!(hints >= 3, "worried customers got {hints} hints: {rows:?}");
}

#[test]
fn a_bad_catalog_is_refused_with_file_entry_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("my-hints.toml");
    let good = subtext::hints::catalog::BUILTIN;
    let broken = good.replacen("need = \"time_effort\"", "need = \"patience\"", 1);
    assert_ne!(broken, good, "the built-in catalog has a time_effort entry");
    std::fs::write(&bad, broken).unwrap();
    for args in [
        vec!["hints".to_string(), bad.display().to_string()],
        vec![
            "transcribe".to_string(),
            root().join("samples/call-en-2.wav").display().to_string(),
            "--hints".to_string(),
            bad.display().to_string(),
        ],
    ] {
        let out = subtext().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("my-hints.toml"), "{err}");
        assert!(
            err.contains("(entry ") && err.contains("field `need`: unknown need 'patience'"),
            "{err}"
        );
        assert!(out.stdout.is_empty());
    }
    let out = subtext().args(["hints"]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("built-in catalog: valid"));
}

struct Tagged {
    _dir: tempfile::TempDir,
    out: PathBuf,
}

/// The four sample calls, tagged once for every test here.
fn samples() -> &'static Tagged {
    static TAGGED: OnceLock<Tagged> = OnceLock::new();
    TAGGED.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("tagged");
        // Run from the repository root with a relative input, so the sources in the
        // golden files read `samples/...` wherever the checkout lies.
        run_ok(
            subtext()
                .current_dir(root())
                .args(["batch", "--no-progress", "--format", "json", "samples"])
                .arg("--out")
                .arg(&out),
        );
        Tagged { _dir: dir, out }
    })
}

fn call(name: &str) -> (PathBuf, Value) {
    let path = samples().out.join(format!("{name}.subtext.json"));
    let json = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    (path, json)
}

fn show(path: &Path, extra: &[&str]) -> String {
    let out = run_ok(subtext().arg("show").arg(path).args(extra));
    String::from_utf8(out.stdout).unwrap()
}

const CALLS: [&str; 4] = ["call-en-1", "call-en-2", "call-nl-1", "call-nl-2"];

/// A sample call as the real models tagged it (`tests/fixtures/tagged`), with its hints
/// and summary computed afresh from its turns by the built-in catalog. The golden
/// files rest on these fixed turns rather than on a new run, because the models'
/// numbers move in the last digits between CPUs (int8 and SIMD kernels), and a golden
/// file must only change when hints, summary or views do.
fn fixture(name: &str) -> subtext::Transcript {
    let path = root().join(format!("tests/fixtures/tagged/{name}.subtext.json"));
    let mut t: subtext::Transcript =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let catalog = HintCatalog::builtin();
    t.hints = Some(subtext::hints::hints_for_call(&catalog, &t));
    t.summary = Some(subtext::summary::summarize(&t, &catalog));
    t
}

#[test]
fn golden_summaries_and_hints_of_the_sample_calls() {
    for name in CALLS {
        let t = fixture(name);
        let golden = serde_json::json!({ "hints": t.hints, "summary": t.summary });
        insta::assert_json_snapshot!(format!("summary-{name}"), golden);
    }
}

#[test]
fn golden_show_views_of_the_sample_calls() {
    let dir = tempfile::tempdir().unwrap();
    for name in CALLS {
        let path = dir.path().join(format!("{name}.subtext.json"));
        std::fs::write(&path, serde_json::to_string(&fixture(name)).unwrap()).unwrap();
        insta::assert_snapshot!(format!("show-{name}"), show(&path, &[]));
        if name == "call-en-2" {
            insta::assert_snapshot!("show-markdown-call-en-2", show(&path, &["--markdown"]));
            // Colour only when asked (stdout is a pipe here), and never in Markdown.
            assert!(show(&path, &["--color", "always"]).contains("\x1b["));
            assert!(!show(&path, &["--markdown", "--color", "always"]).contains("\x1b["));
            assert!(!show(&path, &[]).contains("\x1b["));
        }
    }
}

#[test]
fn show_explains_a_file_that_is_not_a_transcript() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.json");
    std::fs::write(&path, "{\"hello\": 1}").unwrap();
    let out = subtext().arg("show").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("notes.json is not a subtext transcript"),
        "{err}"
    );
}

/// The real pipeline on the sample audio: it writes hints and a summary that are
/// exactly what the hint engine and summariser make of its own turns.
#[test]
fn the_pipeline_writes_the_hints_and_summary_of_its_turns() {
    let catalog = HintCatalog::builtin();
    for name in CALLS {
        let (_, json) = call(name);
        let t: subtext::Transcript = serde_json::from_value(json.clone()).unwrap();
        // Through JSON text, as the file holds it (f32s print short there).
        let as_written = |v: String| serde_json::from_str::<Value>(&v).unwrap();
        let hints = as_written(
            serde_json::to_string(&subtext::hints::hints_for_call(&catalog, &t)).unwrap(),
        );
        let summary =
            as_written(serde_json::to_string(&subtext::summary::summarize(&t, &catalog)).unwrap());
        assert_eq!(json["hints"], hints, "{name}");
        assert_eq!(json["summary"], summary, "{name}");
    }
}

/// What the summaries must say, independent of exact figures. Only the English
/// calls: whisper base hears espeak's Dutch voice poorly (it is detected as English
/// and transcribed as noise), so the Dutch samples' words cannot carry an outcome.
#[test]
fn sample_calls_end_as_their_scripts_do() {
    let summary = |name| call(name).1["summary"].clone();
    // A wrong bill after a long wait, corrected: negative start, better end. The
    // customer's last line is synthetic 8 kHz speech that whisper mishears ("nothing
    // I release" for "that is a relief"), and how it mishears it moves with the
    // decoder's thread count, so its valence sits either side of the positive
    // threshold: "recovered" (with a recovery moment) or "improving" (without).
    let s = summary("call-en-1");
    assert_eq!(s["outcome"]["functional"], "resolved", "{s}");
    assert_eq!(s["contact_type"]["id"], "complaint", "{s}");
    let kinds: Vec<&Value> = s["moments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["kind"])
        .collect();
    match s["trajectory"].as_str() {
        Some("recovered") => assert_eq!(kinds, ["negative_peak", "recovery"], "{s}"),
        Some("improving") => assert_eq!(kinds, ["negative_peak"], "{s}"),
        _ => panic!("call-en-1 should end better than it began: {s}"),
    }
    // A parcel lost, a third call, to be called back: partly resolved, a complaint
    // to follow up, and the customer cut in once.
    let s = summary("call-en-2");
    assert_eq!(s["outcome"]["functional"], "partly", "{s}");
    assert_eq!(s["talk"]["interruptions_by_customer"], 1, "{s}");
    assert!(
        s["follow_up"]["reasons"]
            .as_array()
            .unwrap()
            .contains(&"complaint".into()),
        "{s}"
    );
    let (_, json) = call("call-en-2");
    assert_eq!(json["hints"][0]["need"], "ownership", "{json}");
    assert!(
        json["hints"][0]["text"]
            .as_str()
            .unwrap()
            .contains("third time"),
        "{json}"
    );
    // Hints are for customer turns only, and the ones here quote the customer.
    for name in CALLS {
        let (_, json) = call(name);
        for hint in json["hints"].as_array().unwrap() {
            let turn = &json["turns"][hint["turn"].as_u64().unwrap() as usize];
            assert_eq!(turn["speaker"], "customer", "{hint}");
            let quote = hint["evidence"]["quote"]
                .as_str()
                .unwrap()
                .trim_end_matches(" …");
            assert!(turn["text"].as_str().unwrap().contains(quote), "{hint}");
        }
    }
}
