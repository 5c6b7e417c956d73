#!/usr/bin/env bash
# Hybrid against lexical MCP `search` latency, the way issue 10's target is stated: "MCP
# `search` p50 with hybrid at most 2× today's lexical p50 (query embedding included)".
#
# Usage: MODEL=DIR scripts/bench-hybrid.sh
# Environment:
#   MODEL         the embedding model folder hybrid runs with (required; e.g. the one
#                 `vaultmcp model pull` wrote, or scripts/fetch-test-model.sh's)
#   BASELINE_BIN  optional: a second binary whose lexical search is the yardstick as well,
#                 e.g. main as it was when the issue was filed:
#                   git worktree add /tmp/baseline 65c822e &&
#                   (cd /tmp/baseline && cargo build --release) # then BASELINE_BIN=…/vaultmcp
#   ROUNDS        rounds (default 3); NOTES (default 500), DURATION (default 20), CLIENTS,
#                 VAULTMCP_BIN, BENCH_DIR: passed to scripts/bench-serve.sh
#
# Each round runs scripts/bench-serve.sh for lexical (this binary, no model), hybrid (this
# binary, MODEL) and, with BASELINE_BIN, the baseline's lexical, one after the other: this
# machine's speed drifts by ±20% within an hour, so only runs side by side compare. Prints each
# run's p50, requests/s and the share of CPU time the hypervisor stole during its load (from
# 1% to 22% seen here), each round's hybrid/lexical p50 ratios, and their median and range.
# 500 notes by default because a transformer embeds ~9 notes/s here: a 10k-note vault would
# take twenty minutes to index per run. Reports figures; never fails on them.
set -euo pipefail

ORIG_PWD=$PWD
cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${MODEL:?set MODEL to an embedding model folder}"
case "$MODEL" in /*) ;; *) MODEL="$ORIG_PWD/$MODEL" ;; esac
ROUNDS=${ROUNDS:-3}
export NOTES=${NOTES:-500} DURATION=${DURATION:-20}
if [[ -z "${VAULTMCP_BIN:-}" ]]; then
  echo "bench-hybrid: building the release binary" >&2
  cargo build --release --quiet --bin vaultmcp >&2
  VAULTMCP_BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/vaultmcp"
fi
case "$VAULTMCP_BIN" in /*) ;; *) VAULTMCP_BIN="$ORIG_PWD/$VAULTMCP_BIN" ;; esac
if [[ -n "${BASELINE_BIN:-}" ]]; then
  case "$BASELINE_BIN" in /*) ;; *) BASELINE_BIN="$ORIG_PWD/$BASELINE_BIN" ;; esac
fi
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# run NAME [VAR=value...]: one bench-serve.sh run; prints "p50 req/s stolen%".
run() {
  local name=$1
  shift
  env "$@" scripts/bench-serve.sh >"$OUT/$name.log" 2>&1 ||
    { cat "$OUT/$name.log" >&2; echo "bench-hybrid: $name failed" >&2; exit 1; }
  awk '/p50 latency/ { p = $4 } /requests\/s/ { r = $2 } /CPU stolen/ { st = $4 }
    END { print p, r, st }' "$OUT/$name.log"
}

printf '%-6s %-10s %10s %10s %10s\n' round run "p50 (ms)" "req/s" "stolen %"
for i in $(seq 1 "$ROUNDS"); do
  if [[ -n "${BASELINE_BIN:-}" ]]; then
    read -r bp br bs < <(run "base$i" VAULTMCP_BIN="$BASELINE_BIN" MODEL=)
    printf '%-6s %-10s %10s %10s %10s\n' "$i" baseline "$bp" "$br" "$bs"
    echo "$bp" >>"$OUT/base.p50"
  fi
  read -r lp lr ls < <(run "lex$i" VAULTMCP_BIN="$VAULTMCP_BIN" MODEL=)
  printf '%-6s %-10s %10s %10s %10s\n' "$i" lexical "$lp" "$lr" "$ls"
  read -r hp hr hs < <(run "hyb$i" VAULTMCP_BIN="$VAULTMCP_BIN" MODEL="$MODEL")
  printf '%-6s %-10s %10s %10s %10s\n' "$i" hybrid "$hp" "$hr" "$hs"
  awk -v h="$hp" -v l="$lp" 'BEGIN { printf "%.2f\n", h / l }' >>"$OUT/lex.ratio"
  if [[ -n "${BASELINE_BIN:-}" ]]; then
    awk -v h="$hp" -v b="$bp" 'BEGIN { printf "%.2f\n", h / b }' >>"$OUT/base.ratio"
  fi
done

# summary FILE LABEL NOTE: median, min and max of one ratio per line.
summary() {
  sort -n "$1" | awk -v label="$2" -v note="$3" '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "hybrid p50 / %s p50: median %.2f, range %.2f–%.2f over %d rounds (%s)\n",
      label, m, v[1], v[NR], NR, note }'
}
# The issue's target is "at most 2x today's lexical p50": lexical search as it was when the
# issue was filed, which BASELINE_BIN is. Against this binary's own lexical search the ratio
# also counts whatever made lexical search itself faster since.
echo
if [[ -f "$OUT/base.ratio" ]]; then
  summary "$OUT/base.ratio" "baseline lexical" "target <= 2"
  summary "$OUT/lex.ratio" "lexical (same binary)" "for comparison"
else
  summary "$OUT/lex.ratio" "lexical (same binary)" "target <= 2 against the baseline: set BASELINE_BIN"
fi
exit 0
