"""`stack up -d`, `ps` and `down` through the real CLI: busybox services from the
loopback registry, started by the project's supervisor."""
import json
import os
import signal
import socket
import subprocess
from pathlib import Path

from engine_helpers import needs_root
from netlib import needs_root as needs_netns
from uplib import poll_until, project  # noqa: F401 (fixture)

pytestmark = [needs_root, needs_netns]

TWO = """
services:
  web:
    image: BUSYBOX
    command: ["sh", "-c", "echo web up; exec sleep 1000"]
    depends_on: [db]
  db:
    image: BUSYBOX
    command: ["sleep", "1000"]
    stop_signal: SIGKILL
"""


def test_up_detached_starts_services_in_dependency_order_and_exits(project):
    project.write(TWO)
    r = project.ok("up", "-d")
    lines = r.err.splitlines()
    n = project.name
    assert f" Network {n}_default  Created" in lines
    assert lines.index(f" Container {n}-db-1  Started") < \
        lines.index(f" Container {n}-web-1  Started"), r.err
    states = {c["Service"]: c["State"] for c in project.ps_json()}
    assert states == {"db": "running", "web": "running"}
    assert len(project.supervisor_pids()) == 1


def test_up_again_leaves_running_containers_alone(project):
    project.write(TWO)
    project.ok("up", "-d")
    ids = {c["ID"] for c in project.ps_json()}
    r = project.ok("up", "-d")
    assert f" Container {project.name}-web-1  Running" in r.err.splitlines(), r.err
    assert {c["ID"] for c in project.ps_json()} == ids


def test_ps_columns_and_quiet_and_services(project):
    project.write(TWO)
    project.ok("up", "-d")
    out = project.ok("ps").out.splitlines()
    assert out[0].split() == ["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS",
                              "PORTS"]
    assert out[1].startswith(f"{project.name}-db-1 ")
    assert "Up " in out[1]
    ids = project.ok("ps", "-q").out.split()
    assert len(ids) == 2 and all(len(i) == 64 for i in ids)
    assert project.ok("ps", "--services").out.split() == ["db", "web"]


def test_container_has_docker_hostname_and_resolves_services_by_name(project):
    project.write(TWO)
    project.ok("up", "-d")
    web = [c for c in project.ps_json() if c["Service"] == "web"][0]
    hosts = (project.root / "containers" / web["ID"] / "hosts").read_text()
    assert web["ID"][:12] in hosts
    assert web["Labels"]["com.docker.compose.service"] == "web"
    assert web["Labels"]["com.docker.compose.project"] == project.name


def test_exited_container_shows_in_ps_all_with_its_code(project):
    project.write("""
services:
  job:
    image: BUSYBOX
    command: ["sh", "-c", "exit 3"]
""")
    project.ok("up", "-d")
    [cid] = [c["ID"] for c in project.ps_json("-a")]
    state = project.root / "containers" / cid / "state.json"
    # The supervisor records the exit once it has reaped the job.
    poll_until(lambda: json.loads(state.read_text())["status"] == "exited",
               what="the job's exit to be recorded")
    [c] = project.ps_json("-a")
    assert c["State"] == "exited" and c["ExitCode"] == 3
    assert c["Status"].startswith("Exited (3)")
    assert project.ps_json() == []
    # Nothing runs: the supervisor has gone by itself.
    poll_until(lambda: not project.supervisor_pids(), what="the supervisor to exit")


def test_published_port_reaches_the_container(project):
    project.write("""
services:
  web:
    image: BUSYBOX
    command: ["sh", "-c", "while true; do echo hello | nc -l -p 80; done"]
    stop_signal: SIGKILL
    ports: ["127.0.0.1:18089:80"]
""")
    project.ok("up", "-d")

    def fetch():
        try:
            with socket.create_connection(("127.0.0.1", 18089), timeout=2) as s:
                return s.recv(100)
        except OSError:
            return None
    assert poll_until(fetch, what="the published port").strip() == b"hello"
    pubs = project.ps_json()[0]["Publishers"]
    assert pubs == [{"URL": "127.0.0.1", "TargetPort": 80, "PublishedPort": 18089,
                     "Protocol": "tcp"}]


def test_idle_supervisor_unloads_nftables_and_libnl_and_loads_them_again_when_needed(project):
    text = """
services:
  web:
    image: BUSYBOX
    command: ["sh", "-c", "while true; do echo hello | nc -l -p 80; done"]
    stop_signal: SIGKILL
    ports: ["127.0.0.1:18096:80"]
"""
    project.write(text)
    project.ok("up", "-d")

    def network_libs():
        [pid] = project.supervisor_pids()
        maps = Path(f"/proc/{pid}/maps").read_text()
        return [lib for lib in ("libnftables", "libnl-route") if lib in maps]
    assert network_libs() == []
    # A second service needs a veth (libnl) and the first one's published port stays.
    project.write(text + """
  db:
    image: BUSYBOX
    command: ["sleep", "1000"]
    stop_signal: SIGKILL
    ports: ["127.0.0.1:18097:80"]
""")
    project.ok("up", "-d")
    assert {c["Service"]: c["State"] for c in project.ps_json()} == \
        {"web": "running", "db": "running"}
    assert "dport 18097" in subprocess.run(["nft", "list", "ruleset"], capture_output=True,
                                           text=True, check=True).stdout

    def fetch():
        try:
            with socket.create_connection(("127.0.0.1", 18096), timeout=2) as s:
                return s.recv(100)
        except OSError:
            return None
    assert poll_until(fetch, what="the published port").strip() == b"hello"
    assert network_libs() == []
    project.ok("down", "-t", "0")
    assert project.leftovers() == []


def test_down_stops_with_stop_signal_and_removes_everything(project):
    project.write(TWO)
    project.ok("up", "-d")
    r = project.ok("down", "-t", "1")
    n = project.name
    for line in (f" Container {n}-web-1  Removed", f" Container {n}-db-1  Removed",
                 f" Network {n}_default  Removed"):
        assert line in r.err.splitlines(), r.err
    assert project.leftovers() == []


def test_down_works_when_the_supervisor_was_killed(project):
    project.write(TWO)
    project.ok("up", "-d")
    [pid] = project.supervisor_pids()
    os.kill(int(pid), signal.SIGKILL)
    poll_until(lambda: not project.supervisor_pids(), what="the supervisor to die")
    # The containers keep running, and ps sees them from disk and cgroups.
    assert {c["State"] for c in project.ps_json()} == {"running"}
    project.ok("down", "-t", "1")
    assert project.leftovers() == []


def test_stop_then_start(project):
    project.write(TWO)
    project.ok("up", "-d")
    r = project.ok("stop", "-t", "1", "web")
    assert f" Container {project.name}-web-1  Stopped" in r.err.splitlines(), r.err
    states = {c["Service"]: c["State"] for c in project.ps_json("-a")}
    assert states == {"db": "running", "web": "exited"}
    project.ok("start", "web")
    states = {c["Service"]: c["State"] for c in project.ps_json("-a")}
    assert states == {"db": "running", "web": "running"}


def test_logs_show_output_with_service_prefix(project):
    project.write(TWO)
    project.ok("up", "-d")
    out = poll_until(lambda: "web up" in project.ok("logs", "web").out and
                     project.ok("logs", "web").out, what="the log line")
    assert out.splitlines() == ["web-1  | web up"]
    assert project.ok("logs", "--no-log-prefix", "web").out == "web up\n"


def test_unknown_service_on_the_command_line_fails_and_creates_nothing(project):
    project.write(TWO)
    r = project("up", "-d", "nope")
    assert r.code == 1
    assert "nope" in r.err and len(r.err.strip().splitlines()) == 1, r
    assert project.leftovers() == []


def test_image_that_cannot_be_pulled_fails_naming_the_service(project):
    # web depends on db: nothing starts, so nothing is left (a service that does not
    # depend on it would start meanwhile: test_up_pull.py)
    project.write("""
services:
  web:
    image: BUSYBOX
    depends_on: [db]
  db:
    image: %s/nosuch:latest
""" % project.registry.host)
    r = project("up", "-d")
    assert r.code == 1
    assert r.err.strip().splitlines()[-1].startswith("stack: service db:"), r
    assert project.leftovers() == []


def test_port_in_use_fails_before_anything_starts(project):
    s = socket.socket()
    s.bind(("127.0.0.1", 18090))
    s.listen(1)
    try:
        project.write("""
services:
  web:
    image: BUSYBOX
    command: ["sleep", "1000"]
    ports: ["127.0.0.1:18090:80"]
""")
        r = project("up", "-d")
        assert r.code == 1
        assert "web" in r.err and "18090" in r.err, r
        assert len(r.err.strip().splitlines()) == 1, r
        assert project.leftovers() == []
    finally:
        s.close()


def test_attached_up_prints_prefixed_output_and_ctrl_c_stops_gracefully(project):
    project.write("""
services:
  web:
    image: BUSYBOX
    command: ["sh", "-c", "trap 'echo bye; exit 0' TERM; echo hello; while true; do sleep 0.1; done"]
""")
    p = project.spawn("up", "--no-color")
    assert p.stdout.readline() == "web-1  | hello\n"
    p.send_signal(2)  # SIGINT, as Ctrl+C
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "web-1  | bye\n" in out
    assert "Gracefully stopping..." in err
    assert f" Container {project.name}-web-1  Stopped" in err.splitlines(), err
    [c] = project.ps_json("-a")
    assert c["State"] == "exited" and c["ExitCode"] == 0


def test_attached_up_returns_when_every_container_has_exited(project):
    project.write("""
services:
  job:
    image: BUSYBOX
    command: ["echo", "done"]
""")
    p = project.spawn("up")
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert out == "job-1  | done\n"


def test_ls_lists_running_projects_with_their_state(project):
    project.write(TWO.replace("command: [\"sleep\", \"1000\"]", "command: [\"true\"]"))
    project.ok("up", "-d")
    poll_until(lambda: project.ok("ls", "-a", "--format", "json").out.strip() != "[]" and
               "exited(1)" in project.ok("ls", "-a").out, what="db to exit")
    [p] = json.loads(project.ok("ls", "--format", "json").out)
    assert p["Name"] == project.name
    assert p["Status"] == "running(1), exited(1)"
    assert p["ConfigFiles"].endswith("compose.yaml")
    assert project.ok("ls", "-q").out.split() == [project.name]


def test_bind_source_that_cannot_be_made_fails_naming_the_service_and_leaves_nothing(project):
    project.write("""
services:
  web:
    image: BUSYBOX
    command: ["sleep", "1000"]
    volumes: ["/proc/stack-no-such-dir/data:/data"]
""")
    r = project("up", "-d")
    assert r.code == 1
    # Checked before anything is made: no container was created, none started.
    last = r.err.strip().splitlines()[-1]
    assert last.startswith("stack: service web: create bind source path: ") and \
        "mkdir /proc/stack-no-such-dir" in last, r
    assert "Container" not in r.err, r
    assert project.leftovers() == []


ABORT = """
services:
  job:
    image: BUSYBOX
    command: ["sh", "-c", "echo working; exit 3"]
  app:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sh", "-c", "echo serving; exec sleep 1000"]
"""


def test_abort_on_container_exit_stops_the_rest_with_the_first_exit_code(project):
    project.write(ABORT)
    p = project.spawn("up", "--abort-on-container-exit", "--no-color")
    out, err = p.communicate(timeout=60)
    assert p.returncode == 3, err
    assert "job-1  | working\n" in out
    assert "Aborting on container exit..." in err
    states = {c["Service"]: c["State"] for c in project.ps_json("-a")}
    assert states == {"job": "exited", "app": "exited"}


def test_exit_code_from_returns_that_services_code(project):
    project.write(ABORT)
    p = project.spawn("up", "--exit-code-from", "app")
    out, err = p.communicate(timeout=60)
    # job exits first and stops the project; app is killed by its stop signal.
    assert p.returncode == 137, err
    r = project("up", "-d", "--exit-code-from", "app")
    assert r.code == 2 and "attached mode" in r.err, r
