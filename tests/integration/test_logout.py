"""The logout broadcast over a real RabbitMQ node: both message shapes and prefixes, garbage
that must not stop the consumer, a broker absent at start, restarted, or killed, two service
instances on one broker, readiness and metrics, and the logout latency."""

import json
import statistics
import sys
import time
import unittest

from auth_double import AuthDouble
from harness import check_wall_time, rss_bytes
from rabbit_server import RabbitServer
from remote_service import RemoteService, new_token


def node_logout(token, prefix="bearer "):
    return json.dumps({"type": "logout", "message": prefix + token})


def go_logout(token, prefix="Bearer "):
    return json.dumps({"correlation_id": "c-1", "exchange": "", "routing_key": "",
                       "message": prefix + token})


class BrokerTestCase(unittest.TestCase):
    """An auth double, a RabbitMQ node and a service consuming from it, for the class. Every
    test starts with the broker up and the service connected, whatever the test before did."""

    @classmethod
    def setUpClass(cls):
        cls.double = AuthDouble()
        cls.addClassCleanup(cls.double.close)
        cls.rabbit = RabbitServer()
        cls.addClassCleanup(cls.rabbit.close)
        # The service starts first: the broker is absent until it has been seen disconnected.
        cls.svc = RemoteService(cls.double.url, rabbit_url=cls.rabbit.url)
        cls.addClassCleanup(cls.svc.close)
        cls.state_before_broker = cls.svc.readyz()
        cls.metric_before_broker = cls.svc.metric("imagecpp_broker_connected")
        cls.rabbit.start()

    def setUp(self):
        if not self.rabbit.running():
            self.rabbit.start()
        self.assertTrue(self.svc.wait_broker("connected"), self.svc.log()[-2000:])

    # -- helpers ---------------------------------------------------------------------------

    def cached_then_revoked(self, svc=None):
        """A token the service has cached and the auth service has since revoked."""
        token = new_token()
        for s in svc or [self.svc]:
            self.assertEqual(s.auth_status(token), 400)
        self.double.revoke(token)
        return token

    def wait_rejected(self, token, svc=None, timeout=60.0):
        svc = svc or self.svc
        deadline = time.monotonic() + timeout
        while svc.auth_status(token) != 401:
            if time.monotonic() >= deadline:
                self.fail("token still accepted %.1f s after its logout (a hang)" % timeout)
            time.sleep(0.005)



class LogoutTest(BrokerTestCase):
    """The broker stays up for the whole class."""

    def test_broker_absent_at_start_then_connected(self):
        status, doc = self.state_before_broker
        self.assertEqual(status, 200, "a missing broker is detail, not unreadiness")
        self.assertEqual(doc["broker"], "disconnected")
        self.assertEqual(self.metric_before_broker, 0.0)
        status, doc = self.svc.readyz()
        self.assertEqual((status, doc["broker"]), (200, "connected"))
        self.assertEqual(self.svc.metric("imagecpp_broker_connected"), 1.0)

    def test_a_revoked_token_stays_accepted_until_its_logout(self):
        token = self.cached_then_revoked()
        self.assertEqual(self.svc.auth_status(token), 400)
        self.assertEqual(self.double.call_count(token), 1)
        applied = self.svc.metric("imagecpp_logouts_applied_total")
        self.rabbit.publish(node_logout(token))
        self.wait_rejected(token)
        self.assertEqual(self.svc.metric("imagecpp_logouts_applied_total"), applied + 1)

    def test_both_shapes_and_every_prefix(self):
        cases = {
            "node lower": lambda t: node_logout(t, "bearer "),
            "node upper": lambda t: node_logout(t, "BEARER "),
            "node none": lambda t: node_logout(t, ""),
            "go": lambda t: go_logout(t, "Bearer "),
            "go mixed": lambda t: go_logout(t, "bEaReR "),
            "go none": lambda t: go_logout(t, ""),
        }
        for name, message in cases.items():
            with self.subTest(shape=name):
                token = self.cached_then_revoked()
                self.rabbit.publish(message(token))
                self.wait_rejected(token)

    def test_other_message_types_are_ignored(self):
        token = self.cached_then_revoked()
        self.rabbit.publish(json.dumps({"type": "login", "message": "bearer " + token}))
        self.rabbit.publish(node_logout(new_token()))  # a later message: the first was handled
        time.sleep(0.3)
        self.assertEqual(self.svc.auth_status(token), 400)
        self.rabbit.publish(node_logout(token))
        self.wait_rejected(token)

    def test_garbage_does_not_stop_the_consumer(self):
        dropped = self.svc.metric("imagecpp_logout_messages_dropped_total")
        token = self.cached_then_revoked()
        garbage = [b"not json", b"", b"[1,2]", b'{"message": 5}', b'{"type": 7}',
                   b'{"message": "bearer a b"}', b"\xff\xfe\x00binary", b'{"message": "x"',
                   b'{"type": "logout", "message": "' + b"a" * 100_000 + b'"}']
        for body in garbage:
            self.rabbit.publish(body)
        self.rabbit.publish(go_logout(token))
        self.wait_rejected(token)
        self.assertEqual(self.svc.metric("imagecpp_logout_messages_dropped_total"),
                         dropped + len(garbage))
        self.assertEqual(self.svc.readyz()[1]["broker"], "connected")
        self.assertNotIn(token.split("-", 1)[1], self.svc.log())

    def test_an_oversized_message_is_skipped_without_being_held(self):
        dropped = self.svc.metric("imagecpp_logout_messages_dropped_total")
        token = self.cached_then_revoked()
        before = rss_bytes(self.svc.proc.pid)
        # 64 MiB: half RabbitMQ's own default limit, a thousand times the consumer's (64 KiB).
        self.rabbit.publish(b'{"type": "logout", "message": "bearer ' + b"a" * (64 << 20) + b'"}')
        self.rabbit.publish(node_logout(token))
        self.wait_rejected(token, timeout=60)  # the next message still applies
        growth = rss_bytes(self.svc.proc.pid) - before
        sys.stderr.write("\n64 MiB logout message skipped: service RSS %+.1f MB\n" % (growth / 1e6))
        self.assertLess(growth, 16 << 20)  # read whole, it would be 64 MiB and more
        self.assertEqual(self.svc.metric("imagecpp_logout_messages_dropped_total"), dropped + 1)
        self.assertIn("dropped a %d-byte message" % ((64 << 20) + 40), self.svc.log())
        self.assertEqual(self.svc.readyz()[1]["broker"], "connected")

    def test_two_instances_each_drop_the_token(self):
        with RemoteService(self.double.url, rabbit_url=self.rabbit.url) as other:
            self.assertTrue(other.wait_broker("connected"))
            token = self.cached_then_revoked([self.svc, other])
            self.assertEqual(other.auth_status(token), 400)
            self.rabbit.publish(node_logout(token))
            self.wait_rejected(token, self.svc)
            self.wait_rejected(token, other)

    def test_logout_latency(self):
        latencies = []
        for _ in range(20):
            token = self.cached_then_revoked()
            start = time.monotonic()
            self.rabbit.publish(node_logout(token))
            published = time.monotonic()
            self.wait_rejected(token)
            latencies.append((time.monotonic() - start, time.monotonic() - published))
        total = statistics.median(l[0] for l in latencies) * 1000
        after = statistics.median(l[1] for l in latencies) * 1000
        sys.stderr.write("\nlogout latency, median of 20: %.1f ms from starting amqp-publish, "
                         "%.1f ms after it returned\n" % (total, after))
        check_wall_time(self, total, 1000)

    def test_sigterm_stops_promptly_with_the_broker_down(self):
        with RemoteService(self.double.url, rabbit_url="amqp://guest:guest@127.0.0.1:1/") as svc:
            self.assertEqual(svc.readyz()[1]["broker"], "disconnected")
            start = time.monotonic()
            self.assertEqual(svc.stop(), 0)
            check_wall_time(self, time.monotonic() - start, 3.0)
        with RemoteService(self.double.url, rabbit_url=self.rabbit.url) as svc:
            self.assertTrue(svc.wait_broker("connected"))
            start = time.monotonic()
            self.assertEqual(svc.stop(), 0)
            check_wall_time(self, time.monotonic() - start, 3.0)


class BrokerOutageTest(BrokerTestCase):
    """The broker stopped or killed under a connected service: HTTP unaffected, then the
    consumer is back by itself. A class of its own: its tests take the broker down, which the
    setUp of each test (any order) brings back."""

    def test_broker_restart_keeps_serving_and_reconnects(self):
        token = self.cached_then_revoked()
        self.rabbit.stop()
        self.assertTrue(self.svc.wait_broker("disconnected", timeout=10))
        self.assertEqual(self.svc.metric("imagecpp_broker_connected"), 0.0)
        self.assertEqual(self.svc.auth_status(token), 400, "HTTP unaffected by the broker")
        self.assertEqual(self.svc.auth_status(new_token()), 400)
        self.rabbit.start()
        self.assertTrue(self.svc.wait_broker("connected", timeout=30))
        self.rabbit.publish(go_logout(token))
        self.wait_rejected(token)

    def test_broker_killed_reconnects(self):
        token = self.cached_then_revoked()
        self.rabbit.kill()
        self.assertTrue(self.svc.wait_broker("disconnected", timeout=30))
        self.rabbit.start()
        self.assertTrue(self.svc.wait_broker("connected", timeout=30))
        self.rabbit.publish(node_logout(token))
        self.wait_rejected(token)


if __name__ == "__main__":
    unittest.main()
