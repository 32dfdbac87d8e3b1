"""The supervisor's memory: ldns, and the libssl and libcrypto it links (2 MiB resident
that cannot be unloaded), are opened by the DNS server when the first query arrives,
not when it starts listening. A project whose containers resolve nothing never maps
them; the first name a container resolves loads them and is answered right."""
from pathlib import Path

from engine_helpers import needs_root
from netlib import needs_root as needs_netns
from uplib import project  # noqa: F401 (fixture)

pytestmark = [needs_root, needs_netns]


def mapped(pid):
    """The file names of the shared objects a process maps."""
    names = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        parts = line.split()
        if len(parts) > 5 and ".so" in parts[5]:
            names.add(Path(parts[5]).name)
    return names


def has(names, lib):
    return any(n.startswith(f"lib{lib}.so") for n in names)


def test_dns_server_opens_ldns_at_the_first_query(project):
    project.write("""
services:
  web:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
  client:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
""")
    project.ok("up", "-d")
    [sup] = project.supervisor_pids()
    before = mapped(sup)
    assert has(before, "uv") and not has(before, "ldns") and not has(before, "ssl"), \
        sorted(before)
    web = [c for c in project.ps_json() if c["Service"] == "web"][0]
    cfg = (project.root / "containers" / web["ID"] / "hosts").read_text()
    web_ip = [ln.split()[0] for ln in cfg.splitlines() if web["ID"][:12] in ln][0]
    r = project.ok("exec", "-T", "client", "nslookup", "web")
    assert web_ip in r.out.split("web", 1)[1], r.out
    after = mapped(sup)
    assert has(after, "ldns") and has(after, "crypto"), sorted(after)
    # Answered from the zone: a name no container has is NXDOMAIN, not a timeout.
    r = project("exec", "-T", "client", "nslookup", "nosuch")
    assert r.code != 0 and "NXDOMAIN" in r.out + r.err, r
