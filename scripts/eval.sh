#!/usr/bin/env bash
# Search quality on three collections at once, for each search mode, beside SQLite FTS5 bm25.
#
# Usage (from anywhere):
#   scripts/eval.sh [cranfield|scifact|obsidian ...]      (default: all three)
# Environment:
#   VAULTMCP_BIN   binary to test (default: target/release/vaultmcp, built with cargo if unset)
#   VAULTMCP_MODEL a model folder: semantic and hybrid rows are added (lexical only without it)
#   EVAL_DIR       the shared eval material (default: ../shared/eval)
#   MODES          modes to run (default: "lexical semantic hybrid" with a model, else "lexical")
#   KEEP_TMP=1     keep the temporary vaults, data dirs and run files
#
# Collections: Cranfield (225 queries), BEIR SciFact test (300 claims), and the Obsidian Help
# vault with the 50 natural questions of scripts/eval/obsidian-questions.tsv (written before
# any tuning). Every query runs as `vaultmcp search --json --limit 100 --mode M`; evaluate.py
# scores the run. Prints one table: nDCG@10 and MRR@10 per collection and mode.
set -euo pipefail

ORIG_PWD=$PWD
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
EVAL_DIR=${EVAL_DIR:-../shared/eval}
case "$EVAL_DIR" in /*) ;; *) EVAL_DIR="$ROOT/$EVAL_DIR" ;; esac
[[ -f "$EVAL_DIR/evaluate.py" ]] || { echo "eval: no eval material under $EVAL_DIR (set EVAL_DIR)" >&2; exit 2; }

if [[ -n "${VAULTMCP_BIN:-}" ]]; then
    case "$VAULTMCP_BIN" in /*) BIN=$VAULTMCP_BIN ;; *) BIN="$ORIG_PWD/$VAULTMCP_BIN" ;; esac
else
    echo "eval: building target/release/vaultmcp" >&2
    cargo build --release --quiet >&2
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/vaultmcp"
fi
[[ -x "$BIN" ]] || { echo "eval: $BIN is not executable" >&2; exit 2; }

MODEL_ARGS=()
if [[ -n "${VAULTMCP_MODEL:-}" ]]; then
    MODEL_ARGS=(--model "$VAULTMCP_MODEL")
    MODES=${MODES:-lexical semantic hybrid}
else
    MODES=${MODES:-lexical}
fi
unset VAULTMCP_MODEL  # only through the flag, so the FTS5 and lexical rows never see it
COLLECTIONS=${*:-cranfield scifact obsidian}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/vaultmcp-eval.XXXXXX")
if [[ "${KEEP_TMP:-0}" == 1 ]]; then echo "eval: keeping $TMP" >&2; else trap 'rm -rf "$TMP"' EXIT; fi

prepare() { # collection -> $TMP/<c>/{vault,queries.tsv,qrels.tsv}
    local c=$1 out="$TMP/$1"
    mkdir -p "$out"
    case "$c" in
        cranfield|scifact) python3 "$EVAL_DIR/$c/make_vault.py" "$out" >&2 ;;
        obsidian)
            mkdir -p "$out/vault"
            cp -r "$EVAL_DIR/obsidian-help/en/." "$out/vault/"
            python3 - "$ROOT/scripts/eval/obsidian-questions.tsv" "$out" <<'PY'
import sys
src, out = sys.argv[1:3]
with open(f"{out}/queries.tsv", "w") as q, open(f"{out}/qrels.tsv", "w") as r:
    for line in open(src, encoding="utf-8"):
        if line.startswith("#") or not line.strip():
            continue
        qid, text, notes = line.rstrip("\n").split("\t")
        q.write(f"{qid}\t{text}\n")
        for i, n in enumerate(x.strip() for x in notes.split(";")):
            r.write(f"{qid}\t{n}\t{2 if i == 0 else 1}\n")
PY
            ;;
        *) echo "eval: unknown collection $c" >&2; exit 2 ;;
    esac
}

# search results JSON files -> run file; doc ids as the collection's qrels write them
to_run() { # collection outdir runfile queries
    python3 - "$1" "$2" "$3" "$4" <<'PY'
import json, os, sys
c, outdir, runpath, queries = sys.argv[1:5]
def doc(hit):
    i = str(hit.get("id") or "")
    if c == "obsidian":
        return i
    stem = os.path.basename(i)[:-3] if i.endswith(".md") else os.path.basename(i)
    return (stem.lstrip("0") or "0") if c == "cranfield" else stem
with open(runpath, "w") as run:
    for line in open(queries):
        qid = line.split("\t", 1)[0].strip()
        p = os.path.join(outdir, qid + ".json")
        if not qid or not os.path.exists(p):
            continue
        rank, seen = 0, set()
        for hit in json.load(open(p))["results"]:
            d = doc(hit)
            if d in seen:
                continue
            seen.add(d); rank += 1
            run.write(f"{qid}\t{d}\t{rank}\n")
PY
}

score() { # qrels run -> "ndcg mrr"
    python3 "$EVAL_DIR/evaluate.py" "$1" "$2" --k 10 |
        sed -n 's/^MRR@10=\([0-9.]*\).*/mrr \1/p; s/^ndcg@10=\([0-9.]*\)/ndcg \1/p' |
        sort | awk '{v[$1]=$2} END {print v["ndcg"], v["mrr"]}'
}

declare -A RESULT
for c in $COLLECTIONS; do
    prepare "$c"
    dir="$TMP/$c"
    ids=name; [[ "$c" == obsidian ]] && ids=path
    python3 "$EVAL_DIR/baseline_fts5.py" "$dir/vault" "$dir/queries.tsv" "$dir/fts5.tsv" --ids "$ids" >&2
    RESULT[$c,fts5]=$(score "$dir/qrels.tsv" "$dir/fts5.tsv")
    start=$(date +%s%N)
    "$BIN" reindex --vault "$dir/vault" --data-dir "$dir/data" "${MODEL_ARGS[@]}" </dev/null >&2
    echo "eval: $c reindex took $(( ($(date +%s%N) - start) / 1000000 )) ms" >&2
    for mode in $MODES; do
        out="$dir/out-$mode"
        mkdir -p "$out"
        # Lexical rows run without the model (so without vectors): the same as no model at all.
        margs=("${MODEL_ARGS[@]}" --mode "$mode")
        [[ "$mode" == lexical ]] && margs=()
        start=$(date +%s%N); n=0
        while IFS=$'\t' read -r qid text; do
            [[ -n "$qid" ]] || continue
            n=$((n + 1))
            "$BIN" search --vault "$dir/vault" --data-dir "$dir/data" "${margs[@]}" \
                --json --limit 100 -- "$text" </dev/null >"$out/$qid.json" 2>"$out/$qid.err" ||
                { echo "eval: $c $mode query $qid failed: $(head -c 300 "$out/$qid.err")" >&2; rm -f "$out/$qid.json"; }
        done <"$dir/queries.tsv"
        ms=$(( ($(date +%s%N) - start) / 1000000 ))
        echo "eval: $c $mode: $n queries in $ms ms ($(( ms / (n > 0 ? n : 1) )) ms each, process start included)" >&2
        to_run "$c" "$out" "$dir/run-$mode.tsv" "$dir/queries.tsv"
        RESULT[$c,$mode]=$(score "$dir/qrels.tsv" "$dir/run-$mode.tsv")
    done
done

printf '\n%-10s %-9s %9s %9s\n' collection ranking nDCG@10 MRR@10
for c in $COLLECTIONS; do
    for m in fts5 $MODES; do
        read -r nd mrr <<<"${RESULT[$c,$m]}"
        printf '%-10s %-9s %9s %9s\n' "$c" "$m" "$nd" "$mrr"
    done
done
