"""cgroup limits: memory (OOM kill reported), pids, cpu quota and shares, cpuset, and
what the container sees of its own cgroup."""
from engine_helpers import cgroup_v2, engine, needs_busybox, needs_root  # noqa: F401

pytestmark = [needs_root, needs_busybox]


def test_memory_hog_is_oom_killed_and_reported(engine):
    # dd with a 256 MiB block allocates and fills it: far over the 32 MiB limit.
    r = engine.run("dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1",
                   spec={"mem_limit": "32m", "memswap_limit": "32m"})
    assert r.code == 137, r
    assert r.report == {"exit_code": 137, "signal": 9, "oom_killed": True}


def test_within_memory_limit_is_not_oom_killed(engine):
    r = engine.run("dd", "if=/dev/zero", "of=/dev/null", "bs=1M", "count=1",
                   spec={"mem_limit": "64m"})
    assert r.code == 0, r
    assert r.report["oom_killed"] is False


def test_memory_limit_and_reservation_are_visible_in_the_cgroup(engine):
    if cgroup_v2():
        cmd = "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory.low"
    else:
        cmd = ("cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
               "/sys/fs/cgroup/memory/memory.soft_limit_in_bytes")
    r = engine.run("sh", "-c", cmd, spec={"mem_limit": "64m", "mem_reservation": "32m"})
    assert r.code == 0, r
    assert r.out.split() == [str(64 << 20), str(32 << 20)]


def test_fork_bomb_stops_at_pids_limit(engine):
    # Builtins only once the bomb has gone off: nothing else could fork any more.
    f = "/sys/fs/cgroup/pids.current" if cgroup_v2() else "/sys/fs/cgroup/pids/pids.current"
    # The inner shell dies when it cannot fork; its sleeps stay and hold the pids.
    script = ("sh -c 'i=0; while [ $i -lt 60 ]; do sleep 5 & i=$((i+1)); done';"
              f"read n < {f}; echo $n")
    r = engine.run("sh", "-c", script, spec={"pids_limit": 16})
    assert r.code == 0, r
    assert 10 <= int(r.out.split()[-1]) <= 16
    assert "can't fork" in r.err


def test_cpu_quota_period_and_shares_are_set(engine):
    if cgroup_v2():
        cmd = "cat /sys/fs/cgroup/cpu.max /sys/fs/cgroup/cpu.weight"
        expected = ["50000", "100000", "39"]
    else:
        cmd = ("cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us "
               "/sys/fs/cgroup/cpu/cpu.shares")
        expected = ["50000", "100000", "1024"]
    r = engine.run("sh", "-c", cmd, spec={"cpus": 0.5, "cpu_shares": 1024})
    assert r.code == 0, r
    assert r.out.split() == expected


def test_cpuset_is_applied(engine):
    f = "/sys/fs/cgroup/cpuset.cpus" if cgroup_v2() else "/sys/fs/cgroup/cpuset/cpuset.cpus"
    r = engine.run("sh", "-c", f"cat {f}; grep Cpus_allowed_list /proc/self/status",
                   spec={"cpuset": "0"})
    assert r.code == 0, r
    assert r.out.split()[0] == "0"
    assert r.out.split()[-1] == "0"


def test_tmpfs_size_takes_dockers_units(engine):
    r = engine.run("sh", "-c", "grep ' /scratch ' /proc/mounts",
                   spec={"mounts": [{"type": "tmpfs", "target": "/scratch",
                                     "tmpfs_size": "1.5MiB"}]})
    assert r.code == 0, r.err
    assert "size=1536k" in r.out


def test_bad_tmpfs_size_fails_naming_the_field_and_starts_nothing(engine):
    r = engine.run("true", spec={"mounts": [{"type": "tmpfs", "target": "/scratch",
                                              "tmpfs_size": "1.5 lots"}]})
    assert r.code != 0
    assert r.err.strip().splitlines()[-1].endswith(
        'tmpfs_size: invalid size "1.5 lots" (a number with an optional unit b, k, m, g, t or p)')
