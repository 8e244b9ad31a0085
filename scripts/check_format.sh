#!/usr/bin/env bash
# Fails when a C++ file of the tree (src, tests, fuzz, bench, cmake) differs from what
# clang-format makes of it with the committed .clang-format, and names the files.
#
#   scripts/check_format.sh          check (CI)
#   scripts/check_format.sh --fix    format them in place
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t files < <(find src tests fuzz bench cmake -type f \
  \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.c' \) | sort)
if [[ "${1:-}" == "--fix" ]]; then
  clang-format -i "${files[@]}"
  exit 0
fi
# One clang-format for every file (it goes on after a file that differs).
if ! out=$(clang-format --dry-run -Werror "${files[@]}" 2>&1); then
  echo "not formatted (fix: scripts/check_format.sh --fix):"
  grep -oE '^[^: ]+:[0-9]+:[0-9]+: (warning|error)' <<<"$out" | cut -d: -f1 | sort -u | sed 's/^/  /'
  head -n 40 <<<"$out"
  exit 1
fi
echo "check_format: ${#files[@]} files formatted"
