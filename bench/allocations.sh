#!/usr/bin/env bash
# Heap allocations per warm read (issue 16: none that scale with requests, beyond what the socket
# needs), counted by heaptrack on a Release build, for each warm scenario of the benchmark:
# scenario 1 (a JPEG variant, ?Size=320), 2 (the same as JSON) and a 304 (If-None-Match with
# the variant's ETag).
# The service runs twice per scenario, with a short and a long wrk run; the difference of the
# two allocation counts over the difference of the two request counts (read from /metrics)
# cancels start-up, the upload and the first computation of the variant.
#
#   bench/allocations.sh        ALLOC_BIN=<binary> measures a prebuilt one; ALLOC_SITES=N prints
#                               the N call sites that allocate most often (heaptrack_print)
# Prints: scenario, requests, allocations per request. Needs heaptrack, wrk, curl.
set -euo pipefail
SELF=$(readlink -f "$0")
cd "$(dirname "$SELF")/.."
ROOT=$PWD
./scripts/deps.sh heaptrack wrk curl >/dev/null
BIN=${ALLOC_BIN:-}
if [[ -z $BIN ]]; then
  cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DIMAGECPP_TESTS=OFF \
    -DIMAGECPP_BENCH=ON >/dev/null
  cmake --build build/bench -j 2 --target imagecpp >/dev/null
  BIN=$ROOT/build/bench/imagecpp
fi
PHOTO=${ALLOC_PHOTO:-$ROOT/tests/images/display-p3.jpg}
TMP=$(mktemp -d /tmp/imagecpp-allocs.XXXXXX)
PID=""
cleanup() {
  if [[ -n $PID ]]; then pkill -TERM -P "$PID" 2>/dev/null || true; kill -TERM "$PID" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
echo "token-for-allocations user-1" >"$TMP/tokens.txt"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# One service under heaptrack: upload, warm, then wrk for $2 seconds on $1 (a path) with the
# extra header $3. Prints "requests allocations".
measure() {
  local path=$1 seconds=$2 header=$3 port id requests calls
  port=$(free_port)
  rm -rf "$TMP/data" "$TMP"/heaptrack*
  heaptrack -o "$TMP/heaptrack" "$BIN" --auth-mode static --tokens-file "$TMP/tokens.txt" \
    --bind 127.0.0.1 --port "$port" --data-dir "$TMP/data" >"$TMP/service.log" 2>&1 &
  PID=$!
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
  id=$(curl -sf -H "Authorization: Bearer token-for-allocations" -H "Content-Type: image/jpeg" \
    --data-binary "@$PHOTO" "http://127.0.0.1:$port/v1/image" | sed -E 's/.*"id":"([^"]+)".*/\1/')
  local url="http://127.0.0.1:$port${path//\{id\}/$id}"
  curl -sf -o /dev/null "$url"  # computes the variant
  local args=(-t 2 -c 8 -d "${seconds}s")
  if [[ $header == etag ]]; then  # the variant's own tag: answered 304 without a lookup
    header="If-None-Match: $(curl -sfI "$url" | tr -d '\r' | sed -nE 's/^[Ee][Tt][Aa][Gg]: (.*)/\1/p')"
  fi
  [[ -n $header ]] && args+=(-H "$header")
  wrk "${args[@]}" "$url" >/dev/null
  requests=$(curl -sf "http://127.0.0.1:$port/metrics" |
    awk '/^imagecpp_http_requests_total/ {n += $2} END {print n}')
  # heaptrack (a shell script) runs the service as its child: the service is the one to stop,
  # and heaptrack then finishes writing its file and exits.
  pkill -TERM -P "$PID" -x "$(basename "$BIN")" || kill -TERM "$PID"
  wait "$PID" || true
  PID=""
  if [[ -n ${ALLOC_SITES:-} ]]; then  # where they come from: the top call sites, to stderr
    heaptrack_print --print-peaks 0 --print-temporary 0 --print-leaks 0 -n "$ALLOC_SITES" \
      "$TMP"/heaptrack*.zst >&2 2>/dev/null || true
  fi
  calls=$(heaptrack_print "$TMP"/heaptrack*.zst 2>/dev/null |
    sed -nE 's/^calls to allocation functions: ([0-9]+).*/\1/p')
  echo "$requests $calls"
}

printf '%-34s %10s %14s\n' scenario requests allocs/request
for scenario in "jpeg|/v1/image/{id}/jpeg?Size=320|" "json|/v1/image/{id}?Size=320|" \
  "not-modified|/v1/image/{id}/jpeg?Size=320|etag"; do
  IFS='|' read -r name path header <<<"$scenario"
  read -r r1 c1 < <(measure "$path" 1 "$header")
  read -r r2 c2 < <(measure "$path" 4 "$header")
  python3 - "$name" "$r1" "$c1" "$r2" "$c2" <<'PY'
import sys
name, r1, c1, r2, c2 = sys.argv[1], *map(int, sys.argv[2:])
print(f"{name:<34} {r2 - r1:>10} {(c2 - c1) / (r2 - r1):>14.2f}")
PY
done
