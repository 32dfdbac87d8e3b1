#!/usr/bin/env python3
"""Start-to-exit time of `true` in a container: `stack runtime run` against
`crun run` on the same busybox rootfs, median of N runs each. Run by hand, as root:
    python3 bench/start_to_exit.py [--runs 100] [--stack ./stack]
Prints a Markdown table row set for bench/RESULTS.md.

crun 1.8 refuses a hybrid cgroup layout (v1 controllers plus a cgroup2 mount at
/sys/fs/cgroup/unified, as Debian's systemd sets up). So the script re-executes itself
in a private mount namespace and unmounts that cgroup2 mount there; both runtimes are
timed in that same namespace, so the comparison stays fair, and the host's mounts are
untouched."""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HIDDEN_ENV = "STACK_BENCH_PRIVATE_MOUNTS"


def hide_hybrid_cgroup2():
    """Re-exec in a private mount namespace without the v1+v2 hybrid's cgroup2 mount."""
    unified = "/sys/fs/cgroup/unified"
    if os.environ.get(HIDDEN_ENV) == "1":
        return
    if not os.path.ismount(unified):
        return
    script = (f"mount --make-rprivate / && umount {unified} && "
              f"exec \"$0\" \"$@\"")
    env = dict(os.environ, **{HIDDEN_ENV: "1"})
    os.execvpe("unshare", ["unshare", "-m", "sh", "-c", script, sys.executable,
                           os.path.abspath(__file__), *sys.argv[1:]], env)


def make_rootfs(path):
    for d in ("bin", "etc", "proc", "sys", "dev", "tmp"):
        (path / d).mkdir(parents=True, exist_ok=True)
    shutil.copy("/bin/busybox", path / "bin/busybox")
    for a in ("sh", "true"):
        os.symlink("busybox", path / "bin" / a)
    (path / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (path / "etc/group").write_text("root:x:0:\n")


def crun_bundle(bundle, rootfs):
    spec = subprocess.run(["crun", "spec"], cwd=bundle, check=True)
    cfg = json.loads((bundle / "config.json").read_text())
    cfg["root"] = {"path": str(rootfs), "readonly": False}
    cfg["process"]["args"] = ["/bin/true"]
    cfg["process"]["terminal"] = False
    (bundle / "config.json").write_text(json.dumps(cfg))
    return spec


def timed(cmd, **kw):
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, **kw)
    return (time.perf_counter() - t0) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--stack", default=str(Path(__file__).resolve().parents[1] / "build" / "stack"))
    a = ap.parse_args()
    hide_hybrid_cgroup2()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rootfs = tmp / "rootfs"
        make_rootfs(rootfs)
        results = {}
        stack_cmd = [a.stack, "--root", str(tmp / "state"), "runtime", "run", "--rootfs",
                     str(rootfs), "--", "/bin/true"]
        timed(stack_cmd)  # warm the page cache
        results["stack runtime run"] = [timed(stack_cmd) for _ in range(a.runs)]
        if shutil.which("crun"):
            bundle = tmp / "bundle"
            bundle.mkdir()
            crun_bundle(bundle, rootfs)
            runs = []
            try:
                for i in range(a.runs + 1):
                    t = timed(["crun", "run", "--bundle", str(bundle),
                               f"bench-{os.getpid()}-{i}"])
                    if i:
                        runs.append(t)
                results["crun run"] = runs
            except subprocess.CalledProcessError as e:
                print(f"crun failed: {e.stderr.decode().strip()}")
        # What each binary costs before it does any container work: the dynamic loader
        # and library start-up, paid by every command (stack links many more libraries).
        startup = {"stack runtime run": ("stack version", [a.stack, "version"]),
                   "crun run": ("crun --version", ["crun", "--version"])}
        for name in list(results):
            label, cmd = startup[name]
            timed(cmd)
            results[f"{label} (start-up only)"] = [timed(cmd) for _ in range(a.runs)]
        load = os.getloadavg()
        print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average "
              f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} CPUs, "
              f"kernel {os.uname().release}")
        print()
        print("| runtime | median ms | p90 ms | runs |")
        print("|---|---|---|---|")
        for name, runs in results.items():
            runs.sort()
            print(f"| {name} | {statistics.median(runs):.2f} | {runs[int(len(runs) * 0.9) - 1]:.2f}"
                  f" | {len(runs)} |")


if __name__ == "__main__":
    main()
