#!/usr/bin/env bash
# The benchmark (issue 6): one command that builds Release, starts what it needs on loopback,
# measures the service against its references (nginx for HTTP, redis-benchmark / LMDB and the
# base64 decode for uploads, in-process libvips for cold variants) and prints one table.
#
#   bench/run.sh            full run: 10 s a scenario, 3 repetitions (about 15 minutes)
#   bench/run.sh --quick    a few seconds a scenario, once (CI: it must run, figures don't count)
#
# Settings (environment): BENCH_GROUPS scenario groups to run ("warm upload cold isolation
# formats"; "cluster" on request), BENCH_CATALOG ids of the cluster group's catalogue read
# (300; quick: 30),
# BENCH_CLUSTER_STORE (cluster, or single: the cluster group's instances on one Redis),
# BENCH_DURATION seconds a wrk run, BENCH_REPS repetitions,
# BENCH_CONNS connection counts of scenarios 1-3 ("8 32"; quick: "8"), BENCH_UPLOAD_CONNS (8),
# BENCH_COLD_SAMPLES cold requests per photo and size, BENCH_ENGINES ("lmdb redis"),
# BENCH_PORT_BASE first loopback port tried (18400), BENCH_SERVICE_ARGS extra service flags,
# BENCH_SERVICE_ENV extra service environment ("MALLOC_ARENA_MAX=2 ..."),
# BENCH_RESULTS results directory (build/bench/results/<time>), BENCH_KEEP=1 keeps the temp dir,
# BENCH_GIT_REF=<commit> benchmarks the service of that commit (exported, built apart),
# BENCH_AB_REF=<commit> also runs that commit's service in the warm group, interleaved rep by rep
#   with this one, before first every other rep (rows "<engine>-before" and an after/before
#   ratio, the median of each rep's pair: a before/after comparison that a change in the
#   machine's speed cannot skew; use an even BENCH_REPS),
# BENCH_SERVICE_BIN=<path> benchmarks that binary as it is (CI: the sanitizer build's),
# BENCH_REFERENCE_DIR=<dir> takes vips_reference and store_reference from there, unbuilt (CI).
# Everything started here is stopped on exit. Results: <results>/table.txt and the raw files.
set -euo pipefail
SELF=$(readlink -f "$0")
cd "$(dirname "$SELF")/.."
ROOT=$PWD
BENCH=$ROOT/bench

QUICK=0
for arg in "$@"; do
  case $arg in
    --quick) QUICK=1 ;;
    -h | --help) sed -n '2,20p' "$SELF" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

if ((QUICK)); then
  DURATION=${BENCH_DURATION:-2}; REPS=${BENCH_REPS:-1}; COLD_SAMPLES=${BENCH_COLD_SAMPLES:-1}
  CONNS=${BENCH_CONNS:-8}
else
  DURATION=${BENCH_DURATION:-10}; REPS=${BENCH_REPS:-3}; COLD_SAMPLES=${BENCH_COLD_SAMPLES:-10}
  CONNS=${BENCH_CONNS:-8 32}
fi
UPLOAD_CONNS=${BENCH_UPLOAD_CONNS:-8}
ENGINES=${BENCH_ENGINES:-lmdb redis}
GROUPS_WANTED=" ${BENCH_GROUPS:-warm upload cold isolation formats} "
wanted() { [[ $GROUPS_WANTED == *" $1 "* ]]; }
FOCUS=""
WRK_THREADS=2  # wrk shares the 2 cores with the server: see the README
CORES=$(nproc)

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- packages and build
need=(wrk nginx redis-server redis-tools libvips-tools mate-backgrounds curl python3 prometheus-cpp-dev)
./scripts/deps.sh "${need[@]}"  # and the service's build dependencies

BUILD=$ROOT/build/bench
mkdir -p "$BUILD/results"
REFERENCE_DIR=${BENCH_REFERENCE_DIR:-$BUILD/bench}
targets=()
if [[ -z ${BENCH_REFERENCE_DIR:-} ]]; then targets+=(vips_reference store_reference format_reference); fi
if [[ -z ${BENCH_GIT_REF:-} && -z ${BENCH_SERVICE_BIN:-} ]]; then targets+=(imagecpp); fi
if ((${#targets[@]})); then
  log "building Release into build/bench (${targets[*]})"
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DIMAGECPP_TESTS=OFF \
    -DIMAGECPP_BENCH=ON >/dev/null
  cmake --build "$BUILD" -j 2 --target "${targets[@]}" >/dev/null ||
    cmake --build "$BUILD" -j 2 --target "${targets[@]}"  # show the error
fi
for program in vips_reference store_reference; do
  [[ -x $REFERENCE_DIR/$program ]] || die "no $program in $REFERENCE_DIR"
done
SERVICE_BIN=${BENCH_SERVICE_BIN:-$BUILD/imagecpp}
GIT_DESC="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src CMakeLists.txt ||
  echo ' + uncommitted changes in src/')"
if [[ -n ${BENCH_SERVICE_BIN:-} ]]; then GIT_DESC+=" (prebuilt: $BENCH_SERVICE_BIN)"; fi
# The service of a commit, exported (git archive: the work tree and the repository stay as they
# are) and built apart: for before/after comparisons, and for a steady build while others edit
# the work tree. The reference programs come from the work tree either way. Sets BUILT_BIN.
build_commit() {  # ref
  local sha snap
  sha=$(git rev-parse --short "$1^{commit}")
  snap=$BUILD/ref-$sha
  if [[ ! -f $snap/src/CMakeLists.txt ]]; then
    rm -rf "$snap/src" && mkdir -p "$snap/src"
    git archive "$sha" | tar -x -C "$snap/src"
  fi
  log "building the service of $1 ($sha) into build/bench/ref-$sha"
  cmake -S "$snap/src" -B "$snap/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DIMAGECPP_TESTS=OFF -DIMAGECPP_BENCH=OFF >/dev/null
  cmake --build "$snap/build" -j 2 --target imagecpp >/dev/null ||
    cmake --build "$snap/build" -j 2 --target imagecpp
  BUILT_BIN=$snap/build/imagecpp
  BUILT_SHA=$sha
}
if [[ -n ${BENCH_GIT_REF:-} ]]; then
  build_commit "$BENCH_GIT_REF"
  SERVICE_BIN=$BUILT_BIN
  GIT_DESC="$BUILT_SHA ($BENCH_GIT_REF, exported)"
fi
BEFORE_BIN=""; BEFORE_DESC=""
if [[ -n ${BENCH_AB_REF:-} ]]; then
  build_commit "$BENCH_AB_REF"
  BEFORE_BIN=$BUILT_BIN
  BEFORE_DESC="$BUILT_SHA ($BENCH_AB_REF, exported)"
fi

# ---------------------------------------------------------------- temp dir, cleanup
TMP=$(mktemp -d /tmp/imagecpp-bench.XXXXXX)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

MODE=full; if ((QUICK)); then MODE=quick; fi
RESULTS=${BENCH_RESULTS:-$BUILD/results/$(date -u +%Y%m%dT%H%M%SZ)-$MODE}
mkdir -p "$RESULTS"/{wrk,cold,ref,rss,isolation,logs}
ln -sfn "$RESULTS" "$BUILD/results/latest" 2>/dev/null || true

# ---------------------------------------------------------------- photos
# Real photos from mate-backgrounds, derived with libvips' CLI to the sizes the issue names.
IMG=$BUILD/images
. "$BENCH/photos.sh"
prepare_photos "$IMG"
PHOTOS=(photo_1600.jpg photo_13mp_baseline.jpg photo_13mp_progressive.jpg photo_1mp.png)
COLD_SIZES=320,1200

# ---------------------------------------------------------------- ports
read -r PORT_SVC_LMDB PORT_SVC_REDIS PORT_NGINX PORT_REDIS PORT_BEFORE_LMDB PORT_BEFORE_REDIS < <(
  python3 - "${BENCH_PORT_BASE:-18400}" <<'EOF'
import socket, sys
port, found = int(sys.argv[1]), []
while len(found) < 6 and port < 32768:  # below the kernel's outgoing port range
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port)); found.append(port)
    except OSError:
        pass
    finally:
        s.close()
    port += 1
print(*found)
EOF
)
[[ -n ${PORT_BEFORE_REDIS:-} ]] || die "no free loopback ports"
declare -A SVC_PORT=([lmdb]=$PORT_SVC_LMDB [redis]=$PORT_SVC_REDIS
  [lmdb-before]=$PORT_BEFORE_LMDB [redis-before]=$PORT_BEFORE_REDIS)
declare -A SVC_PID=()

# ---------------------------------------------------------------- engines
REDIS_SKIP=""
run_engines=()
for engine in $ENGINES; do
  if [[ $engine == redis && $("$SERVICE_BIN" --help 2>&1) != *--redis-url* ]]; then
    REDIS_SKIP="the service has no --redis-url option yet (Redis engine not built in): Redis runs skipped"
    log "$REDIS_SKIP"
    continue
  fi
  run_engines+=("$engine")
done
((${#run_engines[@]})) || die "no storage engine to run"
# The warm group's services: each engine, and with BENCH_AB_REF the same engine on the commit's
# binary ("<engine>-before", its Redis data in database 1).
warm_engines=("${run_engines[@]}")
if [[ -n $BEFORE_BIN ]]; then
  for engine in "${run_engines[@]}"; do warm_engines+=("$engine-before"); done
fi

TOKEN=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s bench-user Bench\n' "$TOKEN" >"$TMP/tokens.txt"

# ---------------------------------------------------------------- redis and nginx
wait_for() {  # description, command...
  local what=$1; shift
  for _ in $(seq 200); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  die "$what did not come up"
}

REDIS_PID=""
if [[ " ${run_engines[*]} " == *" redis "* ]] || wanted cluster; then
  # In memory only (no RDB, no AOF); the service's writes are in RAM, not on disk.
  redis-server --port "$PORT_REDIS" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$TMP" --logfile "$TMP/redis.log" --daemonize no &
  REDIS_PID=$!; PIDS+=("$REDIS_PID")
  wait_for redis redis-cli -p "$PORT_REDIS" ping
fi
rcli() { redis-cli -p "$PORT_REDIS" "$@"; }

# nginx: the HTTP limit. Same number of worker processes as the service's network threads.
NGINX_WORKERS=$CORES
mkdir -p "$TMP/nginx/tmp" "$TMP/www"
chmod 755 "$TMP" "$TMP/www"  # nginx' workers drop root and must read the files
cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes $NGINX_WORKERS;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 75s;
  keepalive_requests 100000000;
  types { image/jpeg jpg; application/json json; }
  default_type application/octet-stream;
  client_body_temp_path $TMP/nginx/tmp/body;
  proxy_temp_path $TMP/nginx/tmp/proxy;
  fastcgi_temp_path $TMP/nginx/tmp/fastcgi;
  uwsgi_temp_path $TMP/nginx/tmp/uwsgi;
  scgi_temp_path $TMP/nginx/tmp/scgi;
  server {
    listen 127.0.0.1:$PORT_NGINX;
    root $TMP/www;
  }
}
EOF
nginx -p "$TMP/nginx/" -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf" &
NGINX_PID=$!; PIDS+=("$NGINX_PID")
echo ok >"$TMP/www/ping.txt"
wait_for nginx curl -sf "http://127.0.0.1:$PORT_NGINX/ping.txt"

# ---------------------------------------------------------------- the service
start_service() {  # engine group
  local engine=$1 group=$2 port=${SVC_PORT[$1]} bin=$SERVICE_BIN db=0
  local args=(--auth-mode static --tokens-file "$TMP/tokens.txt" --bind 127.0.0.1 --port "$port")
  if [[ $engine == *-before ]]; then bin=$BEFORE_BIN; db=1; fi
  if [[ $engine == redis* ]]; then
    rcli -n "$db" flushdb >/dev/null
    args+=(--redis-url "redis://127.0.0.1:$PORT_REDIS/$db")
  else
    rm -rf "$TMP/data-$group"
    args+=(--data-dir "$TMP/data-$group")
  fi
  # shellcheck disable=SC2086
  env ${BENCH_SERVICE_ENV:-} "$bin" "${args[@]}" ${BENCH_SERVICE_ARGS:-} \
    >"$RESULTS/logs/service.$engine.$group.log" 2>&1 &
  SVC_PID[$engine]=$!; PIDS+=("${SVC_PID[$engine]}")
  wait_for "the service ($engine)" curl -sf "http://127.0.0.1:$port/readyz"
}

# Peak RSS of the group: VmHWM, the high-water mark since the process started.
stop_service() {  # engine group
  local engine=$1 group=$2 pid=${SVC_PID[$1]}
  awk '/^VmHWM/ {print $2}' "/proc/$pid/status" >"$RESULTS/rss/$engine.$group.kb"
  kill -TERM "$pid"
  wait "$pid" || log "service ($engine) exited with $?"
  trim_log "$RESULTS/logs/service.$engine.$group.log"
}

# A service's log keeps its lines other than access lines (the first 10 000) and its last 1 000
# lines: the access lines of a warm group are gigabytes (one a request; a full run's logs once
# filled the disk, and LMDB's commits then failed).
trim_log() {  # file
  local file=$1
  {
    grep -v '^[^ ]* access ' "$file" | head -n 10000 || true
    echo "[bench: access lines left out above; the log's last 1000 lines follow]"
    tail -n 1000 "$file"
  } >"$file.kept"
  mv "$file.kept" "$file"
}

ours_pids() {
  local p=("$NGINX_PID") e
  if [[ -n $REDIS_PID ]]; then p+=("$REDIS_PID"); fi
  for e in "${!SVC_PID[@]}"; do p+=("${SVC_PID[$e]}"); done
  if [[ -n ${CLUSTER_PID:-} ]]; then p+=("$CLUSTER_PID"); fi  # scripts/cluster.sh and its tree
  local IFS=,; echo "${p[*]}${EXTRA_PIDS:+,$EXTRA_PIDS}"
}

# Runs a measured command into a result file, with the machine's noise appended (and the CPU,
# page faults and context switches of the server under test when FOCUS names its pid).
measured() {  # outfile command...
  local out=$1; shift
  python3 "$BENCH/measure.py" --pids "$(ours_pids)" ${FOCUS:+--focus "$FOCUS"} -- "$@" >"$out" 2>&1 ||
    { cat "$out" >&2; die "failed: $*"; }
}

run_wrk() {  # outfile connections url server-pid [VAR=value...]
  local out=$1 conns=$2 url=$3; FOCUS=$4; shift 4
  measured "$out" env "$@" wrk -t "$WRK_THREADS" -c "$conns" -d "${DURATION}s" --timeout 10s \
    --latency -s "$BENCH/wrk/bench.lua" "$url"
  FOCUS=""
  grep -q '^BENCH_JSON' "$out" || { cat "$out" >&2; die "wrk gave no figures: $out"; }
}

svc_url() { echo "http://127.0.0.1:${SVC_PORT[$1]}$2"; }
upload() {  # engine file [--json] [--count N]
  local engine=$1 file=$2; shift 2
  python3 "$BENCH/client.py" upload --port "${SVC_PORT[$engine]}" --token "$TOKEN" "$@" "$file"
}
get_to() { python3 "$BENCH/client.py" get --port "${SVC_PORT[$1]}" --out "$3" "${@:4}" "$2"; }

# ---------------------------------------------------------------- metadata
{
  echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "mode=$MODE"
  echo "duration_s=$DURATION"; echo "reps=$REPS"; echo "conns=$CONNS"
  echo "upload_conns=$UPLOAD_CONNS"; echo "cold_samples=$COLD_SAMPLES"; echo "cold_sizes=$COLD_SIZES"
  echo "catalog=${BENCH_CATALOG:-$((QUICK ? 30 : 300))}"
  echo "cores=$CORES"; echo "wrk_threads=$WRK_THREADS"; echo "nginx_workers=$NGINX_WORKERS"
  echo "service_threads=default: io threads = workers = cores ($CORES)"
  echo "service_args=${BENCH_SERVICE_ARGS:-}"; echo "service_env=${BENCH_SERVICE_ENV:-}"
  echo "engines=${run_engines[*]}"; echo "redis_skip=$REDIS_SKIP"
  if [[ -n $BEFORE_BIN ]]; then
    echo "ab_engines=${warm_engines[*]:${#run_engines[@]}}"; echo "ab_git=$BEFORE_DESC"
  fi
  echo "git=$GIT_DESC"
  echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "versions=$(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2); $(nginx -v 2>&1); $(redis-server --version | cut -d' ' -f1-3); $(vips --version)"
  for p in "${PHOTOS[@]}"; do
    echo "photo.$p=$(vipsheader -f width "$IMG/$p")x$(vipsheader -f height "$IMG/$p") $(stat -c %s "$IMG/$p") bytes$( [[ $(vipsheader -f interlaced "$IMG/$p" 2>/dev/null) == 1 ]] && echo ', progressive')"
  done
} >"$RESULTS/meta.txt"
log "results in $RESULTS; engines: ${run_engines[*]}; ${DURATION}s x $REPS a scenario"

# ---------------------------------------------------------------- 1-3: warm reads
declare -A WARM_ID=()
if wanted warm; then
log "group warm: scenarios 1-3 (warm JPEG, warm JSON, original JSON)"
first=""
for engine in "${warm_engines[@]}"; do
  start_service "$engine" warm
  WARM_ID[$engine]=$(upload "$engine" "$IMG/photo_1600.jpg" --json)
  id=${WARM_ID[$engine]}
  mkdir -p "$TMP/bodies/$engine"
  get_to "$engine" "/v1/image/$id/jpeg?Size=320" "$TMP/bodies/$engine/v320.jpg"
  get_to "$engine" "/v1/image/$id?Size=320" "$TMP/bodies/$engine/v320.json"
  get_to "$engine" "/v1/image/$id" "$TMP/bodies/$engine/orig.json"
  if [[ -z $first ]]; then
    first=$engine
    cp "$TMP/bodies/$engine/"* "$TMP/www/"  # nginx serves the very bytes the service answers
  else
    cmp -s "$TMP/bodies/$engine/v320.jpg" "$TMP/www/v320.jpg" ||
      log "warning: the $engine variant differs from the $first one"
  fi
done
for f in v320.jpg v320.json orig.json; do echo "body.$f=$(stat -c %s "$TMP/www/$f")"; done >>"$RESULTS/meta.txt"

declare -A SVC_PATH=([jpeg]='/jpeg?Size=320' [json]='?Size=320' [orig]='')
declare -A NGINX_PATH=([jpeg]=/v320.jpg [json]=/v320.json [orig]=/orig.json)
for scenario in jpeg json orig; do
  for conns in $CONNS; do
    for rep in $(seq "$REPS"); do
      # Interleaved, so that a change in the machine's load hits service and reference alike;
      # with BENCH_AB_REF, every other repetition runs the before builds first (A B B A ...), so
      # that neither side always runs in the same place (right after nginx, say).
      order=("${warm_engines[@]}")
      if [[ -n $BEFORE_BIN ]] && ((rep % 2 == 0)); then
        order=("${warm_engines[@]:${#run_engines[@]}}" "${run_engines[@]}")
      fi
      for engine in "${order[@]}"; do
        run_wrk "$RESULTS/wrk/$engine.$scenario.c$conns.rep$rep.txt" "$conns" \
          "$(svc_url "$engine" "/v1/image/${WARM_ID[$engine]}${SVC_PATH[$scenario]}")" \
          "${SVC_PID[$engine]}"
      done
      run_wrk "$RESULTS/wrk/nginx.$scenario.c$conns.rep$rep.txt" "$conns" \
        "http://127.0.0.1:$PORT_NGINX${NGINX_PATH[$scenario]}" "$NGINX_PID"
      log "  $scenario c$conns rep $rep done"
    done
  done
done
for engine in "${warm_engines[@]}"; do stop_service "$engine" warm; done
fi

# ---------------------------------------------------------------- 4: uploads
upload_body() {  # $TMP/upload.json: the 280 KB JPEG as a JSON data URL
  python3 - "$IMG/photo_1600.jpg" "$TMP/upload.json" <<'EOF'
import base64, json, sys
raw = open(sys.argv[1], "rb").read()
open(sys.argv[2], "w").write(json.dumps({"image": "data:image/jpeg;base64," + base64.b64encode(raw).decode()}))
EOF
}
if wanted upload; then
log "group upload: scenario 4 (JSON data URL of the 280 KB JPEG)"
upload_body
for engine in "${run_engines[@]}"; do start_service "$engine" upload; done
PHOTO_BYTES=$(stat -c %s "$IMG/photo_1600.jpg")
for rep in $(seq "$REPS"); do
  for engine in "${run_engines[@]}"; do
    run_wrk "$RESULTS/wrk/$engine.upload.c$UPLOAD_CONNS.rep$rep.txt" "$UPLOAD_CONNS" \
      "$(svc_url "$engine" /v1/image)" "${SVC_PID[$engine]}" BENCH_BODY_FILE="$TMP/upload.json" \
      BENCH_CONTENT_TYPE=application/json BENCH_TOKEN="$TOKEN"
    if [[ $engine == redis ]]; then rcli flushall >/dev/null; fi  # bounds Redis' memory
  done
  if [[ -n $REDIS_PID ]]; then
    # A SET of a value of the same size (redis-benchmark cannot send given binary bytes; Redis
    # does not look at them), same connections, for about the same time as the wrk run. Each
    # SET a new key (-r), as each upload is: overwriting one key reuses its memory, and Redis
    # then takes 3-4 times less CPU a SET than for a key it must grow its memory for.
    rps=$(redis-benchmark -p "$PORT_REDIS" -c "$UPLOAD_CONNS" -n 300 -r 1000000000 \
      -d "$PHOTO_BYTES" -t set --csv 2>/dev/null | awk -F'"' '/^"SET"/ {print int($4)}')
    rcli flushall >/dev/null
    n=$((rps * DURATION)); if ((n < 300)); then n=300; fi
    measured "$RESULTS/ref/redis_set.rep$rep.txt" redis-benchmark -p "$PORT_REDIS" \
      -c "$UPLOAD_CONNS" -n "$n" -r 1000000000 -d "$PHOTO_BYTES" -t set --csv
    rcli flushall >/dev/null
  fi
  log "  upload rep $rep done"
done
mkdir -p "$TMP/lmdb-ref"
measured "$RESULTS/ref/store_reference.txt" "$REFERENCE_DIR/store_reference" \
  "$IMG/photo_1600.jpg" $((QUICK ? 50 : 300)) "$TMP/lmdb-ref"
for engine in "${run_engines[@]}"; do stop_service "$engine" upload; done
fi

# ---------------------------------------------------------------- 5: cold variants
if wanted cold; then
log "group cold: scenario 5 (first request after upload; $COLD_SAMPLES samples a photo and size)"
for engine in "${run_engines[@]}"; do start_service "$engine" cold; done
checkpoint() {  # engine step: running max (VmHWM), current RSS, its anonymous and file parts (kB)
  # (LMDB's data file is mapped: the pages of it a read touches count in RSS as file-backed)
  awk -v step="$2" '/^VmHWM/ {h=$2} /^VmRSS/ {r=$2} /^RssAnon/ {a=$2} /^RssFile/ {f=$2}
    END {print step, h, r, a, f}' \
    "/proc/${SVC_PID[$1]}/status" >>"$RESULTS/rss/$1.cold.steps"
}
for engine in "${run_engines[@]}"; do
  : >"$RESULTS/cold/$engine.txt"
  checkpoint "$engine" started
  for photo in "${PHOTOS[@]}"; do
    # A fresh id per sample (+1 warm-up): each upload of the same bytes gets its own id.
    upload "$engine" "$IMG/$photo" --count $((COLD_SAMPLES + 1)) >"$TMP/ids.$engine.$photo"
    checkpoint "$engine" "uploaded:$photo"
    # Each cold request is followed by one in-process libvips run of the same file and box.
    measured "$TMP/cold.out" python3 "$BENCH/client.py" cold --port "${SVC_PORT[$engine]}" \
      --ids "$TMP/ids.$engine.$photo" --sizes "$COLD_SIZES" --label "$photo" \
      --reference "$REFERENCE_DIR/vips_reference" --file "$IMG/$photo" --quality 80
    cat "$TMP/cold.out" >>"$RESULTS/cold/$engine.txt"
    checkpoint "$engine" "cold:$photo"
  done
  if [[ $engine == redis ]]; then
    # Memory per stored byte: the service's keys, and for comparison the same bytes SET by
    # redis-cli (the floor) and as the peers' data-URL strings.
    for photo in "${PHOTOS[@]}"; do
      id=$(head -1 "$TMP/ids.$engine.$photo")
      size=$(stat -c %s "$IMG/$photo")
      for key in "$id" "${id}_320" "${id}_1200"; do
        what=original; [[ $key == *_* ]] && what=variant_${key##*_}
        len=$(rcli strlen "$key")  # binary size: the file for the original, else the value
        echo "service $photo $what $len $(rcli memory usage "$key" samples 0) $([[ $what == original ]] && echo "$size" || echo "$len")"
      done
      rcli -x set "bench:raw:$photo" <"$IMG/$photo" >/dev/null
      echo "raw-set $photo original $(rcli strlen "bench:raw:$photo") $(rcli memory usage "bench:raw:$photo" samples 0) $size"
      python3 -c 'import base64,sys; d=open(sys.argv[1],"rb").read(); m="image/png" if d[:4]==b"\x89PNG" else "image/jpeg"; sys.stdout.write("data:%s;base64,%s" % (m, base64.b64encode(d).decode()))' \
        "$IMG/$photo" >"$TMP/dataurl"
      rcli -x set "bench:dataurl:$photo" <"$TMP/dataurl" >/dev/null
      echo "data-url $photo original $(rcli strlen "bench:dataurl:$photo") $(rcli memory usage "bench:dataurl:$photo" samples 0) $size"
    done >"$RESULTS/ref/redis_memory.txt"
  fi
  # Concurrent cold reads: 8 clients ask for one new image at the same instant (a product goes
  # live), against one client alone on another new id of the same photo, each form in turn.
  upload "$engine" "$IMG/photo_1600.jpg" --count $(( (COLD_SAMPLES + 1) * 8 )) >"$TMP/burst-ids"
  measured "$RESULTS/cold/$engine.burst.txt" python3 "$BENCH/client.py" burst \
    --port "${SVC_PORT[$engine]}" --ids "$TMP/burst-ids" --clients 8
  checkpoint "$engine" "burst"
  log "  cold $engine done"
done
for engine in "${run_engines[@]}"; do stop_service "$engine" cold; done
fi

# ---------------------------------------------------------------- 6: isolation
if wanted isolation; then
log "group isolation: scenario 6 (warm JPEG at 8 connections beside a loop of cold 13 MP variants)"
ids_per_rep=$(( (DURATION + 1) * 10 / 6 + 1 ))  # every Size of an id; >= 10 cold variants/s
for engine in "${run_engines[@]}"; do
  start_service "$engine" isolation
  WARM_ID[$engine]=$(upload "$engine" "$IMG/photo_1600.jpg" --json)
  get_to "$engine" "/v1/image/${WARM_ID[$engine]}/jpeg?Size=320" "$TMP/warm.jpg"
  for rep in $(seq "$REPS"); do  # baseline and progressive in turn
    upload "$engine" "$IMG/photo_13mp_baseline.jpg" --count $(( (ids_per_rep + 1) / 2 )) >"$TMP/b"
    upload "$engine" "$IMG/photo_13mp_progressive.jpg" --count $((ids_per_rep / 2)) >"$TMP/p"
    paste -d '\n' "$TMP/b" "$TMP/p" | sed '/^$/d' >"$TMP/iso-ids.$engine.$rep"
  done
done
for rep in $(seq "$REPS"); do
  for engine in "${run_engines[@]}"; do
    # Scenario 1 at 8 connections without the cold load, right before: the reference p99.
    run_wrk "$RESULTS/wrk/$engine.isolation-base.c8.rep$rep.txt" 8 \
      "$(svc_url "$engine" "/v1/image/${WARM_ID[$engine]}/jpeg?Size=320")" "${SVC_PID[$engine]}"
    python3 "$BENCH/client.py" loop --port "${SVC_PORT[$engine]}" --ids "$TMP/iso-ids.$engine.$rep" \
      --duration $((DURATION + 1)) --out "$RESULTS/isolation/$engine.rep$rep.txt" &
    loop_pid=$!
    sleep 0.5  # the first cold variant is under way when the load starts
    EXTRA_PIDS=$loop_pid run_wrk "$RESULTS/wrk/$engine.isolation.c8.rep$rep.txt" 8 \
      "$(svc_url "$engine" "/v1/image/${WARM_ID[$engine]}/jpeg?Size=320")" "${SVC_PID[$engine]}"
    wait "$loop_pid" || die "the cold loop failed ($engine)"
  done
  log "  isolation rep $rep done"
done
for engine in "${run_engines[@]}"; do stop_service "$engine" isolation; done
fi

# ---------------------------------------------------------------- 8: formats (issue 14)
if wanted formats; then
log "group formats: bytes, SSIM and encode time per format and size; warm and cold routes"
mkdir -p "$RESULTS/formats"
[[ -x $REFERENCE_DIR/format_reference ]] || die "no format_reference in $REFERENCE_DIR"
formats_args=(--bin "$REFERENCE_DIR/format_reference" --images "$IMG")
if ((QUICK)); then formats_args+=(--quick); fi
measured "$RESULTS/formats/quality.txt" python3 "$BENCH/formats.py" "${formats_args[@]}"
CHROME_ACCEPT='image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8'
declare -A FMT_PATH=([jpeg]='/jpeg?Size=320' [auto]='/auto?Size=320' [webp]='/webp?Size=320'
  [avif]='/avif?Size=320')
for engine in "${run_engines[@]}"; do
  start_service "$engine" formats
  WARM_ID[$engine]=$(upload "$engine" "$IMG/photo_1600.jpg")
  for route in jpeg auto webp avif; do  # computed once here: the wrk runs below are warm
    get_to "$engine" "/v1/image/${WARM_ID[$engine]}${FMT_PATH[$route]}" "$TMP/fmt.$route" \
      --accept "$CHROME_ACCEPT"
  done
  # Cold: the first request of a fresh id, per route, one at a time (the first is a warm-up).
  : >"$RESULTS/cold/$engine.formats.txt"
  for route in jpeg auto webp avif; do
    upload "$engine" "$IMG/photo_1600.jpg" --count $((COLD_SAMPLES + 1)) >"$TMP/fmt-ids"
    measured "$TMP/cold.out" python3 "$BENCH/client.py" cold --port "${SVC_PORT[$engine]}" \
      --ids "$TMP/fmt-ids" --sizes "$COLD_SIZES" --label "$route" --route "$route" \
      --accept "$CHROME_ACCEPT"
    grep -v '^BENCH_' "$TMP/cold.out" >>"$RESULTS/cold/$engine.formats.txt"
  done
done
for rep in $(seq "$REPS"); do
  for route in jpeg auto webp avif; do  # interleaved: the machine's load hits them alike
    for engine in "${run_engines[@]}"; do
      run_wrk "$RESULTS/wrk/$engine.fmt-$route.c8.rep$rep.txt" 8 \
        "$(svc_url "$engine" "/v1/image/${WARM_ID[$engine]}${FMT_PATH[$route]}")" \
        "${SVC_PID[$engine]}" BENCH_ACCEPT="$CHROME_ACCEPT"
    done
  done
  log "  formats rep $rep done"
done
for engine in "${run_engines[@]}"; do stop_service "$engine" formats; done
fi

# ---------------------------------------------------------------- C: the cluster
# Warm, cold and upload through haproxy (deploy/haproxy.cfg) in front of 3 instances on a Redis
# Cluster (3 masters, 3 replicas), all started by scripts/cluster.sh, against the same scenarios
# on one instance on one Redis, alternately: the price of the balancer and the cluster hop.
# CPU/req is the CPU of every server-side process per request: the instance and its Redis for
# the one, haproxy, the 3 instances and the 6 Redis nodes for the other.
if wanted cluster; then
log "group cluster: through haproxy on 3 instances and a Redis Cluster, against one instance on one Redis"
CATALOG=${BENCH_CATALOG:-$((QUICK ? 30 : 300))}
CLUSTER_BASE=$((${BENCH_PORT_BASE:-18400} + 100))
CLUSTER_READY=$TMP/cluster.ready
# shellcheck disable=SC2086
env ${BENCH_SERVICE_ENV:-} CLUSTER_PORT=$((CLUSTER_BASE + 40)) CLUSTER_PORT_BASE=$CLUSTER_BASE \
  CLUSTER_DIR="$TMP/cluster" CLUSTER_BIN="$SERVICE_BIN" CLUSTER_RABBIT=off \
  CLUSTER_STORE="${BENCH_CLUSTER_STORE:-cluster}" CLUSTER_READY_FILE="$CLUSTER_READY" \
  IMAGE_AUTH_MODE= IMAGE_TOKENS_FILE="$TMP/tokens.txt" \
  "$ROOT/scripts/cluster.sh" ${BENCH_SERVICE_ARGS:-} >"$RESULTS/logs/cluster.log" 2>&1 &
CLUSTER_PID=$!; PIDS+=("$CLUSTER_PID")
for _ in $(seq 1800); do
  [[ -s $CLUSTER_READY ]] && break
  kill -0 "$CLUSTER_PID" 2>/dev/null || { cat "$RESULTS/logs/cluster.log" >&2; die "scripts/cluster.sh failed"; }
  sleep 0.1
done
[[ -s $CLUSTER_READY ]] || die "scripts/cluster.sh did not get ready (see $RESULTS/logs/cluster.log)"
CLUSTER_PORT=$(head -1 "$CLUSTER_READY" | sed 's/.*://')
start_service redis cluster
declare -A CL_PORT=([single]=${SVC_PORT[redis]} [cluster]=$CLUSTER_PORT)
declare -A CL_FOCUS=([single]="${SVC_PID[redis]},$REDIS_PID" [cluster]=$CLUSTER_PID)
cl_upload() {  # config file count [--json]
  python3 "$BENCH/client.py" upload --port "${CL_PORT[$1]}" --token "$TOKEN" --count "$3" \
    ${4:-} "$2"
}
upload_body
for config in single cluster; do
  # One warm image (scenario 1 through the balancer), and a catalogue of distinct ids read in
  # turn: through haproxy each instance caches the share the hash gives it.
  id=$(cl_upload "$config" "$IMG/photo_1600.jpg" 1 --json)
  echo "/v1/image/$id/jpeg?Size=320" >"$TMP/cl-one.$config"
  cl_upload "$config" "$IMG/photo_1600.jpg" "$CATALOG" |
    sed 's|.*|/v1/image/&/jpeg?Size=320|' >"$TMP/cl-catalog.$config"
  python3 "$BENCH/client.py" warm --port "${CL_PORT[$config]}" --paths "$TMP/cl-one.$config"
  python3 "$BENCH/client.py" warm --port "${CL_PORT[$config]}" --paths "$TMP/cl-catalog.$config"
done
for rep in $(seq "$REPS"); do
  for config in single cluster; do
    url="http://127.0.0.1:${CL_PORT[$config]}"
    for conns in $CONNS; do
      run_wrk "$RESULTS/wrk/cl-$config.jpeg.c$conns.rep$rep.txt" "$conns" \
        "$url$(cat "$TMP/cl-one.$config")" "${CL_FOCUS[$config]}"
    done
    run_wrk "$RESULTS/wrk/cl-$config.catalog.c8.rep$rep.txt" 8 "$url/" "${CL_FOCUS[$config]}" \
      BENCH_PATHS_FILE="$TMP/cl-catalog.$config"
  done
  log "  cluster warm rep $rep done"
done
# Uploads last: each run stores hundreds of 280 KB images; the stores are emptied after each
# (every master: its replicas follow), which also takes the warm reads' keys.
cl_flush() {
  rcli flushall >/dev/null
  local port
  for port in $(seq "$CLUSTER_BASE" $((CLUSTER_BASE + 5))); do
    if redis-cli -p "$port" role | head -1 | grep -q master; then
      redis-cli -p "$port" flushall >/dev/null
    fi
  done
}
for rep in $(seq "$REPS"); do
  for config in single cluster; do
    run_wrk "$RESULTS/wrk/cl-$config.upload.c$UPLOAD_CONNS.rep$rep.txt" "$UPLOAD_CONNS" \
      "http://127.0.0.1:${CL_PORT[$config]}/v1/image" "${CL_FOCUS[$config]}" \
      BENCH_BODY_FILE="$TMP/upload.json" BENCH_CONTENT_TYPE=application/json BENCH_TOKEN="$TOKEN"
  done
  if ((rep < REPS)); then cl_flush; fi  # the last run's keys stay for the memory figures
  log "  cluster upload rep $rep done"
done
# Cold: the first read after an upload (through haproxy: uploaded by one instance, read and
# computed by the one the id hashes to, which fetches the original from its master).
for config in single cluster; do
  : >"$RESULTS/cold/cl-$config.txt"
  cl_upload "$config" "$IMG/photo_1600.jpg" $((COLD_SAMPLES + 1)) >"$TMP/cl-cold.$config"
  measured "$TMP/cold.out" python3 "$BENCH/client.py" cold --port "${CL_PORT[$config]}" \
    --ids "$TMP/cl-cold.$config" --sizes "$COLD_SIZES" --label photo_1600.jpg
  cat "$TMP/cold.out" >>"$RESULTS/cold/cl-$config.txt"
done
# Memory: peak RSS of every process, and what each Redis holds (keys, used_memory).
{
  echo "single-instance $(awk '/^VmHWM/ {print $2}' "/proc/${SVC_PID[redis]}/status")"
  echo "single-redis $(awk '/^VmHWM/ {print $2}' "/proc/$REDIS_PID/status") $(rcli dbsize) $(rcli info memory | awk -F: '/^used_memory:/ {print $2}' | tr -d '\r')"
  mapfile -t cl_pids < <(tail -n +2 "$CLUSTER_READY")
  for pid in "${cl_pids[@]}"; do
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
    args=$(tr '\0' ' ' <"/proc/$pid/cmdline")
    kb=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
    case $comm in
      redis-server)
        port=$(grep -oE '127\.0\.0\.1:[0-9]+' <<<"$args" | head -1 | cut -d: -f2)  # its title
        role=$(redis-cli -p "$port" info replication | awk -F: '/^role:/ {print $2}' | tr -d '\r')
        echo "cluster-redis-$role $kb $(redis-cli -p "$port" dbsize) $(redis-cli -p "$port" info memory | awk -F: '/^used_memory:/ {print $2}' | tr -d '\r')"
        ;;
      haproxy) echo "cluster-haproxy $kb" ;;
      imagecpp) echo "cluster-instance $kb" ;;
    esac
  done
} >"$RESULTS/rss/cluster.txt"
stop_service redis cluster
kill -TERM "$CLUSTER_PID"; wait "$CLUSTER_PID" || true; CLUSTER_PID=""
fi

echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$RESULTS/meta.txt"

# ---------------------------------------------------------------- the table
python3 "$BENCH/report.py" "$RESULTS" --json "$RESULTS/summary.json" | tee "$RESULTS/table.txt"
