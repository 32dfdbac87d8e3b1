#!/usr/bin/env python3
"""`stack up -d` and `down` of N busybox services, and the supervisor's resident memory
and CPU while idle. The images come from a loopback registry (tests/integration);
everything runs in a network and mount namespace of its own and a throw-away root.

    sudo python3 bench/up_bench.py [--runs R] [--baseline OTHER/stack] [N...]
                                                 (default: 1 run of 3 and 100)

With --baseline, each run times the baseline binary and this one in turn (interleaved,
so that a change of the shared machine's load falls on both) and the table gives medians.

Run by hand; never part of the tests."""
import argparse
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
MAPS = False


def run(*args, root, proj, stack=None):
    t0 = time.monotonic()
    r = subprocess.run([stack or STACK, "--root", str(root), "-p", "bench", "--project-directory",
                        str(proj), *args], capture_output=True, text=True)
    dt = time.monotonic() - t0
    if r.returncode:
        raise SystemExit(f"stack {' '.join(args)} failed: {r.stderr}")
    return dt


def supervisor_pid(root):
    for pid in os.listdir("/proc"):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"supervise" in cmd and str(root).encode() in cmd:
            return int(pid)
    return None


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pss_kib(pid):
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def rss_by_object(pid):
    """Resident KiB per mapped file (and [heap], [stack], anonymous), largest first."""
    sizes, name = {}, None
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and not head[0].endswith(":"):
            name = Path(head[5]).name if len(head) > 5 else "[anon]"
        elif head and head[0] == "Rss:":
            sizes[name] = sizes.get(name, 0) + int(head[1])
    return sorted(((v, k) for k, v in sizes.items() if v), reverse=True)


def cpu_ticks(pid):
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])


def bench(n, registry, work, stack, tag):
    root, proj = work / f"root{n}-{tag}", work / f"proj{n}-{tag}"
    proj.mkdir()
    ref = registry.ref("busybox")
    text = "services:\n" + "".join(
        f"  s{i}:\n    image: {ref}\n    command: [\"sleep\", \"100000\"]\n"
        "    stop_signal: SIGKILL\n" for i in range(n))
    (proj / "compose.yaml").write_text(text)
    subprocess.run([stack, "--root", str(root), "pull", "-q", ref], check=True,
                   capture_output=True)
    # A first container compiles and caches the seccomp filter: not part of the figure.
    (proj / "warm.yaml").write_text(f"services:\n  w:\n    image: {ref}\n    command: [\"true\"]\n")
    for args in (["-f", str(proj / "warm.yaml"), "up", "-d"], ["-f", str(proj / "warm.yaml"), "down"]):
        subprocess.run([stack, "--root", str(root), "-p", "warm", *args], check=True,
                       capture_output=True)
    perf = None
    if os.environ.get("STACK_BENCH_PERF"):
        perf = subprocess.Popen(["perf", "record", "-a", "-g", "-o",
                                 os.environ["STACK_BENCH_PERF"]],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
    up = run("up", "-d", root=root, proj=proj, stack=stack)
    if perf:
        perf.send_signal(2)
        perf.wait()
    pid = supervisor_pid(root)
    rss, pss = rss_kib(pid), pss_kib(pid)
    if MAPS:
        print(f"  {tag} {n}: " + ", ".join(f"{k} {v}" for v, k in rss_by_object(pid)),
              flush=True)
    t0 = cpu_ticks(pid)
    time.sleep(5)
    idle = cpu_ticks(pid) - t0
    down = run("down", "-t", "0", root=root, proj=proj, stack=stack)
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(proj, ignore_errors=True)
    return up, down, rss, pss, idle


def row(name, n, results):
    med = [statistics.median(r[i] for r in results) for i in range(5)]
    ups = ", ".join(f"{r[0]:.2f}" for r in results)
    downs = ", ".join(f"{r[1]:.2f}" for r in results)
    print(f"| {name} | {n} | {med[0]:.2f} s ({ups}) | {med[1]:.2f} s ({downs}) | "
          f"{med[2] / 1024:.1f} MiB | {med[3] / 1024:.1f} MiB | {int(med[4])} ticks / 5 s |",
          flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--baseline")
    ap.add_argument("--maps", action="store_true",
                    help="print the supervisor's resident KiB per mapped object")
    ap.add_argument("n", type=int, nargs="*", default=[3, 100])
    a = ap.parse_args()
    global MAPS
    MAPS = a.maps
    stacks = [("this", STACK)] + ([("baseline", a.baseline)] if a.baseline else [])
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    work = Path(tempfile.mkdtemp(prefix="stack-up-bench-"))
    registry = PushedRegistry(work / "registry", TestImages()).start()
    try:
        registry.ensure("busybox")
        print(f"load average before: {os.getloadavg()[0]:.1f}", flush=True)
        print("| stack | services | up -d, median (runs) | down, median (runs) "
              "| supervisor RSS | PSS | CPU idle |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for n in a.n:
            results = {name: [] for name, _ in stacks}
            for i in range(a.runs):
                for name, binary in (stacks if i % 2 == 0 else stacks[::-1]):
                    results[name].append(bench(n, registry, work, binary, f"{name}{i}"))
            for name, _ in stacks:
                row(name, n, results[name])
        print(f"load average after: {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        registry.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
