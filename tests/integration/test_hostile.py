"""Hostile input (issue 5): broken, bomb-like and odd uploads, each answered with its exact 4xx
and the contract's body, after which the service is still healthy and serves a normal upload and
a freshly computed variant.

What the service documents, and so what is asserted:
- An upload is checked from its header (format, pixel and frame limits, a header libvips can
  read); the pixels are decoded only for a variant. A truncated or damaged image whose header is
  fine is therefore stored (200) and served back as stored, and a variant that must be decoded
  answers 400 "stored image cannot be decoded" (path image), for ever (nothing bad is stored).
- A header that is broken answers 400 "image header is corrupt" at upload.
- Decoders recover what can be recovered: a CMYK JPEG whose ICC profile is unusable is rendered
  with libvips' built-in CMYK profile, exactly as the same image without a profile.

Every image is built here from the committed or packaged test images, or from nothing.
"""

import json
import os
import random
import struct
import unittest
import zlib

from harness import (ServiceTestCase, data_url, is_jpeg, jpeg_info, jpeg_segments, jpeg_size,
                     make_png, png_chunk, read_image)

STORED_UNDECODABLE = "stored image cannot be decoded"
HEADER_CORRUPT = "image header is corrupt"
NOT_AN_IMAGE = "not a supported image (jpeg, png, webp, gif, avif, heic)"
UNSUPPORTED_TYPE = ("unsupported Content-Type: send application/json or the image bytes with an "
                    "image/* type")

CONTROL_PNG = make_png(200, 150)  # the normal upload after each hostile one: variant 160x120


# ---------------------------------------------------------------------------------------------
# Builders

def segment_offset(jpeg, marker):
    """Offset of the first segment `marker` (e.g. 0xC4) before the scan data."""
    at = 2
    while at + 4 <= len(jpeg):
        if jpeg[at + 1] == marker:
            return at
        (length,) = struct.unpack(">H", jpeg[at + 2:at + 4])
        at += 2 + length
    raise ValueError("no segment %#x" % marker)


def patched(data, at, replacement):
    return data[:at] + replacement + data[at + len(replacement):]


def flipped(data, *offsets):
    out = bytearray(data)
    for at in offsets:
        out[at] ^= 0xFF
    return bytes(out)


GIF_SCREEN = b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + b"\x00\x00\x00\xff\xff\xff"  # 1x1, 2 colours
GIF_CONTROL = b"!\xf9\x04\x04\x0a\x00\x00\x00"  # graphic control: 0.1 s, keep the frame
GIF_FRAME = b",\x00\x00\x00\x00\x01\x00\x01\x00\x00" + b"\x02\x02\x44\x01\x00"  # 1x1 at 0,0 + LZW


def animated_gif(frames):
    """A valid animated GIF of `frames` 1x1 frames (23 bytes a frame)."""
    return GIF_SCREEN + (GIF_CONTROL + GIF_FRAME) * frames + b";"


def gif_lzw_offset(gif):
    """Offset of the first frame's LZW minimum code size byte."""
    flags = gif[10]
    at = 13 + ((3 << ((flags & 7) + 1)) if flags & 0x80 else 0)
    while gif[at] == 0x21:  # extensions: introducer, label, sub-blocks
        at += 2
        while gif[at]:
            at += gif[at] + 1
        at += 1
    assert gif[at] == 0x2C, "no image descriptor"
    local = gif[at + 9]
    return at + 10 + ((3 << ((local & 7) + 1)) if local & 0x80 else 0)


def huge_png(width, height, rows, bit_depth=8, colour_type=2):
    """A PNG header declaring width x height, then an IDAT holding the zlib stream of `rows` rows
    of zeros (all of them makes a complete, valid image)."""
    channels = {0: 1, 2: 3}[colour_type]
    row = b"\0" * (1 + (width * channels * bit_depth + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(rows)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) +
            png_chunk(b"IEND", b""))


def with_sof_size(jpeg, width, height):
    """The same JPEG with other dimensions written in its frame header."""
    for marker in (0xC0, 0xC1, 0xC2):
        try:
            sof = segment_offset(jpeg, marker)
        except ValueError:
            continue
        return patched(jpeg, sof + 5, struct.pack(">HH", height, width))
    raise ValueError("no SOF")


def icc_segment(profile, sequence=1, count=1):
    """An APP2 ICC_PROFILE segment carrying `profile` as chunk `sequence` of `count`."""
    payload = b"ICC_PROFILE\x00" + bytes([sequence, count]) + profile
    return b"\xff\xe2" + struct.pack(">H", len(payload) + 2) + payload


def srgb_profile():
    """The sRGB ICC profile embedded in metadata.jpg (made by libvips)."""
    for marker, payload in jpeg_segments(read_image("metadata.jpg")):
        if marker == 0xE2 and payload.startswith(b"ICC_PROFILE\x00"):
            return payload[14:]
    raise ValueError("metadata.jpg has no ICC profile")


# ---------------------------------------------------------------------------------------------
# Cases

class HostileTestCase(ServiceTestCase):

    def assertRejected(self, response, message):
        """400 {"messages":[{"path":"image","message": message}]}."""
        messages = self.assertMessages(response, ["image"])
        self.assertEqual(messages[0]["message"], message)

    def assertStillServing(self):
        """Alive, and a normal upload then a freshly computed variant work."""
        self.assertEqual(self.svc.request("GET", "/healthz")[0], 200)
        image_id = self.assertUploaded(self.svc.upload_raw(CONTROL_PNG, "image/png"))
        status, headers, body = self.svc.request("GET", "/v1/image/%s/jpeg?Size=160" % image_id)
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(headers.get("content-type"), "image/jpeg")
        self.assertEqual(jpeg_size(body), (160, 120))

    def assertRejectedAtUpload(self, data, content_type, message):
        """Rejected from the raw bytes and from a JSON data URL alike."""
        self.assertRejected(self.svc.upload_raw(data, content_type), message)
        self.assertRejected(self.svc.upload_json(data_url(data, content_type)), message)
        self.assertStillServing()

    def assertStoredButUndecodable(self, data, content_type, truncated=False):
        """Accepted (the header is fine) and served back as stored; every variant that must be
        decoded answers 400, on both read routes, and again on a second request."""
        image_id = self.assertUploaded(self.svc.upload_raw(data, content_type))
        self.assertEqual(self.read_original(image_id), (content_type, data))
        for path in ("/v1/image/%s?Size=160", "/v1/image/%s/jpeg?Size=160",
                     "/images/%s?Size=320", "/v1/image/%s?Size=160"):
            with self.subTest(path=path):
                self.assertRejected(self.svc.request("GET", path % image_id), STORED_UNDECODABLE)
        if truncated and content_type == "image/jpeg":
            # 1200 fits the 600x450 original: a complete plain JPEG would pass through as it is,
            # but one cut short (no end-of-image marker) is decoded, and fails.
            response = self.svc.request("GET", "/v1/image/%s/jpeg?Size=1200" % image_id)
            self.assertRejected(response, STORED_UNDECODABLE)
        self.assertStillServing()


class CorruptImageTest(HostileTestCase):

    # -- truncated -------------------------------------------------------------------------

    def test_truncated_jpeg_png_gif_are_stored_but_never_decoded(self):
        for name, mime in (("snake.jpg", "image/jpeg"), ("snake-progressive.jpg", "image/jpeg"),
                           ("snake.png", "image/png"), ("snake.gif", "image/gif")):
            data = read_image(name)
            for fraction in (0.5, 0.9):
                with self.subTest(image=name, kept=fraction):
                    self.assertStoredButUndecodable(data[:int(len(data) * fraction)], mime,
                                                    truncated=True)

    def test_truncated_webp_is_rejected_at_upload(self):
        # libwebp checks the RIFF size against the bytes when it reads the header.
        webp = read_image("sample.webp")
        for fraction in (0.5, 0.9):
            with self.subTest(kept=fraction):
                self.assertRejectedAtUpload(webp[:int(len(webp) * fraction)], "image/webp",
                                            HEADER_CORRUPT)

    # -- damaged headers: refused at upload ------------------------------------------------

    def test_damaged_headers_are_rejected_at_upload(self):
        jpeg, png, webp, gif = (read_image(n) for n in
                                ("snake.jpg", "snake.png", "sample.webp", "snake.gif"))
        dht = segment_offset(jpeg, 0xC4)
        sof = segment_offset(jpeg, 0xC0)
        sos = segment_offset(jpeg, 0xDA)
        dqt = segment_offset(jpeg, 0xDB)
        cases = {
            "jpeg: Huffman table counts of 255": (patched(jpeg, dht + 5, b"\xff" * 16),
                                                 "image/jpeg"),
            "jpeg: frame of 0 components": (patched(jpeg, sof + 9, b"\x00"), "image/jpeg"),
            "jpeg: quantisation table of precision 3": (patched(jpeg, dqt + 4, b"\x35"),
                                                        "image/jpeg"),
            "jpeg: scan of an unknown component": (patched(jpeg, sos + 5, b"\x77"),
                                                   "image/jpeg"),
            "png: IHDR CRC": (flipped(png, 29), "image/png"),
            "webp: RIFF size past the end": (patched(webp, 4, struct.pack("<I", 4 * len(webp))),
                                             "image/webp"),
            "gif: LZW code size 12": (patched(gif, gif_lzw_offset(gif), b"\x0c"), "image/gif"),
        }
        for name, (data, mime) in cases.items():
            with self.subTest(case=name):
                self.assertRejectedAtUpload(data, mime, HEADER_CORRUPT)

    # -- damaged pixel data: stored, never decoded -----------------------------------------

    def test_damaged_data_is_stored_but_never_decoded(self):
        jpeg, png, webp, gif = (read_image(n) for n in
                                ("snake.jpg", "snake.png", "sample.webp", "snake.gif"))
        sos = segment_offset(jpeg, 0xDA)
        idat = png.find(b"IDAT")
        lzw = gif_lzw_offset(gif)
        half = len(jpeg) // 2
        progressive = read_image("snake-progressive.jpg")
        progressive_half = len(progressive) // 2
        cases = {
            "jpeg: second half zeroed (no end marker)": (jpeg[:half] + bytes(len(jpeg) - half),
                                                         "image/jpeg"),
            "jpeg: scan names Huffman tables 5": (patched(jpeg, sos + 6, b"\x55"), "image/jpeg"),
            "progressive jpeg: second half zeroed": (
                progressive[:progressive_half] + bytes(len(progressive) - progressive_half),
                "image/jpeg"),
            "png: IDAT byte flipped (CRC)": (flipped(png, idat + 100), "image/png"),
            "png: zlib header zeroed": (patched(png, idat + 4, b"\x00\x00"), "image/png"),
            "webp: lossless bitstream flipped": (flipped(webp, 30), "image/webp"),
            "webp: lossless transform bits flipped": (flipped(webp, 25), "image/webp"),
            "gif: LZW data of 0xFF": (patched(gif, lzw + 2, b"\xff" * 38), "image/gif"),
        }
        for name, (data, mime) in cases.items():
            with self.subTest(case=name):
                self.assertStoredButUndecodable(data, mime)


class BombTest(HostileTestCase):

    def test_30000x30000_png_of_a_few_kb(self):
        png = huge_png(30000, 30000, rows=32)  # 2.9 MB of zeros in a few KB; the rest missing
        self.assertLess(len(png), 8000)
        self.assertRejectedAtUpload(png, "image/png",
                                    "image is 30000x30000, over the 50000000 pixel limit")

    def test_complete_30000x30000_png(self):
        # Every row present (1-bit grey): a valid image that would decode to 900 megapixels.
        png = huge_png(30000, 30000, rows=30000, bit_depth=1, colour_type=0)
        self.assertLess(len(png), 200_000)
        self.assertRejectedAtUpload(png, "image/png",
                                    "image is 30000x30000, over the 50000000 pixel limit")

    def test_1000_frame_gif(self):
        gif = animated_gif(1000)
        self.assertLess(len(gif), 25_000)
        self.assertRejectedAtUpload(gif, "image/gif",
                                    "image has 1000 frames, over the 500 frame limit")

    def test_default_frame_limit_at_its_edge(self):
        image_id = self.assertUploaded(self.svc.upload_raw(animated_gif(500), "image/gif"))
        status, _, body = self.svc.request("GET", "/images/%s/jpeg?Size=160" % image_id)
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(jpeg_size(body), (1, 1))  # the first frame
        self.assertRejectedAtUpload(animated_gif(501), "image/gif",
                                    "image has 501 frames, over the 500 frame limit")


class OddIccProfileTest(HostileTestCase):
    """A CMYK JPEG (tests/images/cmyk.jpg, no profile of its own) given unusable ICC profiles in
    an APP2 segment: libvips ignores each of them, and the variant is byte for byte the one of
    the same image without a profile (built-in CMYK profile, then sRGB)."""

    def variant(self, data):
        image_id = self.assertUploaded(self.svc.upload_raw(data, "image/jpeg"))
        status, headers, body = self.svc.request("GET", "/v1/image/%s/jpeg?Size=160" % image_id)
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(headers.get("content-type"), "image/jpeg")
        return body

    def test_unusable_profiles_are_ignored(self):
        cmyk = read_image("cmyk.jpg")
        self.assertEqual(jpeg_info(cmyk), (600, 450, 4))
        self.assertNotIn(0xE2, [marker for marker, _ in jpeg_segments(cmyk)])
        expected = self.variant(cmyk)
        self.assertEqual(jpeg_info(expected), (160, 120, 3))
        srgb = srgb_profile()
        mislabelled = bytearray(srgb)
        mislabelled[16:20] = b"CMYK"  # the colour space field lies; the tags are RGB ones
        profiles = {
            "random bytes": [icc_segment(bytes(random.Random(5).randrange(256)
                                               for _ in range(300)))],
            "an RGB profile": [icc_segment(srgb)],
            "an RGB profile labelled CMYK": [icc_segment(bytes(mislabelled))],
            "a profile cut short": [icc_segment(srgb[:200])],
            "a declared size past the data": [icc_segment(struct.pack(">I", 100000) + srgb[4:])],
            "an empty profile": [icc_segment(b"")],
            "chunk 2 of 3 alone": [icc_segment(srgb, 2, 3)],
            "chunk number 0 of 0": [icc_segment(srgb, 0, 0)],
            "chunk 1 of 2 twice": [icc_segment(srgb[:3000], 1, 2), icc_segment(srgb[3000:], 1, 2)],
        }
        for name, segments in profiles.items():
            with self.subTest(profile=name):
                data = cmyk[:2] + b"".join(segments) + cmyk[2:]
                self.assertEqual(self.variant(data), expected)
                self.assertStillServing()


class WrongContentTypeTest(HostileTestCase):

    def post(self, body, content_type):
        return self.svc.request("POST", "/v1/image", body,
                                self.svc.auth(headers={"Content-Type": content_type}))

    def test_json_body_under_other_types(self):
        body = json.dumps({"image": data_url(read_image("snake.jpg"), "image/jpeg")}).encode()
        for content_type, message in (("text/plain", UNSUPPORTED_TYPE),
                                      ("application/xml", UNSUPPORTED_TYPE),
                                      ("multipart/form-data; boundary=x", UNSUPPORTED_TYPE),
                                      ("application/x-www-form-urlencoded", UNSUPPORTED_TYPE),
                                      ("", UNSUPPORTED_TYPE),
                                      # an image type means raw bytes: JSON text is no image
                                      ("image/png", NOT_AN_IMAGE),
                                      ("application/octet-stream", NOT_AN_IMAGE)):
            with self.subTest(content_type=content_type):
                self.assertRejected(self.post(body, content_type), message)
                self.assertStillServing()

    def test_image_bytes_under_other_types(self):
        jpeg = read_image("snake.jpg")
        for content_type, message in (("application/json", "body is not valid JSON"),
                                      ("text/plain", UNSUPPORTED_TYPE),
                                      ("text/html; charset=utf-8", UNSUPPORTED_TYPE)):
            with self.subTest(content_type=content_type):
                self.assertRejected(self.post(jpeg, content_type), message)
                self.assertStillServing()

    def test_declared_image_type_is_never_trusted(self):
        # The contract: the format is sniffed from the bytes, whatever the declared type says.
        jpeg = read_image("snake.jpg")
        for content_type in ("image/png", "image/gif", "image/heic", "application/octet-stream"):
            with self.subTest(content_type=content_type):
                image_id = self.assertUploaded(self.post(jpeg, content_type))
                self.assertEqual(self.read_original(image_id), ("image/jpeg", jpeg))
        self.assertStillServing()


class HostileJsonTest(HostileTestCase):

    def post(self, body):
        return self.svc.request("POST", "/v1/image", body,
                                self.svc.auth(headers={"Content-Type": "application/json"}))

    def test_deep_nesting(self):
        depth = 100_000
        cases = {
            "100000 [ alone": (b"[" * depth, "body must be a JSON object"),
            "100000 [ ] closed": (b"[" * depth + b"]" * depth, "body must be a JSON object"),
            "image: 100000 [ unclosed": (b'{"image":' + b"[" * depth, "body is not valid JSON"),
            "image: 100000 [ ] closed": (b'{"image":' + b"[" * depth + b"]" * depth + b"}",
                                         "image must be a string"),
            "image: 50000 objects": (b'{"image":' + b'{"a":' * 50_000 + b"1" + b"}" * 50_001,
                                     "image must be a string"),
            "100000 { unclosed": (b'{"a":' * depth, "body is not valid JSON"),
        }
        for name, (body, message) in cases.items():
            with self.subTest(case=name):
                self.assertRejected(self.post(body), message)
                self.assertStillServing()

    def test_deep_nesting_beside_the_image_is_valid_json(self):
        # Valid JSON with a deep field the service ignores: accepted, with no recursion to blow.
        image = json.dumps(data_url(read_image("snake.jpg"), "image/jpeg")).encode()
        for deep in (b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000):
            with self.subTest(deep=deep[:5]):
                self.assertUploaded(self.post(b'{"deep":' + deep + b',"image":' + image + b"}"))
                self.assertStillServing()

    def test_huge_numbers(self):
        for number in (b"9" * 100_000, b"1e999999999", b"-1e-999999999",
                       b"-" + b"9" * 5000 + b".5e-99999", b"18446744073709551616"):
            with self.subTest(number=number[:20]):
                self.assertRejected(self.post(b'{"image":' + number + b"}"),
                                    "image must be a string")
                # Valid JSON beside the image: the number is never needed, the upload stands.
                image = json.dumps(data_url(read_image("snake.jpg"), "image/jpeg")).encode()
                self.assertUploaded(self.post(b'{"n":' + number + b',"image":' + image + b"}"))
                # A later duplicate wins, as with JSON.parse: a number is no image.
                self.assertRejected(self.post(b'{"image":' + image + b',"image":' + number + b"}"),
                                    "image must be a string")
                self.assertStillServing()


class LimitEdgeTest(HostileTestCase):
    """Pixel and frame limits at their edge, set by flag (--max-pixels) and by environment
    (IMAGE_MAX_FRAMES).

    The image at the pixel limit is the packaged progressive JPEG (600x450, 4:4:4 sampling) with
    597x451 written in its frame header: both sizes need the same 75x57 blocks of 8x8, so the
    scans decode exactly as before and the file is a valid progressive JPEG of 269247 pixels."""

    LIMIT = 597 * 451
    service_args = ("--max-pixels", str(LIMIT))

    @classmethod
    def setUpClass(cls):
        cls._saved_frames = os.environ.get("IMAGE_MAX_FRAMES")
        os.environ["IMAGE_MAX_FRAMES"] = "3"
        cls.addClassCleanup(cls._restore_environment)
        super().setUpClass()

    @classmethod
    def _restore_environment(cls):
        if cls._saved_frames is None:
            os.environ.pop("IMAGE_MAX_FRAMES", None)
        else:
            os.environ["IMAGE_MAX_FRAMES"] = cls._saved_frames

    def progressive(self):
        jpeg = read_image("snake-progressive.jpg")
        sof = segment_offset(jpeg, 0xC2)
        (length,) = struct.unpack(">H", jpeg[sof + 2:sof + 4])
        frame = jpeg[sof + 4:sof + 2 + length]
        self.assertEqual(struct.unpack(">BHHB", frame[:6]), (8, 450, 600, 3))
        self.assertEqual([frame[7 + 3 * i] for i in range(3)], [0x11] * 3, "4:4:4 sampling")
        return jpeg

    def test_progressive_jpeg_at_the_pixel_limit_is_accepted_and_renders(self):
        at_limit = with_sof_size(self.progressive(), 597, 451)
        image_id = self.assertUploaded(self.svc.upload_raw(at_limit, "image/jpeg"))
        for size, expected in ((160, (160, 121)), (320, (320, 242))):
            with self.subTest(size=size):
                status, _, body = self.svc.request("GET",
                                                   "/v1/image/%s/jpeg?Size=%d" % (image_id, size))
                self.assertEqual(status, 200, body[:300])
                self.assertTrue(is_jpeg(body))
                self.assertEqual(jpeg_size(body), expected)
        self.assertStillServing()

    def test_progressive_jpeg_one_pixel_over_is_rejected(self):
        # 601 x 448 = 269248: rejected from the header, before any scan is read.
        over = with_sof_size(self.progressive(), 601, 448)
        self.assertRejectedAtUpload(over, "image/jpeg",
                                    "image is 601x448, over the %d pixel limit" % self.LIMIT)
        # The real file, 600x450, is over as well.
        self.assertRejectedAtUpload(self.progressive(), "image/jpeg",
                                    "image is 600x450, over the %d pixel limit" % self.LIMIT)

    def test_frame_limit_from_the_environment(self):
        for gif in (animated_gif(3), read_image("animated.gif")):  # 3 frames each
            self.assertUploaded(self.svc.upload_raw(gif, "image/gif"))
        self.assertRejectedAtUpload(animated_gif(4), "image/gif",
                                    "image has 4 frames, over the 3 frame limit")

    def test_control_image_is_within_the_limits(self):
        self.assertLessEqual(200 * 150, self.LIMIT)
        self.assertStillServing()


if __name__ == "__main__":
    unittest.main()
