#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test, stops what it started.
# Usage: scripts/test.sh            (Debug build in build/test, -Werror)
#        BUILD_DIR=... BUILD_TYPE=... scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh --test

build_dir=${BUILD_DIR:-build/test}
build_type=${BUILD_TYPE:-Debug}
jobs=${JOBS:-$(nproc)}

cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" -DIMAGECPP_WERROR=ON
cmake --build "$build_dir" -j "$jobs"

# The integration tests start their own servers on free loopback ports; unit tests run in parallel.
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" --timeout 300
