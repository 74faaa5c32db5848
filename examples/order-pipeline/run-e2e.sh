#!/usr/bin/env bash
# End-to-end test of the order pipeline: Python producer, Go (x2), Node and Java
# consumer groups against a real herald-server, with one inventory instance
# SIGKILLed midway.
#
#   HERALD_SERVER_BIN=build/default/server/herald-server examples/order-pipeline/run-e2e.sh
#
# Builds what it needs (a venv under build/e2e-pyenv, the Go binary, the Node and
# Java clients when missing or older than their sources, the billing module),
# starts the server on port 0 with a temp data dir, then:
#   1. starts inventory-1 and inventory-2 (group inventory), email, billing and
#      waits until the two inventory instances split the 6 partitions;
#   2. places orders 1..N1, waits until inventory-2 has processed some, SIGKILLs it;
#   3. places orders N1+1..N1+N2 and waits (bounded) until every order reached
#      every group, then checks: each group saw exactly the set of all orders,
#      email/billing without duplicates, inventory duplicates only for the killed
#      instance's uncommitted tail, and inventory-1 took over inventory-2's
#      partitions.
# Exit 0 on success; non-zero with the reason (and log tails) otherwise.
# Env: N1/N2 (150/150 orders), E2E_TIMEOUT_S (90), KEEP_E2E_DIR=1 keeps the work dir.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${HERE}/../.." && pwd)"
BIN="${HERALD_SERVER_BIN:-/work/bin/herald-server}"
PYENV="${HERALD_E2E_PYENV:-${ROOT}/build/e2e-pyenv}"
N1="${N1:-150}"
N2="${N2:-150}"
TOTAL=$((N1 + N2))
TIMEOUT_S="${E2E_TIMEOUT_S:-90}"
VICTIM=inventory-2
SURVIVOR=inventory-1

if [[ ! -x "${BIN}" ]]; then
  echo "run-e2e: herald-server not found at ${BIN} (set HERALD_SERVER_BIN)" >&2
  exit 2
fi
BIN="$(cd "$(dirname "${BIN}")" && pwd)/$(basename "${BIN}")"

WORK="$(mktemp -d -t herald-e2e.XXXXXX)"
declare -A PIDS=()
START_S=${SECONDS}

log() { echo "run-e2e [$((SECONDS - START_S))s]: $*"; }

cleanup() {
  local status=$?
  for name in "${!PIDS[@]}"; do
    kill -KILL "${PIDS[${name}]}" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  if [[ "${KEEP_E2E_DIR:-}" == 1 || ${status} -ne 0 ]]; then
    echo "run-e2e: logs and outputs kept in ${WORK}" >&2
  else
    rm -rf "${WORK}"
  fi
  exit "${status}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

REPORT_ARGS=() # set once the orders are placed: fail() then also prints the per-group report
fail() {
  echo "run-e2e: FAIL: $*" >&2
  if ((${#REPORT_ARGS[@]} > 0)); then
    "${PY}" "${HERE}/e2e_check.py" verify "${REPORT_ARGS[@]}" 2>&1 | sed 's/^/run-e2e: /' >&2 || true
  fi
  for f in "${WORK}"/*.log; do
    [[ -f "${f}" ]] || continue
    echo "---- tail ${f##*/}" >&2
    tail -n 8 "${f}" >&2
  done
  exit 1
}

# wait_until SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.2 s.
wait_until() {
  local limit=$1 what=$2 deadline=$((SECONDS + $1))
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "timed out after ${limit}s waiting for ${what}"
    for name in "${!PIDS[@]}"; do
      kill -0 "${PIDS[${name}]}" 2>/dev/null || fail "${name} exited while waiting for ${what}"
    done
    sleep 0.2
  done
}

# newer_than TARGET PATH...: true if TARGET is missing or a file under PATH is newer.
newer_than() {
  local target=$1
  shift
  [[ ! -e "${target}" ]] || [[ -n "$(find "$@" -newer "${target}" -type f -print -quit)" ]]
}

# ---- build ------------------------------------------------------------------
log "building (python venv, go, node, java)"
[[ -x "${PYENV}/bin/python" ]] || python3 -m venv "${PYENV}"
if newer_than "${PYENV}/.herald-installed" "${HERE}/requirements.txt" "${ROOT}/clients/python/src" \
  "${ROOT}/clients/python/pyproject.toml"; then
  "${PYENV}/bin/pip" install -q -r "${HERE}/requirements.txt"
  "${PYENV}/bin/pip" install -q --force-reinstall --no-deps "${ROOT}/clients/python"
fi
touch "${PYENV}/.herald-installed"
PY="${PYENV}/bin/python"

(cd "${HERE}/inventory" && go build -o "${WORK}/inventory" .)

NODE_CLIENT="${ROOT}/clients/node"
if newer_than "${NODE_CLIENT}/node_modules/.package-lock.json" "${NODE_CLIENT}/package-lock.json"; then
  (cd "${NODE_CLIENT}" && npm ci --no-audit --no-fund --loglevel=error)
fi
if newer_than "${NODE_CLIENT}/dist/index.js" "${NODE_CLIENT}/src" "${NODE_CLIENT}/tsconfig.json"; then
  (cd "${NODE_CLIENT}" && npm run --silent build)
fi
if newer_than "${HERE}/email/node_modules/.package-lock.json" "${HERE}/email/package-lock.json"; then
  (cd "${HERE}/email" && npm ci --no-audit --no-fund --loglevel=error)
fi

CLIENT_JAR="${HOME}/.m2/repository/dev/herald/herald-client/0.1.0-SNAPSHOT/herald-client-0.1.0-SNAPSHOT.jar"
if newer_than "${CLIENT_JAR}" "${ROOT}/clients/java/src/main" "${ROOT}/clients/java/pom.xml" "${ROOT}/proto"; then
  (cd "${ROOT}/clients/java" && mvn -B -q install -DskipTests)
fi
BILLING="${HERE}/billing"
if newer_than "${BILLING}/target/classpath.txt" "${BILLING}/src" "${BILLING}/pom.xml" "${CLIENT_JAR}"; then
  (cd "${BILLING}" && mvn -B -q package)
fi

# ---- broker -----------------------------------------------------------------
log "starting herald-server"
"${BIN}" --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 --data_dir="${WORK}/data" \
  --ready_file="${WORK}/ready.json" --log_level=warn --shutdown_grace_ms=1000 \
  --group_default_session_timeout_ms=3000 --group_revoke_timeout_ms=3000 \
  >"${WORK}/server.log" 2>&1 &
PIDS[server]=$!
wait_until 20 "the server's ready file" test -s "${WORK}/ready.json"
PORT="$("${PY}" -c 'import json,sys; print(json.load(open(sys.argv[1]))["grpc_port"])' "${WORK}/ready.json")"
export HERALD_BROKERS="127.0.0.1:${PORT}"
log "broker at ${HERALD_BROKERS}"

"${PY}" "${HERE}/order_service.py" --create-topic --count 0 >>"${WORK}/order-service.log" 2>&1 ||
  fail "creating the topic failed: $(cat "${WORK}/order-service.log")"

# ---- services ---------------------------------------------------------------
start_inventory() {
  # 10 ms of simulated work per order, so the SIGKILL lands while it is busy.
  "${WORK}/inventory" -name "$1" -out "${WORK}/$1.txt" -work 10ms >"${WORK}/$1.log" 2>&1 &
  PIDS[$1]=$!
}
start_inventory inventory-1
wait_until 30 "inventory-1's assignment" grep -q "assigned partitions \[orders" "${WORK}/inventory-1.log"
start_inventory inventory-2
OUTPUT_FILE="${WORK}/email.txt" node "${HERE}/email/email.mjs" >"${WORK}/email.log" 2>&1 &
PIDS[email]=$!
OUTPUT_FILE="${WORK}/billing.txt" java -cp "${BILLING}/target/classes:$(cat "${BILLING}/target/classpath.txt")" \
  dev.herald.examples.billing.BillingService >"${WORK}/billing.log" 2>&1 &
PIDS[billing]=$!

wait_until 30 "inventory-1 and inventory-2 to split the partitions" "${PY}" "${HERE}/e2e_check.py" split "${WORK}"
"${PY}" "${HERE}/e2e_check.py" split "${WORK}" | sed 's/^/run-e2e: /'
wait_until 30 "email's assignment" grep -q "assigned partitions \[orders" "${WORK}/email.log"
wait_until 30 "billing's assignment" grep -q "assigned partitions \[orders" "${WORK}/billing.log"

# ---- orders, crash, more orders ------------------------------------------------
log "placing orders 1..${N1}"
"${PY}" "${HERE}/order_service.py" --first 1 --count "${N1}" >>"${WORK}/order-service.log" 2>&1 ||
  fail "order service failed"
wait_until 30 "${VICTIM} to process some orders" "${PY}" "${HERE}/e2e_check.py" lines "${WORK}/${VICTIM}.txt" 10
# The survivor's log from here on must show the takeover (counted before the kill:
# the broker reassigns as soon as the killed member's stream breaks).
SURVIVOR_LOG_FROM="$(wc -l <"${WORK}/${SURVIVOR}.log")"
VICTIM_PID="${PIDS[${VICTIM}]}"
unset "PIDS[${VICTIM}]"
disown "${VICTIM_PID}" # no "Killed" job notice from bash
kill -KILL "${VICTIM_PID}"
wait_gone() { ! kill -0 "$1" 2>/dev/null; }
wait_until 10 "${VICTIM} to die" wait_gone "${VICTIM_PID}"
log "SIGKILLed ${VICTIM} after $(wc -l <"${WORK}/${VICTIM}.txt") orders"

log "placing orders $((N1 + 1))..${TOTAL}"
"${PY}" "${HERE}/order_service.py" --first $((N1 + 1)) --count "${N2}" >>"${WORK}/order-service.log" 2>&1 ||
  fail "order service failed"
REPORT_ARGS=("${WORK}" "${TOTAL}" "${VICTIM}" "${SURVIVOR}" "${SURVIVOR_LOG_FROM}")
wait_until "${TIMEOUT_S}" "every order to reach inventory, email and billing" \
  "${PY}" "${HERE}/e2e_check.py" done "${WORK}" "${TOTAL}"
log "every order reached every group"

# ---- clean stop, then the checks ------------------------------------------------
for name in "${SURVIVOR}" email billing; do
  kill -TERM "${PIDS[${name}]}"
done
for name in "${SURVIVOR}" email billing; do
  for _ in $(seq 1 75); do
    kill -0 "${PIDS[${name}]}" 2>/dev/null || break
    sleep 0.2
  done
  kill -0 "${PIDS[${name}]}" 2>/dev/null && fail "${name} did not stop within 15 s of SIGTERM"
  rc=0; wait "${PIDS[${name}]}" 2>/dev/null || rc=$?
  # 143: the JVM exits with 128+SIGTERM after its shutdown hooks ran.
  [[ ${rc} -eq 0 || ${rc} -eq 143 ]] || log "warning: ${name} exited with status ${rc}"
  unset "PIDS[${name}]"
done

REPORT_ARGS=() # printed below already
if ! "${PY}" "${HERE}/e2e_check.py" verify "${WORK}" "${TOTAL}" "${VICTIM}" "${SURVIVOR}" "${SURVIVOR_LOG_FROM}" |
  sed 's/^/run-e2e: /'; then
  fail "output checks failed (see above)"
fi
log "PASS (${TOTAL} orders, ${VICTIM} SIGKILLed midway)"
