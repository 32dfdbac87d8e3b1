#!/usr/bin/env python3
"""Start-up cost: wall time of short commands, spawned in turn (round-robin, so a burst of
load on a shared machine hits every command alike rather than one of them), median and
p90 of N rounds after a warm-up round. Run by hand:
    python3 bench/startup.py [--runs 300] [--stack ./stack] [--compare OTHER_STACK]
                             [--containers]
Times `stack version`, `stack config` on a 3-service project, `crun --version` and
/bin/true (the floor: fork + exec + exit from Python), and prints the dynamic loader's
own count of objects and relocations for `stack version` (LD_DEBUG=statistics).
--containers (as root) adds start-to-exit of `true` in a container, `stack runtime run`
against `crun run`, as bench/start_to_exit.py sets them up; on a hybrid cgroup host run
the script under `unshare -m sh -c 'mount --make-rprivate / && umount
/sys/fs/cgroup/unified && python3 bench/startup.py --containers'`, as crun refuses
the hybrid layout."""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import start_to_exit

PROJECT = """services:
  web:
    image: nginx:1.25
    ports: ["8080:80"]
    depends_on: [db]
  db:
    image: postgres:16
    environment: {POSTGRES_PASSWORD: example}
    volumes: [pgdata:/var/lib/postgresql/data]
  cache:
    image: redis:7
volumes:
  pgdata: {}
"""


def spawn_time(argv, cwd):
    """Fork, exec, wait: the same overhead for every command, /bin/true included."""
    devnull = os.open(os.devnull, os.O_RDWR)
    t0 = time.perf_counter_ns()
    pid = os.fork()
    if pid == 0:
        if cwd:
            os.chdir(cwd)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.execv(argv[0], argv)
    _, status = os.waitpid(pid, 0)
    dt = (time.perf_counter_ns() - t0) / 1e6
    os.close(devnull)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed")
    return dt


def loader_stats(argv):
    r = subprocess.run(argv, env={**os.environ, "LD_DEBUG": "statistics,files"},
                       capture_output=True, text=True)
    objs = set(re.findall(r"file=(\S+) \[0\];\s+needed by", r.stderr))
    relocs = re.search(r"final number of relocations: (\d+)", r.stderr)
    cycles = re.search(r"total startup time in dynamic loader: (\d+)", r.stderr)
    return len(objs), relocs and relocs.group(1), cycles and cycles.group(1)


def add_containers(cmds, tmp, a):
    rootfs = tmp / "rootfs"
    start_to_exit.make_rootfs(rootfs)
    for label, binary in (("stack", a.stack), ("other", a.compare)):
        if binary:
            cmds[f"{label} runtime run true"] = (
                [os.path.abspath(binary), "--root", str(tmp / f"state-{label}"), "runtime",
                 "run", "--rootfs", str(rootfs), "--", "/bin/true"], None)
    if shutil.which("crun"):
        bundle = tmp / "bundle"
        bundle.mkdir()
        start_to_exit.crun_bundle(bundle, rootfs)
        # one container name for every run: each run removes its container on exit
        cmds["crun run true"] = ([shutil.which("crun"), "run", "--bundle", str(bundle),
                                  f"bench-{os.getpid()}"], None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--stack", default=str(Path(__file__).resolve().parents[1] / "stack"))
    ap.add_argument("--compare", help="a second stack binary to time alongside")
    ap.add_argument("--containers", action="store_true", help="also time runtime run and crun")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "compose.yaml").write_text(PROJECT)
        cmds = {}
        for label, binary in (("stack", a.stack), ("other", a.compare)):
            if binary:
                b = os.path.abspath(binary)
                cmds[f"{label} version"] = ([b, "version"], None)
                cmds[f"{label} config"] = ([b, "-p", "bench", "config"], tmp)
        if shutil.which("crun"):
            cmds["crun --version"] = ([shutil.which("crun"), "--version"], None)
        if a.containers:
            add_containers(cmds, Path(tmp), a)
        cmds["/bin/true"] = (["/bin/true"], None)
        times = {k: [] for k in cmds}
        for rnd in range(a.runs + 1):
            for k, (argv, cwd) in cmds.items():
                t = spawn_time(argv, cwd)
                if rnd:
                    times[k].append(t)
        print(f"{a.runs} rounds; load average {os.getloadavg()[0]:.2f} at the end")
        print("| command | median ms | p90 ms |\n|---|---|---|")
        for k, ts in times.items():
            ts.sort()
            print(f"| {k} | {statistics.median(ts):.2f} | {ts[len(ts) * 9 // 10]:.2f} |")
        for label, binary in (("stack", a.stack), ("other", a.compare)):
            if binary:
                n, rel, cyc = loader_stats([os.path.abspath(binary), "version"])
                print(f"{label} version: {n} shared objects, {rel} relocations, "
                      f"{cyc} cycles in the dynamic loader")


if __name__ == "__main__":
    main()
