"""`stack events` through the real CLI: container events streamed from the project's
supervisor as `docker compose events` prints them (text and --json)."""
import json
import queue
import re
import threading
import time

from engine_helpers import needs_root
from netlib import needs_root as needs_netns
from uplib import poll_until, project  # noqa: F401 (fixture)

pytestmark = [needs_root, needs_netns]


class Events:
    """`stack events` in the background; its lines gathered by a thread."""

    def __init__(self, project, *args):
        self.project = project
        self.proc = project.spawn("events", *args)
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def until(self, pred, what, timeout=20):
        """Lines up to the first one pred accepts (which is included)."""
        deadline = time.monotonic() + timeout
        got = []
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no event {what}; got {got}; stderr: "
                                     f"{self.proc.stderr.read() if self.proc.poll() is not None else ''}")
            got.append(line)
            self.seen.append(line)
            if pred(line):
                return got

    def synced(self, service):
        """Subscribed: a harmless SIGCONT through the supervisor shows up as `kill`."""
        def sent():
            self.project.ok("kill", "-s", "SIGCONT", service)
            try:
                self.until(lambda line: "kill" in line, "kill", timeout=0.5)
                return True
            except AssertionError:
                return False
        poll_until(sent, what="the events stream to be subscribed")

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def actions(lines, name):
    out = []
    for line in lines:
        ev = json.loads(line)
        # The SIGCONTs that synced the stream are not part of the story.
        if ev["attributes"]["name"] == name and ev["attributes"].get("signal") != "18":
            out.append(ev["action"])
    return out


def test_events_json_reports_a_containers_life_as_compose(project):
    project.write("""
services:
  app:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
""")
    project.ok("up", "-d", "--wait")
    ev = Events(project, "--json")
    try:
        ev.synced("app")
        name = f"{project.name}-app-1"
        project.ok("stop", "app")
        got = ev.until(lambda line: '"action":"stop"' in line, "stop")
        assert actions(got, name) == ["kill", "die", "stop"]
        stop = [json.loads(line) for line in got if '"signal":"18"' not in line]
        assert stop[0]["attributes"]["signal"] == "9"
        assert stop[1]["attributes"]["exitCode"] == "137"
        e = stop[1]
        assert set(e) == {"action", "attributes", "id", "service", "time", "type"}
        assert e["type"] == "container" and e["service"] == "app"
        assert re.fullmatch(r"[0-9a-f]{64}", e["id"])
        assert e["attributes"]["image"] == project.image
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", e["time"])
        project.ok("start", "app")
        got = ev.until(lambda line: "health_status" in line, "health_status")
        assert actions(got, name) == ["start", "health_status: healthy"]
        # pause and unpause are the CLI's own doing: it tells the supervisor.
        project.ok("pause", "app")
        project.ok("unpause", "app")
        got = ev.until(lambda line: '"action":"unpause"' in line, "unpause")
        assert actions(got, name) == ["pause", "unpause"]
        project.ok("rm", "-f", "-s", "app")
        got = ev.until(lambda line: '"action":"destroy"' in line, "destroy")
        assert actions(got, name) == ["kill", "die", "stop", "destroy"]
        project.ok("up", "-d")
        got = ev.until(lambda line: '"action":"start"' in line, "start")
        assert actions(got, name) == ["create", "start"]
    finally:
        ev.stop()


def test_events_json_attributes_carry_the_containers_labels_as_compose(project):
    """Docker's attributes (the labels, name, image) less Compose's own labels, keys in
    order as Compose's JSON map prints them."""
    project.write("""
services:
  app:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
    labels:
      com.example.team: core
      zz.last: "1"
""")
    project.ok("up", "-d")
    ev = Events(project, "--json")
    try:
        ev.synced("app")
        project.ok("stop", "app")
        got = ev.until(lambda line: '"action":"stop"' in line, "stop")
        die = [line for line in got if '"action":"die"' in line][0]
        attrs = json.loads(die)["attributes"]
        assert attrs == {"com.example.team": "core", "exitCode": "137",
                         "image": project.image, "name": f"{project.name}-app-1",
                         "zz.last": "1"}, attrs
        assert list(attrs) == sorted(attrs)
        assert die.index('"com.example.team"') < die.index('"exitCode"') < \
            die.index('"image"') < die.index('"zz.last"')
    finally:
        ev.stop()


def test_events_text_lines_and_the_service_filter(project):
    project.write("""
services:
  app:
    image: BUSYBOX
    restart: always
    command: ["sh", "-c", "sleep 0.2; exit 3"]
  other:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
""")
    project.ok("up", "-d")
    ev = Events(project, "app")
    try:
        ev.until(lambda line: " container restart " in line, "restart")
        got = ev.until(lambda line: " container restart " in line, "a second restart")
        name = f"{project.name}-app-1"
        die = [line for line in got if " container die " in line][-1]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z container die [0-9a-f]{64} "
                            rf"\(name={name}, image={re.escape(project.image)}, exitCode=3\)",
                            die), die
        assert [line.split()[2] for line in got] == ["start", "die", "restart"], got
        # other's stop (kill, die, stop) comes before app's next restart, and is filtered.
        project.ok("stop", "other")
        ev.until(lambda line: " container restart " in line, "a third restart")
        assert not [line for line in ev.seen if "-other-1" in line], ev.seen
    finally:
        ev.stop()
    r = project("events", "nope")
    assert r.code == 1 and "no such service: nope" in r.err, r


def test_a_subscriber_that_does_not_read_loses_events_not_the_supervisor(project):
    """Its queue is bounded: the loop goes on serving requests, the events it could not
    take are dropped, and it hears how many once it reads again."""
    import os
    import socket
    project.write("""
services:
  app:
    image: BUSYBOX
    stop_signal: SIGKILL
    scale: 20
    command: ["sleep", "1000"]
""")
    project.ok("up", "-d")
    rundir = os.open(project.root / "run" / project.name, os.O_PATH)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    seen = {"kill": 0, "dropped": 0, "subscribed": 0, "buf": b""}

    def pump():
        """Takes what has arrived so far, without waiting."""
        while True:
            try:
                chunk = sock.recv(1 << 20, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            assert chunk, "the supervisor closed the connection"
            seen["buf"] += chunk
            *lines, seen["buf"] = seen["buf"].split(b"\n")
            for line in lines:
                e = json.loads(line)
                if e["event"] == "dropped":
                    seen["dropped"] += e["count"]
                elif e["event"] == "subscribed":
                    seen["subscribed"] += 1
                elif e.get("action") == "kill":
                    seen["kill"] += 1

    try:
        sock.connect(f"/proc/self/fd/{rundir}/control.sock")
        sock.sendall(b'{"op":"subscribe"}\n')
        poll_until(lambda: pump() or seen["subscribed"], what="the subscription")
        # 20 kill events per command, about 300 bytes each: far more than the queue's
        # 256 KiB and the socket's buffer, while this client reads nothing.
        commands = 0
        for _ in range(200):
            project.ok("kill", "-s", "SIGCONT", "app")
            commands += 1
        # Read again, with a command now and then: the count of the lost comes with the
        # first event after the queue drained.
        deadline = time.monotonic() + 60
        while not seen["dropped"]:
            pump()
            if not seen["dropped"]:
                project.ok("kill", "-s", "SIGCONT", "app")
                commands += 1
            assert time.monotonic() < deadline, seen
        # Every event was either delivered or counted as dropped (a count still held by
        # the supervisor comes with the next event: a command when nothing arrives).
        while seen["kill"] + seen["dropped"] != 20 * commands:
            before = seen["kill"] + seen["dropped"]
            time.sleep(0.05)
            pump()
            if seen["kill"] + seen["dropped"] == before:
                project.ok("kill", "-s", "SIGCONT", "app")
                commands += 1
            assert time.monotonic() < deadline, (seen, commands)
        assert 0 < seen["kill"] < 20 * commands
    finally:
        sock.close()
        os.close(rundir)


def test_events_before_up_sees_the_project_come_up_and_leaves_nothing_behind(project):
    project.write("""
services:
  app:
    image: BUSYBOX
    command: ["true"]
""")
    ev = Events(project, "--json")
    try:
        # events started the supervisor: up finds it and the stream sees everything.
        poll_until(lambda: project.supervisor_pids(), what="the supervisor events started")
        project.ok("up", "-d")
        got = ev.until(lambda line: '"action":"die"' in line, "die")
        assert actions(got, f"{project.name}-app-1") == ["create", "start", "die"]
        assert json.loads(got[-1])["attributes"]["exitCode"] == "0"
    finally:
        ev.stop()
    # Nothing runs and no client is left: the supervisor goes by itself.
    poll_until(lambda: not project.supervisor_pids(), what="the supervisor to exit")


SLEEPER = """
services:
  app:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
"""


def events_across_down(project):
    """events streaming from before a down until the supervisor it starts again runs:
    the stream and the destroy event's actions."""
    project.write(SLEEPER)
    project.ok("up", "-d")
    ev = Events(project, "--json")
    try:
        ev.synced("app")
        project.ok("down")
        got = ev.until(lambda line: '"action":"destroy"' in line, "destroy")
        # down removed the runtime directory before events started a supervisor again.
        poll_until(lambda: (project.root / "run" / project.name / "control.sock").exists(),
                   what="the supervisor events started again")
    except BaseException:
        ev.stop()
        raise
    return ev, actions(got, f"{project.name}-app-1")


def test_events_go_on_across_down_and_the_next_up(project):
    ev, seen = events_across_down(project)
    try:
        assert seen[-1] == "destroy"
        # up uses the supervisor events started: one supervisor, its socket in place.
        project.ok("up", "-d")
        got = ev.until(lambda line: '"action":"start"' in line, "start")
        assert actions(got, f"{project.name}-app-1") == ["create", "start"]
        assert len(project.supervisor_pids()) == 1
    finally:
        ev.stop()


def test_events_left_running_across_down_leaves_nothing_once_it_ends(project):
    """The supervisor events started again after down exits with its last client, and
    takes the project's lock and directory (nothing else in them) with it."""
    ev, _ = events_across_down(project)
    ev.stop()
    poll_until(lambda: not project.supervisor_pids(), what="the supervisor to exit")
    rundir = project.root / "run" / project.name
    assert not rundir.exists(), list(rundir.iterdir())
    assert not (project.root / "projects" / project.name).exists()
    # The project comes up again as ever.
    project.ok("up", "-d")
    assert [c["State"] for c in project.ps_json()] == ["running"]


def test_daily_commands_refuse_bad_flags_with_a_usage_error(project):
    project.write("""
services:
  app:
    image: BUSYBOX
    command: ["true"]
""")
    for args, msg in ((("events", "--bogus"), "unknown flag"),
                      (("cp", "--index", "0", "app:/a", "/tmp/b"), "invalid --index"),
                      (("cp", "app:/a"), "exactly 2 arguments"),
                      (("stats", "--format", "csv"), "unsupported --format"),
                      (("images", "--format", "csv"), "unsupported --format"),
                      (("top", "--bogus"), "unknown flag"),
                      (("completion",), "exactly 1 argument")):
        r = project(*args)
        assert r.code == 2 and msg in r.err, (args, r)
