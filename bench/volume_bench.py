#!/usr/bin/env python3
"""Volumes against docker, same run: copy-up of the postgres test image's directories
into a fresh named volume, and export/import of a 1 GiB volume. Run by hand, as root:
    python3 bench/volume_bench.py [--stack build/stack] [--runs 5] [--gib 1]
It starts its own dockerd (docker.io 20.10 from Debian) with a throw-away data root,
no bridge and no iptables (containers run with --network none), and stops it by PID at
the end; it serves the test images from a loopback registry. Prints Markdown rows for
bench/RESULTS.md. Never part of the tests.

copy-up: `stack runtime run` with the image's layers and a volume on PATH, minus the
same run without the volume, against `docker run --rm -v vol:PATH` minus `docker run
--rm` (the difference is what the copy costs each of them; a fresh volume each run).
export/import: `stack volume export v > f.tar` and `stack volume import w < f.tar`
against `docker run --rm -v v:/v -v DIR:/b busybox tar -cf /b/f.tar -C /v .` and the
matching `tar -xf` (Docker's documented way to back up a volume)."""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests/integration"))
from registry import Registry  # noqa: E402

DOCKER = "/usr/bin/docker"


def run(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


def interleaved(fns, runs):
    """Round by round, so that a change of the machine's load falls on every tool."""
    out = [[] for _ in fns]
    for i in range(runs):
        for fn, times in zip(fns, out):
            t = time.perf_counter()
            fn(i)
            times.append(time.perf_counter() - t)
    return out


class Docker:
    def __init__(self, tmp):
        tmp.mkdir(parents=True, exist_ok=True)
        self.sock = f"unix://{tmp}/docker.sock"
        self.data = tmp / "data"
        self.log = open(tmp / "dockerd.log", "w")
        self.proc = subprocess.Popen(
            ["dockerd", "--data-root", str(self.data), "--exec-root", str(tmp / "exec"),
             "-H", self.sock, "--pidfile", str(tmp / "docker.pid"), "--bridge", "none",
             "--iptables=false", "--ip6tables=false", "--storage-driver", "overlay2"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 60
        while subprocess.run([DOCKER, "-H", self.sock, "info"], capture_output=True).returncode:
            if time.time() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"dockerd did not come up; see {tmp}/dockerd.log")
            time.sleep(0.2)

    def __call__(self, *args, **kw):
        return run(DOCKER, "-H", self.sock, *args, **kw)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()


def build_layout(name):
    out = run(sys.executable, str(HERE.parent / "tests/images/build.py"), name, text=True)
    return Path(out.stdout.split()[-1])


def fill(path, gib):
    """gib GiB of incompressible data in 64 MiB files."""
    chunk = os.urandom(1 << 20)
    for i in range(gib * 16):
        with open(path / f"blob{i:03d}", "wb") as f:
            for j in range(64):
                f.write(chunk[j:] + chunk[:j])


def median_ms(xs):
    return statistics.median(xs) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stack", default=str(HERE.parent / "build/stack"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--gib", type=int, default=1)
    a = ap.parse_args()
    stack = os.path.abspath(a.stack)
    tmp = Path(tempfile.mkdtemp(prefix="stack-volbench-"))
    root = tmp / "root"
    reg = Registry(str(tmp / "registry")).start()
    docker = None
    try:
        for name in ("postgres", "busybox"):
            reg.push(build_layout(name), name, "latest")
        pg, bb = f"{reg.host}/postgres:latest", f"{reg.host}/busybox:latest"
        s = lambda *args, **kw: run(stack, "--root", str(root), *args, **kw)  # noqa: E731
        s("pull", "-q", pg)
        s("pull", "-q", bb)
        s("save", "-o", str(tmp / "images.tar"), pg, bb)
        layers = list(reversed(json.loads(s("image", "inspect", pg).stdout)[0]["LayerPaths"]))
        docker = Docker(tmp / "docker")
        docker("load", "-i", str(tmp / "images.tar"))
        rows = []

        for path in ("/var/lib/postgresql", "/usr/share"):
            def stack_run(i, with_volume):
                spec = {"layers": layers, "cgroup_parent": "stack-volbench"}
                if with_volume:
                    spec["volumes"] = [{"type": "volume", "source": f"cu{i}", "target": path}]
                sp = tmp / "spec.json"
                sp.write_text(json.dumps(spec))
                s("runtime", "run", "--spec", str(sp), "--", "true")

            def docker_run(i, with_volume):
                v = ["-v", f"cu{i}:{path}"] if with_volume else []
                docker("run", "--rm", "--network", "none", *v, pg, "true")

            sb, sv, db, dv = interleaved([lambda i: stack_run(i, False), lambda i: stack_run(i, True),
                                          lambda i: docker_run(i, False),
                                          lambda i: docker_run(i, True)], a.runs)
            for i in range(a.runs):
                s("volume", "rm", f"cu{i}")
                docker("volume", "rm", f"cu{i}")
            rows.append(f"| copy-up of {path}: run with volume − run without (median of {a.runs}) "
                        f"| {median_ms(sv) - median_ms(sb):.0f} ms ({median_ms(sv):.0f} − "
                        f"{median_ms(sb):.0f}) | {median_ms(dv) - median_ms(db):.0f} ms "
                        f"({median_ms(dv):.0f} − {median_ms(db):.0f}) |")

        s("volume", "create", "big")
        fill(root / "volumes/big/_data", a.gib)
        docker("volume", "create", "big")
        shutil.rmtree(docker.data / "volumes/big/_data")
        shutil.copytree(root / "volumes/big/_data", docker.data / "volumes/big/_data")
        backup = tmp / "backup"
        backup.mkdir()

        def stack_export(i):
            with open(backup / "s.tar", "wb") as f:
                subprocess.run([stack, "--root", str(root), "volume", "export", "big"], stdout=f,
                               check=True)

        def stack_import(i):
            with open(backup / "s.tar", "rb") as f:
                subprocess.run([stack, "--root", str(root), "volume", "import", f"copy{i}"],
                               stdin=f, check=True)

        def docker_export(i):
            docker("run", "--rm", "--network", "none", "-v", "big:/v", "-v", f"{backup}:/b", bb,
                   "tar", "-cf", "/b/d.tar", "-C", "/v", ".")

        def docker_import(i):
            docker("run", "--rm", "--network", "none", "-v", f"copy{i}:/v", "-v",
                   f"{backup}:/b", bb, "tar", "-xf", "/b/d.tar", "-C", "/v")

        runs = max(3, a.runs // 2)
        se, si, de, di = interleaved([stack_export, stack_import, docker_export, docker_import],
                                     runs)
        for i in range(runs):
            s("volume", "rm", f"copy{i}")
            docker("volume", "rm", f"copy{i}")
        rows.append(f"| export of a {a.gib} GiB volume to a tar file (median of {runs}) | "
                    f"{statistics.median(se):.2f} s | {statistics.median(de):.2f} s |")
        rows.append(f"| import of that tar into a volume (median of {runs}) | "
                    f"{statistics.median(si):.2f} s | {statistics.median(di):.2f} s |")
        print("| measure | stack | docker 20.10 |")
        print("| --- | ---: | ---: |")
        print("\n".join(rows))
    finally:
        if docker:
            docker.stop()
        reg.stop()
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            if str(tmp) in line:
                subprocess.run(["umount", "-l", line.split()[4]])
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
