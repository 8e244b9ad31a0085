#!/usr/bin/env python3
"""Instructions the service executes per warm request, counted by valgrind's callgrind: the same
figure whatever else the machine is doing, so before/after comparisons of the hot path hold on a
busy machine (wall-clock benchmarks do not). Needs valgrind (Debian's).

  bench/instructions.py --bin PATH [--bin PATH ...] [--requests N]
                        [--form jpeg|json|orig|upload]

For each binary: starts it under callgrind with the embedded store, uploads a real photo, warms
the answer, then runs two measured batches of keep-alive GETs (N and 3N requests) and prints the
difference of their instruction totals divided by 2N: what one more request costs, without the
start-up, the upload and the first (cold) requests. The upload form measures uploads instead:
the photo as a JSON data URL (the benchmark's upload scenario), N/10 and 3N/10 of them.
"""
import argparse
import base64
import glob
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from harness import free_port, read_image  # noqa: E402

FORMS = {"jpeg": "/v1/image/%s/jpeg?Size=320", "json": "/v1/image/%s?Size=320",
         "orig": "/v1/image/%s"}


def wait_until_up(port, proc, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the service exited under valgrind")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the service did not come up under valgrind")


def total_instructions(out_dir):
    """Sum of the 'summary:' lines of every callgrind output (one per thread) dumped so far."""
    total = 0
    for path in glob.glob(os.path.join(out_dir, "callgrind.out*")):
        with open(path) as f:
            for line in f:
                m = re.match(r"(summary|totals): (\d+)", line)
                if m:
                    total += int(m.group(2))
                    break
    return total


def dump(out_dir, pid):
    """Asks callgrind for a dump of the counts so far (callgrind_control), then sums them."""
    for path in glob.glob(os.path.join(out_dir, "callgrind.out*")):
        os.remove(path)
    subprocess.run(["callgrind_control", "--dump", str(pid)], check=True,
                   stdout=subprocess.DEVNULL)
    time.sleep(1)
    return total_instructions(out_dir)


def measure(binary, form, requests):
    tmp = tempfile.mkdtemp(prefix="imagecpp-instr-")
    token = "tok-instructions-0123456789"
    with open(os.path.join(tmp, "tokens.txt"), "w") as f:
        f.write("%s bench-user Bench\n" % token)
    port = free_port()
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=%s/callgrind.out.%%p" % tmp,
         binary, "--bind", "127.0.0.1", "--port", str(port), "--auth-mode", "static",
         "--tokens-file", os.path.join(tmp, "tokens.txt"), "--data-dir",
         os.path.join(tmp, "data"), "--lmdb-map-size", str(1 << 30)],  # valgrind maps less
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_up(port, proc)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.request("POST", "/images/create", read_image("snake.jpg"),
                     {"Authorization": "Bearer " + token, "Content-Type": "image/jpeg"})
        response = conn.getresponse()
        image_id = json.loads(response.read())["id"]
        counts = []
        if form == "upload":
            body = json.dumps({"image": "data:image/jpeg;base64," +
                               base64.b64encode(read_image("snake.jpg")).decode()})
            headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
            uploads = max(requests // 10, 1)
            for batch in (2, uploads, 3 * uploads):
                for _ in range(batch):
                    conn.request("POST", "/v1/image", body, headers)
                    r = conn.getresponse()
                    r.read()
                    if r.status != 200:
                        raise SystemExit("POST /v1/image: %d" % r.status)
                counts.append(dump(tmp, proc.pid))
            return (counts[2] - counts[1]) / (2 * uploads)
        path = FORMS[form] % image_id
        for batch in (5, requests, 3 * requests):  # a warm-up (computes the variant), then two
            for _ in range(batch):
                conn.request("GET", path)
                r = conn.getresponse()
                r.read()
                if r.status != 200:
                    raise SystemExit("GET %s: %d" % (path, r.status))
            counts.append(dump(tmp, proc.pid))
        return (counts[2] - counts[1]) / (2 * requests)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        subprocess.run(["rm", "-rf", tmp])


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", action="append", required=True)
    p.add_argument("--requests", type=int, default=500)
    p.add_argument("--form", default="jpeg", choices=sorted(FORMS) + ["upload"])
    args = p.parse_args()
    for binary in args.bin:
        per_request = measure(os.path.abspath(binary), args.form, args.requests)
        what = "an upload" if args.form == "upload" else "a warm request"
        print("%-50s %s: %.0f instructions %s" % (binary, args.form, per_request, what),
              flush=True)


if __name__ == "__main__":
    main()
