#!/usr/bin/env python3
"""HTTP helpers of the benchmark (Python 3 stdlib only): uploads, saving a response, timing cold
variants one request at a time, and a background loop of cold variants.

  client.py upload --port P --token T [--json] [--count N] FILE   ids, one a line
  client.py get --port P --out FILE [--accept A] PATH             saves a 200 body
  client.py warm --port P --paths FILE                     GETs each path once (200 expected)
  client.py cold --port P --ids FILE --sizes 320,1200 --label L [--reference BIN --file F]
                 [--route jpeg|webp|avif|auto --accept A]
                                                  "L size service_ms [reference_ms]" a sample
  client.py loop --port P --ids FILE --duration S --out FILE      cold variants until S elapse
  client.py burst --port P --ids FILE --clients C           concurrent first reads, a line each:
                                                  "BURST form C single_ms burst_ms"
"""
import argparse
import base64
import http.client
import json
import subprocess
import sys
import threading
import time

SIZES_ALL = [160, 320, 640, 800, 1024, 1200]


def connect(port):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=120)


def request(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    return resp.status, data


def content_type(data):
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG"):
        return "image/png"
    return "application/octet-stream"


def cmd_upload(args):
    with open(args.file, "rb") as f:
        raw = f.read()
    mime = content_type(raw)
    headers = {"Authorization": "Bearer " + args.token}
    if args.json:
        body = json.dumps({"image": "data:%s;base64,%s" % (mime, base64.b64encode(raw).decode())})
        body = body.encode()
        headers["Content-Type"] = "application/json"
    else:
        body = raw
        headers["Content-Type"] = mime
    conn = connect(args.port)
    for _ in range(args.count):
        status, data = request(conn, "POST", "/v1/image", body, headers)
        if status != 200:
            sys.exit("upload of %s: HTTP %d %s" % (args.file, status, data[:200]))
        print(json.loads(data)["id"], flush=True)


def cmd_get(args):
    conn = connect(args.port)
    status, data = request(conn, "GET", args.path,
                           headers={"Accept": args.accept} if args.accept else None)
    if status != 200:
        sys.exit("GET %s: HTTP %d %s" % (args.path, status, data[:200]))
    with open(args.out, "wb") as f:
        f.write(data)


def cmd_warm(args):
    conn = connect(args.port)
    for path in read_ids(args.paths):
        status, data = request(conn, "GET", path)
        if status != 200:
            sys.exit("GET %s: HTTP %d %s" % (path, status, data[:200]))


def read_ids(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def cmd_cold(args):
    """First request of each variant of each id, one at a time on one keep-alive connection,
    each followed by one run of the in-process reference (vips_reference --serve) on the same
    file and box when given: both then see the same machine. The first id is a warm-up and is
    not printed."""
    sizes = [int(s) for s in args.sizes.split(",")]
    headers = {"Accept": args.accept} if args.accept else None
    conn = connect(args.port)
    ref = None
    if args.reference:
        ref = subprocess.Popen([args.reference, "--serve", str(args.quality)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    for n, image_id in enumerate(read_ids(args.ids)):
        for size in sizes:
            path = "/v1/image/%s/%s?Size=%d" % (image_id, args.route, size)
            start = time.perf_counter()
            status, data = request(conn, "GET", path, headers=headers)
            ms = (time.perf_counter() - start) * 1000
            if status != 200 or (args.route == "jpeg" and not data.startswith(b"\xff\xd8")):
                sys.exit("GET %s: HTTP %d" % (path, status))
            ref_ms = ""
            if ref:
                ref.stdin.write("%d %s\n" % (size, args.file))
                ref.stdin.flush()
                ref_ms = ref.stdout.readline().strip()
                if not ref_ms:
                    sys.exit("vips_reference --serve gave no answer")
            if n > 0:
                print("%s %d %.3f %s" % (args.label, size, ms, ref_ms), flush=True)
    if ref:
        ref.stdin.close()
        ref.wait()


def cmd_loop(args):
    """Cold variants in a loop for `duration` seconds: every Size of one id, then the next id.
    Writes "count=N median_ms=M max_ms=X exhausted=0|1" to --out."""
    conn = connect(args.port)
    ids = read_ids(args.ids)
    deadline = time.monotonic() + args.duration
    times = []
    exhausted = 1
    for image_id in ids:
        for size in SIZES_ALL:
            if time.monotonic() >= deadline:
                exhausted = 0
                break
            path = "/v1/image/%s/jpeg?Size=%d" % (image_id, size)
            start = time.perf_counter()
            status, _ = request(conn, "GET", path)
            times.append((time.perf_counter() - start) * 1000)
            if status != 200:
                sys.exit("GET %s: HTTP %d" % (path, status))
        else:
            continue
        break
    times.sort()
    median = times[len(times) // 2] if times else 0.0
    with open(args.out, "w") as f:
        f.write("count=%d median_ms=%.1f max_ms=%.1f exhausted=%d\n"
                % (len(times), median, times[-1] if times else 0.0, exhausted))


BURST_FORMS = {  # the first reads a product page makes, by name
    "orig-json": "/v1/image/%s",
    "orig-jpeg": "/v1/image/%s/jpeg",
    "v320-json": "/v1/image/%s?Size=320",
    "v320-jpeg": "/v1/image/%s/jpeg?Size=320",
}


def burst(port, path, clients):
    """`clients` connections, opened first, send the same request at once; returns the time
    until the last answer (ms). Exits unless every answer is the same 200 body."""
    conns = [connect(port) for _ in range(clients)]
    for c in conns:
        c.connect()
    barrier = threading.Barrier(clients + 1)
    answers = [None] * clients

    def client(i):
        barrier.wait()
        answers[i] = request(conns[i], "GET", path)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    ms = (time.perf_counter() - start) * 1000
    for c in conns:
        c.close()
    if any(a is None or a[0] != 200 for a in answers) or len({a[1] for a in answers}) != 1:
        sys.exit("burst on %s: %r" % (path, [a and a[0] for a in answers]))
    return ms


def cmd_burst(args):
    """For each form in turn, a fresh id read once alone (the single cold read), then a fresh id
    read by `clients` at once (the concurrent cold read): both cold, same photo. The first two
    ids are a warm-up and are not printed."""
    ids = read_ids(args.ids)
    conn = connect(args.port)
    n = 0
    while len(ids) >= 2 * len(BURST_FORMS):
        for form, pattern in BURST_FORMS.items():
            single_id, burst_id = ids.pop(0), ids.pop(0)
            start = time.perf_counter()
            status, _ = request(conn, "GET", pattern % single_id)
            single_ms = (time.perf_counter() - start) * 1000
            if status != 200:
                sys.exit("GET %s: HTTP %d" % (pattern % single_id, status))
            burst_ms = burst(args.port, pattern % burst_id, args.clients)
            if n > 0:
                print("BURST %s %d %.3f %.3f" % (form, args.clients, single_ms, burst_ms),
                      flush=True)
        n += 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("upload")
    up.add_argument("--port", type=int, required=True)
    up.add_argument("--token", required=True)
    up.add_argument("--json", action="store_true", help="send a JSON data URL (default raw bytes)")
    up.add_argument("--count", type=int, default=1)
    up.add_argument("file")
    get = sub.add_parser("get")
    get.add_argument("--port", type=int, required=True)
    get.add_argument("--out", required=True)
    get.add_argument("--accept")
    get.add_argument("path")
    warm = sub.add_parser("warm")
    warm.add_argument("--port", type=int, required=True)
    warm.add_argument("--paths", required=True)
    cold = sub.add_parser("cold")
    cold.add_argument("--port", type=int, required=True)
    cold.add_argument("--ids", required=True)
    cold.add_argument("--sizes", required=True)
    cold.add_argument("--label", required=True)
    cold.add_argument("--reference", help="vips_reference binary, run in --serve mode")
    cold.add_argument("--file", help="the uploaded file, for the reference")
    cold.add_argument("--quality", type=int, default=80)
    cold.add_argument("--route", default="jpeg", choices=["jpeg", "webp", "avif", "auto"])
    cold.add_argument("--accept", help="Accept header (for --route auto)")
    loop = sub.add_parser("loop")
    loop.add_argument("--port", type=int, required=True)
    loop.add_argument("--ids", required=True)
    loop.add_argument("--duration", type=float, required=True)
    loop.add_argument("--out", required=True)
    bu = sub.add_parser("burst")
    bu.add_argument("--port", type=int, required=True)
    bu.add_argument("--ids", required=True)
    bu.add_argument("--clients", type=int, default=8)
    args = p.parse_args()
    {"upload": cmd_upload, "get": cmd_get, "warm": cmd_warm, "cold": cmd_cold, "loop": cmd_loop,
     "burst": cmd_burst}[args.cmd](args)


if __name__ == "__main__":
    main()
