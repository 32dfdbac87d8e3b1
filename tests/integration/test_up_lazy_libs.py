"""The supervisor's memory: ldns, and the libssl and libcrypto it links (2 MiB resident
that cannot be unloaded), are opened by the DNS server when the first query arrives,
not when it starts listening. A project whose containers resolve nothing never maps
them; the first name a container resolves loads them and is answered right.
libcrypto is not loaded for anything else a project of the default profile needs: the
CLI records each service's config hash with the applied model, and the engine keys its
seccomp cache without a digest (only a seccomp file profile's key takes one)."""
import json
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


THREE = """
services:
  web:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
    environment: {V: "ENV"}
  api:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
  worker:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
"""


def recorded_hashes(project):
    """The config hash each running container was created with, by service."""
    out = {}
    for c in project.ps_json():
        cfg = json.loads((project.root / "containers" / c["ID"] / "config.json").read_text())
        out[c["Service"]] = (c["ID"], cfg["config_hash"])
    return out


def config_hashes(project):
    r = project.ok("config", "--hash", "*")
    return dict(line.split() for line in r.out.splitlines())


def test_supervisor_never_loads_libcrypto_for_hashes_or_seccomp(project):
    project.write(THREE.replace("ENV", "1"))
    project.ok("up", "-d")
    [sup] = project.supervisor_pids()
    assert has(mapped(sup), "uv") and not has(mapped(sup), "crypto"), sorted(mapped(sup))
    first = recorded_hashes(project)
    assert sorted(first) == ["api", "web", "worker"]
    # The recorded hash is the digest `config --hash` prints (as Compose's label), the one
    # the supervisor computed itself before: upgraded projects are not recreated.
    assert {k: v[1] for k, v in first.items()} == config_hashes(project)

    # A changed service is recreated (its new hash recorded), the others kept.
    project.write(THREE.replace("ENV", "2"))
    project.ok("up", "-d")
    assert project.supervisor_pids() == [sup]
    second = recorded_hashes(project)
    assert second["web"][0] != first["web"][0]
    assert second["api"] == first["api"] and second["worker"] == first["worker"]
    assert {k: v[1] for k, v in second.items()} == config_hashes(project)
    assert second["web"][1] != first["web"][1]
    assert not has(mapped(sup), "crypto"), sorted(mapped(sup))

    # up again with nothing changed recreates nothing; restart starts each again (by a
    # new supervisor, which reads the hashes back with the model).
    project.ok("up", "-d")
    assert recorded_hashes(project) == second
    project.ok("restart")
    assert recorded_hashes(project) == second
    project.ok("up", "-d")
    assert recorded_hashes(project) == second
    [sup] = project.supervisor_pids()
    assert not has(mapped(sup), "crypto"), sorted(mapped(sup))
    r = project.ok("exec", "-T", "web", "grep", "Seccomp:", "/proc/self/status")
    assert r.out.split() == ["Seccomp:", "2"], r.out


def test_a_seccomp_file_profile_still_confines_its_service(project):
    (project.dir / "profile.json").write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "archMap": [{"architecture": "SCMP_ARCH_X86_64",
                     "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                      "errnoRet": 13}],
    }))
    project.write("""
services:
  web:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
    security_opt: ["seccomp=PROFILE"]
  api:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
""".replace("PROFILE", str(project.dir / "profile.json")))
    project.ok("up", "-d")
    for _ in range(2):  # as started, then as restarted
        r = project("exec", "-T", "web", "sh", "-c",
                    "mkdir /tmp/x; grep Seccomp: /proc/self/status")
        assert "Permission denied" in r.err and "Seccomp:\t2" in r.out, r
        # the writable layer outlives a restart: the first round's directory is there
        r = project("exec", "-T", "api", "sh", "-c",
                    "rmdir /tmp/x 2>/dev/null; mkdir /tmp/x && echo made")
        assert r.code == 0 and "made" in r.out, r
        project.ok("restart")
    assert len(list((project.root / "cache" / "seccomp").glob("file-*.bpf"))) == 1
    assert len(list((project.root / "cache" / "seccomp").glob("default-*.bpf"))) == 1
