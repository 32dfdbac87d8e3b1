"""Networks: bridges, veths, addresses, isolation, internal networks, published ports,
teardown. Containers are stood in for by network namespaces the tests create."""
import os
import socket
import subprocess
import time
import uuid

import pytest

from netlib import (CLIENT, ECHO_SERVER, Plumbing, links, needs_root, ruleset, sh)
from netlib import nsf, plumb  # noqa: F401 (fixtures)

pytestmark = needs_root


@pytest.fixture
def remote(nsf):
    """A namespace acting as a remote host, linked to the suite's namespace (the "host")
    by a veth: host 192.0.2.1/24, remote 192.0.2.2/24 (TEST-NET-1, never routed)."""
    r = nsf("r")
    host_if = "rh" + r.name[-8:]
    sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", "up0", "netns", r.name)
    sh("ip", "addr", "add", "192.0.2.1/24", "dev", host_if)
    sh("ip", "link", "set", host_if, "up")
    r.run("ip", "addr", "add", "192.0.2.2/24", "dev", "up0")
    r.run("ip", "link", "set", "up0", "up")
    r.run("ip", "link", "set", "lo", "up")
    yield r
    sh("ip", "link", "del", host_if, check=False)


def test_attach_gives_each_container_an_address_and_they_talk_tcp(plumb, nsf):
    gw = plumb.network("default")
    assert gw == "10.89.0.1"
    a, b = nsf(), nsf()
    ip_a = plumb.attach("default", "pa-web-1", a, "--service", "web", "--default-route")
    ip_b = plumb.attach("default", "pa-db-1", b, "--service", "db", "--default-route")
    assert ip_a == "10.89.0.2" and ip_b == "10.89.0.3"
    assert "eth0" in a.run("ip", "-o", "addr", "show", "eth0").stdout
    assert "default via 10.89.0.1" in a.run("ip", "route").stdout
    veth = plumb.record()["endpoints"][0]["veth"]
    assert "hairpin on" in sh("ip", "-d", "link", "show", veth).stdout
    b.spawn_py(ECHO_SERVER, "tcp", 5432, "db")
    r = a.py(CLIENT, "tcp", ip_b, 5432)
    assert r.stdout.strip() == "db:ping", r


def test_second_interface_is_named_eth1(plumb, nsf):
    plumb.network("front")
    plumb.network("back")
    a = nsf()
    plumb.attach("front", "x-1", a)
    plumb.attach("back", "x-1", a, "--ifname", "eth1")
    out = a.run("ip", "-o", "-4", "addr").stdout
    assert "eth0" in out and "eth1" in out and "10.89.1." in out


def test_networks_are_isolated_from_each_other(plumb, nsf):
    plumb.network("one")
    plumb.network("two")
    a, c = nsf(), nsf()
    ip_a = plumb.attach("one", "a-1", a, "--default-route")
    plumb.attach("two", "c-1", c, "--default-route")
    a.spawn_py(ECHO_SERVER, "tcp", 80, "a")
    r = c.py(CLIENT, "tcp", ip_a, 80)
    assert r.returncode != 0 and "ERR" in r.stdout


def test_outbound_is_masqueraded_and_internal_network_has_no_way_out(plumb, nsf, remote):
    plumb.network("default")
    plumb.network("sealed", "--internal")
    out, sealed = nsf(), nsf()
    plumb.attach("default", "out-1", out, "--default-route")
    plumb.attach("sealed", "in-1", sealed, "--default-route")
    remote.spawn_py(r"""
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 7000)); s.listen(8); print("ready", flush=True)
while True:
    c, addr = s.accept(); c.sendall(addr[0].encode()); c.close()
""")
    r = out.py(CLIENT, "tcp", "192.0.2.2", 7000)
    assert r.stdout.strip() == "192.0.2.1", r  # the remote sees the host, not 10.89.x
    assert "default" not in sealed.run("ip", "route").stdout
    r = sealed.py(CLIENT, "tcp", "192.0.2.2", 7000)
    assert r.returncode != 0
    # Even with a route added by hand inside the container, the host drops it.
    sealed.run("ip", "route", "add", "default", "via", "10.89.1.1")
    r = sealed.py(CLIENT, "tcp", "192.0.2.2", 7000)
    assert r.returncode != 0


def test_ipam_config_subnet_gateway_and_ip_range_are_honoured(plumb, nsf):
    gw = plumb.network("custom", "--subnet", "172.29.4.0/24", "--gateway", "172.29.4.254",
                       "--ip-range", "172.29.4.128/25")
    assert gw == "172.29.4.254"
    a, b = nsf(), nsf()
    assert plumb.attach("custom", "c-1", a) == "172.29.4.128"
    assert plumb.attach("custom", "c-2", b, "--ip", "172.29.4.10") == "172.29.4.10"


def test_subnet_never_overlaps_a_host_route_or_another_network(plumb, stack, tmp_path):
    sh("ip", "route", "add", "blackhole", "10.89.0.0/24")
    try:
        assert plumb.network("n1") == "10.89.1.1"
        other = Plumbing(stack, plumb.root, "other" + uuid.uuid4().hex[:4])
        try:
            assert other.network("n1") == "10.89.2.1"
            r = other("network-create", other.project, "n2", "--subnet", "10.89.1.0/25")
            assert r.code == 1 and "overlaps network n1" in r.err, r
            r = other("network-create", other.project, "n3", "--subnet", "10.89.0.0/16")
            assert r.code == 1 and "overlaps" in r.err, r
        finally:
            other("teardown", other.project)
    finally:
        sh("ip", "route", "del", "blackhole", "10.89.0.0/24", check=False)


def test_port_in_use_is_a_clear_error_naming_the_port(plumb, nsf):
    plumb.network("default")
    a = nsf()
    s = socket.socket()
    s.bind(("0.0.0.0", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        r = plumb("attach", plumb.project, "default", "w-1", "--netns", a.path,
                  "--publish", f"{port}:80")
        assert r.code == 1
        assert f"port {port}/tcp is already in use" in r.err, r
        assert plumb.record()["endpoints"] == []
        assert "stv-" not in links()
    finally:
        s.close()


def test_teardown_removes_everything(plumb, nsf):
    plumb.network("default")
    plumb.network("back", "--internal")
    a, b = nsf(), nsf()
    plumb.attach("default", "t-1", a, "--publish", "18080:80")
    plumb.attach("back", "t-1", a, "--ifname", "eth1")
    plumb.attach("back", "t-2", b)
    rec = plumb.record()
    bridges = [n["bridge"] for n in rec["networks"]]
    veths = [e["veth"] for e in rec["endpoints"]]
    for name in bridges + veths:
        assert name in links()
    assert all(br in ruleset() for br in bridges)
    plumb.ok("teardown", plumb.project)
    for name in bridges + veths:
        assert name not in links()
    assert "stk-" not in ruleset()
    assert "10.89." not in sh("ip", "-o", "addr").stdout
    assert plumb.record() is None
    assert "eth0" not in a.run("ip", "link").stdout


def test_teardown_after_a_crash_removes_what_still_exists(plumb, nsf):
    plumb.network("default")
    a = nsf()
    plumb.attach("default", "k-1", a)
    rec = plumb.record()
    # Half the project is already gone, as after a crash part way through `down`.
    sh("ip", "link", "del", rec["endpoints"][0]["veth"])
    sh("nft", "delete", "table", "inet", rec["networks"][0]["bridge"])
    plumb.ok("teardown", plumb.project)
    assert rec["networks"][0]["bridge"] not in links()
    assert plumb.record() is None
    plumb.ok("teardown", plumb.project)  # idempotent


def test_detach_releases_the_lease_and_the_veth(plumb, nsf):
    plumb.network("default")
    a, b = nsf(), nsf()
    plumb.attach("default", "d-1", a)
    veth = plumb.record()["endpoints"][0]["veth"]
    plumb.ok("detach", plumb.project, "d-1")
    assert veth not in links()
    assert plumb.attach("default", "d-2", b) == "10.89.0.2"


def test_detach_keeps_other_published_ports_and_removes_the_leaving_ones(plumb, nsf):
    plumb.network("default")
    a, b = nsf(), nsf()
    plumb.attach("default", "p-1", a, "--publish", "28090:80")
    plumb.attach("default", "q-1", b)
    plumb.ok("detach", plumb.project, "q-1")
    assert "dport 28090" in ruleset()
    plumb.ok("detach", plumb.project, "p-1")
    assert "dport 28090" not in ruleset()
    assert plumb.record()["networks"][0]["bridge"] in ruleset()


def test_attach_by_pid_moves_the_veth_into_that_process_namespace(plumb, nsf):
    plumb.network("default")
    a = nsf()
    p = subprocess.Popen(["ip", "netns", "exec", a.name, "sleep", "60"])
    try:
        # Until `ip netns exec` has entered the namespace and exec'd sleep: its comm, not
        # its cmdline, which names sleep from the start (the test raced with ip).
        deadline = time.monotonic() + 30
        while open(f"/proc/{p.pid}/comm").read().strip() != "sleep":
            assert time.monotonic() < deadline, "ip netns exec never ran sleep"
            time.sleep(0.01)
        ip = plumb.ok("attach", plumb.project, "default", "pid-1", "--pid", str(p.pid))
        assert ip in a.run("ip", "-o", "-4", "addr", "show", "eth0").stdout
    finally:
        p.kill()
        p.wait()
