#!/usr/bin/env bash
# Runs the peer brokers side by side on this machine: alternating, several rounds, same record sizes,
# partition counts and durability settings, every result one JSON line with its settings.
#   bench/peers/run.sh [--rounds N] [--scenarios P1,P2,L1,F1,C1] [--peers kafka,nats,redis]
#                      [--durability default,fsync[,memory]] [--scale F] [--out DIR] [--skip-install]
#   --peers may include herald (bench/peers/herald.sh; build herald-server and herald-bench first, see
#   bench/README.md); the summary then also has ratios.md: Herald/peer medians per scenario.
# Scenarios (OpenMessaging Benchmark workloads, scaled down; record counts are multiplied by --scale):
#   P1  produce at max rate, 1 partition, 100 B records        (1,000,000 records)
#   P2  produce at max rate, 16 partitions, 1 KB records       (200,000 records)
#   L1  latency, 1 partition, 100 B, one record in flight      (5,000 records)
#       kafka: EndToEndLatency (produce -> consume); nats: synchronous JetStream publish;
#       redis: XADD with 1 client, no pipelining (produce -> ack only)
#   F1  produce at a fixed rate ($F1_RATE records/s, default 10,000), 16 partitions, 1 KB (200,000 records)
#       kafka only: ProducerPerformance --throughput (send->ack latency); nats/redis tools have no such mode
#   C1  consume a backlog of P1's size, 1 partition, 100 B, one consumer (the backlog is produced first)
#       kafka: ConsumerPerformance (fetch phase); nats: ordered consumer; redis: XRANGE pages of 100
# Each round starts every peer afresh (empty temp data dir) per durability mode, in a rotated order so no peer
# always runs first; a warm-up run precedes the measurements and is discarded.
# Output: bench-out/peers-<UTC time>/{machine.json,results.jsonl,summary.md,summary.json,logs/}.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ROUNDS=3
SCENARIOS="P1,P2,L1"
PEERS="kafka,nats,redis"
DURABILITIES="default,fsync"
SCALE=1
OUT=""
SKIP_INSTALL=0
REPO_ROOT="$(cd "$PEERS_DIR/../.." && pwd)"

parse_args() {
  while (( $# )); do
    case "$1" in
      --rounds) ROUNDS="$2" ;; --scenarios) SCENARIOS="$2" ;; --peers) PEERS="$2" ;;
      --durability) DURABILITIES="$2" ;; --scale) SCALE="$2" ;; --out) OUT="$2" ;;
      --skip-install) SKIP_INSTALL=1; shift; continue ;;
      -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
      *) die "unknown arg $1 (see --help)" ;;
    esac
    shift 2
  done
  [[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer"
  [[ -n "$OUT" ]] || OUT="$REPO_ROOT/bench-out/peers-$(date -u +%Y%m%dT%H%M%SZ)"
}

scaled() {  # $1 base record count -> count * SCALE, at least 1000
  python3 -c "import sys; print(max(1000, int(float(sys.argv[1]) * float(sys.argv[2]))))" "$1" "$SCALE"
}

machine_info() {
  python3 - "$@" <<'PY'
import json, os, platform, subprocess, sys
def sh(cmd):
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    return (r.stdout + r.stderr).strip()
info = {
    "nproc": os.cpu_count(),
    "cpu_model": sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip(),
    "mem_total_bytes": int(sh("awk '/MemTotal/ {print $2}' /proc/meminfo") or 0) * 1024,
    "kernel": platform.release(),
    "data_fs": sh(f"df -T {sys.argv[1]} | tail -1"),
    "loadavg_at_start": sh("cat /proc/loadavg"),
    "versions": {
        "kafka": sys.argv[2], "java": sh("java -version 2>&1 | head -1"),
        "nats_server": sh("nats-server --version"), "natscli": sys.argv[3],
        "redis": sh("redis-server --version"), "redis_benchmark": sh("redis-benchmark --version"),
    },
    "herald_commit": sh(f"git -C {sys.argv[4]} rev-parse HEAD"),
    "note": "shared 2-core machine: compare peers within one run, as medians of rounds, not across runs",
}
print(json.dumps(info, indent=2, sort_keys=True))
PY
}

# emit_status KIND peer scenario durability reason: a line saying why a measurement is absent.
emit_status() {
  python3 -c 'import json,os,sys
d={"status":sys.argv[1],"peer":sys.argv[2],"scenario":sys.argv[3],"durability":sys.argv[4],"reason":sys.argv[5]}
for kv in os.environ.get("HERALD_BENCH_TAGS","").split(): k,_,v=kv.partition("="); d[k]=v
print(json.dumps(d, sort_keys=True))' "$@" >> "$OUT/results.jsonl"
}

F1_RATE="${F1_RATE:-10000}"      # records/s offered in F1 (1 KB records: ~10 MB/s)
KAFKA_ACKS="${KAFKA_ACKS:-all}"   # single node, RF=1: acks=all and acks=1 wait for the same (one) replica
MEASURE_TIMEOUT_S="${MEASURE_TIMEOUT_S:-900}"

# scenario_args PEER SCENARIO: prints the peer script's subcommand and arguments, or nothing if not supported.
scenario_args() {
  local peer="$1" scenario="$2" p1 p2 l1
  p1="$(scaled 1000000)"; p2="$(scaled 200000)"; l1="$(scaled 5000)"
  case "$peer:$scenario" in
    kafka:P1) echo "produce-perf --records $p1 --size 100 --partitions 1 --acks $KAFKA_ACKS" ;;
    kafka:P2) echo "produce-perf --records $p2 --size 1024 --partitions 16 --acks $KAFKA_ACKS" ;;
    kafka:L1) echo "e2e-latency --records $l1 --size 100 --acks $KAFKA_ACKS" ;;
    kafka:F1) echo "produce-perf --records $p2 --size 1024 --partitions 16 --acks $KAFKA_ACKS --throughput $F1_RATE" ;;
    kafka:C1) echo "consume-perf --records $p1 --size 100 --partitions 1" ;;
    nats:P1) echo "pub --records $p1 --size 100 --partitions 1" ;;
    nats:P2) echo "pub --records $p2 --size 1024 --partitions 16" ;;
    nats:L1) echo "pub --records $l1 --size 100 --batch 1" ;;
    nats:C1) echo "consume --records $p1 --size 100" ;;
    redis:P1) echo "xadd --records $p1 --size 100 --partitions 1" ;;
    redis:P2) echo "xadd --records $p2 --size 1024 --partitions 16" ;;
    redis:L1) echo "xadd --records $l1 --size 100 --clients 1 --pipeline 1" ;;
    redis:C1) echo "xrange --records $p1 --size 100 --page 100" ;;
    herald:P1) echo "produce --records $p1 --size 100 --partitions 1" ;;
    herald:P2) echo "produce --records $p2 --size 1024 --partitions 16" ;;
    herald:L1) echo "e2e-latency --records $l1 --size 100" ;;
    herald:F1) echo "produce --records $p2 --size 1024 --partitions 16 --rate $F1_RATE" ;;
    herald:C1) echo "consume --records $p1 --size 100 --partitions 1" ;;
    *) ;;
  esac
}

# peer_script PEER ARGS...: runs one peer script command, bounded in time, stderr to the run's log.
peer_script() {
  local peer="$1"; shift
  timeout "$MEASURE_TIMEOUT_S" "$PEERS_DIR/$peer.sh" "$@" 2>> "$OUT/logs/$peer.log"
}

measure() {  # $1 peer, $2 scenario, $3 durability
  local peer="$1" scenario="$2" durability="$3" args
  args="$(scenario_args "$peer" "$scenario")"
  if [[ -z "$args" ]]; then
    emit_status skipped "$peer" "$scenario" "$durability" "not scripted for this peer (see bench/README.md)"
    return 0
  fi
  if [[ "$peer:$scenario" == nats:C1 ]]; then  # nats consume reads the stream `pub` left: produce it first
    # shellcheck disable=SC2046
    peer_script "$peer" $(scenario_args "$peer" P1) > /dev/null \
      || { emit_status error "$peer" "$scenario" "$durability" "backlog produce failed"; return 0; }
  fi
  log "round $ROUND: $peer $scenario durability=$durability: $peer.sh $args"
  # shellcheck disable=SC2086
  if ! HERALD_BENCH_TAGS="round=$ROUND scenario=$scenario" peer_script "$peer" $args >> "$OUT/results.jsonl"; then
    emit_status error "$peer" "$scenario" "$durability" "measurement failed or timed out; see logs/$peer.log"
  fi
}

run_peer() {  # $1 peer, $2 durability, $3 scenarios (comma separated)
  local peer="$1" durability="$2" scenario rc=0
  if [[ "$durability" == memory && "$peer" == kafka ]]; then
    HERALD_BENCH_TAGS="round=$ROUND" emit_status unavailable "$peer" all "$durability" "no in-memory mode"
    return 0
  fi
  peer_script "$peer" start --durability "$durability" || rc=$?
  if (( rc == 3 )); then
    HERALD_BENCH_TAGS="round=$ROUND" emit_status unavailable "$peer" all "$durability" \
      "$(tail -1 "$OUT/logs/$peer.log" | sed 's/^\[[0-9:]*\] //')"
    return 0
  elif (( rc != 0 )); then
    HERALD_BENCH_TAGS="round=$ROUND" emit_status error "$peer" all "$durability" "start failed; see logs"
    return 0
  fi
  # Warm-up (JIT, page cache, allocator): a short P1-shaped run, discarded.
  # shellcheck disable=SC2046
  peer_script "$peer" $(SCALE=$(python3 -c "print(float($SCALE)/5)") scenario_args "$peer" P1) > /dev/null \
    || log "warm-up of $peer failed (continuing; the measurement will tell)"
  for scenario in ${3//,/ }; do
    measure "$peer" "$scenario" "$durability"
  done
  peer_script "$peer" stop || log "stopping $peer failed"
}

stop_all() {
  local peer
  for peer in ${PEERS//,/ }; do "$PEERS_DIR/$peer.sh" stop 2>/dev/null || true; done
}

main() {
  parse_args "$@"
  mkdir -p "$OUT/logs"
  local peers
  IFS=, read -r -a peers <<< "$PEERS"
  local installable=()  # herald is built by CMake, not installed by install.sh
  local p
  for p in "${peers[@]}"; do [[ "$p" == herald ]] || installable+=("$p"); done
  if (( ! SKIP_INSTALL && ${#installable[@]} > 0 )); then
    "$PEERS_DIR/install.sh" "${installable[@]}" 2>> "$OUT/logs/install.log" || die "install failed; see $OUT/logs"
  fi
  trap stop_all EXIT
  machine_info "${TMPDIR:-/tmp}" "$KAFKA_VERSION" "$NATSCLI_VERSION" "$REPO_ROOT" > "$OUT/machine.json"
  local n i durability
  n=${#peers[@]}
  for (( ROUND = 1; ROUND <= ROUNDS; ROUND++ )); do
    for durability in ${DURABILITIES//,/ }; do
      for (( i = 0; i < n; i++ )); do  # rotate the order each round so no peer always goes first
        run_peer "${peers[(i + ROUND - 1) % n]}" "$durability" "$SCENARIOS"
      done
    done
  done
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["loadavg_at_end"]=open("/proc/loadavg").read().strip(); json.dump(d,open(sys.argv[1],"w"),indent=2,sort_keys=True)' "$OUT/machine.json"
  python3 "$PEERS_DIR/summarize.py" "$OUT"
  if [[ ",$PEERS," == *,herald,* ]]; then
    python3 "$PEERS_DIR/../herald_bench/ratios.py" "$OUT" || log "ratios failed"
  fi
  log "results in $OUT"
}

main "$@"
