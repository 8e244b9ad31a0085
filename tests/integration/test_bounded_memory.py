"""What a client, with or without a token, can make the service hold, and the edges around it:
the token before the body, the in-flight budget, one copy of an image however many read it,
slow readers cut, strict message framing, caching headers that cannot be mixed up.

Memory cases measure the service's anonymous resident memory (RssAnon: the LMDB file is mapped,
and its pages are file-backed) before and after, and fail on growth beyond a stated bound."""

import json
import os
import random
import re
import socket
import struct
import time
import unittest

from auth_double import AuthDouble
from harness import (HANG_GUARD, ServiceTestCase, raw_socket, read_image,
                     read_until_closed)
from remote_service import RemoteService, new_token

MB = 1 << 20


def measurable_env():
    """ASan keeps freed memory in a quarantine (256 MB by default): with it off, RSS measures
    what the service holds, not what the sanitizer holds back."""
    options = os.environ.get("ASAN_OPTIONS", "")
    return {"ASAN_OPTIONS": (options + ":" if options else "") + "quarantine_size_mb=0"}
UUID = "0b9e5c2a-7d41-4c3e-9f6a-2d8b1e4a5c70"


def rss_anon(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no RssAnon")


def padded_jpeg(size):
    """A real JPEG photo (snake.jpg) grown to `size` bytes with comment segments after SOI: a
    valid JPEG as large as an upload may be, read back as is by /jpeg."""
    jpeg = read_image("snake.jpg")
    rng = random.Random(size)
    segments = []
    room = size - len(jpeg)
    while room > 4:
        payload = min(65533, room - 4)
        segments.append(b"\xff\xfe" + struct.pack(">H", payload + 2) + rng.randbytes(payload))
        room -= payload + 4
    return jpeg[:2] + b"".join(segments) + jpeg[2:]


def send_head(port, lines, body=b""):
    """Opens a connection, sends the request head (and `body`), returns the socket."""
    s = raw_socket(port)
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    return s


def answers_on(data):
    """How many HTTP responses a byte stream holds (status lines), ignoring 100 Continue."""
    return sum(1 for line in data.split(b"\r\n")
               if line.startswith(b"HTTP/1.") and b" 100 " not in line[:13])


def status_of(data):
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.") else None


class TokenBeforeBodyTest(ServiceTestCase):
    """The token is checked once the header is in: no body byte is read without a valid one."""

    service_env = measurable_env()

    def test_no_token_is_answered_before_the_body(self):
        s = send_head(self.svc.port, ["POST /v1/image HTTP/1.1", "Host: x",
                                      "Content-Type: image/jpeg", "Content-Length: 16000000"])
        try:
            data, _, closed = read_until_closed(s, HANG_GUARD)
        finally:
            s.close()
        self.assertEqual(status_of(data), 401, data[:300])
        self.assertTrue(closed, "the connection stays open after refusing the body")

    def test_unknown_token_is_answered_before_the_body(self):
        s = send_head(self.svc.port, ["POST /images/create HTTP/1.1", "Host: x",
                                      "Authorization: Bearer nope", "Content-Length: 5000000"])
        try:
            data, _, closed = read_until_closed(s, HANG_GUARD)
        finally:
            s.close()
        self.assertEqual(status_of(data), 401, data[:300])
        self.assertTrue(closed)

    def test_expect_continue_without_token_gets_401_not_100(self):
        s = send_head(self.svc.port, ["POST /v1/image HTTP/1.1", "Host: x",
                                      "Expect: 100-continue", "Content-Length: 1000"])
        try:
            data, _, _ = read_until_closed(s, HANG_GUARD)
        finally:
            s.close()
        self.assertNotIn(b" 100 ", data.split(b"\r\n")[0])
        self.assertEqual(status_of(data), 401, data[:300])

    def test_expect_continue_with_a_token_gets_100_then_the_upload(self):
        jpeg = read_image("snake.jpg")
        s = send_head(self.svc.port, ["POST /images/create HTTP/1.1", "Host: x",
                                      "Authorization: Bearer " + self.svc.token,
                                      "Content-Type: image/jpeg", "Expect: 100-continue",
                                      "Connection: close", "Content-Length: %d" % len(jpeg)])
        try:
            s.settimeout(30)
            first = s.recv(4096)
            self.assertTrue(first.startswith(b"HTTP/1.1 100 "), first[:100])
            s.sendall(jpeg)
            data, _, _ = read_until_closed(s, HANG_GUARD)
        finally:
            s.close()
        self.assertEqual(status_of(data), 200, data[:300])
        self.assertIn(b'"id"', data)

    def test_a_body_on_a_read_route_is_not_read(self):
        s = send_head(self.svc.port, ["POST /v1/image/%s HTTP/1.1" % UUID, "Host: x",
                                      "Content-Length: 16000000"])
        try:
            data, _, closed = read_until_closed(s, HANG_GUARD)
        finally:
            s.close()
        self.assertEqual(status_of(data), 405, data[:300])
        self.assertTrue(closed)

    def test_bodies_without_token_stopped_short_hold_no_memory(self):
        """24 clients declare 16 MB, send what they can of it without a token, and stop."""
        before = rss_anon(self.svc.proc.pid)
        chunk = b"\xff" * MB
        socks = []
        for _ in range(24):
            s = send_head(self.svc.port, ["POST /v1/image HTTP/1.1", "Host: x",
                                          "Content-Type: image/jpeg",
                                          "Content-Length: 16000000"])
            s.settimeout(5)
            for _ in range(15):
                try:
                    s.sendall(chunk)
                except OSError:
                    break  # refused and closed: nothing more goes in
            socks.append(s)
        grown = rss_anon(self.svc.proc.pid) - before
        statuses = []
        for s in socks:
            data, _, _ = read_until_closed(s, HANG_GUARD)
            statuses.append(status_of(data))
            s.close()
        self.assertEqual(set(statuses), {401}, statuses)
        self.assertLess(grown, 24 * MB, "RssAnon grew by %.1f MB" % (grown / MB))


class RemoteTokenBeforeBodyTest(unittest.TestCase):
    """With the auth service: its verdict comes before the body, its outage too."""

    def setUp(self):
        self.double = AuthDouble()
        self.addCleanup(self.double.close)
        self.svc = RemoteService(self.double.url, ["--auth-timeout-ms", "2000"])
        self.addCleanup(self.svc.close)

    def post_head(self, token, expect=False):
        lines = ["POST /v1/image HTTP/1.1", "Host: x", "Authorization: Bearer " + token,
                 "Content-Type: image/jpeg", "Content-Length: 16000000"]
        s = send_head(self.svc.port, lines + (["Expect: 100-continue"] if expect else []))
        try:
            return read_until_closed(s, HANG_GUARD)
        finally:
            s.close()

    def test_auth_service_down_answers_503_before_the_body(self):
        self.double.down()
        data, _, closed = self.post_head(new_token("valid"), expect=True)
        self.assertEqual(status_of(data), 503, data[:300])
        self.assertIn(b"\r\nretry-after: ", data.lower())
        self.assertTrue(closed)

    def test_rejected_token_answers_401_before_the_body(self):
        data, _, closed = self.post_head(new_token("forbidden"))
        self.assertEqual(status_of(data), 401, data[:300])
        self.assertTrue(closed)


class BudgetTest(ServiceTestCase):
    """A small in-flight budget: bodies are counted before they are read."""

    service_args = ("--max-inflight-mb", "20")

    def test_bodies_over_the_budget_are_refused_before_reading(self):
        # The first declares 15 MB and stalls after a little: it holds 15 MB of the 20.
        first = send_head(self.svc.port, ["POST /images/create HTTP/1.1", "Host: x",
                                          "Authorization: Bearer " + self.svc.token,
                                          "Content-Type: image/jpeg",
                                          "Content-Length: 15000000"], b"\xff\xd8")
        try:
            deadline = time.monotonic() + 30
            while self.svc.metric("imagecpp_inflight_bytes") < 15000000:
                self.assertLess(time.monotonic(), deadline, "the first body was never counted")
                time.sleep(0.05)
            second = send_head(self.svc.port, ["POST /images/create HTTP/1.1", "Host: x",
                                               "Authorization: Bearer " + self.svc.token,
                                               "Content-Type: image/jpeg",
                                               "Content-Length: 10000000"])
            data, _, closed = read_until_closed(second, HANG_GUARD)
            second.close()
            self.assertEqual(status_of(data), 503, data[:300])
            self.assertIn(b"\r\nretry-after: 1\r\n", data.lower())
            self.assertTrue(closed)
            # A small one still fits beside it.
            jpeg = read_image("snake.jpg")
            status, _, body = self.svc.upload_raw(jpeg)
            self.assertEqual(status, 200, body[:300])
        finally:
            first.close()
        # Released with its connection.
        deadline = time.monotonic() + 30
        while self.svc.metric("imagecpp_inflight_bytes") != 0:
            self.assertLess(time.monotonic(), deadline, "the budget was not released")
            time.sleep(0.05)


class ReadersTest(ServiceTestCase):
    """Many clients on one large image: one copy of it, and stalled readers are cut."""

    service_args = ("--body-timeout", "300")
    service_env = measurable_env()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.large = padded_jpeg(16_000_000)
        status, _, body = cls.svc.upload_raw(cls.large, "image/jpeg")
        if status != 200:
            raise AssertionError("upload of the large PNG: %d %r" % (status, body[:200]))
        cls.large_id = json.loads(body)["id"]

    def stalled_readers(self, paths):
        socks = []
        for path in paths:
            s = send_head(self.svc.port, ["GET %s HTTP/1.1" % path, "Host: x"])
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            socks.append(s)
        return socks

    def test_stalled_readers_of_a_16_mb_original_share_one_copy(self):
        before = rss_anon(self.svc.proc.pid)
        paths = ["/v1/image/" + self.large_id, "/v1/image/%s/jpeg" % self.large_id] * 12
        socks = self.stalled_readers(paths)
        try:
            # Every answer under way: both buffers are counted once each.
            deadline = time.monotonic() + 60
            while self.svc.metric("imagecpp_inflight_bytes") < len(self.large):
                self.assertLess(time.monotonic(), deadline, "answers never started")
                time.sleep(0.05)
            time.sleep(1)
            grown = rss_anon(self.svc.proc.pid) - before
            held = self.svc.metric("imagecpp_inflight_bytes")
        finally:
            for s in socks:
                s.close()
        # The original (16 MB) and its JSON form (21.3 MB), once each, plus working memory.
        self.assertLess(held, 40 * MB, "in-flight bytes %.1f MB" % (held / MB))
        self.assertLess(grown, 100 * MB, "RssAnon grew by %.1f MB" % (grown / MB))

    def test_a_stalled_reader_is_cut_long_before_the_body_timeout(self):
        (s,) = self.stalled_readers(["/v1/image/" + self.large_id])
        try:
            # Reading nothing: the answer starts (it is counted), then the server gives up on
            # us (it is released) long before the 300 s body timeout.
            self.svc.wait_for_answer_cut()
            data, waited, closed = read_until_closed(s, HANG_GUARD)
        finally:
            s.close()
        self.assertTrue(closed, "%d bytes in %.1f s: %r" % (len(data), waited, data[:200]))
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
        self.assertGreater(length, len(self.large))  # the JSON form
        self.assertLess(len(body), length, "the whole answer went out")


class FramingTest(ServiceTestCase):
    """RFC 9112 section 6: only "chunked" is a transfer coding here; no body becomes a request."""

    def exchange(self, lines, body):
        s = send_head(self.svc.port, lines, body)
        try:
            data, _, closed = read_until_closed(s, HANG_GUARD)
        finally:
            s.close()
        return data, closed

    def smuggle(self, encoding, version="HTTP/1.1"):
        inner = ("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").encode()
        return self.exchange(["POST /v1/image " + version, "Host: x",
                              "Authorization: Bearer " + self.svc.token,
                              "Transfer-Encoding: " + encoding], inner)

    def test_unknown_codings_answer_501_and_close(self):
        for encoding in ("identity", "gzip", "xchunked", "chunked, identity", "gzip, chunked"):
            with self.subTest(encoding=encoding):
                data, closed = self.smuggle(encoding)
                self.assertEqual(status_of(data), 501, data[:300])
                self.assertEqual(answers_on(data), 1, data[:600])
                self.assertTrue(closed)

    def test_chunked_twice_answers_400(self):
        data, closed = self.smuggle("chunked, chunked")
        self.assertEqual(status_of(data), 400, data[:300])
        self.assertEqual(answers_on(data), 1)
        self.assertTrue(closed)

    def test_transfer_encoding_on_http_1_0_answers_400(self):
        data, closed = self.smuggle("chunked", "HTTP/1.0")
        self.assertEqual(status_of(data), 400, data[:300])
        self.assertEqual(answers_on(data), 1)
        self.assertTrue(closed)

    def test_content_length_beside_transfer_encoding_answers_400(self):
        data, closed = self.exchange(["POST /v1/image HTTP/1.1", "Host: x",
                                      "Authorization: Bearer " + self.svc.token,
                                      "Content-Length: 5", "Transfer-Encoding: chunked"],
                                     b"0\r\n\r\n")
        self.assertEqual(status_of(data), 400, data[:300])
        self.assertEqual(answers_on(data), 1)

    def test_chunked_upload_still_works(self):
        jpeg = read_image("snake.jpg")
        body = b"".join(b"%x\r\n%s\r\n" % (len(jpeg[i:i + 9000]), jpeg[i:i + 9000])
                        for i in range(0, len(jpeg), 9000)) + b"0\r\n\r\n"
        data, _ = self.exchange(["POST /images/create HTTP/1.1", "Host: x", "Connection: close",
                                 "Authorization: Bearer " + self.svc.token,
                                 "Content-Type: image/jpeg", "Transfer-Encoding: chunked"], body)
        self.assertEqual(status_of(data), 200, data[:300])

    def test_an_encoded_slash_is_not_a_separator(self):
        image_id = self.svc.upload(read_image("snake.jpg"))
        status, _, body = self.svc.request("GET", "/v1/image/%s%%2Fjpeg" % image_id)
        self.assertEqual(status, 400, body[:300])
        status, _, _ = self.svc.request("GET", "/v1/image/%s/jpeg" % image_id)
        self.assertEqual(status, 200)


class CachingHeadersTest(ServiceTestCase):
    """Vary on everything an answer depends on; If-None-Match: * only for what exists."""

    service_args = ("--cors-origins", "https://shop.example")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.image_id = cls.svc.upload(read_image("snake.jpg"))

    def vary(self, headers):
        return [v.strip().lower() for v in headers.get("vary", "").split(",") if v.strip()]

    def test_every_image_answer_varies_on_size(self):
        for path in ("/v1/image/" + self.image_id, "/images/%s/jpeg" % self.image_id,
                     "/v1/image/%s?Size=320" % self.image_id, "/v1/image/" + UUID):
            for headers in ({}, {"Size": "160"}):
                with self.subTest(path=path, headers=headers):
                    status, h, _ = self.svc.request("GET", path, headers=headers)
                    self.assertIn(status, (200, 404))
                    self.assertIn("size", self.vary(h))

    def test_a_specific_cors_origin_adds_origin_to_vary(self):
        status, h, _ = self.svc.request("GET", "/v1/image/" + self.image_id,
                                        headers={"Origin": "https://shop.example"})
        self.assertEqual(status, 200)
        self.assertEqual(h["access-control-allow-origin"], "https://shop.example")
        self.assertEqual(sorted(self.vary(h)), ["origin", "size"])

    def test_if_none_match_star(self):
        status, _, _ = self.svc.request("GET", "/v1/image/" + UUID, headers={"If-None-Match": "*"})
        self.assertEqual(status, 404)
        status, h, body = self.svc.request("GET", "/v1/image/" + self.image_id,
                                           headers={"If-None-Match": "*"})
        self.assertEqual(status, 304)
        self.assertEqual(body, b"")
        self.assertIn("size", self.vary(h))


if __name__ == "__main__":
    unittest.main()
