"""Restart policies, recreate on change, --scale with DNS, and adoption after the
supervisor was killed, through the real CLI."""
import json
import os
import signal
import socket
import subprocess

from engine_helpers import needs_root
from netlib import dns_parse_answer, dns_query_bytes, needs_root as needs_netns
from uplib import poll_until, project, ready_after  # noqa: F401 (fixture)

pytestmark = [needs_root, needs_netns]


def state(project, cid):
    return json.loads((project.root / "containers" / cid / "state.json").read_text())


def test_restart_on_failure_stops_after_its_count(project):
    project.write("""
services:
  job:
    image: BUSYBOX
    restart: on-failure:2
    command: ["sh", "-c", "exit 5"]
""")
    project.ok("up", "-d")
    [cid] = [c["ID"] for c in project.ps_json("-a")]
    poll_until(lambda: state(project, cid)["status"] == "exited" and
               state(project, cid)["restart_count"] == 2, what="two restarts")
    poll_until(lambda: not project.supervisor_pids(), what="the supervisor to exit")
    assert state(project, cid)["restart_count"] == 2
    assert state(project, cid)["exit_code"] == 5


def test_restart_always_brings_a_crashed_container_back(project):
    project.write("""
services:
  app:
    image: BUSYBOX
    restart: always
    stop_signal: SIGKILL
    command: ["sh", "-c", "sleep 0.3; exit 1"]
""")
    project.ok("up", "-d")
    [cid] = [c["ID"] for c in project.ps_json("-a")]
    poll_until(lambda: state(project, cid)["restart_count"] >= 2, what="restarts")
    # stop is a manual stop: no restart after it.
    project.ok("stop", "-t", "0")
    count = state(project, cid)["restart_count"]
    poll_until(lambda: not project.supervisor_pids(), what="the supervisor to exit")
    assert state(project, cid)["restart_count"] == count
    assert state(project, cid)["status"] == "exited"


def test_restart_no_leaves_the_container_exited(project):
    project.write("""
services:
  app:
    image: BUSYBOX
    command: ["sh", "-c", "exit 1"]
""")
    project.ok("up", "-d")
    [cid] = [c["ID"] for c in project.ps_json("-a")]
    poll_until(lambda: not project.supervisor_pids(), what="the supervisor to exit")
    assert state(project, cid)["restart_count"] == 0


def test_up_recreates_a_changed_service_and_leaves_the_other(project):
    base = """
services:
  a:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
  b:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "%s"]
"""
    project.write(base % "1000")
    project.ok("up", "-d")
    before = {c["Service"]: c["ID"] for c in project.ps_json()}
    project.write(base % "2000")
    r = project.ok("up", "-d")
    after = {c["Service"]: c["ID"] for c in project.ps_json()}
    assert after["a"] == before["a"]
    assert after["b"] != before["b"], r.err
    assert f" Container {project.name}-b-1  Recreate" in r.err.splitlines(), r.err
    assert [c["Command"] for c in project.ps_json() if c["Service"] == "b"] == ["sleep 2000"]


def test_force_recreate_and_no_recreate(project):
    project.write("""
services:
  a:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
""")
    project.ok("up", "-d")
    [first] = [c["ID"] for c in project.ps_json()]
    project.ok("up", "-d", "--force-recreate")
    [second] = [c["ID"] for c in project.ps_json()]
    assert second != first
    project.write("""
services:
  a:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "999"]
""")
    project.ok("up", "-d", "--no-recreate")
    assert [c["ID"] for c in project.ps_json()] == [second]


def test_scale_numbers_replicas_and_all_answer_the_service_name(project):
    project.write("""
services:
  web:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
""")
    project.ok("up", "-d", "--scale", "web=3")
    names = sorted(c["Name"] for c in project.ps_json())
    assert names == [f"{project.name}-web-{i}" for i in (1, 2, 3)]
    cid = project.ps_json()[0]["ID"]
    resolv = (project.root / "containers" / cid / "resolv.conf").read_text()
    server = [line.split()[1] for line in resolv.splitlines()
              if line.startswith("nameserver")][0]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.sendto(dns_query_bytes("web"), (server, 53))
    rcode, answers = dns_parse_answer(s.recv(4096))
    assert rcode == 0 and len(answers) == 3, answers
    # Scaled down: the highest numbers go.
    project.ok("up", "-d", "--scale", "web=1")
    assert [c["Name"] for c in project.ps_json("-a")] == [f"{project.name}-web-1"]


def test_bad_scale_value_is_an_error(project):
    project.write("""
services:
  web:
    image: BUSYBOX
""")
    r = project("up", "-d", "--scale", "web=x")
    assert r.code == 1 and "invalid --scale" in r.err, r
    r = project("up", "-d", "--scale", "nope=2")
    assert r.code == 1 and "no such service: nope" in r.err, r
    assert project.leftovers() == []


def test_up_adopts_containers_of_a_killed_supervisor_without_restarting(project):
    project.write("""
services:
  db:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
""")
    project.ok("up", "-d", "--wait")
    [before] = project.ps_json()
    pid_before = state(project, before["ID"])["pid"]
    [sup] = project.supervisor_pids()
    os.kill(int(sup), signal.SIGKILL)
    poll_until(lambda: not project.supervisor_pids(), what="the supervisor to die")
    project.ok("up", "-d", "--wait")
    [after] = project.ps_json()
    assert after["ID"] == before["ID"]
    assert state(project, after["ID"])["pid"] == pid_before
    assert after["Health"] == "healthy"
    assert len(project.supervisor_pids()) == 1


def tty_keepers():
    """The pids of `stack tty-keeper ID` processes."""
    found = []
    for pid in os.listdir("/proc"):
        try:
            args = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if args[:2] == [b"stack", b"tty-keeper"]:
            found.append(int(pid))
    return found


def test_tty_output_is_logged_after_a_killed_supervisor_is_replaced(project):
    """The pty master outlives the killed supervisor (its keeper holds it), and the
    supervisor that adopts the container reads it again: what the container prints
    after the adoption reaches `logs`."""
    project.write("""
services:
  term:
    image: BUSYBOX
    tty: true
    stop_signal: SIGKILL
    command: ["sh", "-c", "echo before; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo after-adoption; exec sleep 1000"]
""")
    project.ok("up", "-d")
    poll_until(lambda: "before" in project.ok("logs", "--no-log-prefix").out, what="before")
    [c] = project.ps_json()
    pid = state(project, c["ID"])["pid"]
    assert len(tty_keepers()) >= 1
    [sup] = project.supervisor_pids()
    os.kill(int(sup), signal.SIGKILL)
    poll_until(lambda: not project.supervisor_pids(), what="the supervisor to die")
    project.ok("up", "-d")
    assert state(project, c["ID"])["pid"] == pid  # adopted, not restarted
    project.ok("exec", "-T", "term", "touch", "/tmp/go")
    out = poll_until(lambda: "after-adoption" in (o := project.ok("logs", "--no-log-prefix").out)
                     and o, what="the output printed after the adoption")
    assert out.replace("\r", "") == "before\nafter-adoption\n", out
    keeper = (project.root / "containers" / c["ID"] / "tty-keeper.json").read_text()
    project.ok("down", "-t", "0")
    # Its keeper went with the container.
    assert json.loads(keeper)["pid"] not in tty_keepers()


def test_two_ups_at_once_are_serialised_without_duplicates(project):
    project.write("""
services:
  web:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
    scale: 2
""")
    procs = [project.spawn("up", "-d") for _ in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    names = sorted(c["Name"] for c in project.ps_json("-a"))
    assert names == [f"{project.name}-web-1", f"{project.name}-web-2"]
    assert len(project.supervisor_pids()) == 1


def test_up_killed_half_way_is_completed_by_the_next_up(project):
    project.write(ready_after(1, "100ms", retries=100, app=True))
    p = project.spawn("up", "-d")
    for line in p.stderr:
        if line.strip().endswith("db-1  Started"):
            break
    p.kill()
    p.wait()
    project.ok("up", "-d")
    states = {c["Service"]: c["State"] for c in project.ps_json()}
    assert states == {"db": "running", "app": "running"}


def test_state_of_a_crashed_host_reads_exited_and_up_starts_it_again(project):
    project.write("""
services:
  app:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
""")
    project.ok("up", "-d")
    [c] = project.ps_json()
    [sup] = project.supervisor_pids()
    os.kill(int(sup), signal.SIGKILL)
    poll_until(lambda: not project.supervisor_pids(), what="the supervisor to die")
    # The container dies too, with nobody to see it: its record still says running.
    os.kill(int(state(project, c["ID"])["pid"]), signal.SIGKILL)
    poll_until(lambda: project.ps_json("-a")[0]["State"] == "exited", what="ps to see it")
    assert project.ps_json("-a")[0]["ExitCode"] == 255
    project.ok("up", "-d")
    [again] = project.ps_json()
    assert again["ID"] == c["ID"] and again["State"] == "running"


def test_orphans_are_reported_and_removed_with_remove_orphans(project):
    two = """
services:
  a:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
  old:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
"""
    project.write(two)
    project.ok("up", "-d")
    project.write(two.split("  old:")[0])
    r = project.ok("up", "-d")
    assert f"Found orphan containers ([{project.name}-old-1])" in r.err, r.err
    assert sorted(c["Service"] for c in project.ps_json()) == ["a", "old"]
    r = project.ok("up", "-d", "--remove-orphans")
    assert f" Container {project.name}-old-1  Removed" in r.err.splitlines(), r.err
    assert [c["Service"] for c in project.ps_json("-a")] == ["a"]


def test_kill_sends_the_signal_and_does_not_restart(project):
    project.write("""
services:
  app:
    image: BUSYBOX
    restart: always
    command: ["sleep", "1000"]
""")
    project.ok("up", "-d")
    r = project.ok("kill", "-s", "SIGKILL")
    assert f" Container {project.name}-app-1  Killed" in r.err.splitlines(), r.err
    [cid] = [c["ID"] for c in project.ps_json("-a")]
    poll_until(lambda: state(project, cid)["status"] == "exited", what="the exit")
    assert state(project, cid)["exit_code"] == 137
    assert state(project, cid)["restart_count"] == 0


def test_pause_and_unpause_freeze_the_service_and_down_still_works(project):
    project.write("""
services:
  app:
    image: BUSYBOX
    command: ["sleep", "1000"]
""")
    project.ok("up", "-d")
    r = project.ok("pause", "app")
    assert f" Container {project.name}-app-1  Paused" in r.err.splitlines(), r.err
    [c] = project.ps_json()
    assert c["State"] == "paused" and "(Paused)" in c["Status"]
    project.ok("unpause")
    assert project.ps_json()[0]["State"] == "running"
    project.ok("pause")
    # down of a paused container: SIGTERM waits in the frozen cgroup, SIGKILL goes through.
    project.ok("down", "-t", "1")
    assert project.leftovers() == []


def test_rm_removes_stopped_containers_and_rm_stop_the_running_ones(project):
    project.write("""
services:
  job:
    image: BUSYBOX
    command: ["true"]
  app:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
""")
    project.ok("up", "-d")
    poll_until(lambda: {c["Service"]: c["State"] for c in project.ps_json("-a")} ==
               {"job": "exited", "app": "running"}, what="the job to exit")
    # ps sees the exit once the cgroup has no live process; the supervisor once PID 1
    # is gone, which may be later (its mounts are torn down first): rm acts on the latter.
    [job] = [c for c in project.ps_json("-a") if c["Service"] == "job"]
    poll_until(lambda: state(project, job["ID"])["status"] == "exited",
               what="the supervisor to record the exit")
    r = project.ok("rm", "-f")
    assert f" Container {project.name}-job-1  Removed" in r.err.splitlines(), r.err
    assert [c["Service"] for c in project.ps_json("-a")] == ["app"]
    project.ok("rm", "-f", "-s", "app")
    assert project.ps_json("-a") == []
