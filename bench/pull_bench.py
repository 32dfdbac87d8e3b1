#!/usr/bin/env python3
"""Benchmark (run by hand, never in CI): pull the postgres test image from a loopback
docker-registry into an empty store, with stack and with its peers:
  stack pull                          (download + verify + unpack, layers in parallel)
  skopeo copy + umoci unpack          (download to an OCI layout, then unpack)
  podman pull                         (if installed)
Usage: sudo python3 bench/pull_bench.py [RUNS]   (STACK_BIN to pick the binary)"""
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


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
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
            return timed(["podman", "--root", str(d / "storage"), "--runroot", str(d / "run"),
                          "pull", "--tls-verify=false", ref])

        tools = [("stack pull", stack_pull)]
        if shutil.which("skopeo") and shutil.which("umoci"):
            tools.append(("skopeo copy + umoci unpack", skopeo_umoci))
        if shutil.which("podman"):
            tools.append(("podman pull", podman_pull))
        for name, fn in tools:
            times = []
            for _ in range(runs):
                d = Path(tempfile.mkdtemp(dir=work))
                times.append(fn(d))
                shutil.rmtree(d)
            results[name] = times
    finally:
        reg.stop()
        shutil.rmtree(work, ignore_errors=True)
    for name, times in results.items():
        print(f"{name:30s} median {statistics.median(times):6.2f} s   runs: "
              + ", ".join(f"{t:.2f}" for t in times))


if __name__ == "__main__":
    main()
