#!/usr/bin/env bash
# Single-node NATS JetStream (file store, one replica) on loopback for side-by-side benchmarks.
#   nats.sh start [--durability default|fsync|memory]   fresh temp store dir, server on 127.0.0.1:$NATS_PORT
#   nats.sh stop
#   nats.sh pub     --records N --size BYTES [--batch K] [--partitions P]   (JetStream publish, `nats bench`)
#   nats.sh consume --records N --size BYTES    (ordered consumer reading back what `pub` stored)
#   nats.sh version
# Measurements print one JSON object on stdout. Exit code 3 means "this setting is not available here".
# Durability: "default" is JetStream's default: every write reaches the OS page cache before the ack, fsync
# every 2 minutes (sync_interval). "fsync" needs `jetstream { sync_interval: always }`, which exists only in
# nats-server >= 2.10; Debian 12 ships 2.9.10, which rejects the field, so there it is reported unavailable.
# "memory" puts the stream in JetStream's memory store (nothing on disk).
# JetStream has no partitions: one stream holds everything; --partitions is recorded, not applied.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

NATS_RUN="$HERALD_BENCH_RUN/nats"
EXIT_UNSUPPORTED=3

server_version() {
  nats-server --version | sed -E 's/.*v([0-9.]+).*/\1/'
}

supports_sync_always() {  # sync_interval arrived in 2.10.0
  local major minor
  IFS=. read -r major minor _ <<< "$(server_version)"
  (( major > 2 || (major == 2 && minor >= 10) ))
}

cmd_start() {
  local durability=default
  while (( $# )); do
    case "$1" in --durability) durability="$2"; shift 2 ;; *) die "start: unknown arg $1" ;; esac
  done
  command -v nats-server >/dev/null || die "nats-server not installed; run bench/peers/install.sh nats"
  local sync_line=""
  case "$durability" in
    default|memory) ;;
    fsync)
      if ! supports_sync_always; then
        log "nats-server $(server_version) has no 'sync_interval: always' (needs >= 2.10): fsync unavailable"
        exit "$EXIT_UNSUPPORTED"
      fi
      sync_line="sync_interval: always" ;;
    *) die "unknown durability '$durability' (default|fsync|memory)" ;;
  esac
  cmd_stop
  rm -rf "$NATS_RUN"
  mkdir -p "$NATS_RUN/data"
  cat > "$NATS_RUN/server.conf" <<CONF
listen: 127.0.0.1:${NATS_PORT}
jetstream {
  store_dir: "${NATS_RUN}/data"
  max_memory_store: 4GB
  max_file_store: 20GB
  ${sync_line}
}
CONF
  echo "$durability" > "$NATS_RUN/durability"
  log "starting nats-server $(server_version) (durability=$durability) on 127.0.0.1:$NATS_PORT"
  nohup nats-server -c "$NATS_RUN/server.conf" > "$NATS_RUN/server.log" 2>&1 &
  echo $! > "$NATS_RUN/nats.pid"
  if ! wait_port "$NATS_PORT" 20; then
    tail -20 "$NATS_RUN/server.log" >&2 || true
    cmd_stop
    die "nats-server did not listen on $NATS_PORT within 20 s"
  fi
}

cmd_stop() {
  stop_pidfile "$NATS_RUN/nats.pid" nats-server
}

bench() {
  [[ -x "$NATS_CLI" ]] || die "nats CLI missing; run bench/peers/install.sh nats"
  "$NATS_CLI" -s "nats://127.0.0.1:$NATS_PORT" bench "$@"
}

cmd_pub() {
  local records=100000 size=100 batch=500 partitions=1
  while (( $# )); do
    case "$1" in
      --records) records="$2" ;; --size) size="$2" ;; --batch) batch="$2" ;; --partitions) partitions="$2" ;;
      *) die "pub: unknown arg $1" ;;
    esac
    shift 2
  done
  # --batch K: K asynchronous publishes in flight, then wait for all acks (K=1 is a synchronous publish).
  local durability storage=file max_bytes=8GB
  durability="$(cat "$NATS_RUN/durability")"
  # The stream's byte limit must fit the server's store limit (max_memory_store 4GB) or creation fails.
  [[ "$durability" == memory ]] && storage=memory && max_bytes=3GB
  bench js pub herald.bench --create --storage "$storage" --replicas 1 --maxbytes "$max_bytes" --purge --no-progress \
    --msgs "$records" --size "$size" --batch "$batch" 2>&1 \
    | tee "$NATS_RUN/last-pub.txt" \
    | parse nats-bench peer=nats version="$(server_version)" test=produce record_bytes="$size" \
      records="$records" partitions_requested="$partitions" streams=1 durability="$durability" \
      publish_batch="$batch" producers=1 replicas=1 storage="$storage" acks=jetstream-ack
}

cmd_consume() {
  local records=100000 size=100
  while (( $# )); do
    case "$1" in
      --records) records="$2" ;; --size) size="$2" ;; *) die "consume: unknown arg $1" ;;
    esac
    shift 2
  done
  bench js ordered --msgs "$records" --size "$size" --no-progress 2>&1 \
    | tee "$NATS_RUN/last-consume.txt" \
    | parse nats-bench peer=nats version="$(server_version)" test=consume record_bytes="$size" \
      records="$records" streams=1 durability="$(cat "$NATS_RUN/durability")" consumer=ordered
}

main() {
  local cmd="${1:-}"
  shift || true
  case "$cmd" in
    start) cmd_start "$@" ;;
    stop) cmd_stop ;;
    pub) cmd_pub "$@" ;;
    consume) cmd_consume "$@" ;;
    version) echo "nats-server $(server_version), natscli $NATSCLI_VERSION" ;;
    *) die "usage: nats.sh start|stop|pub|consume|version [args]" ;;
  esac
}

main "$@"
