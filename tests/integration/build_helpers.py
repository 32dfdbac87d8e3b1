"""Helpers for the builder's tests: a build context with a compose file, `stack build`
against a state root of the test's own, running the built image from the store with
`stack runtime run`, and the check that a build left nothing behind."""
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import STACK
from engine_helpers import CGROUP_PARENT, cgroup_dir, leftovers


def store_image(root: Path, name: str):
    """(config, layer paths top first) of a named image in the store."""
    images = root / "images"
    refs = json.loads((images / "refs.json").read_text())["refs"]
    first = name.split("/")[0]
    if "/" not in name:
        name = f"docker.io/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    if ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    digest = refs[name]
    blob = lambda d: json.loads((images / "blobs/sha256" / d.split(":")[1]).read_text())
    manifest = blob(digest)
    config = blob(manifest["config"]["digest"])
    layers = []
    for d in reversed(config["rootfs"]["diff_ids"]):
        p = str(images / "layers/sha256" / d.split(":")[1])
        if p not in layers:  # overlayfs refuses a lower directory twice
            layers.append(p)
    return config, layers


class Builder:
    def __init__(self, tmp_path: Path, registry):
        self.tmp = tmp_path
        self.root = tmp_path / "root"
        self.root.mkdir(exist_ok=True)
        self.ctx = tmp_path / "proj"
        self.ctx.mkdir()
        self.registry = registry
        self.base = registry.ref("busybox") if registry else None
        self.n = 0

    def write(self, rel, content, mode=None):
        p = self.ctx / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
        if mode is not None:
            p.chmod(mode)
        return p

    def dockerfile(self, text, compose=None):
        self.write("Dockerfile", text.replace("@BASE@", self.base or "scratch"))
        self.write("compose.yaml", compose or "services:\n  app:\n    build: .\n")

    def _build_args(self, args, env):
        e = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "STACK_BUILD_CGROUP_PARENT": CGROUP_PARENT}
        e.update(env or {})
        return [STACK, "--root", str(self.root), "-f", str(self.ctx / "compose.yaml"),
                "build", *args], e

    def build(self, *args, env=None):
        argv, e = self._build_args(args, env)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=e)
        return Result(p)

    def start_build(self, *args, env=None):
        """`stack build` in the background (a Popen with stdout and stderr piped)."""
        argv, e = self._build_args(args, env)
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=e)

    def running_run_containers(self, program, count=1, timeout=60):
        """{id: host pids} of the RUN containers running program (their argv[0]), once
        count of them are."""
        containers = self.root / "containers"
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = {}
            for c in (containers.iterdir() if containers.exists() else []):
                try:
                    pids = [int(x) for x in (cgroup_dir("pids", c.name) / "cgroup.procs").read_text().split()]
                    if any(Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")[0] == program.encode()
                           for p in pids):
                        found[c.name] = pids
                except OSError:
                    continue
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"{count} RUN container(s) running {program} not seen")

    def run(self, name="proj-app", cmd=None, spec=None):
        """Runs the image as `docker run` would: entrypoint + cmd, env, user, workdir."""
        config, layers = store_image(self.root, name)
        c = config.get("config", {})
        argv = (c.get("Entrypoint") or []) + (cmd if cmd is not None else (c.get("Cmd") or []))
        self.n += 1
        s = {"layers": layers, "environment": c.get("Env") or [], "cgroup_parent": CGROUP_PARENT}
        if c.get("WorkingDir"):
            s["working_dir"] = c["WorkingDir"]
        if c.get("User"):
            s["user"] = c["User"]
        s.update(spec or {})
        sp = self.tmp / f"run{self.n}.json"
        sp.write_text(json.dumps(s))
        p = subprocess.run([STACK, "--root", str(self.root), "runtime", "run", "--id",
                            f"bt{os.getpid()}-{self.n}", "--spec", str(sp), "--", *argv],
                           capture_output=True, text=True, timeout=60,
                           env={"PATH": "/usr/bin:/bin"})
        return Result(p)

    def config(self, name="proj-app"):
        return store_image(self.root, name)[0]


class Result:
    def __init__(self, p):
        self.code, self.out, self.err = p.returncode, p.stdout, p.stderr

    def __repr__(self):
        return f"<exit {self.code}\nstdout:\n{self.out}\nstderr:\n{self.err}>"


def in_cgroup(pid, container_id):
    """Is pid a live process of that container's cgroup?"""
    try:
        return container_id in Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return False


def mounts_anywhere(path: Path):
    """Mounts under path seen by any process, in any mount namespace: a builder's
    private one (the views of COPY --from) included. A container's own mounts show as
    paths inside it: they go with its processes, which the tests check are gone."""
    found = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            lines = Path(f"/proc/{pid}/mountinfo").read_text().splitlines()
        except OSError:
            continue
        found.update(line.split()[4] for line in lines if str(path) in line.split()[4])
    return sorted(found)


def build_leftovers(b: Builder):
    found = leftovers(b.tmp)
    containers = b.root / "containers"
    if containers.exists():
        found += [f"dir: {p}" for p in containers.iterdir()]
    build = b.root / "build"
    if build.exists():
        found += [f"tmp: {p}" for p in build.iterdir()
                  if p.name not in ("cache", "cache-mounts", "statcache")]
        if (build / "statcache").exists():
            found += [f"tmp: {p}" for p in (build / "statcache").iterdir() if p.suffix != ".json"]
    tmp = b.root / "images/tmp"
    if tmp.exists():
        found += [f"store tmp: {p}" for p in tmp.iterdir()]
    return found


@pytest.fixture
def builder(tmp_path, registry):
    """A build context (tmp/proj, project name "proj") over the loopback busybox; after
    the test, no container, mount, cgroup, process or scratch file may remain."""
    b = Builder(tmp_path, registry)
    yield b
    left = build_leftovers(b)
    assert left == [], left
