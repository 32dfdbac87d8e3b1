"""Start-up cost: libcurl, libarchive, libnl, libnftables and ldns are opened on first use
(docs/build.md). Commands that do not need them must not load them, and a command that
needs one that cannot be opened says which Debian package to install, exits 1 and leaves
nothing behind. A library is made unloadable for real: LD_LIBRARY_PATH points the loader
at a directory holding a file of the library's SONAME that is not a usable copy of it."""
import re
import subprocess
import uuid
from pathlib import Path

import pytest

from conftest import STACK
from engine_helpers import engine  # noqa: F401
from netlib import Plumbing, links, needs_root

# What `stack version`, `config` and `runtime run` may load: libc and the libraries
# the binary links (docs/build.md), and the dynamic loader itself.
ALLOWED = re.compile(r"lib(c|m|yaml-0|json-c|uv|seccomp|cap)\.so\.[0-9]+$|^ld-linux")
LAZY = ("curl", "archive", "nl-3", "nl-route-3", "nftables", "ldns", "crypto")


def loaded_objects(stderr):
    """The shared objects the dynamic loader mapped, from LD_DEBUG=files output."""
    return set(re.findall(r"file=(\S+) \[0\];\s+(?:needed|dynamically loaded) by", stderr))


def soname(lib):
    """The SONAME of lib<lib> as the system's loader cache knows it (libcurl.so.4)."""
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    m = re.search(rf"^\s*(lib{re.escape(lib)}\.so\.[0-9]+) \(", out, re.M)
    assert m, f"lib{lib} is not installed"
    return m.group(1)


@pytest.fixture
def broken(tmp_path):
    """broken(lib, kind) -> env whose LD_LIBRARY_PATH serves a bad copy of lib<lib>:
    kind "empty" is not an ELF file at all; "stub" is a shared object with the right
    SONAME but none of the library's functions (a wrong or truncated install)."""
    def make(lib, kind):
        d = tmp_path / f"libs-{lib}-{kind}"
        d.mkdir()
        name = soname(lib)
        if kind == "empty":
            (d / name).write_bytes(b"")
        else:
            src = d / "stub.c"
            src.write_text("int stk_test_stub;\n")
            subprocess.run(["cc", "-shared", "-fPIC", f"-Wl,-soname,{name}", "-o",
                            str(d / name), str(src)], check=True)
        return {"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": str(d)}, name
    return make


def run(args, env, **kw):
    return subprocess.run([STACK, *args], capture_output=True, text=True, env=env,
                          timeout=120, **kw)


def assert_clean_failure(r, name):
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert re.search(rf"cannot load {re.escape(name)} \(install [a-z0-9][a-z0-9.+-]+\)",
                     r.stderr), r.stderr


def test_version_loads_only_the_linked_libraries():
    r = run(["version"], {"PATH": "/usr/bin:/bin", "LD_DEBUG": "files"})
    assert r.returncode == 0, r.stderr
    objs = loaded_objects(r.stderr)
    assert objs and all(ALLOWED.search(o) for o in objs), sorted(objs)


def test_config_hash_opens_libcrypto_only_when_asked(tmp_path):
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: nginx\n")
    env = {"PATH": "/usr/bin:/bin", "LD_DEBUG": "files"}
    r = run(["config", "--hash", "web"], env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(r"web [0-9a-f]{64}\n", r.stdout), r.stdout
    assert re.search(r"file=libcrypto\.so\.[0-9]+ \[0\];\s+dynamically loaded by", r.stderr)
    r = run(["config", "--services"], env, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == "web\n", r
    assert "libcrypto" not in r.stderr


def test_config_hash_without_a_usable_libcrypto_exits_with_the_package(broken, tmp_path):
    """A path with no explicit load before its first call (the safety net): a clear
    message and exit 127, never a crash."""
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: nginx\n")
    env, name = broken("crypto", "stub")
    r = run(["config", "--hash", "web"], env, cwd=tmp_path)
    assert r.returncode == 127, (r.returncode, r.stderr)
    assert re.search(rf"^stack: cannot load {re.escape(name)} \(install [a-z0-9.+-]+\): "
                     r"no function ", r.stderr, re.M), r.stderr


def test_config_loads_no_lazy_library(tmp_path):
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web:\n    image: nginx\n    ports: ['8080:80']\n")
    r = run(["config"], {"PATH": "/usr/bin:/bin", "LD_DEBUG": "files"}, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "web:" in r.stdout
    objs = loaded_objects(r.stderr)
    assert all(ALLOWED.search(o) for o in objs), sorted(objs)


@needs_root
def test_runtime_run_without_a_usable_libcrypto_still_confines_the_container(engine, broken):  # noqa: F811
    """libcrypto is not needed for the default profile: the filter is never skipped."""
    env, _ = broken("crypto", "stub")
    args, _, _ = engine._args(["/bin/grep", "Seccomp:", "/proc/self/status"], None, None)
    r = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["Seccomp:", "2"], r.stdout


@needs_root
def test_runtime_run_without_networks_loads_none_of_the_lazy_ones(engine):  # noqa: F811
    """The default seccomp profile's cache is keyed without a digest: nothing of crypto,
    curl, archive, nl, nftables or ldns is mapped."""
    args, _, _ = engine._args(["/bin/true"], None, None)
    r = subprocess.run(args, capture_output=True, text=True, timeout=60,
                       env={"PATH": "/usr/bin:/bin", "LD_DEBUG": "files"})
    assert r.returncode == 0, r.stderr
    objs = loaded_objects(r.stderr)
    assert objs and all(ALLOWED.search(o) for o in objs), sorted(objs)


def test_pull_without_a_usable_libcurl_names_the_package(broken, tmp_path):
    env, name = broken("curl", "stub")
    r = run(["--root", str(tmp_path / "root"), "pull", "127.0.0.1:1/nothing:latest"], env)
    assert_clean_failure(r, name)
    assert "pull 127.0.0.1:1/nothing:latest: " in r.stderr
    assert "no function curl_" in r.stderr
    assert not list((tmp_path / "root").glob("images/layers/*/*"))


def test_login_without_a_usable_libcurl_names_the_package(broken, tmp_path):
    env, name = broken("curl", "empty")
    env["HOME"] = str(tmp_path)
    r = run(["login", "-u", "u", "-p", "p", "127.0.0.1:1"], env)
    assert_clean_failure(r, name)
    assert not (tmp_path / ".docker").exists()


def test_load_without_a_usable_libarchive_names_the_package(broken, tmp_path):
    env, name = broken("archive", "empty")
    tar = tmp_path / "images.tar"
    subprocess.run(["tar", "-C", str(tmp_path), "-cf", str(tar), "--files-from", "/dev/null"],
                   check=True)
    r = run(["--root", str(tmp_path / "root"), "load", "-i", str(tar)], env)
    assert_clean_failure(r, name)
    assert "file too short" in r.stderr  # the loader's own reason is kept


def test_save_without_a_usable_libarchive_names_the_package(broken, tmp_path):
    env, name = broken("archive", "stub")
    out = tmp_path / "out.tar"
    r = run(["--root", str(tmp_path / "root"), "save", "-o", str(out), "busybox"], env)
    assert_clean_failure(r, name)
    assert "save: " in r.stderr
    assert not out.exists()


@needs_root
@pytest.mark.parametrize("lib", ["nl-route-3", "nftables"])
def test_network_create_without_a_usable_library_names_the_package(broken, tmp_path, lib):
    env, name = broken(lib, "stub")
    project = "p" + uuid.uuid4().hex[:6]
    before = links()
    r = run(["--root", str(tmp_path / "root"), "net-plumbing", "network-create", project,
             "default"], env)
    assert_clean_failure(r, name)
    if lib == "nl-route-3":
        assert links() == before  # nothing was created before the library was needed
    # Whatever was made is removed by a teardown with the real libraries.
    p = Plumbing(lambda *a: run(list(a), {"PATH": "/usr/bin:/bin"}), tmp_path / "root", project)
    assert p("teardown", project).returncode == 0
    assert links() == before


@needs_root
def test_dns_server_without_a_usable_ldns_names_the_package(broken, tmp_path):
    project = "p" + uuid.uuid4().hex[:6]
    ok = {"PATH": "/usr/bin:/bin"}
    plumb = Plumbing(lambda *a: run(list(a), ok), tmp_path / "root", project)
    try:
        assert plumb("network-create", project, "default").returncode == 0
        resolv = tmp_path / "resolv.conf"
        resolv.write_text("nameserver 127.0.0.1\n")
        env, name = broken("ldns", "stub")
        r = run(["--root", str(tmp_path / "root"), "net-plumbing", "serve", project,
                 "--resolv-conf", str(resolv), "--dns-port", "5353"], env)
        assert_clean_failure(r, name)
    finally:
        assert plumb("teardown", project).returncode == 0


def test_the_binary_does_not_link_the_lazy_libraries():
    out = subprocess.run(["objdump", "-p", STACK], capture_output=True, text=True,
                         check=True).stdout
    needed = re.findall(r"NEEDED\s+(\S+)", out)
    assert needed and all(ALLOWED.search(n) for n in needed), needed
    for lib in LAZY:
        assert not any(n.startswith(f"lib{lib}.so") for n in needed)
    assert Path(STACK).exists()
