"""Service policies through `up`: deploy.restart_policy next to restart:, unless-stopped,
stop_grace_period, and init, through the real CLI."""
import json
import time

from engine_helpers import needs_root
from netlib import needs_root as needs_netns
from uplib import poll_until, project  # noqa: F401 (fixture)

pytestmark = [needs_root, needs_netns]


def state(project, cid):
    return json.loads((project.root / "containers" / cid / "state.json").read_text())


def only_id(project):
    [cid] = [c["ID"] for c in project.ps_json("-a")]
    return cid


def test_deploy_restart_policy_on_failure_stops_after_max_attempts(project):
    project.write("""
services:
  job:
    image: BUSYBOX
    command: ["sh", "-c", "exit 5"]
    deploy:
      restart_policy:
        condition: on-failure
        max_attempts: 2
        delay: 0s
""")
    project.ok("up", "-d")
    cid = only_id(project)
    poll_until(lambda: not project.supervisor_pids(), what="the supervisor to exit")
    assert state(project, cid)["restart_count"] == 2
    assert state(project, cid)["status"] == "exited"
    assert state(project, cid)["exit_code"] == 5


def test_deploy_restart_policy_any_restarts_a_clean_exit_up_to_max_attempts(project):
    project.write("""
services:
  job:
    image: BUSYBOX
    command: ["true"]
    deploy:
      restart_policy:
        condition: any
        max_attempts: 3
        delay: 10ms
""")
    project.ok("up", "-d")
    cid = only_id(project)
    poll_until(lambda: not project.supervisor_pids(), what="the supervisor to exit")
    assert state(project, cid)["restart_count"] == 3
    assert state(project, cid)["exit_code"] == 0


def test_deploy_restart_policy_none_overrides_restart_always(project):
    project.write("""
services:
  job:
    image: BUSYBOX
    restart: always
    command: ["sh", "-c", "exit 1"]
    deploy:
      restart_policy:
        condition: none
""")
    project.ok("up", "-d")
    cid = only_id(project)
    poll_until(lambda: not project.supervisor_pids(), what="the supervisor to exit")
    assert state(project, cid)["restart_count"] == 0


def test_deploy_restart_policy_window_counts_a_long_run_as_success(project):
    # Each run outlasts the 100 ms window, so max_attempts (1) never runs out.
    project.write("""
services:
  job:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sh", "-c", "sleep 0.3; exit 1"]
    deploy:
      restart_policy:
        condition: on-failure
        max_attempts: 1
        delay: 0s
        window: 100ms
""")
    project.ok("up", "-d")
    cid = only_id(project)
    poll_until(lambda: state(project, cid)["restart_count"] >= 3, what="three restarts")
    project.ok("stop")


def test_deploy_restart_policy_bad_condition_is_an_error_with_its_position(project):
    project.write("""
services:
  job:
    image: BUSYBOX
    deploy:
      restart_policy:
        condition: sometimes
""")
    r = project("up", "-d")
    assert r.code == 1, r
    assert "compose.yaml:7:20" in r.err and 'invalid value "sometimes"' in r.err, r.err
    assert project.leftovers() == []
    project.write("services: {}\n")  # the fixture's down reads the file


def test_unless_stopped_restarts_until_stopped_and_up_starts_it_again(project):
    project.write("""
services:
  app:
    image: BUSYBOX
    restart: unless-stopped
    stop_signal: SIGKILL
    command: ["sh", "-c", "sleep 0.2; exit 1"]
""")
    project.ok("up", "-d")
    cid = only_id(project)
    poll_until(lambda: state(project, cid)["restart_count"] >= 1, what="a restart")
    project.ok("stop")
    poll_until(lambda: not project.supervisor_pids(), what="the supervisor to exit")
    count = state(project, cid)["restart_count"]
    assert state(project, cid)["status"] == "exited"
    project.ok("up", "-d")
    poll_until(lambda: state(project, cid)["restart_count"] > count,
               what="restarts after up")
    assert only_id(project) == cid


def test_stop_grace_period_kills_a_process_that_traps_term_after_the_period(project):
    project.write("""
services:
  app:
    image: BUSYBOX
    stop_grace_period: 1s
    command: ["sh", "-c", "trap 'echo got TERM' TERM; echo up; while true; do sleep 0.05; done"]
""")
    project.ok("up", "-d")
    poll_until(lambda: "up" in project.ok("logs").out, what="the trap to be set")
    t0 = time.monotonic()
    project.ok("stop")
    elapsed = time.monotonic() - t0
    [c] = project.ps_json("-a")
    assert c["ExitCode"] == 137, c
    assert "got TERM" in project.ok("logs").out
    assert elapsed >= 0.9, elapsed  # not killed before its grace period


def test_stop_does_not_wait_the_grace_period_for_a_process_that_exits_on_term(project):
    # An hour of grace: only a stop that does not wait for it can end in time.
    project.write("""
services:
  app:
    image: BUSYBOX
    stop_grace_period: 1h
    command: ["sh", "-c", "trap 'exit 0' TERM; echo up; while true; do sleep 0.05; done"]
""")
    project.ok("up", "-d")
    poll_until(lambda: "up" in project.ok("logs").out, what="the trap to be set")
    p = project.spawn("stop")
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    [c] = project.ps_json("-a")
    assert c["State"] == "exited" and c["ExitCode"] == 0, c


def test_init_runs_docker_init_as_pid_1(project):
    project.write("""
services:
  app:
    image: BUSYBOX
    init: true
    command: ["sh", "-c", "tr '\\\\0' ' ' < /proc/1/cmdline; echo"]
""")
    project.ok("up", "-d")
    poll_until(lambda: project.ps_json("-a")[0]["State"] == "exited", what="the exit")
    out = project.ok("logs", "--no-log-prefix").out
    assert out.startswith("/sbin/docker-init -- sh -c"), out


DEP_RESTART = """
services:
  db:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "DB"]
  web:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
    depends_on:
      db:
        condition: service_started
        restart: true
  other:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
    depends_on: [db]
"""


def started(project):
    return {c["Service"]: state(project, c["ID"])["started_at"] for c in project.ps_json()}


def test_depends_on_restart_restarts_the_dependent_when_up_recreates_its_dependency(project):
    project.write(DEP_RESTART.replace("DB", "1000"))
    project.ok("up", "-d")
    ids = {c["Service"]: c["ID"] for c in project.ps_json()}
    before = started(project)
    project.write(DEP_RESTART.replace("DB", "2000"))
    r = project.ok("up", "-d")
    assert f" Container {project.name}-web-1  Restarting" in r.err.splitlines(), r.err
    after = started(project)
    now = {c["Service"]: c["ID"] for c in project.ps_json()}
    assert now["db"] != ids["db"]
    assert now["web"] == ids["web"] and after["web"] > before["web"]
    assert now["other"] == ids["other"] and after["other"] == before["other"]
    assert {c["State"] for c in project.ps_json()} == {"running"}


def test_depends_on_restart_restarts_the_dependent_with_restart_of_its_dependency(project):
    project.write(DEP_RESTART.replace("DB", "1000"))
    project.ok("up", "-d")
    before = started(project)
    r = project.ok("restart", "db")
    assert f" Container {project.name}-web-1  Started" in r.err.splitlines(), r.err
    after = started(project)
    assert after["db"] > before["db"] and after["web"] > before["web"]
    assert after["other"] == before["other"]
