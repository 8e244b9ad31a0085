"""A real RabbitMQ node for the integration tests: own HOME (Erlang cookie), node name, data
directory and loopback ports below 32768, no systemd; start, stop, kill, restart; publish with
amqp-publish (Debian amqp-tools). As root and without systemd, the node needs its own HOME
(rabbitmqctl and the server must share one Erlang cookie) and explicit loopback addresses.

Run as a program, it serves the C++ unit tests (tests/unit/rabbit_process.hpp): it starts a node,
prints "PORT <n>", then obeys one command per line on stdin, answering "OK" or "ERR <why>" on
one line: start, stop, kill, close_connections, publish <base64 body>. It stops the node and
removes its files when stdin closes.
"""

import base64
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"
PUBLISH = shutil.which("amqp-publish") or "/usr/bin/amqp-publish"
LOOPBACK_ONLY = "-kernel inet_dist_use_interface {127,0,0,1}"


def _free_ports(count):
    from harness import _port_is_free
    ports = set()
    while len(ports) < count:
        port = random.randint(20000, 32000)
        if _port_is_free(port):
            ports.add(port)
    return sorted(ports)


class RabbitServer:
    """One RabbitMQ node. Ports and data stay the same across restarts."""

    def __init__(self):
        for tool in (SERVER, CTL, PUBLISH):
            if not os.access(tool, os.X_OK):
                raise unittest.SkipTest("RabbitMQ tool missing: " + tool)
        self.dir = tempfile.mkdtemp(prefix="imagecpp-rabbit-")
        self.port, self.dist_port, self.epmd_port = _free_ports(3)
        self.node = "imagecpp%d@localhost" % self.port
        self.proc = None
        self.log_path = os.path.join(self.dir, "server.out")
        for name, text in (("rabbitmq.conf", "loopback_users.guest = true\n"),
                           ("enabled_plugins", "[].\n"), ("rabbitmq-env.conf", "")):
            with open(os.path.join(self.dir, name), "w") as f:
                f.write(text)
        self.env = dict(
            os.environ,
            HOME=self.dir,
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            ERL_EPMD_ADDRESS="127.0.0.1",
            ERL_EPMD_PORT=str(self.epmd_port),
            RABBITMQ_MNESIA_BASE=os.path.join(self.dir, "mnesia"),
            RABBITMQ_LOG_BASE=os.path.join(self.dir, "log"),
            RABBITMQ_PID_FILE=os.path.join(self.dir, "rabbit.pid"),
            RABBITMQ_CONFIG_FILE=os.path.join(self.dir, "rabbitmq.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=os.path.join(self.dir, "enabled_plugins"),
            RABBITMQ_CONF_ENV_FILE=os.path.join(self.dir, "rabbitmq-env.conf"),
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=LOOPBACK_ONLY,
            RABBITMQ_CTL_ERL_ARGS=LOOPBACK_ONLY,
        )

    @property
    def url(self):
        return "amqp://guest:guest@127.0.0.1:%d/" % self.port

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=300.0):  # a hang guard: a loaded machine boots Erlang slowly
        """Starts the node and returns once it has booted (checked, not assumed: a failed boot
        can still exit 0)."""
        assert not self.running(), "already running"
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([SERVER], env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        log.close()
        # The AMQP listener opens near the end of the boot; a publish (login, channel open)
        # then confirms it. Not rabbitmqctl await_startup: an Erlang VM per try, which a loaded
        # machine made slower than any timeout (the node had booted, the check never ended).
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if self._port_open() and self._ready():
                return self
            time.sleep(0.1)
        out = self.log()
        self.kill()
        raise RuntimeError("rabbitmq did not start. Log:\n" + out[-4000:])

    def stop(self):
        """A clean stop (the broker closes its connections), then epmd, which outlives it."""
        if self.running():
            try:
                self._ctl("stop", timeout=60)
            except subprocess.TimeoutExpired:
                pass
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        self._kill_epmd()

    def kill(self):
        """SIGKILL to the whole node: no goodbye to the clients."""
        if self.running():
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)
        self._kill_epmd()

    def restart(self):
        self.stop()
        return self.start()

    def close(self):
        self.stop()
        if self.proc is not None and self.proc.poll() is None:
            self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def publish(self, body, exchange="auth"):
        """Publishes `body` (str or bytes, any size: sent on stdin) to the fanout exchange."""
        data = body.encode() if isinstance(body, str) else body
        result = subprocess.run(
            [PUBLISH, "--server=127.0.0.1", "--port=%d" % self.port, "--username=guest",
             "--password=guest", "-e", exchange, "-r", ""],
            input=data, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
        if result.returncode != 0:
            raise RuntimeError("amqp-publish failed: %s" % result.stdout.decode(errors="replace"))

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _ready(self):
        """A message published to the default exchange (to no queue: it is dropped)."""
        try:
            return subprocess.run(
                [PUBLISH, "--server=127.0.0.1", "--port=%d" % self.port, "--username=guest",
                 "--password=guest", "-r", "imagecpp-readiness", "-b", "ready?"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                timeout=60).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def _port_open(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.5).close()
            return True
        except OSError:
            return False

    def close_connections(self):
        """The broker closes every client connection (connection.close, reason given), as on a
        node shutdown, and stays up."""
        result = self._ctl("close_all_connections", "closed by the test", timeout=300)
        if result.returncode != 0:
            raise RuntimeError("close_all_connections failed: %s"
                               % result.stdout.decode(errors="replace"))

    def _ctl(self, *args, timeout=30):
        return subprocess.run([CTL, "-n", self.node] + list(args), env=self.env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=timeout)

    def _kill_epmd(self):
        subprocess.run(["epmd", "-kill"], env=self.env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=10)


def _serve(server):
    """The command loop of the program form (see the module's docstring)."""
    commands = {
        "start": lambda arg: server.start(),
        "stop": lambda arg: server.stop(),
        "kill": lambda arg: server.kill(),
        "close_connections": lambda arg: server.close_connections(),
        "publish": lambda arg: server.publish(base64.b64decode(arg, validate=True)),
    }
    for line in sys.stdin:
        name, _, arg = line.strip().partition(" ")
        try:
            if name not in commands:
                raise ValueError("unknown command %r" % name)
            commands[name](arg)
            answer = "OK"
        except Exception as e:  # the caller reads the reason; this process keeps serving
            answer = "ERR " + " ".join(str(e).split())[:2000]
        print(answer, flush=True)


def main():
    try:
        server = RabbitServer()
    except unittest.SkipTest as e:
        print("SKIP %s" % e, flush=True)
        return
    try:
        server.start()
        print("PORT %d" % server.port, flush=True)
        _serve(server)
    except Exception as e:
        print("ERR %s" % " ".join(str(e).split())[:2000], flush=True)
    finally:
        server.close()


if __name__ == "__main__":
    main()
