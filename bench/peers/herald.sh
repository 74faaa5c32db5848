#!/usr/bin/env bash
# Single-node Herald (herald-server, RocksDB log store) on loopback for side-by-side benchmarks, with
# the same interface as kafka.sh / nats.sh / redis.sh. Measurements run herald-bench in --peer mode.
#   herald.sh start [--durability default|fsync]    fresh temp data dir, server on 127.0.0.1:<any port>
#   herald.sh stop
#   herald.sh produce     --records N --size BYTES --partitions P [--rate RECORDS_PER_S]
#   herald.sh e2e-latency --records N --size BYTES    (produce -> subscribe round trip, one in flight)
#   herald.sh consume     --records N --size BYTES [--partitions P]   (backlog first, then one subscriber drains it)
#   herald.sh version
# Durability maps to the producer's acks (one node, so acks ALL waits for no other replica):
#   default: acks=LEADER, acknowledged once in RocksDB's WAL in the page cache, not fsynced (Kafka's default)
#   fsync:   acks=ALL, acknowledged after the WAL is fsynced; concurrent appends share one fsync (group commit)
#   memory:  not available (the server has no in-memory store flag): exit 3
# Binaries: $HERALD_BUILD_DIR (default <repo>/build/bench) /server/herald-server and /bench/herald-bench.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

HERALD_RUN="$HERALD_BENCH_RUN/herald"
HERALD_BUILD_DIR="${HERALD_BUILD_DIR:-$(cd "$PEERS_DIR/../.." && pwd)/build/bench}"
HERALD_SERVER_BIN="${HERALD_SERVER_BIN:-$HERALD_BUILD_DIR/server/herald-server}"
HERALD_BENCH_BIN="${HERALD_BENCH_BIN:-$HERALD_BUILD_DIR/bench/herald-bench}"
EXIT_UNSUPPORTED=3

herald_version() {
  local commit
  commit="$(git -C "$PEERS_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "0.1.0-$commit"
}

cmd_start() {
  local durability=default
  while (( $# )); do
    case "$1" in --durability) durability="$2"; shift 2 ;; *) die "start: unknown arg $1" ;; esac
  done
  case "$durability" in
    default|fsync) ;;
    memory) log "herald has no in-memory store mode: memory unavailable"; exit "$EXIT_UNSUPPORTED" ;;
    *) die "unknown durability '$durability' (default|fsync)" ;;
  esac
  [[ -x "$HERALD_SERVER_BIN" && -x "$HERALD_BENCH_BIN" ]] \
    || die "build first: ninja -C $HERALD_BUILD_DIR herald-server herald-bench"
  cmd_stop
  rm -rf "$HERALD_RUN"
  mkdir -p "$HERALD_RUN/data"
  echo "$durability" > "$HERALD_RUN/durability"
  log "starting herald-server $(herald_version) (durability=$durability)"
  nohup "$HERALD_SERVER_BIN" --listen 127.0.0.1:0 --metrics_listen 127.0.0.1:0 \
    --data_dir "$HERALD_RUN/data" --ready_file "$HERALD_RUN/ready.json" --log_level warn \
    > "$HERALD_RUN/server.log" 2>&1 &
  echo $! > "$HERALD_RUN/herald.pid"
  local waited_ds=0
  until [[ -s "$HERALD_RUN/ready.json" ]]; do
    if (( waited_ds >= 300 )) || ! kill -0 "$(cat "$HERALD_RUN/herald.pid")" 2>/dev/null; then
      tail -20 "$HERALD_RUN/server.log" >&2 || true
      cmd_stop
      die "herald-server did not become ready within 30 s"
    fi
    sleep 0.1
    waited_ds=$((waited_ds + 1))
  done
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["grpc_port"])' \
    "$HERALD_RUN/ready.json" > "$HERALD_RUN/port"
}

cmd_stop() {
  stop_pidfile "$HERALD_RUN/herald.pid" herald-server
}

# bench ARGS...: herald-bench against the running server, tagged like the peers' results.
bench() {
  [[ -f "$HERALD_RUN/port" ]] || die "herald is not running; herald.sh start first"
  local durability acks tags=() kv
  durability="$(cat "$HERALD_RUN/durability")"
  acks=leader
  [[ "$durability" == fsync ]] && acks=all
  for kv in ${HERALD_BENCH_TAGS:-}; do tags+=(--tag "$kv"); done
  "$HERALD_BENCH_BIN" --brokers "127.0.0.1:$(cat "$HERALD_RUN/port")" \
    --server_pid "$(cat "$HERALD_RUN/herald.pid")" --acks "$acks" "$@" \
    --tag peer=herald --tag version="$(herald_version)" --tag durability="$durability" \
    --tag replication_factor=1 "${tags[@]}"
}

cmd_produce() {
  local records=100000 size=100 partitions=1 rate=0
  while (( $# )); do
    case "$1" in
      --records) records="$2" ;; --size) size="$2" ;; --partitions) partitions="$2" ;;
      --rate) rate="$2" ;; *) die "produce: unknown arg $1" ;;
    esac
    shift 2
  done
  bench --peer produce --records "$records" --size "$size" --partitions "$partitions" --rate "$rate" \
    --tag test=produce --tag producers=1
}

cmd_e2e_latency() {
  local records=10000 size=100
  while (( $# )); do
    case "$1" in
      --records) records="$2" ;; --size) size="$2" ;; *) die "e2e-latency: unknown arg $1" ;;
    esac
    shift 2
  done
  bench --peer e2e --records "$records" --size "$size" --partitions 1 --tag test=e2e-latency
}

cmd_consume() {
  local records=100000 size=100 partitions=1
  while (( $# )); do
    case "$1" in
      --records) records="$2" ;; --size) size="$2" ;; --partitions) partitions="$2" ;;
      *) die "consume: unknown arg $1" ;;
    esac
    shift 2
  done
  bench --peer consume --records "$records" --size "$size" --partitions "$partitions" \
    --tag test=consume --tag consumers=1
}

main() {
  local cmd="${1:-}"
  shift || true
  case "$cmd" in
    start) cmd_start "$@" ;;
    stop) cmd_stop ;;
    produce) cmd_produce "$@" ;;
    e2e-latency) cmd_e2e_latency "$@" ;;
    consume) cmd_consume "$@" ;;
    version) herald_version ;;
    *) die "usage: herald.sh start|stop|produce|e2e-latency|consume|version [args]" ;;
  esac
}

main "$@"
