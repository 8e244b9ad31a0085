"""Log lines cannot be forged by outside bytes: request paths, headers and the user id the auth
service returns reach the log escaped (control and invalid UTF-8 bytes as \\xHH), capped, one
line per request, in text and in JSON lines (always valid JSON)."""

import json
import re
import secrets
import time
import unittest

from auth_double import AuthDouble
from harness import ServiceTestCase, raw_request
from remote_service import RemoteService

RAW_CONTROL = re.compile(rb"[\x00-\x09\x0b-\x1f\x7f]")  # anything but the line feed


def escaped(value, spaces):
    """The service's escaping of an ASCII value (see src/log/escape.hpp)."""
    out = ""
    for c in value:
        if c == "\\":
            out += "\\\\"
        elif ord(c) < 0x20 or ord(c) == 0x7F or (c == " " and spaces):
            out += "\\x%02x" % ord(c)
        else:
            out += c
    return out


class LogChecks:
    """Assertions on the service log, for a class with `svc` and `log_format`."""

    log_format = "text"

    def log_bytes(self):
        with open(self.svc.log_path, "rb") as f:
            return f.read()

    def assertLogClean(self):
        data = self.log_bytes()
        self.assertIsNone(RAW_CONTROL.search(data), data[-2000:])
        text = data.decode("utf-8")  # strict: raises on any invalid UTF-8
        if self.log_format == "json":
            for line in text.splitlines():
                if line and not line.startswith("==="):  # the harness's start markers
                    json.loads(line)

    def access_line(self, correlation_id):
        """The one access line of the request with this correlation id (a dict in JSON)."""
        self.assertTrue(self.svc.wait_for_log(correlation_id), self.svc.log()[-2000:])
        lines = [l for l in self.svc.log().splitlines() if correlation_id in l]
        self.assertEqual(len(lines), 1, lines)
        return json.loads(lines[0]) if self.log_format == "json" else lines[0]

    def assertField(self, line, name, raw_value):
        """`name` of the access line is `raw_value` escaped as the format escapes it."""
        if self.log_format == "json":
            self.assertEqual(line[name], escaped(raw_value, spaces=False))
        else:
            expected = escaped(raw_value, spaces=True)
            if name == "path":
                self.assertRegex(line, r" access \S+ %s route=" % re.escape(expected))
            else:
                self.assertRegex(line, r" %s=%s( |$)" % (name, re.escape(expected)))


class RequestLogTextTest(LogChecks, ServiceTestCase):
    service_args = ("--log-format", "text")
    log_format = "text"

    def get(self, path, headers=None):
        cid = "c-" + secrets.token_hex(8)
        h = {"correlation_id": cid}
        h.update(headers or {})
        status, _, _ = raw_request(self.svc.port, "GET", path, h)
        return status, cid

    def test_an_access_line_has_every_field_in_its_place(self):
        status, cid = self.get("/healthz?probe=1")
        self.assertEqual(status, 200)
        line = self.access_line(cid)
        time = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
        if self.log_format == "json":
            self.assertRegex(line["time"], "^%s$" % time)
            self.assertEqual((line["method"], line["path"], line["route"], line["status"]),
                             ("GET", "/healthz", "/healthz", 200))
            self.assertEqual(line["bytes"], len(b'{"status":"ok"}'))
            self.assertIsInstance(line["duration_ms"], (int, float))
            self.assertGreaterEqual(line["duration_ms"], 0)
            self.assertEqual(line["correlation_id"], cid)
            self.assertNotIn("user", line)
        else:
            self.assertRegex(
                line, r"^%s access GET /healthz route=/healthz status=200 bytes=15 "
                r"duration_ms=\d+\.\d\d correlation_id=%s$" % (time, re.escape(cid)))

    def test_invalid_utf8_and_8bit_csi_in_the_path_are_escaped(self):
        status, cid = self.get("/v1/image/\xff\x9b2J\xc3(")  # sent as single bytes (latin-1)
        self.assertEqual(status, 400)
        line = self.access_line(cid)
        path = "/v1/image/\\xff\\x9b2J\\xc3("
        if self.log_format == "json":
            self.assertEqual(line["path"], path)
        else:
            self.assertIn(" %s route=" % path, line)
        self.assertLogClean()

    def test_valid_utf8_in_the_path_is_kept(self):
        status, cid = self.get("/v1/image/caf\xc3\xa9")  # the UTF-8 bytes of "café"
        self.assertEqual(status, 400)
        line = self.access_line(cid)
        if self.log_format == "json":
            self.assertEqual(line["path"], "/v1/image/café")
        else:
            self.assertIn(" /v1/image/café route=", line)
        self.assertLogClean()

    def test_a_backslash_in_the_path_cannot_pose_as_an_escape(self):
        status, cid = self.get("/v1/image/\\x1b[2J")
        self.assertIn(status, (400, 404))
        self.assertField(self.access_line(cid), "path", "/v1/image/\\x1b[2J")
        self.assertLogClean()

    def test_a_long_path_is_cut_with_a_marker(self):
        path = "/v1/image/" + "a" * 5000
        status, cid = self.get(path)
        self.assertEqual(status, 400)
        line = self.access_line(cid)
        logged = path[:1024] + "...[cut:%d-bytes]" % len(path)
        if self.log_format == "json":
            self.assertEqual(line["path"], logged)
        else:
            self.assertIn(" %s route=" % logged, line)
        self.assertLogClean()

    def test_control_bytes_in_the_request_never_reach_the_log(self):
        # The HTTP parser refuses these requests (400, logged as route "unparsed" with no path);
        # whatever it does, the bytes must not reach the log raw.
        before = self.svc.log().count("unparsed")
        for path in ("/v1/image/\x1b[2J", "/a\x07b", "/a\x7fb"):
            status, _ = self.get(path)
            self.assertEqual(status, 400, path)
        status, cid = self.get("/healthz", {"X-Any": "a\x1b[2Jb", "correlation_id": "c\x1b[2J"})
        self.assertIn(status, (200, 400))
        deadline = time.monotonic() + 5
        while self.svc.log().count("unparsed") < before + 3:  # flushed once a second
            self.assertLess(time.monotonic(), deadline, self.svc.log()[-2000:])
            time.sleep(0.05)
        self.assertLogClean()


class RequestLogJsonTest(RequestLogTextTest):
    service_args = ("--log-format", "json")
    log_format = "json"


class UserIdLogTextTest(LogChecks, unittest.TestCase):
    """The user id comes from the auth service's answer. One that is not 1-256 printable ASCII
    characters is the auth service's fault (503) and never logged as a user; whatever it held,
    a newline included, never makes a line of its own (the escaper, unit-tested, is the second
    line of defence for the ids that pass)."""

    log_format = "text"

    @classmethod
    def setUpClass(cls):
        cls.double = AuthDouble()
        cls.addClassCleanup(cls.double.close)
        cls.svc = RemoteService(cls.double.url, ["--log-format", cls.log_format])
        cls.addClassCleanup(cls.svc.close)

    def authenticated_request(self, user_id):
        token = self.double.add_user("valid-" + secrets.token_hex(8), user_id)
        cid = "c-" + secrets.token_hex(8)
        # An upload with an empty body: 400 once authenticated (nothing stored).
        status, _, _ = self.svc.request("POST", "/v1/image", b"", {
            "Authorization": "Bearer " + token, "Content-Type": "application/json",
            "correlation_id": cid})
        return status, cid

    def assertRefusedAndNotLogged(self, user):
        status, cid = self.authenticated_request(user)
        self.assertEqual(status, 503)
        line = self.access_line(cid)
        if self.log_format == "json":
            self.assertNotIn("user", line)
        else:
            self.assertNotIn(" user=", line)
        self.assertLogClean()

    def test_a_user_id_with_a_newline_and_escapes_stays_on_its_line(self):
        self.assertRefusedAndNotLogged(
            "evil\nFAKE access GET /v1/image status=200 user=admin\r\x1b[2J")
        self.assertFalse([l for l in self.svc.log().splitlines() if "FAKE" in l])

    def test_a_user_id_with_spaces_cannot_add_a_field(self):
        self.assertRefusedAndNotLogged("u1 status=999 bytes=0")

    def test_a_long_user_id_is_refused(self):
        self.assertRefusedAndNotLogged("u" * 300)

    def test_unicode_line_breaks_in_a_user_id_are_refused(self):
        self.assertRefusedAndNotLogged("u\u2028v\u0085w\u202ex")

    def test_a_valid_user_id_is_logged(self):
        status, cid = self.authenticated_request("user-42_a.b@shop")
        self.assertEqual(status, 400)
        self.assertField(self.access_line(cid), "user", "user-42_a.b@shop")
        self.assertLogClean()


class UserIdLogJsonTest(UserIdLogTextTest):
    log_format = "json"


if __name__ == "__main__":
    unittest.main()
