"""Healthchecks and depends_on conditions through the real CLI: probes run as execs in
the container, `up --wait` returns once services are healthy and fails naming the
service and the check's last output, dependents wait for their conditions."""
import json

from engine_helpers import needs_root
from netlib import needs_root as needs_netns
from uplib import poll_until, project, ready_after  # noqa: F401 (fixture)

pytestmark = [needs_root, needs_netns]


def test_wait_returns_once_the_probe_passes(project):
    project.write(ready_after(0.3, "30s"))
    r = project.ok("up", "-d", "--wait")
    assert f" Container {project.name}-db-1  Healthy" in r.err.splitlines(), r.err
    [c] = project.ps_json()
    assert c["Health"] == "healthy"
    assert "(healthy)" in project.ok("ps").out


def test_fast_start_sees_healthy_long_before_one_interval(project):
    project.write("""
services:
  db:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sh", "-c", "sleep 0.2; touch /tmp/ready; exec sleep 1000"]
    healthcheck:
      test: ["CMD-SHELL", "test -e /tmp/ready"]
      interval: 20s
""")
    project.ok("up", "-d", "--wait")
    # Docker would wait one interval (20 s) for the first probe: the passing probe was
    # one of the schedule's, run before that.
    [c] = project.ps_json()
    started = json.loads((project.root / "containers" / c["ID"] / "state.json")
                         .read_text())["started_at"]
    h = health_record(project, "db")
    assert h["log"][-1]["exit_code"] == 0 and h["log"][-1]["trigger"] == "schedule", h
    assert h["log"][-1]["start"] - started < 20_000_000_000, h


def test_fast_start_switch_follows_the_interval(project):
    project.write("""
services:
  db:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
    labels:
      io.stack.healthcheck.fast-start: "false"
    healthcheck:
      test: ["CMD", "true"]
      interval: 1h
""")
    project.ok("up", "-d")
    [c] = project.ps_json()
    assert c["Health"] == "starting"
    r = project("up", "-d", "--wait", "--wait-timeout", "1")
    assert r.code == 1 and "timeout waiting for container" in r.err, r


def health_record(project, service):
    """The container's health as the supervisor records it in state.json: status, the
    probe counts, the last probes (start, end, exit_code, trigger)."""
    [c] = [c for c in project.ps_json("-a") if c["Service"] == service]
    state = json.loads((project.root / "containers" / c["ID"] / "state.json").read_text())
    return state["health"]


def ticks(project):
    return project.ok("logs", "--no-log-prefix", "db").out.split().count("tick")


def test_output_before_the_first_pass_asks_for_a_probe(project):
    # Ready after 4 s: the doubling schedule (probes at 0.05, 0.15, 0.35, 0.75, 1.55,
    # 3.15, then 6.35 s) has grown past it, and the interval is 30 s. The line the
    # container prints as it becomes ready is what makes the passing probe run.
    project.write("""
services:
  db:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sh", "-c", "sleep 4; touch /tmp/ready; echo ready to accept connections;
                           exec sleep 1000"]
    healthcheck:
      test: ["CMD", "test", "-e", "/tmp/ready"]
      interval: 30s
""")
    project.ok("up", "-d", "--wait")
    h = health_record(project, "db")
    assert h["status"] == "healthy"
    last = h["log"][-1]
    assert (last["exit_code"], last["trigger"]) == (0, "output"), h
    assert h["output_probes"] >= 1
    # the schedule's probes before it failed, and ran as scheduled
    assert all(p["trigger"] == "schedule" and p["exit_code"] != 0 for p in h["log"][:-1]), h


def test_output_asks_for_probes_one_at_a_time_at_most_half_the_time(project):
    # A container that writes all the time while its probe (0.1 s) keeps failing.
    project.write("""
services:
  db:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sh", "-c", "while :; do echo not ready yet; sleep 0.01; done"]
    healthcheck:
      test: ["CMD-SHELL", "sleep 0.1; exit 1"]
      interval: 1h
""")
    project.ok("up", "-d")

    def five_by_output():
        h = health_record(project, "db")
        return all(p["trigger"] == "output" for p in h["log"]) and len(h["log"]) == 5 and h
    h = poll_until(five_by_output, what="five probes in a row asked for by output")
    assert h["status"] == "starting", h  # failures count once an interval (1 h)
    ms = 1_000_000
    log = h["log"]
    for prev, p in zip(log, log[1:]):
        assert p["start"] >= prev["end"], h  # one probe at a time
        assert p["start"] - prev["start"] >= 20 * ms - 5 * ms, h
    # After three in a row: idle at least as long as the previous probe ran (5 ms: the
    # timer runs on a coarser clock).
    for prev, p in zip(log[2:], log[3:]):
        assert p["start"] - prev["end"] >= prev["end"] - prev["start"] - 5 * ms, h


def ticking(labels=""):
    """A db ready at once that prints a line every 50 ms; probes due every hour."""
    return f"""
services:
  db:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sh", "-c", "touch /tmp/ready; while :; do echo tick; sleep 0.05; done"]
    labels: {{{labels}}}
    healthcheck:
      test: ["CMD", "test", "-e", "/tmp/ready"]
      interval: 1h
"""


def test_output_after_the_first_pass_runs_no_probe(project):
    project.write(ticking())
    project.ok("up", "-d", "--wait")
    probes = health_record(project, "db")["probes"]
    n = ticks(project)
    poll_until(lambda: ticks(project) >= n + 10, what="ten more ticks")
    h = health_record(project, "db")
    assert h["status"] == "healthy"
    assert h["probes"] == probes, h


def test_fast_start_switch_turns_the_output_hint_off(project):
    project.write(ticking('io.stack.healthcheck.fast-start: "false"'))
    project.ok("up", "-d")
    poll_until(lambda: ticks(project) >= 10, what="ten ticks")
    h = health_record(project, "db")
    # Docker's schedule: nothing before the first interval, whatever the output.
    assert (h["status"], h["probes"], h["output_probes"], h["log"]) == \
        ("starting", 0, 0, []), h


def test_wait_fails_naming_the_service_and_the_last_output(project):
    project.write("""
services:
  db:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
    healthcheck:
      test: ["CMD-SHELL", "echo not ready yet; exit 1"]
      interval: 100ms
      retries: 2
""")
    r = project("up", "-d", "--wait")
    assert r.code == 1
    last = r.err.strip().splitlines()[-1]
    assert last.startswith(f"stack: container {project.name}-db-1 is unhealthy"), r
    assert "not ready yet" in last
    [c] = project.ps_json()
    assert c["Health"] == "unhealthy"


def test_depends_on_healthy_waits_for_the_probe(project):
    project.write(ready_after(0.5, "100ms", retries=50, app=True))
    r = project.ok("up", "-d")
    lines = r.err.splitlines()
    n = project.name
    assert lines.index(f" Container {n}-app-1  Started") > \
        lines.index(f" Container {n}-db-1  Started")
    app = [c for c in project.ps_json() if c["Service"] == "app"][0]
    db = [c for c in project.ps_json() if c["Service"] == "db"][0]
    db_state = json.loads((project.root / "containers" / db["ID"] / "state.json").read_text())
    app_state = json.loads((project.root / "containers" / app["ID"] / "state.json").read_text())
    # app started only after db's probe passed, 0.5 s after db started.
    assert app_state["started_at"] - db_state["started_at"] >= 500_000_000


def test_depends_on_unhealthy_fails_the_dependent(project):
    project.write("""
services:
  db:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
    healthcheck:
      test: ["CMD", "false"]
      interval: 100ms
      retries: 1
  app:
    image: BUSYBOX
    command: ["sleep", "1000"]
    depends_on:
      db:
        condition: service_healthy
""")
    r = project("up", "-d")
    assert r.code == 1
    assert f"dependency failed to start: container {project.name}-db-1 is unhealthy" in r.err
    assert [c["Service"] for c in project.ps_json("-a")] == ["db"]


def test_depends_on_completed_successfully_runs_after_the_job(project):
    project.write("""
services:
  migrate:
    image: BUSYBOX
    command: ["sh", "-c", "sleep 0.2; exit 0"]
  app:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
    depends_on:
      migrate:
        condition: service_completed_successfully
""")
    project.ok("up", "-d")
    states = {c["Service"]: (c["State"], c["ExitCode"]) for c in project.ps_json("-a")}
    assert states == {"migrate": ("exited", 0), "app": ("running", 0)}


def test_depends_on_completed_with_failure_fails_the_dependent(project):
    project.write("""
services:
  migrate:
    image: BUSYBOX
    command: ["sh", "-c", "exit 4"]
  app:
    image: BUSYBOX
    command: ["sleep", "1000"]
    depends_on:
      migrate:
        condition: service_completed_successfully
""")
    r = project("up", "-d")
    assert r.code == 1
    assert 'service "migrate" didn\'t complete successfully: exit 4' in r.err, r


def test_optional_dependency_that_is_not_defined_is_skipped(project):
    project.write("""
services:
  app:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
""")
    project.ok("up", "-d")
    assert [c["Service"] for c in project.ps_json()] == ["app"]
