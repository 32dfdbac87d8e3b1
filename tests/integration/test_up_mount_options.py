"""Bind options, tmpfs limits, secrets and configs through `stack up`, as Docker Compose v2
mounts them: relative and ~ sources, read_only, a file onto a file, propagation,
selinux reported as ignored, bind.recursive, a tmpfs size that ends in ENOSPC, secrets
and configs with their uid, gid and mode, kept only in the container's 0700 state
directory, and the errors that stop `up` before anything is made. The same paths run
through `stack runtime run` in test_volume_binds.py; here the supervisor starts them."""
import os
import stat
import subprocess

from engine_helpers import needs_root
from netlib import needs_root as needs_netns
from uplib import project  # noqa: F401 (fixture)

pytestmark = [needs_root, needs_netns]


def sleeper(volumes, extra=""):
    return f"""
services:
  app:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
    volumes:
{volumes}
{extra}"""


def sh(project, script, code=0):
    r = project("exec", "-T", "app", "sh", "-c", script)
    assert r.code == code, r
    return r


def test_relative_and_tilde_sources_read_only_and_a_file_onto_a_file(project, tmp_path):
    home = tmp_path / "home"
    (home / "cfg").mkdir(parents=True)
    (home / "cfg" / "h").write_text("from-home\n")
    (project.dir / "src").mkdir()
    (project.dir / "src" / "r").write_text("from-project\n")
    (project.dir / "motd").write_text("a file onto a file\n")
    project.write(sleeper("""      - ./src:/src
      - ~/cfg:/cfg:ro
      - ./motd:/etc/motd
      - type: bind
        source: ./src
        target: /ro
        read_only: true"""))
    r = project("up", "-d", env={"HOME": str(home)})
    assert r.code == 0, r
    assert [c["State"] for c in project.ps_json()] == ["running"]
    assert sh(project, "cat /src/r /cfg/h /etc/motd").out == \
        "from-project\nfrom-home\na file onto a file\n"
    r = sh(project, "touch /ro/x", code=1)
    assert "Read-only file system" in r.err, r
    r = sh(project, "touch /cfg/x", code=1)
    assert "Read-only file system" in r.err, r
    sh(project, "echo written > /src/w")
    assert (project.dir / "src" / "w").read_text() == "written\n"
    assert not (project.dir / "src" / "x").exists() and not (home / "cfg" / "x").exists()


def test_propagation_selinux_and_recursive_reach_the_mounts(project, tmp_path):
    src = project.dir / "rec"
    (src / "sub").mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "stack-up-sub", str(src / "sub")],
                   check=True)
    try:
        project.write(sleeper("""      - type: bind
        source: ./rec
        target: /shared
        bind: {propagation: rshared, selinux: z}
      - type: bind
        source: ./rec
        target: /flat
        bind: {recursive: disabled}
      - type: bind
        source: ./rec
        target: /rro
        bind: {recursive: readonly}"""))
        r = project("up", "-d")
        assert r.code == 0, r
        assert 'selinux "z" ignored: SELinux is not enabled' in r.err, r
        info = sh(project, "cat /proc/self/mountinfo").out.splitlines()
        [shared] = [ln for ln in info if ln.split()[4] == "/shared"]
        assert "shared:" in shared, shared
        assert not [ln for ln in info if ln.split()[4] == "/flat/sub"]
        assert [ln for ln in info if ln.split()[4] == "/rro/sub"]
        r = sh(project, "touch /rro/sub/x", code=1)
        assert "Read-only file system" in r.err, r
        project.ok("down")
    finally:
        subprocess.run(["umount", str(src / "sub")], check=True)


def test_tmpfs_size_is_enforced_with_enospc_and_its_mode_applied(project):
    project.write(sleeper("""      - type: tmpfs
        target: /t
        tmpfs: {size: 1m, mode: 01770}"""))
    project.ok("up", "-d")
    assert sh(project, "stat -c %a /t").out == "1770\n"
    r = sh(project, "dd if=/dev/zero of=/t/fill bs=1k count=2048", code=1)
    assert "No space left on device" in r.err, r
    # the container keeps running: only the write failed
    assert [c["State"] for c in project.ps_json()] == ["running"]


def test_secrets_and_configs_with_uid_gid_mode_only_in_the_state_directory(project, tmp_path):
    (project.dir / "pw.txt").write_text("hunter2")
    project.write(sleeper("      - ./empty:/empty", """    secrets:
      - db_pw
      - source: api_key
        target: key
        uid: "1000"
        gid: "1000"
        mode: 0400
    configs:
      - source: app_cfg
        target: /etc/app.conf
        mode: 0440
      - app_cfg
secrets:
  db_pw: {file: ./pw.txt}
  api_key: {environment: API_KEY}
configs:
  app_cfg: {content: "debug=1\\n"}
"""))
    r = project("up", "-d", env={"API_KEY": "k-123"})
    assert r.code == 0, r
    assert [c["State"] for c in project.ps_json()] == ["running"]
    r = sh(project, "cat /run/secrets/db_pw; echo; cat /run/secrets/key; echo;"
                    "cat /etc/app.conf /app_cfg;"
                    "stat -c '%u %g %a' /run/secrets/db_pw /run/secrets/key /etc/app.conf")
    assert r.out.splitlines() == ["hunter2", "k-123", "debug=1", "debug=1", "0 0 444",
                                  "1000 1000 400", "0 0 440"]
    r = sh(project, "echo x > /run/secrets/db_pw", code=1)
    assert "Read-only file system" in r.err, r
    [cid] = [c["ID"] for c in project.ps_json()]
    state = project.root / "containers" / cid
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    holders = [p for p in project.root.rglob("*")
               if p.is_file() and not p.is_symlink() and b"k-123" in p.read_bytes()]
    # only in the container's own 0700 state directory
    assert holders and all(state in p.parents for p in holders), holders
    project.ok("down")
    assert not [p for p in project.root.rglob("*")
                if p.is_file() and not p.is_symlink() and b"k-123" in p.read_bytes()]


def test_a_missing_secret_file_or_variable_fails_up_naming_it_and_makes_nothing(project):
    base = """
services:
  app:
    image: BUSYBOX
    command: ["sleep", "1000"]
    secrets: [tok]
secrets:
"""
    project.write(base + "  tok: {file: ./nope.txt}\n")
    r = project("up", "-d")
    assert r.code == 1, r
    assert 'secret "tok": file' in r.err and "No such file or directory" in r.err, r
    assert project.ps_json("-a") == []
    project.write(base + "  tok: {environment: NOT_SET_ANYWHERE}\n")
    r = project("up", "-d")
    assert r.code == 1, r
    assert 'secret "tok": environment variable NOT_SET_ANYWHERE is not set' in r.err, r
    assert project.ps_json("-a") == []
    assert not (project.root / "containers").exists() or \
        list((project.root / "containers").iterdir()) == []
