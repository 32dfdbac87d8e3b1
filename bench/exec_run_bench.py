#!/usr/bin/env python3
"""Latency of `stack exec SERVICE true` and `stack run --rm -T SERVICE true` (median and
90th percentile of N runs, the CLI's whole life: load the project, find or make the
container, run `true`, clean up), against a busybox service started by `up -d`. The
image comes from a loopback registry (tests/integration); everything runs in a network
and mount namespace of its own and a throw-away root.

    sudo python3 bench/exec_run_bench.py [N]        (default: 50)

Run by hand; never part of the tests. docker-compose and podman-compose are not driven
here yet (they need a running dockerd / podman with the image loaded)."""
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

if not os.environ.get("STACK_BENCH_NETNS"):
    os.environ["STACK_BENCH_NETNS"] = "1"
    os.execvp("unshare", ["unshare", "--net", "--mount", "--propagation", "private", "--",
                          sys.executable, *sys.argv])

from image_fixtures import PushedRegistry, TestImages  # noqa: E402

STACK = os.environ.get("STACK_BIN", str(SRC / "build/stack"))


def timed(base, *args):
    t0 = time.monotonic()
    r = subprocess.run([*base, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    dt = time.monotonic() - t0
    if r.returncode:
        raise SystemExit(f"{' '.join(args)} failed: {r.stderr}")
    return dt * 1000


def row(what, samples):
    samples = sorted(samples)
    p90 = samples[int(len(samples) * 0.9) - 1]
    print(f"| {what} | {statistics.median(samples):.1f} ms | {p90:.1f} ms |", flush=True)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    work = Path(tempfile.mkdtemp(prefix="stack-exec-bench-"))
    registry = PushedRegistry(work / "registry", TestImages()).start()
    root, proj = work / "root", work / "proj"
    proj.mkdir()
    base = [STACK, "--root", str(root), "-p", "bench", "--project-directory", str(proj)]
    try:
        registry.ensure("busybox")
        (proj / "compose.yaml").write_text(
            f"services:\n  app:\n    image: {registry.ref('busybox')}\n"
            "    command: [\"sleep\", \"100000\"]\n    stop_signal: SIGKILL\n")
        timed(base, "up", "-d")
        timed(base, "exec", "-T", "app", "true")  # warm the page cache
        print("| command | median | p90 |")
        print("|---|---:|---:|")
        row("stack exec -T app true", [timed(base, "exec", "-T", "app", "true")
                                       for _ in range(n)])
        row("stack run --rm -T app true", [timed(base, "run", "--rm", "-T", "app", "true")
                                           for _ in range(n)])
        timed([STACK], "--version")
        row("stack --version (the floor)", [timed([STACK], "--version") for _ in range(n)])
    finally:
        subprocess.run([*base, "down", "-t", "0"], capture_output=True)
        registry.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
