#!/usr/bin/env bash
# Freshness benchmark of `vaultmcp serve`: how soon an edit saved the way editors save
# (temp file, then rename over the note) is found by MCP `search`, how fast a restart on an
# existing index serves, and the peak memory while serving a 100,000-note vault.
#
# Usage: scripts/bench-freshness.sh        (from anywhere; paths are relative to the repo root)
# Environment:
#   EDITS         edits to time (default 50)
#   NOTES         vault size for the edits and the restart (default 10000)
#   BIG_NOTES     vault size for the memory figure (default 100000; 0 skips that part)
#   BENCH_SEED    gen-vault seed (default 1)
#   VAULTMCP_BIN  binary to measure (default: `cargo build --release`, then target/release/vaultmcp)
#   BENCH_DIR     where vaults and runs live (default target/bench; pristine vaults are cached
#                 there as vault-N-seedS, shared with bench-index.sh and bench-serve.sh; the
#                 edits go to a copy, never to the cached vault)
#
# What it does:
#   1. copies a 10,000-note vault (scripts/gen-vault) and starts
#      `serve --no-auth --bind 127.0.0.1:<free port>` on it with a new data dir; waits for
#      /healthz; opens an MCP session (initialize, notifications/initialized).
#   2. EDITS times: picks a note, writes it with a new unique word appended to `.<name>.md.tmp`
#      in the same folder (not a .md name, so never a note), renames it over the note, then
#      calls tools/call search for the word every 10 ms until the note's id is among the
#      results (timeout 5 s). Prints p50, p95, max against p50 <= 150 ms, p95 <= 300 ms.
#   3. SIGTERM, then starts `serve` again on the same data dir: time until /healthz answers and
#      until a search finds the last edited note (target <= 1 s).
#   4. starts `serve` on a 100,000-note vault with a new data dir, waits until the index holds
#      every note, runs searches, prints the server's peak RSS (VmHWM; target <= 250 MB), then
#      the same after a restart on that index (steady-state serving, no initial build).
# Missed targets are reported, never a failing exit. Traffic goes to 127.0.0.1 only.
set -euo pipefail

ORIG_PWD=$PWD
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/bench-common.sh
. scripts/bench-common.sh
bench_init bench-freshness
EDITS=${EDITS:-50}
NOTES=${NOTES:-10000}
BIG_NOTES=${BIG_NOTES:-100000}
# MODEL: an embedding model folder; the server then embeds every note (waited for before
# timing edits and reading memory), and each edit is embedded before its commit.
MODEL_ARGS=()
[[ -n "${MODEL:-}" ]] && MODEL_ARGS=(--model "$MODEL")

# --- binary and vaults -----------------------------------------------------------------------
bench_binary

RUN=$(mktemp -d "$BENCH_DIR/freshness-run.XXXXXX")
PID=""
STOP_S=""
stop_server() { # SIGTERM and wait (not in a subshell: `wait` needs the child); sets STOP_S
  [[ -n "$PID" ]] || return 0
  local t0
  t0=$(date +%s%N)
  kill -TERM "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=""
  STOP_S=$(awk -v ns=$(($(date +%s%N) - t0)) 'BEGIN { printf "%.2f", ns / 1e9 }')
}
cleanup() {
  stop_server
  rm -rf "$RUN"
}
trap cleanup EXIT

# start_server VAULT DATA LOG: starts serve on a free loopback port; sets PID, BASE, T_START
start_server() {
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  BASE="http://127.0.0.1:$port"
  T_START=$(date +%s%N)
  env -u VAULTMCP_PUBLIC_URL -u VAULTMCP_CONFIG -u VAULTMCP_BIND RUST_LOG=info NO_COLOR=1 \
    "$BIN" serve --no-auth --bind "127.0.0.1:$port" --vault "$1" --data-dir "$2" \
    --config "$RUN/config.toml" "${MODEL_ARGS[@]}" >>"$3" 2>&1 &
  PID=$!
}

# wait_vectors: with a model, polls /healthz until every note has its vectors (bounded)
wait_vectors() {
  [[ -n "${MODEL:-}" ]] || return 0
  local t0 i
  t0=$(date +%s%N)
  for i in $(seq 1 36000); do
    curl -fsS --max-time 1 "$BASE/healthz" 2>/dev/null | grep -q '"index":"ready".*"vectors":"ready"' && break
    kill -0 "$PID" 2>/dev/null || { say "the server exited"; exit 1; }
    sleep 0.1
  done
  say "vectors complete after $(( ($(date +%s%N) - t0) / 1000000 )) ms more: $(curl -fsS "$BASE/healthz")"
}
: >"$RUN/config.toml"

# --- the MCP client (Python 3 stdlib) ----------------------------------------------------------
cat >"$RUN/client.py" <<'PY'
"""MCP client for bench-freshness.sh: JSON or SSE replies, stdlib only."""
import http.client
import json
import os
import random
import re
import statistics
import string
import sys
import time
import urllib.parse

PROTOCOL = "2025-11-25"


class Mcp:
    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port
        self.session = None
        self.next_id = 0

    def _request(self, method, path, body=None, headers=None):
        # A new connection per request, as curl and urllib do: the timing then never depends
        # on keep-alive (a server without TCP_NODELAY makes each SSE reply on a kept-alive
        # connection wait ~40 ms for a delayed ACK; serve sets it since 9181bf4).
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers={**(headers or {}), "connection": "close"})
            resp = conn.getresponse()
            return resp, resp.read()
        finally:
            conn.close()

    def healthz(self):
        resp, data = self._request("GET", "/healthz")
        if resp.status != 200:
            raise RuntimeError(f"/healthz answered {resp.status}")
        return json.loads(data)

    def post(self, message):
        headers = {
            "content-type": "application/json",
            "accept": "application/json, text/event-stream",
            "mcp-protocol-version": PROTOCOL,
        }
        if self.session:
            headers["mcp-session-id"] = self.session
        resp, data = self._request("POST", "/mcp", json.dumps(message).encode(), headers)
        if resp.status >= 400:
            raise RuntimeError(f"POST /mcp {message.get('method')}: {resp.status} {data[:200]!r}")
        sid = resp.getheader("mcp-session-id")
        if sid:
            self.session = sid
        if "id" not in message:
            return None
        text = data.decode("utf-8", "replace")
        if "text/event-stream" in (resp.getheader("content-type") or ""):
            # SSE: the reply is the `data:` event that carries our id.
            for event in re.split(r"\r?\n\r?\n", text):
                payload = "\n".join(
                    line[5:].lstrip(" ") for line in event.splitlines() if line.startswith("data:")
                )
                if payload.strip():
                    obj = json.loads(payload)
                    if obj.get("id") == message["id"]:
                        return obj
            raise RuntimeError(f"no reply with id {message['id']} in the event stream")
        return json.loads(text)

    def call(self, method, params):
        self.next_id += 1
        reply = self.post({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def initialize(self):
        self.call(
            "initialize",
            {
                "protocolVersion": PROTOCOL,
                "capabilities": {},
                "clientInfo": {"name": "bench-freshness", "version": "1"},
            },
        )
        self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def search_ids(self, query):
        result = self.call("tools/call", {"name": "search", "arguments": {"query": query}})
        if result.get("isError"):
            raise RuntimeError(f"search {query!r}: {result}")
        obj = result.get("structuredContent") or json.loads(result["content"][0]["text"])
        return [r["id"] for r in obj["results"]]


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def wait_healthz(mcp, pid, t_start_ns, timeout_s):
    """Polls /healthz every 5 ms; returns (ms since t_start_ns, the health object)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            health = mcp.healthz()
            return (time.time_ns() - t_start_ns) / 1e6, health
        except (OSError, RuntimeError, http.client.HTTPException, ValueError):
            pass
        if not alive(pid):
            sys.exit("the server exited (see its log above)")
        if time.monotonic() > deadline:
            sys.exit(f"no /healthz after {timeout_s} s")
        time.sleep(0.005)


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, max(0, round(p / 100 * len(v) + 0.5) - 1))]


def cmd_freshness(base, pid, vault, edits, last_file):
    mcp = Mcp(base)
    wait_healthz(mcp, pid, time.time_ns(), 600)
    mcp.initialize()
    notes = sorted(
        os.path.relpath(os.path.join(d, f), vault).replace(os.sep, "/")
        for d, _, files in os.walk(vault)
        for f in files
        if f.endswith(".md") and "/." not in "/" + os.path.relpath(d, vault)
    )
    rng = random.Random(20261125)
    picks = rng.sample(notes, min(edits, len(notes)))
    times, missed = [], 0
    last = None
    for n, note_id in enumerate(picks, 1):
        word = "vmq" + "".join(rng.choice(string.ascii_lowercase) for _ in range(12))
        path = os.path.join(vault, note_id)
        folder, name = os.path.split(path)
        tmp = os.path.join(folder, "." + name + ".tmp")  # ends in .tmp: never a note
        with open(path, encoding="utf-8") as f:
            text = f.read()
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text.rstrip("\n") + f"\n\nFreshness check: {word}.\n")
        os.replace(tmp, path)  # the save is complete here
        t0 = time.perf_counter()
        found = None
        next_poll = 0.0
        while True:
            hit = note_id in mcp.search_ids(word)
            elapsed = time.perf_counter() - t0
            if hit:
                found = elapsed * 1000
                break
            if elapsed > 5.0:
                break
            next_poll += 0.010  # polls start every 10 ms
            time.sleep(max(0.0, next_poll - (time.perf_counter() - t0)))
        if found is None:
            missed += 1
            print(f"  edit {n:2}: {note_id} not found within 5 s", file=sys.stderr)
        else:
            times.append(found)
            last = (word, note_id)
        time.sleep(0.05)  # a pause between saves, as when typing in one note, then another
    if last is None and picks:
        last = (word, picks[-1])  # the restart check then tests the start-up catch-up
    with open(last_file, "w") as f:
        json.dump({"word": last[0], "id": last[1]}, f)
    print(json.dumps({
        "edits": len(picks),
        "found": len(times),
        "missed": missed,
        "p50": statistics.median(times) if times else None,
        "p95": pct(times, 95) if times else None,
        "max": max(times) if times else None,
    }))


def cmd_restart(base, pid, t_start_ns, last_file):
    """Time from process start until /healthz answers, then until search finds the last edit."""
    with open(last_file) as f:
        last = json.load(f)
    mcp = Mcp(base)
    health_ms, _ = wait_healthz(mcp, pid, t_start_ns, 120)
    mcp.initialize()
    deadline = time.monotonic() + 30
    while True:
        ids = mcp.search_ids(last["word"])
        if last["id"] in ids:
            break
        if time.monotonic() > deadline:
            sys.exit(f"after the restart, search {last['word']!r} never found {last['id']}")
        time.sleep(0.005)
    search_ms = (time.time_ns() - t_start_ns) / 1e6
    print(json.dumps({"healthz_ms": health_ms, "search_ms": search_ms}))


def cmd_ready(base, pid, t_start_ns, expected, log):
    """Waits until /healthz reports every note (or the log says the index is ready)."""
    mcp = Mcp(base)
    health_ms, health = wait_healthz(mcp, pid, t_start_ns, 3600)
    while health.get("notes") != expected:
        with open(log, errors="replace") as f:
            if "index ready" in f.read():
                break
        if not alive(pid):
            sys.exit("the server exited")
        time.sleep(0.1)
        health = mcp.healthz()
    ready_ms = (time.time_ns() - t_start_ns) / 1e6
    mcp.initialize()
    lat = []
    for q in ["index", "cache latency", "token refresh", "\"distributed cache\"", "replica OR shard",
              "tag:#type/research", "path:research/2024", "scheduler worker queue", "tokenizr",
              "snapshot checkpoint transaction"] * 2:
        t0 = time.perf_counter()
        mcp.search_ids(q)
        lat.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({"healthz_ms": health_ms, "ready_ms": ready_ms, "notes": health.get("notes"),
                      "search_p50_ms": statistics.median(lat), "search_max_ms": max(lat)}))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "freshness":
        cmd_freshness(args[0], int(args[1]), args[2], int(args[3]), args[4])
    elif cmd == "restart":
        cmd_restart(args[0], int(args[1]), int(args[2]), args[3])
    elif cmd == "ready":
        cmd_ready(args[0], int(args[1]), int(args[2]), int(args[3]), args[4])
    else:
        sys.exit(f"unknown command {cmd}")
PY
client() { python3 "$RUN/client.py" "$@"; }
jget() { python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("-" if v is None else (f"{v:.1f}" if isinstance(v, float) else v))' "$1" "$2"; }
kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$PID/status"; }

# --- 1-2: freshness on NOTES notes -------------------------------------------------------------
SRC_VAULT=$(ensure_vault "$NOTES")
VAULT="$RUN/vault"
say "copying the vault to $VAULT (edits never touch the cached one)"
cp -a "$SRC_VAULT" "$VAULT"
LOG="$RUN/serve.log"
start_server "$VAULT" "$RUN/data" "$LOG"
say "indexing $NOTES notes and starting the server (log: $LOG)"
if [[ -n "${MODEL:-}" ]]; then
  for _ in $(seq 1 600); do curl -fsS --max-time 1 "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  wait_vectors
fi
say "timing $EDITS edits (temp file + rename), polling search every 10 ms"
fresh=$(client freshness "$BASE" "$PID" "$VAULT" "$EDITS" "$RUN/last.json") || {
  tail -20 "$LOG" >&2
  exit 1
}

# --- 3: restart on the same data dir -------------------------------------------------------------
stop_server
stop_s=$STOP_S
say "stopped with SIGTERM in ${stop_s} s; restarting on the same index"
start_server "$VAULT" "$RUN/data" "$LOG"
restart=$(client restart "$BASE" "$PID" "$T_START" "$RUN/last.json") || {
  tail -20 "$LOG" >&2
  exit 1
}
stop_server

# --- 4: peak RSS on BIG_NOTES notes --------------------------------------------------------------
big="" big2="" hwm="" rss="" hwm2="" rss2=""
if [[ "$BIG_NOTES" -gt 0 ]]; then
  BIG_VAULT=$(ensure_vault "$BIG_NOTES")
  expected=$(find "$BIG_VAULT" -name '*.md' -not -path '*/.*' | wc -l)
  BIG_LOG="$RUN/serve-big.log"
  say "serving $BIG_NOTES notes with a new data dir (log: $BIG_LOG)"
  start_server "$BIG_VAULT" "$RUN/data-big" "$BIG_LOG"
  big=$(client ready "$BASE" "$PID" "$T_START" "$expected" "$BIG_LOG") || {
    tail -20 "$BIG_LOG" >&2
    exit 1
  }
  wait_vectors
  hwm=$(kb VmHWM)
  rss=$(kb VmRSS)
  stop_server
  say "restarting on the $BIG_NOTES-note index"
  start_server "$BIG_VAULT" "$RUN/data-big" "$BIG_LOG"
  big2=$(client ready "$BASE" "$PID" "$T_START" "$expected" "$BIG_LOG") || {
    tail -20 "$BIG_LOG" >&2
    exit 1
  }
  hwm2=$(kb VmHWM)
  rss2=$(kb VmRSS)
  stop_server
fi

# --- report ----------------------------------------------------------------------------------
mark() { awk -v v="$1" -v t="$2" 'BEGIN { if (v == "-") print "n/a"; else print (v + 0 <= t + 0 ? "ok" : "MISSED") }'; }
mb() { awk -v k="$1" 'BEGIN { if (k == "") print "-"; else printf "%.1f\n", k / 1024 }'; }
p50=$(jget "$fresh" p50)
p95=$(jget "$fresh" p95)
mx=$(jget "$fresh" max)
r_h=$(jget "$restart" healthz_ms)
r_s=$(jget "$restart" search_ms)
echo
echo "vaultmcp serve: freshness, restart and memory ($NOTES-note vault, $EDITS edits)"
printf '  %-36s %10s   %-12s %s\n' "measure" "value" "target" ""
printf '  %-36s %10s   %-12s %s\n' "edits found within 5 s" "$(jget "$fresh" found)/$(jget "$fresh" edits)" "all" \
  "$([[ "$(jget "$fresh" missed)" == 0 ]] && echo ok || echo MISSED)"
printf '  %-36s %10s   %-12s %s\n' "save -> searchable p50 (ms)" "$p50" "<= 150" "$(mark "$p50" 150)"
printf '  %-36s %10s   %-12s %s\n' "save -> searchable p95 (ms)" "$p95" "<= 300" "$(mark "$p95" 300)"
printf '  %-36s %10s   %-12s %s\n' "save -> searchable max (ms)" "$mx" "-" ""
printf '  %-36s %10s   %-12s %s\n' "graceful stop, SIGTERM (s)" "$stop_s" "-" ""
printf '  %-36s %10s   %-12s %s\n' "restart: /healthz answers (ms)" "$r_h" "<= 1000" "$(mark "$r_h" 1000)"
printf '  %-36s %10s   %-12s %s\n' "restart: search finds last edit (ms)" "$r_s" "<= 1000" "$(mark "$r_s" 1000)"
if [[ -n "$big" ]]; then
  echo
  echo "vaultmcp serve: $BIG_NOTES-note vault"
  printf '  %-36s %10s   %-12s %s\n' "first start: index ready (s)" \
    "$(awk -v ms="$(jget "$big" ready_ms)" 'BEGIN { printf "%.1f", ms / 1000 }')" "-" ""
  printf '  %-36s %10s   %-12s %s\n' "notes in the index" "$(jget "$big" notes)" "$expected" ""
  printf '  %-36s %10s   %-12s %s\n' "search p50 / max (ms)" "$(jget "$big" search_p50_ms) / $(jget "$big" search_max_ms)" "-" ""
  printf '  %-36s %10s   %-12s %s\n' "peak RSS incl. first index (MB)" "$(mb "$hwm")" "<= 250" "$(mark "$(mb "$hwm")" 250)"
  printf '  %-36s %10s   %-12s %s\n' "RSS after searches (MB)" "$(mb "$rss")" "-" ""
  printf '  %-36s %10s   %-12s %s\n' "restart: index ready (s)" \
    "$(awk -v ms="$(jget "$big2" ready_ms)" 'BEGIN { printf "%.1f", ms / 1000 }')" "-" ""
  printf '  %-36s %10s   %-12s %s\n' "peak RSS after restart (MB)" "$(mb "$hwm2")" "<= 250" "$(mark "$(mb "$hwm2")" 250)"
  printf '  %-36s %10s   %-12s %s\n' "RSS after restart + searches (MB)" "$(mb "$rss2")" "-" ""
fi
