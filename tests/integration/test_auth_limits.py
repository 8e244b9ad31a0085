"""Remote auth under abuse, against the auth service double: a burst of distinct unknown tokens
while the auth service is slow (at most --auth-max-in-flight calls reach it, the rest answer 503
at once), rejected tokens remembered for --auth-rejected-ttl, and user ids from the auth service
that cannot be used (too long, a newline) answering 503 with one log line per burst."""

import threading
import time
import unittest

from auth_double import AuthDouble
from remote_service import RemoteService, new_token

MAX_IN_FLIGHT = 16
GENEROUS = 120.0  # a deadline for a failure only: nothing here is timed


def wait_until(condition, timeout=GENEROUS):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


class Burst:
    """Empty-body uploads with the given tokens, all at once, one thread and connection each:
    results are (token, status, retry-after header or None) as they come back."""

    def __init__(self, svc, tokens):
        self.results = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._check, args=(svc, t)) for t in tokens]
        for t in self._threads:
            t.start()

    def _check(self, svc, token):
        headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
        try:
            status, h, _ = svc.request("POST", "/v1/image", b"", headers, timeout=GENEROUS)
            result = (token, status, h.get("retry-after"))
        except OSError as e:
            result = (token, "error", repr(e))
        with self._lock:
            self.results.append(result)

    def done(self):
        with self._lock:
            return len(self.results)

    def so_far(self):
        """The results so far, without waiting."""
        with self._lock:
            return list(self.results)

    def join(self):
        for t in self._threads:
            t.join(GENEROUS)
        with self._lock:
            return list(self.results)


class InFlightLimitTest(unittest.TestCase):
    def setUp(self):
        self.double = AuthDouble()
        self.addCleanup(self.double.close)
        self.addCleanup(self.double.release)  # never leave a held call behind
        # The auth timeout is long: a held call must wait for release(), not time out.
        self.svc = RemoteService(self.double.url, ["--auth-max-in-flight", str(MAX_IN_FLIGHT),
                                                   "--auth-timeout-ms", "100000"])
        self.addCleanup(self.svc.close)

    def test_a_burst_of_unknown_tokens_on_a_slow_auth_service(self):
        tokens = [new_token("unknown") for _ in range(200)]
        refused_before = self.svc.metric("imagecpp_auth_upstream_refused_total")
        self.double.hold()
        burst = Burst(self.svc, tokens)
        # While the auth service holds every call, all but MAX_IN_FLIGHT checks are answered:
        # a refused check never waits for the auth service.
        refused = len(tokens) - MAX_IN_FLIGHT
        self.assertTrue(wait_until(lambda: burst.done() >= refused), "%d answers" % burst.done())
        self.assertTrue(wait_until(lambda: self.double.in_flight == MAX_IN_FLIGHT))
        self.assertEqual(self.svc.metric("imagecpp_auth_upstream_in_flight"), MAX_IN_FLIGHT)
        early = burst.so_far()
        self.assertEqual(len(early), refused)
        self.assertEqual({(status, retry_after) for _, status, retry_after in early}, {(503, "1")})
        self.double.release()
        results = burst.join()

        self.assertEqual(len(results), len(tokens))
        self.assertLessEqual(self.double.max_in_flight, MAX_IN_FLIGHT)
        self.assertEqual(self.double.total_calls(), MAX_IN_FLIGHT)
        statuses = [status for _, status, _ in results]
        self.assertEqual(statuses.count(401), MAX_IN_FLIGHT)
        self.assertEqual(statuses.count(503), refused)
        for token, status, retry_after in results:
            if status == 503:
                self.assertEqual(retry_after, "1")
            else:
                self.assertEqual(status, 401)
                self.assertEqual(self.double.call_count(token), 1)
        self.assertEqual(self.svc.metric("imagecpp_auth_upstream_refused_total"),
                         refused_before + refused)
        self.assertEqual(self.svc.metric("imagecpp_auth_upstream_in_flight"), 0)
        # Once the burst is over the auth service is asked again: refusals are not remembered.
        token = next(t for t, status, _ in results if status == 503)
        self.assertEqual(self.svc.auth_status(token), 401)
        self.assertEqual(self.double.call_count(token), 1)

    def test_concurrent_checks_of_one_token_take_one_place(self):
        token = new_token()
        others = [new_token("unknown") for _ in range(MAX_IN_FLIGHT - 1)]
        self.double.hold()
        # MAX_IN_FLIGHT distinct tokens, one of them checked ten times at once: all fit.
        burst = Burst(self.svc, [token] * 10 + others)
        self.assertTrue(wait_until(lambda: self.double.in_flight == MAX_IN_FLIGHT))
        self.double.release()
        results = burst.join()
        self.assertEqual([s for t, s, _ in results if t == token], [400] * 10)  # then no body
        self.assertEqual({s for t, s, _ in results if t != token}, {401})
        self.assertEqual(self.double.call_count(token), 1)
        self.assertEqual(self.svc.metric("imagecpp_auth_upstream_refused_total"), 0)


class RejectedTokensTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.double = AuthDouble()
        cls.addClassCleanup(cls.double.close)
        # A TTL no slow run can outlast: 40 checks twice must not see one expire.
        cls.svc = RemoteService(cls.double.url, ["--auth-rejected-ttl", "3600"])
        cls.addClassCleanup(cls.svc.close)

    def test_rejected_tokens_sent_again_ask_nobody(self):
        tokens = [new_token(("unknown", "forbidden", "notfound")[i % 3]) for i in range(40)]
        hits = self.svc.metric("imagecpp_auth_rejected_cache_hits_total")
        for token in tokens:
            self.assertEqual(self.svc.auth_status(token), 401)
        calls = self.double.total_calls()
        for token in tokens:
            self.assertEqual(self.svc.auth_status(token), 401)
        self.assertEqual(self.double.total_calls(), calls, "a remembered rejection asked again")
        self.assertEqual(self.svc.metric("imagecpp_auth_rejected_cache_hits_total"), hits + 40)
        self.assertGreaterEqual(self.svc.metric("imagecpp_auth_rejected_cache_entries"), 40)

    def test_an_auth_service_error_is_not_remembered(self):
        token = new_token("fail")
        self.assertEqual(self.svc.auth_status(token), 503)
        self.assertEqual(self.svc.auth_status(token), 503)
        self.assertEqual(self.double.call_count(token), 2)


class RejectedTtlTest(unittest.TestCase):
    def test_a_rejection_is_remembered_for_its_ttl_only(self):
        with AuthDouble() as double, RemoteService(double.url,
                                                   ["--auth-rejected-ttl", "2"]) as svc:
            token = new_token("unknown")
            self.assertEqual(svc.auth_status(token), 401)
            self.assertEqual(svc.auth_status(token), 401)
            self.assertEqual(double.call_count(token), 1)
            time.sleep(2.2)
            self.assertEqual(svc.auth_status(token), 401)
            self.assertEqual(double.call_count(token), 2)


class UnusableUserIdTest(unittest.TestCase):
    LINE = "200 without a usable user"

    def setUp(self):
        self.double = AuthDouble()
        self.addCleanup(self.double.close)
        self.svc = RemoteService(self.double.url)
        self.addCleanup(self.svc.close)

    def log_lines(self):
        return [line for line in self.svc.log().splitlines() if self.LINE in line]

    def test_unusable_user_ids_are_503_never_cached_and_logged_once_per_burst(self):
        huge = self.double.add_user(new_token(), "u" * 500_000)
        forged = self.double.add_user(
            new_token(), "user-1\n2024-01-01 [error] forged line")
        spaced = self.double.add_user(new_token(), "user 1")
        start = time.monotonic()
        for token in (huge, forged, spaced):
            status, headers, _ = self.svc.upload_tiny(token)
            self.assertEqual(status, 503, token)
            self.assertEqual(headers.get("retry-after"), "1")
        burst_tokens = [self.double.add_user(new_token(), "bad\nid") for _ in range(30)]
        results = Burst(self.svc, burst_tokens).join()
        self.assertEqual({(status, retry_after) for _, status, retry_after in results},
                         {(503, "1")})
        self.assertTrue(self.svc.wait_for_log(self.LINE))
        elapsed = time.monotonic() - start

        # One line per 10 s at most: normally one for the whole burst; a machine so loaded that
        # the burst spans more than 10 s may show one more per 10 s.
        lines = self.log_lines()
        self.assertGreaterEqual(len(lines), 1)
        self.assertLessEqual(len(lines), 1 + int(elapsed / 10), "\n".join(lines))
        self.assertEqual(self.svc.metric("imagecpp_auth_invalid_answers_total"), 33)
        log = self.svc.log()
        self.assertNotIn("forged", log)
        self.assertNotIn("u" * 300, log)

        # The auth service's fault is never cached: fixed, the same token is accepted.
        self.double.add_user(forged, "user-1")
        self.assertEqual(self.svc.auth_status(forged), 400)
        self.assertEqual(self.double.call_count(forged), 2)


if __name__ == "__main__":
    unittest.main()
