"""Helpers for network tests: namespaces that stand in for containers and remote hosts,
and small TCP/UDP/DNS clients and servers run inside them. Everything happens inside the
suite's own network namespace (see conftest.py); no packet leaves it."""
import json
import os
import socket
import struct
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

needs_root = pytest.mark.skipif(os.geteuid() != 0 or not os.environ.get("STACK_TEST_NETNS"),
                                reason="needs root and the suite's own network namespace")


def sh(*args, check=True):
    return subprocess.run(list(args), capture_output=True, text=True, check=check)


class Netns:
    def __init__(self, prefix="t"):
        self.name = f"{prefix}{uuid.uuid4().hex[:8]}"
        sh("ip", "netns", "add", self.name)
        self.path = f"/run/netns/{self.name}"
        self.procs = []

    def run(self, *args, check=True, timeout=30):
        return subprocess.run(["ip", "netns", "exec", self.name, *args], capture_output=True,
                              text=True, check=check, timeout=timeout)

    def py(self, code, *args, timeout=30):
        return self.run(sys.executable, "-c", code, *map(str, args), check=False,
                        timeout=timeout)

    def spawn_py(self, code, *args):
        p = subprocess.Popen(["ip", "netns", "exec", self.name, sys.executable, "-c", code,
                              *map(str, args)], stdout=subprocess.PIPE, text=True)
        self.procs.append(p)
        line = p.stdout.readline()  # the server prints "ready" once it listens
        assert line.strip() == "ready", line
        return p

    def close(self):
        for p in self.procs:
            p.kill()
            p.wait()
        sh("ip", "netns", "del", self.name, check=False)


ECHO_SERVER = r"""
import socket, sys, threading
kind, port, reply = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
# Dual-stack: IPv4 clients arrive as ::ffff:a.b.c.d (IPv6 may be off: then IPv4 only).
def sock(kind):
    try:
        s = socket.socket(socket.AF_INET6, kind); s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        return s, "::"
    except OSError:
        return socket.socket(socket.AF_INET, kind), "0.0.0.0"
if kind == "tcp":
    s, any_ = sock(socket.SOCK_STREAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((any_, port)); s.listen(64); print("ready", flush=True)
    def serve(c):
        data = c.recv(65536)
        while data:
            c.sendall(reply + b":" + data)
            data = c.recv(65536)
        c.close()
    while True:
        c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
else:
    s, any_ = sock(socket.SOCK_DGRAM); s.bind((any_, port))
    print("ready", flush=True)
    while True:
        data, addr = s.recvfrom(65536); s.sendto(reply + b":" + data, addr)
"""

CLIENT = r"""
import socket, sys
kind, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    if kind == "tcp":
        s = socket.create_connection((host, port), timeout=2); s.sendall(b"ping")
        print(s.recv(100).decode())
    else:
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_DGRAM); s.settimeout(2)
        s.sendto(b"ping", (host, port)); print(s.recv(100).decode())
except OSError as e:
    print("ERR", type(e).__name__, e); sys.exit(1)
"""


def dns_query_bytes(name, qtype=1, qid=0x1234):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack(">HH", qtype, 1)


def _skip_name(msg, off):
    while True:
        n = msg[off]
        if n == 0:
            return off + 1
        if n & 0xC0 == 0xC0:
            return off + 2
        off += n + 1


def _read_name(msg, off):
    labels = []
    while True:
        n = msg[off]
        if n == 0:
            return ".".join(labels)
        if n & 0xC0 == 0xC0:
            off = ((n & 0x3F) << 8) | msg[off + 1]
            continue
        labels.append(msg[off + 1:off + 1 + n].decode())
        off += n + 1


def dns_parse_answer(msg):
    """(rcode, [answers as strings]) for A, AAAA and PTR records."""
    qid, flags, qd, an, _, _ = struct.unpack(">HHHHHH", msg[:12])
    off = 12
    for _ in range(qd):
        off = _skip_name(msg, off) + 4
    out = []
    for _ in range(an):
        off = _skip_name(msg, off)
        rtype, _, _, rdlen = struct.unpack(">HHIH", msg[off:off + 10])
        off += 10
        rdata = msg[off:off + rdlen]
        if rtype == 1:
            out.append(socket.inet_ntop(socket.AF_INET, rdata))
        elif rtype == 28:
            out.append(socket.inet_ntop(socket.AF_INET6, rdata))
        elif rtype == 12:
            out.append(_read_name(msg, off))
        off += rdlen
    return flags & 0xF, out


# Runs inside a namespace: sends one query over UDP (or TCP) and prints the JSON result.
DNS_CLIENT = r"""
import json, socket, struct, sys, time
server, name, qtype, proto = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
timeout = float(sys.argv[5])
q = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
for l in name.rstrip(".").split("."):
    q += bytes([len(l)]) + l.encode()
q += b"\x00" + struct.pack(">HH", qtype, 1)
t0 = time.monotonic()
try:
    if proto == "udp":
        fam = socket.AF_INET6 if ":" in server else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_DGRAM); s.settimeout(timeout)
        s.sendto(q, (server, 53)); r = s.recv(4096)
    else:
        s = socket.create_connection((server, 53), timeout=timeout)
        s.sendall(struct.pack(">H", len(q)) + q)
        n = struct.unpack(">H", s.recv(2))[0]; r = b""
        while len(r) < n: r += s.recv(n - len(r))
    print(json.dumps({"hex": r.hex(), "secs": time.monotonic() - t0}))
except OSError as e:
    print(json.dumps({"error": str(e), "secs": time.monotonic() - t0}))
"""


def resolve(ns, server, name, qtype=1, proto="udp", timeout=8):
    """(rcode, answers, seconds) of one query from inside ns; rcode None: no answer."""
    r = ns.py(DNS_CLIENT, server, name, qtype, proto, timeout)
    res = json.loads(r.stdout)
    if "error" in res:
        return None, [], res["secs"]
    rcode, answers = dns_parse_answer(bytes.fromhex(res["hex"]))
    return rcode, answers, res["secs"]


class Plumbing:
    """Drives `stack net-plumbing` for one project under a temporary state root."""

    def __init__(self, stack, root, project):
        self.stack, self.root, self.project = stack, str(root), project

    def __call__(self, *args):
        return self.stack("--root", self.root, "net-plumbing", *args)

    def ok(self, *args):
        r = self(*args)
        assert r.code == 0, r
        return r.out.strip()

    def network(self, name, *opts):
        return self.ok("network-create", self.project, name, *opts)

    def attach(self, network, container, ns, *opts):
        return self.ok("attach", self.project, network, container, "--netns", ns.path, *opts)

    def record(self):
        p = Path(self.root) / "net" / f"{self.project}.json"
        return json.loads(p.read_text()) if p.exists() else None


def links():
    return sh("ip", "-o", "link").stdout


def ruleset():
    return sh("nft", "list", "ruleset").stdout


class Serve:
    """`stack net-plumbing serve`: the runtime (DNS, proxies) as the supervisor runs it."""

    def __init__(self, plumb, stack_bin, resolv_conf, timeout_ms=1000):
        self.p = subprocess.Popen(
            [stack_bin, "--root", plumb.root, "net-plumbing", "serve", plumb.project,
             "--resolv-conf", str(resolv_conf), "--timeout-ms", str(timeout_ms)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        if line.strip() != "ready":
            self.p.wait()
            raise AssertionError("serve failed: " + self.p.stderr.read())

    def stop(self):
        self.p.terminate()
        try:
            return self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise


# A stub upstream resolver on loopback, over UDP and TCP: every A query for NAME gets
# 198.51.100.7 over UDP and 198.51.100.8 over TCP (so a test sees which way a query
# went), except names starting with "nx." which get NXDOMAIN, and names starting with
# "tc." which get an empty truncated (TC) answer over UDP. With "silent" as the second
# argument it accepts TCP connections and never answers (and serves no UDP). Only ever
# listens on 127.0.0.0/8 or ::1.
STUB_UPSTREAM = r"""
import socket, struct, sys, threading
addr = sys.argv[1]
silent = len(sys.argv) > 2 and sys.argv[2] == "silent"
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
def answer(q, tcp):
    qid, flags = struct.unpack(">HH", q[:4])
    off = 12; labels = []
    while q[off]:
        labels.append(q[off+1:off+1+q[off]].decode()); off += q[off] + 1
    question = q[12:off+5]
    if labels[0] == "nx":
        return struct.pack(">HHHHHH", qid, 0x8183, 1, 0, 0, 0) + question
    if labels[0] == "tc" and not tcp:
        return struct.pack(">HHHHHH", qid, 0x8380, 1, 0, 0, 0) + question
    ip = "198.51.100.8" if tcp else "198.51.100.7"
    ans = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton(ip)
    return struct.pack(">HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question + ans
def serve_tcp(c):
    with c:
        while True:
            h = c.recv(2)
            if len(h) < 2 or silent:
                if silent:
                    c.recv(65536)
                return
            n = struct.unpack(">H", h)[0]; q = b""
            while len(q) < n:
                d = c.recv(n - len(q))
                if not d:
                    return
                q += d
            r = answer(q, True)
            c.sendall(struct.pack(">H", len(r)) + r)
t = socket.socket(fam); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind((addr, 53)); t.listen(16)
def accept():
    while True:
        c, _ = t.accept()
        threading.Thread(target=serve_tcp, args=(c,), daemon=True).start()
threading.Thread(target=accept, daemon=True).start()
if not silent:
    s = socket.socket(fam, socket.SOCK_DGRAM); s.bind((addr, 53))
print("ready", flush=True)
if silent:
    threading.Event().wait()
while True:
    q, a = s.recvfrom(4096)
    s.sendto(answer(q, False), a)
"""


# Fixtures shared by the test_net*.py files (imported there by name).

@pytest.fixture
def nsf():
    """nsf(prefix) -> a new network namespace, removed after the test."""
    made = []

    def make(prefix="c"):
        ns = Netns(prefix)
        made.append(ns)
        return ns
    yield make
    for ns in made:
        ns.close()


@pytest.fixture
def plumb(stack, tmp_path):
    """A project for `stack net-plumbing`, torn down after the test. Its root is also
    the engine's state root, so that `runtime run --network container:ID` finds the
    other container."""
    p = Plumbing(stack, tmp_path / "state", "p" + uuid.uuid4().hex[:6])
    yield p
    p("teardown", p.project)


@pytest.fixture
def upstream(tmp_path):
    """A stub resolver on 127.0.0.53 of the suite's namespace, and a resolv.conf naming it."""
    p = subprocess.Popen([sys.executable, "-c", STUB_UPSTREAM, "127.0.0.53"],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    conf = tmp_path / "resolv.conf"
    conf.write_text("# test\nnameserver 127.0.0.53\n")
    yield conf
    p.kill()
    p.wait()
