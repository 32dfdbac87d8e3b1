"""Registries over HTTPS, trusted through the system CA store: docker-registry serving TLS
with a certificate from a test CA (made with the openssl CLI) under a host name that is
not loopback. Inside the suite's private mount namespace the system bundle (Debian's
libcurl reads /etc/ssl/certs/ca-certificates.crt, and stack does not override it) is
bind-mounted with the test CA added, and /etc/hosts maps the test names to 127.0.0.1;
both are unmounted afterwards. Also: plain HTTP is never used for such a name unless the
registry is marked insecure (STACK_INSECURE_REGISTRIES, as Docker's insecure-registries),
and the Bearer token endpoint over HTTPS."""
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from image_fixtures import PushedRegistry
from registry import Proxy, CertAuthority, free_port

pytestmark = pytest.mark.skipif(
    not os.environ.get("STACK_TEST_NETNS") or os.geteuid() != 0,
    reason="bind-mounts the CA bundle and /etc/hosts in the suite's own mount namespace")

BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
NAMES = ["registry.stack.test", "untrusted.stack.test", "plain.stack.test"]


@pytest.fixture(scope="module")
def tls_env():
    d = Path(tempfile.mkdtemp(prefix="stack-tls-"))
    mounted = []
    try:
        env = {"dir": d, "ca": CertAuthority(d / "ca"), "rogue": CertAuthority(d / "rogue", "rogue CA")}
        bundle = d / "ca-certificates.crt"
        bundle.write_bytes(Path(BUNDLE).read_bytes() + b"\n" + env["ca"].cert.read_bytes())
        hosts = d / "hosts"
        hosts.write_text(Path("/etc/hosts").read_text() + "\n127.0.0.1 " + " ".join(NAMES) + "\n")
        for src, dst in ((bundle, BUNDLE), (hosts, "/etc/hosts")):
            subprocess.run(["mount", "--bind", str(src), dst], check=True)
            mounted.append(dst)
        yield env
    finally:
        for dst in reversed(mounted):
            subprocess.run(["umount", dst], check=True)
        shutil.rmtree(d, ignore_errors=True)


def tls_registry(env, images, name, ca, port):
    reg = PushedRegistry(env["dir"] / name, images, tls=ca.server_cert(name), name=name, port=port)
    reg.context = ca.client_context()
    reg.start()
    try:
        reg.ensure("busybox")
    except Exception:
        reg.stop()
        raise
    return reg


@pytest.fixture(scope="module")
def trusted(tls_env, test_images):
    """registry.stack.test on port 443, its certificate from the CA the system trusts."""
    reg = tls_registry(tls_env, test_images, "registry.stack.test", tls_env["ca"], 443)
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def untrusted(tls_env, test_images):
    """untrusted.stack.test, its certificate from a CA nobody trusts."""
    reg = tls_registry(tls_env, test_images, "untrusted.stack.test", tls_env["rogue"], free_port())
    yield reg
    reg.stop()


def images(stack, root):
    r = stack("--root", str(root), "images", "--format", "json")
    assert r.code == 0, r
    return json.loads(r.out)


def assert_store_empty(stack, root):
    assert images(stack, root) == []
    store = root / "images"
    assert list((store / "layers/sha256").iterdir()) == []
    assert list((store / "tmp").iterdir()) == []


def test_the_system_bundle_is_what_libcurl_reads():
    """The premise of these tests: stack's libcurl takes its CAs from the system bundle."""
    out = subprocess.run(["curl-config", "--ca"], capture_output=True, text=True)
    if out.returncode == 0:
        assert out.stdout.strip() == BUNDLE


def test_pull_over_https_by_name_through_the_system_store(stack, tls_env, trusted, root):
    ref = "registry.stack.test/busybox:latest"
    # without the test CA in the system bundle the same pull is refused...
    subprocess.run(["umount", BUNDLE], check=True)
    try:
        r = stack("--root", str(root), "pull", "-q", ref)
    finally:
        subprocess.run(["mount", "--bind", str(tls_env["dir"] / "ca-certificates.crt"), BUNDLE],
                       check=True)
    assert r.code == 1 and "not trusted" in r.err, r
    # ...and with it, it goes through (the registry speaks nothing but TLS)
    r = stack("--root", str(root), "pull", ref)
    assert r.code == 0, r
    assert "Digest: sha256:" in r.err
    [img] = images(stack, root)
    assert img["Repository"] == "registry.stack.test/busybox"


def test_certificate_from_an_unknown_ca_fails_clearly(stack, untrusted, root):
    ref = f"{untrusted.host}/busybox:latest"
    r = stack("--root", str(root), "pull", "-q", ref)
    assert r.code == 1, r
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r
    assert ref in lines[0] and "certificate" in lines[0] and "not trusted" in lines[0], r
    assert_store_empty(stack, root)


def test_insecure_registry_with_untrusted_certificate_is_used_over_https(stack, untrusted, root):
    """Docker's insecure-registries: HTTPS without certificate checks first. The registry
    answers only TLS, so success shows HTTPS was used."""
    ref = f"{untrusted.host}/busybox:latest"
    r = stack("--root", str(root), "pull", "-q", ref,
              env={"STACK_INSECURE_REGISTRIES": f"other:1, {untrusted.host}"})
    assert r.code == 0, r
    assert len(images(stack, root)) == 1


@pytest.fixture
def plain_proxy(tls_env, registry):
    """A plain-HTTP registry under a name that is not loopback."""
    p = Proxy(registry.port, name="plain.stack.test").start()
    yield p
    p.stop()


def test_named_registry_is_never_contacted_over_plain_http_unless_insecure(
        stack, plain_proxy, root, tmp_path):
    ref = f"{plain_proxy.host}/busybox:latest"
    r = stack("--root", str(root), "pull", "-q", ref)
    assert r.code == 1, r
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and ref in lines[0] and "TLS" in lines[0], r
    assert plain_proxy.requests == []  # a TLS hello is not an HTTP request
    assert_store_empty(stack, root)
    dconf = tmp_path / "docker-config"
    r = stack("--root", str(root), "login", "-u", "u", "-p", "p", plain_proxy.host,
              env={"DOCKER_CONFIG": str(dconf)})
    assert r.code == 1 and plain_proxy.requests == [], r
    # marked insecure: HTTPS gets no answer, so plain HTTP
    insecure = {"STACK_INSECURE_REGISTRIES": plain_proxy.host, "DOCKER_CONFIG": str(dconf)}
    r = stack("--root", str(root), "pull", "-q", ref, env=insecure)
    assert r.code == 0, r
    assert any("/blobs/" in path for _, path, _ in plain_proxy.requests)
    r = stack("--root", str(root), "login", "-u", "u", "-p", "p", plain_proxy.host, env=insecure)
    assert r.code == 0, r


@pytest.fixture
def lo_address():
    """A non-loopback address of this network namespace's own."""
    addr = "10.213.77.1"
    subprocess.run(["ip", "addr", "add", f"{addr}/32", "dev", "lo"], check=True)
    yield addr
    subprocess.run(["ip", "addr", "del", f"{addr}/32", "dev", "lo"], check=True)


def test_insecure_registries_by_cidr(stack, registry, lo_address, root):
    p = Proxy(registry.port, name=lo_address, bind=lo_address).start()
    try:
        ref = f"{p.host}/busybox"
        r = stack("--root", str(root), "pull", "-q", ref)
        assert r.code == 1 and p.requests == [], r
        r = stack("--root", str(root), "pull", "-q", ref,
                  env={"STACK_INSECURE_REGISTRIES": "10.213.0.0/16"})
        assert r.code == 0, r
        assert p.requests
    finally:
        p.stop()


def test_bearer_token_endpoint_over_https(stack, tls_env, registry, root):
    """The registry and its token realm on https://registry.stack.test:PORT, trusted through
    the system store; the token travels only over TLS."""
    cert = tls_env["ca"].server_cert("registry.stack.test")
    p = Proxy(registry.port, token=True, tls=cert, name="registry.stack.test").start()
    try:
        r = stack("--root", str(root), "pull", "-q", f"{p.host}/busybox")
        assert r.code == 0, r
        paths = [path for _, path, _ in p.requests]
        assert any(path.startswith("/token") for path in paths)
        blob_gets = [h for _, path, h in p.requests if "/blobs/" in path]
        assert blob_gets and all(h.get("Authorization", "").startswith("Bearer ")
                                 for h in blob_gets)
    finally:
        p.stop()
