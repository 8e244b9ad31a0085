"""A randomized concurrency run: for a bounded time (IMAGECPP_MIXED_SECONDS, default 40 per store), many
clients mix uploads, first and warm reads, every variant, 304s, HEADs and errors over a small,
changing set of ids, on keep-alive connections. Every answer is checked against what the
contract says it must be, answers for one URL must never change, and the process must be alive
and healthy at the end. CI runs it on the sanitizer build, so a memory error anywhere aborts the
process and fails the run."""

import http.client
import json
import os
import random
import threading
import time
import unittest

from harness import (SIZES, ServiceTestCase, data_url, decode_data_url, fit, is_jpeg,
                     is_png, jpeg_size, png_size, read_image)
from redis_server import RedisServiceTestCase

SECONDS = float(os.environ.get("IMAGECPP_MIXED_SECONDS", "40"))
CLIENTS = 8
POOL = 4  # ids live at once: small, so that reads of one id collide
UNKNOWN = "0b9e5c2a-7d41-4c3e-9f6a-2d8b1e4a5c70"
MIN_OPERATIONS = 40


class Pool:
    """The ids clients read, replaced now and then by new uploads (new first reads)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ids = []  # (id, name of the uploaded image)

    def add(self, image_id, name):
        with self.lock:
            self.ids.append((image_id, name))
            if len(self.ids) > POOL:
                self.ids.pop(random.randrange(len(self.ids) - 1))

    def pick(self, rng):
        with self.lock:
            return rng.choice(self.ids) if self.ids else None


class Client(threading.Thread):

    def __init__(self, test, number, deadline, pool, seen, seen_lock):
        super().__init__(daemon=True)
        self.t = test
        self.rng = random.Random(number)
        self.deadline = deadline
        self.pool = pool
        self.seen = seen  # (method, path) -> body of its first 200, shared by the clients
        self.seen_lock = seen_lock
        self.counts = {}
        self.problems = []
        self.conn = None

    # -- plumbing -------------------------------------------------------------------------

    def send(self, method, path, body=None, headers=None):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.t.svc.port, timeout=60)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                data = response.read()
                if response.getheader("connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return response.status, {k.lower(): v for k, v in response.getheaders()}, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A kept-alive connection the server closed between requests: once, anew.
                self.conn.close()
                self.conn = None
                if attempt:
                    raise

    def check(self, ok, what):
        if not ok:
            self.problems.append(what)

    def expect(self, kind, status, response, want):
        self.counts[(kind, status)] = self.counts.get((kind, status), 0) + 1
        self.check(status == want, "%s: status %d, wanted %d: %r" % (kind, status, want,
                                                                     response[2][:200]))
        return status == want

    def immutable(self, method, path, body):
        with self.seen_lock:
            first = self.seen.setdefault((method, path), body)
        self.check(first == body, "%s %s: the answer changed" % (method, path))

    # -- the operations -------------------------------------------------------------------

    def upload(self):
        name = self.rng.choice(("snake.jpg", "snake.png", "alpha.png", "snake-progressive.jpg"))
        data = self.t.images[name]
        mime = "image/png" if name.endswith(".png") else "image/jpeg"
        if self.rng.random() < 0.5:
            r = self.send("POST", "/v1/image", json.dumps({"image": data_url(data, mime)}),
                          self.t.svc.auth(headers={"Content-Type": "application/json"}))
        else:
            r = self.send("POST", "/images/create", data, self.t.svc.auth(headers={"Content-Type": mime}))
        if self.expect("upload", r[0], r, 200):
            self.pool.add(json.loads(r[2])["id"], name)

    def read(self):
        picked = self.pool.pick(self.rng)
        if picked is None:
            return self.upload()
        image_id, name = picked
        data = self.t.images[name]
        prefix = self.rng.choice(("/v1/image/", "/images/"))
        size = self.rng.choice((None,) + SIZES)
        as_bytes = self.rng.random() < 0.5
        path = prefix + image_id + ("/jpeg" if as_bytes else "")
        headers = {}
        if size is not None:
            if self.rng.random() < 0.7:
                path += "?Size=%d" % size
            else:
                headers["Size"] = str(size)
        method = "HEAD" if self.rng.random() < 0.1 else "GET"
        r = self.send(method, path, None, headers)
        if not self.expect("read", r[0], r, 200):
            return
        status, h, body = r
        self.check("size" in h.get("vary", "").lower(), "%s: no Vary: Size" % path)
        key = (path, headers.get("Size"))
        if method == "HEAD":
            self.check(body == b"", "HEAD %s has a body" % path)
            return
        self.immutable("GET", repr(key), body)
        self.check(int(h["content-length"]) == len(body), "%s: content-length" % path)
        if as_bytes:
            self.check(is_jpeg(body), "%s: not a JPEG" % path)
            image = body
        else:
            doc = json.loads(body)
            self.check(doc.get("id") == image_id, "%s: id %r" % (path, doc.get("id")))
            mime, image = decode_data_url(doc["image"])
            if size is None:
                self.check(image == data, "%s: original differs" % path)
                return
        if size is None:
            if name.endswith(".jpg"):
                self.check(image == data, "%s: the JPEG original differs" % path)
            else:
                self.check(jpeg_size(image) == png_size(data), "%s: converted size" % path)
            return
        natural = png_size(data) if is_png(data) else jpeg_size(data)
        self.check(jpeg_size(image) == fit(*natural, size),
                   "%s: %r, wanted %r" % (path, jpeg_size(image), fit(*natural, size)))
        # Revalidation with the tag just received.
        if self.rng.random() < 0.3:
            again = self.send("GET", path, None, dict(headers, **{"If-None-Match": h["etag"]}))
            self.expect("revalidate", again[0], again, 304)

    def error(self):
        choice = self.rng.randrange(6)
        if choice == 0:
            r = self.send("GET", "/v1/image/" + UNKNOWN)
            self.expect("unknown id", r[0], r, 404)
        elif choice == 1:
            r = self.send("GET", "/v1/image/not-a-uuid/jpeg")
            self.expect("bad id", r[0], r, 400)
        elif choice == 2:
            picked = self.pool.pick(self.rng)
            image_id = picked[0] if picked else UNKNOWN
            r = self.send("GET", "/v1/image/%s?Size=333" % image_id)
            self.expect("bad size", r[0], r, 400)
        elif choice == 3:
            r = self.send("POST", "/v1/image", b'{"image":"data:image/jpeg;base64,AAAA"}',
                          {"Content-Type": "application/json"})
            self.expect("no token", r[0], r, 401)
        elif choice == 4:
            r = self.send("POST", "/v1/image", b'{"image": ',
                          self.t.svc.auth(headers={"Content-Type": "application/json"}))
            self.expect("bad json", r[0], r, 400)
        else:
            truncated = self.t.images["snake.jpg"][:64]  # no dimensions yet
            r = self.send("POST", "/images/create", truncated,
                          self.t.svc.auth(headers={"Content-Type": "image/jpeg"}))
            self.expect("truncated image", r[0], r, 400)

    def run(self):
        # Until the deadline, and at least MIN_OPERATIONS each however slow the machine is.
        operations = 0
        try:
            while ((time.monotonic() < self.deadline or operations < MIN_OPERATIONS)
                   and len(self.problems) < 20):
                operations += 1
                roll = self.rng.random()
                if roll < 0.12:
                    self.upload()
                elif roll < 0.9:
                    self.read()
                else:
                    self.error()
        except Exception as e:  # the service died or hung: the test reports it
            self.problems.append("client stopped: %r" % (e,))
        finally:
            if self.conn is not None:
                self.conn.close()


class MixedLoadMixin:

    def test_mixed_load(self):
        images = {n: read_image(n) for n in
                  ("snake.jpg", "snake.png", "alpha.png", "snake-progressive.jpg")}
        self.images = images
        pool = Pool()
        seen, seen_lock = {}, threading.Lock()
        deadline = time.monotonic() + SECONDS
        clients = [Client(self, n, deadline, pool, seen, seen_lock) for n in range(CLIENTS)]
        for c in clients:
            c.start()
        for c in clients:
            c.join(SECONDS + 600)
        self.assertFalse(any(c.is_alive() for c in clients), "a client hangs")
        problems = [p for c in clients for p in c.problems]
        counts = {}
        for c in clients:
            for k, v in c.counts.items():
                counts[k] = counts.get(k, 0) + v
        self.assertEqual(problems, [], "answers: %r" % counts)
        self.assertTrue(self.svc.healthy(), "the service is down after the run")
        self.assertGreater(counts.get(("upload", 200), 0), 5, counts)
        self.assertGreater(counts.get(("read", 200), 0), 50, counts)
        self.assertNotIn("runtime error", self.svc.log())


class LmdbMixedLoadTest(MixedLoadMixin, ServiceTestCase):
    """The embedded store, with a hot cache small enough to evict all the time."""
    service_args = ("--cache-mb", "1")


class RedisMixedLoadTest(MixedLoadMixin, RedisServiceTestCase):
    """A real redis-server, default hot cache."""


if __name__ == "__main__":
    unittest.main()
