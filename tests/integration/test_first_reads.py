"""Concurrent first reads of one new image, the moment a product goes live: many clients ask for
an image nobody has read yet, at the same instant, on every route and form, on LMDB and Redis.

Each round uploads a fresh image, opens the clients' connections, and releases every client's
request at once from a barrier. Every answer must be a 200 with the right bytes, every client
must get the same bytes, and the service must be alive and serving afterwards."""

import http.client
import json
import threading
import unittest

from harness import (SIZES, ServiceTestCase, data_url, decode_data_url, fit, is_jpeg,
                     jpeg_size, read_image)
from redis_server import RedisServiceTestCase

CLIENTS = 8
SNAKE = (600, 450)


def fire_at_once(port, requests, timeout=60):
    """Sends requests[i] = (method, path, headers) from its own thread and connection, all
    released together; returns [(status, headers, body) or the exception] in the same order."""
    results = [None] * len(requests)
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
                   for _ in requests]
    for c in connections:
        c.connect()  # connected before the barrier: only the requests race
    barrier = threading.Barrier(len(requests))

    def client(i):
        method, path, headers = requests[i]
        try:
            barrier.wait(30)
            connections[i].request(method, path, headers=headers)
            response = connections[i].getresponse()
            body = response.read()
            results[i] = (response.status, {k.lower(): v for k, v in response.getheaders()}, body)
        except Exception as e:  # a reset connection is what a crash looks like from here
            results[i] = e
        finally:
            connections[i].close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 30)
    return results


class FirstReadsMixin:
    """The cases, for a service made by the concrete class."""

    def setUp(self):
        super().setUp()
        self.jpeg = read_image("snake.jpg")
        self.png = read_image("snake.png")

    def upload(self, data, mime):
        status, _, body = self.svc.upload_json(data_url(data, mime))
        self.assertEqual(status, 200, body[:300])
        return json.loads(body)["id"]

    def assertAllOk(self, results, label):
        for i, r in enumerate(results):
            self.assertNotIsInstance(r, Exception, "%s: client %d: %r" % (label, i, r))
            self.assertIsNotNone(r, "%s: client %d got no answer" % (label, i))
            self.assertEqual(r[0], 200, "%s: client %d: %r" % (label, i, r[2][:300]))
        self.assertTrue(self.svc.healthy(), "%s: the service is down after the round" % label)

    def assertSameBodies(self, results, label):
        bodies = {r[2] for r in results}
        self.assertEqual(len(bodies), 1, "%s: clients got different bodies" % label)
        return bodies.pop()

    def round(self, paths, method="GET", headers=None, clients=CLIENTS):
        """Every client asks for each path in turn over the same fresh id's routes."""
        requests = [(method, paths[i % len(paths)], dict(headers or {})) for i in range(clients)]
        results = fire_at_once(self.svc.port, requests)
        self.assertAllOk(results, "%s %s" % (method, paths))
        return results

    # -- originals ------------------------------------------------------------------------

    def test_original_as_json(self):
        for prefix in ("/v1/image/", "/images/"):
            image_id = self.upload(self.jpeg, "image/jpeg")
            body = self.assertSameBodies(self.round([prefix + image_id]), prefix)
            doc = json.loads(body)
            self.assertEqual(doc["id"], image_id)
            self.assertEqual(decode_data_url(doc["image"]), ("image/jpeg", self.jpeg))

    def test_original_as_bytes(self):
        for prefix in ("/v1/image/", "/images/"):
            image_id = self.upload(self.jpeg, "image/jpeg")
            body = self.assertSameBodies(self.round([prefix + image_id + "/jpeg"]), prefix)
            self.assertEqual(body, self.jpeg)

    def test_png_original_converted_for_jpeg_route(self):
        image_id = self.upload(self.png, "image/png")
        body = self.assertSameBodies(self.round(["/v1/image/%s/jpeg" % image_id]), "png/jpeg")
        self.assertTrue(is_jpeg(body))
        self.assertEqual(jpeg_size(body), SNAKE)

    def test_head_of_original(self):
        image_id = self.upload(self.jpeg, "image/jpeg")
        results = self.round(["/v1/image/%s/jpeg" % image_id], method="HEAD")
        for _, headers, body in results:
            self.assertEqual(body, b"")
            self.assertEqual(int(headers["content-length"]), len(self.jpeg))

    # -- variants -------------------------------------------------------------------------

    def test_each_size_as_json_and_bytes(self):
        # A new id for each form, so that each round is a first read of its variant.
        for size in SIZES:
            for form in ("/v1/image/%s?Size=%d", "/images/%s/jpeg?Size=%d"):
                path = form % (self.upload(self.jpeg, "image/jpeg"), size)
                body = self.assertSameBodies(self.round([path]), path)
                if "/jpeg" not in path:
                    mime, body = decode_data_url(json.loads(body)["image"])
                    self.assertEqual(mime, "image/jpeg")
                self.assertEqual(jpeg_size(body), fit(*SNAKE, size), path)

    def test_size_header_and_head_of_a_variant(self):
        image_id = self.upload(self.jpeg, "image/jpeg")
        path = "/v1/image/%s/jpeg" % image_id
        results = self.round([path], headers={"Size": "320"})
        body = self.assertSameBodies(results, "Size header")
        self.assertEqual(jpeg_size(body), fit(*SNAKE, 320))
        image_id = self.upload(self.jpeg, "image/jpeg")
        results = self.round(["/v1/image/%s/jpeg?Size=160" % image_id], method="HEAD")
        lengths = {r[1]["content-length"] for r in results}
        self.assertEqual(len(lengths), 1, lengths)

    def test_every_route_and_form_of_one_new_image_at_once(self):
        """All forms of one id in the same instant: originals, conversions, variants, HEAD."""
        for _ in range(3):
            image_id = self.upload(self.png, "image/png")
            paths = ["/v1/image/" + image_id, "/images/%s/jpeg" % image_id,
                     "/v1/image/%s/jpeg" % image_id, "/images/" + image_id]
            paths += ["/v1/image/%s?Size=%d" % (image_id, s) for s in SIZES]
            paths += ["/images/%s/jpeg?Size=%d" % (image_id, s) for s in SIZES]
            requests = [("GET", p, {}) for p in paths for _ in range(2)]
            requests += [("HEAD", p, {}) for p in paths[:4]]
            results = fire_at_once(self.svc.port, requests)
            self.assertAllOk(results, "mixed round")
            by_path = {}
            for (method, path, _), (status, headers, body) in zip(requests, results):
                if method == "GET":
                    by_path.setdefault(path, set()).add(body)
            for path, bodies in by_path.items():
                self.assertEqual(len(bodies), 1, "%s: clients got different bodies" % path)
            original = json.loads(by_path["/v1/image/" + image_id].pop())
            self.assertEqual(decode_data_url(original["image"]), ("image/png", self.png))

    def test_many_rounds_of_originals(self):
        """The peers' benchmark: uploads, then several connections on one new original."""
        for n in range(10):
            image_id = self.upload(self.jpeg, "image/jpeg")
            paths = ["/v1/image/" + image_id, "/v1/image/%s/jpeg" % image_id]
            results = self.round(paths, clients=CLIENTS)
            for (status, _, body), path in zip(results, paths * CLIENTS):
                if path.endswith("/jpeg"):
                    self.assertEqual(body, self.jpeg, "round %d" % n)
                else:
                    self.assertEqual(decode_data_url(json.loads(body)["image"])[1], self.jpeg)


class LmdbFirstReadsTest(FirstReadsMixin, ServiceTestCase):
    """The embedded store."""


class LmdbNoHotCacheFirstReadsTest(FirstReadsMixin, ServiceTestCase):
    """Without the hot cache, every first read goes to the store and its flights."""
    service_args = ("--cache-mb", "0")


class RedisFirstReadsTest(FirstReadsMixin, RedisServiceTestCase):
    """A real redis-server."""


if __name__ == "__main__":
    unittest.main()
