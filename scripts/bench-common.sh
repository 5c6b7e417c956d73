# shellcheck shell=bash
# Shared by the benchmark scripts (sourced, not run): where things live, which binary is
# measured, and the cached synthetic vaults.
#
#   bench_init NAME   after `cd` to the repo root: ROOT, BENCH_DIR, SEED, say()
#   bench_binary      BIN: $VAULTMCP_BIN (relative to where the script was started) or a fresh
#                     release build
#   ensure_vault N    prints the path of a pristine N-note vault (scripts/gen-vault, seed
#                     $SEED), generating it unless a matching one is cached

bench_init() {
  BENCH_NAME=$1
  ROOT=$PWD
  SEED=${BENCH_SEED:-1}
  BENCH_DIR=${BENCH_DIR:-target/bench}
  case "$BENCH_DIR" in /*) ;; *) BENCH_DIR="$ROOT/$BENCH_DIR" ;; esac
  mkdir -p "$BENCH_DIR"
}

say() { echo "$BENCH_NAME: $*" >&2; }

bench_binary() {
  if [[ -n "${VAULTMCP_BIN:-}" ]]; then
    case "$VAULTMCP_BIN" in
      /*) BIN=$VAULTMCP_BIN ;;
      */*) BIN="$ORIG_PWD/$VAULTMCP_BIN" ;;
      *) BIN=$(command -v "$VAULTMCP_BIN" || echo "$ORIG_PWD/$VAULTMCP_BIN") ;;
    esac
  else
    say "building the release binary"
    cargo build --release --quiet --bin vaultmcp >&2
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/vaultmcp"
  fi
  [[ -x "$BIN" ]] || { say "$BIN is not executable"; exit 2; }
}

ensure_vault() {
  local n=$1 v="$BENCH_DIR/vault-$1-seed$SEED" want
  want="notes=$n seed=$SEED gen=$(sha256sum "$ROOT/scripts/gen-vault" | cut -c1-16)"
  if [[ -f "$v.stamp" && "$(cat "$v.stamp")" == "$want" && -d "$v/research" ]]; then
    say "using cached $v"
  else
    say "generating a $n-note vault in $v"
    rm -rf "$v" "$v.stamp"
    python3 "$ROOT/scripts/gen-vault" "$v" --notes "$n" --seed "$SEED" >&2
    echo "$want" >"$v.stamp"
  fi
  printf '%s\n' "$v"
}
