"""`stack volume ls|create|inspect|rm|prune|export|import` through the real CLI:
docker volume's fields, output and exit codes, every refusal, and snapshots that keep
owners, modes, xattrs, symlinks and hardlinks."""
import io
import json
import os
import re
import subprocess
import tarfile

import pytest

from conftest import STACK, run_stack
from engine_helpers import engine, needs_busybox, needs_root  # noqa: F401

pytestmark = [needs_root]


def vol(root, *args, input=None):
    return run_stack("--root", str(root), "volume", *args, input=input)


def test_create_then_inspect_shows_dockers_fields(tmp_path):
    root = tmp_path / "root"
    r = vol(root, "create", "--label", "tier=db", "pgdata")
    assert r.code == 0, r
    assert r.out == "pgdata\n"
    r = vol(root, "inspect", "pgdata")
    assert r.code == 0, r
    [v] = json.loads(r.out)
    assert sorted(v) == ["CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options",
                         "Scope"]
    assert v["Name"] == "pgdata"
    assert v["Driver"] == "local"
    assert v["Scope"] == "local"
    assert v["Labels"] == {"tier": "db"}
    assert v["Options"] == {}
    assert v["Mountpoint"] == str(root / "volumes/pgdata/_data")
    assert os.path.isdir(v["Mountpoint"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", v["CreatedAt"])


def test_inspect_format_templates_that_scripts_use(tmp_path):
    root = tmp_path / "root"
    assert vol(root, "create", "--label", "tier=db", "pgdata").code == 0
    r = vol(root, "inspect", "-f", "{{ .Mountpoint }}|{{json .Labels}}|{{index .Labels \"tier\"}}",
            "pgdata")
    assert r.code == 0, r
    assert r.out == f"{root}/volumes/pgdata/_data|{{\"tier\":\"db\"}}|db\n"
    r = vol(root, "inspect", "--format", "{{.Colour}}", "pgdata")
    assert r.code == 1
    assert "can't evaluate \".Colour\"" in r.err


def test_create_of_an_existing_volume_returns_it_unchanged(tmp_path):
    root = tmp_path / "root"
    assert vol(root, "create", "--label", "a=1", "data").code == 0
    r = vol(root, "create", "--label", "a=2", "data")
    assert r.code == 0 and r.out == "data\n", r
    [v] = json.loads(vol(root, "inspect", "data").out)
    assert v["Labels"] == {"a": "1"}


def test_create_without_a_name_makes_an_anonymous_volume(tmp_path):
    root = tmp_path / "root"
    r = vol(root, "create")
    assert r.code == 0, r
    name = r.out.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", name)
    [v] = json.loads(vol(root, "inspect", name).out)
    assert v["Labels"] == {"com.docker.volume.anonymous": ""}


def test_ls_table_quiet_json_and_filters(tmp_path):
    root = tmp_path / "root"
    assert vol(root, "create", "--label", "com.docker.compose.project=shop", "shop_db").code == 0
    assert vol(root, "create", "--label", "com.docker.compose.project=blog", "blog_db").code == 0
    assert vol(root, "create", "cache").code == 0
    r = vol(root, "ls")
    assert r.code == 0, r
    assert r.out.splitlines() == ["DRIVER    VOLUME NAME", "local     blog_db",
                                  "local     cache", "local     shop_db"]
    assert vol(root, "ls", "-q").out.split() == ["blog_db", "cache", "shop_db"]
    r = vol(root, "ls", "-q", "--filter", "label=com.docker.compose.project")
    assert r.out.split() == ["blog_db", "shop_db"]
    r = vol(root, "ls", "-q", "--filter", "label=com.docker.compose.project=shop")
    assert r.out.split() == ["shop_db"]
    r = vol(root, "ls", "-q", "--filter", "name=db", "--filter", "label=com.docker.compose.project=blog")
    assert r.out.split() == ["blog_db"]
    lines = [json.loads(x) for x in vol(root, "ls", "--format", "json").out.splitlines()]
    assert [x["Name"] for x in lines] == ["blog_db", "cache", "shop_db"]
    assert lines[0]["Labels"] == "com.docker.compose.project=blog"
    assert lines[0]["Driver"] == "local"
    assert lines[0]["Mountpoint"] == str(root / "volumes/blog_db/_data")


def test_global_root_option_is_taken_after_the_subcommand_too(tmp_path):
    root = tmp_path / "root"
    assert run_stack("volume", "create", "--root", str(root), "late").code == 0
    r = run_stack("volume", "ls", "-q", "--root", str(root))
    assert r.out.split() == ["late"], r
    anon = vol(root, "create").out.strip()
    r = run_stack("volume", "prune", "-f", "--root", str(root))
    assert anon in r.out.split(), r
    assert vol(root, "ls", "-q").out.split() == ["late"]


def test_abbreviated_flags_are_usage_errors(tmp_path):
    r = vol(tmp_path / "root", "ls", "--form", "json")
    assert r.code == 2
    assert "unknown flag: --form" in r.err


def test_ls_with_an_unknown_filter_is_an_error(tmp_path):
    r = vol(tmp_path / "root", "ls", "--filter", "colour=red")
    assert r.code == 1
    assert "invalid filter 'colour'" in r.err


def test_inspect_of_a_missing_volume_is_an_error_after_the_found_ones(tmp_path):
    root = tmp_path / "root"
    assert vol(root, "create", "here").code == 0
    r = vol(root, "inspect", "here", "gone")
    assert r.code == 1
    assert "Error: No such volume: gone" in r.err
    assert [v["Name"] for v in json.loads(r.out)] == ["here"]


def test_rm_of_a_missing_volume_is_an_error_unless_forced(tmp_path):
    root = tmp_path / "root"
    assert vol(root, "create", "one").code == 0
    r = vol(root, "rm", "gone", "one")
    assert r.code == 1
    assert "Error: No such volume: gone" in r.err
    assert r.out == "one\n"
    assert not (root / "volumes/one").exists()
    r = vol(root, "rm", "-f", "gone")
    assert r.code == 0, r


@pytest.mark.parametrize("name", ["..", "../escape", "a/b", "/etc", ".hidden", "x"])
def test_names_that_could_escape_the_volumes_dir_are_rejected(tmp_path, name):
    root = tmp_path / "root"
    r = vol(root, "create", name)
    assert r.code == 1
    assert "includes invalid characters for a local volume name" in r.err
    assert list(tmp_path.iterdir()) in ([], [root])
    assert not (root / "volumes").exists() or [p.name for p in (root / "volumes").iterdir()] == []
    assert vol(root, "inspect", name).code == 1
    assert vol(root, "rm", name).code == 1


def test_other_drivers_and_unsupported_driver_options_are_clear_errors(tmp_path):
    root = tmp_path / "root"
    r = vol(root, "create", "-d", "rexray", "v1")
    assert r.code == 1
    assert 'volume driver "rexray" is not supported' in r.err
    r = vol(root, "create", "-o", "type=nfs", "-o", "o=addr=10.0.0.1", "v2")
    assert r.code == 1
    assert 'type="nfs" is not supported' in r.err
    r = vol(root, "create", "-o", "type=none", "-o", "o=bind", "-o", f"device={tmp_path}/missing", "v3")
    assert r.code == 1
    assert "missing" in r.err
    r = vol(root, "create", "-o", "colour=red", "v4")
    assert r.code == 1
    assert 'invalid option: "colour"' in r.err
    assert vol(root, "ls", "-q").out == ""


def test_prune_removes_unused_anonymous_volumes_and_all_with_a(tmp_path):
    root = tmp_path / "root"
    anon = vol(root, "create").out.strip()
    (root / "volumes" / anon / "_data/blob").write_bytes(b"x" * 200_000)
    assert vol(root, "create", "named").code == 0
    r = vol(root, "prune", "-f")
    assert r.code == 0, r
    assert r.out.splitlines()[:2] == ["Deleted Volumes:", anon]
    reclaimed = re.search(r"Total reclaimed space: ([\d.]+)kB", r.out)
    assert reclaimed and 200 <= float(reclaimed.group(1)) < 300, r.out
    assert vol(root, "ls", "-q").out.split() == ["named"]
    r = vol(root, "prune", "-f", "--all")
    assert "named" in r.out.split()
    assert vol(root, "ls", "-q").out == ""


def test_prune_asks_first_and_no_keeps_everything(tmp_path):
    root = tmp_path / "root"
    anon = vol(root, "create").out.strip()
    r = vol(root, "prune", input="n\n")
    assert r.code == 0
    assert "Are you sure you want to continue? [y/N]" in r.err
    assert vol(root, "ls", "-q").out.split() == [anon]


@needs_busybox
def test_a_volume_in_use_cannot_be_removed_and_the_error_names_the_container(engine):
    root = engine.root
    c = engine.start("sh", "-c", "echo ready; while :; do sleep 0.05; done",
                     spec={"volumes": [{"type": "volume", "source": "busy", "target": "/data"}],
                           "stop_grace_period": 0.2},
                     cid="holder")
    try:
        assert c.proc.stdout.readline().strip() == "ready"
        r = vol(root, "rm", "busy")
        assert r.code == 1
        assert "remove busy: volume is in use - [holder]" in r.err
        r = vol(root, "rm", "-f", "busy")
        assert r.code == 1
        r = vol(root, "prune", "-f", "-a")
        assert "busy" not in r.out
        assert vol(root, "ls", "-q").out.split() == ["busy"]
    finally:
        c.proc.terminate()
        c.wait()
    assert vol(root, "rm", "busy").code == 0


# --- snapshots ---

def fill(data):
    """Files with owners, modes, xattrs, a symlink and a hardlink."""
    (data / "sub").mkdir()
    os.chown(data / "sub", 999, 998)
    os.chmod(data / "sub", 0o750)
    (data / "sub/secret.txt").write_text("s3cret\n")
    os.chown(data / "sub/secret.txt", 1000, 1000)
    os.chmod(data / "sub/secret.txt", 0o600)
    os.setxattr(data / "sub/secret.txt", "user.origin", b"seed")
    os.setxattr(data / "sub/secret.txt", "trusted.tier", b"gold")
    os.symlink("sub/secret.txt", data / "link")
    os.link(data / "sub/secret.txt", data / "hard")
    (data / "setuid").write_text("x")
    os.chmod(data / "setuid", 0o4755)
    os.chown(data, 70, 70)
    os.chmod(data, 0o700)


def describe(data):
    out = {}
    for dirpath, dirs, files in os.walk(data):
        for name in [".", *dirs, *files] if dirpath == str(data) else [*dirs, *files]:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = os.path.normpath(os.path.relpath(p, data))
            xattrs = {} if os.path.islink(p) else {k: os.getxattr(p, k) for k in os.listxattr(p)}
            out[rel] = (st.st_uid, st.st_gid, oct(st.st_mode), xattrs,
                        os.readlink(p) if os.path.islink(p) else None)
    ino = os.lstat(data / "hard").st_ino == os.lstat(data / "sub/secret.txt").st_ino
    return out, ino


def test_export_then_import_round_trips_owners_modes_xattrs_and_links(tmp_path):
    root = tmp_path / "root"
    assert vol(root, "create", "seed").code == 0
    data = root / "volumes/seed/_data"
    fill(data)
    tar = tmp_path / "seed.tar"
    with open(tar, "wb") as f:
        p = subprocess.run([STACK, "--root", str(root), "volume", "export", "seed"], stdout=f,
                           stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr
    with tarfile.open(tar) as t:
        assert "./sub/secret.txt" in t.getnames()
    with open(tar, "rb") as f:
        p = subprocess.run([STACK, "--root", str(root), "volume", "import", "copy"], stdin=f,
                           stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr
    restored = root / "volumes/copy/_data"
    assert describe(restored) == describe(data)
    assert describe(restored)[1] is True
    assert (restored / "sub/secret.txt").read_text() == "s3cret\n"


def import_bytes(root, name, data, *flags):
    return subprocess.run([STACK, "--root", str(root), "volume", "import", *flags, name],
                          input=data, capture_output=True)


def tar_of(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, content in files:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            t.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def test_import_into_a_volume_with_content_is_refused_unless_forced(tmp_path):
    root = tmp_path / "root"
    assert import_bytes(root, "vv", tar_of([("a.txt", b"one")])).returncode == 0
    p = import_bytes(root, "vv", tar_of([("b.txt", b"two")]))
    assert p.returncode == 1
    assert b"volume is not empty (--force replaces its content)" in p.stderr
    assert sorted(os.listdir(root / "volumes/vv/_data")) == ["a.txt"]
    p = import_bytes(root, "vv", tar_of([("b.txt", b"two")]), "--force")
    assert p.returncode == 0, p.stderr
    assert sorted(os.listdir(root / "volumes/vv/_data")) == ["b.txt"]


@pytest.mark.parametrize("evil", ["../outside.txt", "/abs.txt", "sub/../../up.txt"])
def test_import_of_an_archive_that_leaves_the_volume_is_refused_and_changes_nothing(tmp_path, evil):
    root = tmp_path / "root"
    assert import_bytes(root, "vv", tar_of([("keep.txt", b"k")])).returncode == 0
    p = import_bytes(root, "vv", tar_of([("ok.txt", b"x"), (evil, b"bad")]), "-f")
    assert p.returncode == 1
    assert b"unsafe path in archive" in p.stderr
    assert sorted(os.listdir(root / "volumes/vv/_data")) == ["keep.txt"]
    assert sorted(os.listdir(root / "volumes/vv")) == ["_data", "volume.json"]
    assert not (tmp_path / "outside.txt").exists() and not (root / "volumes/up.txt").exists()


def test_a_failed_import_leaves_no_new_volume_behind(tmp_path):
    root = tmp_path / "root"
    p = import_bytes(root, "fresh", b"this is not a tar archive" * 40)
    assert p.returncode == 1
    assert b"import fresh:" in p.stderr
    assert vol(root, "ls", "-q").out == ""


def test_export_of_a_missing_volume_is_an_error(tmp_path):
    p = subprocess.run([STACK, "--root", str(tmp_path), "volume", "export", "gone"],
                       capture_output=True)
    assert p.returncode == 1
    assert b"Error: No such volume: gone" in p.stderr
