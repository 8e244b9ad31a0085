"""Reading images back: originals, sizes, the /jpeg routes, HEAD, caching, computed-once variants,
and what a variant is (fitted, rotated, stripped, flattened, first frame)."""

import json
import threading
import unittest

from harness import (SIZES, IMMUTABLE_PUBLIC, ServiceTestCase, decode_data_url, fit, heif_size,
                     is_jpeg, jpeg_info, jpeg_segments, jpeg_size, read_image, webp_size)

PREFIXES = ("/v1/image/", "/images/")
COMPUTED = "imagecpp_variants_computed_total"


class ReadTestCase(ServiceTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.jpeg = read_image("snake.jpg")
        cls.png = read_image("snake.png")
        cls.jpeg_id = cls.svc.upload(cls.jpeg)
        cls.png_id = cls.svc.upload(cls.png)

    def get(self, path, headers=None):
        status, h, body = self.svc.request("GET", path, None, headers)
        self.assertEqual(status, 200, "GET %s: %r" % (path, body[:300]))
        return h, body

    def get_variant_json(self, path, headers=None):
        """(mime, bytes) of a JSON read."""
        h, body = self.get(path, headers)
        self.assertEqual(h["content-type"].split(";")[0], "application/json")
        doc = json.loads(body)
        self.assertEqual(set(doc), {"id", "image"})
        return decode_data_url(doc["image"])

    def get_jpeg(self, path, headers=None):
        h, body = self.get(path, headers)
        self.assertEqual(h["content-type"], "image/jpeg")
        self.assertTrue(is_jpeg(body), body[:20])
        return body

    def computed(self):
        return self.svc.metric(COMPUTED)


class OriginalTest(ReadTestCase):

    def test_jpeg_original_on_both_families(self):
        for prefix in PREFIXES:
            with self.subTest(prefix=prefix):
                self.assertEqual(self.read_original(self.jpeg_id, prefix),
                                 ("image/jpeg", self.jpeg))

    def test_png_original_comes_back_as_png(self):
        for prefix in PREFIXES:
            with self.subTest(prefix=prefix):
                self.assertEqual(self.read_original(self.png_id, prefix), ("image/png", self.png))

    def test_empty_size_means_original(self):
        for query in ("?Size=", "?size="):
            with self.subTest(query=query):
                mime, data = self.get_variant_json("/v1/image/%s%s" % (self.png_id, query))
                self.assertEqual((mime, data), ("image/png", self.png))
        mime, data = self.get_variant_json("/v1/image/" + self.png_id, {"Size": ""})
        self.assertEqual((mime, data), ("image/png", self.png))

    def test_jpeg_route_of_jpeg_original_is_byte_identical(self):
        for prefix in PREFIXES:
            with self.subTest(prefix=prefix):
                self.assertEqual(self.get_jpeg(prefix + self.jpeg_id + "/jpeg"), self.jpeg)

    def test_jpeg_route_of_png_original_is_a_jpeg_of_the_same_size(self):
        for prefix in PREFIXES:
            with self.subTest(prefix=prefix):
                body = self.get_jpeg(prefix + self.png_id + "/jpeg")
                self.assertNotEqual(body, self.png)
                self.assertEqual(jpeg_size(body), (600, 450))

    def test_jpeg_conversion_of_png_is_stored_not_recomputed(self):
        image_id = self.svc.upload(self.png)
        before = self.computed()
        first = self.get_jpeg("/v1/image/%s/jpeg" % image_id)
        self.assertEqual(self.computed(), before + 1)
        second = self.get_jpeg("/images/%s/jpeg" % image_id)
        self.assertEqual(second, first)
        self.assertEqual(self.computed(), before + 1, "conversion must be computed once")
        # The JSON original is still the PNG.
        self.assertEqual(self.read_original(image_id), ("image/png", self.png))


class SizeTest(ReadTestCase):

    def test_every_size_by_query_on_every_route(self):
        for prefix in PREFIXES:
            for size in SIZES:
                expected = fit(600, 450, size)
                with self.subTest(prefix=prefix, size=size, route="json"):
                    mime, data = self.get_variant_json("%s%s?Size=%d" % (prefix, self.jpeg_id, size))
                    self.assertEqual(mime, "image/jpeg")
                    self.assertEqual(jpeg_size(data), expected)
                with self.subTest(prefix=prefix, size=size, route="jpeg"):
                    data = self.get_jpeg("%s%s/jpeg?Size=%d" % (prefix, self.jpeg_id, size))
                    self.assertEqual(jpeg_size(data), expected)

    def test_expected_fits_of_600x450(self):
        # The contract's own examples, spelled out: fitted, aspect kept, never upscaled.
        expected = {160: (160, 120), 320: (320, 240), 640: (600, 450), 800: (600, 450),
                    1024: (600, 450), 1200: (600, 450)}
        for size, dims in expected.items():
            with self.subTest(size=size):
                data = self.get_jpeg("/v1/image/%s/jpeg?Size=%d" % (self.png_id, size))
                self.assertEqual(jpeg_size(data), dims)

    def test_lowercase_size_query(self):
        for size in SIZES:
            with self.subTest(size=size):
                mime, data = self.get_variant_json("/images/%s?size=%d" % (self.png_id, size))
                self.assertEqual(mime, "image/jpeg")
                self.assertEqual(jpeg_size(data), fit(600, 450, size))

    def test_size_header(self):
        for size in SIZES:
            with self.subTest(size=size):
                mime, data = self.get_variant_json("/v1/image/" + self.png_id,
                                                   {"Size": str(size)})
                self.assertEqual(mime, "image/jpeg")
                self.assertEqual(jpeg_size(data), fit(600, 450, size))
                data = self.get_jpeg("/images/%s/jpeg" % self.png_id, {"Size": str(size)})
                self.assertEqual(jpeg_size(data), fit(600, 450, size))

    def test_query_wins_over_header(self):
        mime, data = self.get_variant_json("/v1/image/%s?Size=160" % self.jpeg_id,
                                           {"Size": "320"})
        self.assertEqual(jpeg_size(data), (160, 120))
        data = self.get_jpeg("/images/%s/jpeg?size=320" % self.jpeg_id, {"Size": "160"})
        self.assertEqual(jpeg_size(data), (320, 240))

    def test_png_variant_is_jpeg_in_json(self):
        mime, data = self.get_variant_json("/v1/image/%s?Size=320" % self.png_id)
        self.assertEqual(mime, "image/jpeg")
        self.assertTrue(is_jpeg(data))

    def test_json_and_jpeg_routes_give_the_same_variant(self):
        _, from_json = self.get_variant_json("/v1/image/%s?Size=160" % self.png_id)
        from_jpeg = self.get_jpeg("/images/%s/jpeg?Size=160" % self.png_id)
        self.assertEqual(from_json, from_jpeg)


class ComputedOnceTest(ReadTestCase):

    def test_second_request_returns_the_stored_variant(self):
        image_id = self.svc.upload(self.jpeg)
        before = self.computed()
        first = self.get_jpeg("/v1/image/%s/jpeg?Size=320" % image_id)
        self.assertEqual(self.computed(), before + 1)
        second = self.get_jpeg("/v1/image/%s/jpeg?Size=320" % image_id)
        third = self.get_variant_json("/images/%s?Size=320" % image_id)[1]
        self.assertEqual(second, first)
        self.assertEqual(third, first)
        self.assertEqual(self.computed(), before + 1, "a stored variant must not be recomputed")

    def test_concurrent_requests_share_one_computation(self):
        image_id = self.svc.upload(self.png)
        before = self.computed()
        threads = 16
        barrier = threading.Barrier(threads)
        results = [None] * threads

        def fetch(i):
            conn = self.svc.connection()
            try:
                conn.connect()
                barrier.wait(10)
                conn.request("GET", "/v1/image/%s/jpeg?Size=1200" % image_id)
                response = conn.getresponse()
                results[i] = (response.status, response.read())
            except Exception as e:  # reported below
                results[i] = (None, repr(e))
            finally:
                conn.close()

        workers = [threading.Thread(target=fetch, args=(i,)) for i in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(30)
        statuses = [r[0] for r in results]
        self.assertEqual(statuses, [200] * threads, results)
        bodies = {r[1] for r in results}
        self.assertEqual(len(bodies), 1, "all requests must get identical bytes")
        self.assertEqual(jpeg_size(bodies.pop()), (600, 450))
        self.assertEqual(self.computed(), before + 1, "one computation for 16 requests")


class HeadTest(ReadTestCase):

    def test_head_matches_get(self):
        paths = ["/v1/image/" + self.jpeg_id, "/images/" + self.png_id,
                 "/v1/image/%s/jpeg" % self.jpeg_id, "/images/%s/jpeg" % self.png_id,
                 "/v1/image/%s?Size=160" % self.png_id, "/images/%s/jpeg?Size=320" % self.jpeg_id]
        for path in paths:
            with self.subTest(path=path):
                get_status, get_headers, get_body = self.svc.request("GET", path)
                head_status, head_headers, head_body = self.svc.request("HEAD", path)
                self.assertEqual(get_status, 200)
                self.assertEqual(head_status, get_status)
                self.assertEqual(head_body, b"")
                self.assertEqual(int(head_headers["content-length"]), len(get_body))
                for name in ("content-type", "etag", "cache-control",
                             "x-content-type-options"):
                    self.assertEqual(head_headers.get(name), get_headers.get(name), name)

    def test_head_with_size_header(self):
        status, headers, body = self.svc.request("HEAD", "/v1/image/%s/jpeg" % self.jpeg_id,
                                                 headers={"Size": "160"})
        self.assertEqual(status, 200)
        self.assertEqual(body, b"")
        expected = self.get_jpeg("/v1/image/%s/jpeg?Size=160" % self.jpeg_id)
        self.assertEqual(int(headers["content-length"]), len(expected))


class CachingTest(ReadTestCase):

    def test_strong_etag_and_immutable_cache_control(self):
        for path in ("/v1/image/" + self.jpeg_id, "/images/%s/jpeg" % self.png_id,
                     "/v1/image/%s/jpeg?Size=320" % self.jpeg_id):
            with self.subTest(path=path):
                headers, _ = self.get(path)
                etag = headers.get("etag", "")
                self.assertRegex(etag, r'^"[^"]+"$', "a strong, quoted ETag")
                self.assertFalse(etag.startswith("W/"))
                self.assertEqual(headers.get("cache-control"), IMMUTABLE_PUBLIC)
                again, _ = self.get(path)
                self.assertEqual(again.get("etag"), etag, "same representation, same ETag")

    def test_etag_differs_per_representation(self):
        paths = ["/v1/image/" + self.jpeg_id, "/v1/image/%s/jpeg" % self.jpeg_id,
                 "/v1/image/%s?Size=160" % self.jpeg_id, "/v1/image/%s?Size=320" % self.jpeg_id,
                 "/v1/image/" + self.png_id]
        etags = [self.get(p)[0]["etag"] for p in paths]
        self.assertEqual(len(set(etags)), len(paths), etags)

    def test_if_none_match_gives_304_without_body(self):
        for path in ("/v1/image/" + self.jpeg_id, "/images/%s/jpeg?Size=160" % self.png_id):
            with self.subTest(path=path):
                etag = self.get(path)[0]["etag"]
                status, headers, body = self.svc.request("GET", path,
                                                         headers={"If-None-Match": etag})
                self.assertEqual(status, 304)
                self.assertEqual(body, b"")
                self.assertEqual(headers.get("etag"), etag)
                self.assertEqual(headers.get("cache-control"), IMMUTABLE_PUBLIC)

    def test_other_etag_gives_200(self):
        path = "/v1/image/%s/jpeg" % self.jpeg_id
        status, headers, body = self.svc.request(
            "GET", path, headers={"If-None-Match": '"some-other-etag"'})
        self.assertEqual(status, 200)
        self.assertEqual(body, self.jpeg)
        # The ETag of another size does not match either.
        other = self.get("/v1/image/%s/jpeg?Size=160" % self.jpeg_id)[0]["etag"]
        status, _, body = self.svc.request("GET", path, headers={"If-None-Match": other})
        self.assertEqual(status, 200)
        self.assertEqual(body, self.jpeg)


class VariantContentTest(ReadTestCase):
    """What a variant is made of: only what stdlib can check (dimensions, markers, bytes)."""

    def variant(self, name, size):
        image_id = self.svc.upload(read_image(name))
        return self.get_jpeg("/v1/image/%s/jpeg?Size=%d" % (image_id, size))

    def test_fitting_clean_jpeg_is_returned_byte_for_byte(self):
        for size in (640, 800, 1024, 1200):
            with self.subTest(size=size):
                self.assertEqual(self.get_jpeg("/images/%s/jpeg?Size=%d" % (self.jpeg_id, size)),
                                 self.jpeg)

    def test_other_formats_give_fitted_jpeg(self):
        for name in ("snake.png", "snake.gif", "snake-progressive.jpg", "snake.heic"):
            for size in (160, 320, 1200):
                with self.subTest(image=name, size=size):
                    self.assertEqual(jpeg_size(self.variant(name, size)), fit(600, 450, size))

    def test_webp_and_avif_give_jpeg(self):
        for name, size_of in (("sample.webp", webp_size), ("sample.avif", heif_size)):
            width, height = size_of(read_image(name))
            for size in (160, 320):
                with self.subTest(image=name, size=size):
                    self.assertEqual(jpeg_size(self.variant(name, size)),
                                     fit(width, height, size))

    def test_small_image_is_not_upscaled(self):
        self.assertEqual(webp_size(read_image("sample.webp")), (23, 42))
        self.assertEqual(jpeg_size(self.variant("sample.webp", 1200)), (23, 42))

    def test_exif_orientation_is_applied(self):
        # Stored 450x600 with orientation 6: displayed (and served) 600x450.
        self.assertEqual(jpeg_info(read_image("orientation6.jpg"))[:2], (450, 600))
        self.assertEqual(jpeg_size(self.variant("orientation6.jpg", 320)), (320, 240))
        rotated = self.variant("orientation6.jpg", 800)  # fits, but must be turned
        self.assertEqual(jpeg_size(rotated), (600, 450))
        self.assertNotIn(0xE1, [m for m, _ in jpeg_segments(rotated)], "no EXIF left")

    def test_metadata_is_stripped(self):
        original = read_image("metadata.jpg")
        self.assertIn(0xE1, [m for m, _ in jpeg_segments(original)])  # EXIF (with GPS) and XMP
        self.assertIn(b"TestCam", original)
        for size in (160, 320):  # 320: fits, yet must not pass through
            with self.subTest(size=size):
                data = self.variant("metadata.jpg", size)
                self.assertEqual(jpeg_size(data), fit(300, 225, size))
                markers = [m for m, _ in jpeg_segments(data)]
                self.assertNotIn(0xE1, markers, "no EXIF/XMP segment")
                for leak in (b"Exif", b"TestCam", b"Tester", b"http://ns.adobe.com"):
                    self.assertNotIn(leak, data)
                self.assertNotEqual(data, original)

    def test_cmyk_is_converted_to_rgb(self):
        self.assertEqual(jpeg_info(read_image("cmyk.jpg"))[2], 4)
        for size in (320, 800):
            with self.subTest(size=size):
                width, height, components = jpeg_info(self.variant("cmyk.jpg", size))
                self.assertEqual((width, height), fit(600, 450, size))
                self.assertEqual(components, 3, "sRGB output")

    def test_alpha_png_gives_jpeg(self):
        for size in (160, 320):
            with self.subTest(size=size):
                self.assertEqual(jpeg_size(self.variant("alpha.png", size)), fit(200, 150, size))

    def test_animated_gif_gives_first_frame(self):
        # Three 160x120 frames: the whole strip would be 160x360.
        for size in (160, 320):
            with self.subTest(size=size):
                self.assertEqual(jpeg_size(self.variant("animated.gif", size)), (160, 120))


if __name__ == "__main__":
    unittest.main()
