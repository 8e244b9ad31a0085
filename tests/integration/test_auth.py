"""Remote auth against the auth service double: the token cache (hits, TTL, LRU bound, single
flight), rejections (remembered briefly; more in test_auth_limits.py), an auth service that is
down (refused, 500, timeout) giving 503 and recovering, keep-alive, public and private reads."""

import json
import threading
import time
import unittest

from auth_double import AuthDouble
from harness import check_wall_time, read_image
from remote_service import RemoteService, new_token


class RemoteAuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.double = AuthDouble(slow_seconds=2.0, lag_seconds=0.3)
        cls.addClassCleanup(cls.double.close)
        cls.svc = RemoteService(cls.double.url, ["--auth-timeout-ms", "700"])
        cls.addClassCleanup(cls.svc.close)

    def setUp(self):
        self.double.up()

    def test_a_valid_token_is_asked_once_then_cached(self):
        token = new_token()
        status, _, body = self.svc.upload_tiny(token)
        self.assertEqual(status, 200, body)
        self.assertEqual(self.svc.auth_status(token), 400)
        self.assertEqual(self.svc.upload_tiny(token)[0], 200)
        self.assertEqual(self.double.call_count(token), 1)

    def test_rejections_are_401_and_remembered(self):
        for token in (new_token("unknown"), new_token("forbidden"), new_token("notfound")):
            with self.subTest(token=token.split("-")[0]):
                status, headers, body = self.svc.upload_tiny(token)
                self.assertEqual(status, 401, body)
                self.assertEqual(json.loads(body), {"error": "Unauthorized"})
                self.assertEqual(self.svc.auth_status(token), 401)
                self.assertEqual(self.double.call_count(token), 1)

    def test_no_token_or_another_scheme_asks_nobody(self):
        before = self.double.total_calls()
        self.assertEqual(self.svc.auth_status("", header="Basic dXNlcjpwYXNz"), 401)
        status, _, _ = self.svc.request("POST", "/v1/image", b"{}",
                                        {"Content-Type": "application/json"})
        self.assertEqual(status, 401)
        self.assertEqual(self.double.total_calls(), before)

    def test_bearer_scheme_in_any_case(self):
        token = new_token()
        self.assertEqual(self.svc.auth_status(token, header="bEaReR " + token), 400)
        self.assertEqual(self.svc.auth_status(token, header="BEARER " + token), 400)
        self.assertEqual(self.double.call_count(token), 1)

    def test_concurrent_first_uses_make_one_call(self):
        token = new_token("lag")  # the double answers after 0.3 s: every request overlaps
        statuses = []
        lock = threading.Lock()

        # Uploads with an empty body: authenticated (400) or not, and nothing is stored (20
        # concurrent real uploads are the image store's test, not this one's).
        def upload():
            status = self.svc.auth_status(token)
            with lock:
                statuses.append(status)

        threads = [threading.Thread(target=upload) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(statuses, [400] * 20)
        self.assertEqual(self.double.call_count(token), 1)

    def test_auth_service_refusing_connections_is_503_then_recovers(self):
        cached, fresh = new_token(), new_token()
        self.assertEqual(self.svc.auth_status(cached), 400)
        self.double.down()
        status, headers, body = self.svc.upload_tiny(fresh)
        self.assertEqual(status, 503, body)
        self.assertIn("retry-after", headers)
        self.assertEqual(self.svc.auth_status(cached), 400, "a cached token needs no call")
        self.double.up()
        self.assertEqual(self.svc.upload_tiny(fresh)[0], 200)

    def test_auth_service_500_is_503_then_recovers(self):
        token = new_token()
        self.double.set_mode(token, "fail")
        self.assertEqual(self.svc.auth_status(token), 503)
        self.assertEqual(self.svc.auth_status(token), 503)
        self.assertEqual(self.double.call_count(token), 2, "a 503 is never cached")
        self.double.set_mode(token, None)
        self.assertEqual(self.svc.auth_status(token), 400)

    def test_auth_service_timeout_is_503_then_recovers(self):
        token = new_token()
        self.double.set_mode(token, "slow")
        start = time.monotonic()
        self.assertEqual(self.svc.auth_status(token), 503)
        took = time.monotonic() - start
        self.assertGreaterEqual(took, 0.6)
        check_wall_time(self, took, 1.8)
        self.double.set_mode(token, None)
        self.assertEqual(self.svc.auth_status(token), 400)

    def test_reads_stay_public(self):
        status, _, body = self.svc.upload_raw(read_image("snake.jpg"), token=new_token())
        self.assertEqual(status, 200, body)
        image_id = json.loads(body)["id"]
        self.assertEqual(self.svc.request("GET", "/v1/image/" + image_id)[0], 200)
        self.assertEqual(self.svc.request("GET", "/images/%s/jpeg" % image_id)[0], 200)

    def test_connections_to_the_auth_service_are_kept_alive(self):
        self.double.connections_seen.clear()
        for _ in range(10):
            self.svc.auth_status(new_token())
        self.assertLessEqual(len(self.double.connections_seen), 2)

    def test_metrics_count_cache_hits_and_calls(self):
        token = new_token()
        calls = self.svc.metric("imagecpp_auth_upstream_calls_total")
        hits = self.svc.metric("imagecpp_auth_cache_hits_total")
        self.svc.auth_status(token)
        self.svc.auth_status(token)
        self.assertEqual(self.svc.metric("imagecpp_auth_upstream_calls_total"), calls + 1)
        self.assertEqual(self.svc.metric("imagecpp_auth_cache_hits_total"), hits + 1)

    def test_tokens_never_reach_the_log(self):
        token = new_token("fail")
        self.svc.auth_status(token)
        self.svc.auth_status(new_token("unknown"))
        self.assertTrue(self.svc.wait_for_log("auth service"))
        self.assertNotIn(token, self.svc.log())
        self.assertNotIn(token.split("-", 1)[1], self.svc.log())


class PrivateReadsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.double = AuthDouble()
        cls.addClassCleanup(cls.double.close)
        cls.svc = RemoteService(cls.double.url, ["--private-reads"])
        cls.addClassCleanup(cls.svc.close)

    def test_reads_need_a_valid_token(self):
        token = new_token()
        status, _, body = self.svc.upload_raw(read_image("snake.jpg"), token=token)
        self.assertEqual(status, 200, body)
        path = "/v1/image/" + json.loads(body)["id"]
        self.assertEqual(self.svc.request("GET", path)[0], 401)
        self.assertEqual(self.svc.request("GET", path, headers=self.svc.auth(new_token("no")))[0],
                         401)
        self.assertEqual(self.svc.request("GET", path, headers=self.svc.auth(token))[0], 200)
        self.assertEqual(self.double.call_count(token), 1)


class CacheTtlTest(unittest.TestCase):
    def test_an_expired_token_is_verified_again(self):
        with AuthDouble() as double, RemoteService(double.url, ["--auth-cache-ttl", "1"]) as svc:
            token = new_token()
            self.assertEqual(svc.auth_status(token), 400)
            self.assertEqual(svc.auth_status(token), 400)
            self.assertEqual(double.call_count(token), 1)
            time.sleep(1.2)
            self.assertEqual(svc.auth_status(token), 400)
            self.assertEqual(double.call_count(token), 2)


class CacheSizeTest(unittest.TestCase):
    def test_the_least_recently_used_token_is_evicted(self):
        with AuthDouble() as double, RemoteService(double.url, ["--auth-cache-size", "2"]) as svc:
            first, second, third = new_token(), new_token(), new_token()
            for token in (first, second, third):
                self.assertEqual(svc.auth_status(token), 400)
            self.assertEqual(svc.auth_status(third), 400)
            self.assertEqual(double.call_count(third), 1)
            self.assertEqual(svc.auth_status(first), 400)
            self.assertEqual(double.call_count(first), 2, "evicted by the third token")


class StartupTest(unittest.TestCase):
    def test_a_bad_auth_service_url_fails_at_startup(self):
        from harness import ServiceError
        with self.assertRaises(ServiceError):
            RemoteService("ftp://nowhere").close()


if __name__ == "__main__":
    unittest.main()
