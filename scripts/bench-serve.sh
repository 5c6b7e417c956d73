#!/usr/bin/env bash
# Load benchmark of `vaultmcp serve`: MCP `tools/call search` over loopback on a synthetic
# 10,000-note vault (scripts/gen-vault), 16 concurrent clients for 30 s, driven by wrk.
#
# Usage: scripts/bench-serve.sh            (from anywhere; paths are relative to the repo root)
# Environment:
#   DURATION      seconds of load (default 30)
#   CLIENTS       concurrent connections, each a client with its own MCP session (default 16)
#   WRK_THREADS   wrk threads (default 2)
#   NOTES         vault size (default 10000); BENCH_SEED gen-vault seed (default 1)
#   MODEL         an embedding model folder: the server runs hybrid search with it (the
#                 reindex beside it returns once every note has its vectors)
#   VAULTMCP_BIN  binary to measure (default: `cargo build --release`, then target/release/vaultmcp)
#   BENCH_DIR     where the vault and data dir live (default target/bench; the vault is cached
#                 there and regenerated only when the note count, seed or gen-vault changed)
#
# What it does: generate (or reuse) the vault, build release, start `serve --no-auth` on a free
# 127.0.0.1 port and let it index, `initialize` one session per client, then wrk keeps CLIENTS
# keep-alive connections busy POSTing `tools/call search` with ~30 varied queries (words,
# phrases, OR, exclusions, typos, tag:/path: operators), each request on the next session in
# turn. Prints requests/s, p50 and p99 latency, errors (non-200, socket errors, and replies
# that are not a search result), the machine's idle and hypervisor-stolen CPU shares during the
# load, and the server's peak RSS (VmHWM) beside the targets:
# p50 <= 3 ms, p99 <= 15 ms, no errors. Missed targets are reported, never a failing exit.
# Traffic goes to 127.0.0.1 only, and stops after DURATION.
set -euo pipefail

ORIG_PWD=$PWD
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/bench-common.sh
. scripts/bench-common.sh
bench_init bench-serve
DURATION=${DURATION:-30}
CLIENTS=${CLIENTS:-16}
WRK_THREADS=${WRK_THREADS:-2}
NOTES=${NOTES:-10000}
MODEL_ARGS=()
[[ -n "${MODEL:-}" ]] && MODEL_ARGS=(--model "$MODEL")

if ! command -v wrk >/dev/null; then
  say "installing wrk (Debian package)"
  (export DEBIAN_FRONTEND=noninteractive; apt-get install -y -qq wrk >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null; }) ||
    { say "wrk is needed: apt-get install wrk"; exit 2; }
fi
command -v curl >/dev/null || { say "curl is needed: apt-get install curl"; exit 2; }

# --- binary and vault ----------------------------------------------------------------------
bench_binary
VAULT=$(ensure_vault "$NOTES")

# --- server --------------------------------------------------------------------------------
RUN=$(mktemp -d "$BENCH_DIR/serve-run.XXXXXX")
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
BASE="http://127.0.0.1:$PORT"
: >"$RUN/config.toml"
env -u VAULTMCP_PUBLIC_URL -u VAULTMCP_CONFIG RUST_LOG=warn NO_COLOR=1 \
  "$BIN" serve --no-auth --bind "127.0.0.1:$PORT" --vault "$VAULT" --data-dir "$RUN/data" \
  --config "$RUN/config.toml" "${MODEL_ARGS[@]}" >"$RUN/serve.log" 2>&1 &
PID=$!
cleanup() {
  kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$RUN"
}
trap cleanup EXIT

say "starting the server and indexing $NOTES notes"
t0=$(date +%s%N)
for _ in $(seq 1 1200); do
  curl -fsS --max-time 1 "$BASE/healthz" >/dev/null 2>&1 && break
  kill -0 "$PID" 2>/dev/null || { cat "$RUN/serve.log" >&2; say "the server exited"; exit 1; }
  sleep 0.1
done
curl -fsS "$BASE/healthz" >/dev/null || { say "no /healthz after 120 s"; exit 1; }
# `serve` answers at once and indexes in its writer; `reindex` beside it hands the work to that
# writer over the control socket and returns when the index is complete.
env -u VAULTMCP_PUBLIC_URL -u VAULTMCP_CONFIG NO_COLOR=1 "$BIN" reindex --vault "$VAULT" \
  --data-dir "$RUN/data" --config "$RUN/config.toml" "${MODEL_ARGS[@]}" >"$RUN/reindex.log" 2>&1 ||
  { cat "$RUN/reindex.log" >&2; say "reindex beside the server failed"; exit 1; }
curl -fsS "$BASE/healthz" >"$RUN/health.json"
grep -q "\"notes\":${NOTES}[,}]" "$RUN/health.json" ||
  say "warning: healthz reports $(cat "$RUN/health.json"), expected $NOTES notes"
startup=$(awk -v ns=$(($(date +%s%N) - t0)) 'BEGIN { printf "%.1f", ns / 1e9 }')
say "ready in ${startup} s: $(cat "$RUN/health.json")"

# One MCP session per client: initialize + notifications/initialized.
: >"$RUN/sessions"
for i in $(seq 1 "$CLIENTS"); do
  sid=$(curl -fsS -D - -o /dev/null "$BASE/mcp" -H 'content-type: application/json' \
    -H 'accept: application/json, text/event-stream' \
    -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench-'"$i"'","version":"1"}}}' |
    awk 'tolower($1) == "mcp-session-id:" { sub(/\r$/, "", $2); print $2 }')
  [[ -n "$sid" ]] || { say "initialize returned no session id"; exit 1; }
  curl -fsS -o /dev/null "$BASE/mcp" -H 'content-type: application/json' \
    -H 'accept: application/json, text/event-stream' -H "mcp-session-id: $sid" \
    -H 'mcp-protocol-version: 2025-11-25' -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
  echo "$sid" >>"$RUN/sessions"
done

# --- load ----------------------------------------------------------------------------------
cat >"$RUN/search.lua" <<'LUA'
-- POST tools/call search, cycling through sessions and queries; counts replies that are not
-- a successful search result. Queries are JSON string literals.
local queries = {
  '"index"', '"cache latency"', '"token refresh"', '"query parser"', '"schema migration"',
  '"\\"distributed cache\\""', '"replica OR shard"', '"session -cookie"', '"scheduler worker queue"',
  '"tokenizr"', '"latncy percentile"', '"tag:#type/research"', '"path:research/2024"',
  '"benchmark throughput"', '"backlink graph"', '"consent redirect callback"', '"lock mutex"',
  '"snapshot checkpoint transaction"', '"gateway proxy balancer"', '"stream channel"',
  '"plugin extension module"', '"version release branch"', '"histogram sample"',
  '"leader follower partition"', '"certificate signature issuer"', '"[type:research] cache"',
  '"deployment container image"', '"kubernetes"', '"vault note folder"', '"zzqxv nothing"',
}
local sessions = {}
local n = 0
bad = 0
done_requests = 0

function init(args)
  for line in io.lines(args[1]) do sessions[#sessions + 1] = line end
  n = (tid or 0) * 1000 -- per-thread offset (setup runs first), so threads differ
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json, text/event-stream"
  wrk.headers["MCP-Protocol-Version"] = "2025-11-25"
end

function request()
  n = n + 1
  wrk.headers["Mcp-Session-Id"] = sessions[(n % #sessions) + 1]
  local q = queries[((n * 7) % #queries) + 1]
  local body = '{"jsonrpc":"2.0","id":' .. n ..
    ',"method":"tools/call","params":{"name":"search","arguments":{"query":' .. q .. '}}}'
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  done_requests = done_requests + 1
  if status ~= 200 or not string.find(body, '"structuredContent"', 1, true)
      or string.find(body, '"isError":true', 1, true) then
    bad = bad + 1
  end
end

local threads = {}
local tid = 0
function setup(thread)
  tid = tid + 1
  thread:set("tid", tid)
  threads[#threads + 1] = thread
end

function done(summary, latency, requests)
  local bad_total, seen = 0, 0
  for _, t in ipairs(threads) do
    bad_total = bad_total + t:get("bad")
    seen = seen + t:get("done_requests")
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
    "status_errors=%d socket_errors=%d bad_replies=%d checked=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.status, e.connect + e.read + e.write + e.timeout,
    bad_total, seen))
end
LUA

say "load: $CLIENTS clients ($WRK_THREADS wrk threads), $DURATION s, tools/call search"
rss_before=$(awk '/VmRSS/ { print $2 }' "/proc/$PID/status")
# The machine's CPU ticks (busy, idle, stolen by the hypervisor) around the load: on a VM the
# host takes time away unannounced, and a slow run with much stolen time is the host's doing.
cpu_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $6 + $7 + $8, $5, $9 }' /proc/stat; }
read -r busy0 idle0 steal0 < <(cpu_ticks)
wrk -t "$WRK_THREADS" -c "$CLIENTS" -d "${DURATION}s" --timeout 10s --latency \
  -s "$RUN/search.lua" "$BASE/mcp" -- "$RUN/sessions" >"$RUN/wrk.out" 2>&1 || {
  cat "$RUN/wrk.out" >&2
  say "wrk failed"
  exit 1
}
read -r busy1 idle1 steal1 < <(cpu_ticks)
ticks=$(((busy1 - busy0) + (idle1 - idle0) + (steal1 - steal0)))
((ticks > 0)) || ticks=1
idle_pct=$((100 * (idle1 - idle0) / ticks))
steal_pct=$((100 * (steal1 - steal0) / ticks))
hwm_kb=$(awk '/VmHWM/ { print $2 }' "/proc/$PID/status")
rss_kb=$(awk '/VmRSS/ { print $2 }' "/proc/$PID/status")
sed -n '1,/RESULT/p' "$RUN/wrk.out" | grep -v '^RESULT' >&2

line=$(grep '^RESULT' "$RUN/wrk.out")
get() { grep -o " $1=[0-9]*" <<<" ${line#RESULT}" | cut -d= -f2; }
requests=$(get requests)
duration_us=$(get duration_us)
p50=$(get p50_us)
p90=$(get p90_us)
p99=$(get p99_us)
max=$(get max_us)
errors=$(($(get status_errors) + $(get socket_errors) + $(get bad_replies)))

# --- report --------------------------------------------------------------------------------
awk -v req="$requests" -v dur="$duration_us" -v p50="$p50" -v p90="$p90" -v p99="$p99" \
  -v max="$max" -v err="$errors" -v se="$(get status_errors)" -v so="$(get socket_errors)" \
  -v bad="$(get bad_replies)" -v hwm="$hwm_kb" -v rssb="$rss_before" -v rss="$rss_kb" \
  -v idle="$idle_pct" -v steal="$steal_pct" -v notes="$NOTES" -v clients="$CLIENTS" -v secs="$DURATION" -v startup="$startup" 'BEGIN {
  ok = "ok"; miss = "MISSED"
  printf "\nvaultmcp serve: tools/call search over MCP, %d notes, %d clients, %d s\n", notes, clients, secs
  printf "  %-22s %12s   %s\n", "measure", "value", "target"
  printf "  %-22s %12.1f   -\n", "startup + index (s)", startup
  printf "  %-22s %12d   -\n", "requests", req
  printf "  %-22s %12.0f   -\n", "requests/s", req / (dur / 1e6)
  printf "  %-22s %12.2f   <= 3 ms    %s\n", "p50 latency (ms)", p50 / 1000, (p50 <= 3000 ? ok : miss)
  printf "  %-22s %12.2f   -\n", "p90 latency (ms)", p90 / 1000
  printf "  %-22s %12.2f   <= 15 ms   %s\n", "p99 latency (ms)", p99 / 1000, (p99 <= 15000 ? ok : miss)
  printf "  %-22s %12.2f   -\n", "max latency (ms)", max / 1000
  printf "  %-22s %12d   0          %s\n", "errors", err, (err == 0 ? ok : miss)
  printf "  %-22s %12s   -\n", "  (status/socket/bad)", se "/" so "/" bad
  printf "  %-22s %12d   -\n", "CPU idle (%)", idle
  printf "  %-22s %12d   -\n", "CPU stolen (%)", steal
  printf "  %-22s %12.1f   -\n", "RSS before load (MB)", rssb / 1024
  printf "  %-22s %12.1f   -\n", "RSS after load (MB)", rss / 1024
  printf "  %-22s %12.1f   -\n", "peak RSS, VmHWM (MB)", hwm / 1024
}'
