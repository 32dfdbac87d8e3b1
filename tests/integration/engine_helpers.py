"""Helpers for the engine's integration tests: a busybox rootfs, `stack runtime run`,
and a check that a test left no process, mount, cgroup or directory behind."""
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import STACK

BUSYBOX = "/bin/busybox"
# One cgroup parent per pytest process, so leftovers are attributable to this run.
CGROUP_PARENT = f"stack-test-{os.getpid()}"
CGROUP_ROOT = Path("/sys/fs/cgroup")

# A Docker-format seccomp profile that allows everything but mkdir (EACCES).
MKDIR_DENIED_PROFILE = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "archMap": [{"architecture": "SCMP_ARCH_X86_64",
                 "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}],
}

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the engine needs root")
needs_busybox = pytest.mark.skipif(not os.path.exists(BUSYBOX),
                                   reason="busybox-static is not installed")


def cgroup_v2():
    return (CGROUP_ROOT / "cgroup.controllers").exists()


def cgroup_dir(controller, container_id):
    if cgroup_v2():
        return CGROUP_ROOT / CGROUP_PARENT / container_id
    return CGROUP_ROOT / controller / CGROUP_PARENT / container_id


def make_rootfs(path: Path):
    """A busybox rootfs with a root and an unprivileged user."""
    for d in ("bin", "etc", "proc", "sys", "dev", "tmp", "home/app"):
        (path / d).mkdir(parents=True, exist_ok=True)
    shutil.copy(BUSYBOX, path / "bin/busybox")
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True).stdout.split()
    for a in applets:
        if a != "busybox":
            os.symlink("busybox", path / "bin" / a)
    (path / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                     "app:x:1000:1000:App:/home/app:/bin/sh\n")
    (path / "etc/group").write_text("root:x:0:\napp:x:1000:\naudio:x:29:app\ntty:x:5:\n")
    return path


class Container:
    """A `stack runtime run` process in the background."""

    def __init__(self, proc, cid, report):
        self.proc = proc
        self.id = cid
        self.report_path = report

    def pid(self, timeout=10):
        """Host PID of the container's PID 1, from its cgroup."""
        procs = cgroup_dir("pids", self.id) / "cgroup.procs"
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                pids = [int(p) for p in procs.read_text().split()]
                if pids:
                    return min(pids)
            except FileNotFoundError:
                pass
            time.sleep(0.02)
        raise AssertionError(f"container {self.id} did not start")

    def wait_exec(self, pid, argv0, timeout=10):
        """Wait until the container's PID 1 has exec'd its program."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0] == argv0:
                return
            time.sleep(0.02)
        raise AssertionError(f"{argv0!r} did not start")

    def wait(self, timeout=60):
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err

    def report(self):
        return json.loads(Path(self.report_path).read_text())


class Engine:
    def __init__(self, tmp_path: Path):
        self.tmp = tmp_path
        self.root = tmp_path / "state"
        self.rootfs = make_rootfs(tmp_path / "rootfs")
        self.n = 0
        # How every stack command line is run: as is, or e.g. under `chroot DIR`.
        self.wrap = list

    def _args(self, cmd, spec, cid):
        self.n += 1
        spec = dict(spec or {})
        spec.setdefault("cgroup_parent", CGROUP_PARENT)
        spec_path = self.tmp / f"spec{self.n}.json"
        spec_path.write_text(json.dumps(spec))
        report = self.tmp / f"report{self.n}.json"
        cid = cid or f"t{os.getpid()}-{self.n}"
        args = [STACK, "--root", str(self.root), "runtime", "run", "--id", cid,
                "--spec", str(spec_path), "--report", str(report)]
        if "rootfs" not in spec and "layers" not in spec:
            args += ["--rootfs", str(self.rootfs)]
        return args + ["--"] + list(cmd), cid, report

    def run(self, *cmd, spec=None, input=None, timeout=60):
        args, cid, report = self._args(cmd, spec, None)
        p = subprocess.run(self.wrap(args), capture_output=True, text=True, input=input,
                           timeout=timeout,
                           env={"PATH": "/usr/bin:/bin"})
        r = Result(p.returncode, p.stdout, p.stderr)
        r.report = json.loads(report.read_text()) if report.exists() else None
        return r

    def ctl(self, action, container, *args, timeout=60, input=None):
        """`stack runtime ACTION --id ID ...` against a running container."""
        p = subprocess.run(self.wrap([STACK, "--root", str(self.root), "runtime", action,
                                      "--id", container.id, "--spec", str(container.spec_path),
                                      *args]),
                           capture_output=True, text=True, timeout=timeout, input=input,
                           env={"PATH": "/usr/bin:/bin"})
        return Result(p.returncode, p.stdout, p.stderr)

    def start(self, *cmd, spec=None, cid=None, **kw):
        args, cid, report = self._args(cmd, spec, cid)
        proc = subprocess.Popen(self.wrap(args), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={"PATH": "/usr/bin:/bin"}, **kw)
        c = Container(proc, cid, report)
        c.spec_path = self.tmp / f"spec{self.n}.json"
        return c


class Result:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err
        self.report = None

    def __repr__(self):
        return f"<exit {self.code}\nstdout:\n{self.out}\nstderr:\n{self.err}>"


def leftovers(tmp_path: Path):
    """Everything a finished container must not leave behind."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        if str(tmp_path) in line:
            found.append("mount: " + line)
    for d in [CGROUP_ROOT, *CGROUP_ROOT.iterdir()]:
        if (d / CGROUP_PARENT).exists():
            found.append(f"cgroup: {d / CGROUP_PARENT}")
    containers = tmp_path / "state" / "containers"
    if containers.exists():
        found += [f"dir: {p}" for p in containers.iterdir()]
    found += [f"process: {pid}" for pid in processes_in_cgroup(CGROUP_PARENT)]
    return found


def processes_in_cgroup(fragment):
    """PIDs of the processes whose cgroup path contains fragment."""
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cg = Path(f"/proc/{pid}/cgroup").read_text()
        except OSError:
            continue
        if fragment in cg:
            pids.append(pid)
    return pids


@pytest.fixture
def engine(tmp_path):
    """An Engine for the test; afterwards, nothing of it may remain."""
    e = Engine(tmp_path)
    yield e
    left = leftovers(tmp_path)
    assert left == [], left


def stop(container, sig=signal.SIGTERM):
    container.proc.send_signal(sig)
