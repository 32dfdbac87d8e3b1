#!/usr/bin/env python3
"""`stack up -d` and `down` of N busybox services, and the supervisor's resident memory
and CPU while idle. The images come from a loopback registry (tests/integration);
everything runs in a network and mount namespace of its own and a throw-away root.

    sudo python3 bench/up_bench.py [N...]        (default: 3 100)

Run by hand; never part of the tests."""
import os
import shutil
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


def run(*args, root, proj):
    t0 = time.monotonic()
    r = subprocess.run([STACK, "--root", str(root), "-p", "bench", "--project-directory",
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


def cpu_ticks(pid):
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])


def bench(n, registry, work):
    root, proj = work / f"root{n}", work / f"proj{n}"
    proj.mkdir()
    ref = registry.ref("busybox")
    text = "services:\n" + "".join(
        f"  s{i}:\n    image: {ref}\n    command: [\"sleep\", \"100000\"]\n"
        "    stop_signal: SIGKILL\n" for i in range(n))
    (proj / "compose.yaml").write_text(text)
    subprocess.run([STACK, "--root", str(root), "pull", "-q", ref], check=True,
                   capture_output=True)
    perf = None
    if os.environ.get("STACK_BENCH_PERF"):
        perf = subprocess.Popen(["perf", "record", "-a", "-g", "-o",
                                 os.environ["STACK_BENCH_PERF"]],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
    up = run("up", "-d", root=root, proj=proj)
    if perf:
        perf.send_signal(2)
        perf.wait()
    pid = supervisor_pid(root)
    rss = rss_kib(pid)
    t0 = cpu_ticks(pid)
    time.sleep(5)
    idle = cpu_ticks(pid) - t0
    down = run("down", "-t", "0", root=root, proj=proj)
    print(f"| {n} | {up:.2f} s | {down:.2f} s | {rss / 1024:.1f} MiB | {idle} ticks / 5 s |",
          flush=True)


def main():
    ns = [int(a) for a in sys.argv[1:]] or [3, 100]
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    work = Path(tempfile.mkdtemp(prefix="stack-up-bench-"))
    registry = PushedRegistry(work / "registry", TestImages()).start()
    try:
        registry.ensure("busybox")
        print("| services | up -d | down | supervisor RSS | supervisor CPU idle |")
        print("|---:|---:|---:|---:|---:|")
        for n in ns:
            bench(n, registry, work)
    finally:
        registry.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
