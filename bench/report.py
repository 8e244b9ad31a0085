#!/usr/bin/env python3
"""Prints the benchmark's table from a results directory written by bench/run.sh.

  report.py RESULTS_DIR [--json FILE]

Throughput rows: req/s median (min-max) over the repetitions, and the p50 / p99 / max latency
of the median repetition (by req/s). Ratio = service / reference, except for cold variants
(service time / in-process libvips time) and isolation (p99 under cold load / p99 of
scenario 1 at 8 connections): there lower is better, as the target column says.
"""
import glob
import json
import os
import re
import statistics
import sys

MIB = 1024 * 1024


# ------------------------------------------------------------------ parsing
def read_meta(root):
    meta = {}
    path = os.path.join(root, "meta.txt")
    if os.path.exists(path):
        for line in open(path):
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                meta[k] = v
    return meta


def tagged(path, tag):
    """Every JSON object on lines starting with `tag` in a file."""
    out = []
    for line in open(path, errors="replace"):
        if line.startswith(tag + " "):
            out.append(json.loads(line[len(tag) + 1:]))
    return out


def wrk_runs(root, name):
    """The repetitions of one wrk measurement: dicts with rps, latencies (us), errors, cpu."""
    runs = []
    for path in sorted(glob.glob(os.path.join(root, "wrk", name + ".rep*.txt"))):
        figures = tagged(path, "BENCH_JSON")
        if not figures:
            continue
        f = figures[-1]
        cpu = (tagged(path, "BENCH_CPU") or [{}])[-1]
        errors = sum(f["errors"].values())
        per_req = {}
        if "focus_cpu_s" in cpu and f["requests"]:
            per_req = {"cpu_us": 1e6 * cpu["focus_cpu_s"] / f["requests"],
                       "faults": cpu["focus_minflt"] / f["requests"],
                       "ctxsw": cpu["focus_ctxsw"] / f["requests"]}
        rep = int(re.search(r"\.rep(\d+)\.txt$", path).group(1))
        runs.append({"rep": rep, "rps": f["requests"] / (f["duration_us"] / 1e6),
                     "lat": f["latency_us"],
                     "errors": errors, "status_errors": f["errors"]["status"],
                     "requests": f["requests"], "cpu": cpu, "per_req": per_req})
    return runs


def median_run(runs):
    """The repetition with the median req/s (the lower middle one for an even count)."""
    ordered = sorted(runs, key=lambda r: r["rps"])
    return ordered[(len(ordered) - 1) // 2]


def cpu_records(root):
    records = []
    for path in glob.glob(os.path.join(root, "**", "*.txt"), recursive=True):
        records.extend(tagged(path, "BENCH_CPU"))
    return records


# ------------------------------------------------------------------ formatting
def fmt_ms(ms):
    if ms is None:
        return "-"
    if ms < 10:
        return "%.2f ms" % ms
    if ms < 100:
        return "%.1f ms" % ms
    return "%.0f ms" % ms


def fmt_us(us):
    return fmt_ms(us / 1000.0) if us is not None else "-"


def fmt_rps(x):
    return "%.0f" % x if x >= 100 else "%.1f" % x


def cpu_cell(runs):
    """Median over the repetitions of the server's own CPU time per request."""
    vals = [r["per_req"]["cpu_us"] for r in runs if r.get("per_req")]
    if not vals:
        return "-"
    us = statistics.median(vals)
    return "%.0f us" % us if us < 10000 else "%.1f ms" % (us / 1000)


def per_req(runs):
    keys = ("cpu_us", "faults", "ctxsw")
    rows = [r["per_req"] for r in runs if r.get("per_req")]
    return {k: statistics.median(r[k] for r in rows) for k in keys} if rows else {}


def rps_cell(runs):
    vals = [r["rps"] for r in runs]
    med = statistics.median(vals)
    if len(vals) == 1:
        return "%s req/s" % fmt_rps(med)
    return "%s (%s-%s)" % (fmt_rps(med), fmt_rps(min(vals)), fmt_rps(max(vals)))


class Table:
    HEAD = ["scenario", "store", "conn", "result: median (min-max)", "p50", "p99", "max",
            "CPU/req", "reference", "ratio", "target", "verdict"]

    def __init__(self):
        self.rows = []
        self.checks = []  # (label, met: bool|None)

    def add(self, *cells, check=None):
        self.rows.append([str(c) for c in cells])
        if check is not None:
            self.checks.append(check)

    def sep(self):
        if self.rows and self.rows[-1] is not None:  # none for a group that did not run
            self.rows.append(None)

    def render(self):
        widths = [len(h) for h in self.HEAD]
        for row in self.rows:
            if row:
                widths = [max(w, len(c)) for w, c in zip(widths, row)]
        line = "  ".join("-" * w for w in widths)
        out = ["  ".join(h.ljust(w) for h, w in zip(self.HEAD, widths)), line]
        for row in self.rows:
            out.append(line if row is None else
                       "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        return "\n".join(out)


def verdict(ratio, target, lower_is_better):
    if ratio is None:
        return "n/a", None
    ok = ratio <= target if lower_is_better else ratio >= target
    return ("met" if ok else "MISSED"), ok


# ------------------------------------------------------------------ the table
# (key, label, req/s target against nginx, CPU a request at most this many times nginx's or None)
SCENARIOS = [("jpeg", "1 warm JPEG ?Size=320", 0.9, 1.1),
             ("json", "2 warm JSON ?Size=320", 0.9, 1.1),
             ("orig", "3 original JSON (280 KB)", 0.5, None)]

# Uploads against the store's own pace (its write plus the service's decode).
UPLOAD_TARGETS = {"redis": 0.5, "lmdb": 0.9}


def median_cpu(runs):
    vals = [r["per_req"]["cpu_us"] for r in runs if r.get("per_req")]
    return statistics.median(vals) if vals else None


# A change must not make a warm row slower than this, against the commit it is compared with.
AB_TARGET = 0.95


def build(root):
    meta = read_meta(root)
    engines = meta.get("engines", "lmdb").split()
    ab_engines = meta.get("ab_engines", "").split()  # "<engine>-before", BENCH_AB_REF
    conns = meta.get("conns", "8 32").split()
    upload_conns = meta.get("upload_conns", "8")
    table = Table()
    summary = {"meta": meta, "rows": []}

    def record(**kw):
        summary["rows"].append(kw)

    # 1-3: warm reads against nginx serving the same bytes.
    for key, label, target, cpu_target in SCENARIOS:
        for c in conns:
            ref = wrk_runs(root, "nginx.%s.c%s" % (key, c))
            if not ref:
                continue
            rm = median_run(ref)
            ref_med = statistics.median(r["rps"] for r in ref)
            table.add(label, "nginx (ref)", c, rps_cell(ref), fmt_us(rm["lat"]["p50"]),
                      fmt_us(rm["lat"]["p99"]), fmt_us(rm["lat"]["max"]), cpu_cell(ref), "-",
                      "-", "-", errors_note(ref))
            record(scenario=key, engine="nginx", conns=int(c), rps=ref_med,
                   p50_us=rm["lat"]["p50"], p99_us=rm["lat"]["p99"], max_us=rm["lat"]["max"],
                   per_request=per_req(ref))
            medians = {}
            by_rep = {}
            for engine in engines + ab_engines:
                runs = wrk_runs(root, "%s.%s.c%s" % (engine, key, c))
                if not runs:
                    continue
                m = median_run(runs)
                med = statistics.median(r["rps"] for r in runs)
                ratio = med / ref_med if ref_med else None
                v, ok = verdict(ratio, target, False)
                ratio_cell, target_cell = "%.2f" % ratio, ">= %.1f x" % target
                cpu, ref_cpu = median_cpu(runs), median_cpu(ref)
                cpu_ratio = cpu / ref_cpu if cpu is not None and ref_cpu else None
                if cpu_target is not None:
                    # Both: as many requests as nginx (nearly), for no more CPU each.
                    cpu_ok = cpu_ratio is not None and cpu_ratio <= cpu_target
                    ok = bool(ok) and cpu_ok
                    v = "met" if ok else "MISSED"
                    ratio_cell += ", CPU %s" % ("%.2f" % cpu_ratio if cpu_ratio else "-")
                    target_cell += ", CPU <= %.1f x" % cpu_target
                if engine in ab_engines:  # the before build: compared below, not judged
                    v, check = "-", None
                else:
                    check = ("%s %s c%s" % (label, engine, c), ok)
                v = errors_note(runs) or v
                table.add(label, engine, c, rps_cell(runs), fmt_us(m["lat"]["p50"]),
                          fmt_us(m["lat"]["p99"]), fmt_us(m["lat"]["max"]), cpu_cell(runs),
                          "nginx %s req/s" % fmt_rps(ref_med), ratio_cell, target_cell, v,
                          check=check)
                record(scenario=key, engine=engine, conns=int(c), rps=med, ref_rps=ref_med,
                       ratio=ratio, cpu_ratio=cpu_ratio, p50_us=m["lat"]["p50"],
                       p99_us=m["lat"]["p99"], max_us=m["lat"]["max"], target=target,
                       cpu_target=cpu_target, met=ok, per_request=per_req(runs))
                medians[engine] = med
                by_rep[engine] = {r["rep"]: r["rps"] for r in runs}
            # BENCH_AB_REF: this build against the commit's, runs interleaved rep by rep.
            for engine in engines:
                before = medians.get(engine + "-before")
                if engine not in medians or not before:
                    continue
                # The median of the ratios of each repetition's pair (runs seconds apart): a
                # drift of the machine's speed over the whole run cancels out, which a ratio of
                # the two medians, taken minutes apart, does not do.
                after_reps, before_reps = by_rep[engine], by_rep[engine + "-before"]
                pairs = [after_reps[r] / before_reps[r] for r in after_reps if r in before_reps]
                change = statistics.median(pairs) if pairs else medians[engine] / before
                ok = change >= AB_TARGET
                table.add(label, engine + " / before", c, "%.3f" % change, "-", "-", "-", "-",
                          "before %s req/s" % fmt_rps(before), "%.2f" % change,
                          ">= %.2f x" % AB_TARGET, "met" if ok else "MISSED",
                          check=("%s %s c%s after/before" % (label, engine, c), ok))
                record(scenario=key, engine=engine + "/before", conns=int(c), ratio=change,
                       target=AB_TARGET, met=ok)
        table.sep()

    # 4: uploads against the store write plus the base64 decode.
    store_ref = {}
    path = os.path.join(root, "ref", "store_reference.txt")
    if os.path.exists(path):
        for line in open(path):
            m = re.match(r"(\w+) median=([\d.]+)", line)
            if m:
                store_ref[m.group(1)] = float(m.group(2))
    set_rps = []
    for p in sorted(glob.glob(os.path.join(root, "ref", "redis_set.rep*.txt"))):
        for line in open(p):
            if line.startswith('"SET"'):
                set_rps.append(float(line.split('"')[3]))
    decode_us = store_ref.get("decode_us")
    for engine in engines:
        runs = wrk_runs(root, "%s.upload.c%s" % (engine, upload_conns))
        if not runs:
            continue
        m = median_run(runs)
        med = statistics.median(r["rps"] for r in runs)
        ref_rps, ref_label = None, "-"
        if engine == "redis" and set_rps and decode_us is not None:
            s = statistics.median(set_rps)
            ref_rps = 1.0 / (1.0 / s + decode_us / 1e6)
            ref_label = "SET %s/s + decode %s" % (fmt_rps(s), fmt_us(decode_us))
        elif engine == "lmdb" and "lmdb_put_us" in store_ref and decode_us is not None:
            put = store_ref["lmdb_put_us"]
            ref_rps = 1e6 / (put + decode_us)
            ref_label = "put %s + decode %s" % (fmt_us(put), fmt_us(decode_us))
        ratio = med / ref_rps if ref_rps else None
        target = UPLOAD_TARGETS.get(engine)
        v, ok = verdict(ratio, target, False) if target else ("-", None)
        table.add("4 upload JSON data URL", engine, upload_conns, rps_cell(runs),
                  fmt_us(m["lat"]["p50"]), fmt_us(m["lat"]["p99"]), fmt_us(m["lat"]["max"]),
                  cpu_cell(runs),
                  ref_label + (" = %s/s" % fmt_rps(ref_rps) if ref_rps else ""),
                  "%.2f" % ratio if ratio else "-", ">= %.1f x" % target if target else "(none)",
                  errors_note(runs) or v,
                  check=("upload %s" % engine, ok) if target and ratio else None)
        record(scenario="upload", engine=engine, conns=int(upload_conns), rps=med,
               ref_rps=ref_rps, ratio=ratio, target=target, met=ok, p50_us=m["lat"]["p50"],
               p99_us=m["lat"]["p99"], per_request=per_req(runs))
    table.sep()

    # 5: cold variants against the in-process libvips pipeline, run interleaved with them.
    for engine in engines:
        path = os.path.join(root, "cold", engine + ".txt")
        if not os.path.exists(path):
            continue
        samples = {}
        for line in open(path):
            parts = line.split()
            if len(parts) == 4 and not line.startswith("BENCH_"):
                entry = samples.setdefault((parts[0], int(parts[1])), ([], []))
                entry[0].append(float(parts[2]))
                entry[1].append(float(parts[3]))
        for (photo, size), (ms, ref_ms) in samples.items():
            med = statistics.median(ms)
            ref = statistics.median(ref_ms)
            ratio = med / ref if ref else None
            v, ok = verdict(ratio, 1.2, True)
            cell = "%s (%s-%s)" % (fmt_ms(med), fmt_ms(min(ms)).replace(" ms", ""),
                                   fmt_ms(max(ms)).replace(" ms", ""))
            table.add("5 cold %s @%d" % (photo, size), engine, 1, cell, fmt_ms(med),
                      "-", fmt_ms(max(ms)), "-", "libvips %s (%s-%s)" % (
                          fmt_ms(ref), fmt_ms(min(ref_ms)).replace(" ms", ""),
                          fmt_ms(max(ref_ms)).replace(" ms", "")),
                      "%.2f" % ratio if ratio else "-", "<= 1.2 x", v,
                      check=("cold %s %d %s" % (photo, size, engine), ok))
            record(scenario="cold", engine=engine, photo=photo, size=size, median_ms=med,
                   ref_ms=ref, ratio=ratio, samples=len(ms), met=ok)
    # 5b: concurrent cold reads: 8 clients on one new id at once, against one client alone.
    for engine in engines:
        path = os.path.join(root, "cold", engine + ".burst.txt")
        if not os.path.exists(path):
            continue
        samples = {}
        for line in open(path):
            parts = line.split()
            if len(parts) == 5 and parts[0] == "BURST":
                entry = samples.setdefault((parts[1], int(parts[2])), ([], []))
                entry[0].append(float(parts[3]))
                entry[1].append(float(parts[4]))
        for (form, clients), (single, together) in samples.items():
            med, ref = statistics.median(together), statistics.median(single)
            ratio = med / ref if ref else None
            cell = "%s (%s-%s)" % (fmt_ms(med), fmt_ms(min(together)).replace(" ms", ""),
                                   fmt_ms(max(together)).replace(" ms", ""))
            table.add("5b concurrent cold %s" % form, engine, clients, cell, "-", "-",
                      fmt_ms(max(together)), "-", "1 client alone %s" % fmt_ms(ref),
                      "%.2f" % ratio if ratio else "-", "(none)", "all %d answers equal" % clients)
            record(scenario="cold_burst", engine=engine, form=form, clients=clients,
                   median_ms=med, single_ms=ref, ratio=ratio, samples=len(together))
    table.sep()

    # 6: isolation: warm p99 beside cold 13 MP variants vs scenario 1 at 8 connections.
    for engine in engines:
        runs = wrk_runs(root, "%s.isolation.c8" % engine)
        # The same load without the cold loop, run alternately with it (older results: scenario 1).
        base = wrk_runs(root, "%s.isolation-base.c8" % engine)
        base_label = "p99 without cold load"
        if not base:
            base = wrk_runs(root, "%s.jpeg.c8" % engine)
            base_label = "p99 of 1 at c8"
        if not runs:
            continue
        m = median_run(runs)
        p99s = [r["lat"]["p99"] for r in runs]
        p99 = statistics.median(p99s)
        ref_p99 = statistics.median(r["lat"]["p99"] for r in base) if base else None
        ratio = p99 / ref_p99 if ref_p99 else None
        v, ok = verdict(ratio, 3.0, True)
        loops = []
        for p in sorted(glob.glob(os.path.join(root, "isolation", engine + ".rep*.txt"))):
            kv = dict(x.split("=") for x in open(p).read().split())
            loops.append(kv)
        if any(l.get("exhausted") == "1" for l in loops):
            v += " (cold ids ran out)"
        table.add("6 isolation warm JPEG + cold 13 MP", engine, 8, rps_cell(runs),
                  fmt_us(m["lat"]["p50"]), fmt_us(p99), fmt_us(max(r["lat"]["max"] for r in runs)),
                  cpu_cell(runs), "%s: %s" % (base_label, fmt_us(ref_p99)), "%.2f" % ratio if ratio else "-",
                  "<= 3 x", errors_note(runs) or v, check=("isolation %s" % engine, ok))
        colds = ", ".join("%s cold in %s ms median" % (l.get("count"), l.get("median_ms"))
                          for l in loops)
        record(scenario="isolation", engine=engine, rps=statistics.median(r["rps"] for r in runs),
               p99_us=p99, max_us=max(r["lat"]["max"] for r in runs), ref_p99_us=ref_p99,
               ratio=ratio, cold_loop=colds, met=ok)
    table.sep()

    # 7: peak RSS per scenario group (the service restarts for every group).
    for engine in engines:
        for group in ("warm", "upload", "cold", "isolation"):
            path = os.path.join(root, "rss", "%s.%s.kb" % (engine, group))
            if not os.path.exists(path) or not open(path).read().strip():
                continue
            mib = int(open(path).read()) / 1024.0
            if group == "cold":
                ok = mib < 200
                table.add("7 peak RSS, group %s" % group, engine, "-", "%.1f MiB" % mib,
                          "-", "-", "-", "-", "-", "-", "< 200 MiB", "met" if ok else "MISSED",
                          check=("RSS cold %s" % engine, ok))
            else:
                table.add("7 peak RSS, group %s" % group, engine, "-", "%.1f MiB" % mib,
                          "-", "-", "-", "-", "-", "-", "-", "-")
            record(scenario="rss", engine=engine, group=group, mib=mib)

    build_formats(root, engines, table, record)

    # Redis memory per stored byte: the service's keys (the target), then the same bytes SET
    # by redis-cli (the allocator's floor) and as the peers' data-URL strings, for comparison.
    path = os.path.join(root, "ref", "redis_memory.txt")
    if os.path.exists(path):
        table.sep()
        for line in open(path):
            parts = line.split()
            if len(parts) != 6 or not all(p.isdigit() for p in parts[3:]):
                continue
            kind, photo, what = parts[:3]
            length, usage, binary = (int(p) for p in parts[3:])
            if binary == 0:
                continue
            ratio = usage / binary
            label = {"service": "service key", "raw-set": "redis-cli SET raw (ref)",
                     "data-url": "data URL as peers (ref)"}[kind]
            if kind == "service":
                v, ok = verdict(ratio, 1.02, True)
                check = ("redis memory %s %s" % (photo, what), ok)
                target = "<= 1.02 x"
            else:
                v, check, target = "-", None, "-"
            table.add("Redis MEMORY USAGE %s %s" % (photo, what.replace("_", " ")),
                      label, "-", "%d B / %d B" % (usage, binary), "-", "-", "-", "-",
                      "binary size", "%.3f" % ratio, target, v, check=check)
            record(scenario="redis_memory", kind=kind, photo=photo, key=what, bytes=length,
                   usage=usage, ratio=ratio)
    build_cluster(root, meta, table, record)
    return meta, table, summary


FORMAT_ROUTES = [("jpeg", "/jpeg (JPEG)"), ("auto", "/auto, Chrome's Accept (AVIF)"),
                 ("webp", "/webp"), ("avif", "/avif")]


def build_formats(root, engines, table, record):
    """8: the formats group: bytes, SSIM and encode time per format and size (formats.py), then
    warm req/s per route against the JPEG route of the same run, and cold first requests."""
    path = os.path.join(root, "formats", "quality.txt")
    rows = tagged(path, "FORMATS_ROW") if os.path.exists(path) else []
    if rows:
        table.sep()
    jpeg = {(r["photo"], r["size"]): r for r in rows if r["format"] == "jpeg"}
    for r in rows:
        base = jpeg.get((r["photo"], r["size"]))
        setting = "Q%d" % r["quality"] + ("" if r.get("effort") is None else " effort %d" % r["effort"])
        ratio = r["bytes"] / base["bytes"] if base else None
        table.add("8 %s %s @%d %dx%d" % (r["format"], r["photo"], r["size"], r["width"], r["height"]),
                  "-", "-", "%d B" % r["bytes"], "-", "-", "-", "-",
                  "encode %s (%s CPU), SSIM %.4f" % (fmt_ms(r["encode_ms"]),
                                                     fmt_ms(r.get("encode_cpu_ms")), r["ssim"]),
                  "%.2f" % ratio if ratio else "-", setting, "bytes vs JPEG")
        record(scenario="format_quality", **r)
    for engine in engines:
        base_runs = wrk_runs(root, "%s.fmt-jpeg.c8" % engine)
        if not base_runs:
            continue
        table.sep()
        base = statistics.median(r["rps"] for r in base_runs)
        for key, label in FORMAT_ROUTES:
            runs = wrk_runs(root, "%s.fmt-%s.c8" % (engine, key))
            if not runs:
                continue
            m = median_run(runs)
            med = statistics.median(r["rps"] for r in runs)
            ratio = med / base if base else None
            check, target, v = None, "-", "-"
            if key == "auto":
                v, ok = verdict(ratio, 0.9, False)
                check, target = ("negotiated warm %s" % engine, ok), ">= 0.9 x"
            table.add("8 warm %s ?Size=320" % label, engine, 8, rps_cell(runs),
                      fmt_us(m["lat"]["p50"]), fmt_us(m["lat"]["p99"]), fmt_us(m["lat"]["max"]),
                      cpu_cell(runs), "/jpeg %s req/s" % fmt_rps(base),
                      "%.2f" % ratio if ratio else "-", target, errors_note(runs) or v,
                      check=check)
            record(scenario="format_warm", engine=engine, route=key, rps=med, ref_rps=base,
                   ratio=ratio, p99_us=m["lat"]["p99"], per_request=per_req(runs))
        cold = os.path.join(root, "cold", engine + ".formats.txt")
        if os.path.exists(cold):
            samples = {}
            for line in open(cold):
                parts = line.split()
                if len(parts) >= 3:
                    samples.setdefault((parts[0], int(parts[1])), []).append(float(parts[2]))
            jpeg_cold = {size: statistics.median(ms) for (route, size), ms in samples.items()
                         if route == "jpeg"}
            for (route, size), ms in samples.items():
                med = statistics.median(ms)
                ref = jpeg_cold.get(size)
                table.add("8 cold /%s @%d (photo_1600.jpg)" % (route, size), engine, 1,
                          "%s (%s-%s)" % (fmt_ms(med), fmt_ms(min(ms)).replace(" ms", ""),
                                          fmt_ms(max(ms)).replace(" ms", "")),
                          fmt_ms(med), "-", fmt_ms(max(ms)), "-",
                          "/jpeg cold %s" % fmt_ms(ref) if ref else "-",
                          "%.2f" % (med / ref) if ref else "-", "(none)", "-")
                record(scenario="format_cold", engine=engine, route=route, size=size,
                       median_ms=med, samples=len(ms))


CLUSTER_STORES = {"single": "1 instance, 1 Redis", "cluster": "haproxy, 3 inst, Cluster"}


def build_cluster(root, meta, table, record):
    """Group C: the same scenarios through haproxy on 3 instances and a Redis Cluster, and on one
    instance with one Redis; ratio = cluster / one instance (req/s, or time for cold reads)."""
    scenarios = [("jpeg", "C warm JPEG ?Size=320, one image", meta.get("conns", "8").split()),
                 ("catalog", "C warm JPEG ?Size=320, %s images" % meta.get("catalog", "?"),
                  ["8"]),
                 ("upload", "C upload JSON data URL", [meta.get("upload_conns", "8")])]
    started = False
    for key, label, conns in scenarios:
        for c in conns:
            runs = {cfg: wrk_runs(root, "cl-%s.%s.c%s" % (cfg, key, c)) for cfg in CLUSTER_STORES}
            if not all(runs.values()):
                continue
            if not started:
                table.sep()
                started = True
            one = statistics.median(r["rps"] for r in runs["single"])
            one_cpu = per_req(runs["single"]).get("cpu_us")
            for cfg, store in CLUSTER_STORES.items():
                m = median_run(runs[cfg])
                med = statistics.median(r["rps"] for r in runs[cfg])
                cpu = per_req(runs[cfg]).get("cpu_us")
                ratio = med / one if cfg == "cluster" and one else None
                ref = "-"
                if cfg == "cluster":
                    ref = "1 instance %s req/s" % fmt_rps(one)
                    if cpu and one_cpu:
                        ref += ", CPU/req x%.2f" % (cpu / one_cpu)
                table.add(label, store, c, rps_cell(runs[cfg]), fmt_us(m["lat"]["p50"]),
                          fmt_us(m["lat"]["p99"]), fmt_us(m["lat"]["max"]), cpu_cell(runs[cfg]),
                          ref, "%.2f" % ratio if ratio else "-", "(none)",
                          errors_note(runs[cfg]) or "-")
                record(scenario="cluster_" + key, engine=cfg, conns=int(c), rps=med,
                       ratio=ratio, p50_us=m["lat"]["p50"], p99_us=m["lat"]["p99"],
                       max_us=m["lat"]["max"], per_request=per_req(runs[cfg]))
    # Cold: the first read after an upload, one at a time.
    cold = {}
    for cfg in CLUSTER_STORES:
        path = os.path.join(root, "cold", "cl-%s.txt" % cfg)
        if not os.path.exists(path):
            continue
        for line in open(path):
            parts = line.split()
            if len(parts) == 3 and not line.startswith("BENCH_"):
                cold.setdefault((parts[0], int(parts[1])), {}).setdefault(cfg, []).append(
                    float(parts[2]))
    for (photo, size), by_cfg in sorted(cold.items()):
        if set(by_cfg) != set(CLUSTER_STORES):
            continue
        one = statistics.median(by_cfg["single"])
        for cfg, store in CLUSTER_STORES.items():
            ms = by_cfg[cfg]
            med = statistics.median(ms)
            ratio = med / one if cfg == "cluster" and one else None
            table.add("C cold %s @%d" % (photo, size), store, 1,
                      "%s (%s-%s)" % (fmt_ms(med), fmt_ms(min(ms)).replace(" ms", ""),
                                      fmt_ms(max(ms)).replace(" ms", "")),
                      fmt_ms(med), "-", fmt_ms(max(ms)), "-",
                      "1 instance %s" % fmt_ms(one) if cfg == "cluster" else "-",
                      "%.2f" % ratio if ratio else "-", "(none)", "-")
            record(scenario="cluster_cold", engine=cfg, photo=photo, size=size, median_ms=med,
                   ratio=ratio, samples=len(ms))
    # Memory: peak RSS of each process; keys and used_memory of each Redis.
    path = os.path.join(root, "rss", "cluster.txt")
    if os.path.exists(path):
        parts = [line.split() for line in open(path) if line.strip()]
        groups = {}
        for p in parts:
            groups.setdefault(p[0], []).append([int(x) for x in p[1:] if x.isdigit()])
        for name, rows in groups.items():
            peak = ", ".join("%.0f" % (r[0] / 1024.0) for r in rows if r)
            detail = "-"
            if name.endswith(("redis", "redis-master", "redis-slave")) and all(len(r) == 3 for r in rows):
                detail = "keys %s; used_memory %s MiB" % (
                    ", ".join(str(r[1]) for r in rows),
                    ", ".join("%.1f" % (r[2] / 1048576.0) for r in rows))
            table.add("C peak RSS %s" % name, "-", len(rows), "%s MiB" % peak, "-", "-", "-",
                      "-", detail, "-", "-", "-")
            record(scenario="cluster_memory", process=name,
                   peak_kib=[r[0] for r in rows if r], detail=detail)


def errors_note(runs):
    bad = sum(r["errors"] for r in runs)
    return "ERRORS: %d" % bad if bad else ""


def noise_line(root):
    recs = cpu_records(root)
    if not recs:
        return "machine noise: not measured"
    foreign = sorted(r["foreign_pct"] for r in recs)
    steal = max(r.get("steal_pct", 0) for r in recs)
    return ("machine noise: other processes used %.0f%% of the %d cores during the measured runs "
            "(median; max %.0f%%, over %d runs); steal up to %.0f%%"
            % (statistics.median(foreign), recs[0]["cores"], foreign[-1], len(recs), steal))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    root = sys.argv[1]
    meta, table, summary = build(root)
    print("imagecpp benchmark, %s, %s mode: %s s a run x %s, wrk %s threads on the same %s cores; "
          "nginx %s workers; service %s"
          % (meta.get("date", "?"), meta.get("mode", "?"), meta.get("duration_s", "?"),
             meta.get("reps", "?"), meta.get("wrk_threads", "?"), meta.get("cores", "?"),
             meta.get("nginx_workers", "?"), meta.get("service_threads", "?")))
    print("build %s; %s" % (meta.get("git", "?"), meta.get("versions", "")))
    if meta.get("ab_git"):
        print("before (rows <engine>-before, interleaved): %s" % meta["ab_git"])
    photos = ["%s %s" % (k[len("photo."):], v) for k, v in meta.items() if k.startswith("photo.")]
    if photos:
        print("photos: " + "; ".join(photos))
    if meta.get("service_args") or meta.get("service_env"):
        print("service started with: %s %s" % (meta.get("service_env", ""),
                                               meta.get("service_args", "")))
    if meta.get("redis_skip"):
        print("NOTE: " + meta["redis_skip"])
    print(noise_line(root) + "; load average %s at start, %s at end"
          % (meta.get("loadavg_start", "?"), meta.get("loadavg_end", "?")))
    print()
    print(table.render())
    print()
    met = [c for c in table.checks if c[1]]
    missed = [c[0] for c in table.checks if c[1] is False]
    print("targets: %d met, %d missed%s" % (len(met), len(missed),
                                           (": " + "; ".join(missed)) if missed else ""))
    if "--json" in sys.argv:
        with open(sys.argv[sys.argv.index("--json") + 1], "w") as f:
            json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
