"""/metrics: the Prometheus text format, exact request counts per route and status, route
labels without ids, and no token in the metrics or the log."""

import re
import time
import unittest
import uuid

from harness import ServiceTestCase, read_image, requests_series


class MetricsTest(ServiceTestCase):

    def wait_for_deltas(self, before, expected, timeout=60.0):
        """Access records are counted just after the response is sent: poll until the counts
        are as expected (the timeout only guards against a hang; a busy machine is slower)."""
        deadline = time.monotonic() + timeout
        while True:
            after = self.svc.metrics()
            deltas = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in expected}
            if deltas == expected or time.monotonic() >= deadline:
                return deltas
            time.sleep(0.05)

    def test_metrics_format(self):
        before = self.svc.metrics()
        self.assertEqual(self.svc.request("GET", "/healthz")[0], 200)
        series = requests_series("/healthz", 200)
        self.wait_for_deltas(before, {series: 1.0})
        status, headers, body = self.svc.request("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/plain"), headers)
        text = body.decode()
        self.assertIn("# TYPE imagecpp_http_requests_total counter", text)
        self.assertRegex(text, r'(?m)^imagecpp_http_requests_total\{route="[^"]+",'
                               r'status="\d{3}"\} \d+')

    def test_request_counts_are_exact(self):
        image_id = self.svc.upload(read_image("snake.jpg"))
        before = self.svc.metrics()
        for _ in range(3):
            self.assertEqual(self.svc.request("GET", "/healthz")[0], 200)
        for _ in range(2):
            self.assertEqual(self.svc.request("GET", "/v1/image/" + image_id)[0], 200)
        self.assertEqual(self.svc.request("GET", "/v1/image/" + str(uuid.uuid4()))[0], 404)
        self.assertEqual(self.svc.request("GET", "/images/%s?Size=5" % image_id)[0], 400)
        self.assertEqual(self.svc.request("POST", "/v1/image", b"{}")[0], 401)
        expected = {requests_series("/healthz", 200): 3.0,
                    requests_series("/v1/image/{id}", 200): 2.0,
                    requests_series("/v1/image/{id}", 404): 1.0,
                    requests_series("/images/{id}", 400): 1.0,
                    requests_series("/v1/image", 401): 1.0}
        self.assertEqual(self.wait_for_deltas(before, expected), expected)

    def test_route_labels_carry_no_ids(self):
        image_id = self.svc.upload(read_image("snake.jpg"))
        self.svc.request("GET", "/v1/image/" + image_id)
        self.svc.request("GET", "/some/random/path/" + uuid.uuid4().hex)
        text = self.svc.request("GET", "/metrics")[2].decode()
        self.assertNotIn(image_id, text)
        self.assertIsNone(re.search(r"[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-", text))

    def test_no_token_in_metrics_or_logs(self):
        jpeg = read_image("snake.jpg")
        for token in self.svc.tokens:
            self.svc.upload(jpeg, token=token)
        stranger = "tok-stranger-" + uuid.uuid4().hex
        self.assertEqual(self.svc.upload_raw(jpeg, token=stranger)[0], 401)
        self.svc.request("GET", "/healthz", headers={"Authorization": "Bearer " + stranger})
        # Let the access lines of those requests be written.
        marker = "flush-" + uuid.uuid4().hex
        self.svc.request("GET", "/healthz", headers={"correlation_id": marker})
        self.assertTrue(self.svc.wait_for_log(marker))
        metrics = self.svc.request("GET", "/metrics")[2].decode()
        log = self.svc.log()
        for token in list(self.svc.tokens) + [stranger]:
            self.assertNotIn(token, metrics)
            self.assertNotIn(token, log)


if __name__ == "__main__":
    unittest.main()
