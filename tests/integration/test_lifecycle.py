"""Process lifecycle: clean exits on SIGTERM/SIGINT, draining in-flight requests, and data that
survives a SIGKILL."""

import errno
import http.client
import itertools
import json
import signal
import socket
import sys
import threading
import time
import unittest

from harness import (HANG_GUARD, Service, check_wall_time, decode_data_url, is_jpeg, jpeg_size,
                     parse_raw_response, raw_socket, read_image, read_until_closed)


class LifecycleTestCase(unittest.TestCase):

    def service(self, *args):
        svc = Service(list(args))
        self.addCleanup(svc.close)
        return svc

    def read_original(self, svc, image_id):
        status, _, body = svc.request("GET", "/v1/image/" + image_id)
        self.assertEqual(status, 200, body[:200])
        return decode_data_url(json.loads(body)["image"])

    def assertPortClosed(self, port):
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()


class SignalTest(LifecycleTestCase):

    def test_sigterm_exits_0(self):
        svc = self.service()
        self.assertEqual(svc.request("GET", "/healthz")[0], 200)
        start = time.monotonic()
        self.assertEqual(svc.stop(signal.SIGTERM), 0, svc.log()[-2000:])
        check_wall_time(self, time.monotonic() - start, 5)
        self.assertPortClosed(svc.port)

    def test_sigint_exits_0(self):
        svc = self.service()
        self.assertEqual(svc.stop(signal.SIGINT), 0, svc.log()[-2000:])

    def test_idle_keep_alive_connection_does_not_hold_shutdown(self):
        svc = self.service()
        conn = svc.connection()
        try:
            conn.request("GET", "/healthz")
            conn.getresponse().read()  # connection now idle, kept alive (60 s by default)
            start = time.monotonic()
            self.assertEqual(svc.stop(signal.SIGTERM), 0)
            check_wall_time(self, time.monotonic() - start, 5, "waited for an idle connection")
        finally:
            conn.close()

    def test_sigterm_lets_a_slow_upload_finish(self):
        svc = self.service()
        png = read_image("snake.png")  # 280 kB, sent over ~1.5 s
        head = ("POST /v1/image HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                "Content-Type: image/png\r\nContent-Length: %d\r\n\r\n"
                % (svc.token, len(png))).encode()
        sock = raw_socket(svc.port, timeout=20)
        try:
            sock.sendall(head + png[:20000])
            time.sleep(0.3)  # the server is now reading this request's body
            svc.proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            self.assertIsNone(svc.proc.poll(), "exited with a request in flight")
            # No new connection is served once draining has begun.
            try:
                late = svc.request("GET", "/healthz", timeout=2)
            except OSError:
                late = None
            self.assertIsNone(late, "a new connection was served after SIGTERM")
            step = 26000
            for offset in range(20000, len(png), step):
                sock.sendall(png[offset:offset + step])
                time.sleep(0.1)
            data, _, _ = read_until_closed(sock, HANG_GUARD)
        finally:
            sock.close()
        status, headers, body = parse_raw_response(data)
        self.assertEqual(status, 200, body[:300])
        image_id = json.loads(body)["id"]
        self.assertEqual(svc.stop(timeout=15), 0, svc.log()[-2000:])
        # The answered upload is really stored.
        svc.start()
        self.assertEqual(self.read_original(svc, image_id), ("image/png", png))


class ShutdownUnderLoadTest(LifecycleTestCase):

    # What a client may see once the server stops taking requests: the connection refused, or
    # closed before a request on it was read. Never a partial answer, never a 5xx.
    REFUSED = (ConnectionRefusedError, ConnectionResetError, BrokenPipeError,
               http.client.RemoteDisconnected)

    def test_sigterm_during_a_load_run_loses_no_acknowledged_upload(self):
        svc = self.service()
        images = [read_image(n) for n in ("snake.jpg", "snake.png", "snake-progressive.jpg")]
        acknowledged, acknowledged_at, answers, failures = [], [], [], []

        def client(n):
            # Keep-alive uploads and cold variant reads, until the server is gone.
            conn = svc.connection(timeout=30)
            try:
                for i in itertools.count():
                    data = images[(n + i) % len(images)]
                    try:
                        conn.request("POST", "/v1/image", data,
                                     svc.auth(None, {"Content-Type": "image/octet-stream"}))
                        response = conn.getresponse()
                        body = response.read()
                    except self.REFUSED:
                        return
                    except OSError as e:  # a reset on connect after the listener closed
                        if e.errno in (errno.ECONNREFUSED, errno.ECONNRESET, errno.EPIPE):
                            return
                        raise
                    answers.append(response.status)
                    if response.status != 200:
                        failures.append((response.status, body[:200]))
                        return
                    acknowledged.append((json.loads(body)["id"], data))
                    acknowledged_at.append(time.monotonic())
                    if response.getheader("Connection", "").lower() == "close":
                        return
            except Exception as e:  # pragma: no cover - reported below
                failures.append(repr(e))
            finally:
                conn.close()

        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(acknowledged) < 16 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertGreaterEqual(len(acknowledged), 16, svc.log()[-2000:])
        sigterm_at = time.monotonic()
        code = svc.stop(signal.SIGTERM, timeout=30)
        for t in threads:
            t.join(30)
        self.assertEqual(code, 0, svc.log()[-2000:])
        self.assertEqual(failures, [], "a partial or failed answer during the drain")
        self.assertEqual(set(answers), {200})
        during_drain = sum(1 for t in acknowledged_at if t > sigterm_at)
        sys.stderr.write("\n%d uploads acknowledged, %d of them answered after SIGTERM\n"
                         % (len(acknowledged), during_drain))
        # Every upload that was answered 200 is stored, byte for byte.
        svc.start()
        for image_id, data in acknowledged:
            status, _, body = svc.request("GET", "/v1/image/%s/jpeg" % image_id)
            self.assertEqual(status, 200, image_id)
            if is_jpeg(data):
                self.assertEqual(body, data, image_id)


class DurabilityTest(LifecycleTestCase):

    def test_uploads_survive_sigkill(self):
        svc = self.service()
        uploads = {}
        for name, mime in (("snake.jpg", "image/jpeg"), ("snake.png", "image/png"),
                           ("snake.gif", "image/gif"), ("sample.webp", "image/webp")):
            data = read_image(name)
            uploads[svc.upload(data)] = (mime, data)
        # Killed right after the last 200: no chance to flush anything.
        self.assertEqual(svc.kill(), -signal.SIGKILL)
        svc.start()
        for image_id, expected in uploads.items():
            with self.subTest(id=image_id, mime=expected[0]):
                self.assertEqual(self.read_original(svc, image_id), expected)

    def test_each_upload_is_durable_when_answered(self):
        svc = self.service()
        jpeg = read_image("snake-progressive.jpg")
        for round_ in range(3):
            image_id = svc.upload(jpeg)
            self.assertEqual(svc.kill(), -signal.SIGKILL)
            svc.start()
            with self.subTest(round=round_):
                self.assertEqual(self.read_original(svc, image_id), ("image/jpeg", jpeg))

    def first_variant(self, svc):
        image_id = svc.upload(read_image("snake.png"))
        status, _, variant = svc.request("GET", "/v1/image/%s/jpeg?Size=320" % image_id)
        self.assertEqual(status, 200)
        self.assertTrue(is_jpeg(variant))
        self.assertEqual(jpeg_size(variant), (320, 240))
        return image_id, variant

    def assert_served_without_computing(self, svc, image_id, variant):
        before = svc.metric("imagecpp_variants_computed_total")
        status, _, again = svc.request("GET", "/v1/image/%s/jpeg?Size=320" % image_id)
        self.assertEqual(status, 200)
        self.assertEqual(again, variant, "the stored variant, not a new computation")
        self.assertEqual(svc.metric("imagecpp_variants_computed_total"), before)

    def test_stored_variants_survive_sigkill(self):
        # A variant is answered first and written behind the answer (it can be recomputed):
        # once the write is done, it survives a crash.
        svc = self.service()
        image_id, variant = self.first_variant(svc)
        deadline = time.monotonic() + 10
        while svc.metric("imagecpp_variant_writes_pending") != 0:
            self.assertLess(time.monotonic(), deadline, "the variant write never completed")
            time.sleep(0.01)
        svc.kill()
        svc.start()
        self.assert_served_without_computing(svc, image_id, variant)

    def test_sigterm_right_after_a_variant_waits_for_its_write(self):
        svc = self.service()
        image_id, variant = self.first_variant(svc)
        self.assertEqual(svc.stop(signal.SIGTERM), 0, svc.log()[-2000:])
        svc.start()
        self.assert_served_without_computing(svc, image_id, variant)


if __name__ == "__main__":
    unittest.main()
