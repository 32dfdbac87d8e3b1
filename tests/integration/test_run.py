"""`stack run SERVICE [CMD...]` through the real CLI: one-off containers with the
service's configuration on the project's network, their dependencies started first,
Compose's flags and exit codes, `--rm` leaving nothing and `down` removing the rest."""
import json
import re
import socket
import subprocess
from pathlib import Path

from engine_helpers import needs_root, processes_in_cgroup
from netlib import links
from netlib import needs_root as needs_netns
from test_exec import Tty
from uplib import poll_until, project  # noqa: F401 (fixture)

pytestmark = [needs_root, needs_netns]

APP = """
services:
  web:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sh", "-c", "echo served-by-web > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"]
  job:
    image: BUSYBOX
    stop_signal: SIGKILL
    environment:
      JOBVAR: from-service
    command: ["echo", "job-default"]
    depends_on: [web]
"""


def containers(project):
    d = project.root / "containers"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def container_cgroups(project):
    """The containers' cgroup leaves, by name (one per hierarchy on cgroup v1)."""
    return sorted({c.name for d in project.cgroup_dirs() for c in d.iterdir() if c.is_dir()})


def test_run_returns_the_command_exit_code_and_rm_leaves_nothing(project):
    project.write(APP)
    r = project("run", "--rm", "-T", "job", "sh", "-c", "echo out; exit 4")
    assert (r.code, r.out) == (4, "out\n"), r
    # The dependency runs; of the one-off nothing is left: record, cgroup, process,
    # mount, veth.
    assert [c["Service"] for c in project.ps_json("-a")] == ["web"]
    web_links = links()
    r = project("run", "--rm", "-T", "job", "true")
    assert r.code == 0, r
    assert len(containers(project)) == 1
    assert len(container_cgroups(project)) == 1
    assert processes_in_cgroup(f"/stack/{project.name}/") != []
    assert [m for m in Path("/proc/self/mountinfo").read_text().splitlines()
            if str(project.root) in m] == []
    assert links() == web_links


def test_run_default_command_is_the_services_and_missing_command_is_127(project):
    project.write(APP)
    r = project("run", "--rm", "-T", "job")
    assert (r.code, r.out) == (0, "job-default\n"), r
    r = project("run", "--rm", "-T", "job", "no-such-command")
    assert r.code == 127, r
    assert "no-such-command" in r.err, r


def test_run_reaches_a_service_by_name(project):
    project.write(APP)
    r = project("run", "--rm", "-T", "job", "wget", "-qO-", "http://web:8080/index.html")
    assert (r.code, r.out) == (0, "served-by-web\n"), r


def test_run_env_user_workdir_entrypoint_and_labels(project):
    project.write(APP)
    r = project("run", "--rm", "-T", "-e", "A=1", "-e", "JOBVAR=over", "-u", "65534", "-w",
                "/tmp", "job", "sh", "-c", "echo $A $JOBVAR; id -u; pwd")
    assert r.out.splitlines() == ["1 over", "65534", "/tmp"], r
    r = project("run", "--rm", "-T", "--entrypoint", "echo", "job", "via", "entrypoint")
    assert r.out == "via entrypoint\n", r
    (project.dir / "data").mkdir()
    (project.dir / "data" / "f").write_text("bound\n")
    r = project("run", "--rm", "-T", "-v", "./data:/data:ro", "job", "sh", "-c",
                "cat /data/f; touch /data/g")
    assert r.out == "bound\n" and r.code != 0, r


def test_run_no_deps_starts_nothing_else(project):
    project.write(APP)
    r = project("run", "--rm", "-T", "--no-deps", "job", "true")
    assert r.code == 0, r
    assert project.ps_json("-a") == []


def test_run_detached_with_a_name_is_listed_and_removed_by_down(project):
    project.write(APP)
    r = project("run", "-d", "--name", "custom-one", "-l", "k=v", "job", "sleep", "100000")
    assert (r.code, r.out) == (0, "custom-one\n"), r
    r = project("run", "-d", "job", "sleep", "100000")
    assert r.code == 0 and re.fullmatch(rf"{project.name}-job-run-[0-9a-f]{{12}}\n", r.out), r
    # ps lists one-off containers with --all only, as Compose.
    assert [c["Name"] for c in project.ps_json()] == [f"{project.name}-web-1"]
    rows = {c["Name"]: c for c in project.ps_json("-a")}
    assert rows["custom-one"]["State"] == "running"
    assert rows["custom-one"]["Labels"]["com.docker.compose.oneoff"] == "True"
    assert rows["custom-one"]["Labels"]["k"] == "v"
    assert r.out.strip() in rows
    # exec does not pick a one-off for the service.
    assert project("exec", "-T", "job", "true").code == 1
    r = project.ok("down", "-t", "1")
    assert " Container custom-one  Removed" in r.err.splitlines(), r.err
    assert containers(project) == []


def test_run_without_rm_keeps_an_exited_record(project):
    project.write(APP)
    r = project("run", "-T", "--no-deps", "job", "sh", "-c", "exit 3")
    assert r.code == 3, r
    [row] = project.ps_json("-a")
    assert (row["State"], row["ExitCode"]) == ("exited", 3)
    assert container_cgroups(project) == []
    state = json.loads((project.root / "containers" / containers(project)[0] /
                        "state.json").read_text())
    assert state["status"] == "exited"


def link_names():
    """The host's interfaces by name (their state changes on its own: a bridge goes UP)."""
    return sorted(line.split(":")[1].strip() for line in links().splitlines())


def watchers(project):
    """The processes `run -d` left to watch its one-offs (its own, by the root it uses)."""
    found = []
    for pid in filter(str.isdigit, __import__("os").listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"run" in cmd and b"-d" in cmd and project.name.encode() in b" ".join(cmd):
            found.append(int(pid))
    return found


def test_run_detached_rm_is_removed_when_it_exits(project):
    """Its watcher (the process -d forks) waits for it: then nothing of it is left."""
    project.write(APP)
    project.ok("up", "-d", "web")
    web_links = link_names()
    r = project("run", "-d", "--rm", "job", "sh", "-c", "echo hi; sleep 0.2")
    assert r.code == 0 and re.fullmatch(rf"{project.name}-job-run-[0-9a-f]{{12}}\n", r.out), r
    poll_until(lambda: len(containers(project)) == 1, what="the one-off to be removed")
    assert [c["Service"] for c in project.ps_json("-a")] == ["web"]
    assert len(container_cgroups(project)) == 1
    poll_until(lambda: link_names() == web_links, what="the one-off's veth to go")
    poll_until(lambda: not watchers(project), what="the watcher to exit")


def test_run_detached_keeps_its_output_and_exit_code(project):
    project.write(APP)
    name = project.ok("run", "-d", "--no-deps", "job", "sh", "-c",
                      "echo to-out; echo to-err >&2; exit 5").out.strip()

    def exited():
        rows = [c for c in project.ps_json("-a") if c["Name"] == name]
        return rows and rows[0]["State"] == "exited" and rows[0]
    poll_until(lambda: not watchers(project), what="the watcher to exit")
    row = poll_until(exited, what="the one-off to exit")
    assert row["ExitCode"] == 5, row
    # Its log, read by its name; the service's logs leave one-offs out, as Compose.
    r = project.ok("logs", "--no-log-prefix", name)
    assert sorted(r.out.splitlines()) == ["to-err", "to-out"], r
    assert project.ok("logs", "job").out == ""
    assert project.ok("logs").out == ""
    poll_until(lambda: not watchers(project), what="the watcher to exit")
    assert container_cgroups(project) == []


def test_run_detached_log_is_rotated_and_read_back_whole(project):
    """Past 20 MiB the log moves to container.log.1 (one kept): 30 MB of output (no
    newline: 16 KiB records) reads back whole."""
    project.write(APP)
    name = project.ok("run", "-d", "--no-deps", "job", "sh", "-c",
                      "head -c 30000000 /dev/zero | tr '\\0' a").out.strip()
    poll_until(lambda: not watchers(project), what="the watcher to exit", timeout=120)
    [cdir] = [d for d in (project.root / "containers").iterdir()
              if json.loads((d / "config.json").read_text())["name"] == name]
    assert sorted(p.name for p in cdir.glob("container.log*")) == \
        ["container.log", "container.log.1"]
    out = project.ok("logs", "--no-log-prefix", name).out
    assert out.count("a") == 30000000 and set(out) == {"a", "\n"}


def test_run_detached_output_is_readable_while_it_runs_and_down_ends_its_watcher(project):
    project.write(APP)
    name = project.ok("run", "-d", "--rm", "--no-deps", "job", "sh", "-c",
                      "echo working; exec sleep 100000").out.strip()
    r = poll_until(lambda: "working" in project.ok("logs", name).out and
                   project.ok("logs", name), what="the one-off's output")
    assert r.out == f"{name.removeprefix(project.name + '-')}  | working\n", r
    assert watchers(project)
    project.ok("down", "-t", "1")
    assert containers(project) == []
    poll_until(lambda: not watchers(project), what="the watcher to exit")


PORTS = APP + """  site:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sh", "-c", "echo site-$$PORTNAME > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"]
    ports: ["127.0.0.1:18472:8080"]
    depends_on: [web]
"""


def fetch(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    # Until httpd listens the proxy closes the connection at once: no answer yet.
    head, sep, body = data.decode().partition("\r\n\r\n")
    return body if sep else None


def test_run_publishes_ports_given_with_p_or_the_services_with_service_ports(project):
    project.write(PORTS)
    # Ports on 127.0.0.1 are served by the supervisor's proxies: it runs for web.
    r = project("run", "-d", "-e", "PORTNAME=p", "-p", "127.0.0.1:18471:8080", "site")
    assert r.code == 0, r
    assert poll_until(lambda: fetch_or_none(18471)) == "site-p\n"
    r = project("run", "-d", "-e", "PORTNAME=svc", "--service-ports", "site")
    assert r.code == 0, r
    assert poll_until(lambda: fetch_or_none(18472)) == "site-svc\n"
    rows = [row for row in project.ps_json("-a") if row["Service"] == "site"]
    assert sorted(p["PublishedPort"] for row in rows for p in row["Publishers"]) == \
        [18471, 18472]
    # The port is taken now: a second one-off asking for it fails, leaving nothing.
    before = containers(project)
    r = project("run", "-d", "--no-deps", "-p", "127.0.0.1:18471:8080", "site")
    assert r.code == 1 and "18471" in r.err, r
    assert containers(project) == before


def test_run_publishes_a_random_host_port_and_ranges_as_docker_run_p(project):
    project.write(PORTS)
    project.ok("up", "-d", "web")
    # -p 8080: a free host port; `port` and `ps` say which, and it answers.
    name = project.ok("run", "-d", "-e", "PORTNAME=random", "-p", "127.0.0.1::8080",
                      "site").out.strip()
    out = project.ok("port", "site", "8080").out.strip()
    host, port = out.rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0, out
    assert poll_until(lambda: fetch_or_none(int(port))) == "site-random\n"
    project.ok("down", "-t", "1")
    # Ranges pair up: 18480-18481 to 8080-8081; a host range for one port takes a free one.
    project.ok("up", "-d", "web")
    cmd = ["sh", "-c", "echo a > /tmp/index.html; httpd -p 8081 -h /tmp; "
           "exec httpd -f -p 8080 -h /tmp"]
    name = project.ok("run", "-d", "--no-deps", "-p", "127.0.0.1:18480-18481:8080-8081",
                      "-p", "127.0.0.1:18490-18495:8080", "-p", "9000/udp", "site",
                      *cmd).out.strip()
    [row] = [r for r in project.ps_json("-a") if r["Name"] == name]
    pubs = sorted((p["TargetPort"], p["PublishedPort"], p["Protocol"])
                  for p in row["Publishers"])
    assert pubs[:3] == [(8080, 18480, "tcp"), (8080, 18490, "tcp"), (8081, 18481, "tcp")], pubs
    assert pubs[3][0] == 9000 and pubs[3][1] > 0 and pubs[3][2] == "udp", pubs
    assert project.ok("port", "--protocol", "udp", "site", "9000").out == \
        f"0.0.0.0:{pubs[3][1]}\n"
    for port in (18480, 18481, 18490):
        assert poll_until(lambda: fetch_or_none(port)) == "a\n"
    for bad, msg in (("18470:80-81", "one host port for 2 container ports"),
                     ("1-3:80-81", "not the same length"),
                     ("80-", "invalid containerPort"),
                     ("x:80", "invalid hostPort")):
        r = project("run", "--rm", "--no-deps", "-p", bad, "site", "true")
        assert r.code == 1 and msg in r.err, (bad, r)


def fetch_or_none(port):
    try:
        return fetch(port)
    except OSError:
        return None


def test_run_errors(project):
    project.write(APP)
    r = project("run", "--rm", "-T", "nope")
    assert (r.code, r.err) == (1, "stack: no such service: nope\n"), r
    r = project("run", "--rm", "-T", "--pull", "sometimes", "job")
    assert r.code == 2 and 'invalid --pull option "sometimes"' in r.err, r
    (project.dir / "compose.yaml").write_text(
        (project.dir / "compose.yaml").read_text() + "  built:\n    build: .\n")
    # As up: a service with build: and no image is built first; here there is no
    # Dockerfile, so the build fails naming the service, and nothing runs.
    r = project("run", "--rm", "-T", "--no-deps", "built", "true")
    assert r.code == 1 and "built: read Dockerfile" in r.err, r
    r = project("run", "--rm", "-T", "--no-deps", "-v", "vol:/data", "job", "true")
    assert r.code == 1 and "named volumes" in r.err, r
    assert containers(project) == []


def test_run_with_a_tty_gets_the_terminal_size_and_the_exit_code(project):
    project.write(APP)
    t = Tty(project, "run", "--rm", "--no-deps", "job", "sh", "-c", "stty size; exit 9",
            rows=33, cols=77)
    t.expect("33 77")
    assert t.wait() == 9
    assert containers(project) == []


def test_run_builds_a_build_only_service_before_running_it(project):
    project.write(APP + "  built:\n    build: .\n")
    (project.dir / "Dockerfile").write_text(
        f"FROM {project.image}\nRUN echo made-by-the-build > /made\n")
    r = project("run", "--rm", "-T", "--no-deps", "built", "cat", "/made")
    assert r.code == 0 and r.out == "made-by-the-build\n", r
    assert f"{project.name}-built" in project.ok("image", "ls").out
    assert containers(project) == []



def network_table(project):
    """The default network's bridge (its nftables table has the same name)."""
    rec = json.loads((project.root / "net" / f"{project.name}.json").read_text())
    return next(n["bridge"] for n in rec["networks"] if n["name"] == "default")


def table_handle(bridge):
    """The table's handle: a new one each time the table is loaded again."""
    out = subprocess.run(["nft", "-a", "list", "table", "inet", bridge],
                         capture_output=True, text=True)
    m = re.search(r"# handle (\d+)", out.stdout)
    return m and int(m.group(1))


def test_run_leaves_the_rules_of_an_existing_network_as_they_are(project):
    project.write(APP)
    project.ok("up", "-d", "web")
    bridge = network_table(project)
    before = table_handle(bridge)
    assert before, bridge
    r = project("run", "--rm", "-T", "--no-deps", "job", "true")
    assert r.code == 0, r
    assert table_handle(bridge) == before


def test_run_with_dependencies_leaves_the_network_rules_as_they_are_but_up_reloads(project):
    project.write(APP)
    project.ok("up", "-d", "web")
    bridge = network_table(project)
    before = table_handle(bridge)
    r = project("run", "--rm", "-T", "job", "true")
    assert r.code == 0, r
    assert table_handle(bridge) == before
    # up is what repairs rules changed behind stack's back: it loads them every time.
    project.ok("up", "-d", "web")
    assert table_handle(bridge) not in (None, before)


def test_run_loads_the_rules_again_when_the_network_bridge_is_gone(project):
    project.write(APP)
    r = project("run", "--rm", "-T", "--no-deps", "job", "true")
    assert r.code == 0, r
    bridge = network_table(project)
    assert table_handle(bridge)
    subprocess.run(["ip", "link", "del", bridge], check=True)
    subprocess.run(["nft", "delete", "table", "inet", bridge], check=True)
    r = project("run", "--rm", "-T", "--no-deps", "job", "true")
    assert r.code == 0, r
    assert table_handle(bridge)
    assert bridge in links()


def test_run_after_a_run_that_published_a_port_drops_its_rules(project):
    project.write(APP)
    r = project("run", "--rm", "-T", "--no-deps", "-p", "18479:8080", "job", "true")
    assert r.code == 0, r
    r = project("run", "--rm", "-T", "--no-deps", "job", "true")
    assert r.code == 0, r
    bridge = network_table(project)
    rules = subprocess.run(["nft", "list", "table", "inet", bridge],
                           capture_output=True, text=True, check=True).stdout
    assert "18479" not in rules
