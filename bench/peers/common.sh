#!/usr/bin/env bash
# shellcheck disable=SC2034  # the variables here are used by the scripts that source this file
# Shared settings and helpers for the peer-broker benchmark scripts. Sourced, never run.
# Every version is pinned here so a result names exactly what it measured.

HERALD_BENCH_CACHE="${HERALD_BENCH_CACHE:-$HOME/.cache/herald-bench}"
KAFKA_VERSION="${KAFKA_VERSION:-3.9.1}"
KAFKA_SCALA="2.13"
SLF4J_VERSION="1.7.36"
RELOAD4J_VERSION="1.2.25"
KAFKA_HOME="${KAFKA_HOME:-$HERALD_BENCH_CACHE/kafka/$KAFKA_VERSION}"
NATSCLI_VERSION="${NATSCLI_VERSION:-v0.2.4}"
NATS_CLI="$HERALD_BENCH_CACHE/bin/nats-$NATSCLI_VERSION"

# Loopback ports away from the defaults so a distro service on 6379/4222/9092 is never measured by mistake.
KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
NATS_PORT="${NATS_PORT:-14222}"
REDIS_PORT="${REDIS_PORT:-16379}"

# Runtime state (pid files, temp data dirs) lives here; each start wipes its own data dir.
HERALD_BENCH_RUN="${HERALD_BENCH_RUN:-${TMPDIR:-/tmp}/herald-bench-$(id -u)}"

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# wait_port PORT TIMEOUT_S: true once something accepts TCP connections on 127.0.0.1:PORT.
wait_port() {
  local port="$1" timeout_s="$2" waited_ds=0
  while (( waited_ds < timeout_s * 10 )); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
    waited_ds=$((waited_ds + 1))
  done
  return 1
}

# stop_pidfile FILE NAME: SIGTERM the recorded pid, wait up to 20 s, then SIGKILL. Only our own process.
stop_pidfile() {
  local file="$1" name="$2" pid waited_ds=0
  [[ -f "$file" ]] || return 0
  pid="$(cat "$file")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && (( waited_ds < 200 )); do sleep 0.1; waited_ds=$((waited_ds + 1)); done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) ignored SIGTERM for 20 s; killing"
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$file"
}

PEERS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
parse() { python3 "$PEERS_DIR/parse.py" "$@"; }
