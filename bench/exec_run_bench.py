#!/usr/bin/env python3
"""Latency of `exec -T app true` and `run --rm -T app true` (the CLI's whole life: load
the project, find or make the container, run `true`, clean up) of stack, docker-compose
1.29 (with dockerd 20.10) and podman-compose 1.0.3 (with podman 4.3) in one run, on the
same project: one busybox service started by `up -d`. Interleaved: each iteration runs
every tool once, the order rotating from round to round, so that a change of load on a
shared machine falls on all of them. Medians and 90th percentiles over every sample, the
median of each round, and each tool's median over stack's.

"exec after run" times an exec right after an (untimed) `run --rm` of the same tool: the
kernel tears the one-off's network namespace down in the background after that run
returns, and an exec that waits for an RCU grace period (a cgroup move by pid) pays for
it.

    sudo /usr/bin/python3 bench/exec_run_bench.py [--rounds 3] [-n 20]
                                                  [--tools stack,docker,podman]

The peers, their throw-away roots, the loopback registry, the namespaces and the clean-up
are bench/compose_bench.py's (see /work/shared/PEERS.md). Run by hand; never part of the
tests."""
import argparse
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# re-executes itself in a network and mount namespace of its own on import
from compose_bench import STACK, peer_run  # noqa: E402

PROJECT = """version: "2.4"
services:
  app:
    image: {ref}
    command: ["sleep", "100000"]
    stop_signal: SIGKILL
"""

# what each tool's --version costs: the interpreter or binary starting, nothing more
FLOOR = {"stack": [STACK, "--version"],
         "docker": ["/usr/bin/docker-compose", "--version"],
         "podman": ["/usr/bin/podman-compose", "--version"]}

EXEC = ["exec", "-T", "app", "true"]
RUN = ["run", "--rm", "-T", "app", "true"]
# measure: (argv timed, argv run untimed just before it, or None)
MEASURES = {"exec": (EXEC, None),
            "run --rm": (RUN, None),
            "exec after run": (EXEC, RUN)}


def timed_ms(argv, env):
    t0 = time.monotonic()
    r = subprocess.run([str(a) for a in argv], env=env, capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=300)
    dt = (time.monotonic() - t0) * 1000
    if r.returncode:
        raise SystemExit(f"{' '.join(map(str, argv))} failed ({r.returncode}): "
                         f"{r.stderr.strip()[-2000:]}")
    return dt


def p90(xs):
    """The nearest-rank 90th percentile."""
    xs = sorted(xs)
    return xs[math.ceil(0.9 * len(xs)) - 1]


def versions():
    out = {}
    for what, argv in (("stack", [STACK, "--version"]),
                       ("docker", ["/usr/bin/docker", "--version"]),
                       ("docker-compose", ["/usr/bin/docker-compose", "--version"]),
                       ("podman", ["/usr/bin/podman", "--version"]),
                       ("podman-compose", ["/usr/bin/podman-compose", "--version"]),
                       ("runc", ["/usr/sbin/runc", "--version"])):
        lines = subprocess.run(argv, capture_output=True, text=True).stdout.splitlines()
        # podman-compose prints podman's version and its own among other lines
        out[what] = next((ln.strip() for ln in lines if "version" in ln and
                          (what != "podman-compose" or "compose" in ln)), "?")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("-n", type=int, default=20, help="iterations per round")
    ap.add_argument("--tools", default="stack,docker,podman")
    a = ap.parse_args()
    res = {}  # (tool, measure) -> [[ms of round 1], [ms of round 2], ...]
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.uname().nodename}, "
          f"{os.cpu_count()} CPUs, kernel {os.uname().release}", flush=True)
    for k, v in versions().items():
        print(f"  {k}: {v}")
    with peer_run("stack-exec-bench-", a.tools.split(","), ("busybox",)) as run:
        tools = run.tools
        projects = {}
        for t in tools:
            p = t.project("exec", PROJECT.format(ref=run.reg.ref("busybox")))
            projects[t.name] = p
            t.up(p)
            for argv in (EXEC, RUN):  # warm the page cache, make the network
                timed_ms(t.cli(p, *argv), t.env)
        print(f"load average {os.getloadavg()[0]:.2f} before", flush=True)
        for r in range(a.rounds):
            order = tools[r % len(tools):] + tools[:r % len(tools)]
            print(f"round {r + 1}: {', '.join(t.name for t in order)}", flush=True)
            cases = [(m, lambda t, argv=argv: t.cli(projects[t.name], *argv),
                      before and (lambda t, argv=before: t.cli(projects[t.name], *argv)))
                     for m, (argv, before) in MEASURES.items()]
            cases.append(("--version", lambda t: FLOOR[t.name], None))
            for m, argv_of, before_of in cases:
                for t in tools:
                    res.setdefault((t.name, m), []).append([])
                for _ in range(a.n):
                    for t in order:
                        if before_of:
                            timed_ms(before_of(t), t.env)
                        res[t.name, m][-1].append(timed_ms(argv_of(t), t.env))
                print("  " + m + ": " + ", ".join(
                    f"{t.name} {statistics.median(res[t.name, m][-1]):.1f}" for t in tools),
                    flush=True)
            print(f"  load average {os.getloadavg()[0]:.2f}", flush=True)
        for t in tools:
            t.down(projects[t.name])
    names = [t.name for t in tools]
    print("\n| command | tool | median ms | p90 ms | round medians ms | median / stack's |")
    print("|---|---|---:|---:|---|---:|")
    for m in [*MEASURES, "--version"]:
        base = (statistics.median(sum(res["stack", m], []))
                if "stack" in names else float("nan"))
        for name in names:
            xs = sum(res[name, m], [])
            med = statistics.median(xs)
            rounds = ", ".join(f"{statistics.median(r):.1f}" for r in res[name, m])
            print(f"| {m} | {name} | {med:.1f} | {p90(xs):.1f} | {rounds} | "
                  f"{med / base:.2f} |")


if __name__ == "__main__":
    main()
