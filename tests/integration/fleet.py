"""Three imagecpp instances on one store (a Redis server or a Redis Cluster), behind the real
haproxy of deploy/haproxy.cfg: the production picture of the README's "Scaling out", on
loopback, for the integration tests.

Every instance is in remote auth mode against the one auth double, so a token is valid on all
of them, and (when a broker is given) consumes the logout broadcast with its own queue.
"""

import concurrent.futures
import re
import struct
import threading
import time

from haproxy_server import SERVERS, Haproxy
from remote_service import RemoteService, new_token

IMAGE_ROUTES = ("/v1/image/{id}", "/v1/image/{id}/jpeg", "/images/{id}", "/images/{id}/jpeg")
UPLOAD_ROUTES = ("/v1/image", "/images/create")
_SERIES = re.compile(r'^imagecpp_http_requests_total\{route="([^"]*)",status="(\d+)"\}$')


def with_comment(jpeg, text):
    """The same JPEG with a comment segment (COM) after SOI: a valid, distinct image, so that a
    read answered with another upload's bytes cannot pass a byte comparison."""
    payload = text.encode()
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def parallel(function, items, workers=8):
    """[function(item)] in order, from `workers` threads; an exception is returned, not raised,
    so that one failure does not hide how many others there were."""
    def guarded(item):
        try:
            return function(item)
        except Exception as e:  # noqa: BLE001 - reported by the caller
            return e
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(guarded, items))


def requests_by_route(svc):
    """{(route, status): count} of an instance's imagecpp_http_requests_total."""
    out = {}
    for series, value in svc.metrics().items():
        m = _SERIES.match(series)
        if m:
            out[(m.group(1), int(m.group(2)))] = value
    return out


def count(svc, routes, status=None):
    """Requests an instance answered on `routes` (with `status`, or any)."""
    return sum(v for (route, st), v in requests_by_route(svc).items()
               if route in routes and (status is None or st == status))


class Fleet:
    """Auth double and store given; starts the instances and haproxy."""

    def __init__(self, auth, redis_url, rabbit_url="", check_inter="1s", extra_args=()):
        self.auth = auth
        self.redis_url = redis_url
        self.instances = [RemoteService(auth.url, ["--redis-url", redis_url] + list(extra_args),
                                        rabbit_url=rabbit_url, start=False)
                          for _ in SERVERS]
        self.lb = None
        try:
            # One after the other, from this thread: a child started from a pool thread is
            # killed when that thread ends (the harness's PR_SET_PDEATHSIG is per thread).
            for svc in self.instances:
                svc.start()
            self.lb = Haproxy([self.address(s) for s in self.instances], check_inter=check_inter)
            self.lb.wait_all_up()
        except BaseException:
            self.close()
            raise
        self.token = new_token()

    @staticmethod
    def address(svc):
        return "127.0.0.1:%d" % svc.port

    def close(self):
        if self.lb is not None:
            self.lb.close()
        for svc in self.instances:
            svc.close()

    def auth_headers(self, token=None, content_type="image/jpeg"):
        return {"Authorization": "Bearer " + (token or self.token), "Content-Type": content_type}

    def upload(self, data, target=None, token=None):
        """(status, headers, body) of a raw upload through haproxy (or `target`)."""
        return (target or self.lb).request("POST", "/v1/image", data, self.auth_headers(token))

    def owner_counts(self):
        """[image reads answered] per instance, in server order."""
        return [count(svc, IMAGE_ROUTES) for svc in self.instances]

    def owner_counts_after(self, before, reads, seconds=30):
        """owner_counts() once `reads` more are counted in all since `before`. An instance counts
        a request just after it has written the answer: a client that has its answer may scrape
        before the count, on a loaded machine. Past `seconds`, the counts as they are (the
        caller's assertion then says what is missing)."""
        deadline = time.monotonic() + seconds
        while True:
            after = self.owner_counts()
            if sum(after) - sum(before) >= reads or time.monotonic() > deadline:
                return after
            time.sleep(0.02)


class Recorder:
    """Thread-safe list of (start, end, kind, outcome) of the requests of a load."""

    def __init__(self):
        self._lock = threading.Lock()
        self.records = []

    def add(self, start, end, kind, outcome):
        with self._lock:
            self.records.append((start, end, kind, outcome))

    def snapshot(self):
        with self._lock:
            return list(self.records)
