#!/usr/bin/env bash
# Installs the peer brokers for side-by-side benchmarks. Idempotent: anything already present is kept.
#   bench/peers/install.sh [all|kafka|nats|redis]...
# Sources, all through ordinary registry clients (nothing else is reachable from our machines):
#   Kafka      Maven Central, org.apache.kafka:kafka_2.13 + kafka-tools, via `mvn dependency:copy-dependencies`
#   NATS       Debian `nats-server`; the `nats` CLI (for `nats bench`) built from the Go module proxy
#   Redis      Debian `redis-server` and `redis-tools` (redis-benchmark, redis-cli)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  (( ${#missing[@]} == 0 )) && return 0
  local sudo=""
  [[ "$(id -u)" == 0 ]] || sudo="sudo"
  log "apt-get install ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

write_kafka_pom() {
  cat > "$1" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.herald.bench</groupId>
  <artifactId>kafka-peer</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_${KAFKA_SCALA}</artifactId>
      <version>${KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId>
      <version>${KAFKA_VERSION}</version></dependency>
    <!-- Kafka 3.x logs through slf4j 1.7 to log4j 1 (reload4j); without a binding it logs nothing. -->
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId>
      <version>${SLF4J_VERSION}</version></dependency>
    <dependency><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId>
      <version>${RELOAD4J_VERSION}</version></dependency>
  </dependencies>
</project>
POM
}

install_kafka() {
  command -v java >/dev/null || apt_install default-jre-headless
  command -v mvn >/dev/null || apt_install maven
  if [[ -f "$KAFKA_HOME/.complete" ]]; then
    log "kafka $KAFKA_VERSION already in $KAFKA_HOME"
    return 0
  fi
  mkdir -p "$KAFKA_HOME"
  write_kafka_pom "$KAFKA_HOME/pom.xml"
  rm -rf "$KAFKA_HOME/libs"
  log "fetching kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_HOME/libs"
  mvn -q -B -Dstyle.color=never -f "$KAFKA_HOME/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$KAFKA_HOME/libs" -DincludeScope=runtime >&2
  ls "$KAFKA_HOME"/libs/kafka_"$KAFKA_SCALA"-"$KAFKA_VERSION".jar >/dev/null \
    || die "kafka jar missing after mvn"
  touch "$KAFKA_HOME/.complete"
}

# `go install natscli@ver` fails here: the checksum database answers 404 for two of natscli's dependencies.
# Building inside the downloaded module instead checks every dependency against natscli's own committed
# go.sum (the module itself is still verified by the checksum database on download).
install_nats_cli() {
  if [[ -x "$NATS_CLI" ]]; then
    log "nats CLI $NATSCLI_VERSION already at $NATS_CLI"
    return 0
  fi
  command -v go >/dev/null || apt_install golang-go
  local dir
  dir="$(go mod download -json "github.com/nats-io/natscli@$NATSCLI_VERSION" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
  log "building nats CLI $NATSCLI_VERSION (takes ~2 min on 2 cores)"
  mkdir -p "$(dirname "$NATS_CLI")"
  (cd "$dir" && GOFLAGS=-mod=readonly go build -o "$NATS_CLI.tmp" ./nats)
  mv "$NATS_CLI.tmp" "$NATS_CLI"
}

install_nats() {
  apt_install nats-server
  install_nats_cli
}

install_redis() {
  apt_install redis-server redis-tools
}

main() {
  local targets=("$@")
  (( ${#targets[@]} == 0 )) && targets=(all)
  command -v python3 >/dev/null || apt_install python3
  for t in "${targets[@]}"; do
    case "$t" in
      all) install_kafka; install_nats; install_redis ;;
      kafka) install_kafka ;;
      nats) install_nats ;;
      redis) install_redis ;;
      *) die "unknown target '$t' (all|kafka|nats|redis)" ;;
    esac
  done
}

main "$@"
