"""WebP and AVIF variants (issue 14): the per-format and negotiated routes in both families and
both forms, what they answer for every kind of original (decoded with libvips' CLI), negotiation
for real clients' Accept headers, Vary and ETag/304 per format, each variant computed once and
stored beside the JPEG one (LMDB and Redis), concurrent first reads of one new image in every
format, and a burst of AVIF work that must leave JPEG answering."""

import http.client
import json
import subprocess
import tempfile
import threading
import time
import unittest

from harness import (IMMUTABLE_PUBLIC, ServiceTestCase, decode_data_url, fit, is_jpeg,
                     read_image)
from redis_server import RedisServiceTestCase
from test_first_reads import fire_at_once

PREFIXES = ("/v1/image/", "/images/")
SNAKE = (600, 450)
ALPHA = (200, 150)  # transparent in its top-left 80x60 corner

CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
FIREFOX = "image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5"
SAFARI = ("image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,"
          "image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5")
SAFARI_15 = "image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5"
GOOGLEBOT = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
             "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7")

# (client, Accept or None for no header, expected Content-Type)
NEGOTIATION = [
    ("Chrome", CHROME, "image/avif"),
    ("Firefox", FIREFOX, "image/avif"),
    ("Safari 17", SAFARI, "image/avif"),
    ("Safari 15", SAFARI_15, "image/webp"),
    ("Firefox 65-92", "image/webp,*/*", "image/webp"),
    ("curl", "*/*", "image/jpeg"),
    ("no Accept", None, "image/jpeg"),
    ("Googlebot", GOOGLEBOT, "image/avif"),
    ("bingbot", "*/*", "image/jpeg"),
    ("AVIF excluded", "image/avif;q=0,image/webp,*/*", "image/webp"),
    ("AVIF and WebP excluded", "image/avif;q=0,image/webp;q=0,*/*", "image/jpeg"),
    ("JPEG excluded", "image/webp,image/jpeg;q=0", "image/webp"),
    ("nothing acceptable", "text/html", "image/jpeg"),
    ("WebP preferred by q", "image/avif;q=0.5,image/webp;q=0.9,*/*;q=0.1", "image/webp"),
    ("JPEG preferred by q", "image/avif;q=0.5,image/webp;q=0.5,image/jpeg", "image/jpeg"),
]

MIME = {"jpeg": "image/jpeg", "webp": "image/webp", "avif": "image/avif"}
# An AVIF encode takes seconds of a loaded machine's time (more under the sanitizers): requests
# wait as long as they need, a hang still ends the test.
TIMEOUT = 900
COMPUTED = {"jpeg": "imagecpp_variants_computed_total",
            "webp": "imagecpp_webp_variants_computed_total",
            "avif": "imagecpp_avif_variants_computed_total"}


def timed(svc, method, path, body=None, headers=None):
    return svc.request(method, path, body, headers, timeout=TIMEOUT)


def kind_of(data):
    if is_jpeg(data):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:8] == b"ftyp" and b"avif" in data[8:32]:
        return "avif"
    return "unknown"


def decoded(data):
    """(width, height, bands, top-left pixel) of encoded bytes, decoded in full by libvips' CLI
    (a file that cannot be decoded fails the test)."""
    with tempfile.NamedTemporaryFile(suffix=".img") as f:
        f.write(data)
        f.flush()

        def run(*args):
            return subprocess.run(args, check=True, capture_output=True, text=True,
                                  timeout=TIMEOUT).stdout.strip()
        run("vips", "avg", f.name)  # every pixel: a truncated file fails here
        width, height, bands = (int(run("vipsheader", "-f", field, f.name))
                                for field in ("width", "height", "bands"))
        corner = [float(v) for v in run("vips", "getpoint", f.name, "4", "4").split()]
        return width, height, bands, corner


class FormatsTestCase(ServiceTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.originals = {
            "jpeg": (read_image("snake.jpg"), "image/jpeg", SNAKE, False),
            "png-alpha": (read_image("alpha.png"), "image/png", ALPHA, True),
            "webp-alpha": (read_image("alpha.webp"), "image/webp", ALPHA, True),
            "gif": (read_image("snake.gif"), "image/gif", SNAKE, False),
            "heic": (read_image("snake.heic"), "image/heic", SNAKE, False),
        }

    def upload(self, name):
        data, mime, _, _ = self.originals[name]
        status, _, body = self.svc.upload_raw(data, mime)
        self.assertEqual(status, 200, body[:300])
        return json.loads(body)["id"]

    def get(self, path, headers=None, status=200):
        code, h, body = self.svc.request("GET", path, None, headers, timeout=TIMEOUT)
        self.assertEqual(code, status, "GET %s: %r" % (path, body[:300]))
        return h, body

    def computed(self, fmt):
        return self.svc.metric(COMPUTED[fmt])


class RoutesTest(FormatsTestCase):

    def test_every_format_route_for_every_kind_of_original(self):
        routes = [("/webp", None, "webp"), ("/avif", None, "avif"), ("/jpeg", None, "jpeg"),
                  ("/auto", CHROME, "avif"), ("/auto", SAFARI_15, "webp"),
                  ("/auto", "*/*", "jpeg")]
        for name, (_, _, dims, alpha) in self.originals.items():
            image_id = self.upload(name)
            for prefix in PREFIXES:
                for tail, accept, fmt in routes:
                    with self.subTest(original=name, route=prefix + tail, accept=accept):
                        headers = {"Accept": accept} if accept else {}
                        h, body = self.get("%s%s%s?Size=160" % (prefix, image_id, tail), headers)
                        self.assertEqual(h["content-type"], MIME[fmt])
                        self.assertEqual(kind_of(body), fmt)
                        width, height, bands, corner = decoded(body)
                        self.assertEqual((width, height), fit(*dims, 160))
                        # Transparency survives in WebP and AVIF; JPEG flattens it on white.
                        if alpha and fmt != "jpeg":
                            self.assertEqual(bands, 4)
                            self.assertLess(corner[3], 8)
                        elif alpha:
                            self.assertEqual(bands, 3)
                            self.assertGreater(min(corner), 247)
                        else:
                            self.assertEqual(bands, 3)

    def test_json_forms(self):
        image_id = self.upload("png-alpha")
        for prefix in PREFIXES:
            for tail, accept, mime in [("/webp/json", None, "image/webp"),
                                       ("/avif/json", None, "image/avif"),
                                       ("/auto/json", FIREFOX, "image/avif"),
                                       ("/auto/json", "image/webp", "image/webp"),
                                       ("/auto/json", None, "image/jpeg")]:
                with self.subTest(route=prefix + tail, accept=accept):
                    headers = {"Accept": accept} if accept else {}
                    h, body = self.get("%s%s%s?Size=160" % (prefix, image_id, tail), headers)
                    self.assertEqual(h["content-type"], "application/json")
                    doc = json.loads(body)
                    self.assertEqual(set(doc), {"id", "image"})
                    self.assertEqual(doc["id"], image_id)
                    got_mime, data = decode_data_url(doc["image"])
                    self.assertEqual(got_mime, mime)
                    self.assertEqual(decoded(data)[:2], (160, 120))

    def test_without_size_the_original_in_that_format(self):
        webp_id = self.upload("webp-alpha")
        # A WebP original is its own WebP, byte for byte (as a JPEG original on /jpeg).
        self.assertEqual(self.get("/v1/image/%s/webp" % webp_id)[1],
                         self.originals["webp-alpha"][0])
        png_id = self.upload("png-alpha")
        for fmt in ("webp", "avif"):
            with self.subTest(fmt=fmt):
                h, body = self.get("/images/%s/%s" % (png_id, fmt))
                self.assertEqual(h["content-type"], MIME[fmt])
                width, height, bands, corner = decoded(body)
                self.assertEqual((width, height, bands), ALPHA + (4,))
                self.assertLess(corner[3], 8)

    def test_negotiated_original_is_webp_or_jpeg(self):
        """Without Size AVIF is never negotiated: an original's AVIF could be over the pixel
        limit, and the choice must not depend on the stored image."""
        image_id = self.upload("png-alpha")
        for accept, mime in ((CHROME, "image/webp"), ("image/avif", "image/jpeg"),
                             ("*/*", "image/jpeg")):
            with self.subTest(accept=accept):
                h, body = self.get("/v1/image/%s/auto" % image_id, {"Accept": accept})
                self.assertEqual(h["content-type"], mime)
                self.assertEqual(decoded(body)[:2], ALPHA)

    def test_existing_routes_answer_as_before(self):
        image_id = self.upload("jpeg")
        h, jpeg = self.get("/v1/image/%s/jpeg?Size=320" % image_id, {"Accept": CHROME})
        self.assertEqual(h["content-type"], "image/jpeg")
        self.assertEqual(h["etag"], '"%s-320-jpeg"' % image_id)
        self.assertEqual(h["vary"], "Size")  # Accept changes nothing there
        h, body = self.get("/v1/image/%s?Size=320" % image_id, {"Accept": CHROME})
        self.assertEqual(h["etag"], '"%s-320-json"' % image_id)
        self.assertEqual(h["vary"], "Size")
        self.assertEqual(decode_data_url(json.loads(body)["image"]), ("image/jpeg", jpeg))
        # The negotiated route's JPEG is the same answer, under the same tag.
        h, negotiated = self.get("/v1/image/%s/auto?Size=320" % image_id, {"Accept": "*/*"})
        self.assertEqual(negotiated, jpeg)
        self.assertEqual(h["etag"], '"%s-320-jpeg"' % image_id)

    def test_errors_on_the_new_routes(self):
        image_id = self.upload("jpeg")
        missing = "0f8fad5b-d9cb-469f-a165-70867728950e"
        for tail in ("/webp", "/avif", "/auto", "/webp/json", "/auto/json"):
            with self.subTest(tail=tail):
                self.assertJsonError(timed(self.svc, "GET", "/v1/image/%s%s" % (missing, tail)),
                                     404, "Not Found")
                self.assertMessages(timed(self.svc, "GET", "/v1/image/%s%s?Size=7"
                                                     % (image_id, tail)), ["size"])
                self.assertMessages(timed(self.svc, "GET", "/images/not-a-uuid" + tail), ["id"])
                code, h, _ = timed(self.svc, "POST", "/v1/image/%s%s" % (image_id, tail), b"x")
                self.assertEqual(code, 405)
                self.assertEqual(h["allow"], "GET, HEAD, OPTIONS")
        for path in ("/v1/image/%s/jpeg/json" % image_id, "/v1/image/%s/png" % image_id):
            self.assertJsonError(timed(self.svc, "GET", path), 404, "Not Found")

    def test_head_matches_get(self):
        image_id = self.upload("jpeg")
        path = "/v1/image/%s/auto?Size=320" % image_id
        h_get, body = self.get(path, {"Accept": SAFARI_15})
        code, h_head, empty = timed(self.svc, "HEAD", path, None, {"Accept": SAFARI_15})
        self.assertEqual((code, empty), (200, b""))
        for name in ("content-type", "content-length", "etag", "vary", "cache-control"):
            self.assertEqual(h_head[name], h_get[name], name)
        self.assertEqual(int(h_head["content-length"]), len(body))


class DocsTest(ServiceTestCase):

    def test_openapi_and_docs_page_name_the_new_routes(self):
        status, _, body = timed(self.svc, "GET", "/openapi.json")
        self.assertEqual(status, 200)
        paths = json.loads(body)["paths"]
        for prefix in ("/v1/image/{id}/", "/images/{id}/"):
            for tail in ("webp", "avif", "auto", "webp/json", "avif/json", "auto/json"):
                with self.subTest(path=prefix + tail):
                    self.assertEqual(set(paths[prefix + tail]) & {"get", "head"}, {"get", "head"})
            accept = [p.get("$ref") for p in paths[prefix + "auto"]["get"]["parameters"]]
            self.assertIn("#/components/parameters/Accept", accept)
        _, _, page = timed(self.svc, "GET", "/docs")
        for text in (b"/auto", b"/webp", b"/avif", b"Vary: Size, Accept", b"transparency"):
            self.assertIn(text, page)


class NegotiationTest(FormatsTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.image_id = cls.svc.upload(read_image("snake.jpg"))

    def test_real_clients(self):
        for prefix in PREFIXES:
            for client, accept, mime in NEGOTIATION:
                with self.subTest(client=client, prefix=prefix):
                    headers = {"Accept": accept} if accept is not None else {}
                    h, body = self.get("%s%s/auto?Size=320" % (prefix, self.image_id), headers)
                    self.assertEqual(h["content-type"], mime)
                    self.assertEqual(MIME[kind_of(body)], mime)
                    self.assertEqual(h["vary"], "Size, Accept")
                    self.assertEqual(h["cache-control"], IMMUTABLE_PUBLIC)
                    h, body = self.get("%s%s/auto/json?Size=320" % (prefix, self.image_id),
                                       headers)
                    self.assertEqual(decode_data_url(json.loads(body)["image"])[0], mime)
                    self.assertEqual(h["vary"], "Size, Accept")

    def test_vary_accept_only_on_negotiated_routes_and_on_their_errors(self):
        h, _ = self.get("/v1/image/%s/webp?Size=320" % self.image_id, {"Accept": CHROME})
        self.assertEqual(h["vary"], "Size")
        code, h, _ = timed(self.svc, "GET", "/v1/image/%s/auto?Size=7" % self.image_id)
        self.assertEqual(code, 400)
        self.assertEqual(h["vary"], "Size, Accept")
        # With CORS too (any origin by default: no Vary: Origin).
        h, _ = self.get("/v1/image/%s/auto" % self.image_id, {"Origin": "https://shop.example"})
        self.assertEqual(h["vary"], "Size, Accept")
        self.assertEqual(h["access-control-allow-origin"], "*")

    def test_several_accept_fields_are_one_list(self):
        conn = self.svc.connection(TIMEOUT)
        try:
            conn.putrequest("GET", "/v1/image/%s/auto?Size=160" % self.image_id)
            conn.putheader("Accept", "image/jpeg;q=0.5")
            conn.putheader("Accept", "image/webp")
            conn.endheaders()
            response = conn.getresponse()
            response.read()
            self.assertEqual(response.status, 200)
            self.assertEqual(response.getheader("content-type"), "image/webp")
        finally:
            conn.close()

    def test_hostile_accept_headers(self):
        path = "/v1/image/%s/auto?Size=160" % self.image_id
        cases = [
            ("long junk", "x" * 15000, "image/jpeg"),
            ("many entries", ",".join(["text/plain"] * 1000) + ",image/avif", "image/jpeg"),
            ("avif first, then junk", "image/avif," + "a/b;c=\"" * 1500, "image/avif"),
            ("bad q-values", "image/avif;q=2,image/webp;q=-1,image/jpeg;q=0.5x", "image/jpeg"),
            ("unbalanced quote", 'image/webp;x="a,image/avif', "image/webp"),
            ("only separators", ";;;,,,;;;", "image/jpeg"),
            ("high bytes", "image/\xe9vif,image/webp", "image/webp"),
        ]
        for label, accept, mime in cases:
            with self.subTest(label=label):
                h, _ = self.get(path, {"Accept": accept.encode("latin-1").decode("latin-1")})
                self.assertEqual(h["content-type"], mime)
        # Over the header limit: the server's 431, as for any header.
        code, _, _ = timed(self.svc, "GET", path, None, {"Accept": "a" * 20000})
        self.assertEqual(code, 431)
        self.assertTrue(self.svc.healthy())


class CachingTest(FormatsTestCase):

    def test_each_format_has_its_own_etag(self):
        image_id = self.upload("jpeg")
        tags = {}
        for tail in ("/jpeg", "/webp", "/avif", "/webp/json", "/avif/json"):
            h, _ = self.get("/v1/image/%s%s?Size=320" % (image_id, tail))
            tags[tail] = h["etag"]
        self.assertEqual(len(set(tags.values())), len(tags), tags)
        for client, accept, mime in (("Chrome", CHROME, "avif"), ("Safari 15", SAFARI_15, "webp"),
                                     ("curl", "*/*", "jpeg")):
            h, _ = self.get("/images/%s/auto?Size=320" % image_id, {"Accept": accept})
            self.assertEqual(h["etag"], tags["/" + mime], client)

    def test_304_only_for_the_format_negotiated(self):
        image_id = self.upload("jpeg")
        path = "/v1/image/%s/auto?Size=320" % image_id
        avif_tag = self.get(path, {"Accept": CHROME})[0]["etag"]
        webp_tag = self.get(path, {"Accept": "image/webp"})[0]["etag"]
        # Chrome holding the AVIF: 304, with the headers a cache needs.
        code, h, body = timed(self.svc, "GET", path, None,
                                         {"Accept": CHROME, "If-None-Match": avif_tag})
        self.assertEqual((code, body), (304, b""))
        self.assertEqual(h["etag"], avif_tag)
        self.assertEqual(h["vary"], "Size, Accept")
        # A client holding the WebP that now negotiates AVIF gets the AVIF, not a 304.
        code, h, body = timed(self.svc, "GET", path, None,
                                         {"Accept": CHROME, "If-None-Match": webp_tag})
        self.assertEqual(code, 200)
        self.assertEqual(kind_of(body), "avif")
        # And the reverse.
        code, _, body = timed(self.svc, "GET", path, None,
                                         {"Accept": "image/webp", "If-None-Match": avif_tag})
        self.assertEqual((code, kind_of(body)), (200, "webp"))
        # "*" matches whatever the negotiation chose, once the image exists.
        code, _, _ = timed(self.svc, "GET", path, None, {"Accept": CHROME, "If-None-Match": "*"})
        self.assertEqual(code, 304)
        # A JPEG tag on the JSON form is no match either.
        jpeg_tag = self.get("/v1/image/%s/jpeg?Size=320" % image_id)[0]["etag"]
        code, _, _ = timed(self.svc, "GET", "/v1/image/%s/auto/json?Size=320" % image_id, None,
                                      {"Accept": "*/*", "If-None-Match": jpeg_tag})
        self.assertEqual(code, 200)

    def test_each_variant_is_computed_once(self):
        image_id = self.upload("png-alpha")
        requests = [("/webp?Size=320", {}, "webp"), ("/avif?Size=320", {}, "avif"),
                    ("/auto?Size=640", {"Accept": CHROME}, "avif"),
                    ("/auto/json?Size=800", {"Accept": "image/webp"}, "webp"),
                    ("/webp", {}, "webp"), ("/avif", {}, "avif")]
        for tail, headers, fmt in requests:
            with self.subTest(tail=tail):
                before = {f: self.computed(f) for f in COMPUTED}
                first = self.get("/v1/image/" + image_id + tail, headers)[1]
                after = {f: self.computed(f) for f in COMPUTED}
                self.assertEqual(after[fmt], before[fmt] + 1)
                if fmt != "jpeg":
                    self.assertEqual(after["jpeg"], before["jpeg"] + 1)  # the total
                # Second read, other family: nothing computed, the same bytes.
                second = self.get("/images/" + image_id + tail, headers)[1]
                self.assertEqual(second, first)
                self.assertEqual({f: self.computed(f) for f in COMPUTED}, after)


class StoredTest(FormatsTestCase):
    """Stored, not only cached: a restart (new process, same data directory) computes nothing."""

    service_args = ("--cache-mb", "0")

    def test_variants_survive_a_restart_and_are_not_recomputed(self):
        image_id = self.upload("heic")
        paths = ["/v1/image/%s/webp?Size=320" % image_id, "/v1/image/%s/avif?Size=160" % image_id,
                 "/v1/image/%s/avif" % image_id]
        first = [self.get(p)[1] for p in paths]
        self.svc.wait_for_writes(TIMEOUT)
        self.svc.restart()
        self.assertEqual([self.get(p)[1] for p in paths], first)
        for fmt in COMPUTED:
            self.assertEqual(self.computed(fmt), 0, fmt)


class RedisFormatsTest(RedisServiceTestCase):

    def test_keys_beside_the_jpeg_ones(self):
        image_id = self.svc.upload(read_image("snake.jpg"))
        keys = {"_320": "/jpeg?Size=320", "_320_webp": "/webp?Size=320",
                "_320_avif": "/avif?Size=320", "_webp": "/webp", "_avif": "/avif"}
        bodies = {}
        for key, tail in keys.items():
            code, _, body = timed(self.svc, "GET", "/v1/image/" + image_id + tail)
            self.assertEqual(code, 200, body[:200])
            bodies[key] = body
        self.assertEqual(kind_of(bodies["_320"]), "jpeg")
        self.svc.wait_for_writes(TIMEOUT)
        r = self.redis.client()
        try:
            for key, body in bodies.items():
                self.assertEqual(r.command("GET", image_id + key), body, key)
        finally:
            r.close()
        self.assertGreater(self.svc.metric(COMPUTED["avif"]), 0)
        self.svc.restart()  # an empty hot cache: everything from Redis
        for key, tail in keys.items():
            code, _, body = timed(self.svc, "GET", "/images/" + image_id + tail)
            self.assertEqual((code, body), (200, bodies[key]), key)
        for fmt in COMPUTED:
            self.assertEqual(self.svc.metric(COMPUTED[fmt]), 0, fmt)


class ConcurrentFirstReadsMixin:
    """Every format and form of one new image, asked at the same instant by many clients."""

    def test_one_new_image_in_every_format_at_once(self):
        for round_ in range(2):
            image_id = self.svc.upload(read_image("alpha.png"))
            requests = []
            for tail, accept in [("/webp?Size=320", None), ("/avif?Size=320", None),
                                 ("/auto?Size=320", CHROME), ("/auto?Size=320", SAFARI_15),
                                 ("/jpeg?Size=320", None), ("/auto/json?Size=320", CHROME),
                                 ("/webp/json?Size=320", None), ("/avif", None), ("/webp", None)]:
                for prefix in PREFIXES:
                    headers = {"Accept": accept} if accept else {}
                    requests += [("GET", prefix + image_id + tail, headers)] * 2
            before = {f: self.svc.metric(COMPUTED[f]) for f in COMPUTED}
            results = fire_at_once(self.svc.port, requests, TIMEOUT)
            by_answer = {}
            for (method, path, headers), r in zip(requests, results):
                self.assertNotIsInstance(r, Exception, "%s: %r" % (path, r))
                self.assertEqual(r[0], 200, "%s: %r" % (path, r[2][:200]))
                key = (path.split(image_id, 1)[1], headers.get("Accept"))
                by_answer.setdefault(key, set()).add(r[2])
            for key, bodies in by_answer.items():
                self.assertEqual(len(bodies), 1, "%s: clients got different bodies" % (key,))
            after = {f: self.svc.metric(COMPUTED[f]) for f in COMPUTED}
            # Computed once each: webp 320, webp full; avif 320, avif full; jpeg 320.
            self.assertEqual(after["webp"] - before["webp"], 2, round_)
            self.assertEqual(after["avif"] - before["avif"], 2, round_)
            self.assertEqual(after["jpeg"] - before["jpeg"], 5, round_)  # the total of all
            self.assertTrue(self.svc.healthy())


class LmdbConcurrentFirstReadsTest(ConcurrentFirstReadsMixin, ServiceTestCase):
    pass


class LmdbNoCacheConcurrentFirstReadsTest(ConcurrentFirstReadsMixin, ServiceTestCase):
    service_args = ("--cache-mb", "0")


class RedisConcurrentFirstReadsTest(ConcurrentFirstReadsMixin, RedisServiceTestCase):
    pass


class AvifLimitsTest(FormatsTestCase):
    """AVIF work has its own lane: one slot here, a short queue, and a pixel bound."""

    # Effort 4: an AVIF encode is then tens of times a JPEG's, so that the burst below is still
    # under way while the JPEG requests are answered.
    service_args = ("--workers", "2", "--avif-workers", "1", "--avif-queue-limit", "2",
                    "--avif-effort", "4", "--avif-max-pixels", "100000")

    def setUp(self):
        super().setUp()
        # Each test starts with the lane empty (a failed test may have left work in it).
        deadline = time.monotonic() + TIMEOUT
        while (self.svc.metric("imagecpp_avif_jobs_running") or
               self.svc.metric("imagecpp_avif_jobs_waiting")):
            self.assertLess(time.monotonic(), deadline, "the AVIF lane never emptied")
            time.sleep(0.05)

    def test_over_the_pixel_limit_is_a_400_naming_it(self):
        image_id = self.upload("jpeg")
        messages = self.assertMessages(timed(self.svc, "GET", "/v1/image/%s/avif" % image_id),
                                       ["image"])
        self.assertIn("600x450", messages[0]["message"])
        self.assertIn("AVIF", messages[0]["message"])
        h, body = self.get("/v1/image/%s/avif?Size=320" % image_id)  # 76 800 pixels: fine
        self.assertEqual(kind_of(body), "avif")
        # Negotiation offers AVIF only for a box within the limit: 320 x 320 is not, 160 x 160 is.
        self.assertEqual(self.get("/v1/image/%s/auto?Size=320" % image_id,
                                  {"Accept": CHROME})[0]["content-type"], "image/webp")
        self.assertEqual(self.get("/v1/image/%s/auto?Size=160" % image_id,
                                  {"Accept": CHROME})[0]["content-type"], "image/avif")

    def test_a_burst_of_avif_leaves_jpeg_answering(self):
        """More AVIF than its slot and queue take: the excess is a 503 at once, and JPEG
        requests on other new images are answered while the AVIF work is still under way."""
        avif_ids = [self.upload("jpeg") for _ in range(6)]
        jpeg_ids = [self.upload("png-alpha") for _ in range(3)]
        done_before = self.computed("avif")
        outcome = {}
        burst_sent = threading.Event()

        def burst():
            requests = [("GET", "/v1/image/%s/avif?Size=320" % i, {}) for i in avif_ids]
            outcome["avif"] = fire_at_once(self.svc.port, requests, TIMEOUT)

        thread = threading.Thread(target=burst)
        thread.start()
        # Until the lane is busy: one AVIF holds the slot (and its worker).
        while self.svc.metric("imagecpp_avif_jobs_running") == 0 and thread.is_alive():
            time.sleep(0.005)
        jpeg_answers = []
        for image_id in jpeg_ids:
            code, h, body = timed(self.svc, "GET", "/v1/image/%s/jpeg?Size=160" % image_id)
            jpeg_answers.append((code, kind_of(body),
                                 self.computed("avif") - done_before))
        thread.join(120)
        statuses = sorted(r[0] for r in outcome["avif"])
        # One running, two waiting, three refused at once with Retry-After.
        self.assertEqual(statuses, [200, 200, 200, 503, 503, 503], statuses)
        for r in outcome["avif"]:
            if r[0] == 503:
                self.assertEqual(r[1]["retry-after"], "1")
        for code, kind, avif_done in jpeg_answers:
            self.assertEqual((code, kind), (200, "jpeg"))
        # The JPEG answers came while AVIF work was left: not queued behind the burst.
        self.assertLess(jpeg_answers[0][2], 3, jpeg_answers)
        self.assertEqual(self.computed("avif") - done_before, 3)


if __name__ == "__main__":
    unittest.main()
