"""IPv6 on enable_ipv6 networks: a ULA subnet from the pool (or ipam's), the gateway on
the bridge, an address per container without DAD delay, a default route, nftables for
IPv6 (masquerade, isolation, internal, published ports) and DNS on the IPv6 gateway
with AAAA and ip6.arpa PTR answers. Containers are stood in for by namespaces the tests
create; the remote host is another namespace on documentation addresses."""
import ipaddress
import socket
import subprocess
import sys

import pytest

from conftest import STACK
from netlib import (CLIENT, ECHO_SERVER, Serve, links, needs_root, resolve, ruleset, sh)
from netlib import nsf, plumb, upstream  # noqa: F401 (fixtures)

pytestmark = needs_root

AAAA, PTR = 28, 12
NOERROR, NXDOMAIN = 0, 3


@pytest.fixture
def remote(nsf):
    """A remote host over IPv6: the suite's namespace is 2001:db8::1, the remote
    2001:db8::2 (documentation prefix, never routed)."""
    r = nsf("r")
    host_if = "rh" + r.name[-8:]
    sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", "up0", "netns", r.name)
    sh("ip", "addr", "add", "2001:db8::1/64", "dev", host_if, "nodad")
    sh("ip", "link", "set", host_if, "up")
    r.run("ip", "addr", "add", "2001:db8::2/64", "dev", "up0", "nodad")
    r.run("ip", "link", "set", "up0", "up")
    r.run("ip", "link", "set", "lo", "up")
    yield r
    sh("ip", "link", "del", host_if, check=False)


def attach6(plumb, network, container, ns, *opts):
    ip4, ip6 = plumb.attach(network, container, ns, *opts).split()
    return ip4, ip6


def network6(plumb, name, *opts):
    plumb.network(name, "--ipv6", *opts)
    nw = [n for n in plumb.record()["networks"] if n["name"] == name][0]
    return nw["subnet6"], nw["gateway6"]


def test_ipv6_network_has_a_ula_subnet_gateway_addresses_and_a_default_route(plumb, nsf):
    subnet6, gw6 = network6(plumb, "default")
    assert (subnet6, gw6) == ("fd00:89::/64", "fd00:89::1")
    bridge = plumb.record()["networks"][0]["bridge"]
    assert "inet6 fd00:89::1/64" in sh("ip", "-6", "addr", "show", bridge).stdout
    a, b = nsf(), nsf()
    _, ip6_a = attach6(plumb, "default", "v-web-1", a, "--default-route")
    _, ip6_b = attach6(plumb, "default", "v-db-1", b, "--default-route")
    assert (ip6_a, ip6_b) == ("fd00:89::2", "fd00:89::3")
    # Usable at once: no duplicate address detection holding it "tentative".
    addr = a.run("ip", "-6", "addr", "show", "eth0").stdout
    line = [ln for ln in addr.splitlines() if "fd00:89::2/64" in ln][0]
    assert "tentative" not in line and "nodad" in line
    assert "default via fd00:89::1 dev eth0" in a.run("ip", "-6", "route").stdout
    b.spawn_py(ECHO_SERVER, "tcp", 5432, "db")
    assert a.py(CLIENT, "tcp", ip6_b, 5432).stdout.strip() == "db:ping"
    assert a.py(CLIENT, "tcp", "10.89.0.3", 5432).stdout.strip() == "db:ping"


def test_ipv6_subnet_gateway_address_and_pool_are_honoured(plumb, nsf, stack, tmp_path):
    subnet6, gw6 = network6(plumb, "custom", "--subnet6", "fd42:1::/64",
                            "--gateway6", "fd42:1::fe")
    assert (subnet6, gw6) == ("fd42:1::/64", "fd42:1::fe")
    a = nsf()
    assert attach6(plumb, "custom", "c-1", a, "--ip6", "fd42:1::10")[1] == "fd42:1::10"
    assert attach6(plumb, "custom", "c-2", nsf())[1] == "fd42:1::1"
    # Taken already, outside the subnet, the gateway, on a network without IPv6:
    for bad, want in [("fd42:1::10", "already leased"), ("fd99::5", "not in subnet"),
                      ("fd42:1::fe", "gateway")]:
        r = plumb("attach", plumb.project, "custom", "c-x", "--netns", nsf().path, "--ip6", bad)
        assert r.code != 0 and want in r.err, r
    plumb.network("plain")
    r = plumb("attach", plumb.project, "plain", "c-x", "--netns", nsf().path, "--ip6",
              "fd42:1::11")
    assert r.code != 0 and "enable_ipv6" in r.err, r
    # An overlapping subnet names the network it overlaps; a bad one is refused.
    r = plumb("network-create", plumb.project, "clash", "--ipv6", "--subnet6", "fd42:1::/48")
    assert r.code != 0 and "overlaps network custom" in r.err, r
    r = plumb("network-create", plumb.project, "bad", "--ipv6", "--subnet6", "10.0.0.0/8")
    assert r.code != 0 and "bad IPv6 subnet" in r.err, r
    # The default pool is configurable, and carved past the subnets already in use.
    assert network6(plumb, "pooled", "--pool6", "fd55:7::/48")[0] == "fd55:7::/64"
    assert network6(plumb, "next")[0] == "fd00:89::/64"
    assert network6(plumb, "after")[0] == "fd00:89:0:1::/64"


def test_ipv6_subnet_never_overlaps_a_host_route(plumb):
    # A host route covering the pool's first /64 (a VPN's, say) pushes the carve on.
    sh("ip", "-6", "route", "add", "blackhole", "fd00:89::/64")
    try:
        assert network6(plumb, "n1")[0] == "fd00:89:0:1::/64"
        r = plumb("network-create", plumb.project, "n2", "--ipv6", "--subnet6",
                  "fd00:89::80/122")
        assert r.code == 1 and "subnet fd00:89::80/122 overlaps host route fd00:89::/64" in r.err, r
        assert not [n for n in plumb.record()["networks"] if n["name"] == "n2"]
    finally:
        sh("ip", "-6", "route", "del", "blackhole", "fd00:89::/64", check=False)


def test_dns_answers_aaaa_and_ip6_ptr_on_the_ipv6_gateway(plumb, nsf, upstream):
    _, gw6 = network6(plumb, "default")
    network6(plumb, "other")
    a, b, c = nsf(), nsf(), nsf()
    attach6(plumb, "default", "v-web-1", a, "--service", "web", "--default-route")
    _, ip6_b = attach6(plumb, "default", "v-db-1", b, "--service", "db", "--alias",
                       "database", "--default-route")
    _, ip6_c = attach6(plumb, "other", "v-c-1", c, "--service", "c", "--default-route")
    s = Serve(plumb, STACK, upstream)
    try:
        for name in ["db", "v-db-1", "database"]:
            assert resolve(a, gw6, name, AAAA)[:2] == (NOERROR, [ip6_b]), name
            assert resolve(a, "10.89.0.1", name, AAAA)[:2] == (NOERROR, [ip6_b]), name
        assert resolve(a, gw6, "db", AAAA, proto="tcp")[:2] == (NOERROR, [ip6_b])
        assert resolve(a, gw6, "db")[:2] == (NOERROR, ["10.89.0.3"])
        nibbles = ".".join(reversed(_expand(ip6_b))) + ".ip6.arpa"
        assert resolve(a, gw6, nibbles, PTR)[:2] == (NOERROR, ["v-db-1"])
        # Not on that network: NXDOMAIN from its own server, nothing from the other's.
        assert resolve(c, "fd00:89:0:1::1", "db", AAAA)[0] == NXDOMAIN
        assert resolve(c, gw6, "db", AAAA, timeout=2)[0] is None
        assert resolve(a, gw6, "c", AAAA)[0] == NXDOMAIN
    finally:
        assert s.stop() == 0


def _expand(ip6):
    return ipaddress.IPv6Address(ip6).exploded.replace(":", "")


def test_ipv6_outbound_is_masqueraded_isolated_and_internal_has_no_way_out(plumb, nsf,
                                                                            remote):
    network6(plumb, "default")
    network6(plumb, "sealed", "--internal")
    network6(plumb, "other")
    out, sealed, other = nsf(), nsf(), nsf()
    _, ip6_out = attach6(plumb, "default", "o-1", out, "--default-route")
    attach6(plumb, "sealed", "s-1", sealed, "--default-route")
    attach6(plumb, "other", "x-1", other, "--default-route")
    remote.spawn_py(r"""
import socket
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 7000)); s.listen(8); print("ready", flush=True)
while True:
    c, addr = s.accept(); c.sendall(addr[0].encode()); c.close()
""")
    r = out.py(CLIENT, "tcp", "2001:db8::2", 7000)
    assert r.stdout.strip() == "2001:db8::1", r  # the remote sees the host
    assert "default" not in sealed.run("ip", "-6", "route").stdout
    sealed.run("ip", "-6", "route", "add", "default", "via", "fd00:89:0:1::1")
    assert sealed.py(CLIENT, "tcp", "2001:db8::2", 7000).returncode != 0
    out.spawn_py(ECHO_SERVER, "tcp", 80, "o")
    r = other.py(CLIENT, "tcp", ip6_out, 80)
    assert r.returncode != 0 and "ERR" in r.stdout, r


def test_published_port_answers_over_ipv6_from_a_remote_host(plumb, nsf, remote):
    network6(plumb, "default")
    web = nsf()
    attach6(plumb, "default", "w-1", web, "--default-route", "--publish", "18086:80")
    web.spawn_py(ECHO_SERVER, "tcp", 80, "web")
    assert "dnat ip6 to [fd00:89::2]:80" in ruleset()
    # The host solicits the container's address from the bridge's link-local one, and
    # not at all while that is tentative: the bridge skips duplicate address detection,
    # so the first connection works at once (it used to fail in about 1 run in 4).
    bridge = plumb.record()["networks"][0]["bridge"]
    assert "tentative" not in sh("ip", "-6", "addr", "show", "dev", bridge).stdout
    r = remote.py(CLIENT, "tcp", "2001:db8::1", 18086)
    assert r.stdout.strip() == "web:ping", r
    r = remote.run("ip", "addr", "add", "192.0.2.2/24", "dev", "up0")
    sh("ip", "addr", "add", "192.0.2.1/24", "dev", "rh" + remote.name[-8:])
    assert remote.py(CLIENT, "tcp", "192.0.2.1", 18086).stdout.strip() == "web:ping"


def host_client(kind, host, port):
    """CLIENT run from the suite's namespace: the host itself."""
    return subprocess.run([sys.executable, "-c", CLIENT, kind, host, str(port)],
                          capture_output=True, text=True, timeout=30).stdout.strip()


def test_published_ports_with_ipv6_host_addresses(plumb, nsf, remote, upstream):
    network6(plumb, "default")
    web = nsf()
    attach6(plumb, "default", "w6-web-1", web, "--default-route",
            "--publish", "18090:80", "--publish", "[::1]:18091:80",
            "--publish", "[::]:18092:5300/udp", "--publish", "0.0.0.0:18093:80")
    ports = {p["host_port"]: p["host_ip"] for p in plumb.record()["endpoints"][0]["ports"]}
    assert ports == {18090: "", 18091: "::1", 18092: "::", 18093: "0.0.0.0"}
    web.spawn_py(ECHO_SERVER, "tcp", 80, "web")
    web.spawn_py(ECHO_SERVER, "udp", 5300, "udp")
    s = Serve(plumb, STACK, upstream)
    try:
        # From the host's loopback: ::1 like 127.0.0.1 (the proxy), on the ports that
        # include it.
        assert host_client("tcp", "::1", 18090) == "web:ping"
        assert host_client("tcp", "127.0.0.1", 18090) == "web:ping"
        assert host_client("tcp", "::1", 18091) == "web:ping"
        assert host_client("tcp", "127.0.0.1", 18091).startswith("ERR")
        assert host_client("udp", "::1", 18092) == "udp:ping"
        assert host_client("tcp", "127.0.0.1", 18093) == "web:ping"
        assert host_client("tcp", "::1", 18093).startswith("ERR")
        # From a remote host over IPv6: every address and [::] do, ::1 and 0.0.0.0 not.
        assert remote.py(CLIENT, "tcp", "2001:db8::1", 18090).stdout.strip() == "web:ping"
        assert remote.py(CLIENT, "udp", "2001:db8::1", 18092).stdout.strip() == "udp:ping"
        assert remote.py(CLIENT, "tcp", "2001:db8::1", 18091).returncode != 0
        assert remote.py(CLIENT, "tcp", "2001:db8::1", 18093).returncode != 0
    finally:
        assert s.stop() == 0


def test_ipv6_loopback_reaches_a_port_of_an_ipv4_only_network(plumb, nsf, upstream):
    plumb.network("default")
    web = nsf()
    plumb.attach("default", "w4-web-1", web, "--default-route", "--publish", "18094:80")
    web.spawn_py(ECHO_SERVER, "tcp", 80, "web")
    s = Serve(plumb, STACK, upstream)
    try:
        assert host_client("tcp", "::1", 18094) == "web:ping"
    finally:
        assert s.stop() == 0


@pytest.mark.parametrize("held, publish", [("::1", "18095:80"), ("::", "[::1]:18095:80"),
                                           ("::", "18095:80/udp")])
def test_port_in_use_on_ipv6_is_a_clear_error(plumb, nsf, held, publish):
    network6(plumb, "default")
    udp = publish.endswith("/udp")
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((held, 18095))
    if not udp:
        s.listen(1)
    try:
        r = plumb("attach", plumb.project, "default", "w-1", "--netns", nsf().path,
                  "--publish", publish)
        assert r.code == 1 and "port 18095/%s is already in use on" % ("udp" if udp else "tcp") in r.err, r
        assert plumb.record()["endpoints"] == []
    finally:
        s.close()


def test_teardown_leaves_no_ipv6_address_or_rule(plumb, nsf):
    network6(plumb, "default")
    attach6(plumb, "default", "t-1", nsf(), "--publish", "18087:80")
    plumb.ok("teardown", plumb.project)
    assert "fd00:89" not in sh("ip", "-6", "addr").stdout
    assert "stk-" not in links() and "stk-" not in ruleset()
