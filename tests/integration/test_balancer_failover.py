"""An instance SIGKILLed under a mixed load through the real haproxy of deploy/haproxy.cfg, on a
real Redis Cluster (3 masters, 3 replicas): how
many requests fail, when haproxy takes the instance out, that nothing fails once it has, that
every acknowledged upload is still there, and that the instance comes back in after a restart."""

import http.client
import json
import random
import sys
import threading
import time
import unittest

from auth_double import AuthDouble
from fleet import Fleet, Recorder, with_comment
from harness import read_image
from redis_cluster import RedisCluster

CLIENTS = 8
VICTIM = 1  # img2


class FailoverTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.double = AuthDouble()
        cls.addClassCleanup(cls.double.close)
        cls.cluster = RedisCluster(masters=3, replicas=1)
        cls.addClassCleanup(cls.cluster.close)
        cls.fleet = Fleet(cls.double, cls.cluster.url, check_inter="1s")
        cls.addClassCleanup(cls.fleet.close)
        cls.lb = cls.fleet.lb
        cls.jpeg = read_image("snake.jpg")

    def test_an_instance_killed_under_load_is_routed_around(self):
        fleet, lb = self.fleet, self.lb
        seeded = {}
        for i in range(60):
            data = with_comment(self.jpeg, "seed %d" % i)
            status, _, body = fleet.upload(data)
            self.assertEqual(status, 200, body[:200])
            seeded[json.loads(body)["id"]] = data

        recorder = Recorder()
        acknowledged = {}  # id -> bytes of every upload answered 200
        ack_lock = threading.Lock()
        stop = threading.Event()
        ids = list(seeded)

        def client(n):
            rng = random.Random(n)
            i = 0
            while not stop.is_set():
                i += 1
                start = time.monotonic()
                if rng.random() < 0.3:
                    kind = "upload"
                    data = with_comment(self.jpeg, "load %d.%d" % (n, i))
                    try:
                        status, _, body = fleet.upload(data)
                        outcome = status
                        if status == 200:
                            with ack_lock:
                                acknowledged[json.loads(body)["id"]] = data
                    except (OSError, http.client.HTTPException) as e:
                        outcome = type(e).__name__
                else:
                    image_id = rng.choice(ids)
                    kind, path = rng.choice([("original", "/images/%s/jpeg"),
                                             ("json", "/v1/image/%s"),
                                             ("variant", "/v1/image/%s/jpeg?Size=160")])
                    try:
                        status, _, body = lb.request("GET", path % image_id)
                        outcome = status
                        if kind == "original" and status == 200 and body != seeded[image_id]:
                            outcome = "wrong bytes"
                    except (OSError, http.client.HTTPException) as e:
                        outcome = type(e).__name__
                recorder.add(start, time.monotonic(), kind, outcome)

        def completed_after(t):
            return sum(1 for r in recorder.snapshot() if r[0] > t)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for t in threads:
            t.start()
        try:
            while completed_after(0) < 300:  # the load is running on every instance
                time.sleep(0.05)
            victim = fleet.instances[VICTIM]
            killed_at = time.monotonic()
            victim.kill()
            # When haproxy took it out, from its own state (polled on the admin socket).
            down_at = None
            while down_at is None:
                if lb.states()["img2"].startswith("DOWN"):
                    down_at = time.monotonic()
                elif time.monotonic() - killed_at > 120:
                    self.fail("haproxy never marked the killed instance down")
                time.sleep(0.01)
            while completed_after(down_at) < 500:  # the load goes on without it
                time.sleep(0.05)
        finally:
            stop.set()
            for t in threads:
                t.join(60)

        records = recorder.snapshot()
        failed = [r for r in records if r[3] != 200]
        kinds = {}
        for r in failed:
            kinds[(r[2], r[3])] = kinds.get((r[2], r[3]), 0) + 1
        last_failure = max((r[1] for r in failed), default=killed_at) - killed_at
        sys.stderr.write(
            "\n%d requests by %d clients, instance img2 SIGKILLed after %d: haproxy marked it "
            "DOWN %.0f ms after the kill (check interval 1 s, fall 2, observe layer4); "
            "%d requests failed %s, the last one ending %.0f ms after the kill\n"
            % (len(records), CLIENTS, sum(1 for r in records if r[0] < killed_at),
               (down_at - killed_at) * 1000, len(failed), kinds, last_failure * 1000))

        # Only requests in flight on the victim when it died can fail: at most one per client.
        self.assertLessEqual(len(failed), CLIENTS, kinds)
        for start, _, kind, outcome in failed:
            self.assertLess(start, down_at, "a request started after haproxy routed around "
                            "the dead instance failed: %s %r" % (kind, outcome))
            self.assertEqual(kind, "upload", "a read failed: %r (reads are retried)" % outcome)
            self.assertIn(outcome, (502,), "an upload failed with %r" % outcome)

        # Every acknowledged upload is in the store and readable through haproxy.
        self.assertGreater(len(acknowledged), 0)
        for image_id, data in acknowledged.items():
            status, _, body = lb.request("GET", "/images/%s/jpeg" % image_id)
            self.assertEqual((status, body == data), (200, True), image_id)

        # Restarted (on a new port, as an orchestrator would) and pointed at: back in service.
        victim.start()
        lb.set_address("img2", Fleet.address(victim))
        lb.wait_all_up()
        self.assertEqual(lb.states("uploads")["img2"], "UP")
        before = victim.metric('imagecpp_http_requests_total{route="/images/{id}/jpeg",'
                               'status="200"}')
        for image_id in ids:
            self.assertEqual(lb.request("GET", "/images/%s/jpeg" % image_id)[0], 200)
        self.assertGreater(victim.metric('imagecpp_http_requests_total{route="/images/{id}/jpeg",'
                                         'status="200"}'), before, "its share came back")


if __name__ == "__main__":
    unittest.main()
