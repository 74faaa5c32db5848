#!/usr/bin/env bash
# Configures and builds Herald with CMake + Ninja (+ ccache).
#   scripts/build.sh [preset] [targets...]     preset: default | asan | tsan
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-default}
shift || true
cmake --preset "$preset" >/dev/null
ninja -C "build/$preset" "$@"
