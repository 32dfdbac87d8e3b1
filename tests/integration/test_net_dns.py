"""The DNS server on each gateway and the published ports, served by the network
runtime (`stack net-plumbing serve`, as the supervisor will run it)."""
import socket
import subprocess
import sys

import pytest

from conftest import STACK
from netlib import (CLIENT, ECHO_SERVER, Serve, STUB_UPSTREAM, links, needs_root, resolve,
                    ruleset, sh)
from netlib import nsf, plumb, upstream  # noqa: F401 (fixtures)

pytestmark = needs_root

A, AAAA, PTR = 1, 28, 12
NOERROR, SERVFAIL, NXDOMAIN = 0, 2, 3


@pytest.fixture
def dead_upstream(tmp_path):
    conf = tmp_path / "resolv-dead.conf"
    conf.write_text("nameserver 127.0.0.99\n")  # nothing listens there
    return conf


@pytest.fixture
def serve(plumb):
    started = []

    def start(resolv_conf, timeout_ms=1000):
        s = Serve(plumb, STACK, resolv_conf, timeout_ms)
        started.append(s)
        return s
    yield start
    for s in started:
        assert s.stop() == 0


def test_containers_resolve_each_other_by_service_container_name_alias_and_talk(
        plumb, nsf, serve, upstream):
    gw = plumb.network("default")
    a, b = nsf(), nsf()
    ip_a = plumb.attach("default", "dp-web-1", a, "--service", "web", "--default-route")
    ip_b = plumb.attach("default", "dp-db-1", b, "--service", "db", "--alias", "database",
                        "--hostname", "dbhost", "--default-route")
    serve(upstream)
    for name in ["db", "dp-db-1", "database", "dbhost", "DB."]:
        assert resolve(a, gw, name)[:2] == (NOERROR, [ip_b]), name
    assert resolve(a, gw, "db", proto="tcp")[:2] == (NOERROR, [ip_b])
    assert resolve(b, gw, "web")[:2] == (NOERROR, [ip_a])
    assert resolve(a, gw, "db", AAAA)[:2] == (NOERROR, [])
    rev = ".".join(reversed(ip_b.split("."))) + ".in-addr.arpa"
    assert resolve(a, gw, rev, PTR)[:2] == (NOERROR, ["dp-db-1"])
    assert resolve(a, gw, "nosuchservice")[0] == NXDOMAIN
    b.spawn_py(ECHO_SERVER, "tcp", 5432, "db")
    _, [addr], _ = resolve(a, gw, "db")
    assert a.py(CLIENT, "tcp", addr, 5432).stdout.strip() == "db:ping"


def test_other_network_can_neither_resolve_nor_reach(plumb, nsf, serve, upstream):
    gw1 = plumb.network("one")
    gw2 = plumb.network("two")
    a, c = nsf(), nsf()
    ip_a = plumb.attach("one", "dp-a-1", a, "--service", "a", "--default-route")
    plumb.attach("two", "dp-c-1", c, "--service", "c", "--default-route")
    serve(upstream)
    assert resolve(c, gw2, "a")[0] == NXDOMAIN
    assert resolve(c, gw2, "dp-a-1")[0] == NXDOMAIN
    rev = ".".join(reversed(ip_a.split("."))) + ".in-addr.arpa"
    # Not in this network: forwarded upstream, which does not know stack's names.
    assert "dp-a-1" not in resolve(c, gw2, rev, PTR)[1]
    # Asking the other network's server directly gets no answer at all.
    assert resolve(c, gw1, "a", timeout=2)[0] is None
    a.spawn_py(ECHO_SERVER, "tcp", 80, "a")
    assert c.py(CLIENT, "tcp", ip_a, 80).returncode != 0


def test_three_replicas_all_answer_in_turn(plumb, nsf, serve, upstream):
    gw = plumb.network("default")
    client = nsf()
    plumb.attach("default", "dp-client-1", client)
    ips = {plumb.attach("default", f"dp-api-{i}", nsf(), "--service", "api")
           for i in (1, 2, 3)}
    serve(upstream)
    firsts = set()
    for _ in range(3):
        rcode, answers, _ = resolve(client, gw, "api")
        assert rcode == NOERROR and set(answers) == ips
        firsts.add(answers[0])
    assert firsts == ips


def test_external_names_are_forwarded_to_the_upstream(plumb, nsf, serve, upstream):
    gw = plumb.network("default")
    a = nsf()
    plumb.attach("default", "dp-a-1", a)
    serve(upstream)
    assert resolve(a, gw, "example.test")[:2] == (NOERROR, ["198.51.100.7"])
    assert resolve(a, gw, "nx.example.test")[0] == NXDOMAIN


def test_ipv6_upstream_resolvers_are_used(plumb, nsf, serve, tmp_path):
    gw = plumb.network("default")
    a = nsf()
    plumb.attach("default", "dp-a-1", a)
    stub = subprocess.Popen([sys.executable, "-c", STUB_UPSTREAM, "::1"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert stub.stdout.readline().strip() == "ready"
        conf = tmp_path / "resolv6.conf"
        # A dead IPv4 one first: the IPv6 one is the next, not skipped.
        conf.write_text("nameserver 127.0.0.99\nnameserver ::1\n")
        serve(conf, timeout_ms=1000)
        assert resolve(a, gw, "example.test")[:2] == (NOERROR, ["198.51.100.7"])
        assert resolve(a, gw, "example.test", proto="tcp")[:2] == (NOERROR, ["198.51.100.8"])
        assert resolve(a, gw, "tc.example.test")[:2] == (NOERROR, ["198.51.100.8"])
        assert resolve(a, gw, "nx.example.test")[0] == NXDOMAIN
    finally:
        stub.kill()
        stub.wait()


def test_a_query_over_tcp_is_forwarded_over_tcp(plumb, nsf, serve, upstream):
    gw = plumb.network("default")
    a = nsf()
    plumb.attach("default", "dp-a-1", a)
    serve(upstream)
    # The stub answers .8 only over TCP.
    assert resolve(a, gw, "example.test", proto="tcp")[:2] == (NOERROR, ["198.51.100.8"])
    assert resolve(a, gw, "nx.example.test", proto="tcp")[0] == NXDOMAIN
    # several queries on one connection's worth of traffic, one after another
    for i in range(3):
        assert resolve(a, gw, f"n{i}.example.test", proto="tcp")[1] == ["198.51.100.8"]


def test_a_truncated_udp_answer_is_asked_again_over_tcp(plumb, nsf, serve, upstream):
    gw = plumb.network("default")
    a = nsf()
    plumb.attach("default", "dp-a-1", a)
    serve(upstream)
    # Over UDP the stub answers tc.* with TC and nothing else; the full answer comes
    # from asking it over TCP, and it fits the client's 512 bytes.
    assert resolve(a, gw, "tc.example.test")[:2] == (NOERROR, ["198.51.100.8"])


def test_tcp_forwarding_fails_over_and_gives_servfail_in_bounded_time(
        plumb, nsf, serve, upstream, tmp_path):
    gw = plumb.network("default")
    a = nsf()
    plumb.attach("default", "dp-a-1", a)
    silent = subprocess.Popen([sys.executable, "-c", STUB_UPSTREAM, "127.0.0.98", "silent"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert silent.stdout.readline().strip() == "ready"
        # First a server that accepts and never answers, then one that refuses: both
        # are passed over for the live one.
        conf = tmp_path / "resolv-three.conf"
        conf.write_text("nameserver 127.0.0.98\nnameserver 127.0.0.99\n"
                        "nameserver 127.0.0.53\n")
        s = serve(conf, timeout_ms=1500)
        rcode, answers, secs = resolve(a, gw, "example.test", proto="tcp")
        assert (rcode, answers) == (NOERROR, ["198.51.100.8"])
        assert secs < 5
        assert s.stop() == 0
        conf.write_text("nameserver 127.0.0.98\nnameserver 127.0.0.99\n")
        serve(conf, timeout_ms=1000)
        rcode, _, secs = resolve(a, gw, "example.test", proto="tcp")
        assert rcode == SERVFAIL and secs < 5
    finally:
        silent.kill()
        silent.wait()


def test_unreachable_upstream_gives_servfail_in_bounded_time(plumb, nsf, serve,
                                                              dead_upstream):
    gw = plumb.network("default")
    a = nsf()
    plumb.attach("default", "dp-a-1", a)
    serve(dead_upstream, timeout_ms=500)
    rcode, _, secs = resolve(a, gw, "example.test")
    assert rcode == SERVFAIL
    assert secs < 5


def test_published_ports_answer_from_loopback_and_from_a_remote_host(plumb, nsf, serve,
                                                                      upstream):
    plumb.network("default")
    web = nsf()
    plumb.attach("default", "dp-web-1", web, "--default-route",
                 "--publish", "18081:80", "--publish", "18082:5300/udp")
    web.spawn_py(ECHO_SERVER, "tcp", 80, "web")
    web.spawn_py(ECHO_SERVER, "udp", 5300, "udp")
    remote = nsf("r")
    host_if = "rh" + remote.name[-8:]
    sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", "up0", "netns",
       remote.name)
    try:
        sh("ip", "addr", "add", "192.0.2.1/24", "dev", host_if)
        sh("ip", "link", "set", host_if, "up")
        remote.run("ip", "addr", "add", "192.0.2.2/24", "dev", "up0")
        remote.run("ip", "link", "set", "up0", "up")
        serve(upstream)
        for host in ["127.0.0.1", "192.0.2.1"]:  # loopback (proxy) and own address (DNAT)
            r = subprocess.run([sys.executable, "-c", CLIENT, "tcp", host, "18081"],
                               capture_output=True, text=True)
            assert r.stdout.strip() == "web:ping", (host, r)
            r = subprocess.run([sys.executable, "-c", CLIENT, "udp", host, "18082"],
                               capture_output=True, text=True)
            assert r.stdout.strip() == "udp:ping", (host, r)
        assert remote.py(CLIENT, "tcp", "192.0.2.1", 18081).stdout.strip() == "web:ping"
        assert remote.py(CLIENT, "udp", "192.0.2.1", 18082).stdout.strip() == "udp:ping"
    finally:
        sh("ip", "link", "del", host_if, check=False)


def test_serve_reports_a_published_port_in_use(plumb, nsf, upstream):
    plumb.network("default")
    plumb.attach("default", "dp-web-1", nsf(), "--publish", "18083:80")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 18083))
    s.listen(1)
    try:
        with pytest.raises(AssertionError, match="port 18083/tcp is already in use"):
            Serve(plumb, STACK, upstream)
    finally:
        s.close()


def test_nothing_is_left_after_serve_and_teardown(plumb, nsf, serve, upstream):
    plumb.network("default")
    plumb.attach("default", "dp-web-1", nsf(), "--publish", "18084:80")
    s = serve(upstream)
    assert s.stop() == 0
    plumb.ok("teardown", plumb.project)
    assert "stk-" not in links() and "stv-" not in links()
    assert "stk-" not in ruleset()
    assert plumb.record() is None


def test_a_dead_first_upstream_fails_over_to_the_next(plumb, nsf, serve, upstream, tmp_path):
    gw = plumb.network("default")
    a = nsf()
    plumb.attach("default", "dp-a-1", a)
    conf = tmp_path / "resolv-two.conf"
    conf.write_text("nameserver 127.0.0.99\nnameserver 127.0.0.53\n")
    serve(conf, timeout_ms=1000)
    rcode, answers, secs = resolve(a, gw, "example.test")
    assert (rcode, answers) == (NOERROR, ["198.51.100.7"])
    assert secs < 5


def test_published_port_reached_from_its_own_network_through_the_gateway(plumb, nsf,
                                                                          serve, upstream):
    gw = plumb.network("default")
    web, other = nsf(), nsf()
    plumb.attach("default", "dp-web-1", web, "--default-route", "--publish", "18085:80")
    plumb.attach("default", "dp-other-1", other, "--default-route")
    web.spawn_py(ECHO_SERVER, "tcp", 80, "web")
    serve(upstream)
    assert other.py(CLIENT, "tcp", gw, 18085).stdout.strip() == "web:ping"
    assert web.py(CLIENT, "tcp", gw, 18085).stdout.strip() == "web:ping"
