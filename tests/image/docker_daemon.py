"""A private Docker daemon (Debian's docker.io) for the image test: its own data and exec roots,
socket and containerd namespace in a temporary directory, vfs storage, no bridge and no iptables
rules (containers use the host's network, so they reach the test's servers on loopback). Nothing
of the machine's own Docker, if any, is touched; close() stops it and removes everything.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time

DOCKERD = shutil.which("dockerd") or "/usr/sbin/dockerd"
DOCKER = shutil.which("docker") or "/usr/bin/docker"


class DockerDaemon:
    def __init__(self, timeout=120.0):
        self.dir = tempfile.mkdtemp(prefix="imagecpp-docker-")
        self.socket = os.path.join(self.dir, "docker.sock")
        self.log_path = os.path.join(self.dir, "dockerd.log")
        namespace = "imagecpp-test-%d" % os.getpid()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [DOCKERD, "--data-root", os.path.join(self.dir, "data"),
                 "--exec-root", os.path.join(self.dir, "exec"),
                 "--pidfile", os.path.join(self.dir, "dockerd.pid"),
                 "--host", "unix://" + self.socket, "--storage-driver", "vfs",
                 "--iptables=false", "--ip-masq=false", "--bridge=none",
                 "--containerd-namespace", namespace,
                 "--containerd-plugins-namespace", namespace + "-plugins"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        # The bound only stops a hang: dockerd answers within seconds.
        deadline = time.monotonic() + timeout
        while self.docker("version", check=False).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = self.log()
                self.close()
                raise RuntimeError("dockerd did not start:\n" + log[-3000:])
            time.sleep(0.2)

    def docker(self, *args, check=True):
        """`docker args...` against this daemon; (returncode, stdout, stderr) as text."""
        out = subprocess.run([DOCKER, "--host", "unix://" + self.socket] + list(args),
                             stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if check and out.returncode != 0:
            raise AssertionError("docker %s: exit %d\n%s%s" % (
                " ".join(args), out.returncode, out.stdout, out.stderr))
        return out

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def close(self):
        if self.proc.poll() is None:
            # Containers first (a daemon stopping leaves none running, but be explicit).
            ids = self.docker("ps", "-aq", check=False).stdout.split()
            if ids:
                self.docker("rm", "-f", *ids, check=False)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        # dockerd leaves its default network namespace mounted under the exec root.
        for target in sorted(self._mounts(), key=len, reverse=True):
            subprocess.run(["umount", "--lazy", target], check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _mounts(self):
        with open("/proc/self/mounts") as f:
            targets = [line.split()[1] for line in f]
        return [t for t in targets if t == self.dir or t.startswith(self.dir + "/")]
