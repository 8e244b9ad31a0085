"""Three instances behind the real haproxy of deploy/haproxy.cfg, on a real Redis Cluster (3
masters, 3 replicas) and one RabbitMQ: 1000 uploads land on all 3 masters and are read back byte
for byte through haproxy and from each instance directly, every form of one image is read from
one instance (the hash), one logout is refused by all three, haproxy answers hostile requests."""

import json
import sys
import threading
import time
import unittest

from auth_double import AuthDouble
from fleet import IMAGE_ROUTES, UPLOAD_ROUTES, Fleet, count, parallel, with_comment
from harness import (UUID4_RE, decode_data_url, raw_request, raw_socket, read_image,
                     read_until_closed, send)
from rabbit_server import RabbitServer
from redis_cluster import RedisCluster
from remote_service import new_token

UPLOADS = 1000


class BalancerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.double = AuthDouble()
        cls.addClassCleanup(cls.double.close)
        cls.rabbit = RabbitServer()
        cls.addClassCleanup(cls.rabbit.close)
        cls.rabbit.start()
        cls.cluster = RedisCluster(masters=3, replicas=1)
        cls.addClassCleanup(cls.cluster.close)
        cls.fleet = Fleet(cls.double, cls.cluster.url, rabbit_url=cls.rabbit.url)
        cls.addClassCleanup(cls.fleet.close)
        cls.lb = cls.fleet.lb
        cls.jpeg = read_image("snake.jpg")

    def upload_ok(self, data, target=None, token=None):
        status, _, body = self.fleet.upload(data, target, token)
        self.assertEqual(status, 200, body[:300])
        image_id = json.loads(body)["id"]
        self.assertRegex(image_id, UUID4_RE)
        return image_id

    # -- 1000 uploads ----------------------------------------------------------------------

    def test_uploads_are_spread_and_read_back_byte_for_byte_everywhere(self):
        images = [with_comment(self.jpeg, "balancer upload %d" % i) for i in range(UPLOADS)]
        before = [count(s, UPLOAD_ROUTES, 200) for s in self.fleet.instances]
        ids = parallel(self.upload_ok, images)
        failed = [r for r in ids if isinstance(r, Exception)]
        self.assertEqual(failed, [], "%d of %d uploads failed" % (len(failed), UPLOADS))
        self.assertEqual(len(set(ids)), UPLOADS)

        # Least connections spread the uploads over every instance.
        per_instance = [count(s, UPLOAD_ROUTES, 200) - b
                        for s, b in zip(self.fleet.instances, before)]
        sys.stderr.write("\nuploads per instance (leastconn): %s" % per_instance)
        self.assertEqual(sum(per_instance), UPLOADS)
        for n in per_instance:
            self.assertGreater(n, 0, per_instance)

        # The 1000 keys are spread over the 3 masters (counted on each), each holding the
        # uploaded bytes.
        masters = self.cluster.masters()
        self.assertEqual(len(masters), 3, masters)
        on_master = {port: set(k.decode() for k in self.cluster.keys_on(port)) & set(ids)
                     for port in masters}
        per_master = [len(on_master[port]) for port in masters]
        sys.stderr.write("\nthe 1000 keys per master: %s\n" % per_master)
        self.assertEqual(sum(per_master), UPLOADS)
        for n in per_master:
            self.assertGreater(n, 0, per_master)
        data_of = dict(zip(ids, images))
        for port in masters:
            for image_id in sorted(on_master[port])[:20]:
                self.assertEqual(self.cluster.node(port).command("GET", image_id),
                                 data_of[image_id])

        # Read back through haproxy, one at a time: the hash gives each instance its share of
        # the catalogue (with requests in flight, the bounded load could move some).
        reads_before = self.fleet.owner_counts()
        for image_id, data in zip(ids, images):
            status, headers, body = self.lb.request("GET", "/v1/image/%s/jpeg" % image_id)
            self.assertEqual((status, headers.get("content-type")), (200, "image/jpeg"), body[:200])
            self.assertEqual(body, data, image_id)
        shares = [a - b for a, b in
                  zip(self.fleet.owner_counts_after(reads_before, UPLOADS), reads_before)]
        sys.stderr.write("reads through haproxy per instance (hash on the id): %s\n" % shares)
        self.assertEqual(sum(shares), UPLOADS)
        for n in shares:
            self.assertGreater(n, 0, shares)

        # And from each instance directly, in the other route family and as JSON.
        def read_everywhere(item):
            image_id, data = item
            for svc in self.fleet.instances:
                status, _, body = svc.request("GET", "/images/%s/jpeg" % image_id)
                if (status, body) != (200, data):
                    return "%s on :%d: %d, %d bytes" % (image_id, svc.port, status, len(body))
            status, _, body = self.lb.request("GET", "/images/%s" % image_id)
            if status != 200 or decode_data_url(json.loads(body)["image"]) != ("image/jpeg", data):
                return "%s as JSON through haproxy: %d" % (image_id, status)
            return None

        problems = [p for p in parallel(read_everywhere, list(zip(ids, images))) if p]
        self.assertEqual(problems, [], "%d reads differ" % len(problems))

    # -- the hash --------------------------------------------------------------------------

    def test_every_form_of_one_image_is_read_from_one_instance(self):
        owners = []
        forms = [("GET", "/v1/image/%s", {}), ("GET", "/v1/image/%s?Size=160", {}),
                 ("GET", "/images/%s/jpeg?Size=320", {}),
                 ("GET", "/v1/image/%s/jpeg", {"Size": "640"}), ("HEAD", "/images/%s", {})]
        for i in range(12):
            image_id = self.upload_ok(with_comment(self.jpeg, "hash %d" % i))
            before = self.fleet.owner_counts()
            for method, path, headers in forms:
                status, _, body = self.lb.request(method, path % image_id, headers=headers)
                self.assertEqual(status, 200, body[:200])
            after = self.fleet.owner_counts_after(before, len(forms))
            moved = [n for n, (a, b) in enumerate(zip(after, before)) if a != b]
            self.assertEqual(len(moved), 1, "reads of one image on instances %s" % moved)
            self.assertEqual(after[moved[0]] - before[moved[0]], len(forms))
            owners.append(moved[0])
        sys.stderr.write("\nowners of 12 images: %s\n" % owners)
        self.assertGreater(len(set(owners)), 1, "every image on one instance: no hashing")

    def test_first_reads_of_a_new_image_at_once_are_computed_once_in_the_fleet(self):
        computed = "imagecpp_variants_computed_total"
        for i in range(4):
            image_id = self.upload_ok(with_comment(self.jpeg, "burst %d" % i))
            before = self.fleet.owner_counts()
            computed_before = sum(s.metric(computed) for s in self.fleet.instances)
            barrier = threading.Barrier(8)

            def read(_):
                conn = self.lb.connection()
                conn.connect()
                barrier.wait()
                try:
                    return send(conn, "GET", "/v1/image/%s/jpeg?Size=320" % image_id)
                finally:
                    conn.close()

            answers = parallel(read, range(8))
            self.assertEqual({a[0] for a in answers}, {200}, answers)
            self.assertEqual(len({a[2] for a in answers}), 1, "different bytes for one variant")
            moved = [n for n, (a, b) in enumerate(zip(self.fleet.owner_counts_after(before, 8),
                                                      before)) if a != b]
            self.assertEqual(len(moved), 1, "8 first reads of one image on instances %s" % moved)
            self.assertEqual(sum(s.metric(computed) for s in self.fleet.instances),
                             computed_before + 1)

    # -- logout ----------------------------------------------------------------------------

    def test_one_logout_is_applied_by_every_instance(self):
        for svc in self.fleet.instances:
            self.assertTrue(svc.wait_broker("connected"), svc.log()[-2000:])
        token = new_token()
        for svc in self.fleet.instances:  # each instance has verified and cached the token
            self.assertEqual(svc.auth_status(token), 400)
        self.assertEqual(self.double.call_count(token), 3)
        self.double.revoke(token)
        for svc in self.fleet.instances:  # cached: still accepted until the logout
            self.assertEqual(svc.auth_status(token), 400)
        applied = [svc.metric("imagecpp_logouts_applied_total") for svc in self.fleet.instances]

        self.rabbit.publish(json.dumps({"type": "logout", "message": "bearer " + token}))

        for svc in self.fleet.instances:
            deadline = time.monotonic() + 30
            while svc.auth_status(token) != 401:
                self.assertLess(time.monotonic(), deadline, "logout not applied on :%d" % svc.port)
                time.sleep(0.01)
        self.assertEqual([svc.metric("imagecpp_logouts_applied_total")
                          for svc in self.fleet.instances], [a + 1 for a in applied])
        status, _, _ = self.fleet.upload(self.jpeg, token=token)
        self.assertEqual(status, 401)

    # -- what haproxy adds -----------------------------------------------------------------

    def test_correlation_id_passes_through_or_is_made_by_haproxy(self):
        image_id = self.upload_ok(with_comment(self.jpeg, "correlation"))
        status, headers, _ = self.lb.request("GET", "/v1/image/" + image_id,
                                             headers={"correlation_id": "client-id-42"})
        self.assertEqual((status, headers.get("correlation_id")), (200, "client-id-42"))
        status, headers, _ = self.lb.request("GET", "/v1/image/" + image_id)
        self.assertEqual(status, 200)
        made = headers.get("correlation_id", "")
        self.assertRegex(made, r"^[0-9A-F]{8}[0-9A-Za-z.:-]+$")
        # haproxy's log line and the instance's access line carry the same id.
        deadline = time.monotonic() + 10
        while made not in self.lb.log():
            self.assertLess(time.monotonic(), deadline, "haproxy did not log " + made)
            time.sleep(0.05)
        deadline = time.monotonic() + 10
        while not any(made in svc.log() for svc in self.fleet.instances):
            self.assertLess(time.monotonic(), deadline, "no instance logged " + made)
            time.sleep(0.05)

    def test_hostile_requests_get_clear_answers_and_change_nothing(self):
        port = self.lb.port
        # A header larger than haproxy's buffer, a garbage request line, a request smuggling
        # attempt (both framings): haproxy's own 400, and no instance sees them.
        seen = [count(s, IMAGE_ROUTES + UPLOAD_ROUTES + ("unmatched",))
                for s in self.fleet.instances]
        status, _, _ = raw_request(port, "GET", "/v1/image/x", {"X-Big": "a" * 20000})
        self.assertEqual(status, 400)
        for raw in (b"GARBAGE\r\n\r\n",
                    b"POST /v1/image HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                    b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"):
            answer = self._raw(raw)
            self.assertTrue(answer.startswith(b"HTTP/1.1 400"), answer[:100])
        self.assertEqual([count(s, IMAGE_ROUTES + UPLOAD_ROUTES + ("unmatched",))
                          for s in self.fleet.instances], seen)
        # What the instances refuse is passed through as they answered it.
        big = b"\xff\xd8\xff" + b"\0" * (17 << 20)
        status, _, _ = raw_request(port, "POST", "/v1/image", self.fleet.auth_headers(), big)
        self.assertEqual(status, 413)
        status, _, _ = raw_request(port, "POST", "/v1/image", {"Content-Type": "image/jpeg"},
                                   self.jpeg)
        self.assertEqual(status, 401)
        for path in ("/v1/image/not-an-id", "/images/%2F..%2F/jpeg", "/v1/image/" + "a" * 5000,
                     "/images/%00", "/v1/image//jpeg"):
            status, _, _ = self.lb.request("GET", path)
            self.assertIn(status, (400, 404), path)
        # Everything still up, and serving.
        self.assertEqual(set(self.lb.states().values()), {"UP"})
        image_id = self.upload_ok(with_comment(self.jpeg, "after hostile"))
        self.assertEqual(self.lb.request("GET", "/images/%s/jpeg" % image_id)[0], 200)

    def _raw(self, data):
        sock = raw_socket(self.lb.port)
        try:
            sock.sendall(data)
            return read_until_closed(sock, 10)[0]
        finally:
            sock.close()


if __name__ == "__main__":
    unittest.main()
