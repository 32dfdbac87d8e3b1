"""`stack attach SERVICE` through the real CLI: the running container's output from now
on, live, its exit code at the end, and signals proxied to it (or a detach)."""
import signal

from engine_helpers import needs_root
from netlib import needs_root as needs_netns
from uplib import poll_until, project  # noqa: F401 (fixture)

pytestmark = [needs_root, needs_netns]

TICKER = """
services:
  web:
    image: BUSYBOX
    stop_signal: SIGKILL
    command:
      - sh
      - -c
      - |
        trap 'echo got-int; exit 3' INT
        echo before-attach
        while [ ! -e /tmp/go ]; do echo tick; sleep 0.05; done
        echo out-line; echo err-line >&2; exit 5
"""


def attached(project, *args):
    """attach in the background, once it is seen streaming (a tick came through). The
    container has printed its first line by then, so attach never shows it."""
    poll_until(lambda: "tick" in project.ok("logs", "web").out, what="the first tick")
    p = project.spawn("attach", *args, "web")
    assert p.stdout.readline() == "tick\n"
    return p


def test_attach_streams_live_output_and_returns_the_exit_code(project):
    project.write(TICKER)
    project.ok("up", "-d")
    p = attached(project)
    project.ok("exec", "-T", "web", "touch", "/tmp/go")
    out, err = p.communicate(timeout=60)
    assert p.returncode == 5, (out, err)
    assert out.splitlines()[-1] == "out-line" and set(out.splitlines()[:-1]) <= {"tick"}, out
    assert err == "err-line\n"


def test_attach_proxies_sigint_to_the_container(project):
    project.write(TICKER)
    project.ok("up", "-d")
    p = attached(project)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 3, (out, err)
    assert out.splitlines()[-1] == "got-int", out


def test_attach_without_sig_proxy_detaches_on_sigint(project):
    project.write(TICKER)
    project.ok("up", "-d")
    p = attached(project, "--sig-proxy=false")
    p.send_signal(signal.SIGINT)
    p.communicate(timeout=60)
    assert p.returncode == 0
    assert [c["State"] for c in project.ps_json()] == ["running"]


def test_attach_errors_are_composes(project):
    project.write(TICKER)
    r = project("attach", "nope")
    assert (r.code, r.err) == (1, "stack: no such service: nope\n"), r
    r = project("attach", "web")
    assert (r.code, r.err) == (1, 'stack: service "web" is not running\n'), r
    project.ok("up", "-d")
    r = project("attach", "--index", "2", "web")
    assert (r.code, r.err) == (1, 'stack: service "web" is not running container #2\n'), r
    r = project("attach", "--sig-proxy=maybe", "web")
    assert r.code == 2, r


READER = """
services:
  web:
    image: BUSYBOX
    stop_signal: SIGKILL
    stdin_open: true
    command: ["sh", "-c", "echo ready; while read -r l; do echo got:$$l; done"]
"""


def attach_with_stdin(project, *args):
    """attach with a pipe as its stdin."""
    import subprocess
    from conftest import STACK
    return subprocess.Popen([STACK, "--root", str(project.root), "-p", project.name,
                             "--project-directory", str(project.dir), "attach", *args, "web"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def sigint_blocked(pid):
    """attach blocks SIGINT (to read it from a signalfd) once it follows the log."""
    from pathlib import Path
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigBlk:"):
            return int(line.split()[1], 16) & (1 << (signal.SIGINT - 1))
    return False


def read_until(p, want):
    got = b""
    while want not in got:
        line = p.stdout.readline()
        assert line, (got, p.stderr.read() if p.poll() is not None else b"")
        got += line
    return got


def test_attach_sends_stdin_and_detaches_on_ctrl_p_ctrl_q(project):
    project.write(READER)
    project.ok("up", "-d")
    poll_until(lambda: "ready" in project.ok("logs", "web").out, what="the reader")
    p = attach_with_stdin(project)
    p.stdin.write(b"hello\n")
    p.stdin.flush()
    read_until(p, b"got:hello\n")
    # A ctrl-p not followed by ctrl-q is input like any other.
    p.stdin.write(b"a\x10b\n\x10\x11")
    p.stdin.flush()
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, (out, err)
    assert [c["State"] for c in project.ps_json()] == ["running"]
    poll_until(lambda: "got:a\x10b" in project.ok("logs", "web").out, what="the input")


def test_attach_detach_keys_and_no_stdin(project):
    project.write(READER)
    project.ok("up", "-d")
    poll_until(lambda: "ready" in project.ok("logs", "web").out, what="the reader")
    # --no-stdin: what it reads goes nowhere; its own detach is --sig-proxy=false's.
    quiet = attach_with_stdin(project, "--no-stdin", "--sig-proxy=false")
    quiet.stdin.write(b"lost\n")
    quiet.stdin.flush()
    poll_until(lambda: sigint_blocked(quiet.pid), what="attach to take SIGINT itself")
    p = attach_with_stdin(project, "--detach-keys", "ctrl-a,x")
    p.stdin.write(b"after\n")
    p.stdin.flush()
    got = read_until(p, b"got:after\n")
    # One FIFO, read in order: had --no-stdin passed "lost" on, it would be there.
    assert b"lost" not in got and "got:lost" not in project.ok("logs", "web").out, got
    quiet.send_signal(signal.SIGINT)
    assert quiet.wait(timeout=60) == 0
    p.stdin.write(b"\x01x")
    p.stdin.flush()
    p.communicate(timeout=60)
    assert p.returncode == 0
    assert [c["State"] for c in project.ps_json()] == ["running"]
    r = project("attach", "--detach-keys", "ctrl-", "web")
    assert r.code == 2 and "invalid detach keys (ctrl-)" in r.err, r
