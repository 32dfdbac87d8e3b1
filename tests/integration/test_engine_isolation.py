"""What a default container can see and do: Docker's default isolation, checked from
inside the container and from the host."""
import json
import os
import signal
import stat
import subprocess

from engine_helpers import (MKDIR_DENIED_PROFILE, cgroup_dir, engine,  # noqa: F401
                            needs_busybox, needs_root)

pytestmark = [needs_root, needs_busybox]

DOCKER_DEFAULT_CAPS = "00000000a80425fb"


def test_pid_1_is_the_entrypoint_and_host_processes_are_invisible(engine):
    r = engine.run("sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; ls /proc | grep -c '^[0-9]'")
    assert r.code == 0, r
    first, count = r.out.splitlines()
    assert first.startswith("sh -c cat /proc/1/cmdline")
    # sh, cat/ls/grep of the pipeline: a handful, never the host's hundreds
    assert int(count) <= 5


def test_default_container_cannot_mount(engine):
    r = engine.run("mount", "-t", "tmpfs", "none", "/tmp")
    assert r.code != 0
    assert "not permitted" in r.err or "permission denied" in r.err.lower()


def test_cannot_write_proc_sys_or_sys(engine):
    r = engine.run("sh", "-c", "echo x > /proc/sys/kernel/domainname")
    assert r.code != 0
    assert "Read-only file system" in r.err
    r = engine.run("sh", "-c", "mkdir /sys/kernel/x")
    assert r.code != 0
    r = engine.run("sh", "-c", "echo 1 > /proc/sysrq-trigger || exit 1; true")
    assert r.code != 0


def test_masked_paths_read_nothing(engine):
    r = engine.run("sh", "-c", "cat /proc/keys /proc/timer_list | wc -c; ls -A /sys/firmware | wc -l;"
                   "ls -A /proc/acpi 2>/dev/null | wc -l")
    assert r.code == 0, r
    assert r.out.split() == ["0", "0", "0"]


def test_cannot_mknod_a_block_device(engine):
    r = engine.run("mknod", "/tmp/sda", "b", "8", "0")
    assert r.code != 0
    assert "Operation not permitted" in r.err


def test_cannot_reboot(engine):
    # The reboot syscall must fail with EPERM (busybox reports it with perror). Were it
    # allowed, the kernel would kill the PID namespace's init, the shell: no "rc=" line.
    r = engine.run("sh", "-c", "reboot -f; echo rc=$?")
    assert r.code == 0, r
    assert r.out.split() == ["rc=1"], r
    assert "reboot: (null): Operation not permitted" in r.err, r


def test_cannot_load_kernel_modules(engine):
    r = engine.run("sh", "-c", "echo garbage > /tmp/x.ko; insmod /tmp/x.ko")
    assert r.code != 0
    assert "Operation not permitted" in r.err


def test_cannot_create_user_namespaces(engine):
    r = engine.run("unshare", "-U", "true")
    assert r.code != 0
    assert "Operation not permitted" in r.err


def test_capabilities_are_dockers_default_set_and_seccomp_is_on(engine):
    r = engine.run("grep", "-E", "^(CapEff|CapBnd|Seccomp|NoNewPrivs):", "/proc/self/status")
    assert r.code == 0, r
    fields = dict(line.split(":\t") for line in r.out.splitlines())
    assert fields["CapEff"] == DOCKER_DEFAULT_CAPS
    assert fields["CapBnd"] == DOCKER_DEFAULT_CAPS
    assert fields["Seccomp"] == "2"
    assert fields["NoNewPrivs"] == "0"


def test_no_new_privileges_and_unconfined_seccomp_are_honoured(engine):
    r = engine.run("grep", "-E", "^(Seccomp|NoNewPrivs):", "/proc/self/status",
                   spec={"security_opt": ["no-new-privileges", "seccomp=unconfined"]})
    assert r.code == 0, r
    assert "NoNewPrivs:\t1" in r.out
    assert "Seccomp:\t0" in r.out


def test_cap_drop_all_and_cap_add(engine):
    r = engine.run("grep", "^CapEff:", "/proc/self/status",
                   spec={"cap_drop": ["ALL"], "cap_add": ["NET_ADMIN", "CAP_KILL"]})
    assert r.code == 0, r
    assert int(r.out.split()[1], 16) == (1 << 12) | (1 << 5)


def test_privileged_gets_every_capability_and_no_seccomp(engine):
    r = engine.run("grep", "-E", "^(CapEff|Seccomp):", "/proc/self/status",
                   spec={"privileged": True})
    assert r.code == 0, r
    caps = int(r.out.split()[1], 16)
    assert caps & (1 << 21)  # CAP_SYS_ADMIN
    assert "Seccomp:\t0" in r.out


STANDARD_DEVICES = {"null", "zero", "full", "random", "urandom", "tty"}
LIST_DEVICES = ("find /dev -path /dev/pts -prune -o \\( -type c -o -type b \\) -print |"
                " while read d; do stat -c '%n %F %t %T %a %u %g' $d; done")


def host_devices():
    """The host's device nodes a privileged container gets, as Docker lists them:
    all of /dev but directories named pts, shm, fd, mqueue, .lxc, .lxd-mounts or .udev,
    and nodes named console."""
    skip = {"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"}
    found = {}

    def walk(rel):
        with os.scandir("/dev/" + rel if rel else "/dev") as it:
            for e in it:
                sub = f"{rel}/{e.name}" if rel else e.name
                st = e.stat(follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    if e.name not in skip:
                        walk(sub)
                elif (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)) and e.name != "console":
                    found[sub] = (os.major(st.st_rdev), os.minor(st.st_rdev),
                                  stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                                  stat.S_ISBLK(st.st_mode))
    walk("")
    return found


def container_devices(out):
    found = {}
    for line in out.splitlines():
        name, *kind, major, minor, mode, uid, gid = line.split()
        found[name[len("/dev/"):]] = (int(major, 16), int(minor, 16), int(mode, 8), int(uid),
                                      int(gid), kind[0] == "block")
    return found


def test_privileged_gets_the_hosts_devices(engine):
    before = host_devices()
    r = engine.run("sh", "-c", LIST_DEVICES + "; readlink /dev/ptmx", spec={"privileged": True})
    after = host_devices()
    assert r.code == 0, r
    *lines, ptmx = r.out.splitlines()
    inside = container_devices("\n".join(lines))
    # As runc: /dev/ptmx stays the link to the container's own devpts instance.
    assert ptmx == "pts/ptmx"
    before.pop("ptmx", None)
    # Other jobs on the machine may add or remove loop devices meanwhile.
    stable = {k: v for k, v in before.items() if after.get(k) == v}
    assert len(stable) > len(STANDARD_DEVICES)
    for name, dev in stable.items():
        if name in STANDARD_DEVICES:
            assert inside[name][:2] == dev[:2], name
        else:
            assert inside.get(name) == dev, name
    assert set(inside) <= set(before) | set(after) | STANDARD_DEVICES
    assert "console" not in inside


def test_default_container_gets_only_the_standard_devices(engine):
    r = engine.run("sh", "-c", LIST_DEVICES)
    assert r.code == 0, r
    assert set(container_devices(r.out)) == STANDARD_DEVICES


def test_hostname_and_etc_files_are_as_given(engine):
    spec = {"hostname": "web1", "domainname": "example.org",
            "extra_hosts": {"db": "10.0.0.5"}, "dns": ["192.0.2.53"],
            "dns_search": ["corp.example"], "dns_opt": ["ndots:2"]}
    r = engine.run("sh", "-c", "hostname; cat /etc/hostname; cat /etc/hosts; cat /etc/resolv.conf;"
                   "echo HOSTNAME=$HOSTNAME", spec=spec)
    assert r.code == 0, r
    lines = r.out.splitlines()
    assert lines[0] == "web1" and lines[1] == "web1"
    assert "127.0.0.1\tlocalhost" in lines
    assert "10.0.0.5\tdb" in lines
    assert "nameserver 192.0.2.53" in lines
    assert "search corp.example" in lines
    assert "options ndots:2" in lines
    assert "HOSTNAME=web1" in lines


def test_dev_has_the_standard_nodes_and_private_devpts(engine):
    r = engine.run("sh", "-c", "ls /dev | sort | tr '\\n' ' '; stat -c '%a %g' /dev/pts/ptmx;"
                   "grep ' /dev/pts ' /proc/mounts")
    assert r.code == 0, r
    names = set(r.out.splitlines()[0].split())
    assert {"null", "zero", "full", "random", "urandom", "tty", "ptmx", "fd", "stdin",
            "stdout", "stderr", "pts", "shm", "mqueue"} <= names
    assert "gid=5" in r.out and "mode=620" in r.out


def test_shm_size_is_applied(engine):
    r = engine.run("sh", "-c", "df -k /dev/shm | tail -1", spec={"shm_size": "16m"})
    assert r.code == 0, r
    assert r.out.split()[1] == "16384"


def test_sysfs_cgroup_is_read_only_and_shows_own_cgroup(engine):
    r = engine.run("sh", "-c", "cat /proc/self/cgroup; touch /sys/fs/cgroup/x; echo rc=$?")
    assert r.code == 0, r
    for line in r.out.splitlines():
        if line.startswith("rc="):
            assert line != "rc=0"
        elif line:
            assert line.endswith(":/"), line


def test_user_name_resolves_uid_gid_groups_and_home(engine):
    r = engine.run("sh", "-c", "id; echo HOME=$HOME; grep CapEff /proc/self/status",
                   spec={"user": "app", "group_add": ["tty"]})
    assert r.code == 0, r
    assert "uid=1000(app) gid=1000(app)" in r.out
    assert "29(audio)" in r.out and "5(tty)" in r.out
    assert "HOME=/home/app" in r.out
    assert "CapEff:\t0000000000000000" in r.out


def test_numeric_user_and_group(engine):
    r = engine.run("id", "-u", spec={"user": "1234:29"})
    assert r.code == 0, r
    assert r.out.strip() == "1234"


def test_unknown_user_is_a_clear_error(engine):
    r = engine.run("true", spec={"user": "nosuch"})
    assert r.code != 0
    assert "unable to find user nosuch" in r.err


def test_missing_entrypoint_reports_step_and_cause(engine):
    r = engine.run("/entrypoint.sh")
    assert r.code != 0
    assert 'exec "/entrypoint.sh": no such file in rootfs' in r.err


def test_env_workdir_and_exit_code_pass_through(engine):
    r = engine.run("sh", "-c", "echo $FOO; pwd; exit 7",
                   spec={"environment": ["FOO=bar"], "working_dir": "/srv/app"})
    assert r.code == 7
    assert r.out.splitlines() == ["bar", "/srv/app"]


def test_stdin_is_forwarded(engine):
    r = engine.run("sh", "-c", "read x; echo got $x", input="hello\n")
    assert r.code == 0, r
    assert r.out.strip() == "got hello"


def test_read_only_rootfs_refuses_writes_but_tmpfs_mount_works(engine):
    r = engine.run("sh", "-c", "touch /x 2>/dev/null && echo wrote; touch /scratch/y && echo ok",
                   spec={"read_only": True,
                         "mounts": [{"type": "tmpfs", "target": "/scratch", "tmpfs_size": "1m"}]})
    assert r.code == 0, r
    assert r.out.strip() == "ok"


def test_bind_mount_read_only_and_rw(engine, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "f").write_text("hello\n")
    r = engine.run("sh", "-c", "cat /ro/f; echo x > /ro/g 2>/dev/null || echo denied; echo w > /rw/h",
                   spec={"mounts": [
                       {"type": "bind", "source": str(data), "target": "/ro", "read_only": True},
                       {"type": "bind", "source": str(data), "target": "/rw"}]})
    assert r.code == 0, r
    assert r.out.splitlines() == ["hello", "denied"]
    assert (data / "h").read_text() == "w\n"
    assert not (data / "g").exists()


def test_bind_create_host_path_creates_the_source(engine, tmp_path):
    src = tmp_path / "made" / "here"
    r = engine.run("true", spec={"mounts": [
        {"type": "bind", "source": str(src), "target": "/m", "create_host_path": True}]})
    assert r.code == 0, r
    assert src.is_dir()


def test_symlink_in_image_cannot_lead_a_mount_outside_the_rootfs(engine, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    # An image whose /evil points at a host directory, absolutely and relatively.
    os.symlink(str(outside), engine.rootfs / "evil")
    os.symlink("../../../../../../" + str(outside), engine.rootfs / "evil2")
    r = engine.run("sh", "-c", "ls -d /evil/sub /evil2/sub",
                   spec={"mounts": [{"type": "tmpfs", "target": "/evil/sub"},
                                    {"type": "tmpfs", "target": "/evil2/sub"}]})
    assert r.code == 0, r
    assert list(outside.iterdir()) == []


def test_overlay_layers_keep_lowers_untouched(engine, tmp_path):
    lower = tmp_path / "lower"
    lower.mkdir()
    (lower / "etc").mkdir()
    (lower / "etc/motd").write_text("from lower\n")
    spec = {"layers": [str(lower), str(engine.rootfs)]}
    r = engine.run("sh", "-c", "cat /etc/motd; echo new > /etc/motd; rm /bin/ls; cat /etc/motd",
                   spec=spec)
    assert r.code == 0, r
    assert r.out.splitlines() == ["from lower", "new"]
    assert (lower / "etc/motd").read_text() == "from lower\n"
    assert (engine.rootfs / "bin/ls").is_symlink()


def test_namespaced_sysctl_and_oom_score_adj(engine):
    r = engine.run("sh", "-c", "cat /proc/sys/net/ipv4/ip_forward /proc/self/oom_score_adj",
                   spec={"sysctls": {"net.ipv4.ip_forward": "1"}, "oom_score_adj": 500})
    assert r.code == 0, r
    assert r.out.split() == ["1", "500"]


def test_ulimits_default_and_explicit(engine):
    r = engine.run("sh", "-c", "ulimit -n; ulimit -Hn; ulimit -u",
                   spec={"ulimits": {"nproc": {"soft": 300, "hard": 400}}})
    assert r.code == 0, r
    soft, hard, nproc = r.out.split()
    assert soft == "1024"
    assert int(hard) >= 1024
    assert nproc == "300"


def test_loopback_is_up_in_a_private_network_namespace(engine):
    r = engine.run("sh", "-c", "ip -o link show | cut -d: -f2 | tr -d ' '; ip -o link show lo")
    assert r.code == 0, r
    assert r.out.splitlines()[0] == "lo"
    assert "UP" in r.out


def test_from_host_namespaces_cgroup_and_fds(engine):
    c = engine.start("sleep", "30", spec={"stop_grace_period": 1})
    pid = c.pid()
    try:
        c.wait_exec(pid, b"sleep")
        for ns in ("pid", "mnt", "uts", "ipc", "net", "cgroup"):
            assert os.stat(f"/proc/{pid}/ns/{ns}").st_ino != os.stat(f"/proc/self/ns/{ns}").st_ino, ns
        cgroups = open(f"/proc/{pid}/cgroup").read()
        for line in cgroups.splitlines():
            _, ctrl, path = line.split(":", 2)
            if ctrl in ("memory", "pids", "freezer", "cpu", "") and path != "/":
                assert path.endswith(f"/{c.id}"), line
        assert f"/{c.id}" in cgroups
        assert sorted(os.listdir(f"/proc/{pid}/fd")) == ["0", "1", "2"]
    finally:
        c.proc.send_signal(signal.SIGTERM)
        code, _, err = c.wait()
    assert code == 137, err


def test_seccomp_profile_from_a_docker_json_file(engine, tmp_path):
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps(MKDIR_DENIED_PROFILE))
    r = engine.run("sh", "-c", "mkdir /tmp/x; grep Seccomp: /proc/self/status",
                   spec={"security_opt": [f"seccomp={profile}"]})
    assert "Permission denied" in r.err, r
    assert "Seccomp:\t2" in r.out


def test_broken_seccomp_profile_fails_the_start_with_its_name(engine, tmp_path):
    profile = tmp_path / "bad.json"
    profile.write_text('{"defaultAction": "SCMP_ACT_FROB"}')
    r = engine.run("true", spec={"security_opt": [f"seccomp={profile}"]})
    assert r.code != 0
    assert "SCMP_ACT_FROB" in r.err and str(profile) in r.err


def test_rlimit_above_our_hard_limit_is_clamped_with_a_warning(engine):
    # stack runs with a hard RLIMIT_NOFILE of 2048 and without CAP_SYS_RESOURCE (dropped
    # from the bounding set, so root's exec does not get it back), so it cannot grant the
    # 8192 the spec asks: it gives the container its own hard limit and says so.
    import resource

    def lower_nofile():
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 2048))

    args, _, _ = engine._args(["sh", "-c", "ulimit -Hn; ulimit -Sn"],
                              {"ulimits": {"nofile": {"soft": 64, "hard": 8192}}}, None)
    r = subprocess.run(["setpriv", "--inh-caps=-sys_resource", "--bounding-set=-sys_resource",
                        "--", *args], capture_output=True, text=True, timeout=60,
                       env={"PATH": "/usr/bin:/bin"}, preexec_fn=lower_nofile)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["2048", "64"], r.stdout
    assert "stack: warning: ulimit 7: hard limit 8192 lowered to 2048 (no CAP_SYS_RESOURCE)" \
        in r.stderr.splitlines(), r.stderr
