#!/usr/bin/env bash
# Installs what Herald's C++ build and tests need, from Debian 12 packages.
# Idempotent: installs only what is missing. Needs root (or sudo).
set -euo pipefail

PACKAGES=(
  cmake ninja-build g++ ccache pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librocksdb-dev libabsl-dev prometheus-cpp-dev libcli11-dev libspdlog-dev
  libgtest-dev libgmock-dev
  iproute2 procps
  iptables          # fault tests: network partitions inside a namespace (tests/fault)
  prometheus        # for promtool: metrics output and alert rules are checked in tests
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
