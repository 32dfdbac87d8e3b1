"""Bind mounts, tmpfs mounts, secrets and configs through `stack runtime run`: each
bind option, tmpfs size and mode, and secrets/configs with their content, owner and
mode, kept only in the container's own 0700 state directory."""
import os
import stat
import subprocess

from engine_helpers import Container, engine, needs_busybox, needs_root  # noqa: F401

pytestmark = [needs_root, needs_busybox]


def bind(source, target, **kw):
    return {"type": "bind", "source": str(source), "target": target, **kw}


def test_relative_bind_source_is_taken_from_the_project_dir(engine, tmp_path):
    proj = tmp_path / "proj"
    (proj / "src").mkdir(parents=True)
    (proj / "src/main.txt").write_text("code\n")
    r = engine.run("cat", "/app/main.txt",
                   spec={"project_dir": str(proj), "volumes": [bind("./src", "/app")]})
    assert r.code == 0, r
    assert r.out == "code\n"


def test_tilde_bind_source_is_the_home_directory(engine, tmp_path):
    home = tmp_path / "home"
    (home / "cfg").mkdir(parents=True)
    (home / "cfg/x").write_text("home\n")
    spec = {"volumes": [bind("~/cfg", "/cfg")]}
    args, cid, report = engine._args(("cat", "/cfg/x"), spec, None)
    p = subprocess.run(args, capture_output=True, text=True, timeout=60,
                       env={"PATH": "/usr/bin:/bin", "HOME": str(home)})
    assert p.returncode == 0, p.stderr
    assert p.stdout == "home\n"


def test_missing_bind_source_is_created_unless_create_host_path_is_false(engine, tmp_path):
    missing = tmp_path / "made/here"
    r = engine.run("true", spec={"volumes": [bind(missing, "/m")]})
    assert r.code == 0, r
    assert missing.is_dir()
    other = tmp_path / "never"
    r = engine.run("true", spec={"volumes": [bind(other, "/m", bind={"create_host_path": False})]})
    assert r.code == 1
    assert f"bind source path {other}: No such file or directory" in r.err
    assert not other.exists()


def test_read_only_bind_refuses_writes(engine, tmp_path):
    src = tmp_path / "ro"
    src.mkdir()
    r = engine.run("sh", "-c", "touch /ro/x", spec={"volumes": [bind(src, "/ro", read_only=True)]})
    assert r.code != 0
    assert "Read-only file system" in r.err
    assert list(src.iterdir()) == []


def test_file_bind_mounted_onto_a_file(engine, tmp_path):
    f = tmp_path / "motd"
    f.write_text("hello file\n")
    r = engine.run("cat", "/etc/passwd", spec={"volumes": [bind(f, "/etc/passwd")]})
    assert r.code == 0, r
    assert r.out == "hello file\n"


def test_bind_propagation_is_applied(engine, tmp_path):
    src = tmp_path / "shared"
    src.mkdir()
    r = engine.run("sh", "-c", "grep ' /sh ' /proc/self/mountinfo",
                   spec={"volumes": [bind(src, "/sh", bind={"propagation": "rshared"})]})
    assert r.code == 0, r
    assert "shared:" in r.out
    r = engine.run("true", spec={"volumes": [bind(src, "/sh", bind={"propagation": "sideways"})]})
    assert r.code == 1
    assert 'invalid propagation "sideways"' in r.err


def test_selinux_label_is_reported_as_ignored_without_selinux(engine, tmp_path):
    src = tmp_path / "lbl"
    src.mkdir()
    r = engine.run("true", spec={"volumes": [bind(src, "/l", bind={"selinux": "z"})]})
    assert r.code == 0, r
    assert 'selinux "z" ignored: SELinux is not enabled' in r.err


def submounts(src, target, recursive, **kw):
    return {"volumes": [bind(src, target, bind={"recursive": recursive}, **kw)]}


def test_bind_recursive_options_decide_what_happens_to_submounts(engine, tmp_path):
    src = tmp_path / "rec"
    (src / "sub").mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "stack-test-sub", str(src / "sub")],
                   check=True)
    try:
        probe = "grep -c ' /r/sub ' /proc/self/mountinfo; touch /r/sub/w && echo wrote"
        r = engine.run("sh", "-c", probe, spec=submounts(src, "/r", "enabled"))
        assert r.out.split() == ["1", "wrote"], r
        r = engine.run("sh", "-c", probe, spec=submounts(src, "/r", "disabled"))
        assert r.out.split()[0] == "0", r
        r = engine.run("sh", "-c", probe, spec=submounts(src, "/r", "readonly"))
        assert r.out.split() == ["1"], r
        assert "Read-only file system" in r.err
        r = engine.run("sh", "-c", probe, spec=submounts(src, "/r", "writable", read_only=True))
        assert r.out.split() == ["1", "wrote"], r
        r = engine.run("true", spec=submounts(src, "/r", "sideways"))
        assert r.code == 1
        assert 'recursive "sideways" is not enabled, disabled, writable or readonly' in r.err
    finally:
        subprocess.run(["umount", str(src / "sub")], check=True)


def test_tmpfs_size_is_enforced_and_mode_is_applied(engine):
    spec = {"volumes": [{"type": "tmpfs", "target": "/t", "tmpfs": {"size": "1m", "mode": "1770"}}]}
    r = engine.run("sh", "-c", "stat -c %a /t; dd if=/dev/zero of=/t/fill bs=1k count=2048", spec=spec)
    assert r.out.split()[0] == "1770"
    assert r.code != 0
    assert "No space left on device" in r.err


def test_tmpfs_with_a_bad_size_is_an_error(engine):
    r = engine.run("true", spec={"volumes": [{"type": "tmpfs", "target": "/t",
                                              "tmpfs": {"size": "lots"}}]})
    assert r.code == 1
    assert 'tmpfs /t: invalid size "lots"' in r.err


# --- secrets and configs ---

def test_secrets_and_configs_are_mounted_read_only_with_uid_gid_mode(engine, tmp_path):
    pw = tmp_path / "pw.txt"
    pw.write_text("hunter2")
    spec = {
        "project_secrets": {"db_pw": {"file": str(pw)}, "api_key": {"environment": "API_KEY"}},
        "project_configs": {"app_cfg": {"content": "debug=1\n"}},
        "secrets": ["db_pw", {"source": "api_key", "target": "key", "uid": "1000", "gid": "1000",
                              "mode": "0400"}],
        "configs": [{"source": "app_cfg", "target": "/etc/app.conf", "mode": 0o440}, "app_cfg"],
        "stop_grace_period": 0.2,
    }
    args, cid, _ = engine._args(("sh", "-c", "cat /run/secrets/db_pw; echo; cat /run/secrets/key; echo;"
                                 "cat /etc/app.conf /app_cfg;"
                                 "stat -c '%u %g %a' /run/secrets/db_pw /run/secrets/key /etc/app.conf;"
                                 "echo x > /run/secrets/db_pw || echo refused; echo ready;"
                                 "while :; do sleep 0.05; done"), spec, None)
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={"PATH": "/usr/bin:/bin", "API_KEY": "k-123"})
    c = Container(proc, cid, None)
    try:
        lines = []
        while not lines or lines[-1] != "ready":
            line = c.proc.stdout.readline()
            assert line, c.proc.stderr.read()
            lines.append(line.rstrip("\n"))
        assert lines[:7] == ["hunter2", "k-123", "debug=1", "debug=1", "0 0 444", "1000 1000 400",
                             "0 0 440"]
        assert lines[7] == "refused"
        state = engine.root / "containers" / c.id
        assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
        assert (state / "secrets/db_pw").read_text() == "hunter2"
        holders = [p for p in engine.tmp.rglob("*") if p.is_file() and not p.is_symlink()
                   and b"k-123" in p.read_bytes()]
        assert holders == [state / "secrets/api_key"]
    finally:
        c.proc.terminate()
        c.wait()


def test_a_missing_secret_file_or_unset_variable_is_an_error_naming_the_secret(engine, tmp_path):
    spec = {"project_secrets": {"db_pw": {"file": str(tmp_path / "nope.txt")}}, "secrets": ["db_pw"]}
    r = engine.run("true", spec=spec)
    assert r.code == 1
    assert 'secret "db_pw": file' in r.err and "No such file or directory" in r.err
    spec = {"project_secrets": {"tok": {"environment": "NOT_SET_ANYWHERE"}}, "secrets": ["tok"]}
    r = engine.run("true", spec=spec)
    assert r.code == 1
    assert 'secret "tok": environment variable NOT_SET_ANYWHERE is not set' in r.err
    r = engine.run("true", spec={"secrets": ["undefined"]})
    assert r.code == 1
    assert 'secret "undefined" is not defined' in r.err
