#!/usr/bin/env bash
# Rank quality of lexical `vaultmcp search` on the Cranfield collection (1,400 abstracts, 225
# queries): `scripts/eval.sh cranfield` with the lexical mode only, ending with one line
# `nDCG@10 = X` for scripts that read a single figure.
#
# Usage (from anywhere): scripts/eval-cranfield.sh
# Environment: as scripts/eval.sh (VAULTMCP_BIN, EVAL_DIR, KEEP_TMP); VAULTMCP_MODEL and
# MODES are ignored.
set -euo pipefail
# A relative binary path is relative to where the script was started.
if [[ -n "${VAULTMCP_BIN:-}" && "$VAULTMCP_BIN" != /* ]]; then
    export VAULTMCP_BIN="$PWD/$VAULTMCP_BIN"
fi
cd "$(dirname "${BASH_SOURCE[0]}")/.."
table=$(env -u VAULTMCP_MODEL MODES=lexical scripts/eval.sh cranfield)
printf '%s\n' "$table" >&2
ndcg=$(awk '$1 == "cranfield" && $2 == "lexical" { print $3 }' <<<"$table")
[[ -n "$ndcg" ]] || { echo "eval-cranfield: no lexical row in the table" >&2; exit 1; }
echo "nDCG@10 = $ndcg"
