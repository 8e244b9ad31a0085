"""A real Redis Cluster for the integration tests: N redis-server nodes in cluster mode on
loopback, created with `redis-cli --cluster create`, each node in a directory of its own (its
nodes.conf), so that a killed node started again rejoins with its identity (as the replica of
whoever was promoted in its place).

Stdlib only. Nodes start in parallel with short timeouts (a failover in about 3 s):
    cluster = RedisCluster(masters=3, replicas=1)
    cluster.url                   # "redis+cluster://127.0.0.1:p1,127.0.0.1:p2,.../"
    cluster.masters()             # ports of the masters that serve slots, as the cluster says
    cluster.kill(port); cluster.start(port); cluster.wait_ok()
    cluster.close()

Ports: a node's bus port is its port + 10000; both are picked below 32768 (the kernel hands out
outgoing client ports from 32768, and a server port there collided with them on this machine).
"""

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from redis_server import Resp, RespError, answers

CLUSTER_BUS_OFFSET = 10000


def _port_is_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_node_port(taken=()):
    """A port whose bus port (port + 10000) is free too, both below 32768."""
    for _ in range(500):
        port = random.randint(10000, 32767 - CLUSTER_BUS_OFFSET)
        if port in taken or port + CLUSTER_BUS_OFFSET in taken:
            continue
        if _port_is_free(port) and _port_is_free(port + CLUSTER_BUS_OFFSET):
            return port
    raise RuntimeError("no free port pair for a cluster node")


def _die_with_parent():
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: no node outlives its test
    except Exception:
        pass


def info(text):
    """INFO's "key:value" lines as a dict."""
    out = {}
    for line in (text.decode() if isinstance(text, bytes) else text).splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


class ClusterNode:

    def __init__(self, port, directory, node_timeout_ms, extra_args):
        self.port = port
        self.dir = directory
        self.node_timeout_ms = node_timeout_ms
        self.extra_args = list(extra_args)
        self.proc = None
        self.log_path = os.path.join(directory, "redis.log")

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def spawn(self):
        """Starts the process without waiting (nodes start in parallel; see wait_answering)."""
        # --repl-diskless-sync-delay 0: a replica's first sync starts at once; a replica that
        # never synced is never promoted. --cluster-replica-validity-factor 0: a replica is
        # promoted however long its link was down (in a test the link may have been down
        # for a moment under load).
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", self.dir, "--save", "", "--appendonly", "no",
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(self.node_timeout_ms),
                "--cluster-replica-validity-factor", "0",
                "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0",
                "--logfile", self.log_path] + self.extra_args
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)

    def answers(self):
        return answers(self.port)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL: a crash, as far as the cluster and clients can tell."""
        if self.running():
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def client(self, timeout=10):
        return Resp(self.port, timeout=timeout)

    def command(self, *args):
        with self.client() as c:
            return c.command(*args)

    def info(self, section):
        return info(self.command("INFO", section))

    def cluster_info(self):
        return info(self.command("CLUSTER", "INFO"))

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


class RedisCluster:
    """`masters` masters with `replicas` replicas each, slots spread evenly by redis-cli."""

    def __init__(self, masters=3, replicas=1, node_timeout_ms=1500, extra_args=(),
                 timeout=60.0):
        self.root = tempfile.mkdtemp(prefix="redis-cluster-")
        self.nodes = []
        taken = set()
        for i in range(masters * (1 + replicas)):
            port = free_node_port(taken)
            taken.update((port, port + CLUSTER_BUS_OFFSET))
            directory = os.path.join(self.root, "node-%d" % port)
            os.mkdir(directory)
            self.nodes.append(ClusterNode(port, directory, node_timeout_ms, extra_args))
        try:
            for node in self.nodes:
                node.spawn()
            self._wait_answering(self.nodes, timeout)
            created = subprocess.run(
                ["redis-cli", "--cluster", "create"] + [n.address for n in self.nodes] +
                ["--cluster-replicas", str(replicas), "--cluster-yes"],
                stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
            if created.returncode != 0:
                raise RuntimeError("redis-cli --cluster create failed:\n%s%s" % (
                    created.stdout.decode(errors="replace"),
                    created.stderr.decode(errors="replace")))
            self.wait_ok(timeout)
        except BaseException:
            self.close()
            raise

    # -----------------------------------------------------------------------------------------
    # Addresses

    @property
    def ports(self):
        return [n.port for n in self.nodes]

    @property
    def url(self):
        """The service's REDIS_URL for this cluster: every node as a seed."""
        return "redis+cluster://" + ",".join(n.address for n in self.nodes) + "/"

    def node(self, port):
        return next(n for n in self.nodes if n.port == port)

    def any_live(self):
        for node in self.nodes:
            if node.running() and node.answers():
                return node
        raise RuntimeError("no cluster node answers")

    # -----------------------------------------------------------------------------------------
    # Topology, as the cluster sees it

    def topology(self, via=None):
        """[{port, id, role, master_id, flags, slots}] from CLUSTER NODES of a live node."""
        text = (via or self.any_live()).command("CLUSTER", "NODES").decode()
        nodes = []
        for line in text.splitlines():
            fields = line.split()
            if len(fields) < 8:
                continue
            flags = set(fields[2].split(","))
            port = int(fields[1].split("@")[0].rsplit(":", 1)[1] or 0)
            nodes.append({"id": fields[0], "port": port, "flags": flags,
                          "role": "master" if "master" in flags else "replica",
                          "master_id": None if fields[3] == "-" else fields[3],
                          "slots": fields[8:]})
        return nodes

    def masters(self, via=None):
        """Ports of the healthy masters that own slots."""
        return sorted(n["port"] for n in self.topology(via)
                      if n["role"] == "master" and n["slots"] and not n["flags"] & {"fail", "fail?"})

    def replicas_of(self, master_port, via=None):
        nodes = self.topology(via)
        master = next(n for n in nodes if n["port"] == master_port)
        return sorted(n["port"] for n in nodes if n["master_id"] == master["id"]
                      and not n["flags"] & {"fail", "fail?"})

    def slot_owner(self, slot, via=None):
        for entry in (via or self.any_live()).command("CLUSTER", "SLOTS"):
            if entry[0] <= slot <= entry[1]:
                return entry[2][1]
        return None

    def node_id(self, port):
        return self.node(port).command("CLUSTER", "MYID").decode()

    # -----------------------------------------------------------------------------------------
    # Readiness

    @staticmethod
    def _wait_answering(nodes, timeout):
        deadline = time.monotonic() + timeout
        waiting = list(nodes)
        while waiting:
            for node in list(waiting):
                if node.proc is not None and node.proc.poll() is not None:
                    raise RuntimeError("redis-server on port %d exited:\n%s" % (
                        node.port, node.log()[-2000:]))
                if node.answers():
                    waiting.remove(node)
            if waiting:
                if time.monotonic() > deadline:
                    raise RuntimeError("cluster nodes did not answer: %r" %
                                       [n.port for n in waiting])
                time.sleep(0.02)

    def _state(self):
        """None when every running node says cluster_state:ok, knows every slot, and every
        replica's link to its master is up; else what is still missing."""
        for node in self.nodes:
            if not node.running():
                continue
            try:
                ci = node.cluster_info()
                if ci.get("cluster_state") != "ok" or ci.get("cluster_slots_ok") != "16384":
                    return "node %d: %s, %s slots ok" % (node.port, ci.get("cluster_state"),
                                                         ci.get("cluster_slots_ok"))
                repl = node.info("replication")
                if repl.get("role") == "slave" and repl.get("master_link_status") != "up":
                    return "replica %d: link to its master %s" % (
                        node.port, repl.get("master_link_status"))
            except (OSError, RespError, ConnectionError) as e:
                return "node %d: %s" % (node.port, e)
        return None

    def wait_ok(self, timeout=60.0):
        """Until every running node agrees the cluster is whole and every replica synced."""
        deadline = time.monotonic() + timeout
        while True:
            missing = self._state()
            if missing is None:
                return
            if time.monotonic() > deadline:
                raise RuntimeError("cluster not ok after %.0f s: %s" % (timeout, missing))
            time.sleep(0.05)

    def wait_promoted(self, dead_port, timeout=30.0):
        """After `dead_port` (a master) died: until a live node reports every slot served by
        a master other than it. Returns the seconds waited."""
        start = time.monotonic()
        while True:
            try:
                live = [n for n in self.nodes if n.running()]
                if all(n.cluster_info().get("cluster_state") == "ok" for n in live) and \
                        dead_port not in self.masters(live[0]):
                    return time.monotonic() - start
            except (OSError, RespError, ConnectionError):
                pass
            if time.monotonic() - start > timeout:
                raise RuntimeError("no replica promoted within %.0f s" % timeout)
            time.sleep(0.05)

    # -----------------------------------------------------------------------------------------
    # Nodes dying and coming back

    def kill(self, port):
        self.node(port).kill()

    def start(self, port, timeout=30.0):
        """Starts a node again with its nodes.conf: it rejoins (a master that was replaced
        comes back as the replica of its replacement)."""
        node = self.node(port)
        node.spawn()
        self._wait_answering([node], timeout)

    def dbsize(self, port):
        return self.node(port).command("DBSIZE")

    def keys_on(self, port):
        """Every key a node holds (SCAN, not KEYS)."""
        keys, cursor = [], b"0"
        with self.node(port).client() as c:
            while True:
                cursor, batch = c.command("SCAN", cursor, "COUNT", "1000")
                keys.extend(batch)
                if cursor in (b"0", 0):
                    return keys

    def close(self):
        for node in self.nodes:
            try:
                node.kill()
            except Exception:
                pass
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
