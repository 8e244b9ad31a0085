"""A test double of the e-commerce auth service: GET /v1/users/current with a bearer token.

Python stdlib only. Used in-process by the integration tests and as a subprocess by the C++
unit tests (`python3 auth_double.py [--cert CERT --key KEY]` prints "PORT <n>" and serves until
stdin closes).

Token rules (a revoked token is always 401; set_mode() overrides the prefix rules):
  registered with add_user()  -> 200 {"id", "name", "login", "permissions"}
  valid-*                     -> 200, user id "user-<first 8 characters of rest>"
  forbidden-*                 -> 403
  notfound-*                  -> 404
  fail-*                      -> 500
  slow-*                      -> waits `slow_seconds`, then 200
  lag-*                       -> waits `lag_seconds` (short), then 200
  garbage-*                   -> 200 with a body that is not a user
  anything else               -> 401
It counts calls per token and the most calls it ever answered at once, keeps connections alive
(HTTP/1.1), and can go down (stop listening and drop open connections: clients get "connection
refused") and come back on the same port. hold() makes every call wait (whatever its token)
until release(): a slow auth service whose slowness the test controls.
"""

import collections
import http.server
import json
import socket
import ssl
import sys
import threading
import time

PATH = "/v1/users/current"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so that connection reuse is observable

    def setup(self):
        super().setup()
        # Headers and body go out in two writes: without NODELAY, Nagle and the client's
        # delayed ACK add 40 ms to every answer on a kept-alive connection.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.double._track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.double._track(self.connection, False)

    def log_message(self, *args):
        pass

    def do_GET(self):
        double = self.server.double
        double._count_connection(self.connection)
        if self.path != PATH:
            return self._send(404, {"error": "Not Found"})
        header = self.headers.get("Authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else None
        double._count(token)
        double._enter()
        try:
            double._gate.wait(double.hold_seconds)
            status, body = double.answer(token)
        finally:
            double._leave()
        self._send(status, body)

    def _send(self, status, body):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 drops SYNs under a burst of new connections


class AuthDouble:
    def __init__(self, port=0, slow_seconds=2.0, lag_seconds=0.3, cert=None, key=None):
        self.slow_seconds = slow_seconds
        self.lag_seconds = lag_seconds
        self.users = {}
        self.modes = {}
        self.revoked = set()
        self.calls = collections.Counter()
        self.connections_seen = set()
        self.hold_seconds = 60.0  # the longest a held call waits for release()
        self.in_flight = 0
        self.max_in_flight = 0
        self._gate = threading.Event()
        self._gate.set()
        self._lock = threading.Lock()
        self._open = set()
        self._server = None
        self._thread = None
        self._tls = None
        if cert:
            self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._tls.load_cert_chain(cert, key)
        self.port = port
        self.up()

    # -- behaviour -------------------------------------------------------------------------

    def add_user(self, token, user_id, name="Test User"):
        with self._lock:
            self.users[token] = user_id
            self.revoked.discard(token)
        return token

    def set_mode(self, token, mode):
        """Makes `token` answer as the prefix `mode` says ("fail", "slow", "valid"...), or back
        to its own prefix rule with None."""
        with self._lock:
            if mode is None:
                self.modes.pop(token, None)
            else:
                self.modes[token] = mode

    def hold(self):
        """Calls from now on wait until release() before they are answered."""
        self._gate.clear()

    def release(self):
        self._gate.set()

    def revoke(self, token):
        with self._lock:
            self.revoked.add(token)

    def answer(self, token):
        with self._lock:
            revoked = token in self.revoked
            user_id = self.users.get(token)
            mode = self.modes.get(token)
        if token is None or revoked:
            return 401, {"error": "Unauthorized"}
        if user_id is None:
            prefix, _, rest = token.partition("-")
            prefix = mode or prefix
            if prefix == "valid":
                user_id = "user-" + rest[:8]
            elif prefix in ("slow", "lag"):
                time.sleep(self.slow_seconds if prefix == "slow" else self.lag_seconds)
                user_id = "user-" + rest[:8]
            elif prefix == "garbage":
                return 200, b"<html>not a user</html>"
            else:
                return {"forbidden": 403, "notfound": 404, "fail": 500}.get(prefix, 401), {
                    "error": "rejected"}
        return 200, {"id": user_id, "name": "Test User", "login": user_id,
                     "permissions": ["user"]}

    # -- counting --------------------------------------------------------------------------

    def _count(self, token):
        with self._lock:
            self.calls[token] += 1

    def _count_connection(self, conn):
        with self._lock:
            self.connections_seen.add(id(conn))

    def _enter(self):
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self):
        with self._lock:
            self.in_flight -= 1

    def call_count(self, token):
        with self._lock:
            return self.calls[token]

    def total_calls(self):
        with self._lock:
            return sum(self.calls.values())

    def _track(self, conn, opened):
        with self._lock:
            (self._open.add if opened else self._open.discard)(conn)

    # -- up and down -----------------------------------------------------------------------

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % ("https" if self._tls else "http", self.port)

    def up(self):
        """Listens (again) on self.port (a free one the first time when 0)."""
        if self._server is not None:
            return
        server = _Server(("127.0.0.1", self.port), _Handler)
        if self._tls:
            server.socket = self._tls.wrap_socket(server.socket, server_side=True)
        server.double = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def down(self):
        """Stops listening and drops kept-alive connections: new calls are refused."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            open_connections = list(self._open)
        for conn in open_connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server = None
        self._thread.join(5)

    def close(self):
        self.down()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def main(argv):
    cert = key = None
    if "--cert" in argv:
        cert = argv[argv.index("--cert") + 1]
        key = argv[argv.index("--key") + 1]
    slow = float(argv[argv.index("--slow") + 1]) if "--slow" in argv else 2.0
    double = AuthDouble(cert=cert, key=key, slow_seconds=slow)
    print("PORT %d" % double.port, flush=True)
    sys.stdin.read()  # serve until the parent closes our stdin (or dies)
    double.close()


if __name__ == "__main__":
    main(sys.argv[1:])
