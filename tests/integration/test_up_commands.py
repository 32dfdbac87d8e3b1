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


def holds_pidfd(pid):
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:[pidfd]":
                return True
        except OSError:
            pass
    return False


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


DB_WEB = """
services:
  db:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
  web:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
    depends_on: [db]
"""


def test_create_makes_containers_without_starting_them_and_start_starts_them(project):
    project.write(DB_WEB)
    r = project.ok("create")
    assert f" Container {project.name}-db-1  Created" in r.err.splitlines(), r.err
    assert "Started" not in r.err
    states = {c["Service"]: c["State"] for c in project.ps_json("-a")}
    assert states == {"db": "created", "web": "created"}
    assert project.ps_json() == []
    poll_until(lambda: not project.supervisor_pids(), what="the idle supervisor to exit")
    r = project.ok("start")
    assert f" Container {project.name}-web-1  Started" in r.err.splitlines(), r.err
    states = {c["Service"]: c["State"] for c in project.ps_json()}
    assert states == {"db": "running", "web": "running"}


def test_up_no_start_creates_only_and_leaves_running_containers_alone(project):
    project.write(DB_WEB)
    project.ok("up", "-d", "db")
    [db] = project.ps_json()
    r = project.ok("up", "--no-start")
    assert f" Container {project.name}-web-1  Created" in r.err.splitlines(), r.err
    states = {c["Service"]: (c["State"], c["ID"]) for c in project.ps_json("-a")}
    assert states["db"] == ("running", db["ID"]) and states["web"][0] == "created"
    r = project("up", "--no-start", "--wait")
    assert r.code != 0 and "--no-start is incompatible" in r.err, r


def test_wait_blocks_until_the_service_exits_and_returns_its_code(project):
    project.write("""
services:
  job:
    image: BUSYBOX
    command: ["sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.05; done; exit 3"]
  other:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
""")
    project.ok("up", "-d")
    [job] = [c for c in project.ps_json() if c["Service"] == "job"]
    w = project.spawn("wait", "job")
    # Watching once it holds the job's pidfd; still blocked (the job waits for /tmp/go).
    poll_until(lambda: holds_pidfd(w.pid), what="wait to watch the job")
    assert w.poll() is None
    open(f"/proc/{state(project, job['ID'])['pid']}/root/tmp/go", "w").close()
    out, err = w.communicate(timeout=60)
    assert w.returncode == 3, err
    assert out == f'container "{job["ID"]}" exited with status code 3\n'
    assert [c["Service"] for c in project.ps_json()] == ["other"]


def test_wait_needs_a_running_container_and_a_known_service(project):
    project.write(SLEEPER)
    project.ok("create")
    r = project("wait", "app")
    assert r.code == 1 and f'no containers for project "{project.name}"' in r.err, r
    r = project("wait", "nope")
    assert r.code == 1 and "no such service: nope" in r.err, r
    r = project("wait")
    assert r.code == 2, r


def test_wait_down_project_brings_the_project_down_after_the_first_exit(project):
    project.write(TWO_STATES.replace('["true"]', '["sh", "-c", "sleep 0.5; exit 4"]'))
    project.ok("up", "-d")
    r = project("wait", "--down-project", "done")
    assert r.code == 4, r
    assert project.ps_json("-a") == []
    assert project.leftovers() == []


def test_always_recreate_deps_recreates_the_named_services_dependencies(project):
    project.write(DB_WEB)
    project.ok("up", "-d")
    before = {c["Service"]: c["ID"] for c in project.ps_json()}
    project.ok("up", "-d", "web")
    assert {c["Service"]: c["ID"] for c in project.ps_json()} == before
    r = project.ok("up", "-d", "--always-recreate-deps", "web")
    assert f" Container {project.name}-db-1  Recreate" in r.err.splitlines(), r.err
    after = {c["Service"]: c["ID"] for c in project.ps_json()}
    assert after["web"] == before["web"] and after["db"] != before["db"]
    r = project("up", "-d", "--always-recreate-deps", "--no-recreate")
    assert r.code != 0 and "incompatible" in r.err, r


def test_attach_and_no_attach_choose_whose_output_up_shows(project):
    project.write("""
services:
  a:
    image: BUSYBOX
    command: ["echo", "from a"]
  b:
    image: BUSYBOX
    command: ["echo", "from b"]
""")
    p = project.spawn("up", "--no-color", "--no-attach", "b")
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert out == "a-1  | from a\n", out
    p = project.spawn("up", "--no-color", "--attach", "b")
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert out == "b-1  | from b\n", out


def test_up_timeout_bounds_the_stop_of_a_recreated_container(project):
    text = """
services:
  app:
    image: BUSYBOX
    stop_grace_period: 1m
    command: ["sh", "-c", "trap '' TERM; echo LABEL; while true; do sleep 0.1; done"]
"""
    project.write(text.replace("LABEL", "one"))
    project.ok("up", "-d")
    project.write(text.replace("LABEL", "two"))
    # A 1 minute grace would outlast the test's own timeout: -t 0 kills at once.
    p = project.spawn("up", "-d", "-t", "0")
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert f" Container {project.name}-app-1  Recreate" in err.splitlines(), err
    [c] = project.ps_json()
    assert c["State"] == "running"


def test_progress_json_quiet_and_plain(project):
    project.write(SLEEPER)
    r = project.ok("--progress", "json", "up", "-d")
    events = [json.loads(line) for line in r.err.splitlines()]
    assert {"id": f"Container {project.name}-app-1", "text": "Started"} in events, r.err
    r = project.ok("--progress", "quiet", "stop")
    assert r.err == "", r.err
    r = project("start", env={"COMPOSE_PROGRESS": "plain"})
    assert f" Container {project.name}-app-1  Started" in r.err.splitlines(), r
    r = project("--progress", "fancy", "ps")
    assert r.code == 2 and "invalid --progress" in r.err, r
    # A top-level flag, as Compose's: not one of ps's.
    r = project("ps", "--progress", "plain")
    assert r.code == 2 and "unknown flag: --progress" in r.err, r


def test_ansi_always_never_and_compose_ansi_choose_colour(project):
    project.write(SLEEPER.replace('["sleep", "1000"]', '["sh", "-c", "echo hi; exec sleep 1000"]'))
    project.ok("up", "-d")
    poll_until(lambda: "hi" in project.ok("logs").out, what="the output")
    assert "\033[" not in project.ok("logs").out  # not a terminal: no colour
    assert "\033[" in project.ok("--ansi", "always", "logs").out
    assert "\033[" in project("logs", env={"COMPOSE_ANSI": "always"}).out
    r = project("--ansi", "never", "logs", env={"COMPOSE_ANSI": "always"})
    assert r.code == 0 and "\033[" not in r.out, r
    r = project("--ansi", "sometimes", "logs")
    assert r.code == 2 and "invalid --ansi" in r.err, r


def test_down_rmi_all_removes_the_services_images_and_local_keeps_named_ones(project):
    project.write(SLEEPER)
    # `images` in a project lists its containers' images; the store is `image ls`.
    project.ok("up", "-d")
    assert "busybox" in project.ok("image", "ls").out
    r = project.ok("down", "--rmi", "local")
    assert "busybox" in project.ok("image", "ls").out, r.err
    project.ok("up", "-d")
    r = project.ok("down", "--rmi", "all")
    assert f" Image {project.image}  Removed" in r.err.splitlines(), r.err
    assert "busybox" not in project.ok("image", "ls").out
    r = project("down", "--rmi", "some")
    assert r.code == 2 and 'invalid --rmi "some"' in r.err, r
