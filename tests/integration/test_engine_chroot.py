"""stack run inside a chroot (a Debian rootfs made by debootstrap and chroot'ed into):
`runtime exec` must land in the container's root, not at the root of the mount namespace's
first mount, which in a chroot is the host's real root.

A chroot whose root is a mount of its own (`mount --bind DIR DIR`, as schroot does) runs
containers; one whose root is a plain directory does not yet (making / a slave mount and
pivot_root need / to be a mount): that test is a strict xfail."""
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import STACK, STACK_BINARY
from engine_helpers import engine, needs_busybox, needs_root  # noqa: F401

pytestmark = [needs_root, needs_busybox]

LOOP = ("sh", "-c", "echo ready; while :; do sleep 0.05; done")
# The host's top-level directories, reached through the bind of its / (relative links,
# as a chroot's own directories would be: they resolve inside the chroot).
LINKED = ("usr", "bin", "sbin", "lib", "lib64", "etc", "var")
# In /usr/sbin, off the minimal PATH the engine's tests give stack.
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"


def is_mount_point(path):
    return any(line.split()[4] == str(path)
               for line in Path("/proc/self/mountinfo").read_text().splitlines())


class Chroot:
    """A directory that is not a mount point, made to look like a system's root: the
    host's / bound at host/, links to its directories, proc, sys, dev, tmp and run
    mounted, and the host paths the test needs bound at the same paths inside."""

    def __init__(self, path: Path, own_mount):
        self.path = path
        self.own_mount = own_mount
        self.mounts = []

    def mount(self, target: Path, *how):
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", *how, str(target)], check=True)
        self.mounts.append(target)

    def bind_same_path(self, host_dir):
        self.mount(self.path / Path(host_dir).relative_to("/"), "--bind", str(host_dir))

    def setup(self, needed):
        x = self.path
        x.mkdir()
        # The suite's mount namespace is private: none of these propagates anywhere.
        if self.own_mount:
            self.mount(x, "--bind", str(x))
        self.mount(x / "host", "--rbind", "/")
        for name in LINKED:
            if os.path.lexists(f"/{name}"):
                os.symlink(f"host/{name}", x / name)
        self.mount(x / "proc", "-t", "proc", "proc")
        self.mount(x / "sys", "--rbind", "/sys")
        self.mount(x / "dev", "--rbind", "/dev")
        self.mount(x / "tmp", "-t", "tmpfs", "tmp")
        self.mount(x / "run", "-t", "tmpfs", "run")
        for d in sorted(set(needed)):
            self.bind_same_path(d)

    def teardown(self):
        """Unmounts in reverse order, each with what is under it; returns what failed."""
        failed = []
        for target in reversed(self.mounts):
            r = subprocess.run(["umount", "--recursive", str(target)], capture_output=True,
                               text=True)
            if r.returncode != 0:
                failed.append(f"umount {target}: {r.stderr.strip()}")
                subprocess.run(["umount", "--recursive", "--lazy", str(target)],
                               capture_output=True)
        self.mounts = []
        return failed

    def wrap(self, argv):
        return [CHROOT, str(self.path), *argv]


@pytest.fixture(params=[True, pytest.param(False, marks=pytest.mark.xfail(
    strict=True, reason="the engine needs / to be a mount point to start a container"))],
    ids=["root-is-a-mount", "root-is-a-directory"])
def chrooted(request, engine, tmp_path):  # noqa: F811
    """The engine fixture, with every stack command run chrooted into a Chroot. Its
    mounts go before the engine's own check that nothing is left (under tmp_path)."""
    ch = Chroot(tmp_path / "chroot", own_mount=request.param)
    # The test's files, and the binary (and with a sanitizer build, its wrapper and logs).
    needed = [tmp_path, Path(STACK_BINARY).resolve().parent, Path(STACK).resolve().parent]
    try:
        ch.setup(needed)
        assert is_mount_point(ch.path) == request.param
        # Not the root of the namespace's first mount either way, so setns(CLONE_NEWNS)
        # alone would put an exec'd process at the host's root.
        assert os.stat(ch.path).st_ino != os.stat("/").st_ino
        engine.wrap = ch.wrap
        yield engine
    finally:
        failed = ch.teardown()
        assert failed == [], failed
        mounted = [line for line in Path("/proc/self/mountinfo").read_text().splitlines()
                   if str(ch.path) in line]
        assert mounted == [], mounted


def started(engine, *cmd, spec=None):  # noqa: F811
    c = engine.start(*cmd, spec=spec)
    line = c.proc.stdout.readline()
    assert line.strip() == "ready", (line, c.proc.stderr.read() if not line else "")
    return c


def finish(c):
    c.proc.send_signal(signal.SIGTERM)
    return c.wait(timeout=30)


def test_exec_from_a_chroot_runs_in_the_containers_root_and_namespaces(chrooted):
    c = started(chrooted, *LOOP, spec={"hostname": "box", "stop_grace_period": 0.2})
    try:
        pid = c.pid()
        r = chrooted.ctl("exec", c, "--", "sh", "-c",
                         "hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo;"
                         "readlink /proc/self/ns/mnt; grep -c ^app: /etc/passwd;"
                         "cat /proc/self/cgroup")
        assert r.code == 0, r
        lines = r.out.splitlines()
        assert lines[0] == "box"
        assert lines[1].startswith("sh -c echo ready"), lines
        assert lines[2] == os.readlink(f"/proc/{pid}/ns/mnt")
        assert lines[3] == "1"  # the image's passwd, not the host's
        assert lines[4:] and all(line.endswith(":/") for line in lines[4:]), lines
    finally:
        finish(c)


def test_exec_from_a_chroot_as_a_user_of_the_image(chrooted):
    # A file only the image has: the exec'd process must see the image's root.
    (chrooted.rootfs / "etc/image-marker").write_text(f"image {chrooted.tmp.name}\n")
    c = started(chrooted, *LOOP, spec={"stop_grace_period": 0.2})
    try:
        r = chrooted.ctl("exec", c, "--user", "app", "--", "sh", "-c",
                         "id -un; id -u; echo $HOME; cat /etc/image-marker")
        assert r.code == 0, r
        assert r.out.splitlines() == ["app", "1000", "/home/app", f"image {chrooted.tmp.name}"]
    finally:
        finish(c)
