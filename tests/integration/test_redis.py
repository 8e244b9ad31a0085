"""The Redis engine with the real binary and a real redis-server: every REDIS_URL form, reading
what the Node and Go peers stored, writing as they would when configured to, outages and
recovery, and one SET per missing variant under concurrent requests."""

import base64
import contextlib
import glob
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

from harness import (BIN, SIZES, Service, ServiceTestCase, check_wall_time, data_url,
                     decode_data_url, fit, is_jpeg, jpeg_size, read_image, rss_bytes)
from redis_server import RedisServer

SNAKE = (600, 450)


@contextlib.contextmanager
def environment(**values):
    """Environment variables for the processes started inside the block (the peers' names)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update({k: str(v) for k, v in values.items()})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def start_service(args=(), env=None):
    with environment(**(env or {})):
        return Service(list(args))


class RedisTestCase(ServiceTestCase):
    """A redis-server and a service on it, shared by the tests of the class."""

    redis_args = ()
    service_args = ()
    service_env = {}

    @classmethod
    def setUpClass(cls):
        unittest.TestCase.setUpClass()
        cls.redis = RedisServer(*cls.redis_args)
        cls.addClassCleanup(cls.redis.close)
        env = dict(cls.service_env)
        env.setdefault("REDIS_URL", cls.redis.address)
        cls.svc = start_service(cls.service_args, env)
        cls.addClassCleanup(cls.svc.close)
        cls.jpeg = read_image("snake.jpg")
        cls.png = read_image("snake.png")

    def setUp(self):
        self.r = self.redis.client()
        self.addCleanup(self.r.close)

    def read_size(self, image_id, size):
        """(mime, bytes) of the JSON read at a Size."""
        status, _, body = self.svc.request("GET", "/v1/image/%s?Size=%d" % (image_id, size))
        self.assertEqual(status, 200, body[:300])
        return decode_data_url(json.loads(body)["image"])

    def read_jpeg(self, image_id, size=None):
        path = "/images/%s/jpeg" % image_id + ("?Size=%d" % size if size else "")
        status, headers, body = self.svc.request("GET", path)
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(headers["content-type"], "image/jpeg")
        return body

    def assertReadsAtEverySize(self, image_id, original, mime, dims):
        self.assertEqual(self.read_original(image_id), (mime, original))
        for size in SIZES:
            with self.subTest(size=size):
                variant_mime, variant = self.read_size(image_id, size)
                self.assertEqual(variant_mime, "image/jpeg")
                self.assertEqual(jpeg_size(variant), fit(dims[0], dims[1], size))
                self.assertEqual(self.read_jpeg(image_id, size), variant)

    def assert503(self, response):
        status, headers, body = response
        self.assertEqual(status, 503, body[:300])
        self.assertIn("retry-after", headers)
        return body


class RedisRawTest(RedisTestCase):
    """REDIS_URL=host:port (the Go peers' form); raw bytes written (the default)."""

    def test_upload_then_read_at_every_size(self):
        image_id = self.svc.upload(self.jpeg)
        self.assertEqual(self.r.command("GET", image_id), self.jpeg)  # raw, not base64
        self.assertReadsAtEverySize(image_id, self.jpeg, "image/jpeg", SNAKE)
        self.assertEqual(self.read_jpeg(image_id), self.jpeg)
        self.svc.wait_for_writes()
        for size in SIZES:
            stored = self.r.command("GET", "%s_%d" % (image_id, size))
            self.assertTrue(is_jpeg(stored), size)
            self.assertEqual(stored, self.read_jpeg(image_id, size))

    def test_png_original_converted_once_to_jpeg(self):
        image_id = self.svc.upload(self.png)
        self.assertEqual(self.read_original(image_id), ("image/png", self.png))
        converted = self.read_jpeg(image_id)
        self.assertEqual(jpeg_size(converted), SNAKE)
        self.svc.wait_for_writes()
        self.assertEqual(self.r.command("GET", image_id + "_jpeg"), converted)

    def test_reads_originals_the_peers_wrote(self):
        for name, mime in (("snake.jpg", "image/jpeg"), ("snake.png", "image/png")):
            with self.subTest(name=name):
                data = read_image(name)
                image_id = str(uuid.uuid4())
                self.assertEqual(self.r.command("SET", image_id, data_url(data, mime)), "OK")
                self.assertReadsAtEverySize(image_id, data, mime, SNAKE)
                converted = self.read_jpeg(image_id)
                self.assertEqual(jpeg_size(converted), SNAKE)
                if mime == "image/jpeg":
                    self.assertEqual(converted, data)

    def test_serves_a_variant_the_peers_wrote_as_stored(self):
        image_id = str(uuid.uuid4())
        variant = read_image("metadata.jpg")  # not what this service would compute
        self.r.command("SET", image_id, data_url(self.jpeg, "image/jpeg"))
        self.r.command("SET", image_id + "_320", data_url(variant, "image/jpeg"))
        self.r.command("CONFIG", "RESETSTAT")
        self.assertEqual(self.read_size(image_id, 320), ("image/jpeg", variant))
        self.assertEqual(self.read_jpeg(image_id, 320), variant)
        self.assertNotIn("set", self.r.commandstats())

    def test_concurrent_requests_for_one_missing_variant_set_it_once(self):
        image_id = self.svc.upload(self.jpeg)
        key = image_id + "_160"
        self.assertIsNone(self.r.command("GET", key))
        self.r.command("CONFIG", "RESETSTAT")
        barrier = threading.Barrier(32)
        results = [None] * 32

        def fetch(i):
            barrier.wait()
            results[i] = self.svc.request("GET", "/v1/image/%s/jpeg?Size=160" % image_id)

        threads = [threading.Thread(target=fetch, args=(i,)) for i in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual({r[0] for r in results}, {200})
        self.assertEqual(len({r[2] for r in results}), 1)
        self.svc.wait_for_writes()
        self.assertEqual(self.r.commandstats().get("set"), 1)
        self.assertEqual(self.r.command("GET", key), results[0][2])

    def test_readyz(self):
        self.assertEqual(self.svc.request("GET", "/readyz")[0], 200)


class RedisForeignValuesTest(RedisTestCase):
    """Values this service never wrote: another writer's bug, or garbage."""

    def every_read_route(self, image_id):
        yield "/v1/image/" + image_id
        yield "/images/%s/jpeg" % image_id
        for size in SIZES:
            yield "/v1/image/%s?Size=%d" % (image_id, size)
            yield "/images/%s/jpeg?Size=%d" % (image_id, size)

    def test_a_100_mb_original_is_a_500_on_every_route_and_never_held(self):
        for layout, value in (("raw", b"\xff" * (100 << 20)),
                              ("data URL", b"data:image/jpeg;base64," + b"A" * (100 << 20))):
            with self.subTest(layout=layout):
                image_id = str(uuid.uuid4())
                self.assertEqual(self.r.command("SET", image_id, value), "OK")
                del value
                self.svc.request("GET", "/healthz")
                before = rss_bytes(self.svc.proc.pid)
                self.r.command("CONFIG", "RESETSTAT")
                reads = 0
                for path in self.every_read_route(image_id):
                    status, _, body = self.svc.request("GET", path)
                    self.assertEqual(status, 500, (path, body[:300]))
                    self.assertEqual(json.loads(body), {"error": "Internal Server Error"})
                    reads += 1
                growth = rss_bytes(self.svc.proc.pid) - before
                sent = int(self.r.command("INFO", "stats").decode().split(
                    "total_net_output_bytes:")[1].split()[0])
                sys.stderr.write("\n%s: %d reads of a 100 MB value: RSS %+.1f MB, %.1f MB sent "
                                 "by Redis\n" % (layout, reads, growth / 1e6, sent / 1e6))
                # Read whole, one read would add 100-300 MB. Refused after its first 256 KiB,
                # the 14 reads stay far below, even with ASan's quarantine keeping what they
                # freed; and Redis sends only those first 256 KiB of it.
                self.assertLess(growth, 40 << 20)
                self.assertLess(sent, reads * (300 << 10))
                self.assertIn("value of key %s is %d bytes" % (image_id, 100 << 20 if layout == "raw"
                                                               else (100 << 20) + 23),
                              self.svc.log())
                self.r.command("DEL", image_id)

    def test_a_garbage_variant_is_computed_again_and_written_over(self):
        image_id = self.svc.upload(self.jpeg)
        for key, value in ((image_id + "_320", b"garbage, not an image"),
                           (image_id + "_640", data_url(b"not an image either", "image/jpeg"))):
            self.assertEqual(self.r.command("SET", key, value), "OK")
        self.r.command("RPUSH", image_id + "_800", "a list, not a string")
        for size in (320, 640, 800):
            with self.subTest(size=size):
                body = self.read_jpeg(image_id, size)
                self.assertEqual(jpeg_size(body), fit(SNAKE[0], SNAKE[1], size))
                self.assertEqual(self.read_size(image_id, size), ("image/jpeg", body))
                self.svc.wait_for_writes()
                self.assertEqual(self.r.command("GET", "%s_%d" % (image_id, size)), body)

    def test_a_garbage_original_is_a_500_on_every_route(self):
        for value in (b"garbage, not an image", b"", data_url(b"not an image", "image/png")):
            with self.subTest(value=value[:20]):
                image_id = str(uuid.uuid4())
                self.assertEqual(self.r.command("SET", image_id, value), "OK")
                for path in self.every_read_route(image_id):
                    status, _, body = self.svc.request("GET", path)
                    self.assertEqual(status, 500, (path, body[:300]))
                self.svc.wait_for_writes()
                self.assertEqual(self.r.command("KEYS", image_id + "_*"), [])


class RedisDataUrlWriteTest(RedisTestCase):
    """IMAGE_REDIS_WRITE_DATA_URLS: values as the peers write and read them."""

    service_env = {"IMAGE_REDIS_WRITE_DATA_URLS": "true"}

    def assertPeerValue(self, key, mime, data):
        self.assertEqual(self.r.command("GET", key),
                         b"data:" + mime.encode() + b";base64," + base64.b64encode(data))

    def test_written_as_the_peers_write(self):
        image_id = self.svc.upload(self.png)
        self.assertPeerValue(image_id, "image/png", self.png)
        _, variant = self.read_size(image_id, 320)
        converted = self.read_jpeg(image_id)
        self.svc.wait_for_writes()
        self.assertPeerValue(image_id + "_320", "image/jpeg", variant)
        self.assertPeerValue(image_id + "_jpeg", "image/jpeg", converted)
        self.assertReadsAtEverySize(image_id, self.png, "image/png", SNAKE)

    def test_jpeg_original(self):
        image_id = self.svc.upload(self.jpeg)
        self.assertPeerValue(image_id, "image/jpeg", self.jpeg)
        self.assertReadsAtEverySize(image_id, self.jpeg, "image/jpeg", SNAKE)


class RedisUrlFormsTest(unittest.TestCase):
    """Every REDIS_URL form, each against its own redis-server and service."""

    def run_form(self, redis, env=(), args=(), auth=None, db=None):
        """Starts a service with the form, uploads and reads back, and returns the id after
        checking that the key landed in `db` (and only there)."""
        svc = start_service(args, dict(env))
        self.addCleanup(svc.close)
        self.assertEqual(svc.request("GET", "/readyz")[0], 200, svc.log()[-2000:])
        jpeg = read_image("snake.jpg")
        image_id = svc.upload(jpeg)
        status, _, body = svc.request("GET", "/v1/image/%s?Size=160" % image_id)
        self.assertEqual(status, 200, body[:300])
        svc.wait_for_writes()
        with redis.client(*(auth or (None, None)), db=db) as r:
            self.assertEqual(r.command("GET", image_id), jpeg)
            self.assertEqual(r.command("EXISTS", image_id + "_160"), 1)
        if db:
            with redis.client(*(auth or (None, None)), db=0) as r:
                self.assertEqual(r.command("EXISTS", image_id), 0)
        return svc

    def redis(self, *args):
        server = RedisServer(*args)
        self.addCleanup(server.close)
        return server

    def test_go_host_port(self):
        redis = self.redis()
        self.run_form(redis, {"REDIS_URL": "127.0.0.1:%d" % redis.port})

    def test_url_with_a_host_name(self):
        redis = self.redis()
        self.run_form(redis, {"REDIS_URL": "redis://localhost:%d" % redis.port})

    def test_node_host_and_redis_port(self):
        redis = self.redis()
        self.run_form(redis, {"REDIS_URL": "127.0.0.1", "REDIS_PORT": redis.port})

    def test_flags_override_the_environment(self):
        redis = self.redis()
        self.run_form(redis, {"REDIS_URL": "127.0.0.1:1"},
                      args=["--redis-url", "127.0.0.1", "--redis-port", str(redis.port)])

    def test_password(self):
        redis = self.redis("--requirepass", "s3cr%t")
        self.run_form(redis, {"REDIS_URL": "redis://:s3cr%%25t@127.0.0.1:%d" % redis.port},
                      auth=("s3cr%t", None))

    def test_user_password_and_db(self):
        redis = self.redis("--user", "default", "off",
                           "--user", "alice", "on", ">pw", "~*", "&*", "+@all")
        self.run_form(redis, {"REDIS_URL": "redis://alice:pw@127.0.0.1:%d/2" % redis.port},
                      auth=("pw", "alice"), db=2)

    def test_non_zero_db(self):
        redis = self.redis()
        self.run_form(redis, {"REDIS_URL": "redis://127.0.0.1:%d/5" % redis.port}, db=5)

    def test_wrong_password_is_503_not_a_crash(self):
        redis = self.redis("--requirepass", "right")
        svc = start_service((), {"REDIS_URL": "redis://:Wr0ngPassw0rd@127.0.0.1:%d" % redis.port})
        self.addCleanup(svc.close)
        status, headers, _ = svc.request("GET", "/readyz")
        self.assertEqual(status, 503)
        status, headers, _ = svc.upload_raw(read_image("snake.jpg"))
        self.assertEqual(status, 503)
        self.assertIn("retry-after", headers)
        self.assertTrue(svc.healthy())
        self.assertNotIn("Wr0ngPassw0rd", svc.log())  # the password never reaches the log

    def test_invalid_url_stops_the_start(self):
        tokens = tempfile.NamedTemporaryFile("w", suffix=".txt")
        self.addCleanup(tokens.close)
        tokens.write("tok-1 user-1\n")
        tokens.flush()
        for url in ("rediss://u:hunter2@h:6380", "redis://h:99999", "h:abc"):
            with self.subTest(url=url):
                done = subprocess.run([BIN, "--redis-url", url, "--auth-mode", "static",
                                       "--tokens-file", tokens.name, "--port", "0"],
                                      capture_output=True, timeout=20)
                output = (done.stdout + done.stderr).decode()
                self.assertNotEqual(done.returncode, 0)
                self.assertIn("REDIS_URL", output)
                self.assertNotIn("hunter2", output)


class RedisOutageTest(RedisTestCase):
    """Redis killed, silent, or not there yet: 503s with Retry-After, then recovery by itself.
    The command timeout stays at its default (2000 ms): refused connections answer at once."""

    def test_killed_then_restarted(self):
        image_id = self.svc.upload(self.jpeg)
        self.redis.stop()
        for path in ("/v1/image/%s" % image_id, "/v1/image/%s?Size=320" % image_id,
                     "/images/%s/jpeg" % image_id, "/readyz"):
            start = time.monotonic()
            self.assert503(self.svc.request("GET", path))
            check_wall_time(self, time.monotonic() - start, 1.0, path)
        self.assert503(self.svc.upload_raw(self.jpeg))
        self.assertTrue(self.svc.healthy())

        self.redis.start()  # same port, empty (no persistence)
        deadline = time.monotonic() + 5
        while self.svc.request("GET", "/readyz")[0] != 200:
            self.assertLess(time.monotonic(), deadline, "no recovery")
            time.sleep(0.05)
        self.assertEqual(self.svc.request("GET", "/v1/image/" + image_id)[0], 404)
        new_id = self.svc.upload(self.jpeg)
        self.assertEqual(self.read_original(new_id), ("image/jpeg", self.jpeg))


class RedisSilentTest(RedisTestCase):
    """SIGSTOPped Redis: nothing refuses, nothing answers; the command timeout bounds it."""

    service_args = ("--redis-command-timeout-ms", "500", "--redis-connect-timeout-ms", "500")

    def test_paused_then_resumed(self):
        image_id = self.svc.upload(self.jpeg)
        self.redis.pause()
        try:
            for path in ("/v1/image/%s" % image_id, "/readyz"):
                start = time.monotonic()
                self.assert503(self.svc.request("GET", path))
                check_wall_time(self, time.monotonic() - start, 1.5, path)
        finally:
            self.redis.resume()
        deadline = time.monotonic() + 5
        while self.svc.request("GET", "/readyz")[0] != 200:
            self.assertLess(time.monotonic(), deadline, "no recovery")
            time.sleep(0.05)
        self.assertEqual(self.read_original(image_id), ("image/jpeg", self.jpeg))


class RedisLateStartTest(unittest.TestCase):

    def test_service_started_before_redis(self):
        redis = RedisServer()
        self.addCleanup(redis.close)
        redis.stop()
        svc = start_service((), {"REDIS_URL": redis.address})
        self.addCleanup(svc.close)
        self.assertEqual(svc.request("GET", "/readyz")[0], 503)
        redis.start()
        deadline = time.monotonic() + 5
        while svc.request("GET", "/readyz")[0] != 200:
            self.assertLess(time.monotonic(), deadline, "no recovery")
            time.sleep(0.05)
        svc.upload(read_image("snake.jpg"))


class RedisMemoryTest(unittest.TestCase):
    """What Redis holds per image, raw vs the peers' data URL (reported, and checked)."""

    def test_memory_usage_raw_vs_data_url(self):
        redis = RedisServer()
        self.addCleanup(redis.close)
        raw = start_service((), {"REDIS_URL": redis.address})
        self.addCleanup(raw.close)
        urls = start_service(("--redis-write-data-urls",), {"REDIS_URL": redis.address})
        self.addCleanup(urls.close)
        photos = ["/usr/share/doc/libsixel-examples/examples/images/snake.jpg"]
        photos += sorted(glob.glob("/usr/share/backgrounds/mate/nature/*.jpg"),
                         key=os.path.getsize)[-1:]
        with redis.client() as r:
            for path in photos:
                with open(path, "rb") as f:
                    data = f.read()
                raw_bytes = r.command("MEMORY", "USAGE", raw.upload(data))
                url_bytes = r.command("MEMORY", "USAGE", urls.upload(data))
                sys.stderr.write("\nMEMORY USAGE %s (%d bytes): raw %d, data URL %d (%+.1f%%)\n"
                                 % (os.path.basename(path), len(data), raw_bytes, url_bytes,
                                    100.0 * (url_bytes - raw_bytes) / raw_bytes))
                self.assertLess(raw_bytes, url_bytes * 0.8)


if __name__ == "__main__":
    unittest.main()
