#!/usr/bin/env python3
"""Dockerfile builds against the peers, same run: a multi-stage Dockerfile over a source
tree of --mb MB (many small files), built cold (every step rerun: --no-cache), rebuilt
with nothing changed, and rebuilt with one source file changed. Tools:
  stack build                 (the compose file's build: section)
  docker build, classic       (DOCKER_BUILDKIT=0; docker.io 20.10 from Debian)
  docker build, BuildKit      (DOCKER_BUILDKIT=1)
  podman build                (podman 4.3 from Debian, throw-away --root/--runroot)
Run by hand, as root:  python3 bench/build_bench.py [--stack build/stack] [--runs 3] [--mb 50]
It starts its own dockerd (no bridge, no iptables of its own; every RUN uses the host
network, as stack's builder does, and does no network I/O), serves busybox from a
loopback registry, blocks forwarding to the uplink while the peers run (PEERS.md), and
stops what it started by PID. Rounds are interleaved, so a change of the shared
machine's load falls on every tool. Prints Markdown rows for bench/RESULTS.md."""
import argparse
import glob
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests/integration"))
from pull_bench import podman_cleanup  # noqa: E402
from registry import Registry  # noqa: E402
from volume_bench import Docker, build_layout  # noqa: E402
from volume_bench import run as run_quiet  # noqa: E402


def run(*cmd, **kw):
    try:
        return run_quiet(*cmd, **kw)
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"{' '.join(map(str, cmd))}: exit {e.returncode}\n"
                         f"{e.stderr.decode(errors='replace')[-2000:]}")

DOCKERFILE = """ARG BASE={base}
FROM ${{BASE}} AS deps
RUN mkdir -p /deps && for i in 1 2 3 4 5; do echo "lib $i" > /deps/lib$i; done

FROM ${{BASE}} AS build
COPY src/ /src/
RUN cd /src && find . -type f | sort | xargs cat | md5sum > /digest && du -sk . > /size

FROM ${{BASE}}
COPY --from=deps /deps /opt/deps
COPY --from=build /digest /size /opt/app/
CMD ["cat", "/opt/app/digest"]
"""

PODMAN_CONF = """[containers]
default_ulimits = ["nofile={n}:{n}", "nproc={u}:{u}"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "none"
tmp_dir = "{d}/tmp"
"""


def make_context(ctx, base, mb):
    """mb MB of text in 100 KiB files, 50 per directory."""
    src = ctx / "src"
    line = ("the quick brown fox jumps over the lazy dog 0123456789 " * 2 + "\n").encode()
    body = line * (100 * 1024 // len(line))
    for i in range(mb * 10):
        d = src / f"pkg{i // 50:03d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i:04d}.txt").write_bytes(f"{i}\n".encode() + body)
    (ctx / "Dockerfile").write_text(DOCKERFILE.format(base=base))
    (ctx / "compose.yaml").write_text("services:\n  app:\n    build: .\n")


def uplink():
    out = subprocess.run(["ip", "route", "show", "default"], capture_output=True,
                         text=True).stdout.split()
    return out[out.index("dev") + 1] if "dev" in out else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stack", default=str(HERE.parent / "build/stack"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mb", type=int, default=50)
    ap.add_argument("--stack-only", action="store_true",
                    help="measure stack alone (no dockerd, no podman)")
    a = ap.parse_args()
    stack = os.path.abspath(a.stack)
    tmp = Path(tempfile.mkdtemp(prefix="stack-buildbench-"))
    ctx = tmp / "ctx"
    ctx.mkdir()
    reg = Registry(str(tmp / "registry")).start()
    dev = uplink()
    drop = ["FORWARD", "-o", dev, "-j", "DROP"] if dev else None
    docker = None
    pm_dir = tmp / "podman"
    # podman's cgroup parent, and the "docker" one dockerd makes with cgroupfs: removed
    # afterwards when this run made them
    leftover_cgroups = ("/sys/fs/cgroup/*/libpod_parent", "/sys/fs/cgroup/*/docker")
    cg_before = {c for g in leftover_cgroups for c in glob.glob(g)}
    load0 = open("/proc/loadavg").read().split()[:3]
    try:
        layout = build_layout("busybox")
        reg.push(layout, "busybox", "latest")
        base = f"{reg.host}/busybox:latest"
        make_context(ctx, base, a.mb)
        if drop:
            for t in ("iptables", "ip6tables"):
                run(t, "-t", "mangle", "-I", drop[0], "1", *drop[1:])
        root = tmp / "stack-root"
        s = [stack, "--root", str(root), "-f", str(ctx / "compose.yaml")]
        run(*s, "pull", "-q", base)
        tools = [("stack build", lambda *f: run(*s, "build", "-q", *f))]
        if not a.stack_only:
            docker = Docker(tmp / "docker")
            docker.__class__.__call__ = lambda self, *args, **kw: run(
                "/usr/bin/docker", "-H", self.sock, *args, **kw)
            docker("pull", "-q", base)
            n = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            u = resource.getrlimit(resource.RLIMIT_NPROC)[1]
            u = 4096 if u == resource.RLIM_INFINITY else min(4096, u)
            pm_dir.mkdir()
            (pm_dir / "tmp").mkdir()
            (pm_dir / "containers.conf").write_text(PODMAN_CONF.format(n=min(n, 1024), u=u,
                                                                       d=pm_dir))
            pm_env = dict(os.environ, CONTAINERS_CONF=str(pm_dir / "containers.conf"),
                          TMPDIR=str(pm_dir / "tmp"))
            podman = ["podman", "--root", str(pm_dir / "storage"), "--runroot", str(pm_dir / "run"),
                      "--storage-driver", "overlay", "--cgroup-manager", "cgroupfs",
                      "--events-backend", "none", "--runtime", "runc"]  # crun: hybrid cgroups
            # buildah refuses a base whose config has no history ("history lists 0 non-empty
            # layers"), as the test image's: podman gets the same layer through import
            index = json.loads((layout / "index.json").read_text())
            blob = lambda d: layout / "blobs/sha256" / d.split(":")[1]  # noqa: E731
            manifest = json.loads(blob(index["manifests"][0]["digest"]).read_text())
            run(*podman, "import", "-q", str(blob(manifest["layers"][0]["digest"])),
                "localhost/bench-base", env=pm_env)

            dk = lambda bk: lambda *f: docker("build", "-q", "--network", "host",  # noqa: E731
                                             "-t", f"bench-{bk}", *f, str(ctx),
                                             env=dict(os.environ, DOCKER_BUILDKIT=bk))
            tools += [
                ("docker build (classic)", dk("0")),
                ("docker build (BuildKit)", dk("1")),
                ("podman build", lambda *f: run(*podman, "build", "-q", "--network", "host",
                                                "--layers", "--build-arg", "BASE=localhost/bench-base",
                                                "-t", "bench", *f, str(ctx),
                                                env=pm_env)),
            ]
        times = {(t, k): [] for t, _ in tools for k in ("cold", "nochange", "onefile")}

        def timed(name, fn, kind, *flags):
            t0 = time.perf_counter()
            fn(*flags)
            times[(name, kind)].append(time.perf_counter() - t0)

        for name, fn in tools:  # warm: each tool's cache holds the current tree
            fn()
        for i in range(a.runs):
            for name, fn in tools:
                timed(name, fn, "cold", "--no-cache")
            for name, fn in tools:
                fn()  # settle after --no-cache (podman and classic keep the old cache)
                timed(name, fn, "nochange")
            with open(ctx / "src/pkg000/f0000.txt", "a") as f:
                f.write(f"change {i}\n")
            for name, fn in tools:
                timed(name, fn, "onefile")
        load1 = open("/proc/loadavg").read().split()[:3]
        print(f"load average before {' '.join(load0)}, after {' '.join(load1)}; "
              f"{a.runs} runs, context {a.mb} MB ({a.mb * 10} files)")
        print("| tool | cold (--no-cache) | no change | one file changed |")
        print("|---|---:|---:|---:|")
        for name, _ in tools:
            cells = []
            for k in ("cold", "nochange", "onefile"):
                xs = times[(name, k)]
                cells.append(f"{statistics.median(xs) * 1000:.0f} ms "
                             f"({', '.join(f'{x * 1000:.0f}' for x in xs)})")
            print(f"| {name} | " + " | ".join(cells) + " |")
    finally:
        if docker:
            docker.stop()
        if pm_dir.exists():
            podman_cleanup(pm_dir)
        for cg in {c for g in leftover_cgroups for c in glob.glob(g)} - cg_before:
            for sub, _, _ in sorted(os.walk(cg), key=lambda w: -len(w[0])):
                try:
                    os.rmdir(sub)
                except OSError:
                    pass
        if drop:
            for t in ("iptables", "ip6tables"):
                subprocess.run([t, "-t", "mangle", "-D", *drop], check=False)
        reg.stop()
        for m in sorted((line.split()[1] for line in open("/proc/self/mounts")
                         if line.split()[1].startswith(str(tmp))), key=len, reverse=True):
            subprocess.run(["umount", "-l", m], check=False)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
