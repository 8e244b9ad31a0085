#!/usr/bin/env bash
# The soak (issue 5): mixed load on loopback against a Release build with the embedded store
# (LMDB in a temp dir) and static tokens, for a fixed number of requests and/or a duration;
# prints RSS (total and anonymous) at start, after warm-up, periodically and at the end, the
# requests per kind and status, and the verdict: RssAnon must not grow by more than 10 % from
# after warm-up to the end, and no 5xx / unexpected status may appear. Exit 0 only then.
# Why RssAnon and how the figures are taken: see the header of bench/soak.py.
#
#   bench/soak.sh                          20000 requests after a 3000-request warm-up
#   SOAK_DURATION=600 SOAK_REQUESTS=0 bench/soak.sh     10 minutes, however many requests
#   SOAK_ALLOCATOR=jemalloc bench/soak.sh  same, the service under jemalloc (LD_PRELOAD)
#
# Settings (environment):
#   SOAK_REQUESTS   measured requests after warm-up (20000; 0 = no limit, needs SOAK_DURATION)
#   SOAK_DURATION   seconds of the measured phase at most (0 = no limit)
#   SOAK_WARMUP     warm-up requests, not measured (3000)
#   SOAK_THREADS    concurrent client threads, one keep-alive connection each (6)
#   SOAK_INTERVAL   seconds between periodic RSS lines (30)
#   SOAK_SETTLE     seconds idle after the load before one more (informative) RSS line (5)
#   SOAK_MAX_GROWTH allowed growth in % (10)
#   SOAK_VERDICT    anon (default) or total: the RSS figure the verdict uses
#   SOAK_SEED       random seed of the mix (1)
#   SOAK_ALLOCATOR  glibc (default), jemalloc or mimalloc: LD_PRELOAD of the Debian library
#                   (libjemalloc2 / libmimalloc2.0, installed when missing)
#   SOAK_SERVICE_ENV  extra service environment, e.g. "MALLOC_ARENA_MAX=2 MALLOC_TRIM_THRESHOLD_=..."
#                     (only the service gets it, not the client)
#   SOAK_SERVICE_ARGS extra service flags
#   SOAK_BIN        a prebuilt service binary (skips the build)
#   SOAK_JSON       also write the figures as JSON to this file
#   SOAK_KEEP=1     keep the temp dir (LMDB data, service log)
# Everything started here is stopped on exit. Disk: the LMDB file in /tmp grows by about 0.5 GB a
# minute of load (5.3 GB in a 10-minute run here); it is deleted at the end. Since commit e47e18a
# the service sets its own glibc malloc options at startup (core/allocator.cpp); a MALLOC_* variable
# in SOAK_SERVICE_ENV replaces that one setting.
{  # the whole script is read before it runs: editing it meanwhile does not change this run
set -euo pipefail
SELF=$(readlink -f "$0")
cd "$(dirname "$SELF")/.."
ROOT=$PWD
BENCH=$ROOT/bench

for arg in "$@"; do
  case $arg in
    -h | --help) sed -n '2,35p' "$SELF" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

log() { printf '[soak %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- packages
ALLOCATOR=${SOAK_ALLOCATOR:-glibc}
need=(libvips-tools mate-backgrounds)
case $ALLOCATOR in
  glibc) PRELOAD="" ;;
  jemalloc) need+=(libjemalloc2); PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 ;;
  mimalloc) need+=(libmimalloc2.0); PRELOAD=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2 ;;
  *) die "SOAK_ALLOCATOR must be glibc, jemalloc or mimalloc" ;;
esac
./scripts/deps.sh "${need[@]}"  # and the service's build dependencies
if [[ -n $PRELOAD ]]; then
  # The library's own path (multiarch) when not the usual one.
  [[ -f $PRELOAD ]] || PRELOAD=$(dpkg -L "${need[-1]}" | grep -E '\.so\.2$' | head -1)
  [[ -f $PRELOAD ]] || die "no $ALLOCATOR library found"
fi

# ---------------------------------------------------------------- build
BUILD=$ROOT/build/bench
if [[ -n ${SOAK_BIN:-} ]]; then
  SERVICE_BIN=$(readlink -f "$SOAK_BIN")
  [[ -x $SERVICE_BIN ]] || die "SOAK_BIN=$SOAK_BIN is not an executable"
  log "service binary: $SERVICE_BIN (prebuilt)"
  GIT_DESC="prebuilt binary (SOAK_BIN)"
else
  log "building Release into build/bench (imagecpp)"
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DIMAGECPP_TESTS=OFF \
    -DIMAGECPP_BENCH=ON >/dev/null
  cmake --build "$BUILD" --target imagecpp -j 2 >/dev/null ||
    cmake --build "$BUILD" --target imagecpp -j 2  # show the error
  SERVICE_BIN=$BUILD/imagecpp
  GIT_DESC="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src CMakeLists.txt ||
    echo ' + uncommitted changes in src/')"
fi

# ---------------------------------------------------------------- photos
# The benchmark's photos (same files, same cache as bench/run.sh) plus real photos as shipped.
IMG=$BUILD/images
MATE=/usr/share/backgrounds/mate
. "$BENCH/photos.sh"
prepare_photos "$IMG"
# path:weight (how often it is uploaded, relative). Small, medium and 13 MP; JPEG and PNG.
PHOTOS=(
  "$MATE/nature/FreshFlower.jpg:3"           # 1600x1203, 80 KB
  "$ROOT/tests/images/orientation6.jpg:1"    # small, EXIF orientation 6
  "$ROOT/tests/images/alpha.png:1"           # small PNG with alpha
  "$IMG/photo_1600.jpg:3"                    # 1600x1200, 280 KB
  "$MATE/nature/LadyBird.jpg:2"              # 2560x1600, 350 KB
  "$MATE/nature/RainDrops.jpg:2"             # 1920x1200, 1.2 MB
  "$IMG/photo_1mp.png:2"                     # 1280x800 PNG, 1.7 MB
  "$IMG/photo_13mp_progressive.jpg:1"        # 4800x2700 progressive, 5 MB
  "$IMG/photo_13mp_baseline.jpg:1"           # 4800x2700 baseline with EXIF, 5.5 MB
)

# ---------------------------------------------------------------- temp dir, run
TMP=$(mktemp -d /tmp/imagecpp-soak.XXXXXX)
cleanup() {
  if [[ ${SOAK_KEEP:-0} == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
TOKEN=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
(umask 077 && printf '%s soak-user Soak\n' "$TOKEN" >"$TMP/tokens.txt")

service_env=${SOAK_SERVICE_ENV:-}
if [[ -n $PRELOAD ]]; then service_env="LD_PRELOAD=$PRELOAD $service_env"; fi

photo_args=()
for p in "${PHOTOS[@]}"; do photo_args+=(--photo "$p"); done

# soak.py starts the service (so that it knows its pid), runs the load, and stops it. In the
# background so that a Ctrl-C or SIGTERM here reaches it at once (it then stops the service).
/usr/bin/python3 "$BENCH/soak.py" \
  --bin "$SERVICE_BIN" --tmp "$TMP" --token "$TOKEN" --allocator "$ALLOCATOR" \
  --service-env "$service_env" --service-args "${SOAK_SERVICE_ARGS:-}" \
  --requests "${SOAK_REQUESTS:-20000}" --duration "${SOAK_DURATION:-0}" \
  --warmup "${SOAK_WARMUP:-3000}" --threads "${SOAK_THREADS:-6}" \
  --interval "${SOAK_INTERVAL:-30}" --settle "${SOAK_SETTLE:-5}" \
  --max-growth "${SOAK_MAX_GROWTH:-10}" --verdict "${SOAK_VERDICT:-anon}" \
  --seed "${SOAK_SEED:-1}" ${SOAK_JSON:+--json "$SOAK_JSON"} \
  --git "$GIT_DESC" \
  "${photo_args[@]}" &
PY=$!
trap 'kill -TERM "$PY" 2>/dev/null; wait "$PY"; exit 130' INT TERM
rc=0
wait "$PY" || rc=$?
exit $rc
}
