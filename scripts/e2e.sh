#!/usr/bin/env bash
# End-to-end: `vaultmcp serve --no-auth` on vault-fixtures, driven by real MCP clients.
#
#   1. the TypeScript SDK client (@modelcontextprotocol/sdk, tests/e2e/mcp-client.test.mjs)
#   2. the Python SDK client (mcp, tests/e2e/test_python_client.py), session and 2026-07-28 eras
#   3. the MCP conformance suite (`conformance server --suite all`, session era and 2026-07-28),
#      with tests/e2e/conformance-expected-failures.yml naming the scenarios and checks that do
#      not apply; tests/e2e/conformance-summary.mjs restates the result against it
#   4. SIGTERM stops the server cleanly
#   5. OAuth, with a second server in GitHub mode (GITHUB_* settings, endpoints pointed at a
#      stand-in GitHub, tests/e2e/fake-github.mjs, on 127.0.0.1): the TypeScript SDK's OAuth
#      client (tests/e2e/oauth-client.test.mjs: discovery, registration, consent, GitHub, token,
#      search, refresh, allow-list refusals), an emulated ChatGPT (tests/e2e/chatgpt.test.mjs:
#      its metadata document and JWKS on loopback, RS256 client assertions) and headless Chromium (tests/e2e/browser.test.mjs,
#      playwright-core driving /usr/bin/chromium or $CHROMIUM; the consent page's screenshot is
#      kept as tests/e2e/artifacts/consent.png; CORS from pages on another loopback port, with
#      VAULTMCP_ALLOWED_ORIGINS set); then SIGTERM stops that server too
#   6. the conformance suite's authorization-server scenarios (`conformance authorization`:
#      metadata, authorization-code grant) against a third server, `serve --local-login`, with
#      its consent page approved by tests/e2e/conformance-authorization.mjs; then SIGTERM
#
# Installs what it needs: `npm ci` in tests/e2e (the lockfile brings Node 22 as the npm package
# `node`, which the conformance suite needs, and package.json's `allowScripts` lets npm 11 run
# its install script; the SDK tests run on the machine's node), and a venv
# in tests/e2e/.venv from tests/e2e/requirements.txt. Builds the debug binary unless VAULTMCP_BIN
# names one. Everything talks to 127.0.0.1 only. Exits non-zero if any part fails; runs every
# part regardless, so one run shows all failures. Logs and conformance results go to
# tests/e2e/artifacts/.
#
# Environment: VAULTMCP_BIN (binary to test), E2E_SKIP_INSTALL=1 (reuse node_modules and .venv),
# CHROMIUM (browser for the real-browser test; default /usr/bin/chromium, apt-get install chromium).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
E2E=$ROOT/tests/e2e
ART=$E2E/artifacts
mkdir -p "$ART"
started=$SECONDS

step() { printf '\n==> e2e: %s (%ss)\n' "$1" "$((SECONDS - started))"; }
die() {
  echo "e2e: $*" >&2
  exit 1
}

# --- install -------------------------------------------------------------------------------
command -v node >/dev/null || die "node is not installed (apt-get install nodejs npm)"
command -v npm >/dev/null || die "npm is not installed (apt-get install npm)"
command -v python3 >/dev/null || die "python3 is not installed"

if [ "${E2E_SKIP_INSTALL:-}" != 1 ] || [ ! -d "$E2E/node_modules" ]; then
  step "npm ci (tests/e2e)"
  (cd "$E2E" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
fi
NODE22=$E2E/node_modules/.bin/node
"$NODE22" --version 2>/dev/null | grep -q '^v22\.' || die "tests/e2e/node_modules/.bin/node is not Node 22"

VENV=$E2E/.venv
if [ "${E2E_SKIP_INSTALL:-}" != 1 ] || [ ! -x "$VENV/bin/python" ]; then
  step "python venv (tests/e2e/.venv)"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" || die "cannot create a venv (apt-get install python3-venv)"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$E2E/requirements.txt" ||
    die "pip install -r tests/e2e/requirements.txt failed"
fi

if [ -z "${VAULTMCP_BIN:-}" ]; then
  step "cargo build"
  cargo build --locked --bin vaultmcp || die "cargo build failed"
  VAULTMCP_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/vaultmcp
fi
[ -x "$VAULTMCP_BIN" ] || die "no binary at $VAULTMCP_BIN"

# --- server --------------------------------------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vaultmcp-e2e.XXXXXX")
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
URL=http://127.0.0.1:$PORT/mcp
: >"$TMP/config.toml" # an empty config file: never read the user's ~/.config/vaultmcp

step "start vaultmcp serve --no-auth on 127.0.0.1:$PORT"
env -u VAULTMCP_PUBLIC_URL -u VAULTMCP_CONFIG RUST_LOG=info NO_COLOR=1 \
  "$VAULTMCP_BIN" serve --no-auth --bind "127.0.0.1:$PORT" --vault "$ROOT/vault-fixtures" \
  --data-dir "$TMP/data" --config "$TMP/config.toml" >"$ART/serve.log" 2>&1 &
SERVER_PID=$!

stop_server() {
  if [ -n "${SERVER_PID:-}" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  SERVER_PID=
}
GH_PID= # the stand-in GitHub of the OAuth part
stop_github() {
  if [ -n "${GH_PID:-}" ] && kill -0 "$GH_PID" 2>/dev/null; then
    kill -TERM "$GH_PID" 2>/dev/null
    wait "$GH_PID" 2>/dev/null
  fi
  GH_PID=
}
trap 'stop_server; stop_github; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

get_health() {
  if command -v curl >/dev/null; then
    curl -fsS --max-time 2 "http://127.0.0.1:$PORT/healthz"
  else
    python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())' \
      "http://127.0.0.1:$PORT/healthz"
  fi
}
healthy=
for _ in $(seq 1 300); do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    cat "$ART/serve.log" >&2
    die "the server exited during start-up"
  fi
  if get_health >"$TMP/health.json" 2>/dev/null; then
    healthy=1
    break
  fi
  sleep 0.1
done
[ -n "$healthy" ] || {
  cat "$ART/serve.log" >&2
  die "no /healthz answer within 30 s"
}
# `serve` answers at once and catches up with the vault in its writer; `reindex` beside a running
# server hands the work to that writer over the control socket and returns once it is done.
env -u VAULTMCP_PUBLIC_URL -u VAULTMCP_CONFIG NO_COLOR=1 "$VAULTMCP_BIN" reindex \
  --vault "$ROOT/vault-fixtures" --data-dir "$TMP/data" --config "$TMP/config.toml" \
  >"$ART/reindex.log" 2>&1 || {
  cat "$ART/reindex.log" >&2
  die "reindex beside the running server failed"
}
get_health >"$TMP/health.json"
echo "healthz: $(cat "$TMP/health.json")"

# --- clients -------------------------------------------------------------------------------
failed=()
passed=()
run() {
  local name=$1
  shift
  step "$name"
  if "$@"; then
    passed+=("$name")
  else
    failed+=("$name")
    echo "e2e: FAILED: $name" >&2
  fi
}

run "TypeScript SDK client (node $(node --version))" \
  env VAULTMCP_URL="$URL" node --test "$E2E/mcp-client.test.mjs"

run "Python SDK client (mcp $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp"))'))" \
  env VAULTMCP_URL="$URL" "$VENV/bin/python" "$E2E/test_python_client.py"

conformance() {
  rm -rf "$ART/conformance"
  # The suite is called by its path: `conformance` alone would name this very function.
  (cd "$E2E" && PATH="$E2E/node_modules/.bin:$PATH" "$E2E/node_modules/.bin/conformance" server \
    --url "$URL" --suite all \
    --expected-failures "$E2E/conformance-expected-failures.yml" \
    --output-dir "$ART/conformance") >"$ART/conformance.log" 2>&1
  local rc=$?
  # The suite's own summary counts the non-applicable scenarios as failures; restate it
  # against the baseline, check by check (the full log and per-scenario checks are in the
  # artifacts). Both must agree that nothing unexpected failed and nothing listed passes.
  "$NODE22" "$E2E/conformance-summary.mjs" "$ART/conformance" "$E2E/conformance-expected-failures.yml"
  local summary=$?
  if [ "$rc" -ne 0 ]; then
    sed -n '/Unexpected\|Stale\|stale/,$p' "$ART/conformance.log"
    echo "full log: $ART/conformance.log"
  fi
  [ "$rc" -eq 0 ] && [ "$summary" -eq 0 ]
}
CONFORMANCE_VERSION=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$E2E/node_modules/@modelcontextprotocol/conformance/package.json")
run "MCP conformance suite $CONFORMANCE_VERSION (server, all scenarios)" conformance

graceful_stop() {
  local pid=$SERVER_PID
  kill -TERM "$pid" || return 1
  for _ in $(seq 1 100); do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid"
      local rc=$?
      SERVER_PID=
      echo "exit status $rc after SIGTERM"
      return "$rc"
    fi
    sleep 0.1
  done
  echo "still running 10 s after SIGTERM"
  return 1
}
run "SIGTERM stops the server" graceful_stop

# --- OAuth: a second server in GitHub mode with a stand-in GitHub ---------------------------
# `serve` without --no-auth on a loopback bind picks GitHub mode when GITHUB_* are set
# (auth::choose_mode); VAULTMCP_GITHUB_WEB_URL/API_URL point its GitHub at fake-github.mjs,
# which signs in FAKE_GITHUB_LOGIN/ID (on the allow-list) unless a test signs in as another.
stop_server # in case the SIGTERM step failed
rm -f "$ART/serve-oauth.log" "$ART/fake-github.log" "$ART/reindex-oauth.log"
OAUTH_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
OAUTH_BASE=http://127.0.0.1:$OAUTH_PORT
OAUTH_URL=$OAUTH_BASE/mcp
CORS_PAGE_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
GH_CLIENT_ID=e2e-client
GH_CLIENT_SECRET=e2e-secret-$RANDOM$RANDOM
FAKE_GITHUB_LOGIN=e2e-owner
FAKE_GITHUB_ID=4242

http_ok() {
  if command -v curl >/dev/null; then
    curl -fsS --max-time 2 "$1" >/dev/null 2>&1
  else
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1" 2>/dev/null
  fi
}

start_oauth() {
  step "start the stand-in GitHub (tests/e2e/fake-github.mjs)"
  FAKE_GH_CLIENT_ID=$GH_CLIENT_ID FAKE_GH_CLIENT_SECRET=$GH_CLIENT_SECRET \
    FAKE_GH_LOGIN=$FAKE_GITHUB_LOGIN FAKE_GH_ID=$FAKE_GITHUB_ID \
    FAKE_GH_CALLBACK_URL=$OAUTH_BASE/oauth/github/callback FAKE_GH_URL_FILE=$TMP/github.json \
    node "$E2E/fake-github.mjs" >"$ART/fake-github.log" 2>&1 &
  GH_PID=$!
  for _ in $(seq 1 100); do
    [ -s "$TMP/github.json" ] && break
    kill -0 "$GH_PID" 2>/dev/null || break
    sleep 0.1
  done
  FAKE_GITHUB_URL=$(sed -n 's/.*"url":"\([^"]*\)".*/\1/p' "$TMP/github.json" 2>/dev/null)
  if [ -z "$FAKE_GITHUB_URL" ]; then
    cat "$ART/fake-github.log" >&2
    echo "e2e: the stand-in GitHub did not start" >&2
    return 1
  fi
  echo "stand-in GitHub at $FAKE_GITHUB_URL"

  step "start vaultmcp serve (GitHub mode) on 127.0.0.1:$OAUTH_PORT"
  env -u VAULTMCP_PUBLIC_URL -u VAULTMCP_CONFIG -u GITHUB_ALLOWED_LOGIN RUST_LOG=info NO_COLOR=1 \
    GITHUB_CLIENT_ID=$GH_CLIENT_ID GITHUB_CLIENT_SECRET=$GH_CLIENT_SECRET \
    GITHUB_ALLOWED_ID=$FAKE_GITHUB_ID \
    VAULTMCP_GITHUB_WEB_URL="$FAKE_GITHUB_URL" VAULTMCP_GITHUB_API_URL="$FAKE_GITHUB_URL" \
    VAULTMCP_ALLOWED_ORIGINS="http://app.test:$CORS_PAGE_PORT" VAULTMCP_ALLOW_LOOPBACK_FETCH=1 \
    "$VAULTMCP_BIN" serve --bind "127.0.0.1:$OAUTH_PORT" --vault "$ROOT/vault-fixtures" \
    --data-dir "$TMP/data-oauth" --config "$TMP/config.toml" >"$ART/serve-oauth.log" 2>&1 &
  SERVER_PID=$!
  local up=
  for _ in $(seq 1 300); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    if http_ok "$OAUTH_BASE/healthz"; then
      up=1
      break
    fi
    sleep 0.1
  done
  if [ -z "$up" ]; then
    cat "$ART/serve-oauth.log" >&2
    echo "e2e: the GitHub-mode server did not answer /healthz within 30 s" >&2
    return 1
  fi
  if ! grep -q 'auth ready mode=GitHub' "$ART/serve-oauth.log"; then
    cat "$ART/serve-oauth.log" >&2
    echo "e2e: the server did not start in GitHub mode" >&2
    return 1
  fi
  env -u VAULTMCP_PUBLIC_URL -u VAULTMCP_CONFIG NO_COLOR=1 "$VAULTMCP_BIN" reindex \
    --vault "$ROOT/vault-fixtures" --data-dir "$TMP/data-oauth" --config "$TMP/config.toml" \
    >"$ART/reindex-oauth.log" 2>&1 || {
    cat "$ART/reindex-oauth.log" >&2
    echo "e2e: reindex beside the GitHub-mode server failed" >&2
    return 1
  }
}

oauth_env=(env VAULTMCP_OAUTH_URL="$OAUTH_URL" FAKE_GITHUB_ID="$FAKE_GITHUB_ID"
  FAKE_GITHUB_LOGIN="$FAKE_GITHUB_LOGIN" CORS_PAGE_PORT="$CORS_PAGE_PORT")
if start_oauth; then
  oauth_env+=(FAKE_GITHUB_URL="$FAKE_GITHUB_URL")
  run "OAuth: TypeScript SDK client (discovery, registration, consent, GitHub, token, search, refresh)" \
    "${oauth_env[@]}" node --test "$E2E/oauth-client.test.mjs"
  run "OAuth: emulated ChatGPT (metadata document, private_key_jwt assertions, search, fetch, refresh)" \
    "${oauth_env[@]}" node --test "$E2E/chatgpt.test.mjs"
  rm -f "$ART/consent.png"
  run "OAuth: headless Chromium (consent, GitHub, redirect URI, token, search; deny; CORS)" \
    "${oauth_env[@]}" node --test "$E2E/browser.test.mjs"
  [ -s "$ART/consent.png" ] && echo "consent page screenshot: $ART/consent.png"
  run "SIGTERM stops the GitHub-mode server" graceful_stop
else
  failed+=("OAuth: start the stand-in GitHub and the GitHub-mode server")
fi
stop_github

# --- the authorization server alone: the conformance suite against --local-login ---------
stop_server
rm -f "$ART/serve-local.log"
LOCAL_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
LOCAL_BASE=http://127.0.0.1:$LOCAL_PORT

start_local() {
  step "start vaultmcp serve --local-login on 127.0.0.1:$LOCAL_PORT"
  env -u VAULTMCP_PUBLIC_URL -u VAULTMCP_CONFIG RUST_LOG=info NO_COLOR=1 \
    "$VAULTMCP_BIN" serve --local-login --bind "127.0.0.1:$LOCAL_PORT" --vault "$ROOT/vault-fixtures" \
    --data-dir "$TMP/data-local" --config "$TMP/config.toml" >"$ART/serve-local.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    http_ok "$LOCAL_BASE/healthz" && return 0
    sleep 0.1
  done
  cat "$ART/serve-local.log" >&2
  echo "e2e: the --local-login server did not answer /healthz within 30 s" >&2
  return 1
}

conformance_authorization() {
  rm -rf "$ART/conformance-authorization"
  (cd "$E2E" && PATH="$E2E/node_modules/.bin:$PATH" VAULTMCP_AUTHZ_ISSUER="$LOCAL_BASE" \
    CONFORMANCE_OUTPUT_DIR="$ART/conformance-authorization" \
    "$NODE22" "$E2E/conformance-authorization.mjs") >"$ART/conformance-authorization.log" 2>&1
  local rc=$?
  sed -n '/=== SUMMARY ===/,$p' "$ART/conformance-authorization.log"
  [ "$rc" -eq 0 ] || echo "full log: $ART/conformance-authorization.log"
  return "$rc"
}

if start_local; then
  run "MCP conformance suite (authorization server: metadata, authorization-code grant, consent approved)" \
    conformance_authorization
  run "SIGTERM stops the --local-login server" graceful_stop
else
  failed+=("start the --local-login server")
fi

# --- result --------------------------------------------------------------------------------
step "summary"
for p in "${passed[@]}"; do echo "  ok    $p"; done
for f in "${failed[@]}"; do echo "  FAIL  $f"; done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "server log: $ART/serve.log (last lines below)"
  tail -n 30 "$ART/serve.log"
  if [ -s "$ART/serve-oauth.log" ]; then
    echo "GitHub-mode server log: $ART/serve-oauth.log (last lines below)"
    tail -n 30 "$ART/serve-oauth.log"
  fi
  if [ -s "$ART/serve-local.log" ]; then
    echo "--local-login server log: $ART/serve-local.log (last lines below)"
    tail -n 30 "$ART/serve-local.log"
  fi
fi
echo "e2e took $((SECONDS - started)) s"
echo "e2e: ${#passed[@]} passed, ${#failed[@]} failed"
[ "${#failed[@]}" -eq 0 ]
