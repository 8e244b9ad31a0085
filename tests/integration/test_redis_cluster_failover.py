"""A Redis Cluster master SIGKILLed under a mixed load of uploads and reads, with
--redis-wait-replicas 1: its replica is promoted (cluster-node-timeout 1500 ms); meanwhile the
service answers 200 or 503 with Retry-After, never a 500 nor a hang; reads of the dead master's
slots come back by themselves once the replica is promoted; uploads to them once the shard has
a replica again (the killed node, started again, rejoins as the replica of its replacement);
and every upload that got a 200 is readable afterwards, byte for byte.

The figures (time to recover, failed requests, uploads lost) are printed to stderr."""

import json
import sys
import threading
import time
import unittest

from harness import Service, decode_data_url, read_image
from redis_cluster import RedisCluster
from test_redis_cluster import content_type, key_slot

# Generous, not a bound under test: a request answered later than this is a hang.
HANG_SECONDS = 30


class Load:
    """Threads that upload and read in turn until stopped, recording every answer."""

    def __init__(self, svc, images, known, threads=6):
        self.svc = svc
        self.images = images
        self.lock = threading.Lock()
        self.acknowledged = dict(known)  # id -> bytes: every upload that got a 200
        self.answers = []  # (time, kind, status, has Retry-After, seconds, key slot or None)
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join()

    def count(self):
        with self.lock:
            return len(self.answers)

    def wait_for(self, predicate):
        """Until predicate(answers) holds for the answers so far (checked as they come)."""
        while True:
            with self.lock:
                if predicate(self.answers):
                    return
            self.stop.wait(0.02)

    def record(self, kind, started, response, slot):
        status, headers, _ = response
        with self.lock:
            self.answers.append((started, kind, status, "retry-after" in headers,
                                 time.monotonic() - started, slot))

    def run(self, i):
        n = i
        while not self.stop.is_set():
            n += 1
            started = time.monotonic()
            try:
                self.one(n, started)
            except Exception as e:  # a timeout or a reset: recorded as a failure, not lost
                self.record("error", started, (repr(e), {}, b""), None)

    def one(self, n, started):
        if n % 3 == 0:
            image = self.images[n % len(self.images)]
            response = self.svc.upload_raw(image, content_type=content_type(image))
            status, _, body = response
            slot = None
            if status == 200:
                image_id = json.loads(body)["id"]
                slot = key_slot(image_id)
                with self.lock:
                    self.acknowledged[image_id] = image
            self.record("upload", started, response, slot)
            return
        with self.lock:
            ids = list(self.acknowledged)
        image_id = ids[(n * 7919) % len(ids)]
        status, headers, body = self.svc.request("GET", "/v1/image/" + image_id,
                                                 timeout=HANG_SECONDS)
        if status == 200 and \
                decode_data_url(json.loads(body)["image"])[1] != self.acknowledged[image_id]:
            status = "wrong bytes"
        self.record("read", started, (status, headers, body), key_slot(image_id))


class ClusterFailoverTest(unittest.TestCase):

    def test_master_killed_under_load(self):
        cluster = RedisCluster(masters=3, replicas=1, node_timeout_ms=1500)
        self.addCleanup(cluster.close)
        svc = Service(["--redis-url", cluster.url, "--redis-wait-replicas", "1",
                       "--cache-mb", "0"])
        self.addCleanup(svc.close)
        images = [read_image("snake.jpg"), read_image("snake.png")]
        known = {}
        for n in range(30):
            image = images[n % 2]
            status, _, body = svc.upload_raw(image, content_type=content_type(image))
            self.assertEqual(status, 200, body[:300])
            known[json.loads(body)["id"]] = image

        victim = cluster.masters()[0]
        victim_slots = set()
        for entry in cluster.node(victim).command("CLUSTER", "SLOTS"):
            if entry[2][1] == victim:
                victim_slots.update(range(entry[0], entry[1] + 1))
        self.assertTrue(any(key_slot(k) in victim_slots for k in known))

        load = Load(svc, images, known)
        load.start()
        try:
            load.wait_for(lambda answers: len(answers) >= 60)
            killed_at = time.monotonic()
            cluster.kill(victim)
            promoted_after = cluster.wait_promoted(victim)

            def on_victim(kind, after):
                return lambda answers: any(
                    a[1] == kind and a[2] == 200 and a[5] in victim_slots and a[0] > after
                    for a in answers)

            # Reads of the dead master's keys: back by themselves once the replica took over.
            load.wait_for(on_victim("read", killed_at))
            reads_back = max(a[0] + a[4] for a in load.answers
                             if a[1] == "read" and a[2] == 200 and a[5] in victim_slots
                             and a[0] > killed_at) - killed_at
            # Uploads to them need a replica to acknowledge: the killed node, started again as
            # a supervisor would, rejoins as the replica of the promoted one.
            restarted_at = time.monotonic()
            cluster.start(victim)
            cluster.wait_ok()
            load.wait_for(on_victim("upload", restarted_at))
            recovered_at = time.monotonic()
            uploads_back = recovered_at - restarted_at
            settled = load.count()
            load.wait_for(lambda answers: len(answers) >= settled + 60)
        finally:
            load.finish()

        answers = load.answers
        statuses = {}
        for a in answers:
            statuses[(a[1], a[2])] = statuses.get((a[1], a[2]), 0) + 1
        failed = [a for a in answers if a[2] != 200]
        self.assertEqual({a[2] for a in failed} - {503}, set(), statuses)
        self.assertTrue(all(a[3] for a in failed), "a 503 without Retry-After")
        self.assertLess(max(a[4] for a in answers), HANG_SECONDS)
        # Once uploads to the dead master's slots succeed again, everything does.
        self.assertEqual([a for a in answers if a[0] > recovered_at and a[2] != 200], [])

        # Every upload that got a 200 is there, byte for byte.
        lost = 0
        for image_id, image in load.acknowledged.items():
            status, _, body = svc.request("GET", "/v1/image/" + image_id)
            if status != 200 or decode_data_url(json.loads(body)["image"])[1] != image:
                lost += 1
        sys.stderr.write(
            "\nfailover: promotion %.2f s after the SIGKILL; reads of its slots back %.2f s "
            "after it; uploads to them %.2f s after the node was started again; %d requests "
            "(%s), %d failed (all 503 with Retry-After), slowest %.2f s; %d uploads "
            "acknowledged, %d lost\n" % (
                promoted_after, reads_back, uploads_back, len(answers),
                ", ".join("%s %s: %d" % (k[0], k[1], v) for k, v in sorted(statuses.items(),
                                                                            key=str)),
                len(failed), max(a[4] for a in answers), len(load.acknowledged), lost))
        self.assertEqual(lost, 0)
        self.assertTrue(svc.healthy())


if __name__ == "__main__":
    unittest.main()
