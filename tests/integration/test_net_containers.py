"""Project networks with real containers: busybox containers started by `stack runtime
run --project P --network NET` on networks made by `stack net-plumbing`, resolving and
reaching each other through the DNS server of `stack net-plumbing serve`. Everything
stays inside the suite's own network namespace (conftest.py)."""
import socket
import subprocess
import time
import uuid

import pytest

from conftest import STACK
from engine_helpers import engine, needs_busybox, needs_root  # noqa: F401
from netlib import (Serve, links, needs_root as needs_netns, ruleset)
from netlib import plumb, upstream  # noqa: F401 (fixtures)

pytestmark = [needs_root, needs_busybox, needs_netns]


@pytest.fixture
def serve(plumb, upstream):
    started = []

    def start():
        s = Serve(plumb, STACK, upstream)
        started.append(s)
        return s
    yield start
    for s in started:
        assert s.stop() == 0


class Net:
    """Runs containers of one project through `stack runtime run`."""

    def __init__(self, engine, plumb):
        self.engine, self.plumb = engine, plumb
        self.running = []

    def _args(self, cmd, spec, cid, networks, name, service):
        spec = dict(spec or {})
        spec.setdefault("stop_signal", "KILL")  # sleep and nc as PID 1 ignore SIGTERM
        args, cid, report = self.engine._args(cmd, spec, cid)
        extra = ["--project", self.plumb.project]
        for n in networks:
            extra += ["--network", n]
        if name:
            extra += ["--name", name]
        if service:
            extra += ["--service", service]
        i = args.index("--")
        return args[:i] + extra + args[i:], cid

    def run(self, *cmd, networks=(), name=None, service=None, spec=None, timeout=60):
        args, _ = self._args(cmd, spec, None, networks, name, service)
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                              env={"PATH": "/usr/bin:/bin"})

    def start(self, *cmd, networks=(), name=None, service=None, spec=None, cid=None):
        args, cid = self._args(cmd, spec, cid, networks, name, service)
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env={"PATH": "/usr/bin:/bin"})
        self.running.append(p)
        p.cid = cid
        return p

    def wait_attached(self, p, name, timeout=10):
        """The address of a started container, once its process runs."""
        deadline = time.time() + timeout
        pidfile = self.engine.root / "containers" / p.cid / "pid"
        while time.time() < deadline:
            rec = self.plumb.record() or {}
            eps = [e for e in rec.get("endpoints", []) if e["container"] == name]
            if eps and pidfile.exists():
                return eps[0]["ip"]
            assert p.poll() is None, p.communicate()
            time.sleep(0.05)
        raise AssertionError(f"{name} was not attached")

    def stop_all(self):
        for p in self.running:
            if p.poll() is None:
                p.terminate()
            try:
                p.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()


@pytest.fixture
def net(engine, plumb):  # noqa: F811
    n = Net(engine, plumb)
    yield n
    n.stop_all()


def link_names():
    return sorted(line.split(":")[1].strip() for line in links().splitlines())


# A TCP server that answers each connection with its name, until killed.
def server(reply, port=5000):
    return ("nc", "-ll", "-p", str(port), "-e", "echo", reply)


# Polls until the command succeeds, so a client does not race its server's start.
def retry(cmd, tries=50):
    return ("sh", "-c", f"for i in $(seq {tries}); do {cmd} && exit 0; sleep 0.1; done; exit 1")


def test_containers_resolve_each_other_by_service_container_name_and_alias_and_talk(
        net, plumb, serve):
    gw = plumb.network("default")
    serve()
    p = net.start(*server("db-says-hi"), networks=["default,alias=database"],
                  name=f"{plumb.project}-db-1", service="db")
    ip_db = net.wait_attached(p, f"{plumb.project}-db-1")
    r = net.run("sh", "-c",
                "cat /etc/resolv.conf; for n in db %s-db-1 database; do nslookup $n || exit 1;"
                "done; %s" % (plumb.project, " ".join(retry("echo x | nc -w 2 db 5000")[2:])),
                networks=["default"], name=f"{plumb.project}-web-1", service="web")
    assert r.returncode == 0, r
    assert f"nameserver {gw}" in r.stdout
    assert r.stdout.count(f"Address: {ip_db}") >= 3
    assert "db-says-hi" in r.stdout
    # and the other way round: the server side sees the client by its service name
    p = net.start("sleep", "30", networks=["default"], name=f"{plumb.project}-web-2",
                  service="web")
    ip_web = net.wait_attached(p, f"{plumb.project}-web-2")
    r = net.run("nslookup", "web", networks=["default"], name=f"{plumb.project}-x-1")
    assert r.returncode == 0 and ip_web in r.stdout, r


def test_container_on_another_network_can_neither_resolve_nor_reach(net, plumb, serve):
    plumb.network("one")
    plumb.network("two")
    serve()
    p = net.start(*server("a"), networks=["one"], name=f"{plumb.project}-a-1", service="a")
    ip_a = net.wait_attached(p, f"{plumb.project}-a-1")
    # A neighbour on the same network does reach it, so the failure below is isolation.
    r = net.run(*retry(f"echo x | nc -w 2 {ip_a} 5000"), networks=["one"])
    assert r.returncode == 0 and "a" in r.stdout, r
    r = net.run("sh", "-c", f"nslookup a; nslookup {plumb.project}-a-1;"
                f"echo x | nc -w 2 {ip_a} 5000 || echo UNREACHABLE",
                networks=["two"], name=f"{plumb.project}-c-1", service="c")
    assert "NXDOMAIN" in r.stdout and ip_a not in r.stdout.split("UNREACHABLE")[0], r
    assert "UNREACHABLE" in r.stdout, r


def test_three_replicas_all_answer_for_the_service_name(net, plumb, serve):
    plumb.network("default")
    serve()
    ips = set()
    for i in (1, 2, 3):
        p = net.start("sleep", "60", networks=["default"], name=f"{plumb.project}-api-{i}",
                      service="api")
        ips.add(net.wait_attached(p, f"{plumb.project}-api-{i}"))
    r = net.run("nslookup", "-type=a", "api", networks=["default"])
    assert r.returncode == 0, r
    got = {line.split()[-1] for line in r.stdout.splitlines() if line.startswith("Address:")}
    assert ips <= got and len(ips) == 3, r


def test_network_mode_none_has_only_loopback(net):
    r = net.run("sh", "-c", "ip -o link; cat /etc/resolv.conf", networks=["none"])
    assert r.returncode == 0, r
    names = [line.split(":")[1].strip() for line in r.stdout.splitlines() if ": " in line
             and line[0].isdigit()]
    assert names == ["lo"], r
    assert "127.0.0." not in r.stdout.split("lo:")[-1].split("# Generated")[-1]


def test_network_mode_host_shares_the_test_namespace(net):
    # A listener on the namespace's loopback is reachable from the container; the
    # container sees the namespace's links and the host's /etc/hosts.
    dummy = "stkd" + uuid.uuid4().hex[:6]
    subprocess.run(["ip", "link", "add", dummy, "type", "bridge"], check=True)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        p = net.start("sh", "-c", f"ip -o link; echo hello | nc 127.0.0.1 {port};"
                      "cat /etc/hosts /etc/resolv.conf; hostname",
                      networks=["host"], spec={"extra_hosts": {"gw": "host-gateway"}})
        s.settimeout(20)
        conn, _ = s.accept()
        assert conn.recv(10) == b"hello\n"
        conn.close()
        out, err = p.communicate(timeout=30)
        r = subprocess.CompletedProcess(p.args, p.returncode, out, err)
    finally:
        s.close()
        subprocess.run(["ip", "link", "del", dummy], check=True)
    assert r.returncode == 0, r
    assert f"{dummy}:" in r.stdout, r
    host_hosts = open("/etc/hosts").read().splitlines()[0]
    assert host_hosts in r.stdout
    assert "127.0.0.1\tgw" in r.stdout
    assert socket.gethostname() in r.stdout.splitlines()[-1]


def test_network_mode_container_shares_its_namespace_files_and_hostname(net, plumb, serve):
    plumb.network("default")
    serve()
    first = net.start(*server("first"), networks=["default"],
                      name=f"{plumb.project}-db-1", service="db",
                      spec={"hostname": "dbhost"})
    ip = net.wait_attached(first, f"{plumb.project}-db-1")
    r = net.run("sh", "-c", "ip -o -4 addr show eth0; hostname; cat /etc/hosts;"
                + " ".join(retry("echo x | nc -w 2 127.0.0.1 5000")[2:]),
                networks=[f"container:{first.cid}"])
    assert r.returncode == 0, r
    assert f"inet {ip}/" in r.stdout
    assert "dbhost" in r.stdout.splitlines()[1]
    assert f"{ip}\tdbhost" in r.stdout
    assert "first" in r.stdout


def test_network_mode_container_of_a_missing_container_is_an_error(net):
    r = net.run("true", networks=["container:nosuch"])
    assert r.returncode != 0 and "container:nosuch" in r.stderr, r


def test_network_mode_service_joins_a_running_container_of_the_service(net, plumb, serve):
    plumb.network("default")
    serve()
    # Not the service's: another service's container, on the same network.
    other = net.start(*server("other", 5001), networks=["default"],
                      name=f"{plumb.project}-cache-1", service="cache")
    net.wait_attached(other, f"{plumb.project}-cache-1")
    first = net.start(*server("first"), networks=["default"],
                      name=f"{plumb.project}-db-1", service="db",
                      spec={"hostname": "dbhost"})
    ip = net.wait_attached(first, f"{plumb.project}-db-1")
    r = net.run("sh", "-c", "ip -o -4 addr show eth0; hostname;"
                + " ".join(retry("echo x | nc -w 2 127.0.0.1 5000")[2:]),
                networks=["service:db"])
    assert r.returncode == 0, r
    assert f"inet {ip}/" in r.stdout
    assert "dbhost" in r.stdout.splitlines()[1]
    assert "first" in r.stdout


def test_network_mode_service_without_a_running_container_is_an_error(net, plumb, serve):
    plumb.network("default")
    serve()
    r = net.run("true", networks=["service:db"])
    assert r.returncode != 0, r
    assert f"service:db: no running container of service db in project {plumb.project}" \
        in r.stderr, r
    # A container of the service that has exited no longer counts.
    net.run("true", networks=["default"], name=f"{plumb.project}-db-1", service="db")
    r = net.run("true", networks=["service:db"])
    assert r.returncode != 0 and "no running container of service db" in r.stderr, r


def test_resolv_conf_and_hosts_inside(net, plumb, serve):
    gw = plumb.network("default")
    serve()
    spec = {"hostname": "web1", "dns": ["192.0.2.53"], "dns_search": ["corp.example"],
            "dns_opt": ["ndots:2", "timeout:1"],
            "extra_hosts": {"host.docker.internal": "host-gateway", "db": "10.0.0.5"}}
    r = net.run("sh", "-c", "cat /etc/resolv.conf; echo ---; cat /etc/hosts",
                networks=["default"], spec=spec)
    assert r.returncode == 0, r
    resolv, hosts = r.stdout.split("---\n")
    assert resolv.splitlines()[1:] == [f"nameserver {gw}", "nameserver 192.0.2.53",
                                      "search corp.example", "options ndots:2 timeout:1"]
    lines = hosts.splitlines()
    assert "127.0.0.1\tlocalhost" in lines
    assert f"{gw}\thost.docker.internal" in lines
    assert "10.0.0.5\tdb" in lines
    ip = [ln for ln in lines if ln.endswith("\tweb1")]
    assert ip and ip[0].startswith("10.89."), lines


def test_second_network_is_eth1_and_the_first_has_the_default_route(net, plumb):
    gw1 = plumb.network("front")
    plumb.network("back")
    r = net.run("sh", "-c", "ip -o -4 addr; ip route", networks=["front", "back,ip=10.89.1.77"])
    assert r.returncode == 0, r
    eth1 = [ln for ln in r.stdout.splitlines() if " eth1 " in ln]
    assert eth1 and "inet 10.89.1.77/24" in eth1[0], r
    assert f"default via {gw1} dev eth0" in r.stdout, r


def test_a_container_that_fails_to_start_is_detached(net, plumb):
    plumb.network("default")
    before = link_names()
    r = net.run("/no/such/program", networks=["default"], name="broken")
    assert r.returncode != 0 and "no/such/program" in r.stderr, r
    assert plumb.record()["endpoints"] == []
    assert link_names() == before


def test_an_unknown_network_is_a_clear_error_and_leaves_nothing(net, plumb):
    plumb.network("default")
    before = link_names()
    r = net.run("true", networks=["default", "nosuch"], name="x")
    assert r.returncode != 0 and "network nosuch does not exist" in r.stderr, r
    assert plumb.record()["endpoints"] == []
    assert link_names() == before


def test_nothing_is_left_after_the_containers_and_teardown(net, plumb, serve):
    plumb.network("default")
    serve()
    net.wait_attached(net.start("sleep", "60", networks=["default"], name="a"), "a")
    net.stop_all()
    assert plumb.record()["endpoints"] == []
    plumb.ok("teardown", plumb.project)
    assert "stk-" not in links() and "stv-" not in links()
    assert "stk-" not in ruleset()


def test_ipv6_network_gives_containers_an_address_aaaa_answers_and_a_hosts_line(
        net, plumb, serve):
    plumb.network("default", "--ipv6")
    serve()
    p = net.start(*server("v6-db"), networks=["default,ip6=fd00:89::db"],
                  name=f"{plumb.project}-db-1", service="db")
    net.wait_attached(p, f"{plumb.project}-db-1")
    r = net.run("sh", "-c", "cat /etc/hosts; ip -6 addr show eth0; ip -6 route;"
                "nslookup -type=aaaa db; echo x | nc -w 2 fd00:89::db 5000",
                networks=["default"], spec={"hostname": "web6"})
    assert r.returncode == 0, r
    assert "fd00:89::2\tweb6" in r.stdout
    line = [ln for ln in r.stdout.splitlines() if "inet6 fd00:89::2/64" in ln]
    assert line and "tentative" not in line[0], r.stdout
    assert "default via fd00:89::1 dev eth0" in r.stdout
    assert "Address: fd00:89::db" in r.stdout
    assert "v6-db" in r.stdout
