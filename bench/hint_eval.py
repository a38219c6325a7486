#!/usr/bin/env python3
"""How often agent hints fire, and whether they serve the right need, in one run.

    .venv/bin/python bench/hint_eval.py [--binary target/release/subtext]

Every customer turn of the in-domain test split (models/scorer/labelled, 20% by id
hash, never trained on) goes through `subtext score --hints` in its own language, as
the first customer turn of a call (no call context, no cooldown). Measured:

  fire rate            share of turns that get a hint
  quiet on calm turns  share of turns labelled neutral with need `none` that get NO hint
  need agreement       among hints on turns with a labelled need: hint need == label
  need head alone      on the same turns: the scorer's own need tag == label
                       (what the catalog adds over the model's need head)
  quote in text        hints whose quote is the customer's own words

Results go to bench/out/hint_eval.json and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "models" / "scorer"))
from train_heads import load_labelled  # noqa: E402


def load_test_turns() -> list[dict]:
    return [item for item in load_labelled(ROOT / "models" / "scorer" / "labelled")
            if item["split"] == "test" and item["speaker"] == "customer"]


def run_hints(binary: str, language: str, texts: list[str]) -> list[dict]:
    out = subprocess.run(
        [binary, "score", "--hints", "--no-redact", "--language", language],
        input="\n".join(t.replace("\n", " ") for t in texts) + "\n",
        capture_output=True, text=True, check=True,
        env={"SUBTEXT_MODELS": str(ROOT / "models"), "PATH": "/usr/bin:/bin"},
    )
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(rows) == len(texts), (len(rows), len(texts))
    return rows


def measure(turns: list[dict], rows: list[dict]) -> dict:
    fired = [(t, r) for t, r in zip(turns, rows) if r.get("hint")]
    calm = [(t, r) for t, r in zip(turns, rows)
            if t["need"] == "none" and t["emotions"] == ["neutral"]]
    with_need = [(t, r) for t, r in fired if t["need"] != "none"]
    head_right = sum(1 for t, r in with_need
                     if (r["tags"].get("need") or {}).get("id") == t["need"])
    return {
        "turns": len(turns),
        "hints": len(fired),
        "fire_rate": round(len(fired) / max(len(turns), 1), 3),
        "calm_turns": len(calm),
        "quiet_on_calm": round(sum(1 for _, r in calm if not r.get("hint")) / max(len(calm), 1), 3),
        "hints_on_labelled_need": len(with_need),
        "need_agreement": round(sum(1 for t, r in with_need if r["hint"]["need"] == t["need"])
                                / max(len(with_need), 1), 3),
        "need_head_alone": round(head_right / max(len(with_need), 1), 3),
        "quote_in_text": round(sum(1 for _, r in fired
                                   if r["hint"]["evidence"]["quote"].rstrip(" …") in r["text"])
                               / max(len(fired), 1), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", default=str(ROOT / "target" / "release" / "subtext"))
    args = parser.parse_args()
    turns = load_test_turns()
    results = {}
    started = time.time()
    for lang in ("nl", "en"):
        subset = [t for t in turns if t["lang"] == lang]
        rows = run_hints(args.binary, lang, [t["text"] for t in subset])
        results[lang] = measure(subset, rows)
    results["seconds"] = round(time.time() - started, 1)
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "hint_eval.json").write_text(json.dumps(results, indent=2) + "\n")
    keys = ["turns", "hints", "fire_rate", "calm_turns", "quiet_on_calm",
            "hints_on_labelled_need", "need_agreement", "need_head_alone", "quote_in_text"]
    print("| measure | nl | en |\n|---|---|---|")
    for k in keys:
        print(f"| {k} | {results['nl'][k]} | {results['en'][k]} |")


if __name__ == "__main__":
    main()
