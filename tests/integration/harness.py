"""Shared harness for the integration tests: starts the real imagecpp binary and talks HTTP to it.

Python stdlib only. The binary comes from $IMAGECPP_BIN, the committed test images from
$IMAGECPP_TEST_IMAGES (both set by CTest; see tests/CMakeLists.txt).
"""

import base64
import http.client
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest
import zlib

BIN = os.environ.get("IMAGECPP_BIN", "")
TEST_IMAGES = os.environ.get(
    "IMAGECPP_TEST_IMAGES",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "images"))

# The build's sanitizers, from CTest ("address,undefined", "thread", or empty for a plain build).
SANITIZER_BUILD = bool(os.environ.get("IMAGECPP_SANITIZE"))

SIXEL = "/usr/share/doc/libsixel-examples/examples/images"
SDL = "/usr/libexec/installed-tests/SDL2_image"

# Real images, by short name.
IMAGE_PATHS = {
    "snake.jpg": os.path.join(SIXEL, "snake.jpg"),                 # 600x450 baseline, JFIF only
    "snake-progressive.jpg": os.path.join(SIXEL, "snake-progressive.jpg"),  # 600x450
    "snake.png": os.path.join(SIXEL, "snake.png"),                 # 600x450 RGB
    "snake.gif": os.path.join(SIXEL, "snake.gif"),                 # 600x450
    "snake.bmp": os.path.join(SIXEL, "snake.bmp"),                 # unsupported format
    # libsixel's snake.tiff is in fact a JPEG: the real TIFF comes from SDL2_image.
    "sample.tif": os.path.join(SDL, "sample.tif"),                 # unsupported format, 23x42
    "sample.bmp": os.path.join(SDL, "sample.bmp"),                 # unsupported format, 23x42
    "sample.webp": os.path.join(SDL, "sample.webp"),               # 23x42 lossless
    "sample.avif": os.path.join(SDL, "sample.avif"),               # 23x42
    "alpha.png": os.path.join(TEST_IMAGES, "alpha.png"),           # 200x150 RGBA
    "animated.gif": os.path.join(TEST_IMAGES, "animated.gif"),     # 3 frames of 160x120
    "cmyk.jpg": os.path.join(TEST_IMAGES, "cmyk.jpg"),             # 600x450 CMYK
    "orientation6.jpg": os.path.join(TEST_IMAGES, "orientation6.jpg"),  # stored 450x600, EXIF 6
    "metadata.jpg": os.path.join(TEST_IMAGES, "metadata.jpg"),     # 300x225, EXIF+GPS, XMP, ICC
    "snake.heic": os.path.join(TEST_IMAGES, "snake.heic"),         # 600x450 HEVC HEIF
}

SIZES = (160, 320, 640, 800, 1024, 1200)
UUID4_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
IMMUTABLE_PUBLIC = "public, max-age=31536000, immutable"
# The startup line names the port the service bound (any log format: text or JSON).
LISTENING_RE = re.compile(r"listening on http://[^\s\"]*:(\d+)")
HANG_GUARD = 120  # seconds: a wait this long is a hang, not a slow machine
NO_RENDER_DEADLINE_MS = 3_600_000  # the largest --max-render-ms: an hour, past any test timeout


# ---------------------------------------------------------------------------------------------
# Images

def image_path(name):
    return IMAGE_PATHS.get(name, os.path.join(TEST_IMAGES, name))


def have_image(name):
    return os.path.isfile(image_path(name))


def read_image(name):
    path = image_path(name)
    if not os.path.isfile(path):
        raise unittest.SkipTest("test image missing: " + path)
    with open(path, "rb") as f:
        return f.read()


def data_url(data, mime):
    return "data:%s;base64,%s" % (mime, base64.b64encode(data).decode("ascii"))


def is_jpeg(data):
    return data[:3] == b"\xff\xd8\xff"


def is_png(data):
    return data[:8] == b"\x89PNG\r\n\x1a\n"


def jpeg_segments(data):
    """(marker, payload) of every segment before the first SOS (marker as an int, e.g. 0xE1)."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    out = []
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise ValueError("bad JPEG marker at %d" % i)
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01,) or 0xD0 <= marker <= 0xD7:  # no length
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        out.append((marker, data[i + 4:i + 2 + length]))
        if marker == 0xDA:  # SOS: entropy-coded data follows
            break
        i += 2 + length
    return out


def jpeg_info(data):
    """(width, height, components) from the first SOF0..SOF15 (not DHT C4, JPG C8, DAC CC)."""
    for marker, payload in jpeg_segments(data):
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            _, height, width, components = struct.unpack(">BHHB", payload[:6])
            return width, height, components
    raise ValueError("no SOF marker")


def jpeg_size(data):
    width, height, _ = jpeg_info(data)
    return width, height


def png_size(data):
    if not is_png(data) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return struct.unpack(">II", data[16:24])


def png_chunk(kind, payload):
    return (struct.pack(">I", len(payload)) + kind + payload +
            struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


def webp_size(data):
    """(width, height) of a WebP (VP8, VP8L or VP8X)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("not a WebP")
    kind, payload = data[12:16], data[20:]
    if kind == b"VP8X":
        return (1 + int.from_bytes(payload[4:7], "little"),
                1 + int.from_bytes(payload[7:10], "little"))
    if kind == b"VP8L":
        bits = int.from_bytes(payload[1:5], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if kind == b"VP8 ":
        width, height = struct.unpack("<HH", payload[6:10])
        return width & 0x3FFF, height & 0x3FFF
    raise ValueError("unknown WebP chunk %r" % kind)


def heif_size(data):
    """(width, height) from the first 'ispe' property of an AVIF/HEIC file."""
    at = data.find(b"ispe")
    if at < 4:
        raise ValueError("no ispe box")
    return struct.unpack(">II", data[at + 8:at + 16])


def make_png(width, height, full=True):
    """An 8-bit RGB PNG. full=False writes a valid header but only one row of pixel data
    (enough for a header probe, never for a decode): used to declare huge dimensions."""
    header = b"\x89PNG\r\n\x1a\n" + png_chunk(
        b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    rows = height if full else 1
    raw = (b"\x00" + b"\x80" * (3 * width)) * rows
    return header + png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b"")


def fit(width, height, box):
    """Dimensions of width x height fitted inside box x box, aspect kept, never upscaled."""
    if width <= box and height <= box:
        return width, height
    scale = min(box / width, box / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


# ---------------------------------------------------------------------------------------------
# Process

def _port_is_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port():
    """A free loopback port for a server that cannot take port 0 (redis-server, RabbitMQ)."""
    for _ in range(200):
        port = random.randint(20000, 32000)
        if _port_is_free(port):
            return port
    raise RuntimeError("no free port in 20000-32000")


def _die_with_parent():
    """In the child before exec: SIGKILL when the test process dies (e.g. killed by a CTest
    timeout), so that no service outlives its test."""
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def check_wall_time(test, seconds, bound, what=""):
    """An upper bound on wall time: a timeout that must fire soon enough, a latency. Checked in
    plain builds only. A sanitizer build runs several times slower and a loaded machine starves
    the service's threads (its image workers are niced), so there the bound says nothing about
    the code and must not decide the verdict; the behaviour around it (the timeout fired, the
    answer, the exit code) is asserted in every build."""
    if not SANITIZER_BUILD:
        test.assertLess(seconds, bound, what)


class ServiceError(AssertionError):
    pass


class Service:
    """One imagecpp process with its own tokens file and data directory.

    Use as a context manager or call close(); close() always kills the process and removes the
    temporary directory it made.
    """

    def __init__(self, extra_args=(), tokens=2, data_dir=None, start=True, env=None,
                 binary=None, tmp=None, own_session=False):
        """tokens: how many to make up, or {token: user id}. binary: $IMAGECPP_BIN by default.
        tmp: a directory for the tokens file, the log and the data (kept by close()); a new
        temporary one by default. own_session: a Ctrl-C at the terminal reaches the caller, not
        the service (bench/soak.py measures, then stops it)."""
        self.binary = binary or BIN
        if not self.binary or not os.access(self.binary, os.X_OK):
            raise unittest.SkipTest("IMAGECPP_BIN is not an executable: %r" % self.binary)
        self.extra_args = list(extra_args)
        self.env = dict(os.environ, **(env or {}))  # the process's environment
        self.own_session = own_session
        self._own_tmp = tmp is None
        self.tmp = tempfile.mkdtemp(prefix="imagecpp-it-") if tmp is None else tmp
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        # token -> user id; tokens look like the peers' opaque bearer tokens.
        if isinstance(tokens, dict):
            self.tokens = dict(tokens)
        else:
            self.tokens = {"tok-" + secrets.token_urlsafe(24): "user-%d" % (i + 1)
                           for i in range(tokens)}
        self.token = next(iter(self.tokens))
        self.tokens_file = os.path.join(self.tmp, "tokens.txt")
        with open(os.open(self.tokens_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
                  "w") as f:
            for n, (tok, user) in enumerate(self.tokens.items()):
                f.write("%s %s Test User %d\n" % (tok, user, n + 1))
        self.log_path = os.path.join(self.tmp, "service.log")
        self.proc = None
        self.port = None
        self._log = None
        self.starts = 0
        if start:
            self.start()

    # -- process control -----------------------------------------------------------------

    def command(self):
        return [self.binary, "--bind", "127.0.0.1", "--port", "0",
                "--auth-mode", "static", "--tokens-file", self.tokens_file,
                "--data-dir", self.data_dir] + self.extra_args

    def full_command(self):
        """command() and the settings every test service gets unless the test sets them: no
        render deadline (it is wall time, and a test's verdict must not depend on how busy the
        machine is: a sanitizer build on a loaded machine once took 24 s over the 20 s default)."""
        command = self.command()
        if "--max-render-ms" not in command and "IMAGE_MAX_RENDER_MS" not in self.env:
            command += ["--max-render-ms", str(NO_RENDER_DEADLINE_MS)]
        return command

    def start(self, timeout=HANG_GUARD):  # a sanitizer build on a loaded machine starts slowly
        """Starts (or restarts) the process on a port the kernel picks (--port 0), read from the
        startup line, then waits for /healthz to answer 200."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self._close_log()
        self.starts += 1
        command = self.full_command()
        self._log = open(self.log_path, "ab")
        self._log.write(("\n=== start %d: %s\n" % (self.starts, " ".join(command))).encode())
        self._log.flush()
        since = self._log.tell()
        self.port = None
        self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     env=self.env, preexec_fn=_die_with_parent,
                                     start_new_session=self.own_session)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if self.port is None:
                self.port = self._bound_port(since)
            if self.port is not None:
                try:
                    if self.request("GET", "/healthz", timeout=1)[0] == 200:
                        return self
                except OSError:
                    pass
            time.sleep(0.02)
        code = self.proc.poll()
        self._kill()
        raise ServiceError("imagecpp did not %s within %.0f s (exit code %r). Log:\n%s"
                           % ("answer /healthz with 200" if self.port else "log its port",
                              timeout, code, self.log()))

    def _bound_port(self, since):
        """The port of the startup line ("listening on http://host:port") written after byte
        `since` of the log, or None while there is none yet."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(since)
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return None
        match = LISTENING_RE.search(text)
        return int(match.group(1)) if match else None

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        """Sends sig and returns the exit code (negative for a signal death)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            raise ServiceError("imagecpp did not exit within %.0f s after signal %d. Log:\n%s"
                               % (timeout, sig, self.log()))
        self._close_log()
        return code

    def kill(self):
        """SIGKILL: no chance to flush or clean anything."""
        return self.stop(signal.SIGKILL)

    def restart(self):
        self.stop()
        return self.start()

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._close_log()

    def _close_log(self):
        if self._log is not None:
            self._log.close()
            self._log = None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def healthy(self, timeout=3):
        """Running and answering /healthz."""
        if not self.running():
            return False
        try:
            return self.request("GET", "/healthz", timeout=timeout)[0] == 200
        except OSError:
            return False

    def close(self):
        self._kill()
        if self._own_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_for_log(self, text, timeout=30.0):
        """True once `text` appears in the log (access lines are flushed once a second)."""
        deadline = time.monotonic() + timeout
        while True:
            if text in self.log():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    # -- HTTP ----------------------------------------------------------------------------

    # The default socket timeout only guards against a hang: a first read of a large image under
    # a sanitizer on a loaded machine takes well over 10 s.
    def connection(self, timeout=HANG_GUARD):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=HANG_GUARD):
        """(status, headers with lowercase names, body bytes) over a fresh connection."""
        conn = self.connection(timeout)
        try:
            return send(conn, method, path, body, headers)
        finally:
            conn.close()

    def auth(self, token=None, headers=None):
        h = {"Authorization": "Bearer " + (token or self.token)}
        h.update(headers or {})
        return h

    def upload_raw(self, data, content_type="image/jpeg", token=None, route="/v1/image",
                   headers=None):
        h = {"Content-Type": content_type}
        h.update(headers or {})
        return self.request("POST", route, data, self.auth(token, h))

    def upload_json(self, value, token=None, route="/v1/image", headers=None):
        """POSTs {"image": value}; value may also be a ready JSON body (bytes)."""
        body = value if isinstance(value, bytes) else json.dumps({"image": value}).encode()
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        return self.request("POST", route, body, self.auth(token, h))

    def upload(self, data, token=None, route="/v1/image"):
        """Uploads real image bytes as a data URL and returns the new id (asserts a 200)."""
        status, _, body = self.upload_json(data_url(data, "image/jpeg"), token, route)
        if status != 200:
            raise ServiceError("upload answered %d: %r" % (status, body[:300]))
        return json.loads(body)["id"]

    def get_json(self, path, headers=None):
        status, h, body = self.request("GET", path, None, headers)
        return status, h, (json.loads(body) if body else None)

    def metrics(self):
        """{series: value} from /metrics, series as written, e.g.
        'imagecpp_http_requests_total{route="/healthz",status="200"}'."""
        status, _, body = self.request("GET", "/metrics")
        if status != 200:
            raise ServiceError("/metrics answered %d" % status)
        return parse_metrics(body.decode())

    def metric(self, series):
        return self.metrics().get(series, 0.0)

    def wait_for_answer_cut(self, timeout=120.0):
        """Until the one large answer in flight has started (it is counted in
        imagecpp_inflight_bytes) and then been released: sent, or its reader cut."""
        deadline = time.monotonic() + timeout
        while self.metric("imagecpp_inflight_bytes") == 0:
            if time.monotonic() > deadline:
                raise ServiceError("the answer never started")
            time.sleep(0.05)
        while self.metric("imagecpp_inflight_bytes") != 0:
            if time.monotonic() > deadline:
                raise ServiceError("a stalled reader was never cut")
            time.sleep(0.1)

    def wait_for_writes(self, timeout=60.0):
        """Until no variant write is left behind an answer (variants are answered first, then
        written to the store)."""
        deadline = time.monotonic() + timeout
        while self.metric("imagecpp_variant_writes_pending") != 0:
            if time.monotonic() > deadline:
                raise ServiceError("variant writes still pending after %.0f s" % timeout)
            time.sleep(0.01)


def send(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def rss_bytes(pid):
    """Resident memory of a process (VmRSS in /proc/<pid>/status)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for pid %d" % pid)


def parse_metrics(text):
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        out[series] = float(value)
    return out


def requests_series(route, status):
    return 'imagecpp_http_requests_total{route="%s",status="%d"}' % (route, status)


def decode_data_url(value):
    """(mime, bytes) of a base64 data URL."""
    m = re.match(r"^data:([^;,]+);base64,(.*)$", value, re.S)
    if not m:
        raise ValueError("not a base64 data URL: %r" % value[:80])
    return m.group(1), base64.b64decode(m.group(2), validate=True)


def raw_socket(port, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_until_closed(sock, limit=10.0):
    """Everything the server sends until it closes; (bytes, seconds waited, closed?)."""
    start = time.monotonic()
    sock.settimeout(0.2)
    data = b""
    while time.monotonic() - start < limit:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return data, time.monotonic() - start, True
        if not chunk:
            return data, time.monotonic() - start, True
        data += chunk
    return data, time.monotonic() - start, False


def parse_raw_response(data):
    """(status, headers lowercase, body) of one raw HTTP/1.1 response with Content-Length."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        raise ValueError("incomplete response: %r" % data[:200])
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", len(rest)))
    return status, headers, rest[:length]


# ---------------------------------------------------------------------------------------------
# Test case bases

class ServiceTestCase(unittest.TestCase):
    """One service shared by every test of the class (starting one per test is slow)."""

    service_args = ()
    service_env = {}  # added to the test process's environment
    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.svc = Service(cls.service_args, env=cls.service_env)
        cls.addClassCleanup(cls.svc.close)

    def tearDown(self):
        # A crash or a hang is a failure of the test that caused it; the service is then
        # restarted (same data dir) so that the class's other tests still say something.
        if self.svc.healthy():
            return
        code = self.svc.proc.poll() if self.svc.proc else None
        log = self.svc.log()[-4000:]
        self.svc._kill()
        self.svc.start()
        self.fail("imagecpp %s during this test (exit code %r). Log tail:\n%s"
                  % ("died" if code is not None else "stopped answering", code, log))

    # -- assertions on the contract's bodies ---------------------------------------------

    def assertJsonError(self, response, status, error=None):
        """status and body {"error": <reason>} (exact reason when given)."""
        code, headers, body = response
        self.assertEqual(code, status, body[:500])
        self.assertTrue(headers.get("content-type", "").startswith("application/json"), headers)
        doc = json.loads(body)
        if error is None:
            self.assertEqual(set(doc), {"error"}, doc)
            self.assertIsInstance(doc["error"], str)
            self.assertTrue(doc["error"])
        else:
            self.assertEqual(doc, {"error": error})
        return doc

    def assertMessages(self, response, paths):
        """400 with {"messages":[{"path", "message"}...]} whose paths are exactly `paths`."""
        code, headers, body = response
        self.assertEqual(code, 400, body[:500])
        self.assertTrue(headers.get("content-type", "").startswith("application/json"), headers)
        doc = json.loads(body)
        self.assertEqual(set(doc), {"messages"}, doc)
        self.assertIsInstance(doc["messages"], list)
        for item in doc["messages"]:
            self.assertEqual(set(item), {"path", "message"}, item)
            self.assertIsInstance(item["message"], str)
            self.assertTrue(item["message"], item)
        self.assertEqual(sorted(item["path"] for item in doc["messages"]), sorted(paths), doc)
        return doc["messages"]

    def assertUploaded(self, response):
        """200 {"id": <lowercase canonical uuid v4>}; returns the id."""
        code, headers, body = response
        self.assertEqual(code, 200, body[:500])
        self.assertTrue(headers.get("content-type", "").startswith("application/json"), headers)
        doc = json.loads(body)
        self.assertEqual(set(doc), {"id"}, doc)
        self.assertRegex(doc["id"], UUID4_RE)
        return doc["id"]

    def read_original(self, image_id, prefix="/v1/image/"):
        """(mime, bytes) of GET {prefix}{id}, asserting the JSON shape."""
        code, headers, body = self.svc.request("GET", prefix + image_id)
        self.assertEqual(code, 200, body[:300])
        doc = json.loads(body)
        self.assertEqual(set(doc), {"id", "image"}, list(doc))
        self.assertEqual(doc["id"], image_id)
        return decode_data_url(doc["image"])


def raw_request(port, method, path, headers, body=b"", chunked=False, chunk_size=8192,
                pause=0.0, timeout=15):
    """Sends one request by hand (optionally chunked) and returns (status, headers, body).

    Stops sending as soon as the server answers (a server may answer before reading the whole
    body, e.g. 413) and tolerates the reset that may follow."""
    import select
    sock = raw_socket(port, timeout)
    try:
        lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1:%d" % port,
                 "Connection: close"]
        lines += ["%s: %s" % kv for kv in headers.items()]
        if chunked:
            lines.append("Transfer-Encoding: chunked")
        elif body or method in ("POST", "PUT"):
            lines.append("Content-Length: %d" % len(body))
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        pieces = [body[i:i + chunk_size] for i in range(0, len(body), chunk_size)]
        if chunked:
            pieces = [b"%x\r\n%s\r\n" % (len(p), p) for p in pieces] + [b"0\r\n\r\n"]
        for piece in pieces:
            readable, _, _ = select.select([sock], [], [], pause)
            if readable:
                break  # answered early
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
        data, _, _ = read_until_closed(sock, timeout)
        return parse_raw_response(data)
    finally:
        sock.close()
