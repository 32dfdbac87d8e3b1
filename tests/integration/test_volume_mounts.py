"""Volumes in containers, through `stack runtime run` until the supervisor lands:
named volumes that persist, copy-up from the image (owners, modes, xattrs, links) once
and never with nocopy, anonymous volumes, Compose's names and labels, external volumes,
the local driver's tmpfs and bind options, and volumes_from."""
import json
import os
import subprocess

import pytest

from conftest import run_stack
from engine_helpers import engine, needs_busybox, needs_root  # noqa: F401
from image_fixtures import registry, test_images  # noqa: F401

pytestmark = [needs_root, needs_busybox]


def vol(root, *args):
    return run_stack("--root", str(root), "volume", *args)


def volume_mount(source, target, **kw):
    m = {"type": "volume", "target": target, **kw}
    if source:
        m["source"] = source
    return m


def test_named_volume_is_created_on_first_use_and_keeps_data_across_containers(engine):
    spec = {"volumes": [volume_mount("notes", "/data")]}
    r = engine.run("sh", "-c", "echo kept > /data/f", spec=spec)
    assert r.code == 0, r
    r = engine.run("cat", "/data/f", spec=spec)
    assert r.code == 0, r
    assert r.out == "kept\n"
    [v] = json.loads(vol(engine.root, "inspect", "notes").out)
    assert open(os.path.join(v["Mountpoint"], "f")).read() == "kept\n"


def test_project_volume_gets_composes_name_and_labels(engine):
    spec = {"volumes": [volume_mount("db", "/data")],
            "project_volumes": {"db": {"labels": {"backup": "daily"}}}}
    r = run_project(engine, "shop", spec, "true")
    assert r.code == 0, r
    [v] = json.loads(vol(engine.root, "inspect", "shop_db").out)
    assert v["Labels"] == {"com.docker.compose.project": "shop",
                           "com.docker.compose.volume": "db", "backup": "daily"}
    spec = {"volumes": [volume_mount("db", "/data")],
            "project_volumes": {"db": {"name": "shared-db"}}}
    r = run_project(engine, "shop", spec, "true")
    assert r.code == 0, r
    assert vol(engine.root, "inspect", "shared-db").code == 0


def run_project(engine, project, spec, *cmd):
    """runtime run with --project (names volumes <project>_<key>)."""
    args, cid, report = engine._args(cmd, spec, None)
    i = args.index("--")
    args[i:i] = ["--project", project, "--network", "none"]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60,
                       env={"PATH": "/usr/bin:/bin"})

    class R:
        code, out, err = p.returncode, p.stdout, p.stderr

        def __repr__(self):
            return f"<exit {self.code}\n{self.out}\n{self.err}>"
    return R()


def test_external_volume_must_exist_and_nothing_is_created(engine):
    spec = {"volumes": [volume_mount("outside", "/data")],
            "project_volumes": {"outside": {"external": True}}}
    r = engine.run("true", spec=spec)
    assert r.code == 1
    assert 'external volume "outside" not found' in r.err
    assert vol(engine.root, "ls", "-q").out == ""
    assert vol(engine.root, "create", "outside").code == 0
    r = engine.run("true", spec=spec)
    assert r.code == 0, r


def test_other_volume_driver_is_a_clear_error(engine):
    spec = {"volumes": [volume_mount("data", "/data")],
            "project_volumes": {"data": {"driver": "flocker"}}}
    r = engine.run("true", spec=spec)
    assert r.code == 1
    assert 'volume "data": volume driver "flocker" is not supported' in r.err
    assert vol(engine.root, "ls", "-q").out == ""


# --- copy-up ---

def image_layer(engine, files):
    """A layer on top of the busybox rootfs: {path: (content|None for dir, uid, mode)}."""
    layer = engine.tmp / "layer"
    for path, (content, uid, mode) in files.items():
        p = layer / path.lstrip("/")
        if content is None:
            p.mkdir(parents=True, exist_ok=True)
        else:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(content)
        os.chown(p, uid, uid)
        os.chmod(p, mode)
    return [str(layer), str(engine.rootfs)]


def test_copy_up_fills_an_empty_volume_with_the_images_content_keeping_owners(engine):
    layers = image_layer(engine, {"/srv/app": (None, 1000, 0o750),
                                  "/srv/app/conf": ("port=1\n", 1000, 0o640),
                                  "/srv/app/run.sh": ("#!/bin/sh\n", 0, 0o4755)})
    app = engine.tmp / "layer/srv/app"
    os.setxattr(app / "conf", "user.kind", b"config")
    os.setxattr(app / "conf", "trusted.secret", b"t")
    os.symlink("conf", app / "conf.link")
    os.link(app / "conf", app / "conf.hard")
    spec = {"layers": layers, "volumes": [volume_mount("appdata", "/srv/app")]}
    r = engine.run("sh", "-c", "stat -c '%u %a %n' /srv/app /srv/app/conf /srv/app/run.sh;"
                   "readlink /srv/app/conf.link; stat -c %i /srv/app/conf /srv/app/conf.hard",
                   spec=spec)
    assert r.code == 0, r
    lines = r.out.splitlines()
    assert lines[:4] == ["1000 750 /srv/app", "1000 640 /srv/app/conf", "0 4755 /srv/app/run.sh",
                         "conf"]
    assert lines[4] == lines[5]
    data = engine.root / "volumes/appdata/_data"
    assert os.getxattr(data / "conf", "user.kind") == b"config"
    assert os.getxattr(data / "conf", "trusted.secret") == b"t"
    assert os.stat(data).st_uid == 1000


def test_copy_up_happens_once_and_never_into_a_volume_with_content(engine):
    layers = image_layer(engine, {"/srv/app": (None, 0, 0o755),
                                  "/srv/app/seed": ("image\n", 0, 0o644)})
    spec = {"layers": layers, "volumes": [volume_mount("once", "/srv/app")]}
    r = engine.run("sh", "-c", "rm /srv/app/seed; echo mine > /srv/app/own", spec=spec)
    assert r.code == 0, r
    r = engine.run("ls", "/srv/app", spec=spec)
    assert r.out.split() == ["own"]


def test_containers_starting_together_on_a_new_volume_all_see_one_copy(engine):
    layers = image_layer(engine, {"/srv/app": (None, 0, 0o755),
                                  "/srv/app/seed": ("image\n", 0, 0o644)})
    spec = {"layers": layers, "volumes": [volume_mount("race", "/srv/app")]}
    procs = [engine.start("cat", "/srv/app/seed", spec=spec) for _ in range(4)]
    results = [c.wait() for c in procs]
    assert [r[:2] for r in results] == [(0, "image\n")] * 4, results
    assert sorted(os.listdir(engine.root / "volumes/race")) == ["_data", "volume.json"]
    assert os.listdir(engine.root / "volumes/race/_data") == ["seed"]


def test_nocopy_leaves_the_volume_empty(engine):
    layers = image_layer(engine, {"/srv/app": (None, 0, 0o755),
                                  "/srv/app/seed": ("image\n", 0, 0o644)})
    spec = {"layers": layers,
            "volumes": [volume_mount("bare", "/srv/app", volume={"nocopy": True})]}
    r = engine.run("ls", "-A", "/srv/app", spec=spec)
    assert r.code == 0, r
    assert r.out == ""
    assert os.listdir(engine.root / "volumes/bare/_data") == []


def test_copy_up_resolves_a_symlink_on_the_path_inside_the_image(engine, tmp_path):
    upper = tmp_path / "upper"
    (upper / "srv").mkdir(parents=True)
    # /srv/app -> /../../etc must resolve inside the image, not to the host's /etc.
    os.symlink("/../../etc", upper / "srv/app")
    spec = {"layers": [str(upper), str(engine.rootfs)],
            "volumes": [volume_mount("esc", "/srv/app")]}
    r = engine.run("true", spec=spec)
    assert r.code == 0, r
    data = engine.root / "volumes/esc/_data"
    # The image's /etc only (the engine then adds its own files to what is now /etc).
    assert {"group", "passwd"} <= set(os.listdir(data))
    assert set(os.listdir(data)) <= {"group", "passwd", "hostname", "hosts", "resolv.conf"}
    assert (data / "passwd").read_text() == (engine.rootfs / "etc/passwd").read_text()


def layers_of(engine, ref):
    root = engine.root
    r = run_stack("--root", str(root), "pull", "-q", ref)
    assert r.code == 0, r
    [img] = json.loads(run_stack("--root", str(root), "image", "inspect", ref).out)
    return list(reversed(img["LayerPaths"]))  # lowest first there; the engine wants top first


def test_postgres_data_dir_comes_up_owned_by_the_postgres_user(engine, registry):
    registry.ensure("postgres")
    layers = layers_of(engine, registry.ref("postgres"))
    spec = {"layers": layers, "volumes": [volume_mount("pgdata", "/var/lib/postgresql")]}
    r = engine.run("sh", "-c", "id -u postgres; stat -c '%u %U' /var/lib/postgresql", spec=spec)
    assert r.code == 0, r
    uid, owner = r.out.splitlines()
    assert owner == f"{uid} postgres"
    assert uid != "0"
    assert os.stat(engine.root / "volumes/pgdata/_data").st_uid == int(uid)


# --- anonymous volumes ---

def test_anonymous_volumes_from_short_syntax_and_image_volumes(engine):
    spec = {"volumes": ["/scratch"], "image_volumes": ["/var/cache", "/scratch"]}
    r = engine.run("sh", "-c", "echo a > /scratch/x; echo b > /var/cache/y", spec=spec)
    assert r.code == 0, r
    names = vol(engine.root, "ls", "-q", "--filter", "label=com.docker.volume.anonymous").out.split()
    assert len(names) == 2
    r = vol(engine.root, "prune", "-f")
    assert r.code == 0, r
    assert vol(engine.root, "ls", "-q").out == ""


# --- the local driver's options ---

def test_tmpfs_volume_is_shared_while_used_and_unmounted_after(engine):
    assert vol(engine.root, "create", "-o", "type=tmpfs", "-o", "o=size=1m", "fast").code == 0
    spec = {"volumes": [volume_mount("fast", "/fast")]}
    r = engine.run("sh", "-c", "df -k /fast | tail -1; dd if=/dev/zero of=/fast/big bs=1k count=2048",
                   spec=spec)
    assert r.code != 0
    assert "No space left on device" in r.err
    assert r.out.split()[1] == "1024"
    # leftovers() in the fixture checks that no mount stays behind.


def test_bind_volume_option_mounts_the_device(engine, tmp_path):
    dev = tmp_path / "device"
    dev.mkdir()
    (dev / "hello").write_text("from device\n")
    assert vol(engine.root, "create", "-o", "type=none", "-o", "o=bind", "-o",
               f"device={dev}", "dev").code == 0
    r = engine.run("sh", "-c", "cat /d/hello; echo back > /d/written",
                   spec={"volumes": [volume_mount("dev", "/d")]})
    assert r.code == 0, r
    assert r.out == "from device\n"
    assert (dev / "written").read_text() == "back\n"
    assert vol(engine.root, "rm", "dev").code == 0
    assert (dev / "hello").exists()


# --- volumes_from ---

def test_volumes_from_mounts_another_containers_volumes_read_only_with_ro(engine):
    a = engine.start("sh", "-c", "echo shared > /data/f; echo ready; while :; do sleep 0.05; done",
                     spec={"volumes": [volume_mount("shared", "/data")], "stop_grace_period": 0.2},
                     cid="source-ctr")
    try:
        assert a.proc.stdout.readline().strip() == "ready"
        r = engine.run("sh", "-c", "cat /data/f; echo x > /data/g",
                       spec={"volumes_from": ["source-ctr:ro"]})
        assert r.out == "shared\n"
        assert r.code != 0
        assert "Read-only file system" in r.err
        r = engine.run("sh", "-c", "echo y > /data/g", spec={"volumes_from": ["container:source-ctr"]})
        assert r.code == 0, r
        r = engine.run("true", spec={"volumes_from": ["nobody"]})
        assert r.code == 1
        assert "volumes_from: no such container: nobody" in r.err
    finally:
        a.proc.terminate()
        a.wait()
    assert (engine.root / "volumes/shared/_data/g").read_text() == "y\n"
