//! Any bytes as a `NAME.subtext.json`: reading it gives a transcript or an error,
//! and whatever reads as one can be replayed and rendered as a report page without
//! a panic (replay, serve and report all start from such a file).
#![no_main]

use libfuzzer_sys::fuzz_target;
use subtext::replay::{play_plain, Speed, Timeline};

fuzz_target!(|data: &[u8]| {
    let Ok(transcript) = serde_json::from_slice::<subtext::Transcript>(data) else {
        return;
    };
    let timeline = Timeline::new(&transcript);
    let end = timeline.duration();
    let _ = timeline.customer_mood(end);
    let _ = timeline.previous_turn(end);
    let _ = timeline.next_turn(0.0);
    let mut out = Vec::new();
    play_plain(&transcript, Speed::Max, 0.0, &mut out).unwrap();
    let html = subtext::web::report::render(&transcript, Some("a.wav")).unwrap();
    assert!(!html.contains("/assets/"));
});
