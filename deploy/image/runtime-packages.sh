#!/usr/bin/env bash
# Prints, one a line and sorted, the Debian packages that hold every shared object FILE... loads
# (ldd's closure: what it links, and what those link), for the image's package list. Exits 1 if a
# library is missing or belongs to no package: the image could not be made from Debian's packages.
#
#   deploy/image/runtime-packages.sh FILE...
#
# ldd resolves through the build machine's loader cache, so the names are those of the packages
# the binary was built against. On a merged-/usr system ldd says /lib/... where dpkg may have
# registered /usr/lib/... (or the other way round), and a soname is a symlink that its package
# lists under either name: each library is looked up under all four spellings, in one dpkg query
# (each query reads dpkg's whole file database).
set -euo pipefail

(($#)) || { echo "usage: $0 FILE..." >&2; exit 2; }

libs=()
for file in "$@"; do
  listing=$(ldd "$file") || { echo "ldd failed on $file" >&2; exit 1; }
  if grep -q 'not found' <<<"$listing"; then
    echo "$file: missing libraries:" >&2
    grep 'not found' <<<"$listing" >&2
    exit 1
  fi
  # "name => /path (addr)" and the loader's "/path (addr)"; the vDSO has no file.
  mapfile -t -O "${#libs[@]}" libs < <(awk '$2 == "=>" { print $3 } $1 ~ /^\// { print $1 }' <<<"$listing")
done
mapfile -t libs < <(printf '%s\n' "${libs[@]}" | sort -u)

spellings() {  # path -> the path and its target, each with and without the /usr prefix
  local c
  for c in "$1" "$(readlink -f "$1")"; do
    echo "$c"
    case $c in
      /usr/*) echo "${c#/usr}" ;;
      *) echo "/usr$c" ;;
    esac
  done
}

declare -A owner_of
all=()
for lib in "${libs[@]}"; do mapfile -t -O "${#all[@]}" all < <(spellings "$lib"); done
# "pkg:arch: /path" per match; unmatched spellings only complain on stderr; "diversion by" lines
# name no owner.
while IFS= read -r line; do
  [[ $line == diversion\ * ]] && continue
  owner_of["${line#*: }"]=${line%%: *}
done < <(dpkg-query -S "${all[@]}" 2>/dev/null || true)

status=0
packages=()
for lib in "${libs[@]}"; do
  pkg=""
  while IFS= read -r c; do
    if [[ -n ${owner_of[$c]:-} ]]; then pkg=${owner_of[$c]%%:*}; break; fi
  done < <(spellings "$lib")
  if [[ -z $pkg ]]; then
    echo "no Debian package holds $lib" >&2
    status=1
  fi
  packages+=("$pkg")
done
((status == 0)) || exit "$status"
printf '%s\n' "${packages[@]}" | sort -u
