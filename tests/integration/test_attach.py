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
