"""A running container from outside: exec with and without a tty, pause and unpause,
stats, kill, tty for PID 1, and init as PID 1."""
import json
import os
import signal
import subprocess
import time

import pytest

from engine_helpers import cgroup_dir, cgroup_v2, engine, needs_busybox, needs_root  # noqa: F401

pytestmark = [needs_root, needs_busybox]


def started(engine, *cmd, spec=None):
    c = engine.start(*cmd, spec=spec)
    line = c.proc.stdout.readline()
    assert line.strip() == "ready", line
    return c


def finish(c):
    c.proc.send_signal(signal.SIGTERM)
    return c.wait(timeout=30)


LOOP = ("sh", "-c", "echo ready; while :; do sleep 0.05; done")


def test_exec_runs_inside_the_containers_namespaces_with_its_privileges(engine):
    c = started(engine, *LOOP, spec={"hostname": "box", "environment": ["A=1"],
                                    "stop_grace_period": 0.2})
    try:
        pid = c.pid()
        r = engine.ctl("exec", c, "--", "sh", "-c",
                       "hostname; echo A=$A; cat /proc/1/cmdline | tr '\\0' ' '; echo;"
                       "grep -E '^(CapEff|Seccomp):' /proc/self/status; ls /proc/self/fd | wc -l;"
                       "readlink /proc/self/ns/net; readlink /proc/self/ns/mnt")
        assert r.code == 0, r
        lines = r.out.splitlines()
        assert lines[0] == "box"
        assert lines[1] == "A=1"
        assert lines[2].startswith("sh -c echo ready")
        assert "CapEff:\t00000000a80425fb" in lines
        assert "Seccomp:\t2" in lines
        assert int(lines[5]) == 4  # 0, 1, 2 and ls's own directory fd
        assert lines[6] == os.readlink(f"/proc/{pid}/ns/net")
        assert lines[7] == os.readlink(f"/proc/{pid}/ns/mnt")
    finally:
        finish(c)


def test_exec_joins_the_containers_cgroup_and_returns_its_exit_code(engine):
    c = started(engine, *LOOP, spec={"stop_grace_period": 0.2})
    try:
        r = engine.ctl("exec", c, "--", "sh", "-c",
                       "cat /proc/self/cgroup | grep -c ':/$' >/dev/null; exit 9")
        assert r.code == 9, r
        r = engine.ctl("exec", c, "--", "sh", "-c", "sleep 0.2 & cat /proc/$!/cgroup")
        assert r.code == 0, r
        assert all(line.endswith(":/") for line in r.out.splitlines())
    finally:
        finish(c)


def test_exec_as_another_user(engine):
    c = started(engine, *LOOP, spec={"stop_grace_period": 0.2})
    try:
        r = engine.ctl("exec", c, "--user", "app", "--", "sh", "-c", "id -u; echo $HOME")
        assert r.code == 0, r
        assert r.out.split() == ["1000", "/home/app"]
    finally:
        finish(c)


def test_exec_of_missing_program_is_a_clear_error(engine):
    c = started(engine, *LOOP, spec={"stop_grace_period": 0.2})
    try:
        r = engine.ctl("exec", c, "--", "/nope")
        assert r.code != 0
        assert 'exec "/nope": no such file in rootfs' in r.err
    finally:
        finish(c)


def test_exec_with_a_tty(engine):
    c = started(engine, *LOOP, spec={"stop_grace_period": 0.2})
    try:
        r = engine.ctl("exec", c, "--tty", "--", "sh", "-c", "tty; echo TERM=$TERM")
        assert r.code == 0, r
        assert r.out.replace("\r", "").splitlines() == ["/dev/pts/0", "TERM=xterm"]
    finally:
        finish(c)


def counter_value(path):
    try:
        return int(path.read_text() or "0")
    except FileNotFoundError:
        return 0


def until_counter_passes(path, value, timeout=30):
    """Polls until the container's counter is above value; returns the time it took."""
    start = time.monotonic()
    while counter_value(path) <= value:
        assert time.monotonic() - start < timeout, f"counter stuck at {counter_value(path)}"
        time.sleep(0.01)
    return time.monotonic() - start


def frozen_in_kernel(container_id):
    if cgroup_v2():
        events = (cgroup_dir("", container_id) / "cgroup.events").read_text().split("\n")
        return "frozen 1" in events
    return (cgroup_dir("freezer", container_id) / "freezer.state").read_text().strip() == "FROZEN"


def test_pause_freezes_and_unpause_resumes(engine, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    n = shared / "n"
    c = started(engine, "sh", "-c", "i=0; echo ready; while :; do i=$((i+1)); echo $i > /s/n;"
                "sleep 0.02; done",
                spec={"mounts": [{"type": "bind", "source": str(shared), "target": "/s"}],
                      "stop_grace_period": 0.2})
    try:
        # How long five steps of the loop take on this machine now: the window in which a
        # paused loop would have moved, rather than a fixed sleep.
        until_counter_passes(n, 0)
        window = until_counter_passes(n, counter_value(n) + 4)
        assert engine.ctl("pause", c).code == 0
        assert frozen_in_kernel(c.id)
        frozen = counter_value(n)
        deadline = time.monotonic() + 3 * window
        while time.monotonic() < deadline:
            assert counter_value(n) == frozen
            time.sleep(window / 10)
        assert frozen_in_kernel(c.id)
        assert engine.ctl("unpause", c).code == 0
        assert not frozen_in_kernel(c.id)
        until_counter_passes(n, frozen)
    finally:
        code, _, err = finish(c)
    assert code == 137, err


def test_stats_report_cpu_memory_and_pids(engine):
    c = started(engine, *LOOP, spec={"mem_limit": "64m", "stop_grace_period": 0.2})
    try:
        r = engine.ctl("stats", c)
        assert r.code == 0, r
        st = json.loads(r.out)
        assert st["memory_limit"] == 64 << 20
        assert st["memory_usage"] > 0
        assert st["pids"] >= 1
        assert st["cpu_usage_ns"] > 0
    finally:
        finish(c)


def test_stats_count_file_pages_the_container_wrote_as_cache(engine):
    # `stack stats` shows memory without them, as Docker: inactive_file (v2) or
    # total_inactive_file (v1). Runs on cgroup v2 in tests/vm too, where the rootfs is on
    # tmpfs: its pages are shmem (anon LRU), not file cache, so it cannot run there.
    fs = subprocess.run(["stat", "-f", "-c", "%T", str(engine.tmp)], capture_output=True,
                        text=True).stdout.strip()
    if fs == "tmpfs":
        pytest.skip("the rootfs is on tmpfs: written pages are shmem, not file cache")
    c = started(engine, "sh", "-c", "head -c 8000000 /dev/urandom > /big; echo ready;"
                " while :; do sleep 0.05; done", spec={"stop_grace_period": 0.2})
    try:
        deadline = time.monotonic() + 20
        while True:
            r = engine.ctl("stats", c)
            assert r.code == 0, r
            if json.loads(r.out)["memory_cache"] > 1000000:
                break
            assert time.monotonic() < deadline, r.out
            time.sleep(0.05)
    finally:
        finish(c)


def test_kill_sends_the_signal_to_pid_1(engine):
    c = started(engine, "sh", "-c", "trap 'exit 6' USR1; echo ready; while :; do sleep 0.05; done")
    assert engine.ctl("kill", c, "--signal", "USR1").code == 0
    code, _, err = c.wait(timeout=30)
    assert code == 6, err


def test_tty_container_gets_a_pty_whose_master_the_caller_reads(engine):
    r = engine.run("sh", "-c", "tty; stat -c %G /dev/pts/0; echo TERM=$TERM", spec={"tty": True})
    assert r.code == 0, r
    assert r.out.replace("\r", "").splitlines() == ["/dev/pts/0", "tty", "TERM=xterm"]


def test_init_is_pid_1_and_reaps_orphans(engine):
    r = engine.run("sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo;"
                   "(sh -c 'sleep 0.1 &' ); sleep 0.5; ps -o stat,comm | grep -c '^Z' || true",
                   spec={"init": True})
    assert r.code == 0, r
    lines = r.out.splitlines()
    assert lines[0].startswith("/sbin/docker-init -- sh -c")
    assert lines[1] == "0"


def test_init_is_at_dockers_path_read_only_and_made_inside_the_rootfs(engine, tmp_path):
    # The image's /sbin is an absolute symlink to a path that exists on the host: it
    # must resolve inside the rootfs, so the mount point is made there, not on the host.
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(str(outside), engine.rootfs / "sbin")
    r = engine.run("sh", "-c", "ls -lL /sbin/docker-init | cut -c1-4; "
                   "grep docker-init /proc/self/mountinfo | cut -d' ' -f6 | cut -d, -f1;"
                   "echo x > /sbin/docker-init; echo rc=$?; test -e /dev/init; echo dev_init=$?",
                   spec={"init": True})
    assert r.code == 0, r
    mode, opts, rc, dev_init = r.out.splitlines()
    assert mode == "-rwx", r
    assert opts == "ro", r
    assert rc != "rc=0", r
    assert dev_init == "dev_init=1", r
    assert list(outside.iterdir()) == []
    assert (engine.rootfs / str(outside).lstrip("/") / "docker-init").exists()


def test_init_forwards_the_stop_signal_to_the_command(engine):
    # sleep as PID 1 would ignore TERM; under init it is an ordinary process and dies.
    c = engine.start("sleep", "1000", spec={"init": True, "stop_grace_period": 30})
    pid = c.pid()
    c.wait_exec(pid, b"/sbin/docker-init")
    # init blocks every signal before it forks the command: once the command exists, a
    # TERM cannot fall into the moment before (slow under the VM's emulated CPU).
    deadline = time.monotonic() + 30
    while not open(f"/proc/{pid}/task/{pid}/children").read().strip():
        assert time.monotonic() < deadline, "init did not start the command"
        time.sleep(0.02)
    t0 = time.monotonic()
    c.proc.send_signal(signal.SIGTERM)
    code, _, err = c.wait(timeout=30)
    assert code == 128 + signal.SIGTERM, err
    assert time.monotonic() - t0 < 10


def test_init_exits_with_the_commands_code(engine):
    r = engine.run("sh", "-c", "exit 42", spec={"init": True})
    assert r.code == 42, r
