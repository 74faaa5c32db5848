#!/usr/bin/env bash
# Samples where herald-server spends its CPU during P1 (max-rate produce, 1 partition x 100 B,
# acks LEADER) with `perf record` (software cpu-clock event: this VM exposes no hardware counters).
#   bench/herald_bench/profile_p1.sh [OUT_DIR]   (default bench-out/profile-<UTC time>)
# Writes perf.data, report-self.txt (flat, by symbol), report-children.txt (inclusive, call graph),
# bench.md (the P1 figures measured while sampling) and server.log.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${HERALD_BUILD_DIR:-$REPO/build/bench}"
OUT="${1:-$REPO/bench-out/profile-$(date -u +%Y%m%dT%H%M%SZ)}"
SAMPLE_S="${SAMPLE_S:-8}"
mkdir -p "$OUT/data"
"$BUILD/server/herald-server" --listen 127.0.0.1:0 --metrics_listen 127.0.0.1:0 --data_dir "$OUT/data" \
  --ready_file "$OUT/ready.json" --log_level warn > "$OUT/server.log" 2>&1 &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; rm -rf "$OUT/data"' EXIT
for _ in $(seq 100); do [[ -s "$OUT/ready.json" ]] && break; sleep 0.1; done
PORT="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["grpc_port"])' "$OUT/ready.json")"
# Sampling starts after the 2 s warm-up and covers the first P1 run (1 partition x 100 B) only.
"$BUILD/bench/herald-bench" --brokers "127.0.0.1:$PORT" --server_pid "$SERVER_PID" --scenarios P1 \
  --warmup_s 2 --duration_s "$((SAMPLE_S + 2))" --markdown "$OUT/bench.md" &
BENCH_PID=$!
sleep 2.5
perf record -e cpu-clock -F 499 --call-graph dwarf,16384 -p "$SERVER_PID" -o "$OUT/perf.data" \
  -- sleep "$SAMPLE_S" 2> "$OUT/perf-record.log"
wait "$BENCH_PID" || true
perf report -i "$OUT/perf.data" --no-children --sort symbol --stdio --percent-limit 0.7 -g none \
  > "$OUT/report-self.txt" 2>/dev/null
perf report -i "$OUT/perf.data" --children --sort symbol --stdio --percent-limit 3 -g none \
  > "$OUT/report-children.txt" 2>/dev/null
perf report -i "$OUT/perf.data" --no-children --sort dso --stdio > "$OUT/report-dso.txt" 2>/dev/null
echo "profile in $OUT" >&2
