#!/usr/bin/env python3
"""Two stack binaries, one build, interleaved: what a change to the builder costs. The
multi-stage Dockerfile and context of build_bench.py (--mb MB), each binary with a state
root of its own, rebuilt with nothing changed (--runs times each, A B A B ...) and, with
--cold, built with --no-cache. Interleaving puts a change of the shared machine's load
on both; the CPU time (user + system of the command and its children, the guard's and
the RUN containers' included) is less sensitive to it than the wall time. No network beyond a loopback registry serving busybox.
Run by hand, as root:  python3 bench/build_ab.py A/stack B/stack [--runs 20] [--mb 5]
Prints a Markdown table for bench/RESULTS.md."""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests/integration"))
from build_bench import make_context  # noqa: E402
from registry import Registry  # noqa: E402
from volume_bench import build_layout  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--mb", type=int, default=5)
    ap.add_argument("--cold", action="store_true", help="also time --no-cache builds")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="stack-buildab-"))
    reg = Registry(str(tmp / "registry")).start()
    load0 = open("/proc/loadavg").read().split()[:3]
    try:
        reg.push(build_layout("busybox"), "busybox", "latest")
        base = f"{reg.host}/busybox:latest"
        ctx = tmp / "ctx"
        ctx.mkdir()
        make_context(ctx, base, a.mb)
        binaries = {"A": os.path.abspath(a.a), "B": os.path.abspath(a.b)}
        kinds = ["nochange"] + (["cold"] if a.cold else [])
        times = {(n, k): [] for n in binaries for k in kinds + ["warm"]}
        cpu = {(n, k): [] for n in binaries for k in kinds + ["warm"]}

        def build(name, kind, *flags):
            argv = [binaries[name], "--root", str(tmp / f"root-{name}"), "-f",
                    str(ctx / "compose.yaml"), "build", "-q", *flags]
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
            times[(name, kind)].append(time.perf_counter() - t0)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[(name, kind)].append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)

        for name in binaries:
            build(name, "warm")  # the cache holds the tree
        for _ in range(a.runs):
            for name in binaries:
                build(name, "nochange")
        for _ in range(a.runs if a.cold else 0):
            for name in binaries:
                build(name, "cold", "--no-cache")
        load1 = open("/proc/loadavg").read().split()[:3]
        print(f"load average before {' '.join(load0)}, after {' '.join(load1)}; "
              f"{a.runs} runs each, context {a.mb} MB")
        print("| binary | " + " | ".join(f"{k} wall | {k} CPU" for k in kinds) + " |")
        print("|---|" + "---:|---:|" * len(kinds))
        ms = lambda xs: (f"median {statistics.median(xs) * 1000:.1f} ms "  # noqa: E731
                         f"(min {xs[0] * 1000:.1f}, max {xs[-1] * 1000:.1f})")
        for name, path in binaries.items():
            cells = []
            for k in kinds:
                cells += [ms(sorted(times[(name, k)])), ms(sorted(cpu[(name, k)]))]
            print(f"| {name} {path} | " + " | ".join(cells) + " |")
    finally:
        reg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
