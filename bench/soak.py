#!/usr/bin/python3
"""The soak of issue 5 (Python 3 stdlib only; bench/soak.sh builds, prepares photos and calls it).

Starts the service on loopback (LMDB store in --tmp, static tokens), then:
  start       RSS of the idle service, right after /readyz answers
  setup       each photo uploaded once and every Size read (JPEG and JSON): the "warm" set
  warm-up     --warmup requests of the mixed load (not measured)
  checkpoint  "after warm-up": RSS with no request in flight (all clients wait at a barrier)
  measured    --requests requests of the same mix and/or --duration seconds, RSS printed every
              --interval seconds (sampled 4 times a second)
  checkpoint  "end": RSS with no request in flight, right after the last answer
  settle      --settle seconds idle, RSS once more (informative: what the allocator gives back)
then SIGTERM (the service must exit 0) and the report.

The mix (relative weights per request, each request one HTTP exchange on a keep-alive
http.client connection of one of --threads client threads):
  upload   JSON data URL or raw bytes (both route families) of real photos from 15 KB to a 13 MP
           progressive JPEG and a 1.7 MB PNG; each new id goes to a pool of "fresh" ids
  cold     first read of a fresh id at 3 random allowed Sizes (JPEG or JSON, Size in the query
           or the header), and for a PNG its JPEG conversion; uploads and cold reads balance
           each other (an upload becomes a cold read while 32 fresh ids wait, and the reverse)
  warm     variants computed in the setup: JPEG, JSON, If-None-Match (304), HEAD
  original the original as JSON and as /jpeg
  error    bad ids, bad Sizes, unknown ids and routes (404), wrong method (405), no or bad token
           (401), not an image, corrupt headers, bad base64, bad JSON (400), a truncated JPEG or
           PNG (upload 200, its variants 400)
Every kind has the statuses it may answer; anything else (any 5xx, a transport error, a body
that is not what the status promises) is "unexpected" and fails the run.

Which RSS the verdict uses: RssAnon. VmRSS (= RssAnon + RssFile + RssShmem) also counts the
pages of files mapped by the process: the binary and its libraries, and the LMDB data file,
which LMDB maps read-only and reads through the map (no MDB_WRITEMAP, so writes go through
the page cache). Every upload grows that file, and every read of a new image maps its pages,
so RssFile grows with the data stored and read, not with a leak: those pages are clean page
cache that the kernel drops when it needs memory, and they would be there with any allocator.
RssAnon is the heap, the thread stacks and the anonymous mmaps of the allocator and libvips:
what a leak, fragmentation or an allocator that never gives memory back makes grow. VmRSS and
RssFile are printed beside it; --verdict total makes VmRSS decide.

Which samples: RSS is sampled 4 times a second (the heap's figures from /metrics once a
second, when the binary has them). "After warm-up" for the verdict is the median of
the samples in the first fifth of the measured phase, "end" the median in the last fifth: the
same load in both, many samples each (36 s of samples in a 3-minute run, 2 minutes in a
10-minute one), so a leak or a creeping heap shows, and the instant (how many 13 MP images
are decoding right then: tens of MB each) does not. The verdict: end <= after warm-up x
(1 + --max-growth/100). The quiescent checkpoints (no request in flight) at the end of the
warm-up and of the load are printed too, with their growth, as what the process keeps when
idle; they are not the verdict because with a lean allocator they are a few tens of MB, which
a trim or a purge that has not run yet moves by tens of percent. Runs too short for 10
samples under load fall back to the quiescent checkpoints. Beside the median, the mean and the
10th percentile of the same samples are printed (informative), and per fifth the heap's bytes in
use, retained, and RssAnon less in use: in use rising means a leak or a growing structure, in
use flat with the rest rising means the allocator keeps what is freed.

Machine noise: the load average and the CPU time that other processes used during the measured
phase (share of all cores) are printed, since the machine may be shared.
"""
import argparse
import base64
import collections
import http.client
import json
import os
import random
import re
import shlex
import signal
import sys
import threading
import time
import uuid

from measure import machine_busy  # bench/measure.py: the benchmark's own /proc reader

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import harness  # noqa: E402  (the integration tests' service control)

TICK = os.sysconf("SC_CLK_TCK")
UUID_RE = re.compile(rb'^\{"id":"([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})"\}$')
SIZES = [160, 320, 640, 800, 1024, 1200]
FRESH_POOL_MAX = 32
COLD_SIZES_PER_UPLOAD = 3

# Relative weights of the request kinds in the mix.
MIX = {
    "upload": 5,
    "cold": 15,
    "warm_jpeg": 20,
    "warm_json": 10,
    "warm_304": 4,
    "warm_head": 3,
    "original_json": 4,
    "original_jpeg": 4,
    "error": 15,
}
ERRORS = ["bad_id", "bad_size", "missing", "route", "method", "no_token", "bad_token",
          "not_image", "corrupt_header", "bad_base64", "bad_json", "truncated"]

# The statuses each kind may answer; anything else is unexpected.
EXPECTED = {
    "upload_json": {200}, "upload_raw": {200},
    "cold_jpeg": {200}, "cold_json": {200}, "cold_png_to_jpeg": {200},
    "warm_jpeg": {200}, "warm_json": {200}, "warm_304": {304}, "warm_head": {200},
    "original_json": {200}, "original_jpeg": {200},
    "err_bad_id": {400}, "err_bad_size": {400}, "err_missing": {404}, "err_route": {404},
    "err_method": {405}, "err_no_token": {401}, "err_bad_token": {401},
    "err_not_image": {400}, "err_corrupt_header": {400}, "err_bad_base64": {400},
    "err_bad_json": {400}, "err_truncated_upload": {200}, "err_truncated_variant": {400},
}


def mb(kb):
    return "%.1f MB" % (kb / 1024.0)


# ---------------------------------------------------------------- /proc
def proc_status(pid):
    """VmRSS, RssAnon, RssFile, RssShmem, VmHWM (kB) and Threads of a process."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM", "Threads"):
                out[key] = int(value.split()[0])
    return out


def proc_stat(pid):
    """CPU seconds (user + system), minor and major page faults of a process (all threads)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3): minflt is field 10, majflt 12, utime 14, stime 15.
    return {"cpu_s": (int(fields[11]) + int(fields[12])) / TICK,
            "minflt": int(fields[7]), "majflt": int(fields[9])}


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def client_cpu():
    t = os.times()
    return t.user + t.system


def mapped_libraries(pid):
    libs = set()
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            path = line.split()[-1]
            if "malloc" in os.path.basename(path):
                libs.add(os.path.basename(path))
    return sorted(libs)


# ---------------------------------------------------------------- service
class Service(harness.Service):
    """The integration tests' service control (tests/integration/harness.py: port 0 and the
    startup line, SIGTERM and the exit code) with the soak's binary, tmp directory and token, and
    the service's own defaults (the render deadline included). Own session: a Ctrl-C reaches the
    soak, which measures and then stops the service."""

    def __init__(self, args):
        extra_env = {}
        for item in shlex.split(args.service_env):
            key, sep, value = item.partition("=")
            if not sep:
                sys.exit("--service-env: %r is not NAME=value" % item)
            extra_env[key] = value
        self.extra_env = extra_env
        self.exit_code = None
        super().__init__(["--rabbit-url", ""] + shlex.split(args.service_args),
                         tokens={args.token: "soak-user"}, env=extra_env, binary=args.bin,
                         tmp=args.tmp, own_session=True, start=False)
        try:
            self.start()
        except harness.ServiceError as e:
            sys.exit("the service did not start: %s" % e)
        self.pid = self.proc.pid

    def full_command(self):
        return self.command()  # the settings under test, not the tests' no-deadline default

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                self.fail("the service exited with %r while starting" % self.proc.returncode)
            try:
                if self.request("GET", "/readyz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.fail("the service did not become ready in %d s" % timeout)

    def alive(self):
        return self.running()

    def log_tail(self, n=20):
        return "\n".join(self.log().splitlines()[-n:])

    def fail(self, message):
        self.stop()
        sys.exit("%s\n--- service log (end) ---\n%s" % (message, self.log_tail()))

    def stop(self, timeout=30):
        """SIGTERM, the exit code, SIGKILL after the timeout. Idempotent."""
        if self.exit_code is None:
            try:
                self.exit_code = super().stop(signal.SIGTERM, timeout)
            except harness.ServiceError:
                self.exit_code = "killed after %d s" % timeout
        return self.exit_code


# ---------------------------------------------------------------- photos and bodies
def mime_of(raw):
    if raw.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if raw.startswith(b"\x89PNG"):
        return "image/png"
    sys.exit("not a JPEG or PNG photo")


class Photo:
    def __init__(self, spec):
        path, _, weight = spec.rpartition(":")
        self.path, self.weight = path, int(weight)
        self.name = os.path.basename(path)
        with open(path, "rb") as f:
            self.raw = f.read()
        self.mime = mime_of(self.raw)
        self.json = json.dumps(
            {"image": "data:%s;base64,%s" % (self.mime, base64.b64encode(self.raw).decode())}
        ).encode()


class Shared:
    """What the client threads share: tickets, the fresh and truncated id pools, the warm set."""

    def __init__(self, args, photos, port):
        self.args, self.photos, self.port = args, photos, port
        self.lock = threading.Lock()
        self.issued = 0
        self.limit = 0
        self.deadline = None
        self.stop = threading.Event()
        self.fresh = collections.deque()      # [id, photo, [ops left]]
        self.truncated_ids = collections.deque()  # ids of truncated images
        self.warm = []                        # (id, photo, {size: etag})
        self.auth = {"Authorization": "Bearer " + args.token}
        # Error bodies.
        small = min(photos, key=lambda p: len(p.raw))
        jpeg = next(p for p in sorted(photos, key=lambda p: len(p.raw)) if p.mime == "image/jpeg"
                    and len(p.raw) > 50000)
        png = max((p for p in photos if p.mime == "image/png"), key=lambda p: len(p.raw))
        rng = random.Random(args.seed)
        self.small = small
        self.not_image = bytes(rng.getrandbits(8) for _ in range(4096))
        self.corrupt_jpeg = b"\xff\xd8\xff\xe0" + bytes(rng.getrandbits(8) for _ in range(4096))
        # A PNG whose IHDR says width 0 (the rest as the photo's): its header is corrupt.
        self.zero_width_png = png.raw[:16] + b"\0\0\0\0" + png.raw[20:4096]
        # A third of a JPEG or of a PNG: the header is fine (upload 200), the pixels are not
        # (variants 400).
        self.truncated = [(jpeg.raw[: len(jpeg.raw) // 3], "image/jpeg"),
                          (png.raw[: len(png.raw) // 3], "image/png")]

    def ticket(self):
        """True while the phase has requests (and time) left."""
        with self.lock:
            if self.stop.is_set():
                return False
            if self.limit and self.issued >= self.limit:
                return False
            if self.deadline is not None and time.monotonic() >= self.deadline:
                return False
            self.issued += 1
            return True


# ---------------------------------------------------------------- client threads
class Unexpected(Exception):
    pass


class Worker:
    def __init__(self, shared, index):
        self.s = shared
        self.rng = random.Random(shared.args.seed * 1000 + index)
        self.conn = None
        self.counts = collections.Counter()       # (kind, status) -> n
        self.time = collections.defaultdict(float)  # kind -> seconds
        self.max = collections.defaultdict(float)   # kind -> seconds
        self.unexpected = []                      # (kind, method, path, status, detail)
        self.requests = 0
        kinds = list(MIX)
        self.kinds, self.weights = kinds, [MIX[k] for k in kinds]
        self.photo_weights = [p.weight for p in shared.photos]

    # -- one HTTP exchange, checked
    def call(self, kind, method, path, body=None, headers=None, check=None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=120)
        start = time.perf_counter()
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            resp = self.conn.getresponse()
            data = resp.read()
            status = resp.status
            if resp.will_close:
                self.conn.close()
                self.conn = None
        except (OSError, http.client.HTTPException) as e:
            if self.conn:
                self.conn.close()
            self.conn = None
            status, data = "transport:" + type(e).__name__, str(e).encode()
        elapsed = time.perf_counter() - start
        self.requests += 1
        self.counts[(kind, status)] += 1
        self.time[kind] += elapsed
        self.max[kind] = max(self.max[kind], elapsed)
        problem = None
        if status not in EXPECTED[kind]:
            problem = data[:200]
        elif check is not None:
            problem = check(status, data)
        if problem is not None:
            if len(self.unexpected) < 20:
                self.unexpected.append((kind, method, path, status, problem))
            else:
                self.unexpected.append(None)  # counted, not kept
            if status in EXPECTED[kind]:
                self.counts[(kind, "bad body")] += 1
            return None
        return data

    # -- checks (None = fine, else what is wrong)
    @staticmethod
    def is_jpeg(status, data):
        return None if data.startswith(b"\xff\xd8\xff") else b"not a JPEG: " + data[:40]

    @staticmethod
    def is_json_image(mime):
        prefix = ('"image":"data:%s;base64,' % mime).encode()

        def check(status, data):
            ok = data.startswith(b'{"id":"') and prefix in data[:80] and data.endswith(b'"}')
            return None if ok else b"not an image JSON of " + mime.encode() + b": " + data[:80]
        return check

    @staticmethod
    def is_empty(status, data):
        return None if not data else b"a body: " + data[:40]

    def base(self):
        return self.rng.choice(("/v1/image", "/images"))

    def size_request(self, base_path, size, jpeg):
        """Path and headers for a Size: in the query (Size or size) or the Size header."""
        path = base_path + ("/jpeg" if jpeg else "")
        how = self.rng.randrange(3)
        if how == 0:
            return path + "?Size=%d" % size, {}
        if how == 1:
            return path + "?size=%d" % size, {}
        return path, {"Size": str(size)}

    # -- the kinds
    def upload(self):
        photo = self.rng.choices(self.s.photos, self.photo_weights)[0]
        headers = dict(self.s.auth)
        path = "/v1/image" if self.rng.random() < 0.5 else "/images/create"
        if self.rng.random() < 0.5:
            kind, body = "upload_json", photo.json
            headers["Content-Type"] = "application/json"
        else:
            kind, body = "upload_raw", photo.raw
            headers["Content-Type"] = photo.mime
        data = self.call(kind, "POST", path, body, headers)
        if data is None:
            return
        m = UUID_RE.match(data)
        if not m:
            self.unexpected.append((kind, "POST", path, 200, b"no id: " + data[:80]))
            return
        ops = self.rng.sample(SIZES, COLD_SIZES_PER_UPLOAD)
        if photo.mime != "image/jpeg":
            ops.append("jpeg")  # the conversion of the original, once
        with self.s.lock:
            self.s.fresh.append([m.group(1).decode(), photo, ops])

    def cold(self):
        with self.s.lock:
            item = self.s.fresh.popleft() if self.s.fresh else None
            if item is not None:
                op = item[2].pop()
                if item[2]:
                    self.s.fresh.append(item)
        if item is None:
            return self.upload()
        image_id = item[0]
        if op == "jpeg":
            self.call("cold_png_to_jpeg", "GET", "%s/%s/jpeg" % (self.base(), image_id),
                      check=self.is_jpeg)
            return
        jpeg = self.rng.random() < 0.5
        path, headers = self.size_request("%s/%s" % (self.base(), image_id), op, jpeg)
        if jpeg:
            self.call("cold_jpeg", "GET", path, headers=headers, check=self.is_jpeg)
        else:
            self.call("cold_json", "GET", path, headers=headers,
                      check=self.is_json_image("image/jpeg"))

    def warm(self, kind):
        image_id, photo, etags = self.rng.choice(self.s.warm)
        size = self.rng.choice(SIZES)
        base_path = "%s/%s" % (self.base(), image_id)
        if kind == "warm_jpeg":
            path, headers = self.size_request(base_path, size, True)
            self.call(kind, "GET", path, headers=headers, check=self.is_jpeg)
        elif kind == "warm_json":
            path, headers = self.size_request(base_path, size, False)
            self.call(kind, "GET", path, headers=headers, check=self.is_json_image("image/jpeg"))
        elif kind == "warm_304":
            path, headers = self.size_request(base_path, size, True)
            headers["If-None-Match"] = etags[size]
            self.call(kind, "GET", path, headers=headers, check=self.is_empty)
        else:  # warm_head
            path, headers = self.size_request(base_path, size, self.rng.random() < 0.5)
            self.call(kind, "HEAD", path, headers=headers, check=self.is_empty)

    def original(self, kind):
        image_id, photo, _ = self.rng.choice(self.s.warm)
        if kind == "original_json":
            self.call(kind, "GET", "%s/%s" % (self.base(), image_id),
                      check=self.is_json_image(photo.mime))
        else:
            self.call(kind, "GET", "%s/%s/jpeg" % (self.base(), image_id), check=self.is_jpeg)

    def error(self):
        what = self.rng.choice(ERRORS)
        s, rng = self.s, self.rng
        warm_id = rng.choice(s.warm)[0]
        upload_path = rng.choice(("/v1/image", "/images/create"))
        if what == "bad_id":
            bad = rng.choice(("not-a-uuid", "1234", warm_id[:-1] + "g", warm_id.upper() + "0"))
            self.call("err_bad_id", "GET", "%s/%s%s" % (self.base(), bad, rng.choice(("", "/jpeg"))))
        elif what == "bad_size":
            bad = rng.choice(("0", "100", "321", "5000", "-1", "abc", "320.5", "99999999999999999999"))
            self.call("err_bad_size", "GET", "%s/%s%s?Size=%s" % (
                self.base(), warm_id, rng.choice(("", "/jpeg")), bad))
        elif what == "missing":
            self.call("err_missing", "GET", "%s/%s%s" % (
                self.base(), uuid.UUID(int=rng.getrandbits(128), version=4),
                rng.choice(("", "/jpeg", "?Size=320", "/jpeg?Size=160"))))
        elif what == "route":
            self.call("err_route", "GET", rng.choice(("/v2/image", "/v1/nothing/%d" % rng.randrange(1000),
                                                     "/images/%s/png" % warm_id)))
        elif what == "method":
            self.call("err_method", rng.choice(("DELETE", "PUT", "PATCH")), "%s/%s" % (self.base(), warm_id))
        elif what == "no_token":
            self.call("err_no_token", "POST", upload_path, s.small.raw, {"Content-Type": s.small.mime})
        elif what == "bad_token":
            auth = rng.choice(("Bearer wrong-%d" % rng.randrange(10**6), "Basic dXNlcjpwYXNz",
                               "Bearer", "bearer  " + s.args.token + "x"))
            self.call("err_bad_token", "POST", upload_path, s.small.raw,
                      {"Content-Type": s.small.mime, "Authorization": auth})
        elif what == "not_image":
            self.call("err_not_image", "POST", upload_path, s.not_image,
                      dict(s.auth, **{"Content-Type": "image/jpeg"}))
        elif what == "corrupt_header":
            body, mime = rng.choice(((s.corrupt_jpeg, "image/jpeg"), (s.zero_width_png, "image/png")))
            self.call("err_corrupt_header", "POST", upload_path, body, dict(s.auth, **{"Content-Type": mime}))
        elif what == "bad_base64":
            body = rng.choice((b'{"image":"data:image/png;base64,!!!notbase64"}',
                               b'{"image":"data:image/jpeg;base64,' + base64.b64encode(s.not_image) + b'"}',
                               b'{"image":""}', b'{"image":"data:image/png;base64,"}'))
            self.call("err_bad_base64", "POST", upload_path, body,
                      dict(s.auth, **{"Content-Type": "application/json"}))
        elif what == "bad_json":
            body = rng.choice((b'{"image":', b"[]", b'{"picture":"x"}', b"{" * 200, b'{"image":12}'))
            self.call("err_bad_json", "POST", upload_path, body,
                      dict(s.auth, **{"Content-Type": "application/json"}))
        else:  # truncated: upload one (the header is fine: 200), or read a variant of one (400)
            with s.lock:
                image_id = s.truncated_ids.popleft() if s.truncated_ids else None
            if image_id is None:
                body, mime = rng.choice(s.truncated)
                data = self.call("err_truncated_upload", "POST", upload_path, body,
                                 dict(s.auth, **{"Content-Type": mime}))
                m = UUID_RE.match(data or b"")
                if m:
                    with s.lock:
                        s.truncated_ids.extend([m.group(1).decode()] * 2)
            else:
                path, headers = self.size_request("%s/%s" % (self.base(), image_id),
                                                  rng.choice(SIZES), rng.random() < 0.5)
                self.call("err_truncated_variant", "GET", path, headers=headers)

    def one(self):
        kind = self.rng.choices(self.kinds, self.weights)[0]
        if kind == "upload":
            with self.s.lock:
                full = len(self.s.fresh) >= FRESH_POOL_MAX
            self.cold() if full else self.upload()
        elif kind == "cold":
            self.cold()
        elif kind.startswith("warm"):
            self.warm(kind)
        elif kind.startswith("original"):
            self.original(kind)
        else:
            self.error()

    def run(self):
        while self.s.ticket():
            self.one()


def run_phase(shared, workers):
    threads = [threading.Thread(target=w.run, daemon=True) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.5)


# ---------------------------------------------------------------- setup (the warm set)
def setup_warm(shared):
    """Each photo uploaded once, every Size read as JPEG (keeping the ETag) and JSON, the
    original as /jpeg: afterwards every warm request is answered from the store."""
    conn = http.client.HTTPConnection("127.0.0.1", shared.port, timeout=120)

    def get(method, path, body=None, headers=None):
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            sys.exit("setup: %s %s: HTTP %d %s" % (method, path, resp.status, data[:200]))
        return resp, data

    for photo in shared.photos:
        _, data = get("POST", "/v1/image", photo.json,
                      dict(shared.auth, **{"Content-Type": "application/json"}))
        image_id = json.loads(data)["id"]
        etags = {}
        for size in SIZES:
            resp, _ = get("GET", "/v1/image/%s/jpeg?Size=%d" % (image_id, size))
            etags[size] = resp.getheader("ETag")
            get("GET", "/v1/image/%s?Size=%d" % (image_id, size))
        get("GET", "/v1/image/%s/jpeg" % image_id)
        shared.warm.append((image_id, photo, etags))
    conn.close()


# ---------------------------------------------------------------- sampling
HEAP_SERIES = {  # /metrics series -> short name (the service's heap view, issue 18)
    "imagecpp_heap_in_use_bytes": "in_use",
    "imagecpp_heap_retained_bytes": "retained",
    "imagecpp_heap_trims_total": "trims",
    "imagecpp_heap_trim_released_bytes_total": "released",
    "imagecpp_heap_trim_seconds_total": "trim_s",
    "imagecpp_heap_trim_seconds_max": "trim_max_s",
}


class HeapScraper:
    """The heap figures of the service's /metrics, on a connection of their own (one small
    request a second beside the load). {} when the binary has none or the scrape fails."""

    def __init__(self, port):
        self.port, self.conn = port, None

    def read(self):
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            self.conn.request("GET", "/metrics")
            resp = self.conn.getresponse()
            body = resp.read().decode(errors="replace")
        except (OSError, http.client.HTTPException):
            if self.conn:
                self.conn.close()
            self.conn = None
            return {}
        out = {}
        for line in body.splitlines():
            name, _, value = line.partition(" ")
            if name in HEAP_SERIES:
                try:
                    out[HEAP_SERIES[name]] = float(value)
                except ValueError:
                    pass
        return out


SAMPLE_PERIOD = 0.25  # s between RSS samples: 4 a second, so a fifth's median rests on
HEAP_EVERY = 4        # hundreds of them; the heap's figures (an HTTP scrape) once a second


class Sampler(threading.Thread):
    """RSS every SAMPLE_PERIOD (and the heap's figures from /metrics every second); a line every
    --interval seconds."""

    def __init__(self, service, shared, interval, t0):
        super().__init__(daemon=True)
        self.service, self.shared, self.interval, self.t0 = service, shared, interval, t0
        self.samples = []  # (t, phase, issued, status, heap)
        self.phase = "start"
        self.done = threading.Event()
        self.heap = HeapScraper(service.port)

    def run(self):
        last_print = time.monotonic()
        last_issued, last_t = 0, time.monotonic()
        n = 0
        while not self.done.wait(SAMPLE_PERIOD):
            n += 1
            try:
                st = proc_status(self.service.pid)
            except OSError:
                st = None
            if st is None or not self.service.alive():
                print("[soak] the service is gone: stopping the load", flush=True)
                self.shared.stop.set()
                return
            heap = self.heap.read() if n % HEAP_EVERY == 0 else {}
            now = time.monotonic()
            with self.shared.lock:
                issued = self.shared.issued
            self.samples.append((now - self.t0, self.phase, issued, st, heap))
            if heap and now - last_print >= self.interval:
                rate = (issued - last_issued) / (now - last_t) if issued >= last_issued else 0
                heap_text = ""
                if "in_use" in heap:
                    heap_text = " heap in use %s retained %s trims %d" % (
                        mb(heap["in_use"] / 1024), mb(heap.get("retained", 0) / 1024),
                        heap.get("trims", 0))
                print_line("t=%4ds %-8s" % (now - self.t0, self.phase), st,
                           "requests %d (%.0f/s) load %s%s" % (issued, rate, loadavg(), heap_text))
                last_print, last_issued, last_t = now, issued, now


def heap_report(samples, result):
    """Per fifth of the measured phase, medians of the 1 s scrapes: RssAnon, the heap's bytes in
    use and retained (mallinfo2), RssAnon less in use (what the heap keeps resident for nothing,
    plus stacks); and what the heap trims did. Tells a growing structure (in use rising) from
    the allocator's retention (in use flat, the rest rising)."""
    under = [(t, st, heap) for t, phase, _, st, heap in samples
             if phase == "measured" and "in_use" in heap]
    if len(under) < 10:
        return
    t_first, t_last = under[0][0], under[-1][0]
    fifth = (t_last - t_first) / 5 or 1
    med = lambda xs: sorted(xs)[len(xs) // 2]
    rows = []
    print("  heap under load, medians per fifth of the measured phase (MB):")
    print("    %-6s %9s %9s %9s %12s" % ("fifth", "RssAnon", "in use", "retained", "anon-in use"))
    for i in range(5):
        part = [(st, heap) for t, st, heap in under
                if t_first + i * fifth <= t <= t_first + (i + 1) * fifth]
        if not part:
            continue
        row = {
            "rss_anon": med([st["RssAnon"] * 1024 for st, _ in part]),
            "in_use": med([h["in_use"] for _, h in part]),
            "retained": med([h.get("retained", 0) for _, h in part]),
            "unused_resident": med([st["RssAnon"] * 1024 - h["in_use"] for st, h in part]),
        }
        rows.append(row)
        print("    %-6d %9.1f %9.1f %9.1f %12.1f" % (
            i + 1, row["rss_anon"] / 1048576, row["in_use"] / 1048576, row["retained"] / 1048576,
            row["unused_resident"] / 1048576))
    result["heap_fifths"] = rows
    first, last = under[0][2], under[-1][2]
    if "trims" in last:
        trims = last["trims"] - first.get("trims", 0)
        seconds = last.get("trim_s", 0) - first.get("trim_s", 0)
        released = last.get("released", 0) - first.get("released", 0)
        result["heap_trims"] = {"trims": trims, "seconds": round(seconds, 4),
                                "released_mb": round(released / 1048576, 1),
                                "longest_ms": round(last.get("trim_max_s", 0) * 1000, 2)}
        print("  heap trims in the measured phase: %d, %.3f s in all (%.2f ms each, longest %.2f ms "
              "since start), %.0f MB released" % (
                  trims, seconds, 1000 * seconds / trims if trims else 0,
                  last.get("trim_max_s", 0) * 1000, released / 1048576))


def print_line(label, st, extra=""):
    print("[soak] %-16s VmRSS %9s  RssAnon %9s  RssFile %9s  VmHWM %9s  %s" % (
        label, mb(st["VmRSS"]), mb(st["RssAnon"]), mb(st["RssFile"]), mb(st["VmHWM"]), extra),
        flush=True)


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--photo", action="append", required=True, help="path:weight")
    ap.add_argument("--allocator", default="glibc")
    ap.add_argument("--service-env", default="")
    ap.add_argument("--service-args", default="")
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--duration", type=float, default=0)
    ap.add_argument("--warmup", type=int, default=3000)
    ap.add_argument("--threads", type=int, default=6)
    ap.add_argument("--interval", type=float, default=30)
    ap.add_argument("--settle", type=float, default=5)
    ap.add_argument("--max-growth", type=float, default=10)
    ap.add_argument("--verdict", choices=("anon", "total"), default="anon")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json")
    ap.add_argument("--git", default="")
    args = ap.parse_args()
    if args.requests <= 0 and args.duration <= 0:
        sys.exit("give a number of requests or a duration (or both)")

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)

    photos = [Photo(spec) for spec in args.photo]
    service = Service(args)
    try:
        return soak(args, photos, service)
    except KeyboardInterrupt:
        print("[soak] interrupted", flush=True)
        return 130
    finally:
        service.stop()


def soak(args, photos, service):
    cores = os.cpu_count()
    print("[soak] binary %s (%s)" % (args.bin, args.git))
    print("[soak] allocator %s; service env: %s; service args: %s" % (
        args.allocator, args.service_env or "-", args.service_args or "-"))
    print("[soak] %d client threads; warm-up %d requests; measured: %s%s; %d cores; load %s" % (
        args.threads, args.warmup,
        "%d requests" % args.requests if args.requests > 0 else "",
        (" / " if args.requests > 0 else "") + "%g s" % args.duration if args.duration > 0 else "",
        cores, loadavg()))
    print("[soak] photos: " + ", ".join("%s %d KB x%d" % (p.name, len(p.raw) // 1024, p.weight)
                                        for p in photos), flush=True)
    service.wait_ready()
    libs = mapped_libraries(service.pid)
    print("[soak] service pid %d on 127.0.0.1:%d; allocator libraries mapped: %s" % (
        service.pid, service.port, ", ".join(libs) or "none (glibc malloc)"), flush=True)
    if args.allocator != "glibc" and not any(args.allocator in lib for lib in libs):
        service.fail("LD_PRELOAD of %s did not take" % args.allocator)

    t0 = time.monotonic()
    checkpoints = {}

    def checkpoint(name, label, extra=""):
        st = proc_status(service.pid)
        checkpoints[name] = st
        print_line(label, st, extra)

    checkpoint("start", "start (idle)", "load %s" % loadavg())
    shared = Shared(args, photos, service.port)
    setup_warm(shared)
    checkpoint("setup", "after setup", "(%d photos uploaded, their variants computed)" % len(photos))

    sampler = Sampler(service, shared, args.interval, t0)
    sampler.start()
    workers = [Worker(shared, i) for i in range(args.threads)]

    # Warm-up.
    sampler.phase = "warm-up"
    shared.limit = args.warmup
    w0 = time.monotonic()
    run_phase(shared, workers)
    warmup_s = time.monotonic() - w0
    if not service.alive():
        service.fail("the service died during the warm-up")
    checkpoint("warm", "after warm-up", "(%d requests in %.0f s, none in flight)" % (
        shared.issued, warmup_s))

    # Measured phase.
    sampler.phase = "measured"
    stat0, (busy0, steal0), client0 = proc_stat(service.pid), machine_busy(), client_cpu()
    load_start = loadavg()
    with shared.lock:
        shared.limit = shared.issued + args.requests if args.requests > 0 else 0
        measured_from = shared.issued
    m0 = time.monotonic()
    if args.duration > 0:
        shared.deadline = m0 + args.duration
    run_phase(shared, workers)
    measured_s = time.monotonic() - m0
    stat1, (busy1, steal1), client1 = proc_stat(service.pid), machine_busy(), client_cpu()
    load_end = loadavg()
    measured_n = shared.issued - measured_from
    sampler.phase = "end"
    alive = service.alive()
    if alive:
        checkpoint("end", "end", "(%d measured requests in %.0f s, none in flight)" % (
            measured_n, measured_s))
    sampler.done.set()
    sampler.join()
    if alive and args.settle > 0:
        time.sleep(args.settle)
        checkpoint("settled", "end + %gs idle" % args.settle)

    # Stop the service: SIGTERM must give exit code 0.
    exit_code = service.stop()

    # ---------------------------------------------------------------- report
    counts = collections.Counter()
    seconds, slowest = collections.defaultdict(float), collections.defaultdict(float)
    unexpected = []
    for w in workers:
        counts.update(w.counts)
        for k, v in w.time.items():
            seconds[k] += v
        for k, v in w.max.items():
            slowest[k] = max(slowest[k], v)
        unexpected += w.unexpected
    total = sum(n for (k, st), n in counts.items() if st != "bad body")
    print()
    print("requests per kind and status (warm-up + measured; %d in all, setup not counted)" % total)
    print("  %-24s %8s  %-28s %9s %9s" % ("kind", "count", "statuses", "mean ms", "max ms"))
    kinds = sorted({k for k, _ in counts})
    for kind in kinds:
        per = {st: n for (k, st), n in counts.items() if k == kind}
        n = sum(v for st, v in per.items() if st != "bad body")
        statuses = " ".join("%s:%d" % (st, v) for st, v in sorted(per.items(), key=lambda x: str(x[0])))
        print("  %-24s %8d  %-28s %9.1f %9.1f" % (kind, n, statuses, seconds[kind] / n * 1000,
                                                   slowest[kind] * 1000))
    n_unexpected = len(unexpected)
    if n_unexpected:
        print("\nunexpected answers: %d; the first ones:" % n_unexpected)
        for u in unexpected:
            if u is not None:
                kind, method, path, status, detail = u
                print("  %s %s %s -> %s %r" % (kind, method, path, status, detail[:200]))

    st_w, st_e = checkpoints.get("warm"), checkpoints.get("end")
    cpu_s = stat1["cpu_s"] - stat0["cpu_s"]
    foreign = (busy1 - busy0) - cpu_s - (client1 - client0)
    rps = measured_n / measured_s if measured_s > 0 else 0
    peak_after_warm = max((s[3]["VmRSS"] for s in sampler.samples if s[1] == "measured"), default=0)
    peak_anon_after_warm = max((s[3]["RssAnon"] for s in sampler.samples if s[1] == "measured"), default=0)
    result = {
        "allocator": args.allocator, "service_env": args.service_env,
        "service_args": args.service_args, "git": args.git, "threads": args.threads,
        "warmup_requests": args.warmup, "measured_requests": measured_n,
        "measured_s": round(measured_s, 1), "rps": round(rps, 1),
        "service_cpu_s": round(cpu_s, 1), "service_cpu_ms_per_request": round(cpu_s / max(measured_n, 1) * 1000, 2),
        "service_minflt": stat1["minflt"] - stat0["minflt"],
        "foreign_cpu_pct": round(100 * foreign / (measured_s * cores), 1) if measured_s > 0 else 0,
        "steal_pct": round(100 * (steal1 - steal0) / (measured_s * cores), 1) if measured_s > 0 else 0,
        "load_start": load_start, "load_end": load_end,
        "checkpoints_kb": checkpoints, "peak_measured_kb": {"VmRSS": peak_after_warm, "RssAnon": peak_anon_after_warm},
        "unexpected": n_unexpected, "exit_code": exit_code,
        "counts": {"%s %s" % k: v for k, v in sorted(counts.items(), key=lambda x: str(x))},
    }
    print()
    print("measured phase: %d requests in %.1f s = %.1f requests/s; service CPU %.1f s (%.2f ms a request), "
          "%d minor page faults" % (measured_n, measured_s, rps, cpu_s, result["service_cpu_ms_per_request"],
                                    result["service_minflt"]))
    data_mb = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(os.path.join(args.tmp, "data"))
                  for f in fs) / 1048576.0
    result["lmdb_mb"] = round(data_mb, 1)
    print("LMDB data file: %.0f MB (its pages read through the map are the growth of RssFile)" % data_mb)
    print("machine: load %s -> %s; other processes used %.1f %% of the %d cores meanwhile, steal %.1f %%" % (
        load_start, load_end, result["foreign_cpu_pct"], cores, result["steal_pct"]))
    ok = True
    if st_w and st_e:
        print("\nRSS, quiescent %12s %12s %12s %12s %9s" % ("start", "after warm-up", "end", "end+settle", "growth"))
        for key in ("VmRSS", "RssAnon", "RssFile"):
            settled = checkpoints.get("settled", {}).get(key)
            growth = 100.0 * (st_e[key] - st_w[key]) / st_w[key] if st_w[key] else 0.0
            result["growth_pct_" + key] = round(growth, 2)
            print("  %-12s %12s %12s %12s %12s %+8.1f%%" % (
                key, mb(checkpoints["start"][key]), mb(st_w[key]), mb(st_e[key]),
                mb(settled) if settled is not None else "-", growth))
        print("  %-12s %12s %12s %12s  (peak, VmHWM); peak sampled in the measured phase: VmRSS %s, RssAnon %s" % (
            "VmHWM", "", mb(st_w["VmHWM"]), mb(st_e["VmHWM"]), mb(peak_after_warm), mb(peak_anon_after_warm)))
        # The verdict's figures: medians of the samples under load in the first and the last
        # fifth of the measured phase (see the header).
        under = [(t, st) for t, phase, _, st, _ in sampler.samples if phase == "measured"]
        basis = "quiescent checkpoints"
        if len(under) >= 10:
            basis = "median under load, first -> last fifth of the measured phase"
            t_first, t_last = under[0][0], under[-1][0]
            fifth = (t_last - t_first) / 5
            first = [st for t, st in under if t <= t_first + fifth]
            last = [st for t, st in under if t >= t_last - fifth]
            med = lambda xs: sorted(xs)[len(xs) // 2]
            parts = []
            for k in ("VmRSS", "RssAnon"):
                a, b = med([st[k] for st in first]), med([st[k] for st in last])
                result["load_median_kb_" + k] = [a, b]
                parts.append("%s %s -> %s (%+.1f %%)" % (k, mb(a), mb(b), 100.0 * (b - a) / a if a else 0))
            print("  under load, median of the %g s samples (%d and %d), first -> last fifth of the "
                  "measured phase: " % (SAMPLE_PERIOD, len(first), len(last)) + ", ".join(parts))
            # Informative beside the median: the mean, and the floor (10th percentile), which
            # images being decoded at the instant move least.
            others = []
            for name, fn in (("mean", lambda xs: sum(xs) / len(xs)),
                             ("p10", lambda xs: sorted(xs)[len(xs) // 10])):
                a, b = fn([st["RssAnon"] for st in first]), fn([st["RssAnon"] for st in last])
                result["load_%s_kb_RssAnon" % name] = [a, b]
                others.append("%s %s -> %s (%+.1f %%)" % (name, mb(a), mb(b), 100.0 * (b - a) / a if a else 0))
            print("  RssAnon under load, other statistics of the same samples: " + ", ".join(others))
            result["samples_measured"] = [
                [round(t, 2), st["RssAnon"], heap.get("in_use")]
                for t, phase, _, st, heap in sampler.samples if phase == "measured"]
            heap_report(sampler.samples, result)
        key = "RssAnon" if args.verdict == "anon" else "VmRSS"
        if "load_median_kb_" + key in result:
            before, after = result["load_median_kb_" + key]
        else:
            before, after = st_w[key], st_e[key]
        growth = 100.0 * (after - before) / before if before else 0.0
        result["verdict_basis"] = basis
        result["verdict_kb"] = [before, after]
        result["verdict_growth_pct"] = round(growth, 2)
        verdict_ok = growth <= args.max_growth
        ok &= verdict_ok
        print("\nverdict (%s, %s): %s -> %s, %+.1f %% (limit +%g %%): %s" % (
            key, basis, mb(before), mb(after), growth, args.max_growth,
            "PASS" if verdict_ok else "FAIL"))
    else:
        ok = False
        print("\nverdict: FAIL (the service is gone: no end figure)")
    if n_unexpected:
        ok = False
        print("unexpected answers: %d (any 5xx, transport error or unexpected status fails the run): FAIL" % n_unexpected)
    else:
        print("unexpected answers: none")
    if exit_code != 0:
        ok = False
        print("service exit on SIGTERM: %s (must be 0): FAIL\n--- service log (end) ---\n%s" % (
            exit_code, service.log_tail()))
    else:
        print("service exit on SIGTERM: 0")
    result["pass"] = ok
    print("\nSOAK %s" % ("PASS" if ok else "FAIL"), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
