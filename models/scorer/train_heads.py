#!/usr/bin/env python3
"""Train subtext's tag heads on frozen multilingual-e5-small embeddings.

    .venv/bin/python models/scorer/train_heads.py [--shared ../shared] [--out models/scorer/heads.json]

Input:
  models/scorer/labelled/*.jsonl   the in-domain set written for subtext (fixed split by id)
  ../shared/evaldata/emotion_en_goemotions/original/train.tsv      (CC BY 4.0, train only)
  ../shared/evaldata/emotion_xed_en_nl/{en-annotated,nl-projections}.tsv  (CC BY 4.0; the
      80% train part of our fixed hash split; the other 20% is held out for evaluation)
Output:
  models/scorer/heads.json: label lists, weights, calibrated thresholds, the emotion
  memory's labels and settings, and the calibration and dev figures.
  models/scorer/emotion_memory.npy: the in-domain train turns' embeddings (half precision),
  whose labels heads.json holds (see EmotionMemory).
  Both are committed; `build_scorer.py` merges them into the ONNX model at set-up.

The heads share one hidden layer (384 -> 256, ReLU, dropout 0.3 in training) over the
standardised sentence embedding (the per-dimension mean and spread of the training
embeddings are folded into that layer's weights), then: emotion (14, sigmoid, multi-label), metaphor class (8, softmax), need
(9, softmax), contact type (5, softmax), valence (tanh) and intensity (sigmoid).
External rows only carry emotion (and a valence derived from it); the other heads are
masked for them; all external rows together weigh as much as the in-domain rows (more
made every in-domain label worse on dev). Training is plain numpy (Adam, full-batch
epochs, fixed seeds), so a rerun on the same data and encoder gives the same weights.
Four such sets are trained from different seeds and averaged (mean logit), written as
one set with a 4 x 256 hidden layer. The emotion probabilities are then mixed with the
vote of the nearest in-domain train turns (EmotionMemory). The emotion thresholds are
calibrated on held-out predictions: five folds of the train split (each predicted by
heads trained without it) plus dev; that trains the heads six times (about 25 minutes
on two cores).

The embeddings are made exactly as the Rust scorer makes them (one text per model run,
the same onnxruntime settings), so the heads learn what they will see at run time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from taxonomy import (CONTACT_TYPES, EMOTIONS, GOEMOTIONS_MAP, METAPHORS, NEEDS,  # noqa: E402
                      NEGATIVE, POSITIVE, XED_MAP, split_of)

MODELS = HERE.parent
HIDDEN = 256
# Heads trained from this many seeds and averaged, which lowers the variance of
# marginal decisions: dev emotion macro-F1 0.549 with one seed, 0.568 with four.
MEMBERS = 4
SEED = 20261125

# onnxruntime's fused SkipLayerNormalization kernel is slower on this int8 graph
# than the plain Add + LayerNormalization and further from the unfused result;
# src/score/onnx.rs turns it off too.
DISABLED_OPTIMIZERS = ["SkipLayerNormFusion"]
# Texts are embedded one per run: the int8 encoder quantizes a run's activations
# with one scale, so in a batch a text's embedding would depend on its batch-mates.
RUN_MODE = "single-noskipln"
# What every text is prefixed with before it is tokenized (e5 was trained with "query: "
# for symmetric tasks). Recorded in heads.json and cue_tagger.json; build_scorer.py
# passes it to the Rust scorer through the model's metadata.
QUERY_PREFIX = "query: "


# ------------------------------------------------------------------------ embedding

class Encoder:
    """The shipped int8 encoder, run through onnxruntime, with an on-disk cache."""

    def __init__(self, models: Path) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer
        self.path = models / "e5-small-int8.onnx"
        tok_path = models / "e5" / "tokenizer.json"
        for p in (self.path, tok_path):
            if not p.is_file():
                sys.exit(f"train_heads: {p} is missing; run `make models` first")
        self.sha = hashlib.sha256(self.path.read_bytes()).hexdigest()
        self.tok = Tokenizer.from_file(str(tok_path))
        self.tok.enable_truncation(max_length=256)
        # The same session settings as the Rust scorer (src/score/onnx.rs), so the
        # heads learn from exactly the embeddings they will see at run time.
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(self.path), so, providers=["CPUExecutionProvider"],
                                            disabled_optimizers=DISABLED_OPTIMIZERS)
        self.workers = int(os.environ.get("SUBTEXT_TRAIN_THREADS", "2"))
        # Keyed by encoder, run mode and prefix: the entries are keyed by text alone.
        prefix_tag = hashlib.sha1(QUERY_PREFIX.encode("utf-8")).hexdigest()[:8]
        self.cache_path = models / ".cache" / f"embeddings-{self.sha[:16]}-{RUN_MODE}-{prefix_tag}.npz"
        self.cache: dict = {}
        if self.cache_path.is_file():
            z = np.load(self.cache_path)
            self.cache = dict(zip(z["keys"].tolist(), z["vecs"]))

    def save(self) -> None:
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        keys = sorted(self.cache)
        tmp = self.cache_path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(keys), vecs=np.stack([self.cache[k] for k in keys]))
        os.replace(tmp, self.cache_path)

    def embed_one(self, text: str) -> np.ndarray:
        enc = self.tok.encode(QUERY_PREFIX + text)
        ids = np.array([enc.ids], np.int64)
        mask = np.ones_like(ids)
        return self.session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})[0][0]

    def embed(self, texts: list) -> np.ndarray:
        from concurrent.futures import ThreadPoolExecutor
        keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
        todo = list({k: t for k, t in zip(keys, texts) if k not in self.cache}.items())
        # One text per run, as at run time; onnxruntime releases the GIL, so a
        # few Python threads keep the cores busy.
        with ThreadPoolExecutor(self.workers) as pool:
            for n, ((k, _), v) in enumerate(zip(todo, pool.map(self.embed_one, [t for _, t in todo]))):
                self.cache[k] = v.astype(np.float32)
                if n % 3200 == 0 and len(todo) > 3200:
                    print(f"  embedded {n}/{len(todo)}", file=sys.stderr, flush=True)
        if todo:
            self.save()
        return np.stack([self.cache[k] for k in keys])


# ---------------------------------------------------------------------------- data

def load_labelled(folder: Path) -> list:
    """Every labelled row with its split: by id hash (`split_of`), except in files named
    `train-*.jsonl`, which were written after the dev and test splits were fixed and
    are training rows only, so the held-out figures stay comparable over time. `file`: the
    row's file name."""
    rows = []
    for path in sorted(folder.glob("*.jsonl")):
        train_only = path.name.startswith("train-")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    row = json.loads(line)
                except ValueError as e:
                    sys.exit(f"{path}:{n}: {e}")
                row["split"] = "train" if train_only else split_of(row["id"])
                row["file"] = path.name
                rows.append(row)
    seen = set()
    for row in rows:
        if row["id"] in seen:
            sys.exit(f"{folder}: the id {row['id']} is used twice")
        seen.add(row["id"])
    return rows


def train_and_dev(folder: Path) -> tuple:
    """The labelled rows of the train split and of the dev split."""
    rows = load_labelled(folder)
    return [r for r in rows if r["split"] == "train"], [r for r in rows if r["split"] == "dev"]


def valence_from(emotions) -> float:
    pos = sum(e in POSITIVE for e in emotions)
    neg = sum(e in NEGATIVE for e in emotions)
    return 0.0 if pos == neg else (0.6 if pos > neg else -0.6)


def load_goemotions(shared: Path, split: str) -> list:
    folder = shared / "evaldata" / "emotion_en_goemotions" / "original"
    names = (folder / "labels.txt").read_text().split()
    rows = []
    for line in (folder / f"{split}.tsv").read_text(encoding="utf-8").splitlines():
        text, labels, _ = line.split("\t")
        mapped = sorted({GOEMOTIONS_MAP[names[int(i)]] for i in labels.split(",")
                         if names[int(i)] in GOEMOTIONS_MAP})
        if mapped and not ("neutral" in mapped and len(mapped) > 1):
            rows.append({"text": text, "emotions": mapped})
    return rows


def load_external(shared: Path, goemotions_rows: int) -> tuple:
    """The external training rows: a fixed sample of GoEmotions train, and XED's train
    part (English annotations and Dutch projections)."""
    rng = np.random.default_rng(SEED)
    go = load_goemotions(shared, "train")
    go = [go[i] for i in sorted(rng.choice(len(go), min(goemotions_rows, len(go)), replace=False))]
    xed = (load_xed(shared, "en-annotated.tsv", "train")
           + load_xed(shared, "nl-projections.tsv", "train"))
    return go, xed


def xed_split(text: str) -> str:
    return "test" if int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % 5 == 0 else "train"


def load_xed(shared: Path, name: str, split: str) -> list:
    rows = []
    path = shared / "evaldata" / "emotion_xed_en_nl" / name
    for line in path.read_text(encoding="utf-8").splitlines():
        if "\t" not in line:
            continue
        text, labels = line.rsplit("\t", 1)
        try:
            ids = {int(x) for x in labels.replace(" ", "").split(",") if x}
        except ValueError:
            continue
        mapped = sorted({XED_MAP[i] for i in ids if i in XED_MAP})
        if mapped and len(text.split()) >= 2 and xed_split(text) == split:
            rows.append({"text": text, "emotions": mapped})
    return rows


# --------------------------------------------------------------------------- model

# External rows carry no valence of their own: the one derived from their emotions
# (valence_from) counts this much of an in-domain row's.
EXTERNAL_VALENCE_WEIGHT = 0.3
# GoEmotions train rows drawn (load_external).
GOEMOTIONS_ROWS = 12000
# Folds of the train split whose held-out predictions (with dev) calibrate the thresholds.
FOLDS = 5
# The emotion memory (EmotionMemory): neighbours, softmax temperature over their
# cosine similarities, the vote's weight at full strength, and the percentiles of the
# held-out train turns' nearest similarity between which that strength fades in. Chosen
# on the held-out train predictions plus dev, in a trial with folds by id hash (macro-F1
# 0.602 without the memory, 0.619 with it; k 10-50, tau 0.01-0.03, weight 0.25-0.5 all
# gave 0.610-0.620; this script's folds, every fifth row, give 0.620).
MEMORY_K = 10
MEMORY_TAU = 0.01
MEMORY_WEIGHT = 0.25
MEMORY_GATE_PERCENTILES = (5, 25)
MEMORY_FILE = "emotion_memory.npy"


def first_metaphor(row) -> str:
    return row["metaphors"][0]["class"] if row["metaphors"] else "none"


def class_targets(rows) -> dict:
    """One-hot targets of the single-label heads, for in-domain rows."""
    return {"metaphor": one_hot([first_metaphor(r) for r in rows], METAPHORS),
            "need": one_hot([r["need"] for r in rows], NEEDS),
            "contact_type": one_hot([r["contact_type"] for r in rows], CONTACT_TYPES)}


def multi_hot(lists, labels):
    y = np.zeros((len(lists), len(labels)), np.float32)
    index = {l: i for i, l in enumerate(labels)}
    for r, ls in enumerate(lists):
        for l in ls:
            y[r, index[l]] = 1.0
    return y


def one_hot(values, labels):
    return multi_hot([[v] for v in values], labels)


class Heads:
    """Shared hidden layer + one linear block per head, trained jointly with Adam."""

    SPECS = [("emotion", len(EMOTIONS), "sigmoid"), ("metaphor", len(METAPHORS), "softmax"),
             ("need", len(NEEDS), "softmax"), ("contact_type", len(CONTACT_TYPES), "softmax"),
             ("valence", 1, "tanh"), ("intensity", 1, "sigmoid")]

    def __init__(self, dim: int, rng: np.random.Generator) -> None:
        self.p = {"W1": rng.normal(0, np.sqrt(2.0 / dim), (dim, HIDDEN)).astype(np.float32),
                  "b1": np.zeros(HIDDEN, np.float32)}
        for name, k, _ in self.SPECS:
            self.p[f"W_{name}"] = rng.normal(0, np.sqrt(1.0 / HIDDEN), (HIDDEN, k)).astype(np.float32)
            self.p[f"b_{name}"] = np.zeros(k, np.float32)

    def forward(self, x, train_mask=None):
        h_pre = x @ self.p["W1"] + self.p["b1"]
        h = np.maximum(h_pre, 0)
        if train_mask is not None:
            h = h * train_mask
        outs = {}
        for name, _, act in self.SPECS:
            z = h @ self.p[f"W_{name}"] + self.p[f"b_{name}"]
            if act == "sigmoid":
                outs[name] = 1 / (1 + np.exp(-z))
            elif act == "tanh":
                outs[name] = np.tanh(z)
            else:
                z = z - z.max(1, keepdims=True)
                e = np.exp(z)
                outs[name] = e / e.sum(1, keepdims=True)
        return h_pre, h, outs

    def train(self, x, targets, masks, weights, epochs=300, lr=3e-3, l2=1e-2, dropout=0.3, seed=SEED):
        rng = np.random.default_rng(seed)
        m = {k: np.zeros_like(v) for k, v in self.p.items()}
        v = {k: np.zeros_like(v) for k, v in self.p.items()}
        n = len(x)
        for step in range(1, epochs + 1):
            drop = (rng.random((n, HIDDEN)) >= dropout).astype(np.float32) / (1 - dropout)
            h_pre, h, outs = self.forward(x, drop)
            grads = {k: np.zeros_like(p) for k, p in self.p.items()}
            dh = np.zeros_like(h)
            for name, _, act in self.SPECS:
                w = (weights * masks[name])[:, None]
                denom = max(float(w.sum()), 1.0)
                y, t = outs[name], targets[name]
                if act == "tanh":
                    dz = 2 * (y - t) * (1 - y * y) * w / denom
                elif name == "intensity":
                    dz = 2 * (y - t) * y * (1 - y) * w / denom
                else:  # sigmoid + BCE and softmax + CE share the same gradient form
                    dz = (y - t) * w / denom
                grads[f"W_{name}"] += h.T @ dz
                grads[f"b_{name}"] += dz.sum(0)
                dh += dz @ self.p[f"W_{name}"].T
            dh = dh * drop * (h_pre > 0)
            grads["W1"] += x.T @ dh
            grads["b1"] += dh.sum(0)
            for k in self.p:
                if k.startswith("W"):
                    grads[k] += l2 * self.p[k]
                m[k] = 0.9 * m[k] + 0.1 * grads[k]
                v[k] = 0.999 * v[k] + 0.001 * grads[k] ** 2
                mh = m[k] / (1 - 0.9 ** step)
                vh = v[k] / (1 - 0.999 ** step)
                self.p[k] -= (lr * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)

    def predict(self, x):
        return self.forward(x)[2]

    @classmethod
    def average(cls, members: list) -> "Heads":
        """One set of heads whose every output is the ensemble's mean logit: the members'
        hidden layers side by side, each head's weights stacked and divided by their
        number. The scorer graph stays one hidden layer and one matrix per head."""
        merged = cls.__new__(cls)
        k = len(members)
        merged.p = {"W1": np.concatenate([m.p["W1"] for m in members], axis=1),
                    "b1": np.concatenate([m.p["b1"] for m in members])}
        for name, _, _ in cls.SPECS:
            merged.p[f"W_{name}"] = np.concatenate([m.p[f"W_{name}"] for m in members]) / k
            merged.p[f"b_{name}"] = np.mean([m.p[f"b_{name}"] for m in members], axis=0)
        return merged


# ---------------------------------------------------------------------- evaluation

def f1(tp, fp, fn):
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def calibrate_thresholds(probs, y, grid=np.arange(0.15, 0.86, 0.05)):
    """Per label, the threshold with the best F1 on the calibration rows (ties: the higher one)."""
    out = []
    for j in range(y.shape[1]):
        best, best_t = -1.0, 0.5
        for t in grid:
            p = probs[:, j] >= t
            score = f1(int((p & (y[:, j] > 0)).sum()), int((p & (y[:, j] == 0)).sum()),
                       int((~p & (y[:, j] > 0)).sum()))
            if score >= best:
                best, best_t = score, float(t)
        out.append(round(best_t, 2))
    return out


def emotion_decisions(probs, thresholds):
    """Labels above their threshold; when none passes, the single most likely one."""
    d = probs >= np.array(thresholds)[None, :]
    none = ~d.any(1)
    d[none, probs[none].argmax(1)] = True
    return d


def per_label_f1(pred, y) -> np.ndarray:
    """F1 of each label (column) of boolean decisions against multi-hot gold; 0 without a hit."""
    tp = (pred & (y > 0)).sum(0)
    fp = (pred & (y == 0)).sum(0)
    fn = (~pred & (y > 0)).sum(0)
    return np.where(tp > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)


def macro_f1(pred, y):
    """Mean F1 over the labels that have a gold positive."""
    present = y.sum(0) > 0
    return float(per_label_f1(pred, y)[present].mean()) if present.any() else 0.0


def arr(a) -> list:
    """Weights as a flat list of floats with 6 significant digits (what the JSON holds)."""
    return [float(f"{v:.6g}") for v in np.asarray(a, np.float32).reshape(-1)]


def write_result(path: Path, result: dict) -> None:
    """Compact JSON, written atomically."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, separators=(",", ":")) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB)", file=sys.stderr)


def standardiser(e_train) -> tuple:
    """The train embeddings' per-dimension mean and spread, and the function that applies
    them: e5 vectors differ in small ways spread over all dimensions."""
    mu, sd = e_train.mean(0), e_train.std(0) + 1e-6
    return mu, sd, lambda e: ((e - mu) / sd).astype(np.float32)


def training_arrays(rows, x_rows, external, x_ext) -> tuple:
    """Inputs, targets, masks and weights for in-domain rows plus the external rows."""
    n_in, n_ext = len(rows), len(external)
    zeros = lambda k: np.zeros((n_ext, k), np.float32)  # noqa: E731
    targets = {name: np.concatenate([y, zeros(y.shape[1])]) for name, y in class_targets(rows).items()}
    targets.update({
        "emotion": np.concatenate([multi_hot([r["emotions"] for r in rows], EMOTIONS),
                                   multi_hot([r["emotions"] for r in external], EMOTIONS)]),
        "valence": np.array([[r["valence"]] for r in rows] + [[valence_from(r["emotions"])] for r in external], np.float32),
        "intensity": np.concatenate([np.array([[r["intensity"]] for r in rows], np.float32), zeros(1)]),
    })
    only_in = np.concatenate([np.ones(n_in), np.zeros(n_ext)]).astype(np.float32)
    masks = {name: only_in for name, _, _ in Heads.SPECS}
    masks["emotion"] = np.ones(n_in + n_ext, np.float32)
    masks["valence"] = np.concatenate([np.ones(n_in), np.full(n_ext, EXTERNAL_VALENCE_WEIGHT)]).astype(np.float32)
    # The in-domain set is small next to the external rows but is what the product sees.
    weights = np.concatenate([np.ones(n_in), np.full(n_ext, n_in / max(n_ext, 1))]).astype(np.float32)
    return np.concatenate([x_rows, x_ext]), targets, masks, weights


def train_members(arrays, members: int, epochs: int, label: str, seed: int = SEED) -> Heads:
    """`members` heads from consecutive seeds (from `seed` on), averaged."""
    trained = []
    for i in range(members):
        member = Heads(arrays[0].shape[1], np.random.default_rng(seed + i))
        member.train(*arrays, epochs=epochs, seed=seed + i)
        trained.append(member)
        print(f"  {label}: trained member {i + 1}/{members}", file=sys.stderr, flush=True)
    return Heads.average(trained)


class EmotionMemory:
    """The in-domain train turns as a memory: a turn's k nearest (cosine of the e5
    embeddings) vote their emotion labels, weighted by softmax(similarity / tau), and the
    vote is mixed into the heads' emotion probabilities. The heads learn from 28,000
    external rows as much as from the in-domain ones; the memory holds only the
    in-domain conventions (which wording means distrust rather than anger). Its weight
    fades with distance: full for a turn as close to the memory as three in four
    held-out train turns are (the 25th percentile of their nearest similarity), none
    below the 5th, so text unlike any turn (tweets, film subtitles) keeps the heads'
    reading. The gate is set from held-out turns searching four fifths of the memory;
    at run time a turn searches all of it, so its nearest neighbour is a little closer
    and the gate opens a little earlier than calibrated."""

    def __init__(self, vectors, labels) -> None:
        # Stored in half precision; rounded here too, so training sees what the graph holds.
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        self.vectors = unit.astype(np.float16).astype(np.float32)
        self.labels = labels
        self.gate = None

    def set_gate(self, nearest) -> None:
        """The gate's two similarities: percentiles of held-out turns' nearest similarity,
        rounded as heads.json stores them (so calibration blends as the graph does)."""
        lo, hi = (round(float(v), 6) for v in np.percentile(nearest, MEMORY_GATE_PERCENTILES))
        if not hi > lo:
            sys.exit(f"train_heads: the memory's gate is empty ({lo} .. {hi})")
        self.gate = (lo, hi)

    def votes(self, e, exclude=None) -> tuple:
        """Per text: the neighbours' label vote [n, labels] and the nearest similarity [n]."""
        sims = (e / np.linalg.norm(e, axis=1, keepdims=True)) @ self.vectors.T
        if exclude is not None:
            sims[exclude] = -np.inf
        idx = np.argsort(-sims, axis=1, kind="stable")[:, :MEMORY_K]
        top = np.take_along_axis(sims, idx, 1)
        w = np.exp((top - top[:, :1]) / MEMORY_TAU)
        w /= w.sum(1, keepdims=True)
        return (w[:, :, None] * self.labels[idx]).sum(1), top[:, 0]

    def blend(self, probs, e, exclude=None):
        vote, nearest = self.votes(e, exclude)
        assert self.gate is not None, "set_gate first"
        lo, hi = self.gate
        a = MEMORY_WEIGHT * np.clip((nearest - lo) / (hi - lo), 0, 1)[:, None]
        return (1 - a) * probs + a * vote


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=MODELS.parent.parent / "shared")
    ap.add_argument("--out", type=Path, default=HERE / "heads.json")
    ap.add_argument("--goemotions", type=int, default=GOEMOTIONS_ROWS, help="GoEmotions train rows to use")
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--members", type=int, default=MEMBERS,
                    help="heads trained from different seeds and averaged (default: %(default)s)")
    args = ap.parse_args(argv)

    enc = Encoder(MODELS)
    train, dev = train_and_dev(HERE / "labelled")
    go, xed = load_external(args.shared, args.goemotions)
    external = go + xed
    print(f"in-domain: {len(train)} train, {len(dev)} dev; external: {len(go)} GoEmotions, "
          f"{len(xed)} XED", file=sys.stderr)

    e_in = enc.embed([r["text"] for r in train])
    e_ext = enc.embed([r["text"] for r in external])
    e_dev = enc.embed([r["text"] for r in dev])
    mu, sd, standard = standardiser(e_in)
    x_in, x_ext, x_dev = standard(e_in), standard(e_ext), standard(e_dev)
    n_in = len(train)
    heads = train_members(training_arrays(train, x_in, external, x_ext), args.members, args.epochs, "all")

    # Held-out predictions for every train row (each from heads trained without its
    # fold), so that the thresholds are chosen on 2,603 turns (with dev) rather than
    # dev's 185, where a label has 10-50 positives, and the memory's gate on the 2,418
    # train turns: in a trial with folds by id hash, dev-chosen thresholds reached test
    # emotion macro-F1 0.554, held-out ones 0.565 (the same heads, no memory).
    fold = np.arange(n_in) % FOLDS
    held_out = np.zeros((n_in, len(EMOTIONS)), np.float32)
    for k in range(FOLDS):
        keep = np.where(fold != k)[0]
        fold_heads = train_members(training_arrays([train[i] for i in keep], x_in[keep], external, x_ext),
                                   args.members, args.epochs, f"fold {k + 1}/{FOLDS}")
        held_out[fold == k] = fold_heads.predict(x_in[fold == k])["emotion"]

    y_train = multi_hot([r["emotions"] for r in train], EMOTIONS)
    y_dev = multi_hot([r["emotions"] for r in dev], EMOTIONS)
    memory = EmotionMemory(e_in, y_train)
    same_fold = fold[:, None] == fold[None, :]
    memory.set_gate(memory.votes(e_in, exclude=same_fold)[1])
    out = heads.predict(x_dev)
    p_cal = np.concatenate([memory.blend(held_out, e_in, exclude=same_fold), memory.blend(out["emotion"], e_dev)])
    y_cal = np.concatenate([y_train, y_dev])
    thresholds = calibrate_thresholds(p_cal, y_cal)
    cal_f1 = macro_f1(emotion_decisions(p_cal, thresholds), y_cal)
    dev_f1 = macro_f1(emotion_decisions(p_cal[n_in:], thresholds), y_dev)
    acc = {name: float(np.mean(out[name].argmax(1) == one_hot(vals, labels).argmax(1)))
           for name, labels, vals in [
               ("metaphor", METAPHORS, [first_metaphor(r) for r in dev]),
               ("need", NEEDS, [r["need"] for r in dev]),
               ("contact_type", CONTACT_TYPES, [r["contact_type"] for r in dev])]}
    print(f"emotion macro-F1: held-out train + dev {cal_f1:.3f}, dev {dev_f1:.3f}; "
          f"accuracy {json.dumps({k: round(v, 3) for k, v in acc.items()})}", file=sys.stderr)

    memory_path = args.out.with_name(MEMORY_FILE)
    tmp = memory_path.with_suffix(".tmp.npy")
    np.save(tmp, memory.vectors.astype(np.float16))
    os.replace(tmp, memory_path)
    result = {
        "schema": 1,
        "encoder_sha256": enc.sha,
        "query_prefix": QUERY_PREFIX,
        # The standardisation folded in: (e - mu) / sd @ W1 + b1 = e @ (W1 / sd) + (b1 - (mu / sd) @ W1).
        "hidden": {"in": int(x_in.shape[1]), "out": int(heads.p["W1"].shape[1]), "w": arr(heads.p["W1"] / sd[:, None]),
                   "b": arr(heads.p["b1"] - (mu / sd) @ heads.p["W1"])},
        "heads": [{"name": name, "activation": act, "labels": labels, "w": arr(heads.p[f"W_{name}"]),
                   "b": arr(heads.p[f"b_{name}"])}
                  for (name, _, act), labels in zip(Heads.SPECS, [EMOTIONS, METAPHORS, NEEDS, CONTACT_TYPES,
                                                                  ["valence"], ["intensity"]])],
        "emotion_memory": {"vectors": MEMORY_FILE, "vectors_sha256": hashlib.sha256(memory_path.read_bytes()).hexdigest(),
                           "labels": [[int(j) for j in np.flatnonzero(row)] for row in y_train],
                           "k": MEMORY_K, "tau": MEMORY_TAU, "weight": MEMORY_WEIGHT,
                           "gate": list(memory.gate)},
        "emotion_thresholds": thresholds,
        "training": {"in_domain_train": n_in, "goemotions": len(go), "xed": len(xed),
                     "epochs": args.epochs, "seed": SEED, "members": args.members,
                     "encoder_run": {"texts_per_run": 1, "disabled_optimizers": DISABLED_OPTIMIZERS},
                     "thresholds_from": f"{FOLDS}-fold held-out train + dev",
                     "calibration_emotion_macro_f1": round(cal_f1, 4),
                     "dev_emotion_macro_f1": round(dev_f1, 4),
                     "dev_accuracy": {k: round(v, 4) for k, v in acc.items()}},
    }
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
