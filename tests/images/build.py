#!/usr/bin/env python3
"""Builds the test images (busybox, postgres, redis) as OCI image layouts from Debian
packages only, and caches them by a hash of the scripts in this directory.

    build.py [--cache DIR] [IMAGE...]      prints the layout directory of each image

busybox: /bin/busybox from busybox-static and its applet links, one layer.
postgres, redis: a debootstrap --variant=minbase rootfs (layer 1) plus the server
installed with apt in a chroot (layer 2, a diff with whiteouts for removed files).
debootstrap uses the mirror of this machine's apt sources, read at run time (or
$STACK_TEST_MIRROR). Downloads from the mirror (debootstrap, apt-get) are retried a few
times; a step that still fails prints the tool's own message (the tail of debootstrap's
log, apt's stderr) and one line naming the image and the step, and exits 1.

    build.py --offline IMAGE...            never downloads: an image that needs the mirror
                                           and is not in the cache is an error (exit 2)"""
import argparse
import fcntl
import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
IMAGES = ("busybox", "postgres", "redis")
SUITE = "bookworm"
# Mirror downloads: attempts, and the pause before the next one (doubling).
ATTEMPTS = 3
PAUSE = float(os.environ.get("STACK_TEST_RETRY_PAUSE", "5"))
NEEDS_MIRROR = ("postgres", "redis")


class StepFailed(Exception):
    """A build step failed; its output has been shown, str() is the one-line reason."""


def tail(text, lines=25):
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def run_step(what, argv, retry=False, log=None, before_retry=None, **kw):
    """Runs a build step with its output captured. On failure, shows the tool's own
    message (its stderr and stdout, and the tail of `log` if given) and, for downloads
    (retry=True), tries again after a pause. Raises StepFailed when it gives up."""
    attempts = ATTEMPTS if retry else 1
    for attempt in range(1, attempts + 1):
        p = subprocess.run(argv, capture_output=True, text=True, errors="replace", **kw)
        if p.returncode == 0:
            return p
        msg = tail(p.stderr + p.stdout)
        if log and Path(log).is_file():
            msg = tail(Path(log).read_text(errors="replace")) + "\n" + msg
        last = next((ln.strip() for ln in reversed(msg.splitlines()) if ln.strip()), "")
        print(f"build.py: {what} failed (exit {p.returncode}, attempt {attempt} of {attempts}):",
              file=sys.stderr)
        print("  | " + msg.replace("\n", "\n  | "), file=sys.stderr)
        if attempt < attempts:
            pause = PAUSE * 2 ** (attempt - 1)
            print(f"build.py: retrying {what} in {pause:g} s", file=sys.stderr)
            time.sleep(pause)
            if before_retry:
                before_retry()
    raise StepFailed(f"{what} failed (exit {p.returncode}): {last}")


def scripts_hash():
    h = hashlib.sha256()
    for p in sorted(HERE.iterdir()):
        if p.is_file() and p.suffix in (".py", ".sh"):
            h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:16]


def default_cache():
    base = os.environ.get("STACK_TEST_IMAGES") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "stack-test-images")
    return Path(base)


# ---- apt mirror, from the machine's own sources -------------------------------------

def apt_mirror():
    """$STACK_TEST_MIRROR, or the first Debian archive URI in /etc/apt/sources.list{,.d/*}
    that carries SUITE."""
    if os.environ.get("STACK_TEST_MIRROR"):
        return os.environ["STACK_TEST_MIRROR"]
    files = [Path("/etc/apt/sources.list")]
    d = Path("/etc/apt/sources.list.d")
    if d.is_dir():
        files += sorted(d.iterdir())
    for f in files:
        if not f.is_file():
            continue
        text = f.read_text(errors="replace")
        if f.suffix == ".sources":
            for stanza in text.split("\n\n"):
                fields = {}
                for line in stanza.splitlines():
                    if line.startswith("#") or ":" not in line:
                        continue
                    k, v = line.split(":", 1)
                    fields[k.strip().lower()] = v.split()
                if "deb" in fields.get("types", []) and SUITE in fields.get("suites", []):
                    if fields.get("enabled", ["yes"])[0] != "no":
                        return fields["uris"][0]
        elif f.suffix == ".list" or f.name == "sources.list":
            for line in text.splitlines():
                parts = line.split()
                if len(parts) >= 3 and parts[0] == "deb":
                    if parts[1].startswith("["):
                        parts = [parts[0]] + [p for p in parts[1:] if "]" not in p and "[" not in p
                                              and "=" not in p]
                    if len(parts) >= 3 and parts[2] == SUITE:
                        return parts[1]
    raise StepFailed("no apt source for %s in /etc/apt/sources.list{,.d}" % SUITE)


# ---- OCI layout writing --------------------------------------------------------------

class Layout:
    def __init__(self, path):
        self.path = Path(path)
        (self.path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (self.path / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')

    def blob(self, data):
        d = hashlib.sha256(data).hexdigest()
        (self.path / "blobs" / "sha256" / d).write_bytes(data)
        return "sha256:" + d, len(data)

    def finish(self, layers, config, tag):
        """layers: list of uncompressed tar bytes, lowest first."""
        descs, diff_ids = [], []
        for tar in layers:
            diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
            gz = gzip.compress(tar, compresslevel=6, mtime=0)
            d, n = self.blob(gz)
            descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                          "digest": d, "size": n})
        config["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
        cd, cn = self.blob(json.dumps(config, sort_keys=True).encode())
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               "digest": cd, "size": cn},
                    "layers": descs}
        md, mn = self.blob(json.dumps(manifest, sort_keys=True).encode())
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                "digest": md, "size": mn,
                                "platform": {"os": "linux", "architecture": "amd64"},
                                "annotations": {"org.opencontainers.image.ref.name": tag}}]}
        (self.path / "index.json").write_text(json.dumps(index))


def image_config(cmd, entrypoint=None, env=None, user=None, ports=None, workdir=None):
    cfg = {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
                   + (":/usr/lib/postgresql/15/bin" if "PG_MAJOR=15" in (env or []) else "")]
           + (env or []), "Cmd": cmd}
    if entrypoint:
        cfg["Entrypoint"] = entrypoint
    if user:
        cfg["User"] = user
    if workdir:
        cfg["WorkingDir"] = workdir
    if ports:
        cfg["ExposedPorts"] = {p: {} for p in ports}
    return {"architecture": "amd64", "os": "linux",
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "config": cfg}


def tar_tree(root, only=None, whiteouts=()):
    """A tar of root (or of the relative paths in `only`), plus whiteout entries."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        def add(rel):
            full = os.path.join(root, rel)
            ti = tf.gettarinfo(full, arcname=rel)
            ti.uname = ti.gname = ""
            if ti.isreg():
                with open(full, "rb") as f:
                    tf.addfile(ti, f)
            else:
                tf.addfile(ti)
        paths = only if only is not None else walk(root)
        for rel in paths:
            add(rel)
        for rel in whiteouts:
            d, b = os.path.split(rel)
            ti = tarfile.TarInfo(os.path.join(d, ".wh." + b))
            ti.mode = 0o644
            tf.addfile(ti)
    return buf.getvalue()


def walk(root):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root)
        if rel != ".":
            out.append(rel)
        for name in sorted(filenames):
            out.append(os.path.normpath(os.path.join(rel, name)))
        # symlinks to directories are listed by os.walk as dirnames but not descended
        for name in list(dirnames):
            if os.path.islink(os.path.join(dirpath, name)):
                out.append(os.path.normpath(os.path.join(rel, name)))
                dirnames.remove(name)
    return out


def snapshot(root):
    snap = {}
    for rel in walk(root):
        st = os.lstat(os.path.join(root, rel))
        link = os.readlink(os.path.join(root, rel)) if stat.S_ISLNK(st.st_mode) else None
        snap[rel] = (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, link)
    return snap


def diff_layer(root, before):
    """Entries new or changed since `before`, and whiteouts for the removed ones."""
    after = snapshot(root)
    changed = [p for p, v in after.items() if before.get(p) != v]
    removed = [p for p in before if p not in after]
    # a removed directory's whiteout covers its children
    removed = [p for p in removed if os.path.dirname(p) not in removed or os.path.dirname(p) == ""]
    changed_set = set(changed)
    for p in list(changed):  # parents of changed entries must exist in the layer
        d = os.path.dirname(p)
        while d and d not in changed_set:
            changed_set.add(d)
            changed.append(d)
            d = os.path.dirname(d)
    changed.sort()
    return tar_tree(root, only=changed, whiteouts=sorted(removed))


# ---- the images ----------------------------------------------------------------------

def build_busybox(out):
    with tempfile.TemporaryDirectory(prefix="stack-bb-") as root:
        os.makedirs(f"{root}/bin")
        shutil.copy2("/bin/busybox", f"{root}/bin/busybox")
        applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True,
                                 check=True).stdout.split()
        for a in applets:
            if a != "busybox":
                os.symlink("busybox", f"{root}/bin/{a}")
        for d in ("etc", "tmp", "root", "var", "proc", "sys", "dev", "home"):
            os.makedirs(f"{root}/{d}", exist_ok=True)
        os.chmod(f"{root}/tmp", 0o1777)
        Path(f"{root}/etc/passwd").write_text(
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
        Path(f"{root}/etc/group").write_text("root:x:0:\nnogroup:x:65534:\n")
        layer = tar_tree(root)
    Layout(out).finish([layer], image_config(["sh"]), "latest")


def debootstrap_base(cache):
    """The minbase rootfs, built once and shared by postgres and redis."""
    base = cache.parent / f"minbase-{SUITE}"
    if (base / ".complete").exists():
        return base
    mirror = apt_mirror()

    def clear():
        unmount_under(base)
        shutil.rmtree(base, ignore_errors=True)
    clear()
    # debootstrap writes its log into the target; it is read from there on failure.
    try:
        run_step(f"debootstrap {SUITE} from {mirror}",
                 ["debootstrap", "--variant=minbase", SUITE, str(base), mirror], retry=True,
                 log=base / "debootstrap/debootstrap.log", before_retry=clear)
    except StepFailed:
        clear()
        raise
    # no services start during image builds; no caches in images
    Path(base / "usr/sbin/policy-rc.d").write_text("#!/bin/sh\nexit 101\n")
    os.chmod(base / "usr/sbin/policy-rc.d", 0o755)
    run_step("apt-get clean", ["chroot", str(base), "apt-get", "clean"])
    shutil.rmtree(base / "var/lib/apt/lists", ignore_errors=True)
    os.makedirs(base / "var/lib/apt/lists/partial", exist_ok=True)
    (base / ".complete").write_text("")
    return base


def unmount_under(path):
    """Unmounts whatever a failed debootstrap or chroot left mounted below path (deepest
    first), so that removing the tree cannot reach into /proc or /sys."""
    path = os.path.realpath(path)
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mp = line.split()[4].encode().decode("unicode_escape")
        if mp == path or mp.startswith(path + "/"):
            mounts.append(mp)
    for mp in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", mp], check=False)


def chroot_install(root, packages, pre=None):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive",
           "LANG": "C.UTF-8"}
    if pre:
        pre(root)
    subprocess.run(["mount", "-t", "proc", "proc", f"{root}/proc"], check=True)
    try:
        shutil.copy2("/etc/resolv.conf", f"{root}/etc/resolv.conf")
        run_step("apt-get update", ["chroot", root, "apt-get", "update", "-qq"], retry=True,
                 env=env)
        run_step("apt-get install " + " ".join(packages),
                 ["chroot", root, "apt-get", "install", "-y", "-qq", "--no-install-recommends",
                  *packages], retry=True, env=env)
        run_step("apt-get clean", ["chroot", root, "apt-get", "clean"], env=env)
    finally:
        subprocess.run(["umount", f"{root}/proc"], check=True)
    shutil.rmtree(f"{root}/var/lib/apt/lists", ignore_errors=True)
    os.makedirs(f"{root}/var/lib/apt/lists/partial", exist_ok=True)
    Path(f"{root}/etc/resolv.conf").write_text("")


def build_server(out, cache, packages, files, config, pre=None, dirs=()):
    base = debootstrap_base(cache)
    with tempfile.TemporaryDirectory(prefix="stack-img-", dir=cache) as tmp:
        root = os.path.join(tmp, "rootfs")
        subprocess.run(["cp", "-a", str(base), root], check=True)
        os.remove(os.path.join(root, ".complete"))
        before = snapshot(root)
        base_layer = tar_tree(root)
        chroot_install(root, packages, pre)
        for d in dirs:
            os.makedirs(root + d, exist_ok=True)
        for dest, (content, mode) in files.items():
            p = Path(root + dest)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(content)
            os.chmod(p, mode)
        app_layer = diff_layer(root, before)
    Layout(out).finish([base_layer, app_layer], config, "latest")


def pg_no_cluster(root):
    os.makedirs(f"{root}/etc/postgresql-common", exist_ok=True)
    Path(f"{root}/etc/postgresql-common/createcluster.conf").write_text("create_main_cluster = false\n")


def build_postgres(out, cache):
    entry = (HERE / "postgres-entrypoint.sh").read_text()
    build_server(out, cache, ["postgresql", "postgresql-client"],
                 {"/usr/local/bin/docker-entrypoint.sh": (entry, 0o755)},
                 image_config(["postgres"], entrypoint=["docker-entrypoint.sh"],
                              env=["PGDATA=/var/lib/postgresql/data", "LANG=C.UTF-8",
                                   "PG_MAJOR=15"],
                              ports=["5432/tcp"]),
                 pre=pg_no_cluster)


def build_redis(out, cache):
    build_server(out, cache, ["redis-server", "redis-tools"], {},
                 image_config(["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no",
                               "--daemonize", "no", "--dir", "/data"],
                              ports=["6379/tcp"], workdir="/data"),
                 dirs=["/data"])


def build(name, cache, offline):
    out = cache / name
    if (out / "index.json").exists():
        return out
    # Two builders of one cache (a helper's tests next to a CI run) take turns: the second
    # waits for the first, then finds the image made instead of removing its half-made tree.
    with open(cache.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (out / "index.json").exists():
            return out
        return build_locked(name, out, cache, offline)


def build_locked(name, out, cache, offline):
    if offline and name in NEEDS_MIRROR:
        print(f"build.py: test image {name} is not in the cache {cache} and --offline "
              "forbids downloading it: scripts/test.sh builds the test images before the "
              "suite (python3 tests/images/build.py)", file=sys.stderr)
        sys.exit(2)
    tmp = cache / f"{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        if name == "busybox":
            build_busybox(tmp)
        elif name == "postgres":
            build_postgres(tmp, cache)
        else:
            build_redis(tmp, cache)
    except StepFailed as e:
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"build.py: test image {name}: {e}", file=sys.stderr)
        sys.exit(1)
    os.rename(tmp, out)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", type=Path, default=default_cache())
    ap.add_argument("--offline", action="store_true",
                    help="fail instead of downloading an image that is not cached")
    ap.add_argument("images", nargs="*", default=list(IMAGES))
    args = ap.parse_args()
    cache = args.cache / scripts_hash()
    cache.mkdir(parents=True, exist_ok=True)
    for name in args.images:
        if name not in IMAGES:
            sys.exit(f"build.py: unknown image {name}")
        print(build(name, cache, args.offline), flush=True)


if __name__ == "__main__":
    main()
