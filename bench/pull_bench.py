#!/usr/bin/env python3
"""Benchmark (run by hand, never in CI): pull the postgres test image from a loopback
docker-registry into an empty store, with stack and with its peers:
  stack pull                          (download + verify + unpack, layers in parallel)
  skopeo copy + umoci unpack          (download to an OCI layout, then unpack)
  podman pull                         (if installed: a throw-away --root/--runroot)
Usage: sudo python3 bench/pull_bench.py [RUNS]   (STACK_BIN to pick the binary)
Prints the machine's load average before and after, for bench/RESULTS.md."""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SRC / "tests/integration"))
from image_fixtures import PushedRegistry, TestImages  # noqa: E402

STACK = os.environ.get("STACK_BIN", str(SRC / "stack"))


def timed(cmd, **kw):
    t = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    return time.monotonic() - t


def podman_cleanup(d):
    """Unmounts whatever podman left mounted under d (its overlay storage), deepest first,
    and checks that no podman process of its is still running."""
    with open("/proc/self/mounts") as f:
        mounts = [line.split()[1] for line in f if line.split()[1].startswith(str(d))]
    for m in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", m], check=False)
    for pid in os.listdir("/proc"):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if pid.isdigit() and str(d).encode() in cmd:
            raise RuntimeError(f"podman left process {pid}: {cmd!r}")
    if mounts:
        print(f"(podman left {len(mounts)} mount(s) under {d}; unmounted)", file=sys.stderr)


def loadavg():
    return open("/proc/loadavg").read().split()[:3]


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    load0 = loadavg()
    work = Path(tempfile.mkdtemp(prefix="stack-bench-"))
    reg = PushedRegistry(work / "registry", TestImages()).start()
    results = {}
    try:
        reg.ensure("postgres")
        ref = reg.ref("postgres")

        def stack_pull(d):
            return timed([STACK, "--root", str(d), "pull", "-q", ref])

        def skopeo_umoci(d):
            t = timed(["skopeo", "copy", "--quiet", "--src-tls-verify=false", f"docker://{ref}",
                       f"oci:{d}/layout:latest"])
            return t + timed(["umoci", "unpack", "--image", f"{d}/layout:latest", f"{d}/bundle"])

        def podman_pull(d):
            # everything podman keeps or mounts lives under d; TMPDIR too (its copy buffer)
            try:
                return timed(["podman", "--root", str(d / "storage"), "--runroot", str(d / "run"),
                              "--tmpdir", str(d / "tmp"), "--storage-driver", "overlay",
                              "--events-backend", "none", "--cgroup-manager", "cgroupfs",
                              "pull", "--quiet", "--tls-verify=false", ref],
                             env=dict(os.environ, TMPDIR=str(d)))
            finally:
                podman_cleanup(d)

        tools = [("stack pull", stack_pull)]
        if shutil.which("skopeo") and shutil.which("umoci"):
            tools.append(("skopeo copy + umoci unpack", skopeo_umoci))
        if shutil.which("podman"):
            tools.append(("podman pull", podman_pull))
        # rounds of one run per tool, so that a change in the (shared) machine's load
        # falls on every tool alike
        for _ in range(runs):
            for name, fn in tools:
                d = Path(tempfile.mkdtemp(dir=work))
                results.setdefault(name, []).append(fn(d))
                shutil.rmtree(d)
    finally:
        reg.stop()
        shutil.rmtree(work, ignore_errors=True)
    print("load average before: %s, after: %s" % (" ".join(load0), " ".join(loadavg())))
    for name, times in results.items():
        print(f"{name:30s} median {statistics.median(times):6.2f} s   runs: "
              + ", ".join(f"{t:.2f}" for t in times))


if __name__ == "__main__":
    main()
