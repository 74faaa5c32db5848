#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft, combined broker+controller) on loopback for side-by-side benchmarks.
#   kafka.sh start [--durability default|fsync]   fresh temp log dir, formatted, broker on 127.0.0.1:$KAFKA_PORT
#   kafka.sh stop
#   kafka.sh produce-perf --records N --size BYTES --partitions P --acks 1|all [--throughput RECORDS_PER_S]
#   kafka.sh e2e-latency  --records N --size BYTES --acks 1|all
#   kafka.sh consume-perf --records N --size BYTES [--partitions P]   (backlog first, then one consumer drains it)
#   kafka.sh version
# Measurements print one JSON object on stdout; logs go to stderr and $HERALD_BENCH_RUN/kafka/.
# Durability: "default" is Kafka's default (page cache, no fsync per write; the OS and replication are the
# safety net); "fsync" sets log.flush.interval.messages=1, so every appended produce batch is fsynced before
# the high watermark moves. Single node, replication factor 1, so acks=all waits for no other replica.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

KAFKA_RUN="$HERALD_BENCH_RUN/kafka"
KAFKA_HEAP="${KAFKA_HEAP:-1g}"
# Producer batching as in the OpenMessaging Benchmark Kafka driver: the producer fills batches, waiting at most
# 1 ms, so small records travel in batches as Herald's clients send them.
KAFKA_LINGER_MS="${KAFKA_LINGER_MS:-1}"
KAFKA_BATCH_BYTES="${KAFKA_BATCH_BYTES:-1048576}"

classpath() {
  [[ -f "$KAFKA_HOME/.complete" ]] || die "kafka not installed; run bench/peers/install.sh kafka"
  echo "$KAFKA_HOME/libs/*"
}

write_log4j() {  # $1 file, $2 appender target (file path or "stderr")
  if [[ "$2" == stderr ]]; then
    printf '%s\n' "log4j.rootLogger=WARN, err" "log4j.appender.err=org.apache.log4j.ConsoleAppender" \
      "log4j.appender.err.Target=System.err" "log4j.appender.err.layout=org.apache.log4j.PatternLayout" \
      "log4j.appender.err.layout.ConversionPattern=[%d] %p %m (%c)%n" > "$1"
  else
    printf '%s\n' "log4j.rootLogger=INFO, f" "log4j.appender.f=org.apache.log4j.FileAppender" \
      "log4j.appender.f.File=$2" "log4j.appender.f.layout=org.apache.log4j.PatternLayout" \
      "log4j.appender.f.layout.ConversionPattern=[%d] %p %m (%c)%n" > "$1"
  fi
}

write_server_properties() {  # $1 durability
  cat > "$KAFKA_RUN/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${KAFKA_CONTROLLER_PORT}
listeners=PLAINTEXT://127.0.0.1:${KAFKA_PORT},CONTROLLER://127.0.0.1:${KAFKA_CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://127.0.0.1:${KAFKA_PORT}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${KAFKA_RUN}/data
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
PROPS
  if [[ "$1" == fsync ]]; then
    echo "log.flush.interval.messages=1" >> "$KAFKA_RUN/server.properties"
  elif [[ "$1" != default ]]; then
    die "unknown durability '$1' (default|fsync)"
  fi
  echo "$1" > "$KAFKA_RUN/durability"
}

cmd_start() {
  local durability=default
  while (( $# )); do
    case "$1" in --durability) durability="$2"; shift 2 ;; *) die "start: unknown arg $1" ;; esac
  done
  local cp; cp="$(classpath)"
  cmd_stop
  rm -rf "$KAFKA_RUN"
  mkdir -p "$KAFKA_RUN/data"
  write_server_properties "$durability"
  write_log4j "$KAFKA_RUN/log4j-server.properties" "$KAFKA_RUN/server.log"
  write_log4j "$KAFKA_RUN/log4j-tools.properties" stderr
  local cluster_id
  cluster_id="$(python3 -c 'import base64,os; print(base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("="))')"
  java -Dlog4j.configuration="file:$KAFKA_RUN/log4j-tools.properties" -cp "$cp" kafka.tools.StorageTool \
    format -t "$cluster_id" -c "$KAFKA_RUN/server.properties" >&2
  log "starting kafka $KAFKA_VERSION (durability=$durability, heap=$KAFKA_HEAP) on 127.0.0.1:$KAFKA_PORT"
  nohup java "-Xms$KAFKA_HEAP" "-Xmx$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$KAFKA_RUN/log4j-server.properties" -cp "$cp" kafka.Kafka \
    "$KAFKA_RUN/server.properties" > "$KAFKA_RUN/stdout.log" 2>&1 &
  echo $! > "$KAFKA_RUN/kafka.pid"
  if ! wait_port "$KAFKA_PORT" 60; then
    tail -20 "$KAFKA_RUN/server.log" "$KAFKA_RUN/stdout.log" >&2 || true
    cmd_stop
    die "kafka did not listen on $KAFKA_PORT within 60 s"
  fi
}

cmd_stop() {
  stop_pidfile "$KAFKA_RUN/kafka.pid" kafka
}

tool() {  # runs a Kafka tool main class with client-side logging at WARN on stderr
  java -Xmx512m -Dlog4j.configuration="file:$KAFKA_RUN/log4j-tools.properties" -cp "$(classpath)" "$@"
}

create_topic() {  # $1 name, $2 partitions
  tool org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" --create \
    --topic "$1" --partitions "$2" --replication-factor 1 >&2
}

cmd_produce_perf() {
  local records=100000 size=100 partitions=1 acks=1 throughput=-1
  while (( $# )); do
    case "$1" in
      --records) records="$2" ;; --size) size="$2" ;; --partitions) partitions="$2" ;;
      --acks) acks="$2" ;; --throughput) throughput="$2" ;; *) die "produce-perf: unknown arg $1" ;;
    esac
    shift 2
  done
  local topic="perf-$partitions-$size-$RANDOM$RANDOM" durability
  durability="$(cat "$KAFKA_RUN/durability")"
  create_topic "$topic" "$partitions"
  tool org.apache.kafka.tools.ProducerPerformance --topic "$topic" --num-records "$records" \
    --record-size "$size" --throughput "$throughput" --producer-props \
    "bootstrap.servers=127.0.0.1:$KAFKA_PORT" "acks=$acks" "linger.ms=$KAFKA_LINGER_MS" \
    "batch.size=$KAFKA_BATCH_BYTES" "compression.type=none" "enable.idempotence=false" \
    | tee "$KAFKA_RUN/last-produce.txt" \
    | parse kafka-producer-perf peer=kafka version="$KAFKA_VERSION" test=produce record_bytes="$size" \
      partitions="$partitions" acks="$acks" durability="$durability" target_records_per_s="$throughput" \
      producers=1 linger_ms="$KAFKA_LINGER_MS" batch_bytes="$KAFKA_BATCH_BYTES" replication_factor=1
}

cmd_e2e_latency() {
  local records=10000 size=100 acks=1
  while (( $# )); do
    case "$1" in
      --records) records="$2" ;; --size) size="$2" ;; --acks) acks="$2" ;; *) die "e2e-latency: unknown arg $1" ;;
    esac
    shift 2
  done
  local topic="e2e-$size-$RANDOM$RANDOM" durability
  durability="$(cat "$KAFKA_RUN/durability")"
  create_topic "$topic" 1
  tool org.apache.kafka.tools.EndToEndLatency "127.0.0.1:$KAFKA_PORT" "$topic" "$records" "$acks" "$size" \
    | tee "$KAFKA_RUN/last-e2e.txt" \
    | parse kafka-e2e peer=kafka version="$KAFKA_VERSION" test=e2e-latency record_bytes="$size" partitions=1 \
      acks="$acks" durability="$durability" records="$records" replication_factor=1
}

# Produces a backlog of N records into a fresh topic, then times one consumer reading all of it back.
cmd_consume_perf() {
  local records=100000 size=100 partitions=1
  while (( $# )); do
    case "$1" in
      --records) records="$2" ;; --size) size="$2" ;; --partitions) partitions="$2" ;;
      *) die "consume-perf: unknown arg $1" ;;
    esac
    shift 2
  done
  local topic="cons-$partitions-$size-$RANDOM$RANDOM" durability
  durability="$(cat "$KAFKA_RUN/durability")"
  create_topic "$topic" "$partitions"
  tool org.apache.kafka.tools.ProducerPerformance --topic "$topic" --num-records "$records" \
    --record-size "$size" --throughput -1 --producer-props "bootstrap.servers=127.0.0.1:$KAFKA_PORT" acks=1 \
    "linger.ms=$KAFKA_LINGER_MS" "batch.size=$KAFKA_BATCH_BYTES" > "$KAFKA_RUN/last-backlog.txt"
  # --timeout: longest gap between records before giving up, so a stuck consumer cannot hang the run.
  tool org.apache.kafka.tools.ConsumerPerformance --bootstrap-server "127.0.0.1:$KAFKA_PORT" \
    --topic "$topic" --messages "$records" --timeout 30000 --group "perf-$RANDOM$RANDOM" \
    | tee "$KAFKA_RUN/last-consume.txt" \
    | parse kafka-consumer-perf peer=kafka version="$KAFKA_VERSION" test=consume record_bytes="$size" \
      partitions="$partitions" durability="$durability" consumers=1
}

main() {
  local cmd="${1:-}"
  shift || true
  case "$cmd" in
    start) cmd_start "$@" ;;
    stop) cmd_stop ;;
    produce-perf) cmd_produce_perf "$@" ;;
    e2e-latency) cmd_e2e_latency "$@" ;;
    consume-perf) cmd_consume_perf "$@" ;;
    version) echo "$KAFKA_VERSION" ;;
    *) die "usage: kafka.sh start|stop|produce-perf|e2e-latency|consume-perf|version [args]" ;;
  esac
}

main "$@"
