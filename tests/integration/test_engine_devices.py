"""Device rules: a default container may create and use only the standard nodes (the
devices cgroup on v1, a BPF_PROG_TYPE_CGROUP_DEVICE program on v2); a privileged one
may use any. Runs on the host (v1) and in tests/vm (v2)."""
import os
import stat

from engine_helpers import engine, needs_busybox, needs_root  # noqa: F401

pytestmark = [needs_root, needs_busybox]

# A device outside the allowlist that is harmless to open: block major 1 is the RAM
# disk. Without a rule in the way opening it succeeds or fails with ENXIO (no brd
# module); only the device rules answer EPERM.
OPEN_BLOCK = "head -c 1 /ramdisk > /dev/null; echo rc=$?"


def make_ramdisk_node(engine):
    os.mknod(engine.rootfs / "ramdisk", stat.S_IFBLK | 0o666, os.makedev(1, 3))


def test_standard_devices_work(engine):
    r = engine.run("sh", "-c", "echo x > /dev/null && head -c 3 /dev/zero | wc -c &&"
                   " head -c 4 /dev/urandom | wc -c && head -c 2 /dev/random | wc -c &&"
                   " echo y > /dev/full; echo full=$?")
    assert r.code == 0, r
    assert r.out.split() == ["3", "4", "2", "full=1"], r


def test_opening_a_device_outside_the_allowlist_is_denied(engine):
    make_ramdisk_node(engine)
    r = engine.run("sh", "-c", OPEN_BLOCK)
    assert r.code == 0, r
    assert "Operation not permitted" in r.err, r
    assert "rc=1" in r.out


def test_privileged_container_may_open_any_device(engine):
    make_ramdisk_node(engine)
    r = engine.run("sh", "-c", OPEN_BLOCK, spec={"privileged": True})
    assert r.code == 0, r
    assert "Operation not permitted" not in r.err, r


def test_mknod_of_an_allowed_device_works_and_of_others_is_denied(engine):
    r = engine.run("sh", "-c", "mknod /tmp/null c 1 3 && echo x > /tmp/null && echo ok;"
                   " mknod /tmp/ram b 1 3; echo rc=$?; mknod /tmp/kmsg c 1 11; echo rc=$?")
    assert r.code == 0, r
    assert r.out.split() == ["ok", "rc=1", "rc=1"], r
    assert r.err.count("Operation not permitted") == 2, r


def test_ptys_of_the_containers_devpts_are_allowed(engine):
    r = engine.run("sh", "-c", "tty && echo hi > $(tty) && echo ok", spec={"tty": True})
    assert r.code == 0, r
    assert "/dev/pts/0" in r.out and "ok" in r.out


def test_exec_is_held_to_the_same_device_rules(engine):
    c = engine.start("sleep", "100", spec={"stop_grace_period": 0.2})
    pid = c.pid()
    c.wait_exec(pid, b"sleep")
    r = engine.ctl("exec", c, "--", "sh", "-c", "mknod /tmp/ram b 1 3; echo rc=$?; echo x > /dev/null;"
                   " echo null=$?")
    assert r.out.split() == ["rc=1", "null=0"], r
    assert "Operation not permitted" in r.err, r
    c.proc.terminate()
    c.wait()


def test_spec_devices_are_created_and_allowed_with_their_permissions(engine, tmp_path):
    host = tmp_path / "ram"
    os.mknod(host, stat.S_IFBLK | 0o640, os.makedev(1, 3))
    r = engine.run("sh", "-c", "stat -c '%F %t:%T %a' /dev/disk/ram; head -c 1 /dev/disk/ram > /dev/null;"
                   " echo x > /dev/disk/ram; echo rc=$?",
                   spec={"devices": [f"{host}:/dev/disk/ram:r"]})
    assert r.code == 0, r
    lines = r.out.splitlines()
    assert lines[0] == "block special file 1:3 640", r
    assert lines[-1] == "rc=1", r
    # Reading is allowed (the open fails only if there is no RAM disk driver); writing
    # is not.
    assert r.err.count("Operation not permitted") == 1, r


def test_bad_spec_devices_are_clear_errors(engine, tmp_path):
    for device, message in [(str(tmp_path / "none"), "No such file"),
                            ("/etc/hostname", "not a device node"),
                            ("/dev/null:/etc/null", "must be under /dev"),
                            ("/dev/null:/dev/n:rx", "invalid permissions")]:
        r = engine.run("true", spec={"devices": [device]})
        assert r.code != 0, r
        assert message in r.err and device.split(":")[0] in r.err, r
