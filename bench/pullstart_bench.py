#!/usr/bin/env python3
"""`up -d` of two services, one whose image is in the store (busybox) and one whose
image must be pulled (busybox plus one incompressible layer of SIZE MiB) from a
loopback registry: how long until the first service's container runs, and until `up`
returns. Before pulls and starts overlapped, the first waited for the whole pull.

    sudo python3 bench/pullstart_bench.py [--runs R] [--size MIB] [--baseline OTHER/stack]

With --baseline, each run times the baseline binary and this one in turn (interleaved).
Everything runs in a network and mount namespace of its own and throw-away roots.
Run by hand; never part of the tests."""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SRC / "tests/integration"))

if not os.environ.get("STACK_BENCH_NETNS"):
    os.environ["STACK_BENCH_NETNS"] = "1"
    os.execvp("unshare", ["unshare", "--net", "--mount", "--propagation", "private", "--",
                          sys.executable, *sys.argv])

from image_fixtures import PushedRegistry, TestImages, push_busybox_plus_layer  # noqa: E402

STACK = os.environ.get("STACK_BIN", str(SRC / "build/stack"))


def big_layer(path, mib):
    """A layer tar with one file of random bytes (gzip cannot shrink it)."""
    data = path / "big.bin"
    with open(data, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))
    tar = path / "layer.tar"
    with tarfile.open(tar, "w") as tf:
        tf.add(data, arcname="big.bin")
    data.unlink()
    return tar.read_bytes()


def here_running(root):
    """Is the `here` service's container recorded as running?"""
    for d in (root / "containers").glob("*"):
        try:
            cfg = json.loads((d / "config.json").read_text())
            st = json.loads((d / "state.json").read_text())
        except (OSError, ValueError):
            continue
        if cfg.get("service") == "here" and st.get("status") == "running":
            return True
    return False


def one_run(stack, work, reg, ref_late):
    root, proj = work / "root", work / "proj"
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(proj, ignore_errors=True)
    root.mkdir()
    proj.mkdir()
    base = [stack, "--root", str(root), "-p", "bench", "--project-directory", str(proj)]
    subprocess.run([*base, "pull", reg.ref("busybox")], check=True, capture_output=True)
    (proj / "compose.yaml").write_text(f"""
services:
  here:
    image: {reg.ref("busybox")}
    command: ["sleep", "1000"]
    stop_signal: SIGKILL
  late:
    image: {ref_late}
    command: ["sleep", "1000"]
    stop_signal: SIGKILL
""")
    t0 = time.monotonic()
    up = subprocess.Popen([*base, "up", "-d"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    t_here = t_up = None
    while t_up is None:
        done = up.poll() is not None
        if t_here is None and here_running(root):
            t_here = time.monotonic() - t0
        if done:
            t_up = time.monotonic() - t0
        time.sleep(0.002)
    err = up.communicate()[1]
    if up.returncode or t_here is None:
        raise SystemExit(f"up failed: {err}")
    r = subprocess.run([*base, "down", "-v", "-t", "0"], capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"down failed: {r.stderr}")
    shutil.rmtree(root, ignore_errors=True)
    return t_here, t_up


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--size", type=int, default=256, help="MiB of the layer to pull")
    ap.add_argument("--baseline")
    a = ap.parse_args()
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    load0 = open("/proc/loadavg").read().split()[:3]
    work = Path(tempfile.mkdtemp(prefix="stack-pullstart-bench-"))
    reg = PushedRegistry(work / "registry", TestImages()).start()
    bins = {"this": STACK}
    if a.baseline:
        bins["baseline"] = a.baseline
    times = {k: [] for k in bins}
    try:
        reg.ensure("busybox")
        push_busybox_plus_layer(reg, "big", big_layer(work, a.size))
        for _ in range(a.runs):
            for name, stack in bins.items():
                times[name].append(one_run(stack, work, reg, reg.ref("big")))
    finally:
        reg.stop()
        shutil.rmtree(work, ignore_errors=True)
    load1 = open("/proc/loadavg").read().split()[:3]
    print(f"{a.runs} runs, a {a.size} MiB layer to pull; load average {' '.join(load0)} -> "
          f"{' '.join(load1)}")
    print(f"{'binary':10} {'local service running (s)':>28} {'up -d returned (s)':>20}")
    for name, v in times.items():
        here = statistics.median(t for t, _ in v)
        up = statistics.median(t for _, t in v)
        print(f"{name:10} {here:28.3f} {up:20.3f}")
        print(f"{'':10} runs: {', '.join(f'{t:.3f}' for t, _ in v)} / "
              f"{', '.join(f'{t:.3f}' for _, t in v)}")


if __name__ == "__main__":
    main()
