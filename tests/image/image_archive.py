"""A docker-archive (what `docker save` writes and `docker load` reads) opened the way a container
engine would: its manifest, its image configuration, and its layers applied in order onto one
root filesystem.

Stdlib plus GNU tar (for ownership, modes, device nodes and hard links exactly as packed).
"""

import json
import os
import shutil
import subprocess
import tarfile

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


class ImageArchive:
    def __init__(self, path):
        self.path = path
        with tarfile.open(path) as archive:
            manifest = json.load(archive.extractfile("manifest.json"))
            if len(manifest) != 1:
                raise ValueError("%s holds %d images, expected 1" % (path, len(manifest)))
            self.entry = manifest[0]
            self.tags = self.entry.get("RepoTags") or []
            self.layers = list(self.entry["Layers"])
            self.image_config = json.load(archive.extractfile(self.entry["Config"]))
        # The run configuration: Entrypoint, Cmd, Env, User, WorkingDir, ExposedPorts, Volumes,
        # Healthcheck (docker's format), Labels, StopSignal.
        self.config = self.image_config.get("config") or {}

    def env(self):
        """The image's environment as a dict (later entries win, as in an engine)."""
        out = {}
        for item in self.config.get("Env") or []:
            name, _, value = item.partition("=")
            out[name] = value
        return out

    def argv(self, args=()):
        """Entrypoint, then Cmd unless arguments are given (as `docker run IMAGE args`)."""
        entry = list(self.config.get("Entrypoint") or [])
        cmd = list(args) if args else list(self.config.get("Cmd") or [])
        return entry + cmd

    def workdir(self):
        return self.config.get("WorkingDir") or "/"

    def unpack(self, root):
        """Applies every layer, in order, onto the empty directory `root`."""
        os.makedirs(root, exist_ok=True)
        staging = root + ".layers"
        os.makedirs(staging)
        try:
            subprocess.run(["tar", "-xf", self.path, "-C", staging] + self.layers, check=True)
            for layer in self.layers:
                self._apply(os.path.join(staging, layer), root)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    @staticmethod
    def _apply(layer, root):
        # Whiteouts first: a layer's .wh.NAME deletes NAME from the layers below, and
        # .wh..wh..opq empties its directory of them; neither is a file of the image.
        with tarfile.open(layer) as tar:
            names = tar.getnames()
        for name in names:
            directory, base = os.path.split(os.path.normpath(name))
            if base == OPAQUE:
                target = os.path.join(root, directory)
                for child in os.listdir(target) if os.path.isdir(target) else ():
                    _remove(os.path.join(target, child))
            elif base.startswith(WHITEOUT):
                _remove(os.path.join(root, directory, base[len(WHITEOUT):]))
        subprocess.run(["tar", "-xpf", layer, "-C", root, "--numeric-owner",
                        "--exclude=" + WHITEOUT + "*"], check=True)


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def resolve_user(root, user):
    """(uid, gid) of an image's User ("name", "uid", "name:group", "uid:gid"; empty is root),
    from the image's own /etc/passwd and /etc/group, as an engine resolves it."""
    if not user:
        return 0, 0
    name, _, group = user.partition(":")
    passwd = _table(os.path.join(root, "etc", "passwd"))
    uid = gid = None
    for row in passwd:
        if name in (row[0], row[2]):
            uid, gid = int(row[2]), int(row[3])
            break
    if uid is None:
        if not name.isdigit():
            raise ValueError("user %r is not in the image's /etc/passwd" % name)
        uid, gid = int(name), 0
    if group:
        gid = None
        for row in _table(os.path.join(root, "etc", "group")):
            if group in (row[0], row[2]):
                gid = int(row[2])
                break
        if gid is None:
            if not group.isdigit():
                raise ValueError("group %r is not in the image's /etc/group" % group)
            gid = int(group)
    return uid, gid


def _table(path):
    with open(path) as f:
        return [line.rstrip("\n").split(":") for line in f if line.strip()]
