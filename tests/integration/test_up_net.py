"""`stack up` and the network: published port forms (a random host port, host-address
only, ranges, UDP, the long syntax) as `ps` and `stack port` report them, network_mode
(host, none, service:, container:), and tty containers. Real containers through the
real CLI, traffic only to loopback and to the test's own containers."""
import json
import socket
import subprocess

from conftest import STACK
from engine_helpers import needs_root
from netlib import needs_root as needs_netns
from uplib import poll_until, project  # noqa: F401 (fixture)

pytestmark = [needs_root, needs_netns]

# Answers "hello" on TCP port 80 and echoes UDP datagrams on port 53.
SERVER = ["sh", "-c", "while true; do echo hello | nc -l -p 80; done"]


def web(ports, command=SERVER, extra=""):
    """A project of one service, web, publishing ports."""
    return f"""
services:
  web:
    image: BUSYBOX
    command: {json.dumps(command)}
    stop_signal: SIGKILL
{extra}    ports: {json.dumps(ports)}
"""


def db_and_web(web_attribute):
    """Two idle services; web has one more attribute."""
    return f"""
services:
  db:
    image: BUSYBOX
    command: ["sleep", "1000"]
  web:
    image: BUSYBOX
    command: ["sleep", "1000"]
    {web_attribute}
"""


def fetch(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            return s.recv(100).strip()
    except OSError:
        return None


def ephemeral_range():
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        first, last = f.read().split()
    return int(first), int(last)


def publishers(project, service="web"):
    [c] = [c for c in project.ps_json() if c["Service"] == service]
    return c["Publishers"]


def test_container_port_alone_gets_a_free_ephemeral_host_port(project):
    project.write(web(["80"]))
    project.ok("up", "-d")
    [pub] = publishers(project)
    first, last = ephemeral_range()
    assert first <= pub["PublishedPort"] <= last, pub
    assert pub["TargetPort"] == 80 and pub["Protocol"] == "tcp"
    assert poll_until(lambda: fetch(pub["PublishedPort"]), what="the random port") == b"hello"
    line = project.ok("ps").out.splitlines()[1]
    assert f"0.0.0.0:{pub['PublishedPort']}->80/tcp" in line, line
    assert project.ok("port", "web", "80").out == f"0.0.0.0:{pub['PublishedPort']}\n"


def test_host_ip_without_host_port_publishes_on_that_address_only(project):
    project.write(web(["127.0.0.1::80"]))
    project.ok("up", "-d")
    [pub] = publishers(project)
    assert pub["URL"] == "127.0.0.1" and pub["PublishedPort"] > 0, pub
    assert poll_until(lambda: fetch(pub["PublishedPort"]), what="the port") == b"hello"
    assert project.ok("port", "web", "80").out == f"127.0.0.1:{pub['PublishedPort']}\n"


def test_range_to_range_publishes_each_port(project):
    project.write("""
services:
  web:
    image: BUSYBOX
    command: ["sh", "-c", "for p in 80 81 82; do (while true; do echo $$p | nc -l -p $$p; done) & done; wait"]
    stop_signal: SIGKILL
    ports: ["127.0.0.1:18100-18102:80-82"]
""")
    project.ok("up", "-d")
    pubs = publishers(project)
    assert [(p["PublishedPort"], p["TargetPort"]) for p in pubs] == \
        [(18100, 80), (18101, 81), (18102, 82)]
    for host, want in ((18100, b"80"), (18101, b"81"), (18102, b"82")):
        assert poll_until(lambda: fetch(host), what=f"port {host}") == want
    line = project.ok("ps").out.splitlines()[1]
    assert line.endswith("127.0.0.1:18100->80/tcp, 127.0.0.1:18101->81/tcp, "
                         "127.0.0.1:18102->82/tcp"), line


def test_ps_groups_ports_published_on_their_own_numbers_as_docker(project):
    project.write(web(["127.0.0.1:18190:80", "127.0.0.1:18180-18182:18180-18182",
                       "127.0.0.1:18185:18185/udp"], ["sleep", "1000"]))
    project.ok("up", "-d")
    line = project.ok("ps").out.splitlines()[1]
    assert line.endswith("127.0.0.1:18180-18182->18180-18182/tcp, "
                         "127.0.0.1:18185->18185/udp, 127.0.0.1:18190->80/tcp"), line


def test_replicas_of_a_host_range_take_one_port_each(project):
    project.write(web(["127.0.0.1:18170-18171:80"], SERVER, extra="    scale: 2\n"))
    project.ok("up", "-d")
    got = sorted(c["Publishers"][0]["PublishedPort"] for c in project.ps_json())
    assert got == [18170, 18171]
    assert project.ok("port", "--index", "2", "web", "80").out.startswith("127.0.0.1:1817")
    for port in got:
        assert poll_until(lambda: fetch(port), what=f"port {port}") == b"hello"


def test_host_range_for_one_port_takes_the_first_free_one(project):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 18110))
    busy.listen(1)
    try:
        project.write(web(["127.0.0.1:18110-18115:80"]))
        project.ok("up", "-d")
        [pub] = publishers(project)
        assert pub["PublishedPort"] == 18111, pub
        assert poll_until(lambda: fetch(18111), what="port 18111") == b"hello"
        assert project.ok("port", "web", "80").out == "127.0.0.1:18111\n"
    finally:
        busy.close()


def test_host_range_all_in_use_fails_before_anything_starts(project):
    held = []
    try:
        for port in (18120, 18121, 18122):
            s = socket.socket()
            s.bind(("127.0.0.1", port))
            s.listen(1)
            held.append(s)
        project.write(db_and_web('ports: ["127.0.0.1:18120-18122:80"]'))
        r = project("up", "-d")
        assert r.code == 1
        assert r.err.strip() == \
            "stack: service web: ports 18120-18122/tcp are all in use on 127.0.0.1", r
        assert project.leftovers() == []
    finally:
        for s in held:
            s.close()


def udp_port_held(port):
    """The userland proxy holds a published UDP port on loopback (busybox has no UDP
    server to answer through it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def test_udp_and_long_syntax_ports(project):
    project.write("""
services:
  web:
    image: BUSYBOX
    command: ["sleep", "1000"]
    stop_signal: SIGKILL
    ports:
      - "127.0.0.1:18130:53/udp"
      - target: 53
        published: "18140-18142"
        host_ip: 127.0.0.1
        protocol: udp
        mode: host
""")
    project.ok("up", "-d")
    pubs = publishers(project)
    assert pubs == [
        {"URL": "127.0.0.1", "TargetPort": 53, "PublishedPort": 18130, "Protocol": "udp"},
        {"URL": "127.0.0.1", "TargetPort": 53, "PublishedPort": 18140, "Protocol": "udp"}]
    assert poll_until(lambda: udp_port_held(18130) and udp_port_held(18140),
                      what="the UDP proxies")
    assert project.ok("port", "--protocol", "udp", "web", "53").out == "127.0.0.1:18130\n"
    r = project("port", "web", "53")
    assert r.code == 1 and r.out == ""
    assert r.err.strip() == \
        f"stack: no port 53/tcp for container {project.name}-web-1: 18130/udp, 18140/udp", r


def test_port_of_a_service_without_a_running_container_fails_as_compose(project):
    project.write("""
services:
  web:
    image: BUSYBOX
    command: ["sleep", "1000"]
    stop_signal: SIGKILL
    ports: ["127.0.0.1:18150:80"]
  idle:
    image: BUSYBOX
    command: ["true"]
""")
    project.ok("up", "-d", "web")
    assert project.ok("port", "web", "80").out == "127.0.0.1:18150\n"
    r = project("port", "idle", "80")
    assert (r.code, r.err.strip()) == (1, 'stack: service "idle" is not running'), r
    r = project("port", "--index", "2", "web", "80")
    assert (r.code, r.err.strip()) == (1, 'stack: service "web" is not running container #2'), r
    r = project("port", "nosuch", "80")
    assert (r.code, r.err.strip()) == (1, "stack: no such service: nosuch"), r
    r = project("port", "web", "http")
    assert r.code == 2 and 'invalid port "http"' in r.err, r


def logs_of(project, service):
    return project.ok("logs", "--no-log-prefix", service).out


def inet_line(text):
    lines = [ln.split()[1] for ln in text.splitlines() if ln.strip().startswith("inet ")]
    return lines[0] if lines else None


SHARED = """
services:
  web:
    image: BUSYBOX
    command: ["sh", "-c", "ip -4 addr show eth0; MARK; while true; do echo hello | nc -l -p 80; done"]
    stop_signal: SIGKILL
  sidecar:
    image: BUSYBOX
    network_mode: "service:web"
    stop_signal: SIGKILL
    command: ["sh", "-c", "ip -4 addr show eth0; cat /etc/hostname; until nc 127.0.0.1 80; do sleep 0.1; done; exec sleep 1000"]
"""


def test_network_mode_service_shares_the_other_containers_namespace(project):
    project.write(SHARED.replace("MARK", "true"))
    r = project.ok("up", "-d", "sidecar")
    lines = r.err.splitlines()
    n = project.name
    # The dependency is implied, and the sharer starts after the other.
    assert lines.index(f" Container {n}-web-1  Started") < \
        lines.index(f" Container {n}-sidecar-1  Started"), r.err
    web_ip = poll_until(lambda: inet_line(logs_of(project, "web")), what="web's address")
    side = poll_until(lambda: "hello" in logs_of(project, "sidecar") and
                      logs_of(project, "sidecar"), what="the sidecar to reach localhost:80")
    assert inet_line(side) == web_ip, side
    web = [c for c in project.ps_json() if c["Service"] == "web"][0]
    # Docker's hostname of the shared namespace: the other container's.
    assert web["ID"][:12] in side.splitlines(), side


def test_recreating_the_shared_service_recreates_the_sharer(project):
    project.write(SHARED.replace("MARK", "true"))
    project.ok("up", "-d")
    before = {c["Service"]: c["ID"] for c in project.ps_json()}
    project.write(SHARED.replace("MARK", "echo changed"))
    r = project.ok("up", "-d")
    after = {c["Service"]: c["ID"] for c in project.ps_json()}
    assert after["web"] != before["web"] and after["sidecar"] != before["sidecar"], r.err
    web_ip = poll_until(lambda: inet_line(logs_of(project, "web")), what="web's address")
    side = poll_until(lambda: "hello" in logs_of(project, "sidecar") and
                      logs_of(project, "sidecar"), what="the new sidecar to reach web")
    assert inet_line(side) == web_ip, side


def pid_of(project, service):
    c = [c for c in project.ps_json() if c["Service"] == service]
    if not c:
        return None
    st = json.loads((project.root / "containers" / c[0]["ID"] / "state.json").read_text())
    return st.get("pid") if st.get("status") == "running" else None


def netns_of(project, service):
    r = project("exec", "-T", service, "readlink", "/proc/self/ns/net")
    return r.out.strip() if r.code == 0 else None


def test_sharer_follows_its_service_restarted_by_the_restart_policy(project):
    """web exits and its restart policy starts it again in a new network namespace: the
    sidecar sharing it is restarted into the new one (as Compose's restart does for
    dependents), not left in the dead namespace with loopback only."""
    project.write("""
services:
  web:
    image: BUSYBOX
    restart: on-failure
    stop_signal: SIGKILL
    command: ["sh", "-c", "while [ ! -e /tmp/die ]; do sleep 0.05; done; rm /tmp/die; exit 3"]
  sidecar:
    image: BUSYBOX
    network_mode: "service:web"
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
""")
    project.ok("up", "-d")
    before = netns_of(project, "web")
    assert before and netns_of(project, "sidecar") == before
    side_id = [c["ID"] for c in project.ps_json() if c["Service"] == "sidecar"]
    project.ok("exec", "-T", "web", "touch", "/tmp/die")
    after = poll_until(lambda: (ns := netns_of(project, "web")) not in (None, before) and ns,
                       what="web to run again in a new namespace")
    poll_until(lambda: netns_of(project, "sidecar") == after,
               what="the sidecar to join web's new namespace")
    ps = {c["Service"]: c for c in project.ps_json()}
    assert ps["web"]["State"] == "running" and ps["sidecar"]["State"] == "running", ps
    assert [ps["sidecar"]["ID"]] == side_id  # the same container, started again
    # It has the network: web's eth0 is there, not only loopback.
    r = project.ok("exec", "-T", "sidecar", "ip", "-4", "addr", "show", "eth0")
    assert "inet " in r.out, r.out


def test_restart_of_the_shared_service_leaves_the_sharer_in_its_namespace(project):
    """`restart web` restarts its dependents (as Compose), and web's start also makes the
    sharer rejoin: the two together end with both running, in one namespace."""
    project.write(SHARED.replace("MARK", "true"))
    project.ok("up", "-d")
    before = pid_of(project, "web")
    r = project.ok("restart", "web")
    # (Both namespaces gone, the new one may reuse the old one's inode number: the pid.)
    poll_until(lambda: pid_of(project, "web") not in (None, before), what="web started again")
    poll_until(lambda: (ns := netns_of(project, "web")) and netns_of(project, "sidecar") == ns
               and {c["Service"]: c["State"] for c in project.ps_json()} ==
               {"web": "running", "sidecar": "running"},
               what=f"both running, the sidecar in web's new namespace ({r.err})")


def test_network_mode_none_has_only_loopback(project):
    project.write("""
services:
  job:
    image: BUSYBOX
    network_mode: none
    command: ["sh", "-c", "ip -o link; exec sleep 1000"]
    stop_signal: SIGKILL
""")
    project.ok("up", "-d")
    out = poll_until(lambda: logs_of(project, "job"), what="the link list")
    names = [ln.split(":")[1].strip() for ln in out.splitlines() if ":" in ln]
    assert names == ["lo"], out


def test_network_mode_host_listens_in_the_callers_namespace(project):
    project.write("""
services:
  web:
    image: BUSYBOX
    network_mode: host
    command: ["sh", "-c", "while true; do echo from-host-ns | nc -l -p 18160; done"]
    stop_signal: SIGKILL
    ports: ["127.0.0.1:18161:80"]
""")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 18161))
    busy.listen(1)
    try:
        # As Docker: the published ports of a host-mode service are discarded.
        project.ok("up", "-d")
    finally:
        busy.close()
    assert poll_until(lambda: fetch(18160), what="the host-mode listener") == b"from-host-ns"
    assert project.ps_json()[0]["Publishers"] == []


def test_network_mode_container_joins_another_projects_container(project, tmp_path, registry):
    from uplib import Project
    project.write(f"""
services:
  web:
    image: BUSYBOX
    command: {json.dumps(SERVER)}
    stop_signal: SIGKILL
""")
    project.ok("up", "-d")
    (tmp_path / "other").mkdir()
    other = Project(tmp_path / "other", registry)
    other.root = project.root
    try:
        other.write(f"""
services:
  client:
    image: BUSYBOX
    network_mode: "container:{project.name}-web-1"
    stop_signal: SIGKILL
    command: ["sh", "-c", "until nc 127.0.0.1 80; do sleep 0.1; done; exec sleep 1000"]
""")
        other.ok("up", "-d")
        assert poll_until(lambda: "hello" in logs_of(other, "client"),
                          what="the client to reach web over localhost")
    finally:
        other.ok("down", "-t", "1")


def test_network_mode_container_unknown_fails_before_anything_starts(project):
    project.write(db_and_web('network_mode: "container:nosuch"'))
    r = project("up", "-d")
    assert r.code == 1
    assert r.err.strip() == ("stack: service web: network_mode container:nosuch: "
                             "no such running container: nosuch"), r
    assert project.leftovers() == []


def log_records(project, service):
    [c] = [c for c in project.ps_json("-a") if c["Service"] == service]
    path = project.root / "containers" / c["ID"] / "container.log"
    return [json.loads(ln) for ln in path.read_text().splitlines()]


def test_tty_gives_the_container_a_terminal_whose_output_reaches_the_logs(project):
    project.write("""
services:
  term:
    image: BUSYBOX
    tty: true
    stdin_open: true
    stop_signal: SIGKILL
    command: ["sh", "-c", "test -t 1 && echo stdout-is-a-tty; test -t 0 && echo stdin-too; exec sleep 1000"]
  plain:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sh", "-c", "test -t 1 || echo stdout-is-no-tty; exec sleep 1000"]
""")
    project.ok("up", "-d")
    out = poll_until(lambda: "stdin-too" in logs_of(project, "term") and
                     logs_of(project, "term"), what="the tty container's output")
    # Docker's tty logs keep the pty's line endings.
    raw = subprocess.run([STACK, "--root", str(project.root), "-p", project.name,
                          "--project-directory", str(project.dir), "logs", "--no-log-prefix",
                          "term"], capture_output=True, check=True).stdout
    assert raw == b"stdout-is-a-tty\r\nstdin-too\r\n", (raw, out)
    assert [r["log"] for r in log_records(project, "term")] == \
        ["stdout-is-a-tty\r\n", "stdin-too\r\n"]
    assert all(r["stream"] == "stdout" for r in log_records(project, "term"))
    assert poll_until(lambda: logs_of(project, "plain"), what="plain") == "stdout-is-no-tty\n"
    states = {c["Service"]: c["State"] for c in project.ps_json()}
    assert states == {"term": "running", "plain": "running"}
    r = project.ok("down", "-t", "1")
    assert f" Container {project.name}-term-1  Removed" in r.err.splitlines(), r.err
    assert project.leftovers() == []


def test_stdin_open_without_tty_keeps_stdin_open(project):
    project.write("""
services:
  reader:
    image: BUSYBOX
    stdin_open: true
    stop_signal: SIGKILL
    command: ["sh", "-c", "test -p /proc/self/fd/0 && echo stdin-is-a-pipe; cat; echo closed"]
  closed:
    image: BUSYBOX
    command: ["sh", "-c", "test -c /proc/self/fd/0 && echo stdin-is-dev-null; cat; echo closed"]
""")
    project.ok("up", "-d")
    # Without stdin_open, stdin is /dev/null and cat ends at once.
    assert poll_until(lambda: logs_of(project, "closed"), what="closed") == \
        "stdin-is-dev-null\nclosed\n"
    poll_until(lambda: "stdin-is-a-pipe" in logs_of(project, "reader"), what="the reader")
    # cat waits on the open stdin: the container keeps running.
    assert [c["Service"] for c in project.ps_json()] == ["reader"]
    assert "closed" not in logs_of(project, "reader")


def test_network_mode_service_with_ports_is_refused_before_anything_starts(project):
    project.write("""
services:
  web:
    image: BUSYBOX
    command: ["sleep", "1000"]
  sidecar:
    image: BUSYBOX
    network_mode: "service:web"
    command: ["sleep", "1000"]
    ports: ["127.0.0.1:18200:80"]
""")
    r = project("up", "-d")
    assert r.code == 1
    assert r.err.strip() == ("stack: service sidecar: network_mode service:web: conflicting "
                             "options: port publishing and the container type network mode"), r
    assert project.leftovers() == []


def test_network_mode_service_of_an_undefined_service_is_a_compose_error(project):
    project.write("""
services:
  sidecar:
    image: BUSYBOX
    network_mode: "service:nosuch"
    command: ["sleep", "1000"]
""")
    r = project("up", "-d")
    assert r.code == 1
    [line] = r.err.strip().splitlines()
    assert line.endswith('compose.yaml:5:19: services.sidecar.network_mode: service "nosuch" '
                         'is not defined'), r
    assert project.leftovers() == []
    project.write("services: {}\n")  # for the fixture's `down`


def test_network_mode_service_without_a_running_target_fails_and_leaves_nothing(project):
    project.write(SHARED.replace("MARK", "true"))
    r = project("up", "-d", "--no-deps", "sidecar")
    assert r.code == 1
    assert r.err.strip().splitlines()[-1] == (
        f"stack: sidecar: start {project.name}-sidecar-1: network_mode service:web: "
        "no running container of service web"), r
    assert project.leftovers() == []


def test_tty_container_that_exits_is_recorded_with_its_code_and_output(project):
    project.write("""
services:
  job:
    image: BUSYBOX
    tty: true
    command: ["sh", "-c", "echo done; exit 3"]
""")
    project.ok("up", "-d")

    [cid] = [c["ID"] for c in project.ps_json("-a")]
    state = project.root / "containers" / cid / "state.json"
    poll_until(lambda: json.loads(state.read_text())["status"] == "exited",
               what="the job's exit to be recorded")
    [c] = project.ps_json("-a")
    assert (c["State"], c["ExitCode"]) == ("exited", 3), c
    assert poll_until(lambda: log_records(project, "job"), what="the log") == \
        [{"log": "done\r\n", "stream": "stdout", "time": log_records(project, "job")[0]["time"]}]
    poll_until(lambda: not project.supervisor_pids(), what="the supervisor to exit")
