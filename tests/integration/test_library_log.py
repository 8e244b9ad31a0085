"""libvips' and GLib's messages are lines of the service's log, in its format (text or JSON), and
every line of the log has one time format (ISO 8601, UTC, milliseconds): GLib's own
"(process:N): VIPS-WARNING **: 12:42:10.720: ..." lines on stderr never appear."""

import json
import re
import unittest

from harness import Service, read_image

TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
TEXT_LINE = re.compile(r"^%s (access|trace|debug|info|warning|error|critical) " % TIME)


class LibraryLogTextTest(unittest.TestCase):
    log_format = "text"

    def service_log_with_a_libvips_warning(self):
        """The lines of a service that decoded a JPEG cut short (libvips warns "error in
        tile"), stopped so that every buffered line is out."""
        with Service(("--log-format", self.log_format)) as svc:
            jpeg = read_image("snake.jpg")
            status, _, body = svc.upload_raw(jpeg[:len(jpeg) // 2], "image/jpeg")
            self.assertEqual(status, 200, body)
            image_id = json.loads(body)["id"]
            status, _, body = svc.request("GET", "/v1/image/%s?Size=160" % image_id)
            self.assertEqual(status, 400, body)
            self.assertEqual(svc.stop(), 0)
            log = svc.log()
        self.assertNotIn("VIPS-WARNING", log)
        self.assertNotIn(" **: ", log)  # GLib's own format, any domain
        # The harness writes "=== start" markers between runs.
        return [l for l in log.splitlines() if l and not l.startswith("=== start")]

    def test_a_libvips_warning_is_a_line_in_the_service_format(self):
        lines = self.service_log_with_a_libvips_warning()
        for line in lines:
            self.assertRegex(line, TEXT_LINE)
        warnings = [l for l in lines if re.match(r"^%s warning VIPS: \S" % TIME, l)]
        self.assertTrue(warnings, "\n".join(lines))
        self.assertTrue(any(" access GET /v1/image/" in l for l in lines), "\n".join(lines))


class LibraryLogJsonTest(LibraryLogTextTest):
    log_format = "json"

    def test_a_libvips_warning_is_a_line_in_the_service_format(self):
        lines = self.service_log_with_a_libvips_warning()
        entries = [json.loads(l) for l in lines]  # every line is one JSON object
        for entry in entries:
            self.assertRegex(entry["time"], "^%s$" % TIME)
        warnings = [e for e in entries
                    if e.get("level") == "warning" and re.match(r"^VIPS: \S", e.get("msg", ""))]
        self.assertTrue(warnings, "\n".join(lines))
        self.assertTrue(any(e.get("path", "").startswith("/v1/image/") for e in entries), lines)


if __name__ == "__main__":
    unittest.main()
