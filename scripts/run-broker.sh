#!/usr/bin/env bash
# Builds Herald and starts a single-node broker in the foreground.
# Data goes to ./data (override with --data_dir or HERALD_DATA_DIR); client
# API on :7420, Prometheus metrics on :7421. Extra arguments go to the server.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh default herald-server herald
exec build/default/server/herald-server "$@"
