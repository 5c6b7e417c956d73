#!/usr/bin/env python3
"""Reference vectors for the tiny BERT that tests/support/tiny_model.rs writes.

An independent re-implementation of BERT's forward pass in numpy (no candle, no tokenizers):
the same deterministic weights (value i of tensor k is a sine of 2.71 i + 1.3 k, scaled, see weight()), the
token sequences written out by hand, mean pooling, L2 normalisation. The word table is rounded
to bfloat16 (nearest, ties to even, done here on the bits), as vaultmcp keeps it. The dense
layers compute as vaultmcp's do on the CPU in question: `int8` (the default; AVX-512 VNNI,
crates/kernels/src/quant.rs, written again here from the description: weights symmetric per
output, each input row asymmetric over its own range widened to 0, exact integer sums, scaled
back in float32) or `f32` (weights rounded to bfloat16). The rest of the arithmetic is float64
and float32. Its output is pasted into tests/embed.rs as constants.
Run: python3 tests/support/tiny_bert_reference.py [int8|f32] (needs numpy).
"""
import math
import sys

import numpy as np

MODE = sys.argv[1] if len(sys.argv) > 1 else "int8"
assert MODE in ("int8", "f32"), MODE

H, LAYERS, HEADS, INTER, POS, TYPES = 16, 2, 4, 32, 64, 2
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = open(__file__.replace("tiny_bert_reference.py", "tiny_vocab.txt")).read().split()
VOCAB = SPECIALS + WORDS
V = len(VOCAB)


def names():
    out = [("embeddings.word_embeddings.weight", (V, H)),
           ("embeddings.position_embeddings.weight", (POS, H)),
           ("embeddings.token_type_embeddings.weight", (TYPES, H)),
           ("embeddings.LayerNorm.weight", (H,)), ("embeddings.LayerNorm.bias", (H,))]
    for l in range(LAYERS):
        p = f"encoder.layer.{l}."
        for m in ["query", "key", "value"]:
            out += [(p + f"attention.self.{m}.weight", (H, H)), (p + f"attention.self.{m}.bias", (H,))]
        out += [(p + "attention.output.dense.weight", (H, H)), (p + "attention.output.dense.bias", (H,)),
                (p + "attention.output.LayerNorm.weight", (H,)), (p + "attention.output.LayerNorm.bias", (H,)),
                (p + "intermediate.dense.weight", (INTER, H)), (p + "intermediate.dense.bias", (INTER,)),
                (p + "output.dense.weight", (H, INTER)), (p + "output.dense.bias", (H,)),
                (p + "output.LayerNorm.weight", (H,)), (p + "output.LayerNorm.bias", (H,))]
    return out


def weight(k, name, shape):
    n = int(np.prod(shape))
    s = np.array([math.sin(2.71 * i + 1.3 * k) for i in range(n)], dtype=np.float64)
    if name.endswith("LayerNorm.weight"):
        v = 1.0 + 0.1 * s
    elif name.endswith("bias"):
        v = 0.05 * s
    else:
        v = 0.4 * s
    return v.astype(np.float32).reshape(shape)


def bfloat16(v):
    """Rounds float32 values to the nearest bfloat16 (ties to even), kept as float32."""
    b = v.astype(np.float32).view(np.uint32).astype(np.uint64)
    b = (b + 0x7FFF + ((b >> 16) & 1)) >> 16 << 16
    return b.astype(np.uint32).view(np.float32)


def stored(name, v):
    """What vaultmcp keeps: the word table as bfloat16; in f32 mode every other 2-D table but
    positions and token types too (in int8 mode the dense layers are quantised in lin)."""
    if name == "embeddings.word_embeddings.weight":
        return bfloat16(v)
    if MODE == "f32" and v.ndim == 2 and "position_embeddings" not in name and "token_type" not in name:
        return bfloat16(v)
    return v


W = {name: stored(name, weight(k, name, shape)) for k, (name, shape) in enumerate(names())}
erf = np.vectorize(math.erf)


def ln(x, p):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-12) * W[p + ".weight"] + W[p + ".bias"]


def round_away(v):
    """Rust's f32::round: halves away from zero."""
    return np.sign(v) * np.floor(np.abs(v) + np.float32(0.5))


def lin(x, p):
    """x wᵀ + b; in int8 mode: y = sx · sw · (Σ u·q − z · Σ q) + b."""
    if MODE == "f32":
        return x @ W[p + ".weight"].T + W[p + ".bias"]
    f32 = np.float32
    w = W[p + ".weight"]
    sw = np.abs(w).max(1)
    sw = np.where(sw > 0, sw / f32(127.0), f32(1.0)).astype(f32)
    q = np.clip(round_away(w / sw[:, None]), -127, 127).astype(np.int64)
    out = []
    for row in x.astype(f32):
        lo, hi = min(f32(row.min()), f32(0)), max(f32(row.max()), f32(0))
        s = f32((hi - lo) / f32(255.0)) if hi > lo else f32(1.0)
        z = f32(np.clip(np.floor(f32(-lo / s) + f32(0.5)), 0, 255))
        inv, shift = f32(f32(1.0) / s), f32(z + f32(0.5))
        u = np.clip(row * inv + shift, 0, 255).astype(np.int64)  # truncates: rounds half up
        exact = (q @ u - int(z) * q.sum(1)).astype(f32)
        out.append(f32(s) * sw * exact + W[p + ".bias"])
    return np.array(out, dtype=f32)


def embed(tokens):
    ids = [VOCAB.index(t) for t in tokens]
    L = len(ids)
    x = W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:L] \
        + W["embeddings.token_type_embeddings.weight"][[0] * L]
    x = ln(x, "embeddings.LayerNorm")
    hd = H // HEADS
    for l in range(LAYERS):
        p = f"encoder.layer.{l}."
        q = lin(x, p + "attention.self.query").reshape(L, HEADS, hd).transpose(1, 0, 2)
        k = lin(x, p + "attention.self.key").reshape(L, HEADS, hd).transpose(1, 0, 2)
        v = lin(x, p + "attention.self.value").reshape(L, HEADS, hd).transpose(1, 0, 2)
        a = q @ k.transpose(0, 2, 1) / math.sqrt(hd)
        a = np.exp(a - a.max(-1, keepdims=True))
        a = a / a.sum(-1, keepdims=True)
        ctx = (a @ v).transpose(1, 0, 2).reshape(L, H)
        x = ln(lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        i = lin(x, p + "intermediate.dense")
        i = 0.5 * i * (1 + erf(i / math.sqrt(2)))
        x = ln(lin(i, p + "output.dense") + x, p + "output.LayerNorm")
    m = x.mean(0)
    return m / np.linalg.norm(m)


for tokens in [["[CLS]", "the", "cat", "sat", "on", "the", "mat", "[SEP]"],
               ["[CLS]", "dogs", "house", "##d", "fast", "[SEP]"]]:
    v = embed(tokens)
    print(" ".join(tokens))
    print("[" + ", ".join(f"{x:.6}" for x in v) + "]")
