#!/usr/bin/env bash
# Builds Herald and runs the whole test suite:
#   1. the deployment artifacts (Helm chart, alert rules),
#   2. every C++ test (unit + integration against real server processes),
#   3. every client's conformance suite (Python, Go, Node, Java) against the server,
#      and the cross-language order-pipeline example end to end,
#   4. the unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer,
#   5. the concurrent broker core tests under ThreadSanitizer.
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

echo "== client conformance suites (Python, Go, Node, Java) against the real server"
scripts/test-clients.sh build/default/server/herald-server

echo "== cross-language example: order pipeline (Python -> Go x2, Node, Java groups; one consumer SIGKILLed)"
HERALD_SERVER_BIN="$PWD/build/default/server/herald-server" examples/order-pipeline/run-e2e.sh

echo "== benchmark tooling self-tests"
python3 -m unittest discover -s bench/peers -p '*_test.py'

if [[ "${HERALD_TEST_QUICK:-0}" != 1 ]]; then
  echo "== unit tests under ASan+UBSan"
  scripts/build.sh asan unit_tests
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build/asan -L unit --output-on-failure -j2 --timeout 900

  # The concurrent broker core (subscriptions, groups, produce) on the
  # in-memory store: RocksDB itself is not built for TSan.
  echo "== broker core tests under ThreadSanitizer"
  tsan_tests=(broker_test subscription_test broker_group_test memory_log_store_test)
  scripts/build.sh tsan "${tsan_tests[@]}"
  for t in "${tsan_tests[@]}"; do
    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" "build/tsan/broker/$t" --gtest_brief=1
  done
fi
