//! Output formats (golden files with insta) and the pipeline's pure stages run
//! with fakes: a tone "recogniser" and the model-free VADs.

use std::time::Instant;

use subtext::asr::scripted::ToneTranscriber;
use subtext::audio::Audio;
use subtext::pipeline::{
    BoxedTranscriber, ChannelLayout, LanguageChoice, Pipeline, PipelineConfig,
};
use subtext::sink::{render, Format};
use subtext::vad::WholeTrack;
use subtext::{ModelInfo, Speaker, Transcript};

fn model_info() -> ModelInfo {
    ModelInfo {
        asr: "fake".into(),
        asr_sha256: "0".repeat(64),
        whisper_cpp: "none".into(),
        vad: "none".into(),
        scorer: None,
        scorer_sha256: None,
    }
}

fn fake_pipeline(channels: ChannelLayout) -> Pipeline {
    let workers: Vec<BoxedTranscriber> = (0..2)
        .map(|_| {
            Box::new(ToneTranscriber {
                label: "w".into(),
                dutch: 0.9,
            }) as BoxedTranscriber
        })
        .collect();
    let config = PipelineConfig {
        channels,
        ..PipelineConfig::default()
    };
    Pipeline::new(Box::new(WholeTrack), workers, config, model_info(), "test").unwrap()
}

/// 16 kHz stereo: bursts of a 300 Hz tone on the agent channel at 0.5–1.5 s and
/// 6–7 s, on the customer channel at 2–4 s.
fn stereo_bursts() -> Audio {
    let n = 16_000 * 8;
    let burst = |ranges: &[(f64, f64)]| -> Vec<f32> {
        (0..n)
            .map(|i| {
                let t = i as f64 / 16_000.0;
                if ranges.iter().any(|(a, b)| (*a..*b).contains(&t)) {
                    (0.3 * (t * 300.0 * std::f64::consts::TAU).sin()) as f32
                } else {
                    0.0
                }
            })
            .collect()
    };
    Audio::new(
        16_000,
        vec![burst(&[(0.5, 1.5), (6.0, 7.0)]), burst(&[(2.0, 4.0)])],
    )
}

fn run(channels: ChannelLayout) -> Transcript {
    fake_pipeline(channels)
        .run_audio(
            stereo_bursts(),
            "bursts.wav",
            "0".repeat(64),
            Instant::now(),
        )
        .unwrap()
}

#[test]
fn stereo_tracks_become_interleaved_speaker_turns() {
    let t = run(ChannelLayout::AgentCustomer);
    let turns: Vec<(Speaker, f64, f64)> = t
        .turns
        .iter()
        .map(|t| (t.speaker, t.start, t.end))
        .collect();
    assert_eq!(
        turns,
        [
            (Speaker::Agent, 0.5, 1.5),
            (Speaker::Customer, 2.0, 4.0),
            (Speaker::Agent, 6.0, 7.0)
        ]
    );
    assert_eq!(t.call.language, "nl");
    assert_eq!(t.call.channel_map, [Speaker::Agent, Speaker::Customer]);

    let swapped = run(ChannelLayout::CustomerAgent);
    assert_eq!(swapped.turns[0].speaker, Speaker::Customer);
    assert_ne!(
        swapped.call.settings_hash, t.call.settings_hash,
        "the layout is part of the settings"
    );

    let mono = run(ChannelLayout::Mono);
    assert!(mono.turns.iter().all(|t| t.speaker == Speaker::Unknown));
    assert_eq!(mono.call.channel_map, [Speaker::Unknown]);
}

#[test]
fn fixed_language_is_recorded_as_forced() {
    let workers: Vec<BoxedTranscriber> = vec![Box::new(ToneTranscriber {
        label: "w".into(),
        dutch: 0.9,
    })];
    let config = PipelineConfig {
        language: LanguageChoice::Fixed(subtext::asr::Language::English),
        ..PipelineConfig::default()
    };
    let mut p = Pipeline::new(Box::new(WholeTrack), workers, config, model_info(), "").unwrap();
    let t = p
        .run_audio(stereo_bursts(), "x", String::new(), Instant::now())
        .unwrap();
    assert_eq!(t.call.language, "en");
    assert_eq!(t.call.language_source, subtext::LanguageSource::Forced);
}

/// A fixed transcript for the golden files (nothing in it depends on timing).
fn golden() -> Transcript {
    let mut t = run(ChannelLayout::AgentCustomer);
    t.call.processing_seconds = 0.0;
    t.call.subtext_version = "test".into();
    t.call.settings_hash = "redacted".into();
    t.turns[1].text = "Ik word van het kastje naar de muur gestuurd & <boos>.".into();
    t
}

#[test]
fn golden_vtt() {
    insta::assert_snapshot!(render(&golden(), Format::Vtt));
}

#[test]
fn golden_srt() {
    insta::assert_snapshot!(render(&golden(), Format::Srt));
}

#[test]
fn golden_text() {
    insta::assert_snapshot!(render(&golden(), Format::Text));
}

#[test]
fn golden_json_and_jsonl() {
    let t = golden();
    insta::assert_snapshot!(render(&t, Format::Json));
    let jsonl = render(&t, Format::Jsonl);
    let types: Vec<String> = jsonl
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(types, ["begin", "turn", "turn", "turn", "end"]);
    // The JSON reads back into the same transcript.
    let back: Transcript = serde_json::from_str(&render(&t, Format::Json)).unwrap();
    assert_eq!(back, t);
}

/// A scorer fake: every text gets the same scores; the customer's turns are tagged
/// with what the tagger makes of them, with no model involved.
struct FixedScorer(subtext::score::Labels);

impl subtext::score::TextScorer for FixedScorer {
    fn labels(&self) -> &subtext::score::Labels {
        &self.0
    }
    fn score(&mut self, texts: &[&str]) -> subtext::Result<Vec<subtext::score::TextScores>> {
        Ok(texts
            .iter()
            .map(|_| subtext::score::TextScores {
                emotion: vec![0.9, 0.1],
                metaphor: vec![0.8, 0.2],
                need: vec![0.2, 0.8],
                contact_type: vec![0.3, 0.7],
                valence: -0.5,
                intensity: 0.6,
                cue_spans: Vec::new(),
            })
            .collect())
    }
    fn name(&self) -> String {
        "fixed".into()
    }
    fn sha256(&self) -> String {
        "1".repeat(64)
    }
}

#[test]
fn tagging_adds_tags_voice_cues_and_labels_and_changes_the_settings_hash() {
    let labels = subtext::score::Labels {
        emotion: vec!["frustration".into(), "neutral".into()],
        metaphor: vec!["none".into(), "journey".into()],
        need: vec!["none".into(), "ownership".into()],
        contact_type: vec!["other".into(), "complaint".into()],
        emotion_thresholds: vec![0.5, 0.5],
        display_nl: [("frustration".to_string(), "frustratie".to_string())].into(),
    };
    let tagger = subtext::score::Tagger::new(
        subtext::score::lexicon::MetaphorLexicon::builtin(),
        subtext::score::TagConfig::default(),
    );
    let plain = run(ChannelLayout::AgentCustomer);
    let t = fake_pipeline(ChannelLayout::AgentCustomer)
        .with_tagging(Box::new(FixedScorer(labels)), tagger)
        .run_audio(
            stereo_bursts(),
            "bursts.wav",
            "0".repeat(64),
            Instant::now(),
        )
        .unwrap();
    assert_ne!(t.call.settings_hash, plain.call.settings_hash);
    assert_eq!(t.call.model.scorer.as_deref(), Some("fixed"));
    assert_eq!(
        t.labels.as_ref().unwrap().display_nl["frustration"],
        "frustratie"
    );
    assert_eq!(t.turns.len(), 3);
    for turn in &t.turns {
        let tags = turn.tags.as_ref().expect("every turn is tagged");
        assert_eq!(tags.emotions[0].id, "frustration");
        assert_eq!(tags.need.as_ref().unwrap().id, "ownership");
        let voice = turn.acoustic.as_ref().expect("voice cues from the track");
        // A steady 300 Hz tone: its pitch is found, and every burst is equally loud.
        assert!((voice.pitch_hz.unwrap() - 300.0).abs() < 15.0, "{voice:?}");
        assert!(voice.loudness_db.abs() < 0.5, "{voice:?}");
    }
    assert!(plain
        .turns
        .iter()
        .all(|t| t.tags.is_none() && t.acoustic.is_none()));
    // The text view shows the stated tags as one short badge line per turn.
    let text = render(&t, Format::Text);
    assert!(
        text.lines()
            .all(|l| l.ends_with("{frustration 0.90; need ownership}")),
        "{text}"
    );
}
