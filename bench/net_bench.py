"""Network benchmarks, run by hand (never by CI): DNS answers per second from one
container's point of view, and the extra latency of a TCP round trip through a published
port (loopback proxy, DNAT) against a direct connection to the container.

    sudo python3 bench/net_bench.py [path/to/stack]

Re-executes itself in a fresh network + mount namespace: nothing touches the host."""
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
STACK = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "stack")


def sh(*a):
    return subprocess.run(a, check=True, capture_output=True, text=True).stdout.strip()


def plumb(root, *a):
    return sh(STACK, "--root", root, "net-plumbing", *a)


DNS_LOAD = r"""
import socket, struct, sys, time
server, secs, window = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
q = lambda i: struct.pack(">HHHHHH", i, 0x0100, 1, 0, 0, 0) + b"\x03api\x00\x00\x01\x00\x01"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
s.connect((server, 53))
sent = got = 0
end = time.monotonic() + secs
for i in range(window):
    s.send(q(sent & 0xffff)); sent += 1
while time.monotonic() < end:
    try:
        s.recv(4096); got += 1
    except socket.timeout:
        pass
    s.send(q(sent & 0xffff)); sent += 1
print(got / secs)
"""

ECHO = r"""
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 80)); s.listen(8); print("ready", flush=True)
while True:
    c, _ = s.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        d = c.recv(64)
        if not d: break
        c.sendall(d)
    c.close()
"""


def rtt_us(host, port, n=5000):
    c = socket.create_connection((host, port))
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for _ in range(200):  # warm up
        c.sendall(b"x"); c.recv(1)
    times = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        c.sendall(b"x"); c.recv(1)
        times.append((time.perf_counter_ns() - t0) / 1000)
    c.close()
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99)]


def main():
    sh("ip", "link", "set", "lo", "up")
    os.makedirs("/run/netns", exist_ok=True)
    sh("mount", "-t", "tmpfs", "bench-netns", "/run/netns")
    root = tempfile.mkdtemp()
    proj = "bench"
    procs = []
    try:
        gw = plumb(root, "network-create", proj, "default")
        nss = {}
        for n in ["client", "web", "api1", "api2", "api3"]:
            nss[n] = "b" + uuid.uuid4().hex[:8]
            sh("ip", "netns", "add", nss[n])
        plumb(root, "attach", proj, "default", "bench-client-1", "--netns",
              f"/run/netns/{nss['client']}", "--service", "client", "--default-route")
        web_ip = plumb(root, "attach", proj, "default", "bench-web-1", "--netns",
                       f"/run/netns/{nss['web']}", "--service", "web", "--default-route",
                       "--publish", "18090:80")
        for i in (1, 2, 3):
            plumb(root, "attach", proj, "default", f"bench-api-{i}", "--netns",
                  f"/run/netns/{nss[f'api{i}']}", "--service", "api")
        # A second address on the host, as a LAN address would be.
        sh("ip", "link", "add", "bench0", "type", "veth", "peer", "name", "bench1")
        sh("ip", "addr", "add", "192.0.2.1/24", "dev", "bench0")
        sh("ip", "link", "set", "bench0", "up")
        conf = os.path.join(root, "resolv.conf")
        open(conf, "w").write("nameserver 127.0.0.99\n")
        serve = subprocess.Popen([STACK, "--root", root, "net-plumbing", "serve", proj,
                                  "--resolv-conf", conf], stdout=subprocess.PIPE, text=True)
        procs.append(serve)
        assert serve.stdout.readline().strip() == "ready"
        echo = subprocess.Popen(["ip", "netns", "exec", nss["web"], sys.executable, "-c", ECHO],
                                stdout=subprocess.PIPE, text=True)
        procs.append(echo)
        assert echo.stdout.readline().strip() == "ready"

        for window in (1, 32):
            qps = subprocess.run(["ip", "netns", "exec", nss["client"], sys.executable, "-c",
                                  DNS_LOAD, gw, "5", str(window)],
                                 capture_output=True, text=True, check=True).stdout.strip()
            print(f"dns: A query for a 3-replica service, {window} in flight: "
                  f"{float(qps):.0f} answers/s")
        base = rtt_us(web_ip, 80)
        print(f"tcp rtt direct to container {web_ip}:80: median {base[0]:.1f} us, "
              f"p99 {base[1]:.1f} us")
        for label, host in [("published port via loopback proxy", "127.0.0.1"),
                            ("published port via DNAT (host address)", "192.0.2.1")]:
            m = rtt_us(host, 18090)
            print(f"tcp rtt {label} {host}:18090: median {m[0]:.1f} us (+{m[0]-base[0]:.1f}),"
                  f" p99 {m[1]:.1f} us")
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        plumb(root, "teardown", proj)


if __name__ == "__main__":
    if os.environ.get("STACK_BENCH_NETNS"):
        main()
    else:
        os.environ["STACK_BENCH_NETNS"] = "1"
        os.execvp("unshare", ["unshare", "--net", "--mount", "--propagation", "private", "--",
                              sys.executable, os.path.abspath(__file__), *sys.argv[1:]])
