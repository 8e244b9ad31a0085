#!/usr/bin/env bash
# clang-tidy with the committed .clang-tidy over every file of src/: each .cpp, and each header
# through the .cpp files that include it (.clang-tidy's HeaderFilterRegex). The compile database
# comes from a configure-only build with clang's own flags and no precompiled header, so nothing
# is compiled first. Fails on any finding.
#
#   scripts/clang_tidy.sh [build-dir]    default build/tidy; JOBS parallel clang-tidys (nproc)
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-build/tidy}
JOBS=${JOBS:-$(nproc)}

CXX=clang++ cmake -S . -B "$DIR" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DIMAGECPP_PCH=OFF \
  -DIMAGECPP_TESTS=OFF -DIMAGECPP_BENCH=OFF >/dev/null

# A header no .cpp of src/ reaches would never be checked.
python3 - <<'PY'
import pathlib, re, sys
src = pathlib.Path("src")
include = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
reached, todo = set(), [p.relative_to(src).as_posix() for p in src.rglob("*.cpp")]
while todo:
    for target in include.findall((src / todo.pop()).read_text()):
        if (src / target).is_file() and target not in reached:
            reached.add(target)
            todo.append(target)
unreached = sorted(p.relative_to(src).as_posix() for p in src.rglob("*.hpp")
                   if p.relative_to(src).as_posix() not in reached)
for h in unreached:
    print(f"clang_tidy: src/{h} is included by no .cpp of src/: clang-tidy would not check it")
sys.exit(1 if unreached else 0)
PY

out=$DIR/clang-tidy
rm -rf "$out"
mkdir -p "$out"
mapfile -t sources < <(find src -name '*.cpp' | sort)
failed=0
printf '%s\n' "${sources[@]}" | xargs -P "$JOBS" -I{} sh -c \
  'clang-tidy -p "$1" --quiet --warnings-as-errors="*" "$2" >"$3/$(echo "$2" | tr / _).log" 2>&1' \
  _ "$DIR" {} "$out" || failed=1

# A header's findings are reported by every file that includes it: each is listed once.
findings=$(cat "$out"/*.log | grep -E ': (warning|error): ' | sort -u || true)
if ((failed)) || [[ -n $findings ]]; then
  for log in "$out"/*.log; do [[ -s $log ]] && cat "$log"; done
  echo
  echo "clang_tidy: $(grep -c . <<<"$findings") findings in ${#sources[@]} files:"
  echo "$findings"
  exit 1
fi
echo "clang_tidy: ${#sources[@]} files of src/ (and their headers), no finding"
