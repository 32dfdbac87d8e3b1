"""`stack exec SERVICE CMD...` through the real CLI: a process in a service's running
container, with and without a TTY (a pty driven from here), Compose's flags, errors and
exit codes, and with the project's supervisor killed."""
import fcntl
import os
import select
import signal
import struct
import subprocess
import termios
import time

from conftest import STACK, run_stack
from engine_helpers import needs_root
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
