"""Uploads over HTTP: JSON data URLs, bare base64, escapes, raw bodies, both route families."""

import base64
import json
import unittest

from harness import (ServiceTestCase, data_url, decode_data_url, read_image, UUID4_RE)

ROUTES = ("/v1/image", "/images/create")


class UploadTest(ServiceTestCase):

    def assertStoredAs(self, image_id, data, mime):
        """The original reads back as `mime` with exactly the uploaded bytes."""
        got_mime, got = self.read_original(image_id)
        self.assertEqual(got_mime, mime)
        self.assertEqual(got, data, "original must come back byte for byte")

    # -- JSON bodies -----------------------------------------------------------------------

    def test_png_data_url_on_both_routes(self):
        png = read_image("snake.png")
        for route in ROUTES:
            with self.subTest(route=route):
                image_id = self.assertUploaded(
                    self.svc.upload_json(data_url(png, "image/png"), route=route))
                self.assertStoredAs(image_id, png, "image/png")

    def test_jpeg_data_url_on_both_routes(self):
        jpeg = read_image("snake.jpg")
        for route in ROUTES:
            with self.subTest(route=route):
                image_id = self.assertUploaded(
                    self.svc.upload_json(data_url(jpeg, "image/jpeg"), route=route))
                self.assertStoredAs(image_id, jpeg, "image/jpeg")

    def test_data_url_declaring_another_type_is_sniffed(self):
        jpeg = read_image("snake.jpg")
        image_id = self.assertUploaded(self.svc.upload_json(data_url(jpeg, "image/png")))
        self.assertStoredAs(image_id, jpeg, "image/jpeg")

    def test_bare_base64(self):
        png = read_image("snake.png")
        for route in ROUTES:
            with self.subTest(route=route):
                image_id = self.assertUploaded(
                    self.svc.upload_json(base64.b64encode(png).decode(), route=route))
                self.assertStoredAs(image_id, png, "image/png")

    def test_json_escaped_slashes_in_base64(self):
        jpeg = read_image("snake.jpg")
        value = data_url(jpeg, "image/jpeg")
        self.assertIn("/", value)  # the data URL itself and the base64 alphabet contain '/'
        body = ('{"image": "%s"}' % value.replace("/", "\\/")).encode()
        self.assertIn(b"\\/", body)
        image_id = self.assertUploaded(self.svc.upload_json(body))
        self.assertStoredAs(image_id, jpeg, "image/jpeg")

    def test_json_escaped_slashes_in_bare_base64(self):
        png = read_image("snake.png")
        b64 = base64.b64encode(png).decode()
        self.assertIn("/", b64)
        body = ('{"image":"%s"}' % b64.replace("/", "\\/")).encode()
        image_id = self.assertUploaded(self.svc.upload_json(body, route="/images/create"))
        self.assertStoredAs(image_id, png, "image/png")

    def test_json_with_other_fields_and_whitespace(self):
        jpeg = read_image("snake-progressive.jpg")
        body = json.dumps({"name": "x", "image": data_url(jpeg, "image/jpeg"), "n": [1, 2]},
                          indent=2).encode()
        image_id = self.assertUploaded(self.svc.upload_json(body))
        self.assertStoredAs(image_id, jpeg, "image/jpeg")

    def test_json_with_charset_parameter(self):
        jpeg = read_image("snake.jpg")
        body = json.dumps({"image": data_url(jpeg, "image/jpeg")}).encode()
        image_id = self.assertUploaded(self.svc.upload_json(
            body, headers={"Content-Type": "application/json; charset=utf-8"}))
        self.assertStoredAs(image_id, jpeg, "image/jpeg")

    # -- every accepted format -------------------------------------------------------------

    def test_every_accepted_format_as_data_url(self):
        cases = [("snake.jpg", "image/jpeg"), ("snake-progressive.jpg", "image/jpeg"),
                 ("snake.png", "image/png"), ("snake.gif", "image/gif"),
                 ("sample.webp", "image/webp"), ("sample.avif", "image/avif"),
                 ("snake.heic", "image/heic"), ("alpha.png", "image/png"),
                 ("animated.gif", "image/gif"), ("cmyk.jpg", "image/jpeg"),
                 ("orientation6.jpg", "image/jpeg"), ("metadata.jpg", "image/jpeg")]
        for name, mime in cases:
            with self.subTest(image=name):
                data = read_image(name)
                image_id = self.assertUploaded(self.svc.upload_json(data_url(data, mime)))
                self.assertStoredAs(image_id, data, mime)

    # -- raw bodies --------------------------------------------------------------------------

    def test_raw_bodies_with_image_content_types(self):
        cases = [("snake.jpg", "image/jpeg"), ("snake.png", "image/png"),
                 ("snake.gif", "image/gif"), ("sample.webp", "image/webp"),
                 ("sample.avif", "image/avif"), ("snake.heic", "image/heic")]
        for route in ROUTES:
            for name, mime in cases:
                with self.subTest(route=route, image=name):
                    data = read_image(name)
                    image_id = self.assertUploaded(
                        self.svc.upload_raw(data, content_type=mime, route=route))
                    self.assertStoredAs(image_id, data, mime)

    def test_raw_body_declaring_another_type_is_sniffed(self):
        png = read_image("snake.png")
        image_id = self.assertUploaded(self.svc.upload_raw(png, content_type="image/jpeg"))
        self.assertStoredAs(image_id, png, "image/png")

    # -- the answer ----------------------------------------------------------------------------

    def test_ids_are_lowercase_uuid4_and_unique(self):
        jpeg = read_image("snake.jpg")
        ids = set()
        for _ in range(5):
            image_id = self.assertUploaded(self.svc.upload_raw(jpeg))
            self.assertRegex(image_id, UUID4_RE)
            self.assertEqual(image_id, image_id.lower())
            self.assertEqual(int(image_id[14], 16), 4, "version nibble")
            self.assertIn(image_id[19], "89ab", "variant bits 10xx")
            ids.add(image_id)
        self.assertEqual(len(ids), 5, "every upload gets a new id")

    def test_upload_answer_is_exactly_the_id(self):
        status, headers, body = self.svc.upload_raw(read_image("snake.jpg"))
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"].split(";")[0], "application/json")
        doc = json.loads(body)
        self.assertEqual(list(doc), ["id"])

    def test_uploaded_image_readable_on_both_route_families(self):
        jpeg = read_image("snake.jpg")
        image_id = self.assertUploaded(self.svc.upload_raw(jpeg, route="/images/create"))
        for prefix in ("/v1/image/", "/images/"):
            with self.subTest(prefix=prefix):
                mime, data = self.read_original(image_id, prefix)
                self.assertEqual((mime, data), ("image/jpeg", jpeg))


if __name__ == "__main__":
    unittest.main()
