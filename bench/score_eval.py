#!/usr/bin/env python3
"""Quality and speed of subtext's tags, measured in one run through the shipped binary.

    .venv/bin/python bench/score_eval.py [--shared ../shared] [--binary target/release/subtext]
        [--compare-models DIR]

Every figure comes from `subtext score` (model + lexicon + tagging rules, exactly as in
a transcript), on data we did not train on:

  in-domain test split   models/scorer/labelled (20% by id hash; written for subtext)
  GoEmotions test        ../shared/evaldata/emotion_en_goemotions (mapped to our labels)
  XED Dutch              held-out 20% of nl-projections (the other 80% is training data)
  Dutch political tweets emotion_nl_political_tweets (evaluation only, never trained on)
  ID10M Dutch idioms     dev_dutch.tsv (silver spans; non-commercial, evaluation only)

Next to each, the lexicon baseline: Pattern's Dutch polarity lexicon (PDDL) decides
negative / neutral / positive and maps that to the set's most frequent emotion of that
polarity. Results go to bench/out/score_eval.json and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "models" / "scorer"))
from taxonomy import (EMOTIONS, GOEMOTIONS_MAP, NEGATIVE, POSITIVE, TWEETS_MAP,  # noqa: E402
                      XED_MAP, split_of)
from train_heads import load_goemotions, load_labelled, load_xed  # noqa: E402


# ----------------------------------------------------------------------- running

def run_score(binary: Path, texts: list, threads_cpu: str = "0", models: Path = None) -> tuple:
    """Tags for every text, and the seconds it took (pinned to one core); `models`: another
    models folder (SUBTEXT_MODELS) than the binary's default."""
    clean = [re.sub(r"\s+", " ", t).strip() or "." for t in texts]
    cmd = [str(binary), "score", "--no-redact"]
    if threads_cpu is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", threads_cpu] + cmd
    start = time.perf_counter()
    env = dict(os.environ, SUBTEXT_MODELS=str(models)) if models else None
    proc = subprocess.run(cmd, input="\n".join(clean) + "\n", capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"score_eval: {' '.join(cmd)} failed:\n{proc.stderr}")
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    if len(rows) != len(clean):
        sys.exit(f"score_eval: {len(clean)} texts in, {len(rows)} results out")
    return rows, seconds


# ----------------------------------------------------------------------- metrics

def prf(tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def label_f1(gold: list, pred: list, labels: list) -> dict:
    """Per-label F1 over multi-label sets, for labels that occur in gold."""
    out = {}
    for lab in labels:
        tp = sum(lab in g and lab in p for g, p in zip(gold, pred))
        fp = sum(lab not in g and lab in p for g, p in zip(gold, pred))
        fn = sum(lab in g and lab not in p for g, p in zip(gold, pred))
        if tp + fn:
            out[lab] = round(prf(tp, fp, fn)[2], 3)
    return out


def macro(d: dict) -> float:
    return round(sum(d.values()) / len(d), 3) if d else 0.0


def bootstrap_macro_f1(gold: list, preds: dict, labels: list, rounds: int = 2000, seed: int = 7) -> dict:
    """95% intervals of macro-F1 over texts resampled with replacement, for each prediction
    in `preds` and for each one's difference to the first (the same resamples for all, so
    the difference is paired). With a few hundred texts and 14 labels a label has tens of
    positives, so macro-F1 moves by a few points between draws of the same size: a
    difference whose interval holds 0 is not one the set can show."""
    rng = np.random.default_rng(seed)
    g = np.array([[lab in x for lab in labels] for x in gold])
    counts = rng.multinomial(len(gold), np.full(len(gold), 1 / len(gold)), size=rounds).astype(np.float32)
    present = g.sum(0) > 0  # label_f1 counts the labels that occur in gold

    def draws(pred):
        p = np.array([[lab in x for lab in labels] for x in pred])
        tp, fp, fn = (counts @ (a & b).astype(np.float32) for a, b in ((g, p), (~g, p), (g, ~p)))
        f1 = np.where(tp > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
        f1 = np.where(tp + fn > 0, f1, np.nan)[:, present]
        return np.nanmean(f1, axis=1)

    def interval(v):
        return [round(float(x), 3) for x in np.percentile(v, [2.5, 97.5])]

    names = list(preds)
    values = {name: draws(preds[name]) for name in names}
    out = {name: interval(v) for name, v in values.items()}
    for name in names[1:]:
        out[f"{names[0]}_minus_{name}"] = interval(values[names[0]] - values[name])
    return out


def polarity_of(emotions) -> str:
    pos = any(e in POSITIVE for e in emotions)
    neg = any(e in NEGATIVE for e in emotions)
    return "mixed" if pos and neg else "positive" if pos else "negative" if neg else "neutral"


def model_polarity(row) -> str:
    v = row["tags"]["valence"]
    return "positive" if v > 0.25 else "negative" if v < -0.25 else "neutral"


class Pattern:
    """Pattern's Dutch adjective lexicon with its simple negation rule."""

    NEGATIONS = {"niet", "geen", "nooit", "not", "never", "no"}

    def __init__(self, path: Path) -> None:
        senses = defaultdict(list)
        for w in ET.parse(path).getroot().iter("word"):
            senses[w.get("form").lower()].append(float(w.get("polarity")))
        self.polarity = {k: sum(v) / len(v) for k, v in senses.items()}

    def score(self, text: str) -> float:
        words = re.findall(r"[\w']+", text.lower())
        values = []
        for i, w in enumerate(words):
            if w in self.polarity:
                p = self.polarity[w]
                if i > 0 and words[i - 1] in self.NEGATIONS:
                    p = -p
                values.append(p)
        return sum(values) / len(values) if values else 0.0

    def label(self, text: str) -> str:
        s = self.score(text)
        return "positive" if s > 0.1 else "negative" if s < -0.1 else "neutral"


def stated_emotions(rows) -> list:
    """The emotion ids `subtext score` stated for each text."""
    return [[e["id"] for e in r["tags"]["emotions"]] for r in rows]


def evaluate_emotions(name, gold, rows, texts, pattern, label_space):
    pred = stated_emotions(rows)
    per_label = label_f1(gold, pred, label_space)
    # Closed set: the model's likeliest emotion among the set's own labels (from
    # `emotion_scores`), one label a text like the baseline's, which also knows the set's
    # labels (and their frequencies). The open figure above is what subtext writes.
    space = [EMOTIONS.index(lab) for lab in label_space]
    closed = [[EMOTIONS[max(space, key=lambda i: r["tags"]["emotion_scores"][i])]] for r in rows]
    per_label_closed = label_f1(gold, closed, label_space)
    # Baseline: polarity -> the set's most frequent emotion of that polarity.
    counts = Counter(e for g in gold for e in g)
    top = {pol: next((e for e, _ in counts.most_common() if polarity_of([e]) == pol), "neutral")
           for pol in ("positive", "negative")}
    top["neutral"] = "neutral"
    base_pred = [[top[pattern.label(t)]] for t in texts]
    base = label_f1(gold, base_pred, label_space)
    interval = bootstrap_macro_f1(gold, {"model": pred, "closed_set": closed, "baseline": base_pred}, label_space)
    gold_pol = [polarity_of(g) for g in gold]
    keep = [i for i, p in enumerate(gold_pol) if p != "mixed"]
    pol_labels = ["negative", "neutral", "positive"]
    pol_model = label_f1([[gold_pol[i]] for i in keep], [[model_polarity(rows[i])] for i in keep], pol_labels)
    pol_base = label_f1([[gold_pol[i]] for i in keep], [[pattern.label(texts[i])] for i in keep], pol_labels)
    return {
        "set": name, "n": len(gold),
        "emotion_macro_f1": macro(per_label), "emotion_f1": per_label,
        "emotion_macro_f1_closed_set": macro(per_label_closed), "emotion_f1_closed_set": per_label_closed,
        "baseline_emotion_macro_f1": macro(base),
        "emotion_macro_f1_95ci": interval,
        "polarity_macro_f1": macro(pol_model), "baseline_polarity_macro_f1": macro(pol_base),
    }


def cue_scores(gold_rows, rows, sources=("lexicon", "model")):
    """Cue spans (of the given sources: the lexicon's, the cue tagger's) against the
    labelled cues: a predicted quote is right when it overlaps a gold cue (character
    offsets), each gold cue matched once; `class_accuracy_of_hits` also needs the class."""
    tp = fp = fn = tp_class = 0
    for g, r in zip(gold_rows, rows):
        text = r["text"]
        gold_spans = []
        for m in g["metaphors"]:
            start = text.find(m["cue"])
            if start >= 0:
                gold_spans.append((start, start + len(m["cue"]), m["class"]))
        pred = [(c["span"][0], c["span"][1], c["class"]) for c in r["tags"]["metaphors"]
                if c.get("span") and c.get("source", "lexicon") in sources]
        # Offsets from Rust are in characters; Python str indexes are characters too.
        matched = set()
        for ps, pe, pc in pred:
            hit = next((i for i, (gs, ge, _) in enumerate(gold_spans)
                        if ps < ge and gs < pe and i not in matched), None)
            if hit is None:
                fp += 1
            else:
                matched.add(hit)
                tp += 1
                tp_class += gold_spans[hit][2] == pc
        fn += len(gold_spans) - len(matched)
    p, r, f = prf(tp, fp, fn)
    return {"precision": round(p, 3), "recall": round(r, 3), "f1": round(f, 3),
            "class_accuracy_of_hits": round(tp_class / tp, 3) if tp else 0.0,
            "gold_cues": tp + fn, "predicted": tp + fp}


def idiom_sentences(path: Path, limit: int):
    """Sentences of ID10M Dutch dev with at least one idiom span (BIO tags)."""
    sents, words, tags = [], [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if words and any(t != "O" for t in tags):
                sents.append((words, tags))
            words, tags = [], []
            continue
        parts = line.split("\t")
        if len(parts) >= 2:
            words.append(parts[0])
            tags.append(parts[-1].strip())
    out = []
    for words, tags in sents[:limit]:
        text, spans, pos, cur = "", [], 0, None
        for w, t in zip(words, tags):
            if text:
                text += " "
            start = len(text)
            text += w
            if t.startswith("B"):
                cur = [start, len(text)]
                spans.append(cur)
            elif t.startswith("I") and cur is not None:
                cur[1] = len(text)
            else:
                cur = None
        out.append((text, [tuple(s) for s in spans]))
    return out


def batch_share(binary: Path, rounds: int) -> dict:
    """Share of end-to-end batch time spent on tags, on `batch samples/`.

    Runs with and without `--no-tags`, alternating for `rounds` rounds. The figure: the
    median over rounds of the wall-time difference within a round, over the median
    wall time with tags. Taken within a round, a difference is less moved by a machine
    that drifts, and it counts everything tags cost: loading the scorer (it loads on
    its own thread while the first call is transcribed, taking CPU from whisper), and
    tagging each call. For comparison, from inside each tagged run: every call's
    tagging seconds (the first call's include any wait for the scorer), over the run's
    wall time (this leaves out the load's CPU), and the CPU-second difference."""
    import resource
    import statistics
    import tempfile
    ansi = re.compile(r"\x1b\[[0-9;]*m")
    walls, cpus, inside = defaultdict(list), defaultdict(list), []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):
            for label, extra in (("with_tags", ["-v"]), ("no_tags", ["-q", "--no-tags"])):
                r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                proc = subprocess.run([str(binary), "batch", "--no-progress", "--force", *extra,
                                       str(ROOT / "samples"), "--out", str(Path(tmp) / label)],
                                      capture_output=True, text=True)
                wall = time.perf_counter() - start
                r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                if proc.returncode != 0:
                    sys.exit(f"score_eval: batch failed:\n{proc.stderr}")
                walls[label].append(wall)
                cpus[label].append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
                if label == "with_tags":
                    log = ansi.sub("", proc.stderr)
                    # The first call's tagging time includes its wait for the scorer.
                    waited = sum(float(x) for x in re.findall(r"waited for the tag scorer to load seconds=([0-9.e-]+)", log))
                    tagging = sum(float(x) for x in re.findall(r"tagging_seconds=([0-9.e-]+)", log))
                    inside.append({"scorer_load_wait_s": round(waited, 3), "tagging_s": round(tagging, 3),
                                   "wall_s": round(wall, 2), "share": round(tagging / wall, 4)})
    wall = {k: round(statistics.median(v), 2) for k, v in walls.items()}
    cpu = {k: round(statistics.median(v), 2) for k, v in cpus.items()}
    paired = [a - b for a, b in zip(walls["with_tags"], walls["no_tags"])]
    return {"tag_share": round(statistics.median(paired) / wall["with_tags"], 4),
            "rounds": rounds, "wall_s": wall,
            "walls_s": {k: [round(x, 2) for x in v] for k, v in walls.items()},
            "paired_differences_s": [round(x, 2) for x in paired],
            "cpu_s": cpu, "cpu_share_by_difference": round((cpu["with_tags"] - cpu["no_tags"]) / cpu["with_tags"], 4),
            "inside_share": statistics.median(r["share"] for r in inside), "runs_with_tags": inside}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--binary", type=Path, default=ROOT / "target" / "release" / "subtext")
    ap.add_argument("--goemotions", type=int, default=2000, help="GoEmotions test rows")
    ap.add_argument("--idioms", type=int, default=1000, help="ID10M sentences with idioms")
    ap.add_argument("--share-rounds", type=int, default=5,
                    help="rounds of `batch samples/` with and without tags for the time share")
    ap.add_argument("--compare-models", type=Path, metavar="DIR",
                    help="another models folder (say, a copy holding the previous subtext-scorer.onnx): "
                         "its emotion macro-F1 on the in-domain test split, paired with this one's")
    ap.add_argument("--share-only", action="store_true",
                    help="only measure the batch time share of tags")
    args = ap.parse_args(argv)
    if args.share_only:
        print(json.dumps(batch_share(args.binary, args.share_rounds), indent=2))
        return 0
    ev = args.shared / "evaldata"
    pattern = Pattern(ev / "sentiment_lexicon_nl_pattern" / "nl-sentiment.xml")
    results = {"sets": [], "binary": str(args.binary)}

    # In-domain test split.
    test = [r for r in load_labelled(ROOT / "models" / "scorer" / "labelled") if r["split"] == "test"]
    rows, secs = run_score(args.binary, [r["text"] for r in test])
    for lang in ("nl", "en", None):
        idx = [i for i, r in enumerate(test) if lang is None or r["lang"] == lang]
        res = evaluate_emotions(f"in-domain test ({lang or 'all'})", [test[i]["emotions"] for i in idx],
                                [rows[i] for i in idx], [test[i]["text"] for i in idx], pattern, EMOTIONS)
        res["metaphor_cues"] = cue_scores([test[i] for i in idx], [rows[i] for i in idx])
        res["metaphor_cues_lexicon_only"] = cue_scores([test[i] for i in idx], [rows[i] for i in idx], ("lexicon",))
        for head in ("need", "contact_type"):
            hits = [(rows[i]["tags"].get(head) or {"id": "none" if head == "need" else "other"})["id"]
                    == test[i][head] for i in idx]
            res[f"{head}_accuracy"] = round(sum(hits) / len(hits), 3)
        results["sets"].append(res)
    if args.compare_models:
        other, _ = run_score(args.binary, [r["text"] for r in test], models=args.compare_models)
        gold = [r["emotions"] for r in test]
        results["compare_models"] = {
            "models": str(args.compare_models),
            "emotion_macro_f1": macro(label_f1(gold, stated_emotions(other), EMOTIONS)),
            "emotion_macro_f1_95ci": bootstrap_macro_f1(
                gold, {"model": stated_emotions(rows), "other": stated_emotions(other)}, EMOTIONS)}
    results["speed"] = {"texts": len(test), "seconds_one_core": round(secs, 2),
                        "turns_per_second_incl_load": round(len(test) / secs, 1)}

    # Throughput without model loading: a larger stdin run minus a one-text run.
    many = [r["text"] for r in test] * 4
    _, t_many = run_score(args.binary, many)
    _, t_one = run_score(args.binary, many[:1])
    results["speed"]["turns_per_second_one_core"] = round(len(many) / max(t_many - t_one, 1e-6), 1)
    results["speed"]["model_load_seconds"] = round(t_one, 2)

    # GoEmotions test (English).
    go = load_goemotions(args.shared, "test")[: args.goemotions]
    rows, _ = run_score(args.binary, [r["text"] for r in go])
    space = sorted(set(GOEMOTIONS_MAP.values()))
    results["sets"].append(evaluate_emotions("GoEmotions test (en, mapped)", [r["emotions"] for r in go], rows,
                                             [r["text"] for r in go], pattern, space))

    # XED Dutch, held-out part.
    xed = load_xed(args.shared, "nl-projections.tsv", "test")
    rows, _ = run_score(args.binary, [r["text"] for r in xed])
    results["sets"].append(evaluate_emotions("XED Dutch held-out (nl, mapped)", [r["emotions"] for r in xed], rows,
                                             [r["text"] for r in xed], pattern, sorted(set(XED_MAP.values()))))

    # Dutch political tweets (evaluation only).
    tweets = []
    for line in (ev / "emotion_nl_political_tweets" / "gold-emotion.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        text, _, label = line.rpartition("\t")
        if label in TWEETS_MAP:
            tweets.append({"text": text, "emotions": [TWEETS_MAP[label]]})
    rows, _ = run_score(args.binary, [r["text"] for r in tweets])
    res = evaluate_emotions("Dutch political tweets (nl, mapped)", [r["emotions"] for r in tweets], rows,
                            [r["text"] for r in tweets], pattern, sorted(set(TWEETS_MAP.values())))
    pol = []
    for line in (ev / "emotion_nl_political_tweets" / "gold-polarity.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        text, _, label = line.rpartition("\t")
        if label in ("positive", "negative", "neutral"):
            pol.append((text, label))
    prow, _ = run_score(args.binary, [t for t, _ in pol])
    labs = ["negative", "neutral", "positive"]
    res["polarity_macro_f1"] = macro(label_f1([[l] for _, l in pol], [[model_polarity(r)] for r in prow], labs))
    res["baseline_polarity_macro_f1"] = macro(label_f1([[l] for _, l in pol], [[pattern.label(t)] for t, _ in pol], labs))
    res["polarity_source"] = "gold-polarity.tsv"
    results["sets"].append(res)

    # Idiom recall (silver): does a cue (any, or the lexicon's alone) overlap the annotated idiom?
    sents = idiom_sentences(ev / "idioms_id10m_nl_en_de" / "dev_dutch.tsv", args.idioms)
    rows, _ = run_score(args.binary, [t for t, _ in sents])
    found = {"all": 0, "lexicon": 0}
    total = 0
    for (text, spans), r in zip(sents, rows):
        cues = [c for c in r["tags"]["metaphors"] if c.get("span")]
        for s, e in spans:
            total += 1
            for which in found:
                found[which] += any(c["span"][0] < e and s < c["span"][1] for c in cues
                                    if which == "all" or c.get("source", "lexicon") == "lexicon")
    results["idioms_id10m_nl_recall"] = {"spans": total,
                                         "recall": round(found["all"] / total, 3) if total else 0.0,
                                         "recall_lexicon_only": round(found["lexicon"] / total, 3) if total else 0.0}

    results["batch_share"] = batch_share(args.binary, args.share_rounds)

    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "score_eval.json").write_text(json.dumps(results, indent=2) + "\n")

    print("| set | n | emotion macro-F1 | closed set | lexicon baseline | polarity macro-F1 | lexicon baseline |")
    print("|---|---|---|---|---|---|---|")
    for s in results["sets"]:
        print(f"| {s['set']} | {s['n']} | {s['emotion_macro_f1']:.3f} | {s['emotion_macro_f1_closed_set']:.3f} "
              f"| {s['baseline_emotion_macro_f1']:.3f} "
              f"| {s['polarity_macro_f1']:.3f} | {s['baseline_polarity_macro_f1']:.3f} |")
    print("\n95% bootstrap intervals (texts resampled; the differences paired):")
    for s in results["sets"]:
        print(f"  {s['set']}: {s['emotion_macro_f1_95ci']}")
    for s in results["sets"][:3]:
        print(f"\n{s['set']}: metaphor cues {s['metaphor_cues']} (lexicon alone {s['metaphor_cues_lexicon_only']}); "
              f"need acc {s['need_accuracy']}; "
              f"contact acc {s['contact_type_accuracy']}\n  per label: {s['emotion_f1']}")
    if "compare_models" in results:
        print(f"\nin-domain test against {results['compare_models']['models']}: {results['compare_models']}")
    print(f"\nidioms (ID10M nl dev, silver): {results['idioms_id10m_nl_recall']}")
    print(f"speed: {results['speed']}")
    print(f"batch time share of tags (samples/): {results['batch_share']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
