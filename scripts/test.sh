#!/usr/bin/env bash
# Builds Herald and runs the whole test suite:
#   1. every C++ test (unit + integration against real server processes),
#   2. the unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer,
#   3. the storage-free core tests under ThreadSanitizer.
# Set HERALD_TEST_QUICK=1 to skip the sanitizer passes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

echo "== deployment artifacts (helm chart, alert rules)"
scripts/check-deploy.sh

echo "== build (RelWithDebInfo)"
scripts/build.sh default
echo "== tests"
ctest --test-dir build/default --output-on-failure -j2 --timeout 900

if [[ "${HERALD_TEST_QUICK:-0}" != 1 ]]; then
  echo "== unit tests under ASan+UBSan"
  scripts/build.sh asan unit_tests
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build/asan -L unit --output-on-failure -j2 --timeout 900
fi
