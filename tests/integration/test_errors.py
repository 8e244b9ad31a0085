"""Every row of the contract's error table, with exact statuses and bodies."""

import base64
import json
import unittest
import uuid

from harness import (HANG_GUARD, ServiceTestCase, Service, data_url, make_png, raw_request,
                     read_image, read_until_closed, raw_socket, parse_raw_response)

UPLOAD_ROUTES = ("/v1/image", "/images/create")
READ_ROUTES = ("/v1/image/{}", "/images/{}", "/v1/image/{}/jpeg", "/images/{}/jpeg")


def unknown_id():
    return str(uuid.uuid4())


class BadUploadTest(ServiceTestCase):
    """400 {"messages":[{"path":"image",...}]} for every kind of bad upload."""

    def assertBadImage(self, response):
        return self.assertMessages(response, ["image"])

    def post_json_body(self, body, route="/v1/image", content_type="application/json"):
        return self.svc.request("POST", route, body,
                                self.svc.auth(headers={"Content-Type": content_type}))

    def test_missing_image(self):
        for body in (b"{}", b'{"picture": "abc"}', b'{"image": null}'):
            for route in UPLOAD_ROUTES:
                with self.subTest(body=body, route=route):
                    self.assertBadImage(self.post_json_body(body, route))

    def test_empty_body(self):
        for content_type in ("application/json", "image/jpeg"):
            with self.subTest(content_type=content_type):
                self.assertBadImage(self.post_json_body(b"", content_type=content_type))

    def test_empty_image_string(self):
        for route in UPLOAD_ROUTES:
            with self.subTest(route=route):
                self.assertBadImage(self.svc.upload_json("", route=route))
        self.assertBadImage(self.svc.upload_json("data:image/png;base64,"))

    def test_image_not_a_string(self):
        for value in (5, True, [], {}, ["data:image/png;base64,iVBOR"]):
            with self.subTest(value=value):
                self.assertBadImage(self.svc.upload_json(json.dumps({"image": value}).encode()))

    def test_not_base64(self):
        for value in ("!!!not base64***", "data:image/png;base64,@@@@####",
                      "data:image/jpeg;base64,/9j/4A=A="):
            with self.subTest(value=value):
                self.assertBadImage(self.svc.upload_json(value))

    def test_base64_of_text_is_not_an_image(self):
        text = b"this is plain text, certainly not an image\n" * 10
        for value in (base64.b64encode(text).decode(), data_url(text, "image/png")):
            with self.subTest(value=value[:30]):
                self.assertBadImage(self.svc.upload_json(value))

    def test_raw_body_of_text_is_not_an_image(self):
        self.assertBadImage(self.svc.upload_raw(b"GIF89 nope, just text" * 20, "image/gif"))

    def test_truncated_jpeg_header_is_not_an_image(self):
        head = read_image("snake.jpg")[:64]  # SOI, JFIF, part of a table: no dimensions
        self.assertBadImage(self.svc.upload_raw(head, "image/jpeg"))
        self.assertBadImage(self.svc.upload_json(data_url(head, "image/jpeg")))

    def test_unsupported_formats(self):
        for name, mime in (("snake.bmp", "image/bmp"), ("sample.bmp", "image/bmp"),
                           ("sample.tif", "image/tiff")):
            data = read_image(name)
            with self.subTest(image=name, body="json"):
                self.assertBadImage(self.svc.upload_json(data_url(data, mime)))
            with self.subTest(image=name, body="bare base64"):
                self.assertBadImage(self.svc.upload_json(base64.b64encode(data).decode()))
            with self.subTest(image=name, body="raw"):
                self.assertBadImage(self.svc.upload_raw(data, mime))

    def test_png_header_declaring_30000x30000_is_over_the_pixel_limit(self):
        huge = make_png(30000, 30000, full=False)
        self.assertLess(len(huge), 2000)
        self.assertBadImage(self.svc.upload_raw(huge, "image/png"))
        self.assertBadImage(self.svc.upload_json(data_url(huge, "image/png")))
        # Control: the same builder with sane dimensions makes an accepted image.
        self.assertUploaded(self.svc.upload_raw(make_png(100, 100), "image/png"))

    def test_body_not_json(self):
        for body in (b"{not json", b'{"image": "abc"', b'{"image": "abc"} trailing',
                     b"[1, 2, 3]", b'"just a string"', b"\xff\xfe{}"):
            with self.subTest(body=body):
                self.assertBadImage(self.post_json_body(body))

    def test_unsupported_content_type(self):
        body = json.dumps({"image": data_url(read_image("snake.jpg"), "image/jpeg")}).encode()
        for content_type in ("text/plain", "multipart/form-data; boundary=x",
                             "application/x-www-form-urlencoded"):
            for route in UPLOAD_ROUTES:
                with self.subTest(content_type=content_type, route=route):
                    self.assertBadImage(self.post_json_body(body, route, content_type))


class BadReadTest(ServiceTestCase):
    """400 with path size / id, one item per problem."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.image_id = cls.svc.upload(read_image("snake.jpg"))

    def test_bad_size_in_query(self):
        for value in ("100", "abc", "-160", "160.0", "0160", "1600", "160abc", "0",
                      "99999999999999999999"):
            for route in READ_ROUTES:
                with self.subTest(size=value, route=route):
                    path = route.format(self.image_id) + "?Size=" + value
                    self.assertMessages(self.svc.request("GET", path), ["size"])
        self.assertMessages(self.svc.request("GET", "/v1/image/%s?size=100" % self.image_id),
                            ["size"])

    def test_bad_size_header(self):
        for value in ("100", "abc"):
            for route in READ_ROUTES:
                with self.subTest(size=value, route=route):
                    self.assertMessages(self.svc.request("GET", route.format(self.image_id),
                                                         headers={"Size": value}), ["size"])

    def test_bad_query_size_wins_over_good_header(self):
        self.assertMessages(self.svc.request("GET", "/v1/image/%s?Size=100" % self.image_id,
                                             headers={"Size": "160"}), ["size"])

    def test_id_not_a_uuid(self):
        for bad in ("not-a-uuid", "123", "%s0" % unknown_id(), unknown_id().replace("-", "x"),
                    "zzzzzzzz-zzzz-4zzz-8zzz-zzzzzzzzzzzz"):
            for route in READ_ROUTES:
                with self.subTest(id=bad, route=route):
                    self.assertMessages(self.svc.request("GET", route.format(bad)), ["id"])

    def test_bad_id_and_bad_size_give_two_items(self):
        for route in READ_ROUTES:
            with self.subTest(route=route):
                self.assertMessages(self.svc.request("GET", route.format("nope") + "?Size=100"),
                                    ["id", "size"])


class UnauthorizedTest(ServiceTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.body = json.dumps({"image": data_url(read_image("snake.jpg"), "image/jpeg")}).encode()

    def post(self, authorization, route="/v1/image"):
        headers = {"Content-Type": "application/json"}
        if authorization is not None:
            headers["Authorization"] = authorization
        return self.svc.request("POST", route, self.body, headers)

    def assertUnauthorized(self, response):
        self.assertJsonError(response, 401, "Unauthorized")

    def test_no_authorization(self):
        for route in UPLOAD_ROUTES:
            with self.subTest(route=route):
                self.assertUnauthorized(self.post(None, route))

    def test_not_a_bearer_token(self):
        for value in ("Basic dXNlcjpwYXNz", "Basic xxx", self.svc.token, "Token " + self.svc.token,
                      "Bearer", "Bearer ", ""):
            with self.subTest(authorization=value):
                self.assertUnauthorized(self.post(value))

    def test_unknown_token(self):
        for token in ("tok-unknown", self.svc.token + "x", self.svc.token[:-1]):
            for route in UPLOAD_ROUTES:
                with self.subTest(token=token, route=route):
                    self.assertUnauthorized(self.post("Bearer " + token, route))

    def test_scheme_in_any_letter_case(self):
        for scheme in ("Bearer", "bearer", "BEARER", "bEaReR"):
            with self.subTest(scheme=scheme):
                self.assertUploaded(self.post(scheme + " " + self.svc.token))

    def test_every_listed_token_is_valid(self):
        for token in self.svc.tokens:
            self.assertUploaded(self.post("Bearer " + token))

    def test_two_spaces_or_extra_words(self):
        tok = self.svc.token
        for value in ("Bearer  " + tok, "Bearer\t" + tok, "Bearer %s extra" % tok):
            with self.subTest(authorization=value):
                self.assertUnauthorized(self.post(value))


class NotFoundTest(ServiceTestCase):

    def test_unknown_uuid_on_every_read_route(self):
        missing = unknown_id()
        for route in READ_ROUTES:
            for query in ("", "?Size=160"):
                with self.subTest(route=route, query=query):
                    self.assertJsonError(self.svc.request("GET", route.format(missing) + query),
                                         404, "Not Found")

    def test_head_of_unknown_uuid(self):
        status, headers, body = self.svc.request("HEAD", "/v1/image/" + unknown_id())
        self.assertEqual(status, 404)
        self.assertEqual(body, b"")
        self.assertEqual(int(headers["content-length"]), len(b'{"error":"Not Found"}'))

    def test_unknown_routes(self):
        for method, path in (("GET", "/nope"), ("GET", "/v1/images"), ("GET", "/v1"),
                             ("GET", "/images"), ("GET", "/v1/image/%s/png" % unknown_id()),
                             ("GET", "/v1/image/a/b/jpeg"), ("POST", "/upload"),
                             ("GET", "/healthz/extra"), ("DELETE", "/nope")):
            with self.subTest(method=method, path=path):
                self.assertJsonError(self.svc.request(method, path), 404, "Not Found")


class MethodNotAllowedTest(ServiceTestCase):

    def assertNotAllowed(self, method, path, allowed):
        response = self.svc.request(method, path, b"" if method in ("POST", "PUT") else None,
                                    self.svc.auth())
        self.assertJsonError(response, 405, "Method Not Allowed")
        allow = {m.strip() for m in response[1].get("allow", "").split(",")}
        self.assertTrue(set(allowed) <= allow, "Allow: %r" % response[1].get("allow"))

    def test_get_on_upload_routes(self):
        for route in UPLOAD_ROUTES:
            with self.subTest(route=route):
                self.assertNotAllowed("GET", route, {"POST"})

    def test_post_on_read_routes(self):
        for route in READ_ROUTES:
            with self.subTest(route=route):
                self.assertNotAllowed("POST", route.format(unknown_id()), {"GET", "HEAD"})

    def test_other_methods_on_read_routes(self):
        for method in ("DELETE", "PUT", "PATCH"):
            with self.subTest(method=method):
                self.assertNotAllowed(method, "/images/%s/jpeg" % unknown_id(), {"GET", "HEAD"})
        self.assertNotAllowed("DELETE", "/v1/image/" + unknown_id(), {"GET", "HEAD"})
        self.assertNotAllowed("PUT", "/images/create", {"POST"})


class PixelLimitTest(ServiceTestCase):
    service_args = ("--max-pixels", "10000")

    def test_over_the_configured_limit(self):
        snake = read_image("snake.jpg")  # 600x450 = 270000 pixels
        self.assertMessages(self.svc.upload_json(data_url(snake, "image/jpeg")), ["image"])
        self.assertMessages(self.svc.upload_raw(snake, "image/jpeg"), ["image"])
        self.assertMessages(self.svc.upload_raw(make_png(100, 101), "image/png"), ["image"])

    def test_at_the_limit_is_accepted(self):
        self.assertUploaded(self.svc.upload_raw(make_png(100, 100), "image/png"))


class PayloadTooLargeTest(ServiceTestCase):
    """413 {"error":"Payload Too Large"} for a body over --max-body-bytes.

    SERVICE BUG (open when written): every request whose Content-Length is over the limit gets
    400 {"error":"Bad Request"} instead of 413. src/http/server.cpp serve_one() sets
    parser.body_limit() before async_read_header(); Beast then fails the *header* read with
    http::error::body_limit, which falls into the generic `if (ec)` -> 400 branch (only the body
    read checks for body_limit). Chunked bodies are cut off during the body read and get 413.
    test_declared_content_length_over_the_limit, test_whole_body_over_the_limit_with_content_length
    and test_json_over_the_limit fail until that is fixed.
    """
    service_args = ("--max-body-bytes", "100000")

    def assertTooLarge(self, response):
        self.assertJsonError(response, 413, "Payload Too Large")

    def test_declared_content_length_over_the_limit(self):
        # The answer must come from the header alone, before any body byte is sent.
        sock = raw_socket(self.svc.port)
        try:
            sock.sendall(("POST /v1/image HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                          "Content-Type: image/png\r\nContent-Length: 200000\r\n\r\n"
                          % self.svc.token).encode())
            data, _, closed = read_until_closed(sock, HANG_GUARD)
        finally:
            sock.close()
        self.assertTooLarge(parse_raw_response(data))

    def test_whole_body_over_the_limit_with_content_length(self):
        png = read_image("snake.png")  # 280 kB
        for route in UPLOAD_ROUTES:
            with self.subTest(route=route):
                self.assertTooLarge(raw_request(
                    self.svc.port, "POST", route,
                    self.svc.auth(headers={"Content-Type": "image/png"}), png))

    def test_json_over_the_limit(self):
        body = json.dumps({"image": data_url(read_image("snake.png"), "image/png")}).encode()
        self.assertTooLarge(raw_request(
            self.svc.port, "POST", "/v1/image",
            self.svc.auth(headers={"Content-Type": "application/json"}), body))

    def test_chunked_body_over_the_limit(self):
        png = read_image("snake.png")
        self.assertTooLarge(raw_request(
            self.svc.port, "POST", "/images/create",
            self.svc.auth(headers={"Content-Type": "image/png"}), png, chunked=True))

    def test_chunked_body_under_the_limit_is_accepted(self):
        jpeg = read_image("snake.jpg")  # 40 kB
        self.assertLess(len(jpeg), 100000)
        response = raw_request(self.svc.port, "POST", "/v1/image",
                               self.svc.auth(headers={"Content-Type": "image/jpeg"}), jpeg,
                               chunked=True, chunk_size=4096)
        image_id = self.assertUploaded(response)
        self.assertEqual(self.read_original(image_id), ("image/jpeg", jpeg))

    def test_body_under_the_limit_is_accepted(self):
        self.assertUploaded(self.svc.upload_raw(read_image("snake.jpg")))


class StoreFullTest(unittest.TestCase):
    """A store that cannot take a write answers 503 with Retry-After; the service lives on."""

    def test_full_lmdb_map_gives_503(self):
        png = read_image("snake.png")  # 280 kB: a 1 MiB map holds only a few
        with Service(["--lmdb-map-size", "1048576"]) as svc:
            statuses = []
            response = None
            for _ in range(20):
                response = svc.upload_raw(png, "image/png")
                statuses.append(response[0])
                if response[0] != 200:
                    break
            self.assertIn(200, statuses, "the first uploads fit")
            status, headers, body = response
            self.assertEqual(status, 503, "statuses: %r, body %r" % (statuses, body[:300]))
            self.assertIn("retry-after", headers)
            self.assertTrue(headers["retry-after"].strip().isdigit(), headers["retry-after"])
            doc = json.loads(body)
            self.assertEqual(set(doc), {"error"})
            self.assertIsInstance(doc["error"], str)
            # Still alive, still serving what it has.
            self.assertEqual(svc.request("GET", "/healthz")[0], 200)
            self.assertTrue(svc.running())


if __name__ == "__main__":
    unittest.main()
