//! The call seen whole: emotion curve per speaker ("een film, geen foto"), where it
//! turned, how it ended (functional and emotional apart), talk and silence, and
//! whether someone should follow up. Pure code over the tagged turns.

use crate::hints::HintCatalog;
use crate::score::round3;
use crate::types::{
    CallSummary, CurvePoint, EmotionState, FollowUp, FunctionalOutcome, LabelScore, Moment,
    MomentKind, Outcome, Speaker, SpeakerCurve, TalkStats, Trajectory, Transcript, Turn,
};

/// Weight of a new turn in the smoothed curve (the rest is the curve so far).
const SMOOTHING: f32 = 0.6;
/// Valence at or below which a turn is negative, at or above which positive
/// (shared with the hint engine's call context and the views).
pub const NEGATIVE_VALENCE: f32 = -0.3;
pub const POSITIVE_VALENCE: f32 = 0.2;
/// A negative turn weighs this much more than an equally strong positive one
/// (negativity bias: one bad experience needs several good ones to offset it).
const NEGATIVITY_WEIGHT: f32 = 1.5;
/// A change of start-to-end valence smaller than this is "stable".
const CHANGE: f32 = 0.25;
/// A "9+" moment: clearly positive and clearly felt.
const NINE_PLUS_VALENCE: f32 = 0.5;
const NINE_PLUS_INTENSITY: f32 = 0.45;
/// Curves are resampled to at most this many points.
const MAX_CURVE_POINTS: f64 = 600.0;
/// How many of the last turns are read for the functional outcome.
const OUTCOME_TURNS: usize = 6;

/// Summarises a transcript; the catalog supplies the phrases that tell the outcome
/// and the situations (cancellation, compliment) that call for follow-up.
pub fn summarize(transcript: &Transcript, catalog: &HintCatalog) -> CallSummary {
    let turns = &transcript.turns;
    let duration = transcript.call.duration;
    let step = (duration / MAX_CURVE_POINTS).ceil().max(1.0);
    let curves: Vec<SpeakerCurve> = [Speaker::Agent, Speaker::Customer, Speaker::Unknown]
        .into_iter()
        .filter_map(|s| curve(turns, s, step, duration))
        .collect();
    // The call is judged by the customer; in a mono call by the only voice there is.
    let main = curves
        .iter()
        .find(|c| c.speaker == Speaker::Customer)
        .or_else(|| curves.iter().find(|c| c.speaker == Speaker::Unknown));
    let moments = main.map(|c| moments(c, turns)).unwrap_or_default();

    let customer_turns: Vec<&Turn> = turns
        .iter()
        .filter(|t| t.speaker != Speaker::Agent)
        .collect();
    let contact_type = contact_type(&customer_turns);
    let emotional = main.map(|c| {
        match c.end.valence {
            v if v >= POSITIVE_VALENCE => "positive",
            v if v <= -POSITIVE_VALENCE => "negative",
            _ => "neutral",
        }
        .to_string()
    });
    let (functional, evidence) = functional_outcome(turns, catalog);
    let outcome = Outcome {
        functional,
        evidence,
        emotional,
    };

    // A signal in a customer turn whose tone is at least `min_valence` (when tagged).
    let said = |signal: &str, min_valence: f32| {
        catalog.signal(signal).is_some_and(|s| {
            customer_turns.iter().any(|t| {
                s.find(&t.text).is_some()
                    && t.tags.as_ref().is_none_or(|g| g.valence >= min_valence)
            })
        })
    };
    let stated = |kind: &str| {
        customer_turns.iter().any(|t| {
            t.tags
                .as_ref()
                .and_then(|g| g.contact_type.as_ref())
                .is_some_and(|c| c.id == kind)
        })
    };
    let mut reasons = Vec::new();
    if stated("complaint") {
        reasons.push("complaint".to_string());
    }
    if outcome.emotional.as_deref() == Some("negative") {
        reasons.push("unrecovered_negative_end".to_string());
    }
    if stated("cancellation") || said("cancellation", -1.0) {
        reasons.push("cancellation_intent".to_string());
    }
    // Thanks in a closing are not a compliment: only a warm turn counts.
    if stated("compliment") || said("compliment", POSITIVE_VALENCE) {
        reasons.push("compliment_to_thank".to_string());
    }

    CallSummary {
        trajectory: main.map(|c| c.trajectory),
        curves,
        moments,
        contact_type,
        outcome,
        talk: talk(turns, duration),
        follow_up: FollowUp {
            needed: !reasons.is_empty(),
            reasons,
        },
    }
}

fn curve(turns: &[Turn], speaker: Speaker, step: f64, duration: f64) -> Option<SpeakerCurve> {
    let mut points: Vec<CurvePoint> = Vec::new();
    for turn in turns.iter().filter(|t| t.speaker == speaker) {
        let Some(tags) = &turn.tags else { continue };
        let (sv, si) = match points.last() {
            Some(p) => (
                SMOOTHING * tags.valence + (1.0 - SMOOTHING) * p.smooth_valence,
                SMOOTHING * tags.intensity + (1.0 - SMOOTHING) * p.smooth_intensity,
            ),
            None => (tags.valence, tags.intensity),
        };
        points.push(CurvePoint {
            turn: turn.id,
            time: round_ms((turn.start + turn.end) / 2.0),
            valence: tags.valence,
            intensity: tags.intensity,
            smooth_valence: round3(sv),
            smooth_intensity: round3(si),
        });
    }
    let first = points.first()?;
    let last = points.last()?;
    let state = |p: &CurvePoint, smooth: bool| EmotionState {
        turn: p.turn,
        time: p.time,
        valence: if smooth { p.smooth_valence } else { p.valence },
        intensity: if smooth {
            p.smooth_intensity
        } else {
            p.intensity
        },
        emotion: top_emotion(turns, p.turn),
    };
    let start = state(first, false);
    let end = state(last, true);
    // The most strongly felt point, a negative one weighing more than a positive.
    let peak_point = points
        .iter()
        .max_by(|a, b| salience(a).total_cmp(&salience(b)))
        .expect("points is not empty");
    let peak = state(peak_point, false);
    let trajectory = trajectory(&points, start.valence, end.valence);
    let samples = (duration / step).floor() as usize + 1;
    let at = |t: f64, value: fn(&CurvePoint) -> f32| round3(interpolate(&points, t, value));
    let valence = (0..samples)
        .map(|i| at(i as f64 * step, |p| p.smooth_valence))
        .collect();
    let intensity = (0..samples)
        .map(|i| at(i as f64 * step, |p| p.smooth_intensity))
        .collect();
    Some(SpeakerCurve {
        speaker,
        points,
        step,
        valence,
        intensity,
        start,
        peak,
        end,
        trajectory,
    })
}

fn salience(p: &CurvePoint) -> f32 {
    let weight = if p.valence < 0.0 {
        NEGATIVITY_WEIGHT
    } else {
        1.0
    };
    weight * p.valence.abs() * (0.5 + p.intensity)
}

fn trajectory(points: &[CurvePoint], start: f32, end: f32) -> Trajectory {
    // Recovered: positive after the last negative turn (and so nothing negative after).
    let recovered = points
        .iter()
        .rposition(|p| p.valence <= NEGATIVE_VALENCE)
        .is_some_and(|last| {
            points[last + 1..]
                .iter()
                .any(|p| p.valence >= POSITIVE_VALENCE)
        });
    if recovered {
        Trajectory::Recovered
    } else if end - start >= CHANGE {
        Trajectory::Improving
    } else if end - start <= -CHANGE {
        Trajectory::Worsening
    } else {
        Trajectory::Stable
    }
}

/// The service-recovery moments: each first positive turn after a run of negative ones.
fn recoveries(points: &[CurvePoint]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut negative = false;
    for (i, p) in points.iter().enumerate() {
        if p.valence <= NEGATIVE_VALENCE {
            negative = true;
        } else if negative && p.valence >= POSITIVE_VALENCE {
            out.push(i);
            negative = false;
        }
    }
    out
}

/// Linear interpolation between turn points; flat before the first and after the last.
fn interpolate(points: &[CurvePoint], t: f64, value: fn(&CurvePoint) -> f32) -> f32 {
    let after = points.iter().position(|p| p.time >= t);
    match after {
        Some(0) => value(&points[0]),
        None => value(points.last().expect("points is not empty")),
        Some(i) => {
            let (a, b) = (&points[i - 1], &points[i]);
            let w = ((t - a.time) / (b.time - a.time).max(1e-6)) as f32;
            value(a) + w * (value(b) - value(a))
        }
    }
}

fn top_emotion(turns: &[Turn], id: usize) -> String {
    turns
        .iter()
        .find(|t| t.id == id)
        .and_then(|t| t.tags.as_ref())
        .and_then(|g| g.emotions.first())
        .map(|e| e.id.clone())
        .unwrap_or_default()
}

fn moments(curve: &SpeakerCurve, turns: &[Turn]) -> Vec<Moment> {
    let moment = |kind: MomentKind, p: &CurvePoint| Moment {
        kind,
        turn: p.turn,
        time: p.time,
        speaker: curve.speaker,
        valence: p.valence,
        intensity: p.intensity,
        quote: turns
            .iter()
            .find(|t| t.id == p.turn)
            .map(|t| t.text.clone())
            .unwrap_or_default(),
    };
    let mut out = Vec::new();
    let lowest = curve
        .points
        .iter()
        .min_by(|a, b| a.valence.total_cmp(&b.valence))
        .filter(|p| p.valence <= NEGATIVE_VALENCE);
    out.extend(lowest.map(|p| moment(MomentKind::NegativePeak, p)));
    out.extend(
        recoveries(&curve.points)
            .into_iter()
            .map(|i| moment(MomentKind::Recovery, &curve.points[i])),
    );
    out.extend(
        curve
            .points
            .iter()
            .filter(|p| p.valence >= NINE_PLUS_VALENCE && p.intensity >= NINE_PLUS_INTENSITY)
            .map(|p| moment(MomentKind::PositivePeak, p)),
    );
    out.sort_by(|a, b| a.time.total_cmp(&b.time));
    out
}

/// The call's contact type: cancellation, complaint, compliment, question, in that
/// order of weight (a cancellation with a compliment is a cancellation), then other.
fn contact_type(customer_turns: &[&Turn]) -> Option<LabelScore> {
    let stated: Vec<&LabelScore> = customer_turns
        .iter()
        .filter_map(|t| t.tags.as_ref()?.contact_type.as_ref())
        .collect();
    [
        "cancellation",
        "complaint",
        "compliment",
        "question",
        "other",
    ]
    .into_iter()
    .find_map(|kind| {
        stated
            .iter()
            .filter(|c| c.id == kind)
            .max_by(|a, b| a.confidence.total_cmp(&b.confidence))
            .map(|c| (*c).clone())
    })
}

/// Reads the last turns for what was said about the matter. The latest turn that
/// says something decides; within one turn an open problem beats a promise still to
/// keep, which beats a solution.
fn functional_outcome(turns: &[Turn], catalog: &HintCatalog) -> (FunctionalOutcome, Vec<String>) {
    let tail = &turns[turns.len().saturating_sub(OUTCOME_TURNS)..];
    let kinds = [
        ("not_resolved", FunctionalOutcome::NotResolved),
        ("pending", FunctionalOutcome::Partly),
        ("resolved", FunctionalOutcome::Resolved),
    ];
    for turn in tail.iter().rev() {
        for (kind, result) in kinds {
            let found = catalog.outcome.get(kind).and_then(|s| s.find(&turn.text));
            if let Some(words) = found {
                return (result, vec![words.to_string()]);
            }
        }
    }
    (FunctionalOutcome::Unknown, Vec::new())
}

fn talk(turns: &[Turn], duration: f64) -> TalkStats {
    let seconds = |s: Speaker| {
        round_ms(
            turns
                .iter()
                .filter(|t| t.speaker == s)
                .map(|t| t.end - t.start)
                .sum(),
        )
    };
    let (agent, customer) = (seconds(Speaker::Agent), seconds(Speaker::Customer));
    // Silence: the parts of the call no turn covers.
    let mut spans: Vec<(f64, f64)> = turns.iter().map(|t| (t.start, t.end)).collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut covered = 0.0;
    let mut reach = 0.0_f64;
    for (start, end) in spans {
        let from = start.max(reach);
        if end > from {
            covered += end - from;
        }
        reach = reach.max(end);
    }
    let mut overlap = 0.0;
    let mut interruptions = [0usize, 0];
    for turn in turns.iter().filter(|t| t.speaker != Speaker::Unknown) {
        let (shared, interrupts) = crate::score::acoustic::overlap_with_others(turn, turns);
        if turn.speaker == Speaker::Agent {
            overlap += shared; // counted once, from the agent's side
        }
        if interrupts {
            interruptions[usize::from(turn.speaker == Speaker::Customer)] += 1;
        }
    }
    TalkStats {
        agent_seconds: agent,
        customer_seconds: customer,
        agent_talk_ratio: (agent + customer > 0.0)
            .then(|| round3((agent / (agent + customer)) as f32)),
        silence_share: if duration > 0.0 {
            round3((1.0 - covered / duration).clamp(0.0, 1.0) as f32)
        } else {
            0.0
        },
        overlap_seconds: round_ms(overlap),
        interruptions_by_agent: interruptions[0],
        interruptions_by_customer: interruptions[1],
    }
}

fn round_ms(t: f64) -> f64 {
    (t * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hints::tests::{catalog, tagged};
    use crate::types::{CallMeta, LanguageSource, ModelInfo};

    fn transcript(turns: Vec<Turn>, duration: f64) -> Transcript {
        Transcript {
            schema: crate::types::SCHEMA_VERSION.into(),
            call: CallMeta {
                source: "call.wav".into(),
                sha256: String::new(),
                duration,
                sample_rate: 8000,
                channels: 2,
                channel_map: vec![Speaker::Agent, Speaker::Customer],
                language: "nl".into(),
                language_source: LanguageSource::Forced,
                model: ModelInfo {
                    asr: String::new(),
                    asr_sha256: String::new(),
                    whisper_cpp: String::new(),
                    vad: String::new(),
                    scorer: None,
                    scorer_sha256: None,
                },
                settings_hash: String::new(),
                subtext_version: String::new(),
                redacted: true,
                speech_seconds: 0.0,
                processing_seconds: 0.0,
            },
            labels: None,
            turns,
            hints: None,
            summary: None,
        }
    }

    fn call(valences: &[f32], last_agent_words: &str) -> Transcript {
        let mut turns = Vec::new();
        for (i, v) in valences.iter().enumerate() {
            let t = i as f64 * 8.0;
            turns.push(tagged(
                2 * i,
                t,
                Speaker::Agent,
                "Ik help u graag.",
                ("neutral", 0.8),
                0.2,
            ));
            let emotion = if *v < 0.0 { "frustration" } else { "relief" };
            turns.push(tagged(
                2 * i + 1,
                t + 4.0,
                Speaker::Customer,
                "Zo.",
                (emotion, 0.8),
                *v,
            ));
        }
        turns.push(tagged(
            turns.len(),
            valences.len() as f64 * 8.0,
            Speaker::Agent,
            last_agent_words,
            ("neutral", 0.8),
            0.3,
        ));
        transcript(turns, valences.len() as f64 * 8.0 + 4.0)
    }

    #[test]
    fn negative_to_positive_is_a_recovery_with_its_moment() {
        let s = summarize(
            &call(&[-0.7, -0.4, 0.6, 0.7], "Het is aangepast."),
            &catalog(),
        );
        assert_eq!(s.trajectory, Some(Trajectory::Recovered));
        let kinds: Vec<MomentKind> = s.moments.iter().map(|m| m.kind).collect();
        assert_eq!(
            kinds,
            [
                MomentKind::NegativePeak,
                MomentKind::Recovery,
                MomentKind::PositivePeak,
                MomentKind::PositivePeak
            ]
        );
        assert_eq!(s.moments[0].turn, 1);
        assert_eq!(s.moments[1].turn, 5);
        assert_eq!(s.outcome.functional, FunctionalOutcome::Resolved);
        assert_eq!(s.outcome.evidence, ["is aangepast"]);
        assert_eq!(s.outcome.emotional.as_deref(), Some("positive"));
        assert!(!s.follow_up.needed, "{:?}", s.follow_up);
        let customer = s
            .curves
            .iter()
            .find(|c| c.speaker == Speaker::Customer)
            .unwrap();
        assert_eq!(customer.start.valence, -0.7);
        assert_eq!(customer.peak.turn, 1);
        // Smoothed: the end lags the last raw value.
        assert!(customer.end.valence > 0.3 && customer.end.valence < 0.7);
        // Resampled every second over the whole call, flat before the first turn.
        assert_eq!(customer.step, 1.0);
        assert_eq!(customer.valence.len(), 37);
        assert_eq!(customer.valence[0], -0.7);
    }

    #[test]
    fn trajectories_and_follow_up_reasons() {
        let s = summarize(
            &call(&[0.3, -0.2, -0.6], "Ik bel u morgen terug."),
            &catalog(),
        );
        assert_eq!(s.trajectory, Some(Trajectory::Worsening));
        assert_eq!(s.outcome.functional, FunctionalOutcome::Partly);
        assert_eq!(s.follow_up.reasons, ["unrecovered_negative_end"]);
        let s = summarize(&call(&[0.0, 0.05, -0.05], "Tot ziens."), &catalog());
        assert_eq!(s.trajectory, Some(Trajectory::Stable));
        assert_eq!(s.outcome.functional, FunctionalOutcome::Unknown);
        assert!(s.moments.is_empty());
        let s = summarize(&call(&[-0.1, 0.1, 0.3], "Tot ziens."), &catalog());
        assert_eq!(s.trajectory, Some(Trajectory::Improving));

        let mut t = call(&[0.1], "Tot ziens.");
        t.turns[1].text = "Ik wil opzeggen.".into();
        t.turns[1].tags.as_mut().unwrap().contact_type = Some(LabelScore {
            id: "complaint".into(),
            confidence: 0.7,
        });
        let s = summarize(&t, &catalog());
        assert_eq!(s.follow_up.reasons, ["complaint", "cancellation_intent"]);
        assert_eq!(s.contact_type.unwrap().id, "complaint");
    }

    #[test]
    fn talk_silence_and_interruptions() {
        let mut turns = vec![
            tagged(0, 0.0, Speaker::Agent, "a", ("neutral", 0.9), 0.0),
            tagged(1, 2.0, Speaker::Customer, "b", ("neutral", 0.9), 0.0),
            tagged(2, 10.0, Speaker::Agent, "c", ("neutral", 0.9), 0.0),
        ];
        turns[0].end = 4.0; // the customer starts 2 s before the agent stops
        let s = summarize(&transcript(turns, 20.0), &catalog());
        assert_eq!(s.talk.agent_seconds, 7.0);
        assert_eq!(s.talk.customer_seconds, 3.0);
        assert_eq!(s.talk.agent_talk_ratio, Some(0.7));
        assert_eq!(s.talk.overlap_seconds, 2.0);
        assert_eq!(s.talk.interruptions_by_customer, 1);
        assert_eq!(s.talk.interruptions_by_agent, 0);
        // Covered: 0-5 and 10-13 of 20 s.
        assert_eq!(s.talk.silence_share, 0.6);
    }

    #[test]
    fn untagged_calls_still_get_talk_and_outcome() {
        let mut t = call(&[0.1], "Het is aangepast.");
        for turn in &mut t.turns {
            turn.tags = None;
        }
        let s = summarize(&t, &catalog());
        assert!(s.curves.is_empty() && s.trajectory.is_none() && s.outcome.emotional.is_none());
        assert_eq!(s.outcome.functional, FunctionalOutcome::Resolved);
        assert!(!s.follow_up.needed);
    }
}
