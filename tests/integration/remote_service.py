"""imagecpp in remote auth mode (the default): the harness's Service pointed at an auth
service URL and, optionally, a RabbitMQ broker for the logout broadcast."""

import json
import secrets
import time

from harness import Service, make_png

TINY_PNG = make_png(4, 4)


def new_token(prefix="valid"):
    return "%s-%s" % (prefix, secrets.token_urlsafe(16))


class RemoteService(Service):
    def __init__(self, auth_url, extra_args=(), rabbit_url="", **kwargs):
        self.auth_url = auth_url
        self.rabbit_url = rabbit_url
        super().__init__(extra_args, **kwargs)

    def command(self):
        return [self.binary, "--bind", "127.0.0.1", "--port", "0",
                "--auth-mode", "remote", "--auth-service-url", self.auth_url,
                "--rabbit-url", self.rabbit_url, "--data-dir", self.data_dir] + self.extra_args

    def auth_status(self, token, header=None):
        """Status of an upload with an empty body: 400 once authenticated (nothing stored),
        401 rejected, 503 auth service down."""
        headers = {"Authorization": header or ("Bearer " + token),
                   "Content-Type": "application/json"}
        status, _, _ = self.request("POST", "/v1/image", b"", headers)
        return status

    def upload_tiny(self, token):
        """(status, headers, body) of a real upload of a 4x4 PNG."""
        return self.upload_raw(TINY_PNG, "image/png", token=token)

    def readyz(self):
        status, _, body = self.request("GET", "/readyz")
        return status, json.loads(body)

    def wait_broker(self, state="connected", timeout=30.0):
        deadline = time.monotonic() + timeout
        while True:
            _, doc = self.readyz()
            if doc.get("broker") == state:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
