#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test, stops what it started.
#
#   scripts/test.sh            what CI runs: first the format check (scripts/check_format.sh,
#                              seconds) and clang-tidy over src/ (scripts/clang_tidy.sh,
#                              minutes), then four stages:
#                              1. a GCC Debug build with ASan+UBSan and -Werror, then every CTest
#                                 test: the unit tests and the integration tests (the real binary
#                                 over HTTP, with real redis-server and rabbitmq-server processes
#                                 that the tests start on free loopback ports and stop);
#                              2. a GCC TSan build running the concurrent parts' unit tests;
#                              3. a clang libFuzzer+ASan+UBSan build running every fuzz target for
#                                 a bounded time on its committed seed corpus;
#                              4. the benchmark in quick mode on the stage-1 binaries (the service
#                                 and the reference programs; it must run, its figures are not
#                                 checked).
#                              Then the container image: scripts/image.sh builds it, and
#                              tests/image runs its root filesystem (tests/image/run.sh alone
#                              runs this stage).
#   scripts/test.sh --fast     the format check and stage 1 only (for a quick local check)
#
# Environment: JOBS (parallel build jobs, default nproc), FUZZ_SECONDS (per target, default 12).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

FAST=0
[[ "${1:-}" == "--fast" ]] && FAST=1
JOBS=${JOBS:-$(nproc)}
FUZZ_SECONDS=${FUZZ_SECONDS:-12}

stage() { printf '\n==== %s (%s)\n' "$*" "$(date +%H:%M:%S)"; }

stage "dependencies"
./scripts/deps.sh --test

stage "format: clang-format --dry-run -Werror over src, tests, fuzz, bench"
./scripts/check_format.sh

if ((!FAST)); then
  # Measured: 346 CPU-seconds for src/'s 46 files (about 3 min of wall time on two free cores).
  # Before the builds, so that a finding fails the run early.
  stage "clang-tidy over src/ with the committed .clang-tidy"
  JOBS=$JOBS ./scripts/clang_tidy.sh build/tidy
fi

# LeakSanitizer: report our leaks, not the one-time allocations of glib/libvips' type system.
export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_init_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# history_size: with the default (2) the stack of an older access may be gone ("failed to restore
# the stack"), and then the suppressions cannot match it: seen once, a codec thread's read of an
# image's bytes (synchronised by glib's futex-based locks, invisible to TSan) against their release.
export TSAN_OPTIONS="suppressions=$ROOT/tests/tsan.supp:halt_on_error=1:second_deadlock_stack=1:history_size=5"

configure_and_build() {  # dir, then cmake options, then "--" and targets (default: all)
  local dir=$1 options=() targets=()
  shift
  while (($#)) && [[ $1 != -- ]]; do options+=("$1"); shift; done
  if (($#)); then shift; targets=(--target "$@"); fi
  cmake -S . -B "$dir" -G Ninja -DIMAGECPP_WERROR=ON -DIMAGECPP_BENCH=OFF "${options[@]}" >/dev/null
  cmake --build "$dir" -j "$JOBS" "${targets[@]}"
}

stage "1/4 GCC Debug + ASan/UBSan build: every unit and integration test"
# With the benchmark's two reference programs, for stage 4 (not a second, Release build for them).
configure_and_build build/test -DCMAKE_BUILD_TYPE=Debug -DIMAGECPP_SANITIZE=address,undefined \
  -DIMAGECPP_BENCH=ON
ctest --test-dir build/test --output-on-failure -j "$JOBS" --timeout 600 | tee build/test/ctest.log
summary=$(grep -E "tests passed, [0-9]+ tests failed out of" build/test/ctest.log | tail -n 1)

if ((!FAST)); then
  stage "2/4 TSan build: the concurrent parts' unit tests"
  configure_and_build build/tsan -DCMAKE_BUILD_TYPE=Debug -DIMAGECPP_SANITIZE=thread \
    -- unit_tests
  # Caches, single flight, worker pool, the in-flight budget, the verifier and the stores' async
  # clients, the domain, the logout consumer's thread (against a real RabbitMQ node), and the
  # stress tests of each. Not the domain's stress test: it renders images from many loops, slow
  # under TSan (it runs in stage 1). No test here has a render deadline or a wall-time bound: the
  # image workers are niced, and a busy machine starves them (the TSan stage once took 24 s).
  # Two shards at once (the tests are independent: stage 1 runs them in parallel too); much of
  # their time is spent waiting on Redis, RabbitMQ and timers.
  tsan_filter='*RequestTable*:*InflightBudget*:*BytesCache*:*SingleFlight*:*WorkerPool*:*Gate*:*TokenCache*:*CachingVerifier*:*RemoteVerifier*:*Redis*:*Lmdb*:*ImageService*:*LogoutConsumer*:*Offload*:*TimeText*:*LineBatches*:-*ImageServiceStress*'
  tsan_pids=()
  for shard in 0 1; do
    GTEST_TOTAL_SHARDS=2 GTEST_SHARD_INDEX=$shard ./build/tsan/tests/unit_tests --gtest_brief=1 \
      --gtest_filter="$tsan_filter" >"build/tsan/shard$shard.log" 2>&1 &
    tsan_pids+=($!)
  done
  tsan_failed=0
  for shard in 0 1; do
    wait "${tsan_pids[$shard]}" || tsan_failed=1
    cat "build/tsan/shard$shard.log"
  done
  ((tsan_failed == 0)) || { echo "TSan stage failed" >&2; exit 1; }

  stage "3/4 fuzzing: ${FUZZ_SECONDS}s per target"
  CC=clang CXX=clang++ configure_and_build build/fuzz -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS_RELEASE=-O1 -DIMAGECPP_FUZZ=ON -DIMAGECPP_SANITIZE=address,undefined \
    -DIMAGECPP_TESTS=OFF
  ./fuzz/run.sh build/fuzz "$FUZZ_SECONDS"

  stage "4/4 benchmark, quick mode, on the stage-1 (sanitizer) binary: it must run"
  BENCH_SERVICE_BIN=$ROOT/build/test/imagecpp BENCH_REFERENCE_DIR=$ROOT/build/test/bench \
    BENCH_RESULTS=$ROOT/build/test/bench-quick ./bench/run.sh --quick

  stage "container image: scripts/image.sh, then what it holds run with chroot (tests/image)"
  ./tests/image/run.sh
fi

# The CTest figures again, last: every stage above passed.
total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$summary")
echo "ctest: $total passed, 0 failed"
