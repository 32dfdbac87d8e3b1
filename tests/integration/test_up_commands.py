"""The supervisor's remaining commands and semantics, as Docker Compose v2 has them:
create/start, wait, up --no-start, ps --status/--filter, logs --index, ls --format json,
down without --remove-orphans, and stop/kill after the supervisor was killed."""
import json
import os
import signal

from engine_helpers import needs_root
from netlib import needs_root as needs_netns
from uplib import poll_until, project  # noqa: F401 (fixture)

pytestmark = [needs_root, needs_netns]

SLEEPER = """
services:
  app:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
"""


def state(project, cid):
    return json.loads((project.root / "containers" / cid / "state.json").read_text())


def kill_supervisor(project):
    [sup] = project.supervisor_pids()
    os.kill(int(sup), signal.SIGKILL)
    poll_until(lambda: not project.supervisor_pids(), what="the supervisor to die")


def test_stop_stops_containers_whose_supervisor_was_killed(project):
    project.write(SLEEPER)
    project.ok("up", "-d")
    [c] = project.ps_json()
    kill_supervisor(project)
    assert project.ps_json()[0]["State"] == "running"
    r = project.ok("stop")
    assert f" Container {project.name}-app-1  Stopped" in r.err.splitlines(), r.err
    [after] = project.ps_json("-a")
    assert after["ID"] == c["ID"] and after["State"] == "exited"
    # The adopted container's cgroup went with it, and no supervisor stays behind.
    poll_until(lambda: not any((d / c["ID"]).exists() for d in project.cgroup_dirs()),
               what="the container's cgroup to go")
    poll_until(lambda: not project.supervisor_pids(), what="the supervisor to exit")


def test_kill_reaches_containers_whose_supervisor_was_killed(project):
    project.write(SLEEPER)
    project.ok("up", "-d")
    kill_supervisor(project)
    r = project.ok("kill")
    assert f" Container {project.name}-app-1  Killed" in r.err.splitlines(), r.err
    poll_until(lambda: project.ps_json("-a")[0]["State"] == "exited", what="the exit")


def test_down_without_remove_orphans_warns_and_leaves_orphans_running(project):
    two = SLEEPER + """  old:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
"""
    project.write(two)
    project.ok("up", "-d")
    project.write(SLEEPER)
    r = project.ok("down")
    assert f"Found orphan containers ([{project.name}-old-1])" in r.err, r.err
    assert f" Container {project.name}-app-1  Removed" in r.err.splitlines(), r.err
    assert [(c["Service"], c["State"]) for c in project.ps_json("-a")] == [("old", "running")]
    r = project.ok("down", "--remove-orphans")
    assert f" Container {project.name}-old-1  Removed" in r.err.splitlines(), r.err
    assert project.leftovers() == []


TWO_STATES = """
services:
  app:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
  done:
    image: BUSYBOX
    command: ["true"]
"""


def test_ps_status_and_filter_select_containers_by_state(project):
    project.write(TWO_STATES)
    project.ok("up", "-d")
    poll_until(lambda: any(c["State"] == "exited" for c in project.ps_json("-a")),
               what="done to exit")
    assert [c["Service"] for c in project.ps_json("--status", "exited")] == ["done"]
    assert [c["Service"] for c in project.ps_json("--filter", "status=running")] == ["app"]
    both = project.ps_json("--status", "running", "--status", "exited")
    assert sorted(c["Service"] for c in both) == ["app", "done"]
    assert project.ps_json("--status", "paused") == []
    r = project("ps", "--status", "sleeping")
    assert r.code != 0 and 'invalid status "sleeping"' in r.err, r
    r = project("ps", "--filter", "name=app")
    assert r.code != 0 and 'invalid filter "name=app"' in r.err, r


def test_logs_index_shows_one_replica(project):
    project.write("""
services:
  web:
    image: BUSYBOX
    stop_signal: SIGKILL
    scale: 2
    command: ["sh", "-c", "echo hello from $$HOSTNAME; exec sleep 1000"]
""")
    project.ok("up", "-d")
    poll_until(lambda: project.ok("logs", "web").out.count("hello from") == 2,
               what="both replicas' output")
    r = project.ok("logs", "--index", "2", "--no-color", "web")
    lines = r.out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("web-2  | hello from"), r.out
    r = project.ok("logs", "--index", "1", "--no-log-prefix", "web")
    assert r.out.splitlines() == [r.out.splitlines()[0]] and r.out.startswith("hello from")
    r = project("logs", "--index", "x")
    assert r.code != 0 and 'invalid --index "x"' in r.err, r
