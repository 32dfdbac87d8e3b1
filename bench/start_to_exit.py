#!/usr/bin/env python3
"""Start-to-exit time of `true` in a container: `stack runtime run` against
`crun run` on the same busybox rootfs, both with Docker's default capabilities and
seccomp profile, median of N runs each. Run by hand, as root:
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


# Docker's default capabilities (moby oci/caps/defaults.go), what stack gives too.
DOCKER_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
               "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
               "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
# Docker's default profile in Docker's format, as containers-common ships it.
DOCKER_PROFILE = "/usr/share/containers/seccomp.json"


def oci_seccomp(profile_path, caps):
    """Docker's profile resolved for x86_64 and a capability set, as an OCI
    linux.seccomp (what dockerd hands runc)."""
    prof = json.loads(Path(profile_path).read_text())
    caps = set(caps)

    def applies(cond, negate):
        if not cond:
            return True
        hit = (any(a in ("amd64", "x86_64") for a in cond.get("arches", [])) or
               any(c in caps for c in cond.get("caps", [])))
        if negate:
            return not hit
        arches_ok = not cond.get("arches") or any(a in ("amd64", "x86_64")
                                                   for a in cond["arches"])
        caps_ok = not cond.get("caps") or all(c in caps for c in cond["caps"])
        return arches_ok and caps_ok

    arches = []
    for m in prof.get("archMap", []):
        if m["architecture"] == "SCMP_ARCH_X86_64":
            arches = [m["architecture"], *m.get("subArchitectures", [])]
    rules = []
    for r in prof["syscalls"]:
        if not applies(r.get("includes"), False) or not applies(r.get("excludes"), True):
            continue
        rule = {"names": r["names"], "action": r["action"]}
        if r.get("args"):
            rule["args"] = r["args"]
        if "errnoRet" in r:
            rule["errnoRet"] = r["errnoRet"]
        rules.append(rule)
    out = {"defaultAction": prof["defaultAction"], "architectures": arches, "syscalls": rules}
    if "defaultErrnoRet" in prof:
        out["defaultErrnoRet"] = prof["defaultErrnoRet"]
    return out


def crun_bundle(bundle, rootfs):
    """crun's default spec, with Docker's capabilities and seccomp profile, as the
    engine applies them (`crun spec` alone loads no filter and keeps fewer caps)."""
    subprocess.run(["crun", "spec"], cwd=bundle, check=True)
    cfg = json.loads((bundle / "config.json").read_text())
    cfg["root"] = {"path": str(rootfs), "readonly": False}
    cfg["process"]["args"] = ["/bin/true"]
    cfg["process"]["terminal"] = False
    cfg["process"]["capabilities"] = {k: DOCKER_CAPS for k in
                                      ("bounding", "effective", "permitted")}
    if os.path.exists(DOCKER_PROFILE):
        cfg["linux"]["seccomp"] = oci_seccomp(DOCKER_PROFILE, DOCKER_CAPS)
    else:
        print(f"warning: no {DOCKER_PROFILE}: crun runs without a seccomp filter")
    (bundle / "config.json").write_text(json.dumps(cfg))


def timed(cmd, **kw):
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, **kw)
    return (time.perf_counter() - t0) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--stack", default=str(Path(__file__).resolve().parents[1] / "build" / "stack"))
    ap.add_argument("--baseline", help="another stack binary (an older build) to time alongside")
    a = ap.parse_args()
    hide_hybrid_cgroup2()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rootfs = tmp / "rootfs"
        make_rootfs(rootfs)
        # name -> function of the run number giving the command line
        cmds = {}
        stacks = {"stack runtime run": a.stack}
        if a.baseline:
            stacks["baseline stack runtime run"] = a.baseline
        for name, binary in stacks.items():
            state = tmp / f"state-{len(cmds)}"
            cmds[name] = (lambda i, b=binary, st=state:
                          [b, "--root", str(st), "runtime", "run", "--rootfs", str(rootfs),
                           "--", "/bin/true"])
        if shutil.which("crun"):
            bundle = tmp / "bundle"
            bundle.mkdir()
            crun_bundle(bundle, rootfs)
            cmds["crun run"] = lambda i: ["crun", "run", "--bundle", str(bundle),
                                          f"bench-{os.getpid()}-{i}"]
            # For reference: `crun spec` as it comes (no seccomp filter, fewer caps).
            plain = tmp / "bundle-plain"
            plain.mkdir()
            subprocess.run(["crun", "spec"], cwd=plain, check=True)
            cfg = json.loads((plain / "config.json").read_text())
            cfg["root"] = {"path": str(rootfs), "readonly": False}
            cfg["process"].update(args=["/bin/true"], terminal=False)
            (plain / "config.json").write_text(json.dumps(cfg))
            cmds["crun run, no seccomp (crun spec as is)"] = lambda i: [
                "crun", "run", "--bundle", str(plain), f"bench-plain-{os.getpid()}-{i}"]
        # What each binary costs before it does any container work: the dynamic loader
        # and library start-up, paid by every command (stack links many more libraries).
        cmds["stack version (start-up only)"] = lambda i: [a.stack, "version"]
        if shutil.which("crun"):
            cmds["crun --version (start-up only)"] = lambda i: ["crun", "--version"]
        # Interleaved, so that the load of a shared machine falls on all alike; run 0
        # warms the page cache (and stack's seccomp cache) and is not counted.
        results = {name: [] for name in cmds}
        for i in range(a.runs + 1):
            for name, cmd in list(cmds.items()):
                try:
                    t = timed(cmd(i))
                except subprocess.CalledProcessError as e:
                    print(f"{name} failed: {e.stderr.decode().strip()}")
                    del cmds[name], results[name]
                    continue
                if i:
                    results[name].append(t)
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
