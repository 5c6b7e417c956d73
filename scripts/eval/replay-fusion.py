#!/usr/bin/env python3
"""Replays hybrid fusion from the lexical and semantic runs that `scripts/eval.sh` kept.

Usage: KEEP_TMP=1 VAULTMCP_MODEL=... scripts/eval.sh      (prints "eval: keeping DIR")
       python3 scripts/eval/replay-fusion.py DIR [--weight W ...] [--depth D]

Each collection's `out-lexical/` and `out-semantic/` hold every query's 100 best hits with their
scores; this fuses them as `src/index/hybrid.rs` does (`standardised`) and as it did before
(`best-minmax`: lexical ÷ its best, similarities min-max, depth max(50, limit)), and prints
nDCG@10 / MRR@10 per collection, so a fusion change is measured on all three collections in
seconds instead of re-running every query. Scoring is ../shared/eval/evaluate.py's.
"""
import argparse, json, math, os, statistics
from collections import defaultdict


def docid(c, hit):
    i = str(hit.get("id") or "")
    if c == "obsidian":
        return i
    stem = os.path.basename(i)[:-3] if i.endswith(".md") else os.path.basename(i)
    return (stem.lstrip("0") or "0") if c == "cranfield" else stem


def load(c, d, mode):
    out = {}
    for line in open(f"{d}/queries.tsv"):
        qid = line.split("\t", 1)[0].strip()
        p = f"{d}/out-{mode}/{qid}.json"
        if qid and os.path.exists(p):
            hits = [(docid(c, h), h["score"]) for h in json.load(open(p))["results"]]
            out[qid] = list(dict(reversed(hits)).items())[::-1]  # first occurrence of each
    return out


def score(d, run, k=10):
    qrels = defaultdict(dict)
    for line in open(f"{d}/qrels.tsv"):
        q, doc, g = line.split("\t")
        if int(g) > 0:
            qrels[q.strip()][doc.strip()] = int(g)
    dcg = lambda gains: sum((2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(gains))
    nd = mrr = 0.0
    for q, judged in qrels.items():
        ranked = run.get(q, [])[:k]
        ideal = dcg(sorted(judged.values(), reverse=True)[:k])
        nd += dcg([judged.get(x, 0) for x in ranked]) / ideal if ideal else 0
        mrr += next((1 / (i + 1) for i, x in enumerate(ranked) if x in judged), 0)
    return nd / len(qrels), mrr / len(qrels)


def standardise(values):
    m, sd = statistics.mean(values), statistics.pstdev(values)
    if sd <= 1e-12 * max(abs(m), 1.0):
        return lambda s: 1.0 if s >= m else 0.0
    return lambda s: (s - m + 3 * sd) / (6 * sd)


def standardised(lex, sem, w, depth):
    """As src/index/hybrid.rs fuse_scores does."""
    lex, sem = lex[:depth], sem[:depth]
    complete = len(lex) < depth
    lf = standardise([s for _, s in lex] + [0.0] * max(depth - len(lex), 0))
    lmiss = lf(0.0) if complete else lf(lex[-1][1])
    sf = standardise([s for _, s in sem]) if sem else (lambda s: 0.0)
    smiss = sf(sem[-1][1]) if len(sem) >= depth else 0.0
    lm, sm = {k: lf(s) for k, s in lex}, {k: sf(s) for k, s in sem}
    keys = list(dict.fromkeys([k for k, _ in lex + sem]))
    fused = [(k, (1 - w) * lm.get(k, lmiss) + w * sm.get(k, smiss)) for k in keys]
    return [k for k, _ in sorted(fused, key=lambda x: -x[1])]


def best_minmax(lex, sem, w, depth):
    """The fusion before: lexical ÷ its best, similarities min-max, missing → 0."""
    lex, sem = lex[:depth], sem[:depth]
    best = max([s for _, s in lex] + [1e-38])
    lo, hi = (min(s for _, s in sem), max(s for _, s in sem)) if sem else (0, 0)
    sn = lambda s: (s - lo) / (hi - lo) if hi > lo else 1.0
    sm = {k: sn(s) for k, s in sem}
    keys = list(dict.fromkeys([k for k, _ in lex + sem]))
    lm = {k: s / best for k, s in lex}
    fused = [(k, (1 - w) * lm.get(k, 0.0) + w * sm.get(k, 0.0)) for k in keys]
    return [k for k, _ in sorted(fused, key=lambda x: -x[1])]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--weight", type=float, nargs="*", default=[0.5])
    ap.add_argument("--depth", type=int, default=100)
    a = ap.parse_args()
    variants = [("best-minmax w0.4 d50 (MCP search before)", best_minmax, 0.4, 50),
                ("best-minmax w0.4 d100 (eval.sh before)", best_minmax, 0.4, 100)]
    variants += [(f"standardised w{w} d{a.depth}", standardised, w, a.depth) for w in a.weight]
    for name, fuse, w, depth in variants:
        cells = []
        for c in ["cranfield", "scifact", "obsidian"]:
            d = f"{a.dir}/{c}"
            if not os.path.isdir(f"{d}/out-semantic"):
                continue
            lex, sem = load(c, d, "lexical"), load(c, d, "semantic")
            run = {q: fuse(lex.get(q, []), sem.get(q, []), w, depth) for q in set(lex) | set(sem)}
            cells.append("%s %.4f / %.4f" % ((c,) + score(d, run)))
        print(f"{name:42s}  " + "   ".join(cells))


if __name__ == "__main__":
    main()
