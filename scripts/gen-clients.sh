#!/usr/bin/env bash
# Regenerates the Python and Go client stubs from proto/ with pinned tools.
#
#   scripts/gen-clients.sh           regenerate into clients/python and clients/go
#   scripts/gen-clients.sh --check   regenerate into a temp dir and fail if the
#                                    committed stubs differ (stale or hand-edited)
#
# Pinned tools (change them here and regenerate):
#   Python: grpcio-tools from clients/python/requirements-dev.txt, in a venv
#           under build/pyenv (override with HERALD_PYENV).
#   Go:     protoc from Debian (protobuf-compiler 3.21.x), protoc-gen-go and
#           protoc-gen-go-grpc installed with `go install` into build/gotools.
set -euo pipefail

readonly PROTOC_GEN_GO_VERSION="v1.34.2"
readonly PROTOC_GEN_GO_GRPC_VERSION="v1.5.1"
readonly PROTOC_VERSION_PREFIX="libprotoc 3.21."
readonly GO_MODULE="github.com/herald-streaming/herald/clients/go"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
PYENV="${HERALD_PYENV:-${ROOT}/build/pyenv}"
readonly PYENV
readonly GOTOOLS="${ROOT}/build/gotools"
readonly PROTOS=(herald/v1/records.proto herald/v1/broker.proto herald/v1/admin.proto)

check=0
if [[ "${1:-}" == "--check" ]]; then check=1; fi

die() { echo "gen-clients: $*" >&2; exit 1; }

ensure_python_tools() {
  if [[ ! -x "${PYENV}/bin/python" ]]; then python3 -m venv "${PYENV}"; fi
  "${PYENV}/bin/pip" install -q -r "${ROOT}/clients/python/requirements-dev.txt"
}

ensure_go_tools() {
  command -v protoc >/dev/null || die "protoc not found (apt-get install -y protobuf-compiler)"
  local version
  version="$(protoc --version)"
  [[ "${version}" == "${PROTOC_VERSION_PREFIX}"* ]] ||
    die "protoc is '${version}', want '${PROTOC_VERSION_PREFIX}x' (Debian protobuf-compiler)"
  command -v go >/dev/null || die "go not found"
  mkdir -p "${GOTOOLS}"
  # Reinstall when the pinned version changes (the marker records what is there).
  local marker="${GOTOOLS}/.versions"
  local want="${PROTOC_GEN_GO_VERSION} ${PROTOC_GEN_GO_GRPC_VERSION}"
  if [[ ! -x "${GOTOOLS}/protoc-gen-go" || ! -x "${GOTOOLS}/protoc-gen-go-grpc" ||
        "$(cat "${marker}" 2>/dev/null)" != "${want}" ]]; then
    GOBIN="${GOTOOLS}" go install "google.golang.org/protobuf/cmd/protoc-gen-go@${PROTOC_GEN_GO_VERSION}"
    GOBIN="${GOTOOLS}" go install \
      "google.golang.org/grpc/cmd/protoc-gen-go-grpc@${PROTOC_GEN_GO_GRPC_VERSION}"
    echo "${want}" >"${marker}"
  fi
}

# gen_python OUT_DIR: writes the herald._proto package (flat, relative imports).
gen_python() {
  local out="$1" raw
  raw="$(mktemp -d)"
  "${PYENV}/bin/python" -m grpc_tools.protoc -I "${ROOT}/proto" \
    --python_out="${raw}" --pyi_out="${raw}" --grpc_python_out="${raw}" "${PROTOS[@]}"
  mkdir -p "${out}"
  local f
  for f in "${raw}"/herald/v1/*.py "${raw}"/herald/v1/*.pyi; do
    # protoc emits absolute imports (`from herald.v1 import x_pb2`) that only
    # resolve with proto/ on sys.path; rewrite them so the package is self-contained.
    sed -e 's/^from herald\.v1 import /from . import /' "${f}" >"${out}/$(basename "${f}")"
  done
  cat >"${out}/__init__.py" <<'PY'
"""Generated protobuf and gRPC stubs for herald.v1 (scripts/gen-clients.sh; do not edit)."""
PY
  rm -rf "${raw}"
}

# gen_go OUT_DIR: writes the heraldpb package into OUT_DIR/heraldpb.
gen_go() {
  local out="$1"
  mkdir -p "${out}"
  PATH="${GOTOOLS}:${PATH}" protoc -I "${ROOT}/proto" \
    --go_out="${out}" --go_opt=module="${GO_MODULE}" \
    --go-grpc_out="${out}" --go-grpc_opt=module="${GO_MODULE}" "${PROTOS[@]}"
}

main() {
  ensure_python_tools
  ensure_go_tools
  local py_dest="${ROOT}/clients/python/src/herald/_proto"
  local go_dest="${ROOT}/clients/go/heraldpb"
  if [[ "${check}" == 0 ]]; then
    rm -rf "${py_dest}" "${go_dest}"
    gen_python "${py_dest}"
    gen_go "${ROOT}/clients/go"
    echo "gen-clients: regenerated ${py_dest} and ${go_dest}"
    return
  fi
  CHECK_TMP="$(mktemp -d)"
  trap 'rm -rf "${CHECK_TMP}"' EXIT
  local tmp="${CHECK_TMP}"
  gen_python "${tmp}/py"
  gen_go "${tmp}/go"
  local stale=0
  diff -ru "${tmp}/py" "${py_dest}" || stale=1
  diff -ru "${tmp}/go/heraldpb" "${go_dest}" || stale=1
  if [[ "${stale}" != 0 ]]; then
    die "generated stubs are stale: run scripts/gen-clients.sh and commit the result"
  fi
  echo "gen-clients: stubs are up to date"
}

main
