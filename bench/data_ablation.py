#!/usr/bin/env python3
"""Does a labelled file help the emotion tags? Heads trained with and without it, side by side.

    .venv/bin/python bench/data_ablation.py --extra new-rows.jsonl [more.jsonl ...]
    .venv/bin/python bench/data_ablation.py --drop train-nl-c.jsonl
        [--seeds 3] [--members 2] [--shared ../shared]

Before new rows go into `models/scorer/labelled/`, measure them: for each seed, the emotion
heads are trained on the in-domain train split plus the external rows (as
`models/scorer/train_heads.py` does, on the same cached embeddings), once as the labelled
folder stands ("base") and once with the `--extra` files added or the `--drop` files left
out ("candidate"); thresholds are chosen on dev; the emotion memory is built from each
condition's own train rows, with the shipped gate (heads.json). Printed: dev and test
emotion macro-F1 of both per seed, the mean difference, and the per-label test F1
difference. Cheaper than `make train` (two members, dev thresholds, about 2.5 minutes a
condition and seed on two cores) and meant for a yes/no on data, not for the figures the
README reports (`bench/score_eval.py`, through the binary). Decide on dev; test is printed
because dev has 185 turns, but choosing data by test figures wears the test split out.
Results also go to bench/out/data_ablation.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SCORER = ROOT / "models" / "scorer"
sys.path.insert(0, str(SCORER))
import train_heads as th  # noqa: E402
from taxonomy import EMOTIONS  # noqa: E402


def read_rows(path: Path) -> list:
    """Rows of a labelled JSONL file, all of them training rows."""
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as e:
            sys.exit(f"{path}:{n}: {e}")
        unknown = [e for e in row.get("emotions", []) if e not in EMOTIONS]
        if not row.get("emotions") or unknown or "text" not in row:
            sys.exit(f"{path}:{n}: a row needs a text and emotions from {EMOTIONS} (got {unknown or 'none'})")
        row["split"] = "train"
        rows.append(row)
    return rows


def run(train, e_in, dev, test, external, gate, seed, members, epochs) -> dict:
    """Dev and test emotion macro-F1 (and test F1 per label) of heads trained on `train`
    (embedded as `e_in`); `dev`, `test` and `external` are (rows, embeddings) pairs."""
    _, _, standard = th.standardiser(e_in)
    heads = th.train_members(th.training_arrays(train, standard(e_in), external[0], standard(external[1])),
                             members, epochs, f"seed {seed}", seed=seed)
    memory = th.EmotionMemory(e_in, th.multi_hot([r["emotions"] for r in train], EMOTIONS))
    memory.gate = gate

    def decide(rows, e, thresholds=None):
        probs = memory.blend(heads.predict(standard(e))["emotion"], e)
        y = th.multi_hot([r["emotions"] for r in rows], EMOTIONS)
        thresholds = thresholds or th.calibrate_thresholds(probs, y)
        return th.emotion_decisions(probs, thresholds), y, thresholds

    pred_dev, y_dev, thresholds = decide(*dev)
    pred_test, y_test, _ = decide(*test, thresholds)
    return {"dev": th.macro_f1(pred_dev, y_dev), "test": th.macro_f1(pred_test, y_test),
            "test_per_label": th.per_label_f1(pred_test, y_test).tolist(), "train_rows": len(train)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--extra", type=Path, nargs="*", default=[], help="labelled JSONL files to add as train rows")
    ap.add_argument("--drop", nargs="*", default=[],
                    help="train-only files of models/scorer/labelled to leave out (train-*.jsonl)")
    ap.add_argument("--seeds", type=int, default=3, help="seeds per condition (default: %(default)s)")
    ap.add_argument("--members", type=int, default=2, help="heads averaged per seed (default: %(default)s)")
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    args = ap.parse_args(argv)
    if not args.extra and not args.drop:
        ap.error("give --extra FILE... or --drop NAME...")
    for name in args.drop:
        # Files that also hold dev and test rows would change what is measured.
        if not name.startswith("train-") or not (SCORER / "labelled" / name).is_file():
            ap.error(f"--drop takes a train-*.jsonl file of {SCORER / 'labelled'}, not {name}")

    rows = th.load_labelled(SCORER / "labelled")
    base = [r for r in rows if r["split"] == "train"]
    dev = [r for r in rows if r["split"] == "dev"]
    test = [r for r in rows if r["split"] == "test"]
    extra = [r for path in args.extra for r in read_rows(path)]
    clash = sorted({r["id"] for r in extra} & {r["id"] for r in rows})
    if clash:
        sys.exit(f"data_ablation: ids already in the labelled set: {', '.join(clash[:5])}")
    candidate = [r for r in base if r["file"] not in args.drop] + extra
    go, xed = th.load_external(args.shared, th.GOEMOTIONS_ROWS)
    gate = tuple(json.loads((SCORER / "heads.json").read_text())["emotion_memory"]["gate"])
    enc = th.Encoder(th.MODELS)
    print(f"base: {len(base)} train rows; candidate: {len(candidate)} "
          f"(+{len(extra)} from {[str(p) for p in args.extra]}, dropped {args.drop}); "
          f"dev {len(dev)}, test {len(test)}", file=sys.stderr)

    embedded = lambda rows: (rows, enc.embed([r["text"] for r in rows]))  # noqa: E731
    conditions = {"base": embedded(base), "candidate": embedded(candidate)}
    held_out = {"dev": embedded(dev), "test": embedded(test), "external": embedded(go + xed)}
    results = []
    for s in range(args.seeds):
        seed = th.SEED + 1000 * s
        pair = {name: run(*train, **held_out, gate=gate, seed=seed, members=args.members, epochs=args.epochs)
                for name, train in conditions.items()}
        results.append({"seed": seed, **pair})
        print(f"seed {seed}: dev {pair['base']['dev']:.3f} -> {pair['candidate']['dev']:.3f}, "
              f"test {pair['base']['test']:.3f} -> {pair['candidate']['test']:.3f}", flush=True)

    diff = lambda key: [r["candidate"][key] - r["base"][key] for r in results]  # noqa: E731
    labels = np.mean([np.subtract(r["candidate"]["test_per_label"], r["base"]["test_per_label"])
                      for r in results], axis=0)
    summary = {"mean_dev_difference": round(float(np.mean(diff("dev"))), 4),
               "mean_test_difference": round(float(np.mean(diff("test"))), 4),
               "test_f1_difference_per_label": {e: round(float(d), 3) for e, d in zip(EMOTIONS, labels)}}
    print(f"candidate - base, mean over {args.seeds} seeds: dev {summary['mean_dev_difference']:+.3f} "
          f"(per seed {', '.join(f'{d:+.3f}' for d in diff('dev'))}), test {summary['mean_test_difference']:+.3f} "
          f"(per seed {', '.join(f'{d:+.3f}' for d in diff('test'))})")
    print("test F1 per label, candidate - base: "
          + ", ".join(f"{e} {d:+.2f}" for e, d in summary["test_f1_difference_per_label"].items()))
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "data_ablation.json").write_text(json.dumps(
        {"extra": [str(p) for p in args.extra], "drop": args.drop, "members": args.members,
         "seeds": results, **summary}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
