"""The Redis engine on a real Redis Cluster (6 redis-server nodes: 3 masters, 3 replicas, one
cluster for the module): uploads spread over every master and read back byte for byte, a slot
migrated while its keys are read (ASK, then MOVED), many clients on one key, seeds that are
dead or not a cluster, and WAIT on a single server (with and without a replica)."""

import binascii
import json
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

from harness import Service, ServiceTestCase, decode_data_url, read_image
from redis_cluster import RedisCluster, free_node_port, info
from redis_server import RedisServer

CLUSTER = None


def setUpModule():
    global CLUSTER
    CLUSTER = RedisCluster(masters=3, replicas=1)


def tearDownModule():
    if CLUSTER is not None:
        CLUSTER.close()


def key_slot(key):
    """Redis Cluster's slot of a key: CRC16/XMODEM (binascii's crc_hqx) of its hash tag."""
    key = key.encode() if isinstance(key, str) else key
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            key = key[start + 1:end]
    return binascii.crc_hqx(key, 0) % 16384


def images():
    return [read_image(name) for name in ("snake.jpg", "snake.png")]


def content_type(data):
    return "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"


def run_in_threads(count, target):
    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


class ClusterTestCase(ServiceTestCase):
    """A service on the module's cluster. No hot cache: every read goes to Redis."""

    service_args = ()

    @classmethod
    def setUpClass(cls):
        unittest.TestCase.setUpClass()
        cls.svc = Service(["--redis-url", CLUSTER.url, "--cache-mb", "0"] +
                          list(cls.service_args))
        cls.addClassCleanup(cls.svc.close)

    def upload(self, data):
        status, _, body = self.svc.upload_raw(data, content_type=content_type(data))
        self.assertEqual(status, 200, body[:300])
        return json.loads(body)["id"]

    def read(self, image_id):
        status, _, body = self.svc.request("GET", "/v1/image/" + image_id)
        self.assertEqual(status, 200, body[:300])
        return decode_data_url(json.loads(body)["image"])[1]

    def owner(self, key):
        """The master port that holds a key, as the cluster says (CLUSTER KEYSLOT, SLOTS)."""
        return CLUSTER.slot_owner(CLUSTER.any_live().command("CLUSTER", "KEYSLOT", key))


class ClusterUploadTest(ClusterTestCase):

    service_args = ("--redis-wait-replicas", "1")

    def test_uploads_land_on_every_master_and_read_back_byte_for_byte(self):
        masters = CLUSTER.masters()
        self.assertEqual(len(masters), 3)
        before = {port: CLUSTER.dbsize(port) for port in masters}
        data = images()
        answers = []
        lock = threading.Lock()

        def upload(i):
            for n in range(15):
                image = data[(i + n) % len(data)]
                answer = self.svc.upload_raw(image, content_type=content_type(image))
                with lock:
                    answers.append((answer, image))

        run_in_threads(8, upload)
        uploaded = {}
        for (status, _, body), image in answers:
            self.assertEqual(status, 200, body[:300])
            uploaded[json.loads(body)["id"]] = image
        self.assertEqual(len(uploaded), 120)
        added = {port: CLUSTER.dbsize(port) - before[port] for port in masters}
        self.assertEqual(sum(added.values()), 120, added)
        for port in masters:
            self.assertGreater(added[port], 0, added)
        # Each key on the master that owns its slot, under the id itself (as the peers see it).
        on_master = {port: set(k.decode() for k in CLUSTER.keys_on(port)) for port in masters}
        for image_id in uploaded:
            self.assertIn(image_id, on_master[self.owner(image_id)])
            self.assertEqual(self.owner(image_id), CLUSTER.slot_owner(key_slot(image_id)))
        for image_id, image in uploaded.items():
            self.assertEqual(self.read(image_id), image)
        # Variants: read, written behind the answer, then on the master of their own key.
        image_id = next(iter(uploaded))
        status, _, variant = self.svc.request("GET", "/images/%s/jpeg?Size=160" % image_id)
        self.assertEqual(status, 200)
        self.svc.wait_for_writes()
        with CLUSTER.node(self.owner(image_id + "_160")).client() as r:
            self.assertEqual(r.command("GET", image_id + "_160"), variant)
        # Every acknowledged upload is on a replica too (WAIT 1).
        for port in masters:
            replica = CLUSTER.replicas_of(port)[0]
            with CLUSTER.node(replica).client() as r:
                r.command("READONLY")
                for image_id in uploaded:
                    if self.owner(image_id) == port:
                        self.assertEqual(r.command("GET", image_id), uploaded[image_id])

    def test_many_clients_read_one_key_at_once(self):
        image = images()[0]
        image_id = self.upload(image)
        results = [None] * 32
        barrier = threading.Barrier(32)

        def read(i):
            barrier.wait()
            results[i] = self.svc.request("GET", "/v1/image/" + image_id)

        run_in_threads(32, read)
        for status, _, body in results:
            self.assertEqual(status, 200, body[:300])
            self.assertEqual(decode_data_url(json.loads(body)["image"])[1], image)

    def test_reads_what_a_peer_wrote_on_its_master(self):
        image = images()[1]
        image_id = str(uuid.uuid4())
        with CLUSTER.node(self.owner(image_id)).client() as r:
            self.assertEqual(r.command("SET", image_id, image), "OK")
        self.assertEqual(self.read(image_id), image)
        self.assertEqual(self.svc.request("GET", "/v1/image/" + str(uuid.uuid4()))[0], 404)


class ClusterMigrationTest(ClusterTestCase):
    """A slot moved from one master to another while its keys are read, as `redis-cli
    --cluster reshard` does it: IMPORTING, MIGRATING, MIGRATE key by key, then NODE."""

    def keys_in_slot(self, slot, count):
        """`count` fresh uuids that hash to `slot` (found with the slot function above)."""
        found = []
        while len(found) < count:
            candidate = str(uuid.uuid4())
            if key_slot(candidate) == slot:
                found.append(candidate)
        return found

    def test_no_read_fails_while_a_slot_migrates(self):
        data = images()
        image_id = self.upload(data[0])
        slot = key_slot(image_id)
        source = CLUSTER.slot_owner(slot)
        target = next(p for p in CLUSTER.masters() if p != source)
        expected = {image_id: data[0]}
        with CLUSTER.node(source).client() as r:  # as a peer would have written them
            for n, key in enumerate(self.keys_in_slot(slot, 4)):
                self.assertEqual(r.command("SET", key, data[n % 2]), "OK")
                expected[key] = data[n % 2]

        reads = [0]
        failures = []
        stop = threading.Event()
        lock = threading.Lock()

        def reader(i):
            keys = list(expected)
            n = i
            while not stop.is_set():
                key = keys[n % len(keys)]
                n += 1
                status, _, body = self.svc.request("GET", "/v1/image/" + key)
                ok = status == 200 and decode_data_url(json.loads(body)["image"])[1] == expected[key]
                with lock:
                    reads[0] += 1
                    if not ok:
                        failures.append((key, status, body[:200]))

        def reads_go_on(count=30):
            """Until `count` more reads completed in the current state."""
            with lock:
                target_count = reads[0] + count
            while True:
                with lock:
                    if reads[0] >= target_count:
                        return
                stop.wait(0.01)

        threads = [threading.Thread(target=reader, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        try:
            reads_go_on()
            source_node, target_node = CLUSTER.node(source), CLUSTER.node(target)
            source_id, target_id = CLUSTER.node_id(source), CLUSTER.node_id(target)
            target_node.command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
            source_node.command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
            reads_go_on()
            for key in expected:  # one by one: some keys moved, others not yet (ASK)
                self.assertEqual(source_node.command("MIGRATE", "127.0.0.1", target, key, 0,
                                                     5000), "OK")
                reads_go_on(10)
            reads_go_on()
            for port in [target, source] + [p for p in CLUSTER.masters()
                                            if p not in (source, target)]:
                CLUSTER.node(port).command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
            reads_go_on(60)  # the source answers MOVED now
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(failures, [])
        self.assertEqual(CLUSTER.slot_owner(slot), target)
        # Both redirects were taken: the source refused with ASK, then with MOVED, and the
        # target was sent ASKING.
        errors = info(CLUSTER.node(source).command("INFO", "errorstats"))
        self.assertIn("errorstat_ASK", errors)
        self.assertIn("errorstat_MOVED", errors)
        self.assertIn("cmdstat_asking", info(CLUSTER.node(target).command("INFO", "commandstats")))
        with CLUSTER.node(target).client() as r:
            for key, value in expected.items():
                self.assertEqual(r.command("GET", key), value)


class ClusterSeedsTest(unittest.TestCase):
    """Seeds that cannot give a map: skipped while another can; 503 (not a crash) when none."""

    def test_dead_seeds_before_a_live_one(self):
        dead = ["127.0.0.1:%d" % free_node_port() for _ in range(2)]
        url = "redis+cluster://%s,%s/" % (",".join(dead), CLUSTER.nodes[0].address)
        svc = Service(["--redis-url", url, "--cache-mb", "0"])
        self.addCleanup(svc.close)
        image = images()[0]
        status, _, body = svc.upload_raw(image, content_type=content_type(image))
        self.assertEqual(status, 200, body[:300])
        image_id = json.loads(body)["id"]
        status, _, body = svc.request("GET", "/v1/image/" + image_id)
        self.assertEqual(status, 200)
        self.assertEqual(decode_data_url(json.loads(body)["image"])[1], image)

    def test_a_server_that_is_not_a_cluster(self):
        plain = RedisServer()
        self.addCleanup(plain.close)
        svc = Service(["--redis-url", "redis+cluster://" + plain.address,
                       "--redis-command-timeout-ms", "500"])
        self.addCleanup(svc.close)
        self.assertEqual(svc.request("GET", "/readyz")[0], 503)
        status, headers, _ = svc.upload_raw(images()[0])
        self.assertEqual(status, 503)
        self.assertIn("retry-after", headers)
        self.assertTrue(svc.healthy())
        self.assertIn("cluster support disabled", svc.log())

    def test_no_seed_answers(self):
        svc = Service(["--redis-url", "redis+cluster://127.0.0.1:%d/" % free_node_port(),
                       "--redis-command-timeout-ms", "500"])
        self.addCleanup(svc.close)
        for _ in range(3):
            status, headers, _ = svc.request("GET", "/v1/image/" + str(uuid.uuid4()))
            self.assertEqual(status, 503)
            self.assertIn("retry-after", headers)
        self.assertTrue(svc.healthy())


    def test_an_invalid_cluster_url_stops_the_start(self):
        for url in ("redis+cluster://", "redis+cluster://a:1,,b:2", "redis+cluster://a:99999",
                    "redis+cluster://u:hunter2@a:1/3"):
            with self.subTest(url=url):
                svc = Service(["--redis-url", url], start=False)
                self.addCleanup(svc.close)
                svc.port = free_node_port()
                done = subprocess.run(svc.command(), capture_output=True, timeout=30)
                output = (done.stdout + done.stderr).decode()
                self.assertNotEqual(done.returncode, 0)
                self.assertIn("REDIS_URL", output)
                self.assertNotIn("hunter2", output)
                self.assertNotIn("AddressSanitizer", output)


class WaitReplicasSingleServerTest(unittest.TestCase):
    """--redis-wait-replicas on one server: WAIT after each SET, on a connection of its own."""

    def test_without_a_replica_uploads_are_503_and_reads_go_on(self):
        redis = RedisServer()
        self.addCleanup(redis.close)
        svc = Service(["--redis-url", redis.address, "--redis-wait-replicas", "1",
                       "--redis-command-timeout-ms", "4000", "--cache-mb", "0"])
        self.addCleanup(svc.close)
        stored_id = str(uuid.uuid4())
        image = images()[0]
        with redis.client() as r:
            r.command("SET", stored_id, image)
        answer = []
        upload = threading.Thread(target=lambda: answer.append(svc.upload_raw(image)))
        upload.start()
        try:
            with redis.client() as r:
                while info(r.command("INFO", "clients")).get("blocked_clients") != "1":
                    time.sleep(0.005)  # until the upload's WAIT blocks its connection
                # A read while that WAIT blocks: answered from the other connection.
                status, _, body = svc.request("GET", "/v1/image/" + stored_id)
                self.assertEqual(status, 200, body[:300])
                self.assertEqual(decode_data_url(json.loads(body)["image"])[1], image)
                self.assertEqual(info(r.command("INFO", "clients")).get("blocked_clients"), "1")
        finally:
            upload.join()
        status, headers, body = answer[0]
        self.assertEqual(status, 503, body[:300])
        self.assertIn("retry-after", headers)
        self.assertIn("0 of 1 replicas acknowledged", svc.log())
        with redis.client() as r:
            self.assertEqual(r.command("DBSIZE"), 2)  # the unacknowledged write stays (README)
        self.assertTrue(svc.healthy())

    def test_with_a_replica_uploads_are_on_it_when_acknowledged(self):
        scratch = tempfile.mkdtemp(prefix="redis-replica-")  # for the RDB of the first sync
        self.addCleanup(shutil.rmtree, scratch, True)
        master = RedisServer("--dir", scratch)
        self.addCleanup(master.close)
        replica = RedisServer("--replicaof", "127.0.0.1", str(master.port), "--dir", scratch)
        self.addCleanup(replica.close)
        with replica.client() as r:
            while info(r.command("INFO", "replication")).get("master_link_status") != "up":
                time.sleep(0.02)
        svc = Service(["--redis-url", master.address, "--redis-wait-replicas", "1"])
        self.addCleanup(svc.close)
        image = images()[1]
        answers = []

        def upload(i):
            for _ in range(5):
                answers.append(svc.upload_raw(image, content_type="image/png"))

        run_in_threads(6, upload)
        self.assertEqual(len(answers), 30)
        with replica.client() as r:
            for status, _, body in answers:
                self.assertEqual(status, 200, body[:300])
                self.assertEqual(r.command("GET", json.loads(body)["id"]), image)


if __name__ == "__main__":
    unittest.main()
