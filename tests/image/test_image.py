"""The container image scripts/image.sh builds, tested by running what it holds.

This machine cannot run a container, so the test does what an engine does with the archive: it
applies the image's layers onto a directory, reads the image's configuration (entrypoint, user,
environment, working directory, health check: nothing hard-coded), and starts the entrypoint in
that root filesystem as that user with that environment (rootfs_exec.py: chroot in a private
mount namespace). Then it uploads every accepted format and reads variants (every decoder and
libvips module the image must hold), checks /healthz, /readyz and the image's own health check,
against the embedded store in /data and against a real redis-server on loopback.

    IMAGECPP_IMAGE=build/image/imagecpp.tar /usr/bin/python3 -m unittest -v test_image   (as root)

tests/image/run.sh builds the image and runs this (CI's container stage).
"""

import glob
import json
import os
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
LAUNCHER = os.path.join(HERE, "rootfs_exec.py")
ARCHIVE = os.path.abspath(os.environ.get(
    "IMAGECPP_IMAGE", os.path.join(HERE, "..", "..", "build", "image", "imagecpp.tar")))
# The harness starts $IMAGECPP_BIN: here, the launcher that starts the image's entrypoint.
os.environ["IMAGECPP_BIN"] = LAUNCHER
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from auth_double import AuthDouble  # noqa: E402
from docker_daemon import DockerDaemon  # noqa: E402
from harness import (Service, ServiceTestCase, decode_data_url, fit, free_port,  # noqa: E402
                     heif_size, jpeg_size, png_size, read_image, webp_size)
from image_archive import ImageArchive, resolve_user  # noqa: E402
from rabbit_server import RabbitServer  # noqa: E402
from redis_server import RedisServer  # noqa: E402

# Every format the service accepts, each decoded by a different library in the image (the HEIF
# ones through libvips' module, opened at run time), with its real dimensions.
FORMATS = (
    ("snake.jpg", "image/jpeg", lambda d: jpeg_size(d)),
    ("snake-progressive.jpg", "image/jpeg", lambda d: jpeg_size(d)),
    ("snake.png", "image/png", lambda d: png_size(d)),
    ("alpha.png", "image/png", lambda d: png_size(d)),
    ("sample.webp", "image/webp", lambda d: webp_size(d)),
    ("snake.gif", "image/gif", lambda d: gif_size(d)),
    ("animated.gif", "image/gif", lambda d: gif_size(d)),
    ("snake.heic", "image/heic", lambda d: heif_size(d)),
    ("sample.avif", "image/avif", lambda d: heif_size(d)),
)
VARIANT = 160
MODULE_FAILED = "unable to load"

IMAGE = None  # ImageArchive
ROOT = None  # its unpacked root filesystem
USER = None  # (uid, gid) of its User


def gif_size(data):
    return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")


def setUpModule():
    global IMAGE, ROOT, USER
    if os.geteuid() != 0:
        raise RuntimeError("needs root: chroot and a mount namespace")
    if not os.path.isfile(ARCHIVE):
        raise RuntimeError("no image at %s: build it with scripts/image.sh" % ARCHIVE)
    IMAGE = ImageArchive(ARCHIVE)
    tmp = tempfile.mkdtemp(prefix="imagecpp-image-")
    unittest.addModuleCleanup(shutil.rmtree, tmp, ignore_errors=True)
    ROOT = os.path.join(tmp, "rootfs")
    IMAGE.unpack(ROOT)
    USER = resolve_user(ROOT, IMAGE.config.get("User", ""))


# An empty RABBIT_URL counts as unset (the default broker, amqp://localhost): no broker is the
# flag's empty value, given as `docker run IMAGE --rabbit-url ''` would.
NO_BROKER = ("--rabbit-url", "")


def launcher(argv, root=None):
    """The command that runs argv inside the image as its user, from its working directory."""
    uid, gid = USER
    return [LAUNCHER, root or ROOT, str(uid), str(gid), IMAGE.workdir(), "--"] + list(argv)


def container_env(run_env):
    """The image's environment plus what `docker run -e` would add."""
    env = IMAGE.env()
    env.update(run_env)
    return env


def healthcheck_argv():
    test = (IMAGE.config.get("Healthcheck") or {}).get("Test") or []
    if test[:1] == ["CMD"]:
        return test[1:]
    if test[:1] == ["CMD-SHELL"]:
        return ["/bin/sh", "-c", test[1]]
    raise AssertionError("the image has no usable health check: %r" % test)


class ImageService(Service):
    """The image's entrypoint as the image's user with the image's environment plus `run_env`,
    on loopback: PORT and IMAGE_BIND are set like `docker run -e` would, on the free port the
    harness picks for each start."""

    def __init__(self, run_env, args=(), root=None):
        self.run_env = dict(run_env)
        self.args = list(args)
        self.root = root
        super().__init__(start=False)
        self.start()

    def command(self):
        # Called by start() before the process starts with self.env. A harness that lets the
        # kernel pick the port (and reads it from the startup line) has none yet: the image is
        # given one, as `docker run -e PORT` would.
        if self.port is None:
            self.port = free_port()
        self.env = container_env(dict(self.run_env, PORT=str(self.port), IMAGE_BIND="127.0.0.1"))
        return launcher(IMAGE.argv(self.args), self.root)

    def healthcheck(self):
        """Exit status of the image's health check, run in the image like an engine runs it."""
        # The bound only stops a hang (the image's own is 5 s, an engine's business).
        return subprocess.run(launcher(healthcheck_argv()), env=self.env, timeout=120,
                              stdin=subprocess.DEVNULL, capture_output=True).returncode

    def credentials(self):
        """(real, effective, saved, filesystem) uids of the running process."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("Uid:"):
                    return tuple(int(v) for v in line.split()[1:])
        raise AssertionError("no Uid line")


def new_token():
    return "valid-" + secrets.token_urlsafe(16)


class ImageContents(unittest.TestCase):
    """What the archive holds and says, before anything runs."""

    def test_configuration(self):
        config = IMAGE.config
        entry = IMAGE.argv()
        self.assertTrue(entry, config)
        program = os.path.join(ROOT, entry[0].lstrip("/"))
        self.assertTrue(os.path.isfile(program) and os.access(program, os.X_OK), entry)
        uid, gid = USER
        self.assertNotEqual(uid, 0, "runs as root: %r" % config.get("User"))
        self.assertNotEqual(gid, 0)
        self.assertIn("3001/tcp", config.get("ExposedPorts") or {})
        self.assertIn("/data", config.get("Volumes") or {})
        self.assertEqual(IMAGE.env().get("IMAGE_DATA_DIR"), "/data")
        self.assertTrue(healthcheck_argv())
        self.assertTrue(IMAGE.tags, "the archive names no tag: docker load would leave it unnamed")

    def test_data_volume_belongs_to_the_user(self):
        info = os.lstat(os.path.join(ROOT, "data"))
        self.assertTrue(stat.S_ISDIR(info.st_mode))
        self.assertEqual((info.st_uid, info.st_gid), USER)
        self.assertFalse(info.st_mode & stat.S_IWOTH, oct(info.st_mode))

    def test_small(self):
        """No compiler, headers, package manager, package lists or caches, manuals, docs."""
        for pattern in ("usr/bin/*gcc*", "usr/bin/*g++*", "usr/bin/cc", "usr/bin/c++",
                        "usr/bin/clang*", "usr/bin/ld", "usr/bin/apt*", "usr/include/*",
                        "var/lib/apt/lists/*_Packages*", "var/cache/apt/archives/*.deb",
                        "usr/share/man/*/*", "usr/share/info/*"):
            self.assertEqual(glob.glob(os.path.join(ROOT, pattern)), [], pattern)
        # Of the documentation, only the licences (dpkg keeps a package's symlinks, now dangling).
        docs = [os.path.join(d, f) for d, _, files in os.walk(os.path.join(ROOT, "usr/share/doc"))
                for f in files if f != "copyright" and not os.path.islink(os.path.join(d, f))]
        self.assertEqual(docs, [])
        # The licences stay.
        self.assertTrue(os.path.isfile(os.path.join(ROOT, "usr/share/doc/libvips42/copyright")))

    def test_every_library_resolves_inside(self):
        """The image's own loader finds every library of the binary and of the HEIF module."""
        modules = glob.glob(os.path.join(ROOT, "usr/lib/*/vips-modules-*/vips-heif.so"))
        self.assertEqual(len(modules), 1, modules)
        for path in [IMAGE.argv()[0], "/" + os.path.relpath(modules[0], ROOT)]:
            out = subprocess.run(["chroot", ROOT, "/usr/bin/ldd", path], capture_output=True,
                                 text=True)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertNotIn("not found", out.stdout)
            self.assertIn("libc.so.6", out.stdout)

    def test_bad_setting_stops_the_start(self):
        """A setting from the environment the image runs with is checked as on a host: exit 2,
        one line naming it."""
        env = container_env({"IMAGE_JPEG_QUALITY": "80%", "IMAGE_BIND": "127.0.0.1",
                             "PORT": str(free_port())})
        # The bound only stops a hang, should the setting be taken.
        out = subprocess.run(launcher(IMAGE.argv(NO_BROKER)), env=env, timeout=120,
                             stdin=subprocess.DEVNULL, capture_output=True, text=True)
        self.assertEqual(out.returncode, 2, out.stdout + out.stderr)
        lines = (out.stdout + out.stderr).strip().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("IMAGE_JPEG_QUALITY", lines[0])


class MissingLibrary(unittest.TestCase):
    """The checks above can fail: in a copy of the image without libde265 (HEVC, a dependency of
    the HEIF module only, which ldd of the binary does not see), the image's loader reports it,
    libvips says so at start, and a HEIC upload is refused."""

    def test_missing_library(self):
        copy = tempfile.mkdtemp(prefix="imagecpp-image-copy-")
        self.addCleanup(shutil.rmtree, copy, ignore_errors=True)
        root = os.path.join(copy, "rootfs")
        subprocess.run(["cp", "-a", "--link", ROOT, root], check=True)  # hard links: fast
        removed = glob.glob(os.path.join(root, "usr/lib/*/libde265.so*"))
        self.assertTrue(removed)
        # Links in the copy only; the store files too, which are the original's otherwise.
        for path in removed + glob.glob(os.path.join(root, "data", "*")):
            os.unlink(path)
        module = glob.glob(os.path.join(root, "usr/lib/*/vips-modules-*/vips-heif.so"))[0]
        out = subprocess.run(["chroot", root, "/usr/bin/ldd", "/" + os.path.relpath(module, root)],
                             capture_output=True, text=True)
        self.assertIn("libde265.so.0 => not found", out.stdout)
        double = AuthDouble()
        self.addCleanup(double.close)
        svc = ImageService({"AUTH_SERVICE_URL": double.url}, NO_BROKER, root=root)
        self.addCleanup(svc.close)
        self.assertIn(MODULE_FAILED, svc.log())
        status, _, body = svc.upload_raw(read_image("snake.heic"), "image/heic",
                                         token=new_token())
        self.assertNotEqual(status, 200, body[:300])


class StoreTests:
    """Runs against `cls.svc`, set up by the store's class."""

    def upload(self, name, mime):
        status, _, body = self.svc.upload_raw(read_image(name), mime, token=self.token)
        self.assertEqual(status, 200, body[:300])
        return json.loads(body)["id"]

    def test_health_and_ready(self):
        status, _, body = self.svc.request("GET", "/healthz")
        self.assertEqual((status, json.loads(body)), (200, {"status": "ok"}))
        status, _, body = self.svc.request("GET", "/readyz")
        self.assertEqual((status, json.loads(body)),
                         (200, {"status": "ready", "store": "ok"}))
        self.assertEqual(self.svc.healthcheck(), 0)

    def test_every_format_decodes_in_the_image(self):
        for name, mime, size_of in FORMATS:
            with self.subTest(name):
                data = read_image(name)
                image_id = self.upload(name, mime)
                # The original as uploaded.
                status, _, body = self.svc.request("GET", "/v1/image/" + image_id)
                self.assertEqual(status, 200, body[:300])
                self.assertEqual(decode_data_url(json.loads(body)["image"])[1], data)
                # A variant: decoded and resized by libvips, encoded by libjpeg, in the image.
                status, headers, body = self.svc.request(
                    "GET", "/images/%s/jpeg?Size=%d" % (image_id, VARIANT))
                self.assertEqual(status, 200, body[:300])
                self.assertEqual(headers["content-type"], "image/jpeg")
                self.assertEqual(jpeg_size(body), fit(*size_of(data), VARIANT))
        # What libvips says when a module's libraries are missing (see test_missing_library).
        self.assertNotIn(MODULE_FAILED, self.svc.log())

    def test_broken_images_are_client_errors(self):
        jpeg = read_image("snake.jpg")
        status, _, body = self.svc.upload_raw(b"\x00" * 4096, "image/jpeg", token=self.token)
        self.assertEqual(status, 400, body[:300])
        # Cut short: accepted (headers only are checked), then the decoder in the image fails.
        status, _, body = self.svc.upload_raw(jpeg[:len(jpeg) // 3], "image/jpeg",
                                              token=self.token)
        self.assertEqual(status, 200, body[:300])
        image_id = json.loads(body)["id"]
        status, _, body = self.svc.request("GET", "/images/%s/jpeg?Size=%d" % (image_id, VARIANT))
        self.assertEqual(status, 400, body[:300])
        self.assertTrue(self.svc.healthy())

    def test_runs_as_the_image_user(self):
        self.assertEqual(self.svc.credentials(), (USER[0],) * 4)


class EmbeddedStore(StoreTests, ServiceTestCase):
    """The image's defaults: LMDB in /data. Remote auth against the auth double on loopback."""

    @classmethod
    def setUpClass(cls):
        unittest.TestCase.setUpClass()
        cls.double = AuthDouble()
        cls.addClassCleanup(cls.double.close)
        cls.svc = ImageService({"AUTH_SERVICE_URL": cls.double.url}, NO_BROKER)
        cls.addClassCleanup(cls.svc.close)
        cls.token = new_token()

    def test_data_stays_in_the_volume(self):
        """Stopped as an engine stops it (SIGTERM: exit 0) and started again, the service reads
        what it wrote to /data; meanwhile the health check fails."""
        data = read_image("snake.jpg")
        image_id = self.upload("snake.jpg", "image/jpeg")
        self.assertEqual(self.svc.stop(), 0, self.svc.log()[-2000:])
        self.assertNotEqual(self.svc.healthcheck(), 0)
        files = os.listdir(os.path.join(ROOT, "data"))
        self.assertTrue(files)
        for name in files:
            info = os.stat(os.path.join(ROOT, "data", name))
            self.assertEqual((info.st_uid, info.st_gid), USER, name)
        self.svc.start()
        status, _, body = self.svc.request("GET", "/v1/image/" + image_id)
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(decode_data_url(json.loads(body)["image"])[1], data)
        self.assertEqual(self.svc.healthcheck(), 0)


class RedisStore(StoreTests, ServiceTestCase):
    """REDIS_URL to a real redis-server on loopback."""

    @classmethod
    def setUpClass(cls):
        unittest.TestCase.setUpClass()
        cls.redis = RedisServer()
        cls.addClassCleanup(cls.redis.close)
        cls.double = AuthDouble()
        cls.addClassCleanup(cls.double.close)
        cls.svc = ImageService({"REDIS_URL": cls.redis.address,
                                "AUTH_SERVICE_URL": cls.double.url}, NO_BROKER)
        cls.addClassCleanup(cls.svc.close)
        cls.token = new_token()

    def test_images_are_in_redis(self):
        data = read_image("snake.png")
        image_id = self.upload("snake.png", "image/png")
        with self.redis.client() as r:
            self.assertEqual(r.command("GET", image_id), data)

    def test_redis_outage_is_unready_then_ready(self):
        self.redis.stop()
        try:
            status, headers, body = self.svc.request("GET", "/readyz")
            self.assertEqual((status, json.loads(body)),
                             (503, {"status": "unready", "store": "unavailable"}))
            self.assertIn("retry-after", headers)
            # Alive, not ready: an engine's health check must not restart it for a Redis outage.
            self.assertEqual(self.svc.healthcheck(), 0)
        finally:
            self.redis.start()
        # Reconnects by itself (after a backoff of at most 1 s); the bound only stops a hang.
        deadline = time.monotonic() + 60
        while self.svc.request("GET", "/readyz")[0] != 200:
            self.assertLess(time.monotonic(), deadline, "still unready with Redis back")
            time.sleep(0.1)


class Broker(unittest.TestCase):
    """RABBIT_URL to a real RabbitMQ node on loopback: a logout broadcast reaches the service."""

    @classmethod
    def setUpClass(cls):
        cls.double = AuthDouble()
        cls.addClassCleanup(cls.double.close)
        cls.rabbit = RabbitServer()
        cls.addClassCleanup(cls.rabbit.close)
        cls.rabbit.start()
        cls.svc = ImageService({"AUTH_SERVICE_URL": cls.double.url, "RABBIT_URL": cls.rabbit.url})
        cls.addClassCleanup(cls.svc.close)

    def auth_status(self, token):
        """400 once authenticated (an empty upload), 401 rejected."""
        return self.svc.request("POST", "/v1/image", b"", {
            "Authorization": "Bearer " + token, "Content-Type": "application/json"})[0]

    def test_logout_reaches_the_service(self):
        # Bounds that only stop a hang: the consumer connects and applies a logout at once.
        deadline = time.monotonic() + 60
        while json.loads(self.svc.request("GET", "/readyz")[2]).get("broker") != "connected":
            self.assertLess(time.monotonic(), deadline, self.svc.log()[-2000:])
            time.sleep(0.05)
        token = new_token()
        self.assertEqual(self.auth_status(token), 400)  # verified, now cached
        self.double.revoke(token)
        self.assertEqual(self.auth_status(token), 400)  # still cached: no call
        self.rabbit.publish(json.dumps({"type": "logout", "message": "bearer " + token}))
        deadline = time.monotonic() + 60
        while self.auth_status(token) != 401:
            self.assertLess(time.monotonic(), deadline, "logout not applied")
            time.sleep(0.02)


class DockerEngine(unittest.TestCase):
    """The archive in a real engine: Debian's dockerd (with runc) does run containers on this
    machine, where podman's crun cannot. `docker load`, then `docker run` on the host's network:
    the image's own health check turns healthy, a JPEG goes in and a variant comes out, and
    `docker stop` ends it with exit 0."""

    def test_docker_load_and_run(self):
        daemon = DockerDaemon()
        self.addCleanup(daemon.close)
        out = daemon.docker("load", "-i", ARCHIVE)
        tag = IMAGE.tags[0]
        self.assertIn(tag.rpartition("/")[2], out.stdout)
        double = AuthDouble()
        self.addCleanup(double.close)
        port = free_port()
        # Only the interval is the test's (the image's is 30 s); the check is the image's.
        daemon.docker("run", "-d", "--name", "imagecpp", "--network", "host",
                      "--health-interval", "1s", "-e", "PORT=%d" % port,
                      "-e", "IMAGE_BIND=127.0.0.1", "-e", "AUTH_SERVICE_URL=" + double.url,
                      tag, *NO_BROKER)
        deadline = time.monotonic() + 120  # stops a hang only
        while True:
            state = json.loads(daemon.docker("inspect", "imagecpp").stdout)[0]["State"]
            if state["Health"]["Status"] == "healthy":
                break
            self.assertTrue(state["Running"], daemon.docker("logs", "imagecpp").stderr)
            self.assertLess(time.monotonic(), deadline, state["Health"])
            time.sleep(0.2)
        svc = Service(start=False)  # only its HTTP client, pointed at the container
        self.addCleanup(svc.close)
        svc.port = port
        data = read_image("snake.jpg")
        status, _, body = svc.upload_raw(data, "image/jpeg", token=new_token())
        self.assertEqual(status, 200, body[:300])
        image_id = json.loads(body)["id"]
        status, _, body = svc.request("GET", "/images/%s/jpeg?Size=%d" % (image_id, VARIANT))
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(jpeg_size(body), fit(*jpeg_size(data), VARIANT))
        daemon.docker("stop", "-t", "25", "imagecpp")
        state = json.loads(daemon.docker("inspect", "imagecpp").stdout)[0]["State"]
        self.assertEqual(state["ExitCode"], 0, daemon.docker("logs", "imagecpp").stderr)


class Compose(unittest.TestCase):
    """deploy/compose.yaml cannot run here (no registry for Redis' and RabbitMQ's images), but it
    must parse, name this image, publish its port and set only settings the binary knows."""

    def test_compose_file(self):
        compose = shutil.which("docker-compose")
        self.assertIsNotNone(compose, "docker-compose is missing (scripts/deps.sh --image)")
        path = os.path.join(HERE, "..", "..", "deploy", "compose.yaml")
        out = subprocess.run([compose, "-f", path, "config"], capture_output=True, text=True,
                             env=dict(os.environ, AUTH_SERVICE_URL="http://auth:3000"))
        self.assertEqual(out.returncode, 0, out.stderr)
        import yaml  # python3-yaml, a dependency of docker-compose
        service = yaml.safe_load(out.stdout)["services"]["imagecpp"]
        familiar = {t.replace("docker.io/library/", "") for t in IMAGE.tags}
        self.assertIn(service["image"], familiar)
        self.assertIn("%d/tcp" % service["ports"][0]["target"], IMAGE.config["ExposedPorts"])
        help_text = subprocess.run(launcher(IMAGE.argv(["--help"])), env=container_env({}),
                                   stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                   timeout=120).stdout
        for name in service["environment"]:
            self.assertRegex(help_text, r"\b%s\b" % name)


class ArchiveLoads(unittest.TestCase):
    """podman takes the archive, with the configuration the test above ran."""

    def test_podman_load(self):
        podman = shutil.which("podman")
        self.assertIsNotNone(podman, "podman is missing (scripts/deps.sh --image installs it)")
        store = tempfile.mkdtemp(prefix="imagecpp-podman-")
        self.addCleanup(shutil.rmtree, store, ignore_errors=True)
        base = [podman, "--root", os.path.join(store, "root"), "--runroot",
                os.path.join(store, "run"), "--storage-driver", "vfs"]
        out = subprocess.run(base + ["load", "-i", ARCHIVE], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        out = subprocess.run(base + ["image", "inspect", IMAGE.tags[0]], capture_output=True,
                             text=True)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        inspected = json.loads(out.stdout)[0]
        config = inspected["Config"]
        self.assertEqual(config.get("Entrypoint"), IMAGE.config["Entrypoint"])
        self.assertEqual(config.get("User"), IMAGE.config["User"])
        self.assertEqual(sorted(config.get("Env")), sorted(IMAGE.config["Env"]))
        self.assertEqual(inspected.get("Healthcheck", {}).get("Test"),
                         IMAGE.config["Healthcheck"]["Test"])


if __name__ == "__main__":
    unittest.main()
