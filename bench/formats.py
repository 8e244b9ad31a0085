#!/usr/bin/env python3
"""Bytes, encode time and SSIM of each variant format (issue 14), on the benchmark photos.

  formats.py --bin build/bench/bench/format_reference --images build/bench/images --out DIR
             [--sizes 160,320,640,1200] [--jpeg 80] [--webp 80:4] [--avif 60:2]
             [--iterations 3] [--sweep] [--quick]

For each photo and size, bench/format_reference makes the variant's pixels exactly as the service
does (shrink-on-load, rotation, sRGB), encodes them with the service's own encoder calls, timing
the encode alone, decodes each result and computes its SSIM against those pixels: the original
downscaled with the same resize. SSIM is scikit-image's default structural_similarity(),
computed with libvips in format_reference (Debian 12's python3-skimage cannot be installed beside
libboost1.81-dev; see format_reference.cpp). Python 3 stdlib only.

Default: one row per photo, size and format with the given settings ("FORMATS_ROW {json}" lines,
then a table). --sweep: every quality of a range per format (and efforts around the default), the
mean SSIM of each over all photos and sizes, and the lowest quality of WebP and AVIF whose mean
SSIM is at least the JPEG variant's: how the service's defaults were chosen.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

PHOTOS = ["photo_1600.jpg", "photo_13mp_baseline.jpg", "photo_1mp.png"]


def measure(binary, photo, size, specs, iterations):
    """[{format, quality, effort, bytes, encode_ms, ssim, width, height}] for one photo and size."""
    with tempfile.TemporaryDirectory(prefix="formats-") as tmp:
        out = subprocess.run([binary, photo, str(size), tmp, str(iterations)] + specs,
                             check=True, capture_output=True, text=True).stdout
        rows = []
        for line in out.splitlines():
            fmt, quality, effort, size_bytes, median_ms, _, ssim, width, height, cpu_ms = \
                line.split()
            rows.append({"format": fmt, "quality": int(quality),
                         "effort": int(effort) if fmt != "jpeg" else None,
                         "bytes": int(size_bytes), "encode_ms": float(median_ms),
                         "encode_cpu_ms": float(cpu_ms), "ssim": float(ssim),
                         "width": int(width), "height": int(height)})
        return rows


def spec(fmt, setting):
    return "%s:%s" % (fmt, setting)


def measure_all(args, photos, specs, tag):
    """Every photo at every size in every spec; each row printed as it comes, tagged."""
    rows = []
    for photo in photos:
        for size in args.sizes:
            for row in measure(args.bin, os.path.join(args.images, photo), size, specs,
                               args.iterations):
                row.update(photo=photo, size=size)
                rows.append(row)
                print(tag + " " + json.dumps(row), flush=True)
    return rows


def run_table(args, photos):
    specs = [spec("jpeg", args.jpeg), spec("webp", args.webp), spec("avif", args.avif)]
    rows = measure_all(args, photos, specs, "FORMATS_ROW")
    print()
    print("%-26s %5s %-6s %-9s %9s %7s %8s %10s %10s" % ("photo", "size", "format", "setting",
                                                          "bytes", "vs JPEG", "SSIM", "encode ms",
                                                          "CPU ms"))
    for photo in photos:
        for size in args.sizes:
            group = [r for r in rows if r["photo"] == photo and r["size"] == size]
            jpeg = next(r for r in group if r["format"] == "jpeg")
            for r in group:
                setting = "Q%d" % r["quality"] + ("" if r["effort"] is None else " e%d" % r["effort"])
                print("%-26s %5d %-6s %-9s %9d %6.0f%% %8.4f %10.1f %10.1f"
                      % (photo, size, r["format"], setting, r["bytes"],
                         100.0 * r["bytes"] / jpeg["bytes"], r["ssim"], r["encode_ms"],
                         r["encode_cpu_ms"]))
    print()
    print("mean over photos and sizes:")
    for fmt in ("jpeg", "webp", "avif"):
        sel = [r for r in rows if r["format"] == fmt]
        jpeg_bytes = {(r["photo"], r["size"]): r["bytes"] for r in rows if r["format"] == "jpeg"}
        print("  %-5s SSIM %.4f, bytes %.0f%% of JPEG, encode %.1f ms (%.1f ms CPU)"
              % (fmt, statistics.mean(r["ssim"] for r in sel),
                 100 * statistics.mean(r["bytes"] / jpeg_bytes[(r["photo"], r["size"])]
                                       for r in sel),
                 statistics.mean(r["encode_ms"] for r in sel),
                 statistics.mean(r["encode_cpu_ms"] for r in sel)))


def run_sweep(args, photos):
    jpeg_q = int(args.jpeg)
    webp_default_effort = int(args.webp.split(":")[1])
    avif_default_effort = int(args.avif.split(":")[1])
    specs = [spec("jpeg", jpeg_q)]
    specs += [spec("webp", "%d:%d" % (q, webp_default_effort)) for q in range(60, 96, 5)]
    specs += [spec("avif", "%d:%d" % (q, avif_default_effort)) for q in range(40, 81, 5)]
    rows = measure_all(args, photos, specs, "SWEEP_ROW")
    jpeg_rows = {(r["photo"], r["size"]): r for r in rows if r["format"] == "jpeg"}
    target = statistics.mean(r["ssim"] for r in jpeg_rows.values())
    print("\nJPEG Q%d: mean SSIM %.4f over %d photo-sizes\n" % (jpeg_q, target, len(jpeg_rows)))
    print("%-5s %4s %6s %8s %12s %10s" % ("fmt", "Q", "effort", "SSIM", "bytes/JPEG", "CPU ms"))
    chosen = {}
    for fmt in ("webp", "avif"):
        for q in sorted({r["quality"] for r in rows if r["format"] == fmt}):
            sel = [r for r in rows if r["format"] == fmt and r["quality"] == q]
            mean_ssim = statistics.mean(r["ssim"] for r in sel)
            ratio = statistics.mean(r["bytes"] / jpeg_rows[(r["photo"], r["size"])]["bytes"]
                                    for r in sel)
            mark = ""
            if fmt not in chosen and mean_ssim >= target:
                chosen[fmt] = q
                mark = "  <- lowest Q matching JPEG"
            print("%-5s %4d %6d %8.4f %11.0f%% %10.1f%s"
                  % (fmt, q, sel[0]["effort"], mean_ssim, 100 * ratio,
                     statistics.mean(r["encode_cpu_ms"] for r in sel), mark))
    print("\nchosen: " + ", ".join("%s Q%s" % kv for kv in chosen.items()))
    # Effort at the chosen quality: what a slower encoder buys.
    effort_specs = []
    if "webp" in chosen:
        effort_specs += [spec("webp", "%d:%d" % (chosen["webp"], e)) for e in (0, 2, 4, 6)]
    if "avif" in chosen:  # 6 and above take seconds a variant: not for an answer on request
        effort_specs += [spec("avif", "%d:%d" % (chosen["avif"], e)) for e in (0, 2, 4)]
    if not effort_specs:
        return
    effort_rows = []
    for photo in photos:
        for size in args.sizes:
            for row in measure(args.bin, os.path.join(args.images, photo), size,
                               [spec("jpeg", jpeg_q)] + effort_specs, args.iterations):
                row.update(photo=photo, size=size)
                effort_rows.append(row)
                print("EFFORT_ROW " + json.dumps(row), flush=True)
    jpeg_rows = {(r["photo"], r["size"]): r for r in effort_rows if r["format"] == "jpeg"}
    print("\n%-5s %4s %6s %8s %12s %10s" % ("fmt", "Q", "effort", "SSIM", "bytes/JPEG",
                                           "CPU ms"))
    for fmt in ("webp", "avif"):
        for e in (0, 2, 4, 6):
            sel = [r for r in effort_rows if r["format"] == fmt and r["effort"] == e]
            if not sel:
                continue
            print("%-5s %4d %6d %8.4f %11.0f%% %10.1f"
                  % (fmt, sel[0]["quality"], e, statistics.mean(r["ssim"] for r in sel),
                     100 * statistics.mean(r["bytes"] / jpeg_rows[(r["photo"], r["size"])]["bytes"]
                                           for r in sel),
                     statistics.mean(r["encode_cpu_ms"] for r in sel)))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--bin", required=True, help="bench/format_reference")
    p.add_argument("--images", required=True, help="the benchmark photos (bench/photos.sh)")
    p.add_argument("--sizes", default="160,320,640,1200")
    p.add_argument("--jpeg", default="80")
    p.add_argument("--webp", default="80:4")
    p.add_argument("--avif", default="60:2")
    p.add_argument("--iterations", type=int, default=3)
    p.add_argument("--sweep", action="store_true")
    p.add_argument("--quick", action="store_true", help="one photo, one size, one run")
    args = p.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")]
    photos = PHOTOS
    if args.quick:
        photos, args.sizes, args.iterations = PHOTOS[:1], args.sizes[:1], 1
    missing = [p for p in photos if not os.path.isfile(os.path.join(args.images, p))]
    if missing:
        sys.exit("missing photos in %s: %s (bench/run.sh prepares them)" % (args.images, missing))
    (run_sweep if args.sweep else run_table)(args, photos)


if __name__ == "__main__":
    main()
