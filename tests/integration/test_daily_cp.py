"""`stack cp` through the real CLI against a running project: Docker's copy rules in
both directions, owners with and without -a, -L, replicas, and symlinks in the
container that try to reach the host (they must resolve inside the container)."""
import json
import os

from engine_helpers import needs_root
from netlib import needs_root as needs_netns
from uplib import poll_until, project  # noqa: F401 (fixture)

pytestmark = [needs_root, needs_netns]


def start(project, setup="true", scale=1):
    """A service `app` that runs setup (sh) in its root, then marks itself ready."""
    project.write(f"""
services:
  app:
    image: BUSYBOX
    stop_signal: SIGKILL
    scale: {scale}
    command: ["sh", "-c", "{setup}; touch /ready; exec sleep 1000"]
""")
    project.ok("up", "-d")
    for c in project.ps_json():
        poll_until(lambda: os.path.exists(in_ctr(project, "/ready", c["Name"])),
                   what="the service's setup")


def pid_of(project, name):
    for d in (project.root / "containers").iterdir():
        if json.loads((d / "config.json").read_text())["name"] == name:
            return int((d / "engine" / "pid").read_text())
    raise AssertionError(f"no container {name}")


def in_ctr(project, path, name=None):
    """A path inside the running container, as the host sees it (for checks only)."""
    name = name or f"{project.name}-app-1"
    return f"/proc/{pid_of(project, name)}/root{path}"


def test_cp_copies_a_file_in_and_out_and_into_an_existing_directory(project, tmp_path):
    start(project)
    src = tmp_path / "hello.txt"
    src.write_text("hello\n")
    os.chmod(src, 0o640)
    project.ok("cp", str(src), "app:/tmp/copied.txt")
    assert open(in_ctr(project, "/tmp/copied.txt")).read() == "hello\n"
    assert os.stat(in_ctr(project, "/tmp/copied.txt")).st_mode & 0o777 == 0o640
    # An existing directory receives the file under its own name.
    project.ok("cp", str(src), "app:/tmp")
    assert open(in_ctr(project, "/tmp/hello.txt")).read() == "hello\n"
    out = tmp_path / "out"
    out.mkdir()
    project.ok("cp", "app:/tmp/copied.txt", str(out))
    assert (out / "copied.txt").read_text() == "hello\n"
    project.ok("cp", "app:/etc/passwd", str(out / "pw"))
    assert (out / "pw").read_text().startswith("root:")


def test_cp_directory_rules_for_trailing_dot_and_missing_destination(project, tmp_path):
    start(project, "mkdir -p /data/sub && echo a > /data/a && echo b > /data/sub/b")
    out = tmp_path / "out"
    out.mkdir()
    # The destination exists: the directory goes inside it.
    project.ok("cp", "app:/data", str(out))
    assert (out / "data" / "sub" / "b").read_text() == "b\n"
    # A trailing "/." copies the contents.
    flat = tmp_path / "flat"
    flat.mkdir()
    project.ok("cp", "app:/data/.", str(flat))
    assert sorted(os.listdir(flat)) == ["a", "sub"]
    # The destination does not exist: it is created with the contents.
    project.ok("cp", "app:/data", str(tmp_path / "new"))
    assert sorted(os.listdir(tmp_path / "new")) == ["a", "sub"]
    # A directory onto a file is refused; a file into a missing directory too.
    r = project("cp", "app:/data", str(out / "data" / "a"))
    assert r.code == 1 and "cannot copy a directory to a file" in r.err, r
    r = project("cp", "app:/data/a", str(tmp_path / "nodir") + "/")
    assert r.code == 1 and "does not exist" in r.err, r
    r = project("cp", "app:/data/a/", str(out))
    assert r.code == 1 and "not a directory" in r.err.lower(), r
    # Into the container: a host directory with its tree.
    tree = tmp_path / "tree"
    (tree / "x").mkdir(parents=True)
    (tree / "x" / "y").write_text("y")
    project.ok("cp", str(tree), "app:/tmp")
    assert open(in_ctr(project, "/tmp/tree/x/y")).read() == "y"
    # A missing directory destination is made, with the source's contents.
    project.ok("cp", str(tree), "app:/newdir/")
    assert open(in_ctr(project, "/newdir/x/y")).read() == "y"


def test_cp_archive_keeps_owners_and_without_it_the_copy_is_roots(project, tmp_path):
    start(project, "echo o > /owned && chown 1234:4321 /owned")
    out = tmp_path / "out"
    out.mkdir()
    project.ok("cp", "app:/owned", str(out / "plain"))
    st = os.stat(out / "plain")
    assert (st.st_uid, st.st_gid) == (os.geteuid(), os.getegid())
    project.ok("cp", "-a", "app:/owned", str(out / "kept"))
    st = os.stat(out / "kept")
    assert (st.st_uid, st.st_gid) == (1234, 4321)
    src = tmp_path / "mine"
    src.write_text("m")
    os.chown(src, 2000, 3000)
    project.ok("cp", str(src), "app:/in-plain")
    assert os.stat(in_ctr(project, "/in-plain")).st_uid == 0
    project.ok("cp", "--archive", str(src), "app:/in-kept")
    st = os.stat(in_ctr(project, "/in-kept"))
    assert (st.st_uid, st.st_gid) == (2000, 3000)


def test_cp_copies_a_symlink_as_a_link_and_follows_it_with_L(project, tmp_path):
    start(project, "echo t > /target && ln -s /target /link")
    project.ok("cp", "app:/link", str(tmp_path / "l"))
    assert os.readlink(tmp_path / "l") == "/target"
    project.ok("cp", "-L", "app:/link", str(tmp_path / "f"))
    assert (tmp_path / "f").read_text() == "t\n"


def test_cp_symlinks_in_the_container_cannot_read_the_host(project, tmp_path):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key").write_text("host only")
    start(project, f"ln -s {secret} /evil && ln -s ../../../../../../.. /up")
    out = tmp_path / "out"
    out.mkdir()
    for path in ("/evil/key", f"/up{secret}/key"):
        r = project("cp", f"app:{path}", str(out / "stolen"))
        assert r.code == 1, r
        assert not (out / "stolen").exists()
    # -L on a link to the host's directory still resolves inside the container.
    r = project("cp", "-L", "app:/evil", str(out / "stolen"))
    assert r.code == 1 and not (out / "stolen").exists(), r
    # /up/etc/passwd is the container's own passwd, not the host's.
    project.ok("cp", "app:/up/etc/hostname", str(out / "hostname"))
    assert (out / "hostname").read_text() == open(in_ctr(project, "/etc/hostname")).read()


def test_cp_symlinks_in_the_container_cannot_write_the_host(project, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    start(project, f"mkdir -p {victim} && ln -s {victim} /evil && ln -s {victim}/f /evilfile"
                   " && ln -s ../../../../../../.. /up")
    src = tmp_path / "f"
    src.write_text("payload")
    project.ok("cp", str(src), "app:/evil/")
    project.ok("cp", str(src), f"app:/up{victim}/g")
    project.ok("cp", str(src), "app:/evilfile")
    assert os.listdir(victim) == []
    # Each landed in the container's own tree.
    assert open(in_ctr(project, f"{victim}/f")).read() == "payload"
    assert open(in_ctr(project, f"{victim}/g")).read() == "payload"


def test_cp_to_a_service_reaches_every_replica_or_the_one_indexed(project, tmp_path):
    start(project, scale=2)
    src = tmp_path / "f"
    src.write_text("x")
    project.ok("cp", str(src), "app:/all")
    project.ok("cp", "--index", "2", str(src), "app:/second")
    one, two = f"{project.name}-app-1", f"{project.name}-app-2"
    assert os.path.exists(in_ctr(project, "/all", one))
    assert os.path.exists(in_ctr(project, "/all", two))
    assert not os.path.exists(in_ctr(project, "/second", one))
    assert os.path.exists(in_ctr(project, "/second", two))
    # A container's name works as well as its service's.
    project.ok("cp", f"{two}:/second", str(tmp_path / "back"))
    assert (tmp_path / "back").read_text() == "x"


def test_cp_bad_input_is_refused_with_a_message(project, tmp_path):
    start(project)
    r = project("cp", "nope:/etc/passwd", str(tmp_path / "x"))
    assert r.code == 1 and 'no container found for service "nope"' in r.err, r
    r = project("cp", str(tmp_path), str(tmp_path / "y"))
    assert r.code == 2 and "at least one container" in r.err, r
    r = project("cp", "app:/a", "app:/b")
    assert r.code == 2 and "between services" in r.err, r
    r = project("cp", "app:/no/such/file", str(tmp_path / "x"))
    assert r.code == 1 and "/no/such/file" in r.err, r
    r = project("cp", "--index", "3", "app:/etc/passwd", str(tmp_path / "x"))
    assert r.code == 1 and "#3" in r.err, r
    project.ok("rm", "-f", "-s", "app")
    r = project("cp", "app:/etc/passwd", str(tmp_path / "x"))
    assert r.code == 1 and "no container found" in r.err, r


def test_cp_from_and_to_a_stopped_container(project, tmp_path):
    """Its files (the image's under its own writable layer, kept while it is stopped)
    are read and written, the next start sees what was written, and symlinks in it still
    resolve inside its root; no mount or scratch directory is left."""
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key").write_text("host only")
    victim = tmp_path / "victim"
    victim.mkdir()
    start(project, f"echo written > /made && mkdir -p {victim} && "
                   f"ln -s {secret} /evil && ln -s {victim} /evilw && "
                   "ln -s ../../../../../../.. /up")
    project.ok("stop", "app")
    [row] = project.ps_json("-a")
    assert row["State"] == "exited", row
    out = tmp_path / "out"
    out.mkdir()
    project.ok("cp", "app:/made", str(out / "made"))
    assert (out / "made").read_text() == "written\n"
    project.ok("cp", "app:/etc/passwd", str(out / "pw"))
    assert (out / "pw").read_text().startswith("root:")
    for path in ("/evil/key", f"/up{secret}/key"):
        r = project("cp", f"app:{path}", str(out / "stolen"))
        assert r.code == 1, r
        assert not (out / "stolen").exists()
    src = tmp_path / "f"
    src.write_text("payload")
    project.ok("cp", str(src), "app:/tmp/in")
    project.ok("cp", str(src), "app:/evilw/")
    project.ok("cp", str(src), f"app:/up{victim}/g")
    assert os.listdir(victim) == []
    [cdir] = list((project.root / "containers").iterdir())
    assert sorted(p.name for p in cdir.iterdir() if p.name in ("cp", "engine")) == []
    # The next start has what was copied in (and what it wrote itself).
    project.ok("start", "app")
    r = project.ok("exec", "-T", "app", "cat", "/tmp/in", "/made", f"{victim}/f",
                   f"{victim}/g")
    assert r.out == "payloadwritten\npayloadpayload", r


def cp_to_stdout(project, *args):
    import subprocess
    from conftest import STACK
    return subprocess.run([STACK, "--root", str(project.root), "-p", project.name,
                           "--project-directory", str(project.dir), "cp", *args, "-"],
                          capture_output=True, timeout=60)


def test_cp_to_dash_writes_a_tar_stream_of_the_source(project, tmp_path):
    import io
    import tarfile
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key").write_text("host only")
    start(project, "mkdir -p /data/sub && echo a > /data/a && echo b > /data/sub/b"
                   f" && ln -s /data/a /data/link && chown 7:8 /data/a && ln -s {secret} /evil")
    r = cp_to_stdout(project, "app:/data")
    assert r.returncode == 0, r.stderr
    with tarfile.open(fileobj=io.BytesIO(r.stdout)) as t:
        names = sorted(t.getnames())
        assert names == ["data", "data/a", "data/link", "data/sub", "data/sub/b"]
        assert t.extractfile("data/sub/b").read() == b"b\n"
        a = t.getmember("data/a")
        assert (a.uid, a.gid) == (7, 8)
        assert t.getmember("data/link").issym()
        assert t.getmember("data/link").linkname == "/data/a"
    # A trailing "/." streams the contents; a symlink to the host's files stays inside.
    r = cp_to_stdout(project, "app:/data/.")
    with tarfile.open(fileobj=io.BytesIO(r.stdout)) as t:
        assert sorted(t.getnames()) == ["a", "link", "sub", "sub/b"]
    r = cp_to_stdout(project, "app:/evil/key")
    assert r.returncode == 1 and b"host only" not in r.stdout, r
    r = project("cp", "-", "app:/x")
    assert r.code == 1 and "not supported" in r.err, r
