#!/usr/bin/env bash
# Runs every libFuzzer target of a fuzz build for a bounded time on its seed corpus
# (fuzz/corpus/<target>/, committed; new inputs go to a scratch copy, not the repo).
# Inputs that once crashed stay in fuzz/regressions/<target>/ and are replayed first.
#   fuzz/run.sh BUILD_DIR SECONDS_PER_TARGET
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?build dir}
seconds=${2:-20}
export VIPS_WARNING=0  # corrupt inputs make libvips warn on every tile
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for bin in "$build"/fuzz/fuzz_*; do
  [[ -x "$bin" ]] || continue
  name=$(basename "$bin")
  mkdir -p "$scratch/$name"
  [[ -d fuzz/corpus/$name ]] && cp -r "fuzz/corpus/$name/." "$scratch/$name/"
  if [[ -d fuzz/regressions/$name ]] && compgen -G "fuzz/regressions/$name/*" >/dev/null; then
    echo "== $name: replaying regressions"
    "$bin" fuzz/regressions/"$name"/*
  fi
  dict=()
  [[ -f fuzz/dict/$name.dict ]] && dict=(-dict="fuzz/dict/$name.dict")
  echo "== $name: ${seconds}s"
  status=0
  "$bin" "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$scratch/$name-" "$scratch/$name" \
    >"$scratch/$name.log" 2>&1 || status=$?
  grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|SUMMARY)" "$scratch/$name.log" || true
  if ((status != 0)); then
    tail -n 60 "$scratch/$name.log"
    mkdir -p "fuzz/regressions/$name"
    cp "$scratch/$name"-crash-* "$scratch/$name"-leak-* "$scratch/$name"-timeout-* \
      "$scratch/$name"-oom-* "fuzz/regressions/$name/" 2>/dev/null || true
    echo "$name failed (exit $status); failing inputs kept in fuzz/regressions/$name/"
    exit 1
  fi
done
