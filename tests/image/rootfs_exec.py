#!/usr/bin/python3
"""Runs a program of an unpacked image's root filesystem the way a container engine starts it, in
this process (it becomes the program: same pid, its exit status and signals are the program's).

    /usr/bin/python3 rootfs_exec.py ROOT UID GID WORKDIR -- PROGRAM [ARG...]

The environment is passed through unchanged: the caller gives the image's environment plus the
variables a `docker run -e` would add. Steps: a private mount namespace (nothing mounted here is
seen outside it, and it all goes when the program exits), /proc, a /dev with the devices engines
provide, the host's /etc/hosts and /etc/resolv.conf as engines bind them (the network is the
host's: the tests' servers listen on loopback), then chroot, the working directory, no
supplementary groups, the image's group and user, and exec. Needs root (CAP_SYS_ADMIN).
"""

import ctypes
import os
import signal
import sys

CLONE_NEWNS = 0x00020000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
PR_SET_PDEATHSIG = 1
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")

libc = ctypes.CDLL("libc.so.6", use_errno=True)


def check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, "%s: %s" % (what, os.strerror(err)))


def mount(source, target, fstype, flags, data=None):
    check(libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(),
                     ctypes.c_ulong(flags), data and data.encode()),
          "mount %s on %s" % (source or fstype, target))


def bind_file(source, target, flags=0):
    if not os.path.exists(target):
        open(target, "a").close()
    mount(source, target, None, MS_BIND)
    if flags:
        mount(None, target, None, MS_BIND | MS_REMOUNT | flags)



def prepare(root):
    check(libc.unshare(CLONE_NEWNS), "unshare")
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("proc", os.path.join(root, "proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    dev = os.path.join(root, "dev")
    mount("tmpfs", dev, "tmpfs", MS_NOSUID, "mode=755,size=64k")
    for name in DEVICES:
        bind_file("/dev/" + name, os.path.join(dev, name))
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, os.path.join(dev, name))
    os.mkdir(os.path.join(dev, "shm"))
    mount("shm", os.path.join(dev, "shm"), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m")
    for name in ("hosts", "resolv.conf"):
        if os.path.exists("/etc/" + name):
            bind_file("/etc/" + name, os.path.join(root, "etc", name), MS_RDONLY)


def main(argv):
    if len(argv) < 7 or argv[5] != "--":
        sys.exit("usage: rootfs_exec.py ROOT UID GID WORKDIR -- PROGRAM [ARG...]")
    root, uid, gid, workdir, program = argv[1], int(argv[2]), int(argv[3]), argv[4], argv[6:]
    prepare(root)
    os.chroot(root)
    os.chdir(workdir)
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    # Changing the user cleared the parent-death signal the test harness set: set it again, so
    # that no service outlives a test killed by its runner.
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    os.execvpe(program[0], program, os.environ)  # a relative name: the image's PATH


if __name__ == "__main__":
    main(sys.argv)
