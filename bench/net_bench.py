"""Network benchmarks, run by hand (never by CI): DNS answers per second from one
container's point of view, and the extra latency of a TCP round trip through a published
port (loopback proxy, DNAT) against a direct connection to the container.

    sudo python3 bench/net_bench.py [path/to/stack]

Re-executes itself in a fresh network + mount namespace: nothing touches the host.
Where podman runs (it needs runc here: crun refuses the host's hybrid cgroup layout, and
netavark + aardvark-dns for DNS), the same figures are taken for podman, with a
throw-away --root/--runroot/network config under a temporary directory that is removed
afterwards; otherwise the reason it could not run is printed."""
import glob
import os
import shutil
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


PODMAN_CONF = """[network]
network_backend = "netavark"
network_config_dir = "{d}/netconf"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{d}/events.log"
tmp_dir = "{d}/tmp"
"""


def podman_bench():
    """The same measures for podman: aardvark-dns on the gateway, netavark's DNAT and
    podman's port forwarding. Containers are busybox rootfs directories (no image pull),
    the load generator and echo server are this script's, run in the containers'
    namespaces through nsenter. Returns a reason when podman cannot run here."""
    if not shutil.which("podman"):
        return "podman is not installed"
    for dep in ("/usr/lib/podman/netavark", "/usr/lib/podman/aardvark-dns"):
        if not os.path.exists(dep):
            return f"{dep} is missing (apt-get install netavark aardvark-dns)"
    if not shutil.which("runc"):
        return "runc is missing: crun 1.8 refuses this host's hybrid cgroup layout"
    d = tempfile.mkdtemp(prefix="podman-bench-")
    env = dict(os.environ, CONTAINERS_CONF=os.path.join(d, "containers.conf"))
    open(env["CONTAINERS_CONF"], "w").write(PODMAN_CONF.format(d=d))
    rootfs = os.path.join(d, "rootfs")
    for sub in ("bin", "etc", "proc", "sys", "dev", "tmp"):
        os.makedirs(os.path.join(rootfs, sub))
    shutil.copy("/bin/busybox", os.path.join(rootfs, "bin/busybox"))
    os.symlink("busybox", os.path.join(rootfs, "bin/sleep"))
    base = ["podman", "--root", f"{d}/root", "--runroot", f"{d}/runroot",
            "--storage-driver", "vfs"]
    # The sandbox's rlimits cannot be raised, so ask for ones below them.
    run = base + ["run", "-d", "--runtime", "runc", "--ulimit", "nofile=1024:1024",
                  "--ulimit", "nproc=4096:4096", "--network", "benchnet", "--rootfs"]

    def pm(*a):
        return subprocess.run(list(a), check=True, capture_output=True, text=True,
                              env=env).stdout.strip()

    def netns_of(name):
        pid = pm(*base, "inspect", "-f", "{{.State.Pid}}", name)
        return f"--net=/proc/{pid}/ns/net"

    # podman (cgroupfs manager) makes libpod_parent in every hierarchy and leaves it.
    cg_before = set(glob.glob("/sys/fs/cgroup/*/libpod_parent") +
                    glob.glob("/sys/fs/cgroup/libpod_parent"))
    procs = []
    try:
        pm(*base, "network", "create", "--subnet", "10.99.0.0/24", "benchnet")
        # --rootfs is a flag: the rootfs directory is the first positional argument.
        pm(*run, "--name", "client", rootfs, "sleep", "600")
        pm(*run, "--name", "web", "-p", "18091:80", rootfs, "sleep", "600")
        for i in (1, 2, 3):
            pm(*run, "--name", f"api{i}", "--network-alias", "api", rootfs, "sleep", "600")
        web_ip = pm(*base, "inspect", "-f",
                    "{{.NetworkSettings.Networks.benchnet.IPAddress}}", "web")
        echo = subprocess.Popen(["nsenter", netns_of("web"), sys.executable, "-c", ECHO],
                                stdout=subprocess.PIPE, text=True)
        procs.append(echo)
        assert echo.stdout.readline().strip() == "ready"
        for window in (1, 32):
            qps = subprocess.run(["nsenter", netns_of("client"), sys.executable, "-c",
                                  DNS_LOAD, "10.99.0.1", "5", str(window)],
                                 capture_output=True, text=True, check=True).stdout.strip()
            print(f"podman dns (aardvark-dns): A query for a 3-replica alias, {window} in "
                  f"flight: {float(qps):.0f} answers/s")
        base_rtt = rtt_us(web_ip, 80)
        print(f"podman tcp rtt direct to container {web_ip}:80: median {base_rtt[0]:.1f} us,"
              f" p99 {base_rtt[1]:.1f} us")
        for label, host in [("published port on loopback", "127.0.0.1"),
                            ("published port on the host address", "192.0.2.1")]:
            try:
                m = rtt_us(host, 18091)
                print(f"podman tcp rtt {label} {host}:18091: median {m[0]:.1f} us "
                      f"(+{m[0]-base_rtt[0]:.1f}), p99 {m[1]:.1f} us")
            except OSError as e:
                print(f"podman tcp rtt {label} {host}:18091: fails: {e}")
        return None
    except (subprocess.CalledProcessError, AssertionError) as e:
        err = getattr(e, "stderr", "") or str(e)
        return f"podman failed: {err.strip().splitlines()[-1] if err.strip() else e}"
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        subprocess.run(base + ["rm", "-f", "-a", "-t", "0"], capture_output=True, env=env)
        subprocess.run(base + ["network", "rm", "-f", "benchnet"], capture_output=True,
                       env=env)
        subprocess.run(base + ["system", "reset", "-f"], capture_output=True, env=env)
        subprocess.run(["umount", "-R", f"{d}/root"], capture_output=True)
        subprocess.run(["umount", "-R", f"{d}/runroot"], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)
        for cg in set(glob.glob("/sys/fs/cgroup/*/libpod_parent") +
                      glob.glob("/sys/fs/cgroup/libpod_parent")) - cg_before:
            for sub, _, _ in sorted(os.walk(cg), key=lambda w: -len(w[0])):
                try:
                    os.rmdir(sub)
                except OSError:
                    pass


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
        why = podman_bench()
        if why:
            print(f"podman: not measured: {why}")
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
