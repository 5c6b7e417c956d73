#!/usr/bin/env bash
# Rank quality of `vaultmcp search` on the Cranfield collection (1,400 abstracts, 225 queries).
#
# Usage (from anywhere; paths are relative to the repository root):
#   scripts/eval-cranfield.sh
# Environment:
#   VAULTMCP_BIN  binary to test (default: target/release/vaultmcp, built with cargo if unset)
#   EVAL_DIR      the shared eval material (default: ../shared/eval)
#   KEEP_TMP=1    keep the temporary vault, data dir, run file and raw JSON outputs
#
# Steps: make_vault.py builds the vault + queries.tsv + qrels.tsv; `vaultmcp reindex` indexes
# it; every query runs as `vaultmcp search --json --limit 100`; the hits become a TREC-style
# run file (query<TAB>doc<TAB>rank, doc = Cranfield number without zero padding, as in the
# qrels); evaluate.py scores it. The last line printed is `nDCG@10 = X`.
set -euo pipefail

ORIG_PWD=$PWD
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

abspath() { # resolve a path given relative to where the user started the script
    case "$1" in
        /*) printf '%s\n' "$1" ;;
        */*) printf '%s\n' "$ORIG_PWD/$1" ;;
        *) command -v "$1" || printf '%s\n' "$ORIG_PWD/$1" ;;
    esac
}

EVAL_DIR=${EVAL_DIR:-../shared/eval}
case "$EVAL_DIR" in /*) ;; *) EVAL_DIR="$ROOT/$EVAL_DIR" ;; esac
[[ -f "$EVAL_DIR/cranfield/make_vault.py" && -f "$EVAL_DIR/evaluate.py" ]] || {
    echo "eval-cranfield: no Cranfield material under $EVAL_DIR (set EVAL_DIR)" >&2
    exit 2
}

if [[ -n "${VAULTMCP_BIN:-}" ]]; then
    BIN=$(abspath "$VAULTMCP_BIN")
else
    echo "eval-cranfield: building target/release/vaultmcp" >&2
    cargo build --release --quiet >&2
    BIN="$ROOT/target/release/vaultmcp"
fi
[[ -x "$BIN" ]] || { echo "eval-cranfield: $BIN is not executable" >&2; exit 2; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/eval-cranfield.XXXXXX")
if [[ "${KEEP_TMP:-0}" == 1 ]]; then
    echo "eval-cranfield: keeping $TMP" >&2
else
    trap 'rm -rf "$TMP"' EXIT
fi

python3 "$EVAL_DIR/cranfield/make_vault.py" "$TMP" >&2
VAULT="$TMP/vault"
DATA="$TMP/data"
mkdir -p "$TMP/out"

start=$(date +%s%N)
"$BIN" reindex --vault "$VAULT" --data-dir "$DATA" </dev/null >&2
echo "eval-cranfield: reindex took $(( ($(date +%s%N) - start) / 1000000 )) ms" >&2

# One process per query; raw JSON goes to out/<query>.json, converted in one pass below.
failed=0
nq=0
start=$(date +%s%N)
while IFS=$'\t' read -r qid text; do
    [[ -n "$qid" ]] || continue
    nq=$((nq + 1))
    if ! "$BIN" search --vault "$VAULT" --data-dir "$DATA" --json --limit 100 -- "$text" \
        </dev/null >"$TMP/out/$qid.json" 2>"$TMP/out/$qid.err"; then
        failed=$((failed + 1))
        echo "eval-cranfield: query $qid failed: $(head -c 300 "$TMP/out/$qid.err")" >&2
        rm -f "$TMP/out/$qid.json"
    fi
done <"$TMP/queries.tsv"
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
echo "eval-cranfield: $nq queries in $elapsed ms ($(( elapsed / (nq > 0 ? nq : 1) )) ms each, process launch included), $failed failed" >&2

# {"results":[{"id":"cranfield/0123.md",...},...]}  ->  "<qid>\t123\t<rank>"
python3 - "$TMP/queries.tsv" "$TMP/out" "$TMP/run.tsv" <<'PY'
import json, os, re, sys
queries, outdir, runpath = sys.argv[1:4]
doc_re = re.compile(r"(?:^|/)cranfield/0*(\d+)(?:\.md)?$")
bad = 0
with open(runpath, "w") as run:
    for line in open(queries):
        qid = line.split("\t", 1)[0].strip()
        path = os.path.join(outdir, qid + ".json")
        if not qid or not os.path.exists(path):
            continue
        try:
            results = json.load(open(path))["results"]
        except (ValueError, KeyError, TypeError) as e:
            print(f"eval-cranfield: query {qid}: unreadable JSON ({e})", file=sys.stderr)
            bad += 1
            continue
        rank, seen = 0, set()
        for hit in results:
            m = doc_re.search(str(hit.get("id") or hit.get("path") or ""))
            if not m or m.group(1) in seen:
                continue
            doc = str(int(m.group(1)))
            seen.add(doc)
            rank += 1
            run.write(f"{qid}\t{doc}\t{rank}\n")
if bad:
    print(f"eval-cranfield: {bad} queries had unreadable output", file=sys.stderr)
PY

if [[ "${KEEP_TMP:-0}" == 1 ]]; then
    echo "eval-cranfield: run file $TMP/run.tsv" >&2
fi
out=$(python3 "$EVAL_DIR/evaluate.py" "$TMP/qrels.tsv" "$TMP/run.tsv" --k 10)
printf '%s\n' "$out"
ndcg=$(printf '%s\n' "$out" | sed -n 's/^ndcg@10=//p' | tail -n 1)
echo "nDCG@10 = ${ndcg:-unknown}"
