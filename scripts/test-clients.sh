#!/usr/bin/env bash
# Runs the Python, Go, TypeScript/Node and Java client conformance suites
# against a real herald-server.
#
#   scripts/test-clients.sh [path/to/herald-server]
#
# The binary defaults to $HERALD_SERVER_BIN, then build/poly/server/herald-server.
# Python runs in a venv under build/pyenv (HERALD_PYENV overrides) with the
# pinned tools of clients/python/requirements-dev.txt and the client installed
# as a wheel (so packaging is tested too). Also checks that the committed
# stubs match proto/ (scripts/gen-clients.sh --check). Exits non-zero if any
# step fails.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${1:-${HERALD_SERVER_BIN:-${ROOT}/build/poly/server/herald-server}}"
PYENV="${HERALD_PYENV:-${ROOT}/build/pyenv}"

if [[ ! -x "${BIN}" ]]; then
  echo "test-clients: herald-server not found at ${BIN}" >&2
  exit 2
fi
BIN="$(cd "$(dirname "${BIN}")" && pwd)/$(basename "${BIN}")"
export HERALD_SERVER_BIN="${BIN}"

failed=()

step() {
  local name="$1"
  shift
  echo "== ${name}"
  if ! "$@"; then
    failed+=("${name}")
  fi
}

setup_python() {
  [[ -x "${PYENV}/bin/python" ]] || python3 -m venv "${PYENV}" || return 1
  "${PYENV}/bin/pip" install -q -r "${ROOT}/clients/python/requirements-dev.txt" &&
    "${PYENV}/bin/pip" install -q --force-reinstall --no-deps "${ROOT}/clients/python"
}

python_tests() {
  (cd "${ROOT}/clients/python" && "${PYENV}/bin/python" -m pytest -q -p no:cacheprovider tests)
}

go_tests() {
  (cd "${ROOT}/clients/go" && go vet ./... && go test -count=1 ./...)
}

node_tests() {
  (cd "${ROOT}/clients/node" && npm ci --no-audit --no-fund --loglevel=error &&
    npm run --silent gen:check && npm run --silent build && npm test)
}

java_tests() {
  (cd "${ROOT}/clients/java" && mvn -B -q verify)
}

step "python setup" setup_python
step "stubs up to date" env HERALD_PYENV="${PYENV}" "${ROOT}/scripts/gen-clients.sh" --check
step "python tests" python_tests
step "go tests" go_tests
step "node tests" node_tests
step "java tests" java_tests

if ((${#failed[@]} > 0)); then
  echo "test-clients: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "test-clients: all client suites passed"
