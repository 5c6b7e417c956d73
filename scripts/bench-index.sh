#!/usr/bin/env bash
# Indexing and search benchmark for vaultmcp on synthetic vaults (scripts/gen-vault).
#
# Usage: scripts/bench-index.sh            (from anywhere; paths are relative to the repo root)
# Environment:
#   VAULTMCP_BIN   binary to measure (default target/release/vaultmcp, built with cargo if unset)
#   BENCH_DIR      where vaults and data dirs live (default target/bench; vaults are cached there
#                  and regenerated only when the note count, seed or gen-vault itself changed)
#   BENCH_SIZES    note counts to test (default "10000 100000")
#   BENCH_SEED     gen-vault seed (default 1)
#   SEARCH_RUNS    timed runs per query (default 7, after one warm-up run)
#   BENCH_NO_GNU_TIME=1  pretend /usr/bin/time is missing (tests the fallback)
#
# For each size: a full reindex into a fresh data dir (wall time and peak RSS from
# /usr/bin/time -v), a no-change reindex, the index size, and ~20 queries each run as a whole
# `vaultmcp search` process (median and p95 over all runs), alone (it walks the vault to check
# the index is current) and beside a running `serve` (which keeps it current). Ends with a table against the
# targets (10k reindex <= 1.5 s, 100k <= 20 s, other sizes n/5000 s; search <= 20 ms). Missed
# targets are reported, never turned into a failing exit status.
set -euo pipefail

ORIG_PWD=$PWD
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/bench-common.sh
. scripts/bench-common.sh
bench_init bench
SIZES=${BENCH_SIZES:-10000 100000}
RUNS=${SEARCH_RUNS:-7}

bench_binary

if [[ -z "${BENCH_NO_GNU_TIME:-}" && -x /usr/bin/time ]] && /usr/bin/time -v true >/dev/null 2>&1; then
    HAVE_GNU_TIME=1
else
    HAVE_GNU_TIME=0
    echo "bench: /usr/bin/time (GNU time) not found; wall time via date, peak RSS unavailable" >&2
    echo "       (install it with: apt-get install time)" >&2
fi
HAVE_HYPERFINE=0
command -v hyperfine >/dev/null 2>&1 && HAVE_HYPERFINE=1

now_ns() { date +%s%N; }

# run_timed LABEL CMD...  -> sets T_WALL (seconds, 2 decimals), T_RSS (MB or n/a), T_OK (0/1)
run_timed() {
    local label=$1; shift
    local log="$BENCH_DIR/$label.time" out="$BENCH_DIR/$label.out"
    T_OK=1
    if [[ $HAVE_GNU_TIME == 1 ]]; then
        /usr/bin/time -v -o "$log" "$@" </dev/null >"$out" 2>&1 || T_OK=0
        T_WALL=$(awk -F': ' '/Elapsed \(wall clock\)/ {
                    n = split($2, p, ":"); s = 0
                    for (i = 1; i <= n; i++) s = s * 60 + p[i]
                    printf "%.2f", s }' "$log")
        T_RSS=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$log")
    else
        local t0; t0=$(now_ns)
        "$@" </dev/null >"$out" 2>&1 || T_OK=0
        T_WALL=$(awk -v ns=$(( $(now_ns) - t0 )) 'BEGIN { printf "%.2f", ns / 1e9 }')
        T_RSS="n/a"
    fi
    if [[ $T_OK == 0 ]]; then
        echo "bench: '$*' failed; its output:" >&2
        tail -n 5 "$out" >&2
    fi
}

# pick_queries VAULT -> ~20 queries (one per line) drawn from words that occur in the vault:
# frequent words, mid-frequency words, rare long-tail terms, pairs and a title, one miss.
pick_queries() {
    python3 - "$1" <<'PY'
import collections, os, random, re, sys
root = os.path.join(sys.argv[1], "research")
files = []
for d in sorted(os.listdir(root)):
    files.extend(os.path.join(root, d, f) for f in sorted(os.listdir(os.path.join(root, d))))
rng = random.Random(42)
sample = [files[i] for i in sorted(rng.sample(range(len(files)), min(300, len(files))))]
stop = set("the a an this that each every some our their its in on for with without during after "
           "before across between within under over and which is because we i team found "
           "measured noticed expected confirmed see also details ms reviewer benchmark "
           "profiler author manuel dana jörg type year month project topic".split())
freq = collections.Counter()
titles = []
for p in sample:
    text = open(p, encoding="utf-8").read()
    body = text.split("\n---\n", 1)[-1]
    m = re.search(r"^# (.+)$", body, re.M)
    if m:
        titles.append(m.group(1))
    freq.update(w for w in re.findall(r"[a-zà-ÿ]+", body.lower()) if w not in stop and len(w) > 2)
ranked = [w for w, _ in freq.most_common()]
n = len(ranked)
common = ranked[:40]
mid = ranked[n // 10: n // 4] or ranked
rare = [w for w, c in freq.items() if c == 1] or ranked[-20:]
qs = rng.sample(common, 5) + rng.sample(mid, 5) + rng.sample(sorted(rare), 4)
qs += [f"{a} {b}" for a, b in zip(rng.sample(common, 2), rng.sample(mid, 2))]
qs.append(f"{rng.choice(mid)} {rng.choice(sorted(rare))}")
qs += [t.lower() for t in rng.sample(titles, 2)]
qs.append("zzqxvplonk")  # matches nothing
print("\n".join(qs))
PY
}

# percentile over a file of numbers: pct FILE P -> value (nearest rank)
pct() { sort -n "$1" | awk -v p="$2" '{ a[NR] = $1 } END {
        if (NR == 0) { print "n/a"; exit }
        i = int((p / 100) * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR
        printf "%.1f", a[i] }'; }

# time_searches N VAULT DATA LABEL -> S_MED, S_P95, S_FAIL over the queries in "${queries[@]}"
time_searches() {
    local n=$1 vault=$2 data=$3 label=$4 times qt fails q i t0
    times="$BENCH_DIR/search-$n-$label.ms"
    : >"$times"
    fails=0
    printf '  %-45s %8s %8s\n' "query ($RUNS runs each)" "median" "max" >&2
    for q in "${queries[@]}"; do
        qt="$BENCH_DIR/search-$n-$label.q.ms"
        : >"$qt"
        if [[ $HAVE_HYPERFINE == 1 ]]; then
            if hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$BENCH_DIR/hf.json" \
                "$(printf '%q ' "$BIN" search --vault "$vault" --data-dir "$data" --limit 10 -- "$q")" \
                >/dev/null 2>&1; then
                python3 -c 'import json,sys; [print(t*1000) for t in json.load(open(sys.argv[1]))["results"][0]["times"]]' \
                    "$BENCH_DIR/hf.json" >>"$qt"
            else
                fails=$((fails + 1))
            fi
        else
            "$BIN" search --vault "$vault" --data-dir "$data" --limit 10 -- "$q" </dev/null >/dev/null 2>&1 || true
            for ((i = 0; i < RUNS; i++)); do
                t0=$(now_ns)
                if "$BIN" search --vault "$vault" --data-dir "$data" --limit 10 -- "$q" </dev/null >/dev/null 2>"$BENCH_DIR/search.err"; then
                    echo $(( ($(now_ns) - t0) / 1000 )) | awk '{ printf "%.3f\n", $1 / 1000 }' >>"$qt"
                else
                    fails=$((fails + 1))
                    break
                fi
            done
        fi
        printf '  %-45s %8s %8s\n' "\"${q:0:42}\"" "$(pct "$qt" 50)" "$(pct "$qt" 100)" >&2
        cat "$qt" >>"$times"
    done
    S_MED=$(pct "$times" 50)
    S_P95=$(pct "$times" 95)
    S_FAIL=$fails
    echo "bench: search ($label) median $S_MED ms, p95 $S_P95 ms, $fails failed queries" >&2
}

declare -A R_WALL R_RSS R_NOOP R_SIZE R_MED R_P95 R_FAIL R_SMED R_SP95
for n in $SIZES; do
    echo "== $n notes ==" >&2
    vault=$(ensure_vault "$n")
    data="$BENCH_DIR/data-$n"
    rm -rf "$data"
    sync
    run_timed "reindex-$n" "$BIN" reindex --full --vault "$vault" --data-dir "$data"
    R_WALL[$n]=$T_WALL; R_RSS[$n]=$T_RSS
    [[ $T_OK == 1 ]] || R_WALL[$n]="failed"
    echo "bench: full reindex ${R_WALL[$n]} s, peak RSS ${R_RSS[$n]} MB" >&2
    run_timed "noop-$n" "$BIN" reindex --vault "$vault" --data-dir "$data"
    R_NOOP[$n]=$T_WALL
    [[ $T_OK == 1 ]] || R_NOOP[$n]="failed"
    R_SIZE[$n]=$( (du -sh "$data" 2>/dev/null || echo "n/a") | cut -f1)
    echo "bench: no-change reindex ${R_NOOP[$n]} s, index size ${R_SIZE[$n]}" >&2

    mapfile -t queries < <(pick_queries "$vault")
    time_searches "$n" "$vault" "$data" alone
    R_MED[$n]=$S_MED; R_P95[$n]=$S_P95; R_FAIL[$n]=$S_FAIL
    # The laptop setup: `serve` runs and keeps the index current, so `search` skips the
    # vault walk that checks freshness and just reads the index.
    "$BIN" serve --no-auth --bind 127.0.0.1:0 --vault "$vault" --data-dir "$data" >"$BENCH_DIR/serve-$n.log" 2>&1 &
    serve_pid=$!
    for ((i = 0; i < 200; i++)); do [[ -S "$data/control.sock" ]] && break; sleep 0.05; done
    time_searches "$n" "$vault" "$data" beside-serve
    R_SMED[$n]=$S_MED; R_SP95[$n]=$S_P95
    kill -TERM "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null || true
done

verdict() { # verdict VALUE LIMIT -> ok / MISSED / n/a
    awk -v v="$1" -v l="$2" 'BEGIN { if (v !~ /^[0-9.]+$/) print "n/a"; else if (v + 0 <= l + 0) print "ok"; else print "MISSED" }'
}
target_reindex() { case "$1" in 10000) echo 1.5 ;; 100000) echo 20 ;; *) awk -v n="$1" 'BEGIN { printf "%.1f", n / 5000 }' ;; esac; }

echo
echo "vaultmcp benchmark  ($(basename "$BIN"), seed $SEED, $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ))"
printf '%-10s %-22s %12s %10s  %s\n' "notes" "metric" "value" "target" "status"
for n in $SIZES; do
    t=$(target_reindex "$n")
    printf '%-10s %-22s %12s %10s  %s\n' "$n" "full reindex (s)" "${R_WALL[$n]}" "<= $t" "$(verdict "${R_WALL[$n]}" "$t")"
    printf '%-10s %-22s %12s %10s  %s\n' "$n" "peak RSS (MB)" "${R_RSS[$n]}" "-" ""
    printf '%-10s %-22s %12s %10s  %s\n' "$n" "no-change reindex (s)" "${R_NOOP[$n]}" "-" ""
    printf '%-10s %-22s %12s %10s  %s\n' "$n" "index size" "${R_SIZE[$n]}" "-" ""
    printf '%-10s %-22s %12s %10s  %s\n' "$n" "search median (ms)" "${R_MED[$n]}" "<= 20" "$(verdict "${R_MED[$n]}" 20)"
    printf '%-10s %-22s %12s %10s  %s\n' "$n" "search p95 (ms)" "${R_P95[$n]}" "<= 20" "$(verdict "${R_P95[$n]}" 20)"
    printf '%-10s %-22s %12s %10s  %s\n' "$n" "  beside serve, median" "${R_SMED[$n]}" "<= 20" "$(verdict "${R_SMED[$n]}" 20)"
    printf '%-10s %-22s %12s %10s  %s\n' "$n" "  beside serve, p95" "${R_SP95[$n]}" "<= 20" "$(verdict "${R_SP95[$n]}" 20)"
    [[ "${R_FAIL[$n]}" == 0 ]] || printf '%-10s %-22s %12s\n' "$n" "failed searches" "${R_FAIL[$n]}"
done
exit 0
