"""A real haproxy for the integration tests, started with the committed deploy/haproxy.cfg as it
is: the addresses go in through the variables that file reads (IMAGECPP_BIND, IMAGECPP_SERVER_n,
IMAGECPP_STATS_BIND, IMAGECPP_CHECK_INTER, IMAGECPP_HAPROXY_LOG, IMAGECPP_HAPROXY_SOCKET).

The admin socket answers what haproxy thinks of each instance (`show stat`) and changes an
instance's address at run time (`set server`), as an orchestrator would after a restart.
"""

import csv
import http.client
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from harness import _die_with_parent, free_port, send

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy",
                      "haproxy.cfg")
SERVERS = ("img1", "img2", "img3")  # the names in deploy/haproxy.cfg


class HaproxyError(AssertionError):
    pass


class Haproxy:
    """haproxy in front of three instances given as "host:port" strings."""

    def __init__(self, servers, check_inter="1s"):
        if not os.access(HAPROXY, os.X_OK):
            raise unittest.SkipTest("haproxy is not installed (scripts/deps.sh --test)")
        if len(servers) != len(SERVERS):
            raise ValueError("deploy/haproxy.cfg has %d servers" % len(SERVERS))
        self.dir = tempfile.mkdtemp(prefix="imagecpp-haproxy-")
        self.socket_path = os.path.join(self.dir, "admin.sock")
        self.log_path = os.path.join(self.dir, "haproxy.log")
        self.servers = list(servers)
        self.check_inter = check_inter
        self.proc = None
        self.port = self.stats_port = None
        self.start()

    def environment(self):
        env = dict(os.environ,
                   IMAGECPP_BIND="127.0.0.1:%d" % self.port,
                   IMAGECPP_STATS_BIND="127.0.0.1:%d" % self.stats_port,
                   IMAGECPP_CHECK_INTER=self.check_inter,
                   IMAGECPP_HAPROXY_LOG="stdout",
                   IMAGECPP_HAPROXY_SOCKET=self.socket_path)
        for n, address in enumerate(self.servers, 1):
            env["IMAGECPP_SERVER_%d" % n] = address
        return env

    def start(self, timeout=30.0):
        for _ in range(5):
            self.port, self.stats_port = free_port(), free_port()
            if self.port == self.stats_port:
                continue
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen([HAPROXY, "-db", "-f", CONFIG], env=self.environment(),
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
            log.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    status, _, _ = self.stats_request("GET", "/healthz")
                    if status == 200:
                        return self
                except OSError:
                    pass
                time.sleep(0.05)
            code = self.proc.poll()
            self.kill()
            if code is not None and "cannot bind" in self.log().lower():
                continue  # lost a race for a port
            raise HaproxyError("haproxy did not start (exit %r). Log:\n%s" % (code, self.log()))
        raise HaproxyError("haproxy could not bind its ports. Log:\n" + self.log())

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def close(self):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # -- HTTP ------------------------------------------------------------------------------

    def connection(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=30):
        """(status, headers with lowercase names, body) over a fresh connection to haproxy."""
        conn = self.connection(timeout)
        try:
            return send(conn, method, path, body, headers)
        finally:
            conn.close()

    def stats_request(self, method, path):
        conn = http.client.HTTPConnection("127.0.0.1", self.stats_port, timeout=5)
        try:
            return send(conn, method, path)
        finally:
            conn.close()

    # -- admin socket ----------------------------------------------------------------------

    def command(self, line):
        """One command on the admin socket; its whole answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(self.socket_path)
            s.sendall(line.encode() + b"\n")
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return out.decode()
                out += chunk

    def stat(self):
        """[{column: value}] of `show stat`, one row per frontend, backend and server."""
        text = self.command("show stat")
        if not text.startswith("# "):
            raise HaproxyError("unexpected 'show stat' answer: %r" % text[:200])
        return list(csv.DictReader(text[2:].splitlines()))

    def states(self, backend="reads"):
        """{server name: status} in a backend, e.g. {"img1": "UP", "img2": "DOWN", ...}."""
        return {row["svname"]: row["status"] for row in self.stat()
                if row["pxname"] == backend and row["svname"] in SERVERS}

    def wait_states(self, want, backend="reads", timeout=60.0):
        """Until every server named in `want` has its status (e.g. {"img2": "UP"})."""
        deadline = time.monotonic() + timeout
        while True:
            states = self.states(backend)
            if all(states.get(name, "").startswith(status) for name, status in want.items()):
                return states
            if time.monotonic() >= deadline:
                checks = ["%s/%s %s %s: %s" % (r["pxname"], r["svname"], r["status"],
                                               r["check_status"], r["last_chk"])
                          for r in self.stat() if r["svname"] in SERVERS]
                raise HaproxyError("haproxy states %r, waited for %r; checks: %s. Log:\n%s"
                                   % (states, want, "; ".join(checks), self.log()[-3000:]))
            time.sleep(0.05)

    def wait_all_up(self, timeout=60.0):
        return self.wait_states({name: "UP" for name in SERVERS}, timeout=timeout)

    def set_address(self, server, address):
        """Points a server (in both backends) at another host:port, as after a restart."""
        host, port = address.rsplit(":", 1)
        for backend in ("reads", "uploads"):
            answer = self.command("set server %s/%s addr %s port %s" % (backend, server, host, port))
            if "changed" not in answer and "no need to change" not in answer:
                raise HaproxyError("set server %s/%s: %r" % (backend, server, answer))
