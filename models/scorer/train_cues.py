#!/usr/bin/env python3
"""Train the metaphor cue tagger: which words of a turn are a figurative cue, and of
which deep metaphor, from the encoder's last-layer token states.

    .venv/bin/python models/scorer/train_cues.py [--out models/scorer/cue_tagger.json]

The idiom lexicon (metaphor_lexicon.toml) only finds the expressions it lists; on the
in-domain test split it found half of the labelled cues. This tagger reads every token
in context, so it also marks images no list holds ("het zuigt alle energie uit me",
"hiding behind the small print"). Its spans are added to the lexicon's where they do
not overlap them (src/score/mod.rs).

Input: models/scorer/labelled/*.jsonl (train split; held-out folds and dev pick the threshold). Each
labelled cue quote marks the tokens it overlaps with its class.
Model: per token, the standardised state of the token and of its two neighbours
(3 x 384) -> 64 ReLU -> 8-way softmax (none + the seven deep metaphors). Four members
from different seeds, averaged by mean logit and written as one 3 x 384 -> 256 layer
(the standardisation folded into it). Plain numpy, fixed seeds: a rerun on the same
data and encoder gives the same weights.
Decoding (the same in Rust): a token whose cue probability (1 - p(none)) reaches
`threshold` starts a span; neighbours at or above `extend` join it; the span grows to
whole words, without punctuation at its ends. The threshold is the lowest on a grid whose
held-out spans (5-fold on the train split, plus the dev split) reach `--precision` (a span
is right when it overlaps a labelled cue).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from build_scorer import token_states_name  # noqa: E402
from taxonomy import METAPHORS  # noqa: E402
from train_heads import (DISABLED_OPTIMIZERS, FOLDS, MODELS, QUERY_PREFIX, arr, train_and_dev,  # noqa: E402
                         write_result)

SEED = 20261201
MEMBERS = 4
HIDDEN = 64
EPOCHS = 8
# Cue tokens are 8% of tokens; weighting them 5x trades precision for recall, and the
# dev-calibrated threshold takes precision back.
CUE_WEIGHT = 5.0
# Neighbours join a span from this probability: on dev, 0.7 gave the same precision and
# recall as 0.5 with quotes a word shorter (4.9 words on average; labelled cues 3.9).
EXTEND = 0.7


class TokenEncoder:
    """The shipped int8 encoder with its last-layer token states as an extra output,
    run one text at a time with the Rust scorer's onnxruntime settings."""

    def __init__(self, models: Path) -> None:
        import hashlib
        import onnx
        import onnxruntime as ort
        from tokenizers import Tokenizer
        path = models / "e5-small-int8.onnx"
        if not path.is_file():
            sys.exit(f"train_cues: {path} is missing; run `make models` first")
        self.sha = hashlib.sha256(path.read_bytes()).hexdigest()
        model = onnx.load(str(path))
        self.hidden_name = token_states_name(model.graph)
        model.graph.output.append(onnx.helper.make_tensor_value_info(self.hidden_name, onnx.TensorProto.FLOAT, None))
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        self.session = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"],
                                            disabled_optimizers=DISABLED_OPTIMIZERS)
        self.tok = Tokenizer.from_file(str(models / "e5" / "tokenizer.json"))
        self.tok.enable_truncation(max_length=256)

    def states(self, text: str):
        """(token states [T, 384], char offsets in `text` per token, usable mask)."""
        enc = self.tok.encode(QUERY_PREFIX + text)
        ids = np.array([enc.ids], np.int64)
        h = self.session.run([self.hidden_name], {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0]
        offsets = [(s - len(QUERY_PREFIX), e - len(QUERY_PREFIX)) for s, e in enc.offsets]
        # Special tokens have empty offsets; the prefix's tokens end before the text.
        usable = np.array([e > 0 and s < e for s, e in offsets])
        return h.astype(np.float32), offsets, usable


def with_neighbours(h: np.ndarray) -> np.ndarray:
    """[T, H] -> [T, 3H]: each token, the one before and the one after (zeros at the ends)."""
    zero = np.zeros((1, h.shape[1]), h.dtype)
    return np.hstack([h, np.vstack([zero, h[:-1]]), np.vstack([h[1:], zero])])


def token_classes(text: str, offsets, usable, cues) -> np.ndarray:
    """Per token: the class index of the labelled cue it overlaps, 0 for none."""
    spans = []
    for cue in cues:
        start = text.find(cue["cue"])
        if start >= 0:
            spans.append((start, start + len(cue["cue"]), METAPHORS.index(cue["class"])))
    y = np.zeros(len(offsets), np.int64)
    for t, (s, e) in enumerate(offsets):
        if usable[t]:
            y[t] = next((c for gs, ge, c in spans if s < ge and gs < e), 0)
    return y


class Member:
    def __init__(self, dim: int, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        k = len(METAPHORS)
        self.p = {"W1": self.rng.normal(0, np.sqrt(2 / dim), (dim, HIDDEN)).astype(np.float32),
                  "b1": np.zeros(HIDDEN, np.float32),
                  "W2": self.rng.normal(0, np.sqrt(1 / HIDDEN), (HIDDEN, k)).astype(np.float32),
                  "b2": np.zeros(k, np.float32)}

    def train(self, x, y, lr=1e-3, l2=1e-4, batch=256, dropout=0.3, input_dropout=0.2):
        m = {k: np.zeros_like(v) for k, v in self.p.items()}
        v = {k: np.zeros_like(v) for k, v in self.p.items()}
        w = np.where(y > 0, CUE_WEIGHT, 1.0).astype(np.float32)
        step = 0
        for _ in range(EPOCHS):
            order = self.rng.permutation(len(y))
            for s in range(0, len(order), batch):
                idx = order[s:s + batch]
                xb = x[idx] * (self.rng.random((len(idx), x.shape[1])) > input_dropout) / (1 - input_dropout)
                a = xb @ self.p["W1"] + self.p["b1"]
                keep = (self.rng.random(a.shape) > dropout) / (1 - dropout)
                hd = np.maximum(a, 0) * keep
                prob = softmax(hd @ self.p["W2"] + self.p["b2"])
                g = prob
                g[np.arange(len(idx)), y[idx]] -= 1
                g *= (w[idx] / len(idx))[:, None]
                gh = g @ self.p["W2"].T * keep * (a > 0)
                grads = {"W2": hd.T @ g + l2 * self.p["W2"], "b2": g.sum(0),
                         "W1": xb.T @ gh + l2 * self.p["W1"], "b1": gh.sum(0)}
                step += 1
                for k, gk in grads.items():
                    m[k] = 0.9 * m[k] + 0.1 * gk
                    v[k] = 0.999 * v[k] + 0.001 * gk * gk
                    self.p[k] -= lr * (m[k] / (1 - 0.9 ** step)) / (np.sqrt(v[k] / (1 - 0.999 ** step)) + 1e-8)


class Tagger:
    """Members averaged by mean logit = one wider layer with the second-layer weights
    divided by their count; the standardisation folded into the first layer."""

    def __init__(self, members: list, mu: np.ndarray, sd: np.ndarray) -> None:
        w1 = np.hstack([m.p["W1"] for m in members])
        b1 = np.concatenate([m.p["b1"] for m in members])
        self.w1, self.b1 = w1 / sd[:, None], b1 - (mu / sd) @ w1
        self.w2 = np.vstack([m.p["W2"] for m in members]) / len(members)
        self.b2 = np.mean([m.p["b2"] for m in members], axis=0)

    def probs(self, states: np.ndarray) -> np.ndarray:
        """[T, 384] token states -> [T, 8] class probabilities (what the ONNX output gives)."""
        return softmax(np.maximum(with_neighbours(states) @ self.w1 + self.b1, 0) @ self.w2 + self.b2)


def fit(states: list, rows: list) -> Tagger:
    """MEMBERS members on the usable tokens of these turns."""
    x = np.concatenate([with_neighbours(h)[u] for h, _, u in states])
    y = np.concatenate([token_classes(r["text"], o, u, r["metaphors"])[u] for r, (_, o, u) in zip(rows, states)])
    mu, sd = x.mean(0), x.std(0) + 1e-6
    x = ((x - mu) / sd).astype(np.float32)
    members = []
    for i in range(MEMBERS):
        member = Member(x.shape[1], SEED + i)
        member.train(x, y)
        members.append(member)
    return Tagger(members, mu, sd)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def decode(text: str, offsets, usable, probs: np.ndarray, threshold: float, extend: float = EXTEND) -> list:
    """Cue spans (start, end, class index, confidence) in character offsets of `text`.
    src/score/cues.rs is the Rust twin of this function."""
    cue = 1.0 - probs[:, 0]
    spans, t, n = [], 0, len(cue)
    while t < n:
        if not (usable[t] and cue[t] >= threshold):
            t += 1
            continue
        a = b = t
        while a > 0 and usable[a - 1] and cue[a - 1] >= extend:
            a -= 1
        while b + 1 < n and usable[b + 1] and cue[b + 1] >= extend:
            b += 1
        s, e = max(offsets[a][0], 0), offsets[b][1]
        while s > 0 and text[s - 1].isalnum():
            s -= 1
        while e < len(text) and text[e].isalnum():
            e += 1
        while s < e and not text[s].isalnum():  # no stray punctuation or space in the quote
            s += 1
        while e > s and not text[e - 1].isalnum():
            e -= 1
        cls = 1 + int(probs[a:b + 1, 1:].sum(0).argmax())
        if s < e:
            spans.append((s, e, cls, float(cue[a:b + 1].max())))
        t = b + 1
    return spans


def span_scores(rows, predicted) -> tuple:
    """(precision, recall, class accuracy of hits): a span is right when it overlaps a
    labelled cue, each labelled cue matched once (as bench/score_eval.py counts)."""
    tp = fp = fn = same_class = 0
    for row, spans in zip(rows, predicted):
        gold = [(row["text"].find(c["cue"]), len(c["cue"]), c["class"]) for c in row["metaphors"]]
        gold = [(s, s + n, c) for s, n, c in gold if s >= 0]
        matched = set()
        for s, e, cls, _ in spans:
            hit = next((i for i, (gs, ge, _) in enumerate(gold) if s < ge and gs < e and i not in matched), None)
            if hit is None:
                fp += 1
            else:
                matched.add(hit)
                tp += 1
                same_class += METAPHORS[cls] == gold[hit][2]
        fn += len(gold) - len(matched)
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1), same_class / max(tp, 1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=HERE / "cue_tagger.json")
    ap.add_argument("--precision", type=float, default=0.8,
                    help="the threshold is the lowest whose held-out spans reach this precision")
    args = ap.parse_args(argv)

    enc = TokenEncoder(MODELS)
    train, dev = train_and_dev(HERE / "labelled")
    train_states = [enc.states(r["text"]) for r in train]
    dev_states = [enc.states(r["text"]) for r in dev]
    tokens = sum(int(u.sum()) for _, _, u in train_states)
    print(f"train: {len(train)} turns, {tokens} tokens", file=sys.stderr)

    # The threshold is calibrated on out-of-fold predictions for the train split plus the
    # dev split: dev alone holds 91 cues, and its precision curve jumped by 0.05 between
    # neighbouring thresholds; with the train split's 5-fold predictions it is smooth.
    held_out = [None] * len(train)
    for fold in range(FOLDS):
        tagger = fit([s for i, s in enumerate(train_states) if i % FOLDS != fold],
                     [r for i, r in enumerate(train) if i % FOLDS != fold])
        for i in range(fold, len(train), FOLDS):
            held_out[i] = tagger.probs(train_states[i][0])
        print(f"  fold {fold + 1}/{FOLDS}", file=sys.stderr, flush=True)
    tagger = fit(train_states, train)
    dev_probs = [tagger.probs(h) for h, _, _ in dev_states]

    grid = [round(t, 2) for t in np.arange(0.5, 0.991, 0.01)]
    table = {}
    for t in grid:
        oof = [decode(r["text"], o, u, p, t) for r, (_, o, u), p in zip(train, train_states, held_out)]
        on_dev = [decode(r["text"], o, u, p, t) for r, (_, o, u), p in zip(dev, dev_states, dev_probs)]
        table[t] = (span_scores(train + dev, oof + on_dev), span_scores(dev, on_dev))
    threshold = next((t for t in grid if table[t][0][0] >= args.precision), grid[-1])
    for t in grid[::5] + [threshold]:
        (p, r, c), (dp, dr, _) = table[t]
        print(f"  threshold {t:.2f}: precision {p:.3f} recall {r:.3f} class {c:.3f} "
              f"(dev alone {dp:.3f} / {dr:.3f})", file=sys.stderr)
    (p, r, c), (dp, dr, dc) = table[threshold]
    print(f"threshold {threshold:.2f}: held-out train + dev precision {p:.3f}, recall {r:.3f}; "
          f"dev {dp:.3f} / {dr:.3f} (tagger alone)", file=sys.stderr)

    result = {
        "schema": 1,
        "encoder_sha256": enc.sha,
        "query_prefix": QUERY_PREFIX,
        "labels": METAPHORS,
        "context": 1,
        "hidden": {"in": int(tagger.w1.shape[0]), "out": int(tagger.w1.shape[1]), "w": arr(tagger.w1),
                   "b": arr(tagger.b1)},
        "out": {"w": arr(tagger.w2), "b": arr(tagger.b2)},
        "threshold": threshold,
        "extend": EXTEND,
        "training": {"in_domain_train": len(train), "tokens": tokens, "members": MEMBERS,
                     "hidden_per_member": HIDDEN, "epochs": EPOCHS, "cue_weight": CUE_WEIGHT, "seed": SEED,
                     "calibration": f"{FOLDS}-fold held-out train + dev",
                     "calibration_precision": round(p, 4), "calibration_recall": round(r, 4),
                     "calibration_class_accuracy": round(c, 4),
                     "dev_precision": round(dp, 4), "dev_recall": round(dr, 4), "dev_class_accuracy": round(dc, 4)},
    }
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
