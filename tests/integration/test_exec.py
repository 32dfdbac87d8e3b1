"""`stack exec SERVICE CMD...` through the real CLI: a process in a service's running
container, with and without a TTY (a pty driven from here), Compose's flags, errors and
exit codes, and with the project's supervisor killed."""
import fcntl
import json
import os
import select
import signal
import struct
import subprocess
import termios
import time
from pathlib import Path

from conftest import STACK, run_stack
from engine_helpers import MKDIR_DENIED_PROFILE, needs_root
from netlib import needs_root as needs_netns
from uplib import poll_until, project  # noqa: F401 (fixture)

pytestmark = [needs_root, needs_netns]

WEB = """
services:
  web:
    image: BUSYBOX
    stop_signal: SIGKILL
    environment:
      SVCVAR: from-service
    command: ["sh", "-c", "echo made-by-pid1 > /tmp/mark; exec sleep 100000"]
"""


def up(project, text=WEB, *args):
    project.write(text)
    project.ok("up", "-d", *args)


def cap_eff(out):
    line = next(x for x in out.splitlines() if x.startswith("CapEff:"))
    return int(line.split()[1], 16)


def test_exec_runs_in_the_service_container_and_returns_the_command_exit_code(project):
    up(project)
    r = project("exec", "-T", "web", "sh", "-c", "cat /tmp/mark; echo to-err >&2; exit 3")
    assert r.code == 3, r
    assert r.out == "made-by-pid1\n"
    assert r.err == "to-err\n"


def test_exec_stdin_is_the_commands(project):
    up(project)
    r = run_stack("--root", str(project.root), "-p", project.name, "--project-directory",
                  str(project.dir), "exec", "-T", "web", "sh", "-c", "tr a-z A-Z",
                  input="piped in\n")
    assert (r.code, r.out) == (0, "PIPED IN\n"), r


def test_exec_missing_command_exits_127_and_unrunnable_one_126(project):
    up(project)
    r = project("exec", "-T", "web", "no-such-command")
    assert r.code == 127, r
    assert "no-such-command" in r.err and r.err.count("\n") == 1, r.err
    r = project("exec", "-T", "web", "/etc/passwd")
    assert r.code == 126, r
    assert "/etc/passwd" in r.err, r.err
    r = project("exec", "-T", "-w", "/no/such/dir", "web", "true")
    assert r.code == 126, r
    assert "/no/such/dir" in r.err, r.err


def test_exec_user_workdir_and_env_apply_over_the_containers(project):
    up(project)
    r = project("exec", "-T", "web", "sh", "-c", "id -u; pwd; echo $SVCVAR")
    assert r.out.splitlines() == ["0", "/", "from-service"], r
    r = project("exec", "-T", "-u", "65534", "-w", "/tmp", "-e", "SVCVAR=overridden",
                "-e", "NEW=x=y", "-e", "FROMCLI", "-e", "UNSETINCLI", "web",
                "sh", "-c", "id -u; pwd; echo $SVCVAR $NEW $FROMCLI; env | grep -c UNSETINCLI",
                env={"FROMCLI": "cli-value"})
    assert r.out.splitlines() == ["65534", "/tmp", "overridden x=y cli-value", "0"], r
    r = project("exec", "-T", "-u", "nobody", "web", "id", "-un")
    assert r.out == "nobody\n", r


def test_exec_detached_returns_at_once_and_the_command_runs_on(project):
    up(project)
    r = project("exec", "-d", "web", "sh", "-c", "sleep 0.3; echo done > /tmp/detached")
    assert (r.code, r.out) == (0, ""), r
    poll_until(lambda: project("exec", "-T", "web", "cat", "/tmp/detached").out == "done\n",
               what="the detached command to finish")


def test_exec_index_picks_the_replica_of_a_scaled_service(project):
    up(project, WEB, "--scale", "web=2")
    ids = {c["Name"]: c["ID"] for c in project.ps_json()}
    for i in (1, 2):
        r = project.ok("exec", "-T", "--index", str(i), "web", "hostname")
        assert r.out == ids[f"{project.name}-web-{i}"][:12] + "\n"
    assert project.ok("exec", "-T", "web", "hostname").out == \
        ids[f"{project.name}-web-1"][:12] + "\n"
    r = project("exec", "-T", "--index", "3", "web", "true")
    assert r.code == 1 and r.err == 'stack: service "web" is not running container #3\n', r
    r = project("exec", "-T", "--index", "zero", "web", "true")
    assert r.code == 2 and 'invalid argument "zero" for "--index"' in r.err, r


def test_exec_unknown_service_or_none_running_is_composes_error(project):
    up(project)
    r = project("exec", "-T", "nope", "true")
    assert (r.code, r.err) == (1, "stack: no such service: nope\n"), r
    r = project("exec", "-T", "web")
    assert r.code == 2 and "requires at least 2 arguments" in r.err, r
    project.ok("stop", "-t", "1", "web")
    r = project("exec", "-T", "web", "true")
    assert (r.code, r.err) == (1, 'stack: service "web" is not running\n'), r


def test_exec_privileged_gets_every_capability(project):
    up(project)
    plain = cap_eff(project.ok("exec", "-T", "web", "cat", "/proc/self/status").out)
    full = cap_eff(project.ok("exec", "-T", "--privileged", "web", "cat",
                              "/proc/self/status").out)
    cap_sys_admin = 1 << 21
    assert not plain & cap_sys_admin
    assert full & cap_sys_admin and full & plain == plain


def test_exec_works_with_the_supervisor_killed(project):
    up(project)
    [pid] = project.supervisor_pids()
    os.kill(pid, signal.SIGKILL)
    poll_until(lambda: not project.supervisor_pids(), what="the supervisor to die")
    r = project("exec", "-T", "-e", "X=1", "web", "sh", "-c", "cat /tmp/mark; echo $X; exit 5")
    assert (r.code, r.out) == (5, "made-by-pid1\n1\n"), r
    assert project.supervisor_pids() == []


def test_exec_without_tty_forwards_sigint_to_the_command(project):
    up(project)
    p = project.spawn("exec", "-T", "web", "sh", "-c",
                      "trap 'echo got-int; exit 42' INT; echo ready; "
                      "while :; do sleep 0.05; done")
    assert p.stdout.readline() == "ready\n"
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert (p.returncode, out) == (42, "got-int\n"), err


class Tty:
    """The CLI on a pty of ours: its controlling terminal, which we type into and resize."""

    def __init__(self, project, *args, rows=40, cols=100):
        self.master, slave = os.openpty()
        self.resize(rows, cols)
        self.proc = subprocess.Popen(
            [STACK, "--root", str(project.root), "-p", project.name,
             "--project-directory", str(project.dir), *args],
            stdin=slave, stdout=slave, stderr=slave, close_fds=True,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            preexec_fn=lambda: (os.setsid(), fcntl.ioctl(0, termios.TIOCSCTTY, 0)))
        os.close(slave)
        self.seen = b""

    def resize(self, rows, cols):
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def type(self, text):
        os.write(self.master, text.encode())

    def expect(self, text, timeout=30):
        deadline = time.monotonic() + timeout
        want = text.encode()
        while want not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"no {text!r} in {self.seen!r}"
            r, _, _ = select.select([self.master], [], [], left)
            if r:
                try:
                    self.seen += os.read(self.master, 4096)
                except OSError:  # EIO: every slave is closed
                    assert want in self.seen, f"no {text!r} in {self.seen!r}"
        self.seen = self.seen[self.seen.index(want) + len(want):]

    def wait(self):
        # Drain the pty so the CLI never blocks on a full terminal.
        while self.proc.poll() is None:
            r, _, _ = select.select([self.master], [], [], 0.05)
            if r:
                try:
                    os.read(self.master, 4096)
                except OSError:
                    pass
        code = self.proc.wait(timeout=30)
        os.close(self.master)
        return code


def test_exec_with_a_tty_follows_the_window_size_and_passes_ctrl_c(project):
    up(project)
    t = Tty(project, "exec", "web", "sh")
    t.type("tty; stty size\n")
    t.expect("/dev/pts/")
    t.expect("40 100")
    t.resize(50, 132)
    # The resize reaches the CLI as SIGWINCH; poll until the shell sees it.
    deadline = time.monotonic() + 30
    while True:
        t.type("stty size\n")
        try:
            t.expect("50 132", timeout=0.5)
            break
        except AssertionError:
            assert time.monotonic() < deadline, t.seen
    # Ctrl-C goes through the pty to the foreground command, not to the CLI.
    t.type("sleep 99999\n")
    poll_until(lambda: "sleep 99999" in project.ok("exec", "-T", "web", "ps", "-o", "args").out,
               what="the shell's sleep to start")
    t.type("\x03")
    t.type("echo after-$?\n")
    t.expect("after-130")
    t.type("exit 7\n")
    assert t.wait() == 7


def test_exec_without_tty_when_stdin_is_not_a_terminal(project):
    up(project)
    r = project("exec", "web", "sh", "-c", "tty; true")
    assert r.out == "not a tty\n", r


def test_exec_psql_and_redis_cli_in_the_test_images(project):
    project.registry.ensure("postgres")
    project.registry.ensure("redis")
    project.write(f"""
services:
  db:
    image: {project.registry.ref("postgres")}
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: secret
      POSTGRES_DB: app
    healthcheck:
      test: ["CMD", "pg_isready", "-U", "app", "-d", "app", "-h", "127.0.0.1"]
      interval: 2s
      retries: 60
  cache:
    image: {project.registry.ref("redis")}
    command: ["redis-server", "--protected-mode", "no"]
""")
    r = project("up", "-d", "--wait", "--wait-timeout", "120")
    assert r.code == 0, (r, project("logs").out)
    r = project("exec", "-T", "db", "psql", "-U", "app", "-d", "app", "-tAc", "select 1")
    assert (r.code, r.out) == (0, "1\n"), r
    r = project("exec", "-T", "cache", "redis-cli", "ping")
    assert (r.code, r.out) == (0, "PONG\n"), r


def container_dir(project):
    [d] = (project.root / "containers").iterdir()
    return d


def host_cgroups(pid):
    return Path(f"/proc/{pid}/cgroup").read_text()


def host_pid_of(cmdline, inner_pid):
    """The host pid of the process with that command line and that pid in its own
    namespace (the last field of NSpid)."""
    for p in os.listdir("/proc"):
        try:
            if (p.isdigit() and Path(f"/proc/{p}/cmdline").read_bytes() == cmdline and
                    f"\t{inner_pid}\n" in [ln[ln.rfind("\t"):] + "\n" for ln in
                                           Path(f"/proc/{p}/status").read_text().splitlines()
                                           if ln.startswith("NSpid:")]):
                return int(p)
        except OSError:
            pass
    return None


def test_exec_process_is_in_every_cgroup_of_the_container(project):
    # a cpuset limit gives the container a cpuset cgroup of its own, which exec joins too
    up(project, WEB + '    cpuset: "0"\n')
    pid1 = int((container_dir(project) / "engine" / "pid").read_text())
    r = project.ok("exec", "-T", "web", "sh", "-c", "sleep 4242 >/dev/null 2>&1 & echo $!")
    inner = int(r.out)
    # the backgrounded sleep (its parent, the exec'd sh, is gone) is still in them
    pid = host_pid_of(b"sleep\x004242\x00", inner)
    assert pid is not None
    assert "/stack/" in host_cgroups(pid1)
    assert host_cgroups(pid) == host_cgroups(pid1)
    top = project.ok("top", "web").out
    assert "sleep 4242" in top, top


def test_exec_gets_the_containers_caps_user_and_seccomp_filter_even_after_its_profile_changed(
        project):
    profile = project.dir / "profile.json"
    profile.write_text(json.dumps(MKDIR_DENIED_PROFILE))
    up(project, WEB + f"""    user: nobody
    working_dir: /tmp
    cap_drop: [ALL]
    cap_add: [NET_RAW]
    security_opt: ["seccomp={profile}", "no-new-privileges"]
    ulimits:
      nofile: 777
""")
    # the profile on the host now allows everything: exec keeps PID 1's filter
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW"}))
    r = project("exec", "-T", "web", "sh", "-c",
                "mkdir /tmp/x; id -un; pwd; ulimit -n; grep -E '^(CapEff|NoNewPrivs)' "
                "/proc/self/status")
    assert "mkdir: can't create directory '/tmp/x': Permission denied" in r.err, r
    lines = r.out.splitlines()
    assert lines[:3] == ["nobody", "/tmp", "777"], r
    # NET_RAW (13) is the one capability left, and nobody's exec has none effective
    assert lines[3:] == ["CapEff:\t0000000000000000", "NoNewPrivs:\t1"], r
    r = project("exec", "-T", "-u", "root", "web", "grep", "CapEff", "/proc/self/status")
    assert r.out == f"CapEff:\t{1 << 13:016x}\n", r


def test_exec_environment_is_the_containers_not_a_rebuilt_images(project):
    project.write("""
services:
  web:
    build: .
    stop_signal: SIGKILL
    command: ["sleep", "100000"]
""")
    dockerfile = project.dir / "Dockerfile"
    dockerfile.write_text(f"FROM {project.image}\nENV WHICH=first\n")
    project.ok("up", "-d")
    dockerfile.write_text(f"FROM {project.image}\nENV WHICH=second\n")
    project.ok("build")
    r = project.ok("exec", "-T", "web", "sh", "-c", "echo $WHICH")
    assert r.out == "first\n", r


def test_exec_in_a_container_without_an_exec_record_rebuilds_its_spec(project):
    # a container created by an older stack has no record, and a damaged one (a filter cut
    # short, garbage) is as none: exec still filters and drops capabilities, from the
    # applied model and the image as before, never unfiltered
    up(project)
    record = container_dir(project) / "engine" / "exec.json"
    rec = json.loads(record.read_text())
    assert rec["seccomp_insns"] > 0 and len(rec["seccomp"]) == 16 * rec["seccomp_insns"]
    rec["seccomp"] = rec["seccomp"][:-16]

    def cut_filter():
        record.write_text(json.dumps(rec))
    for damage in (cut_filter, lambda: record.write_text('{"environment": ['), record.unlink):
        damage()
        r = project.ok("exec", "-T", "web", "sh", "-c",
                       "echo $SVCVAR; grep -E '^(Seccomp|CapEff):' /proc/self/status")
        assert r.out.splitlines()[0] == "from-service" and "Seccomp:\t2" in r.out, r
        assert not cap_eff(r.out) & (1 << 21), r
    assert "CPU %" in project.ok("stats", "--no-stream").out
