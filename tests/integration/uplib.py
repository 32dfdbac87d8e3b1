"""Helpers for the supervisor's tests: a compose project under a temporary state root,
driven through the real `stack` CLI (up, ps, logs, down), and the check that nothing of
the project is left afterwards: no process (supervisor included), mount, cgroup,
bridge, veth, nftables rule or file."""
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import STACK, run_stack
from engine_helpers import processes_in_cgroup
from netlib import links, ruleset

CGROUP_ROOT = Path("/sys/fs/cgroup")


def ready_after(seconds, interval, retries=3, app=False):
    """A db that becomes ready (its probe passes) `seconds` after it starts; with app, an
    app gated on it with service_healthy."""
    text = f"""
services:
  db:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sh", "-c", "sleep {seconds}; touch /tmp/ready; exec sleep 1000"]
    healthcheck:
      test: ["CMD", "test", "-e", "/tmp/ready"]
      interval: {interval}
      retries: {retries}
"""
    if app:
        text += """  app:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
    depends_on:
      db:
        condition: service_healthy
"""
    return text


def poll_until(fn, timeout=20, what="condition"):
    """Polls fn until it returns a true value, failing after the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class Project:
    def __init__(self, tmp_path, registry):
        self.dir = tmp_path / "proj"
        self.dir.mkdir()
        self.root = tmp_path / "root"
        self.root.mkdir(exist_ok=True)
        self.name = f"t{uuid.uuid4().hex[:8]}"
        self.registry = registry
        self.image = registry.ref("busybox")
        self.links_before = links()
        self.ruleset_before = ruleset()

    def write(self, text):
        (self.dir / "compose.yaml").write_text(text.replace("BUSYBOX", self.image))

    def __call__(self, *args, env=None):
        return run_stack("--root", str(self.root), "-p", self.name, "--project-directory",
                         str(self.dir), *args, env=env)

    def spawn(self, *args):
        """The CLI in the background, for tests that race or kill it."""
        return subprocess.Popen([STACK, "--root", str(self.root), "-p", self.name,
                                 "--project-directory", str(self.dir), *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})

    def ok(self, *args):
        r = self(*args)
        assert r.code == 0, r
        return r

    def ps_json(self, *args):
        import json
        r = self.ok("ps", "--format", "json", *args)
        return [json.loads(line) for line in r.out.splitlines() if line.strip()]

    def supervisor_pids(self):
        pids = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"supervise" in cmd and self.name.encode() in cmd and \
                    str(self.root).encode() in cmd:
                pids.append(int(pid))
        return pids

    def cgroup_dirs(self):
        dirs = [CGROUP_ROOT / "stack" / self.name]
        dirs += [d / "stack" / self.name for d in CGROUP_ROOT.iterdir() if d.is_dir()]
        return [d for d in dirs if d.exists()]

    def supervisor_crashes(self):
        """What the supervisor's log says of a crash (a sanitizer's report, an assertion,
        glibc's heap checks): the supervisor runs detached, so nothing else would."""
        found = []
        for log in (self.root / "run").glob("*/supervisor.log"):
            text = log.read_text(errors="replace")
            for marker in ("Sanitizer", "runtime error:", "Assertion", "free():",
                           "double free", "Segmentation"):
                if marker in text:
                    found.append(f"{log}: {text[:2000]}")
                    break
        return found

    def leftovers(self):
        found = []
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            if str(self.root) in line:
                found.append("mount: " + line)
        found += [f"cgroup: {d}" for d in self.cgroup_dirs()]
        found += [f"supervisor: {p}" for p in self.supervisor_pids()]
        found += [f"process: {pid}" for pid in processes_in_cgroup(f"/stack/{self.name}/")]
        for sub in ("containers", "projects", "run"):
            d = self.root / sub
            if d.exists():
                found += [f"file: {p}" for p in d.iterdir()]
        net = self.root / "net" / f"{self.name}.json"
        if net.exists():
            found.append(f"file: {net}")
        if links() != self.links_before:
            found.append("links: " + links())
        if ruleset() != self.ruleset_before:
            found.append("nft: " + ruleset())
        return found


@pytest.fixture
def project(tmp_path, registry):
    """A project of the test's own; afterwards `down -v` must leave nothing."""
    p = Project(tmp_path, registry)
    yield p
    crashes = p.supervisor_crashes()
    r = p("down", "-v", "--remove-orphans", "-t", "1")
    assert crashes == [], crashes
    assert r.code == 0, r
    left = p.leftovers()
    assert left == [], left
