#!/usr/bin/env bash
# Single Redis server (streams) on loopback for side-by-side benchmarks.
#   redis.sh start [--durability memory|default|fsync]   fresh temp dir, server on 127.0.0.1:$REDIS_PORT
#   redis.sh stop
#   redis.sh xadd --records N --size BYTES [--partitions P] [--clients C] [--pipeline K]
#   redis.sh xrange --records N --size BYTES [--page K]   (backlog first, then read back K records per XRANGE)
#   redis.sh version
# Measurements print one JSON object on stdout.
# Durability: "memory" is appendonly no (nothing on disk, no RDB snapshots either); "default" is
# appendonly yes + appendfsync everysec (Redis's recommended persistent setting: fsync once a second, so the
# same "acked before fsync" class as Kafka's default); "fsync" is appendfsync always (AOF fsynced before
# replies leave each event-loop iteration, so a pipelined burst shares one fsync: group commit).
# A record is one XADD with a single field "d" whose value is BYTES long; P partitions are P stream keys
# chosen at random per command (redis-benchmark's __rand_int__ with -r P).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

REDIS_RUN="$HERALD_BENCH_RUN/redis"
# Defaults: 4 connections each keeping 64 commands in flight, so small records travel in batches as in Kafka's
# and Herald's producers. Latency runs use --clients 1 --pipeline 1.
REDIS_CLIENTS="${REDIS_CLIENTS:-4}"
REDIS_PIPELINE="${REDIS_PIPELINE:-64}"

server_version() {
  redis-server --version | sed -E 's/.* v=([0-9.]+).*/\1/'
}

cli() {
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"
}

cmd_start() {
  local durability=default
  while (( $# )); do
    case "$1" in --durability) durability="$2"; shift 2 ;; *) die "start: unknown arg $1" ;; esac
  done
  command -v redis-server >/dev/null || die "redis-server not installed; run bench/peers/install.sh redis"
  local aof
  case "$durability" in
    memory) aof=(--appendonly no) ;;
    default) aof=(--appendonly yes --appendfsync everysec) ;;
    fsync) aof=(--appendonly yes --appendfsync always) ;;
    *) die "unknown durability '$durability' (memory|default|fsync)" ;;
  esac
  cmd_stop
  rm -rf "$REDIS_RUN"
  mkdir -p "$REDIS_RUN/data"
  echo "$durability" > "$REDIS_RUN/durability"
  log "starting redis $(server_version) (durability=$durability: ${aof[*]}) on 127.0.0.1:$REDIS_PORT"
  # save "" turns RDB snapshots off so a background fork never lands inside a measurement.
  nohup redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$REDIS_RUN/data" --save "" \
    --daemonize no --protected-mode yes --logfile "$REDIS_RUN/server.log" "${aof[@]}" \
    > /dev/null 2>&1 &
  echo $! > "$REDIS_RUN/redis.pid"
  if ! wait_port "$REDIS_PORT" 20 || ! cli PING > /dev/null; then
    tail -20 "$REDIS_RUN/server.log" >&2 || true
    cmd_stop
    die "redis-server did not answer on $REDIS_PORT within 20 s"
  fi
}

cmd_stop() {
  stop_pidfile "$REDIS_RUN/redis.pid" redis-server
}

cmd_xadd() {
  local records=100000 size=100 partitions=1 clients="$REDIS_CLIENTS" pipeline="$REDIS_PIPELINE"
  while (( $# )); do
    case "$1" in
      --records) records="$2" ;; --size) size="$2" ;; --partitions) partitions="$2" ;;
      --clients) clients="$2" ;; --pipeline) pipeline="$2" ;; *) die "xadd: unknown arg $1" ;;
    esac
    shift 2
  done
  # redis-benchmark sends whole pipelines, so it stores a multiple of the pipeline depth: ask for exactly that.
  records=$(( (records + pipeline - 1) / pipeline * pipeline ))
  local key="herald-bench" rand=()
  if (( partitions > 1 )); then
    key="herald-bench:__rand_int__"
    rand=(-r "$partitions")
  fi
  local payload
  payload="$(head -c "$size" /dev/zero | tr '\0' 'x')"
  cli FLUSHALL > /dev/null  # each measurement starts from empty streams
  redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -n "$records" -c "$clients" -P "$pipeline" "${rand[@]}" \
    --csv XADD "$key" '*' d "$payload" 2>&1 \
    | tee "$REDIS_RUN/last-xadd.txt" \
    | parse redis-benchmark peer=redis version="$(server_version)" test=produce record_bytes="$size" \
      records="$records" partitions="$partitions" durability="$(cat "$REDIS_RUN/durability")" \
      appendfsync="$(cli CONFIG GET appendfsync | tail -1)" appendonly="$(cli CONFIG GET appendonly | tail -1)" \
      clients="$clients" pipeline="$pipeline" acks=reply
  local stored
  stored="$(cli EVAL "local n=0 for _,k in ipairs(redis.call('KEYS','herald-bench*')) do n=n+redis.call('XLEN',k) end return n" 0)"
  (( stored == records )) || die "XADD stored $stored records, expected $records"
}

# Consume: XADD a backlog of N records to one stream, then read it back in pages with XRANGE, each page
# starting after the last id read (as a consumer does), so every record is read once. redis-benchmark cannot
# carry a cursor, so a tiny stdlib-Python RESP reader does it: one round trip per page, and the client's own
# parsing is in the figure (an upper bound on Redis's cost, a lower bound on its rate).
cmd_xrange() {
  local records=100000 size=100 page=100
  while (( $# )); do
    case "$1" in
      --records) records="$2" ;; --size) size="$2" ;; --page) page="$2" ;; *) die "xrange: unknown arg $1" ;;
    esac
    shift 2
  done
  cmd_xadd --records "$records" --size "$size" > /dev/null
  local stored
  stored="$(cli XLEN herald-bench)"
  python3 - "$REDIS_PORT" "$stored" "$page" <<'PY' \
    | parse redis-xrange peer=redis version="$(server_version)" test=consume record_bytes="$size" \
      partitions=1 durability="$(cat "$REDIS_RUN/durability")" page_records="$page" consumers=1
import socket, sys, time
port, expected, page = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
sock = socket.create_connection(("127.0.0.1", port))
f = sock.makefile("rb")
def command(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    sock.sendall(out)
    return read()
def read():
    line = f.readline()
    kind, rest = line[:1], line[1:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [read() for _ in range(n)]
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data
    if kind == b"-":
        raise SystemExit("redis error: " + rest.decode())
    return rest
start_id, read_records, pages = "-", 0, 0
t0 = time.perf_counter()
while read_records < expected and pages <= expected:  # bounded: at most one page per record
    entries = command("XRANGE", "herald-bench", start_id, "+", "COUNT", str(page))
    if not entries:
        break
    read_records += len(entries)
    pages += 1
    start_id = "(" + entries[-1][0].decode()
elapsed_s = time.perf_counter() - t0
if read_records != expected:
    raise SystemExit(f"read {read_records} records, expected {expected}")
print(f"XRANGE_RESULT records={read_records} seconds={elapsed_s:.6f}")
PY
}

main() {
  local cmd="${1:-}"
  shift || true
  case "$cmd" in
    start) cmd_start "$@" ;;
    stop) cmd_stop ;;
    xadd) cmd_xadd "$@" ;;
    xrange) cmd_xrange "$@" ;;
    version) echo "redis $(server_version)" ;;
    *) die "usage: redis.sh start|stop|xadd|xrange|version [args]" ;;
  esac
}

main "$@"
