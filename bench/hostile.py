#!/usr/bin/env python3
"""What hostile clients can make a given imagecpp binary hold: the three measurements of the
bounded-memory issue, for before/after comparisons on one machine.

  bench/hostile.py --bin PATH [--cases a,b,c]

  a  24 connections POST /v1/image without a token, Content-Length 16000000, each sending
     15.9 MB and stopping one byte short
  b  24 clients asking for the original of a 16 MB photo (half JSON, half /jpeg), reading nothing
  c  200 uploads with 200 distinct unknown tokens while the auth service takes 2 s to answer;
     then the same 40 tokens again

Prints, per case, the service's anonymous resident memory (RssAnon: the LMDB file is mapped and
its pages are file-backed) before, at the peak of the attack, and after it ended, and for c the
auth service's peak of concurrent calls and the calls the repeated tokens made. Python stdlib;
the test harness and the auth double come from tests/integration.
"""
import argparse
import json
import os
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

import harness  # noqa: E402
from auth_double import AuthDouble  # noqa: E402
from remote_service import RemoteService  # noqa: E402
from test_bounded_memory import padded_jpeg  # noqa: E402

MB = 1 << 20


def rss_anon(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return 0


class Peak:
    """Samples RssAnon every 50 ms in the background; .max is the highest seen."""

    def __init__(self, pid):
        self.pid, self.max, self.running = pid, rss_anon(pid), True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.running:
            self.max = max(self.max, rss_anon(self.pid))
            time.sleep(0.05)

    def stop(self):
        self.running = False
        self.thread.join()
        return self.max


def report(name, before, peak, after, extra=""):
    print("%-2s RssAnon before %6.1f MB  peak %6.1f MB (%+6.1f)  after %6.1f MB (%+6.1f)  %s"
          % (name, before / MB, peak / MB, (peak - before) / MB, after / MB,
             (after - before) / MB, extra), flush=True)


def head(port, lines):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return s


def case_a(binary):
    with harness.Service([], env={}) as svc:
        time.sleep(1)
        before = rss_anon(svc.proc.pid)
        peak = Peak(svc.proc.pid)
        chunk = b"\xff" * MB
        socks, refused = [], 0

        def client():
            nonlocal refused
            s = head(svc.port, ["POST /v1/image HTTP/1.1", "Host: x", "Content-Type: image/jpeg",
                                "Content-Length: 16000000"])
            socks.append(s)
            try:
                for _ in range(15):
                    s.sendall(chunk)
                s.sendall(b"\xff" * (16000000 - 15 * MB - 1))  # one byte short
            except OSError:
                refused += 1

        threads = [threading.Thread(target=client) for _ in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(2)
        top = peak.stop()
        for s in socks:
            s.close()
        time.sleep(2)
        report("a", before, top, rss_anon(svc.proc.pid),
               "(%d of 24 clients refused before sending it all)" % refused)


def case_b(binary):
    with harness.Service([], env={}) as svc:
        photo = padded_jpeg(16_000_000)
        status, _, body = svc.upload_raw(photo, "image/jpeg")
        assert status == 200, body[:200]
        image_id = json.loads(body)["id"]
        time.sleep(1)
        before = rss_anon(svc.proc.pid)
        peak = Peak(svc.proc.pid)
        socks = []
        for i in range(24):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", svc.port))
            path = "/v1/image/%s%s" % (image_id, "/jpeg" if i % 2 else "")
            s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
            socks.append(s)
        time.sleep(4)  # every answer under way (a stalled reader is cut after 5 s at the earliest)
        top = peak.stop()
        for s in socks:
            s.close()
        time.sleep(2)
        report("b", before, top, rss_anon(svc.proc.pid))


class SlowDouble(AuthDouble):
    """Unknown tokens are refused after 2 s; counts the peak of concurrent calls."""

    def __init__(self):
        super().__init__()
        self.lock, self.now, self.peak = threading.Lock(), 0, 0

    def answer(self, token):
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        try:
            time.sleep(2.0)
            return super().answer(token)
        finally:
            with self.lock:
                self.now -= 1


def case_c(binary):
    jpeg = harness.read_image("snake.jpg")
    with SlowDouble() as double, RemoteService(double.url, ["--auth-timeout-ms", "5000"]) as svc:
        time.sleep(1)
        before = rss_anon(svc.proc.pid)
        peak = Peak(svc.proc.pid)
        tokens = ["unknown-%03d-%s" % (i, os.urandom(8).hex()) for i in range(200)]
        statuses = []

        def upload(token):
            try:
                statuses.append(svc.upload_raw(jpeg, "image/jpeg", token=token)[0])
            except OSError as e:
                statuses.append(repr(e))

        threads = [threading.Thread(target=upload, args=(t,)) for t in tokens]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        first_peak = double.peak
        calls = double.total_calls()
        again = [threading.Thread(target=upload, args=(t,)) for t in tokens[:40]]
        for t in again:
            t.start()
        for t in again:
            t.join()
        top = peak.stop()
        labels = [str(s) for s in statuses]
        counts = {s: labels.count(s) for s in sorted(set(labels))}
        report("c", before, top, rss_anon(svc.proc.pid),
               "auth calls at once: peak %d; calls for 200 tokens %d; for the same 40 again %d; "
               "answers %s" % (first_peak, calls, double.total_calls() - calls, counts))


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", required=True)
    p.add_argument("--cases", default="a,b,c")
    args = p.parse_args()
    harness.BIN = os.path.abspath(args.bin)
    import remote_service
    remote_service.BIN = harness.BIN
    print("binary: %s" % harness.BIN, flush=True)
    for case in args.cases.split(","):
        {"a": case_a, "b": case_b, "c": case_c}[case](harness.BIN)


if __name__ == "__main__":
    main()
