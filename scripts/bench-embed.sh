#!/usr/bin/env bash
# Embedding throughput: how many notes a second `reindex` embeds, per model, on a synthetic
# vault (scripts/gen-vault), after a lexical-only build of the same vault.
#
# Usage: scripts/bench-embed.sh            (from anywhere; paths are relative to the repo root)
# Environment:
#   MODELS        space-separated model folders (default: the MiniLM and WordLlama folders
#                 under ~/.cache/vaultmcp-models/, see README "Semantic search")
#   NOTES         vault size (default 10000); BENCH_SEED gen-vault seed (default 1)
#   RUNS          runs per model (default 3); the first model's runs can be capped with
#                 RUNS_SLOW (default 1: a transformer on 10k notes takes many minutes)
#   VAULTMCP_BIN  binary to measure (default: a fresh release build)
#   BENCH_DIR     where vaults and data dirs live (default target/bench)
#
# Per run: a fresh data dir, `reindex` without a model (lexical only, timed), then
# `reindex --model M --json` (embeds every note; the JSON's seconds and embedded count give
# notes/s). Prints each run and min / median / max per model.
set -euo pipefail

ORIG_PWD=$PWD
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/bench-common.sh
. scripts/bench-common.sh
bench_init bench-embed
NOTES=${NOTES:-10000}
RUNS=${RUNS:-3}
RUNS_SLOW=${RUNS_SLOW:-1}
CACHE=${VAULTMCP_MODELS_CACHE:-$HOME/.cache/vaultmcp-models}
MODELS=${MODELS:-"$CACHE/minilm $CACHE/wordllama"}

bench_binary
VAULT=$(ensure_vault "$NOTES")
RUN=$(mktemp -d "$BENCH_DIR/embed-run.XXXXXX")
trap 'rm -rf "$RUN"' EXIT

summary=()
first=1
for model in $MODELS; do
  [[ -f "$model/model.safetensors" ]] || { say "no model in $model, skipped"; continue; }
  runs=$RUNS
  [[ $first == 1 && "$(basename "$model")" == minilm ]] && runs=$RUNS_SLOW
  first=0
  rates=()
  for r in $(seq 1 "$runs"); do
    rm -rf "$RUN/data"
    t0=$(date +%s%N)
    "$BIN" reindex --vault "$VAULT" --data-dir "$RUN/data" --json >"$RUN/lex.json" </dev/null
    lex_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    t0=$(date +%s%N)
    "$BIN" reindex --vault "$VAULT" --data-dir "$RUN/data" --model "$model" --json \
      >"$RUN/emb.json" </dev/null
    emb_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    embedded=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["embedded"])' "$RUN/emb.json")
    rate=$(awk -v n="$embedded" -v ms="$emb_ms" 'BEGIN { printf "%.0f", n / (ms / 1000) }')
    rates+=("$rate")
    say "$(basename "$model") run $r: lexical $lex_ms ms; embedded $embedded notes in $emb_ms ms = $rate notes/s (index $(du -sm "$RUN/data" | cut -f1) MB)"
  done
  stats=$(printf '%s\n' "${rates[@]}" | sort -n | awk '{a[NR]=$1} END {printf "min %s / median %s / max %s", a[1], a[int((NR+1)/2)], a[NR]}')
  summary+=("$(basename "$model"): $stats notes/s over $runs run(s), $NOTES notes")
done
printf '%s\n' "${summary[@]}"
