#!/usr/bin/env python3
"""stack against docker-compose 1.29 (with dockerd 20.10) and podman-compose 1.0.3 (with
podman 4.3), Debian's packages, in one run, round by round (each round runs every tool
in turn, the order rotating), so that a change of load on a shared machine falls on all
of them. Medians of the rounds, and ratios.

    sudo /usr/bin/python3 bench/compose_bench.py [--rounds 3] [--big-rounds 2] [--big 100]
                                                 [--log-seconds 3] [--tools stack,docker,podman]
                                                 [--trace] [--no-floor] [--baseline BIN]

--baseline BIN adds another build of stack as a tool of its own (before/after a change,
in the same rounds); --log-seconds 0 leaves the log measure out; --trace prints, after each healthy run of
stack, where its time went (container starts, the entrypoints' "ready" lines, probes).

Measures:
- healthy: `up -d` until every service of a Postgres + Redis + app project (healthchecks
  every 1 s, app gated on db and cache being healthy) is healthy. stack: `up -d --wait`;
  docker-compose (no --wait in v1): `up -d`, then `docker inspect` until all are
  healthy; podman (its healthchecks need systemd timers, absent here): `up -d`, then
  `podman healthcheck run` of each container until all pass. The floor: the Postgres
  image's own entrypoint run as a plain process (chroot into the unpacked image, no
  namespaces, no cgroup) until pg_isready accepts.
- down -v of that project.
- `up -d` and `down` of N busybox services (`sleep`, stop_signal SIGKILL), for N = 3 and
  --big; while they run, the resident memory and the context switches over 10 s (idle
  wake-ups) of what each tool leaves running: stack's supervisor; dockerd, containerd,
  the shims and docker-proxy; podman's conmons.
- logs: a container writing lines as fast as it can for --log-seconds s (`timeout N
  yes`); the lines each tool's `logs` gives back afterwards, per second of writing.

Safety: everything runs in a network and mount namespace of its own (no uplink exists
in it, so no container traffic can leave the machine), with throw-away roots under a
temporary directory; dockerd is stopped by its PID; the cgroups, CNI state and podman's
blob cache it made outside that directory are removed at the end, and the end checks
that no process of the peers is left. Run by hand; never part of the tests."""
import argparse
import contextlib
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import types
from pathlib import Path

SRC = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SRC / "tests/integration"))

if not os.environ.get("STACK_BENCH_NETNS"):
    os.environ["STACK_BENCH_NETNS"] = "1"
    os.execvp("unshare", ["unshare", "--net", "--mount", "--propagation", "private", "--",
                          sys.executable, *sys.argv])

from image_fixtures import PushedRegistry, TestImages  # noqa: E402

STACK = os.environ.get("STACK_BIN", str(SRC / "build/stack"))
PEER_COMMS = {"dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v2",
              "docker-proxy", "conmon", "podman", "runc", "crun"}


def healthy_project(reg):
    return f"""version: "2.4"
services:
  db:
    image: {reg.ref("postgres")}
    environment: {{POSTGRES_USER: app, POSTGRES_PASSWORD: secret, POSTGRES_DB: app}}
    healthcheck:
      test: pg_isready -h 127.0.0.1 -U app -d app
      interval: 1s
      timeout: 5s
      retries: 120
  cache:
    image: {reg.ref("redis")}
    healthcheck:
      test: redis-cli ping
      interval: 1s
      timeout: 5s
      retries: 120
  app:
    image: {reg.ref("busybox")}
    command: ["sh", "-c", "echo ok >/tmp/index.html && exec httpd -f -p 8080 -h /tmp"]
    stop_signal: SIGKILL
    ports: ["127.0.0.1:18080:8080"]
    healthcheck:
      test: wget -q -O /dev/null http://127.0.0.1:8080/
      interval: 1s
      timeout: 5s
      retries: 120
    depends_on:
      db: {{condition: service_healthy}}
      cache: {{condition: service_healthy}}
"""


def big_project(reg, n):
    return 'version: "2.4"\nservices:\n' + "".join(
        f"  s{i}:\n    image: {reg.ref('busybox')}\n    command: [\"sleep\", \"100000\"]\n"
        "    stop_signal: SIGKILL\n" for i in range(n))


def log_project(reg, seconds):
    return f"""version: "2.4"
services:
  log:
    image: {reg.ref("busybox")}
    # not PID 1: signals a container's PID 1 does not handle are ignored
    command: ["sh", "-c", "timeout {seconds} yes 0123456789abcdefghijklmnopqrstuvwxyz; exit 0"]
    logging:
      options: {{max-size: "2g"}}
"""


def sh(argv, env=None, check=True, timeout=600, **kw):
    """Runs a command; a peer that hangs (docker-compose did, in the middle of an `up`
    of 100 services) ends the run after `timeout` s, through main's clean-up."""
    r = subprocess.run([str(a) for a in argv], env=env, capture_output=True, text=True,
                       timeout=timeout, **kw)
    if check and r.returncode:
        raise SystemExit(f"{' '.join(map(str, argv))} failed ({r.returncode}): "
                         f"{r.stderr.strip()[-2000:]}")
    return r


def timed(argv, env=None):
    t0 = time.monotonic()
    sh(argv, env=env)
    return time.monotonic() - t0


def poll(what, fn, limit=300):
    deadline = time.monotonic() + limit
    while not fn():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not done within {limit} s")
        time.sleep(0.02)


def our_netns():
    return os.readlink("/proc/self/ns/net")


def procs(match):
    """PIDs of processes in this network namespace for which match(pid, comm) holds."""
    ns, out = our_netns(), []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{p}/ns/net") != ns:
                continue
            comm = Path(f"/proc/{p}/comm").read_text().strip()
        except OSError:
            continue
        if match(int(p), comm):
            out.append(int(p))
    return out


def rss_and_switches(pids):
    """Sum of VmRSS (KiB) and of every thread's context switches."""
    rss = sw = 0
    for pid in pids:
        try:
            for ln in Path(f"/proc/{pid}/status").read_text().splitlines():
                if ln.startswith("VmRSS:"):
                    rss += int(ln.split()[1])
            for t in os.listdir(f"/proc/{pid}/task"):
                for ln in Path(f"/proc/{pid}/task/{t}/status").read_text().splitlines():
                    if ln.startswith(("voluntary_ctxt", "nonvoluntary_ctxt")):
                        sw += int(ln.split()[1])
        except OSError:
            pass
    return rss, sw


IMAGES = ("busybox", "postgres", "redis")


class Tool:
    """A compose tool; cli(proj, *args) is its command line for a project, env (None for
    stack) the environment to run it in, setup(images) readies it with those images."""
    name = ""
    env = None

    def __init__(self, work, reg):
        self.work = work / self.name
        self.work.mkdir()
        self.reg = reg

    def project(self, tag, text):
        d = self.work / f"proj-{tag}"
        if not d.exists():
            d.mkdir()
            (d / "compose.yaml").write_text(text)
        return d


class Stack(Tool):
    name = "stack"
    binary = STACK

    def cmd(self, proj, *args):
        return [self.binary, "--root", self.work / "root", "-p", proj.name.replace("proj-", "b"),
                "--project-directory", proj, *args]

    cli = cmd

    def setup(self, images=IMAGES):
        for img in images:
            sh([self.binary, "--root", self.work / "root", "pull", "-q", self.reg.ref(img)])

    def up_healthy(self, proj):
        self.t0_ns = time.time_ns()
        dt = timed(self.cmd(proj, "up", "-d", "--wait"))
        self.t1_ns = self.t0_ns + int(dt * 1e9)
        return dt

    def trace(self, proj):
        """Where the time of the last up_healthy went, from what the supervisor records:
        each container's creation and start (config.json, state.json), the lines its
        entrypoint logged saying it is ready, and its last probes (start, end, exit,
        what asked for them), in ms from the start of `up`."""
        import json
        rows = []
        for c in json.loads("[" + ",".join(sh(self.cmd(
                proj, "ps", "-a", "--format", "json")).stdout.split("\n")[:-1]) + "]"):
            d = self.work / "root/containers" / c["ID"]
            cfg = json.loads((d / "config.json").read_text())
            st = json.loads((d / "state.json").read_text())
            svc = c["Service"]
            rows += [(cfg["created"], svc, "created"), (st["started_at"], svc, "started")]
            for ln in (d / "container.log").read_text().splitlines():
                rec = json.loads(ln)
                if "ready to accept connections" in rec["log"].lower():
                    rows.append((rfc3339_ns(rec["time"]), svc, "log: " + rec["log"].strip()[-60:]))
            h = st.get("health", {})
            for p in h.get("log", []):
                rows.append((p["start"], svc, f"probe ({p['trigger']}) → exit {p['exit_code']} "
                             f"in {(p['end'] - p['start']) / 1e6:.1f} ms"))
            rows.append((0, svc, f"{h.get('probes')} probes, {h.get('output_probes')} "
                         "asked for by output"))
        rows.append((self.t1_ns, "", "up --wait returned"))
        for t, svc, what in sorted(rows, key=lambda r: (r[0] == 0, r[0])):
            at = f"{(t - self.t0_ns) / 1e6:8.1f}" if t else " " * 8
            print(f"    {at} ms  {svc:6} {what}", flush=True)

    def up(self, proj):
        return timed(self.cmd(proj, "up", "-d"))

    def down(self, proj, volumes=False):
        return timed(self.cmd(proj, "down", *(["-v"] if volumes else [])))

    def resident(self):
        root = str(self.work / "root")
        return procs(lambda p, c: c == "stack" and
                     root in Path(f"/proc/{p}/cmdline").read_text(errors="replace")
                     and "supervise" in Path(f"/proc/{p}/cmdline").read_text(errors="replace"))

    def teardown(self):
        """Stops what a run that failed half-way left up (a no-op after down)."""
        for proj in self.work.glob("proj-*"):
            sh(self.cmd(proj, "down", "-v", "-t", "0"), check=False)

    def wait_exit(self, proj, svc):
        # stack has no `wait` yet: poll `ps -a` until the container has exited
        poll("stack exit", lambda: "exited" in sh(
            self.cmd(proj, "ps", "-a", "--format", "json", svc)).stdout.lower(), 120)

    def logs(self, proj, svc):
        return self.cmd(proj, "logs", "--no-log-prefix", svc)


class DockerCompose(Tool):
    name = "docker"

    def setup(self, images=IMAGES):
        w = self.work
        self.sock = w / "docker.sock"
        self.env = {**os.environ, "PATH": "/usr/bin:/usr/sbin:/bin:/sbin",
                    "DOCKER_HOST": f"unix://{self.sock}", "DOCKER_CONFIG": str(w / "cfg")}
        self.log = open(w / "dockerd.log", "ab")
        self.proc = subprocess.Popen(
            ["/usr/sbin/dockerd", "--data-root", w / "data", "--exec-root", w / "exec",
             "--pidfile", w / "dockerd.pid", "--host", f"unix://{self.sock}",
             "--storage-driver", "overlay2", "--exec-opt", "native.cgroupdriver=cgroupfs",
             "--cgroup-parent", f"stack-bench-{os.getpid()}", "--log-level", "warn"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True, env=self.env)
        poll("docker info", lambda: self.proc.poll() is None and
             sh(["/usr/bin/docker", "info"], env=self.env, check=False).returncode == 0, 60)
        for img in images:
            sh(["/usr/bin/docker", "pull", "-q", self.reg.ref(img)], env=self.env)

    def dc(self, proj, *args):
        return ["/usr/bin/docker-compose", "-p", proj.name.replace("proj-", "b"),
                "--project-directory", proj, "-f", proj / "compose.yaml", *args]

    cli = dc

    def ids(self, proj):
        return sh(self.dc(proj, "ps", "-q"), env=self.env).stdout.split()

    def up_healthy(self, proj):
        t0 = time.monotonic()
        sh(self.dc(proj, "up", "-d"), env=self.env)
        ids = self.ids(proj)

        def healthy():
            r = sh(["/usr/bin/docker", "inspect", "-f", "{{.State.Health.Status}}", *ids],
                   env=self.env)
            return r.stdout.split() == ["healthy"] * len(ids)
        poll("docker-compose healthy", healthy)
        return time.monotonic() - t0

    def up(self, proj):
        return timed(self.dc(proj, "up", "-d"), env=self.env)

    def down(self, proj, volumes=False):
        # docker-compose 1.29 sometimes removes the network before dockerd has let go of
        # every endpoint ("has active endpoints"): run it again, the time of both counts
        t0 = time.monotonic()
        for attempt in range(3):
            r = sh(self.dc(proj, "down", *(["-v"] if volumes else [])), env=self.env,
                   check=attempt == 2)
            if r.returncode == 0:
                break
            print(f"  docker-compose down failed, again: {r.stderr.strip()[-200:]}", flush=True)
        return time.monotonic() - t0

    def resident(self):
        return procs(lambda p, c: c in ("dockerd", "containerd", "containerd-shim",
                                        "containerd-shim-runc-v2", "docker-proxy"))

    def wait_exit(self, proj, svc):
        sh(["/usr/bin/docker", "wait", *self.ids(proj)], env=self.env)

    def logs(self, proj, svc):
        return ["/usr/bin/docker", "logs", *self.ids(proj)]

    def teardown(self):
        if not hasattr(self, "proc"):
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        remove_cgroups(f"stack-bench-{os.getpid()}")


class PodmanCompose(Tool):
    name = "podman"

    def setup(self, images=IMAGES):
        w = self.work
        hn = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        # podman asks for more processes than root may set here; runc and crun then
        # fail to raise RLIMIT_NPROC even to the hard limit: stay well below it
        hu = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], 4096)
        (w / "containers.conf").write_text(
            f'[containers]\ndefault_ulimits = ["nofile={hn}:{hn}", "nproc={hu}:{hu}"]\n'
            # crun refuses the hybrid cgroup layout (PEERS.md): runc
            f'[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nruntime = "runc"\n'
            f'events_logfile_path = "{w}/events.log"\n'
            f'[network]\nnetwork_config_dir = "{w}/net"\n')
        (w / "registries.conf").write_text(
            f'[[registry]]\nlocation = "{self.reg.host}"\ninsecure = true\n')
        bindir = w / "bin"
        bindir.mkdir()
        (bindir / "podman").write_text(
            f'#!/bin/sh\nexec /usr/bin/podman --root {w}/root --runroot {w}/run '
            f'--tmpdir {w}/tmp --cgroup-manager cgroupfs "$@"\n')
        (bindir / "podman").chmod(0o755)
        self.env = {**os.environ, "PATH": f"{bindir}:/usr/bin:/usr/sbin:/bin:/sbin",
                    "CONTAINERS_CONF": str(w / "containers.conf"), "TMPDIR": str(w / "tmp"),
                    "CONTAINERS_REGISTRIES_CONF": str(w / "registries.conf")}
        (w / "tmp").mkdir()
        for img in images:
            sh(["podman", "pull", "-q", self.reg.ref(img)], env=self.env)

    def pc(self, proj, *args):
        return ["/usr/bin/podman-compose", "-p", proj.name.replace("proj-", "b"),
                "-f", proj / "compose.yaml", *args]

    cli = pc

    def ids(self, proj):
        return sh(["podman", "ps", "-aq", "--filter",
                   f"label=io.podman.compose.project={proj.name.replace('proj-', 'b')}"],
                  env=self.env).stdout.split()

    def up_healthy(self, proj):
        t0 = time.monotonic()
        r = sh(self.pc(proj, "up", "-d"), env=self.env)
        if os.environ.get("STACK_BENCH_DEBUG"):
            print(r.stdout[-3000:], r.stderr[-3000:], file=sys.stderr)
        pending = set(self.ids(proj))

        def healthy():
            for c in list(pending):
                r = sh(["podman", "healthcheck", "run", c], env=self.env, check=False)
                if r.returncode == 0:
                    pending.discard(c)
                elif os.environ.get("STACK_BENCH_DEBUG"):
                    print(c, r.returncode, r.stdout, r.stderr, file=sys.stderr)
            return not pending
        poll("podman healthy", healthy)
        return time.monotonic() - t0

    def up(self, proj):
        return timed(self.pc(proj, "up", "-d"), env=self.env)

    def down(self, proj, volumes=False):
        t = timed(self.pc(proj, "down", *(["-v"] if volumes else [])), env=self.env)
        return t

    def resident(self):
        return procs(lambda p, c: c in ("conmon", "aardvark-dns", "dnsmasq"))

    def wait_exit(self, proj, svc):
        sh(["podman", "wait", *self.ids(proj)], env=self.env)

    def logs(self, proj, svc):
        return ["podman", "logs", *self.ids(proj)]

    def teardown(self):
        if self.env is None:
            return  # setup failed before podman was pointed at the throw-away root
        sh(["podman", "system", "reset", "-f"], env=self.env, check=False)
        remove_cgroups("libpod_parent")


def remove_cgroups(name):
    """rmdir (deepest first) the cgroup directories named `name` a peer left."""
    for top in Path("/sys/fs/cgroup").iterdir():
        d = top / name
        if d.is_dir() and not d.is_symlink():
            for sub in sorted((p for p in d.rglob("*") if p.is_dir()),
                              key=lambda p: -len(p.parts)):
                try:
                    sub.rmdir()
                except OSError:
                    pass
            try:
                d.rmdir()
            except OSError as e:
                print(f"could not remove {d}: {e}", file=sys.stderr)


def unpack(layout, dest):
    """The image's layers applied in order (whiteouts honoured) into dest."""
    import json
    idx = json.loads((layout / "index.json").read_text())
    man = json.loads((layout / "blobs/sha256" / idx["manifests"][0]["digest"][7:]).read_text())
    for layer in man["layers"]:
        with tarfile.open(layout / "blobs/sha256" / layer["digest"][7:]) as tf:
            members = []
            for m in tf.getmembers():
                base = os.path.basename(m.name.rstrip("/"))
                if base.startswith(".wh."):
                    gone = dest / os.path.dirname(m.name) / base[4:]
                    if gone.is_dir() and not gone.is_symlink():
                        shutil.rmtree(gone)
                    elif gone.exists() or gone.is_symlink():
                        gone.unlink()
                    continue
                members.append(m)
            tf.extractall(dest, members, numeric_owner=True)


def floor(layout, work, trace=False):
    """Postgres's entrypoint as a plain process in a fresh copy of the image's files; with
    trace, when it logged "ready to accept connections" (ms from its start)."""
    d = work / "floor"
    shutil.rmtree(d, ignore_errors=True)
    unpack(layout, d)
    for m in ("proc", "dev"):
        sh(["mount", "--rbind", f"/{m}", d / m])
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/lib/postgresql/15/bin",
           "PGDATA": "/var/lib/postgresql/data", "POSTGRES_USER": "app",
           "POSTGRES_PASSWORD": "secret", "POSTGRES_DB": "app", "LANG": "C.UTF-8"}
    try:
        t0 = time.monotonic()
        p = subprocess.Popen(["/usr/sbin/chroot", d, "docker-entrypoint.sh", "postgres"], env=env,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE if trace else subprocess.DEVNULL)
        ready = []
        if trace:
            import threading

            def read():
                for ln in p.stderr:
                    if b"ready to accept connections" in ln:
                        ready.append(time.monotonic() - t0)
            threading.Thread(target=read, daemon=True).start()
        poll("floor postgres", lambda: p.poll() is None and sh(
            ["/usr/sbin/chroot", d, "pg_isready", "-q", "-h", "127.0.0.1", "-U", "app", "-d", "app"],
            env=env, check=False).returncode == 0, 120)
        dt = time.monotonic() - t0
        if trace:
            print("    floor: \"ready to accept connections\" at " +
                  ", ".join(f"{x * 1000:.1f}" for x in ready) + f" ms, pg_isready passed "
                  f"at {dt * 1000:.1f} ms", flush=True)
        p.terminate()
        p.wait(60)
        return dt
    finally:
        for m in ("dev", "proc"):
            sh(["umount", "-R", d / m], check=False)
        shutil.rmtree(d, ignore_errors=True)


def count_lines(argv, env):
    p = subprocess.Popen([str(a) for a in argv], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    n = 0
    while True:
        b = p.stdout.read(1 << 20)
        if not b:
            break
        n += b.count(b"\n")
    p.wait()
    return n


def rfc3339_ns(text):
    """2026-12-08T00:47:49.123456789Z → ns since the epoch."""
    import calendar
    sec, frac = text.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(sec, "%Y-%m-%dT%H:%M:%S")) * 10**9 + \
        int(frac.ljust(9, "0")[:9])


def med(xs):
    return statistics.median(xs) if xs else float("nan")


class StackBaseline(Stack):
    """Another build of stack (--baseline), to compare a change with in the same run."""
    name = "baseline"
    binary = os.environ.get("STACK_BASELINE_BIN", "")


KINDS = {"stack": Stack, "docker": DockerCompose, "podman": PodmanCompose,
         "baseline": StackBaseline}


@contextlib.contextmanager
def peer_run(prefix, names, images):
    """A run of the tools `names` (keys of KINDS), each set up with `images`, in a
    throw-away directory under /var/tmp with a loopback registry. Afterwards every tool is
    torn down (also one whose setup failed), and what the peers left outside that
    directory is removed: podman's blob cache (when this run made it), CNI leases; the
    processes of the peers still running in this namespace are reported."""
    sh(["ip", "link", "set", "lo", "up"])
    work = Path(tempfile.mkdtemp(prefix=prefix, dir="/var/tmp"))
    had_cache = Path("/var/lib/containers").exists()
    # CNI's leases (host-local plugin) and cached results are kept outside podman's root
    cni = [Path("/var/lib/cni/networks"), Path("/var/lib/cni/results")]
    had_cni = [set(os.listdir(d)) if d.is_dir() else set() for d in cni]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))
    test_images = TestImages()
    reg = PushedRegistry(work / "registry", test_images).start()
    run = types.SimpleNamespace(work=work, reg=reg, images=test_images, tools=[])
    try:
        for img in images:
            reg.ensure(img)
        for name in names:
            tool = KINDS[name](work, reg)
            run.tools.append(tool)
            tool.setup(images)
        yield run
    finally:
        for t in run.tools:
            if hasattr(t, "teardown"):
                t.teardown()
        reg.stop()
        left = procs(lambda p, c: c in PEER_COMMS)
        if left:
            print(f"left running: {left}", file=sys.stderr)
        # podman's blob cache outside its root: removed only when this run made it and
        # no other podman (another user of this machine) is running
        others = subprocess.run(["pgrep", "-x", "podman|conmon"], capture_output=True)
        if not had_cache and others.returncode != 0:
            shutil.rmtree("/var/lib/containers", ignore_errors=True)
        for d, had in zip(cni, had_cni):
            for n in (set(os.listdir(d)) if d.is_dir() else set()) - had:
                if (d / n).is_dir():
                    shutil.rmtree(d / n, ignore_errors=True)
                else:
                    (d / n).unlink()
        sh(["umount", "-R", work], check=False)
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--big-rounds", type=int, default=2)
    ap.add_argument("--big", type=int, default=100)
    ap.add_argument("--log-seconds", type=int, default=3)
    ap.add_argument("--tools", default="stack,docker,podman")
    ap.add_argument("--no-floor", action="store_true")
    ap.add_argument("--logs-only", action="store_true",
                    help="only the log measure (busybox only: no postgres or redis image)")
    ap.add_argument("--trace", action="store_true",
                    help="after each healthy run of stack, where its time went")
    ap.add_argument("--baseline", metavar="BIN",
                    help="also a baseline build of stack (the tool named 'baseline')")
    a = ap.parse_args()
    if a.logs_only:
        a.no_floor, a.big_rounds = True, 0
    if a.baseline:
        StackBaseline.binary = os.path.abspath(a.baseline)
        a.tools += ",baseline"
    res = {}

    def note(key, v):
        res.setdefault(key, []).append(v)
        print(f"  {key}: {v:.3f}", flush=True)
    images_used = ("busybox",) if a.logs_only else IMAGES
    with peer_run("stack-compose-bench-", a.tools.split(","), images_used) as run:
        work, reg, images, tools = run.work, run.reg, run.images, run.tools
        print(f"load average {os.getloadavg()[0]:.2f} before", flush=True)
        for r in range(a.rounds):
            order = tools[r % len(tools):] + tools[:r % len(tools)]
            print(f"round {r + 1}", flush=True)
            if not a.no_floor:
                note("floor", floor(images.layout("postgres"), work, a.trace))
            for t in order if not a.logs_only else ():
                p = t.project("healthy", healthy_project(reg))
                note(f"{t.name} healthy", t.up_healthy(p))
                if a.trace and hasattr(t, "trace"):
                    t.trace(p)
                note(f"{t.name} down -v", t.down(p, volumes=True))
            for t in order if a.log_seconds > 0 else ():
                p = t.project("log", log_project(reg, a.log_seconds))
                t.up(p)
                t.wait_exit(p, "log")
                t0 = time.monotonic()
                n = count_lines(t.logs(p, "log"), getattr(t, "env", None))
                note(f"{t.name} logs read s", time.monotonic() - t0)
                note(f"{t.name} log lines/s", n / a.log_seconds)
                t.down(p)
        for r in range(a.big_rounds):
            order = tools[r % len(tools):] + tools[:r % len(tools)]
            print(f"big round {r + 1}", flush=True)
            for n in (3, a.big):
                for t in order:
                    p = t.project(f"big{n}", big_project(reg, n))
                    note(f"{t.name} up {n}", t.up(p))
                    pids = t.resident()
                    rss, sw0 = rss_and_switches(pids)
                    time.sleep(10)
                    sw1 = rss_and_switches(pids)[1]
                    note(f"{t.name} rss MiB {n}", rss / 1024)
                    note(f"{t.name} procs {n}", len(pids))
                    note(f"{t.name} switches/10s {n}", sw1 - sw0)
                    note(f"{t.name} down {n}", t.down(p))
        print(f"load average {os.getloadavg()[0]:.2f} after", flush=True)
    print("\n| measure | " + " | ".join(t.name for t in tools) + " |")
    print("|---|" + "---:|" * len(tools))
    keys = []
    for k in res:
        m = k.split(" ", 1)[1] if " " in k and k.split(" ", 1)[0] in KINDS else None
        if m and m not in keys:
            keys.append(m)
    for m in keys:
        cells = []
        for t in tools:
            xs = res.get(f"{t.name} {m}", [])
            cells.append(f"{med(xs):.3g} ({', '.join(f'{x:.3g}' for x in xs)})")
        print(f"| {m} | " + " | ".join(cells) + " |")
    fl = med(res.get("floor", []))
    print(f"\nfloor (Postgres entrypoint until it accepts): {fl:.3f} s "
          f"({', '.join(f'{x:.3f}' for x in res.get('floor', []))})")
    for t in tools:
        h = med(res.get(f"{t.name} healthy", []))
        per = [x / f for x, f in zip(res.get(f"{t.name} healthy", []), res.get("floor", []))]
        print(f"{t.name}: healthy / floor = {h / fl:.2f}; per round "
              f"{', '.join(f'{x:.2f}' for x in per)} (median {med(per):.2f})")


if __name__ == "__main__":
    main()
