"""A real redis-server for the integration tests, and a tiny RESP client to look inside it.

Stdlib only. The server runs on a free port below 32768 with no persistence; stop() kills it
(a crash, as far as clients can tell) and start() brings it back on the same port.
"""

import os
import signal
import socket
import subprocess
import tempfile
import time

import unittest

from harness import Service, ServiceTestCase, free_port


def answers(port):
    """Whether a redis-server answers on the loopback port: PONG, or NOAUTH with a password."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(1)[:1] in (b"+", b"-")
    except OSError:
        return False


class RedisServer:

    def __init__(self, *extra_args):
        self.port = free_port()
        self.extra_args = list(extra_args)
        self.proc = None
        self.log = tempfile.TemporaryFile()
        self.start()

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def start(self, timeout=10.0):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"] + self.extra_args,
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited with %r" % self.proc.returncode)
            if answers(self.port):
                return
            time.sleep(0.02)
        raise RuntimeError("redis-server did not answer on port %d" % self.port)

    def stop(self):
        """SIGKILL: the service sees its connection reset and new ones refused."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def pause(self):
        """SIGSTOP: connections stay open, nothing answers."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
        self.stop()
        self.log.close()

    def client(self, password=None, user=None, db=None):
        c = Resp(self.port)
        if password is not None:
            c.command(*(["AUTH"] + ([user] if user else []) + [password]))
        if db is not None:
            c.command("SELECT", str(db))
        return c


class RespError(Exception):
    pass


class Resp:
    """A minimal RESP2 client: enough to SET what the peers would store and look at keys."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def command(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        return self.reply()

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exactly(n + 2)[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise RespError("bad reply %r" % line)

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("redis closed the connection")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _exactly(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def commandstats(self):
        """{command: calls} from INFO commandstats."""
        out = {}
        for line in self.command("INFO", "commandstats").decode().splitlines():
            if line.startswith("cmdstat_"):
                name, _, fields = line.partition(":")
                stats = dict(kv.split("=") for kv in fields.split(","))
                out[name[len("cmdstat_"):]] = int(stats["calls"])
        return out


class RedisServiceTestCase(ServiceTestCase):
    """A real redis-server and one service on it (plus `service_args`), shared by the tests of
    the class."""

    @classmethod
    def setUpClass(cls):
        unittest.TestCase.setUpClass()
        cls.redis = RedisServer()
        cls.addClassCleanup(cls.redis.close)
        cls.svc = Service(["--redis-url", cls.redis.address] + list(cls.service_args),
                          env=cls.service_env)
        cls.addClassCleanup(cls.svc.close)
