#!/usr/bin/env bash
# The allocator study of issue 5: bench/soak.sh once per allocator setting, one after the other
# (never two soaks at once), all against the same service binary, then one table: RssAnon and
# VmRSS after warm-up and at the end, the peaks, throughput and service CPU per request.
#
#   bench/soak_allocators.sh                 every configuration below (about 3.5 min each)
#   bench/soak_allocators.sh glibc jemalloc  the named ones, in that order
#   bench/soak_allocators.sh --list          the configurations
#
# Settings: SOAK_BIN (else Release is built like bench/soak.sh does, and copied, so that a
# rebuild meanwhile changes nothing), SOAK_WARMUP (3000), SOAK_REQUESTS (13000), every other
# SOAK_* of bench/soak.sh, STUDY_DIR (build/bench/soak-study/<time>: one log and JSON a run).
{  # the whole script is read before it runs: editing it meanwhile does not change this run
set -euo pipefail
SELF=$(readlink -f "$0")
cd "$(dirname "$SELF")/.."

# name | SOAK_ALLOCATOR | SOAK_SERVICE_ENV
# "glibc" is the binary as it is: glibc's defaults before commit e47e18a, its tune_allocator()
# (mallopt at the start of main, skipped for each MALLOC_* variable given) from then on, which is
# the glibc-arena1-mmap32M-trim256M row. Each glibc-* row sets its MALLOC_* variables, so it means
# the same with either binary, except that tune_allocator() still applies those it leaves out
# (glibc-arena2, glibc-arena2-trim1s and the jemalloc/mimalloc rows were measured before it; the
# mmap1M rows give MALLOC_TRIM_THRESHOLD_=131072, glibc's default, for that reason).
CONFIGS=(
  "glibc|glibc|"
  "glibc-arena1-mmap32M-trim256M|glibc|MALLOC_ARENA_MAX=1 MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=268435456"
  "glibc-arena2|glibc|MALLOC_ARENA_MAX=2"
  "glibc-mmap64M-trim256M|glibc|MALLOC_MMAP_THRESHOLD_=67108864 MALLOC_TRIM_THRESHOLD_=268435456"
  "glibc-arena2-mmap1M|glibc|MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=1048576 MALLOC_TRIM_THRESHOLD_=131072"
  "glibc-arena2-mmap1M-thp|glibc|MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=1048576 MALLOC_TRIM_THRESHOLD_=131072 GLIBC_TUNABLES=glibc.malloc.hugetlb=1"
  "jemalloc|jemalloc|"
  "jemalloc-bg|jemalloc|MALLOC_CONF=background_thread:true"
  "jemalloc-tuned|jemalloc|MALLOC_CONF=background_thread:true,oversize_threshold:0"
  "glibc-arena2-trim1s|glibc|MALLOC_ARENA_MAX=2 LD_PRELOAD=@TRIM_SHIM@"
  "mimalloc|mimalloc|"
)

log() { printf '[soak-allocators %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

wanted=()
for arg in "$@"; do
  case $arg in
    -h | --help) sed -n '2,12p' "$SELF" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --list) printf '%s\n' "${CONFIGS[@]}" | awk -F'|' '{printf "%-30s %-9s %s\n", $1, $2, $3}'; exit 0 ;;
    -*) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
    *) wanted+=("$arg") ;;
  esac
done
selected=()  # in the order given (interleave them to spread the machine's noise)
if ((${#wanted[@]} == 0)); then selected=("${CONFIGS[@]}"); fi
for name in "${wanted[@]}"; do
  found=""
  for c in "${CONFIGS[@]}"; do if [[ ${c%%|*} == "$name" ]]; then found=$c; fi; done
  [[ -n $found ]] || { echo "unknown configuration: $name (try --list)" >&2; exit 2; }
  selected+=("$found")
done

DIR=${STUDY_DIR:-build/bench/soak-study/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$DIR"
DIR=$(readlink -f "$DIR")
if [[ -z ${SOAK_BIN:-} ]]; then
  ./scripts/deps.sh
  log "building Release into build/bench (imagecpp)"
  cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DIMAGECPP_TESTS=OFF \
    -DIMAGECPP_BENCH=ON >/dev/null
  cmake --build build/bench --target imagecpp -j 2 >/dev/null ||
    cmake --build build/bench --target imagecpp -j 2
  cp build/bench/imagecpp "$DIR/imagecpp"
  SOAK_BIN=$DIR/imagecpp
fi
export SOAK_BIN
# The periodic malloc_trim of the glibc-arena2-trim1s configuration (bench/malloc_trim_shim.c).
TRIM_SHIM=$DIR/libmalloc_trim_shim.so
cc -O2 -Wall -shared -fPIC -o "$TRIM_SHIM" bench/malloc_trim_shim.c -lpthread
export SOAK_WARMUP=${SOAK_WARMUP:-3000} SOAK_REQUESTS=${SOAK_REQUESTS:-13000}
log "results in $DIR; binary $SOAK_BIN; warm-up $SOAK_WARMUP, measured $SOAK_REQUESTS requests"

for c in "${selected[@]}"; do
  IFS='|' read -r name allocator env <<<"$c"
  env=${env//@TRIM_SHIM@/$TRIM_SHIM}
  log "$name: SOAK_ALLOCATOR=$allocator SOAK_SERVICE_ENV=\"$env\" bench/soak.sh"
  rc=0
  SOAK_ALLOCATOR=$allocator SOAK_SERVICE_ENV=$env SOAK_JSON=$DIR/$name.json \
    bench/soak.sh >"$DIR/$name.log" 2>&1 || rc=$?
  log "  $(tail -1 "$DIR/$name.log") (exit $rc)"
done

/usr/bin/python3 - "$DIR" "${selected[@]}" <<'EOF' | tee "$DIR/table.txt"
import json, os, sys
d = sys.argv[1]
mb = lambda kb: "%.0f" % (kb / 1024.0)
pct = lambda a, b: "%+.1f%%" % (100.0 * (b - a) / a) if a else "-"
head = ("config", "anon load first", "anon load last", "growth (verdict)", "anon q warm", "anon q end",
        "q growth", "anon settle", "anon peak", "RSS end", "VmHWM", "req/s", "CPU ms/req", "minflt/req",
        "foreign %", "unexp", "verdict")
rows = []
for c in sys.argv[2:]:
    name = c.split("|")[0]
    p = os.path.join(d, name + ".json")
    if not os.path.exists(p):
        rows.append((name,) + ("-",) * (len(head) - 2) + ("no result (see %s.log)" % name,))
        continue
    r = json.load(open(p))
    cp = r["checkpoints_kb"]
    w, e = cp["warm"], cp.get("end", {})
    s = cp.get("settled", e)
    n = max(r["measured_requests"], 1)
    lm = r.get("load_median_kb_RssAnon")
    rows.append((name, mb(lm[0]) if lm else "-", mb(lm[1]) if lm else "-", pct(*lm) if lm else "-",
                 mb(w["RssAnon"]), mb(e.get("RssAnon", 0)), pct(w["RssAnon"], e.get("RssAnon", 0)),
                 mb(s.get("RssAnon", 0)), mb(r["peak_measured_kb"]["RssAnon"]),
                 mb(e.get("VmRSS", 0)), mb(e.get("VmHWM", 0)), "%.1f" % r["rps"],
                 "%.2f" % r["service_cpu_ms_per_request"], "%.0f" % (r["service_minflt"] / n),
                 "%.0f" % r["foreign_cpu_pct"], str(r["unexpected"]), "PASS" if r["pass"] else "FAIL"))
widths = [max(len(str(x[i])) for x in rows + [head]) for i in range(len(head))]
print("RSS figures in MB. anon load first/last: median RssAnon of the 1 s samples under load in the first"
      " / last fifth of the measured phase (the verdict); anon q: RssAnon with no request in flight after"
      " the warm-up and after the load; settle: 5 s later; peak: highest 1 s sample under load. foreign %:"
      " CPU of other processes, share of all cores; CPU ms/req: service CPU time per request")
for row in [head] + rows:
    print("  ".join(str(v).rjust(widths[i]) if i else str(v).ljust(widths[i]) for i, v in enumerate(row)))
EOF
exit
}
