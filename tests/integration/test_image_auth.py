"""Registry authentication: htpasswd Basic auth on docker-registry, and the Bearer token
flow through a token endpoint in front of a registry; stack login/logout."""
import json
import shutil
import tempfile

import pytest

from image_fixtures import PushedRegistry
from registry import Proxy

USER, PASSWORD = "alice", "s3cret-pw"


@pytest.fixture(scope="module")
def basic_registry(test_images):
    d = tempfile.mkdtemp(prefix="stack-registry-basic-")
    reg = PushedRegistry(d, test_images, users={USER: PASSWORD}).start()
    try:
        reg.ensure("busybox")
        yield reg
    finally:
        reg.stop()
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def token_proxy(registry):
    """Bearer tokens required; the token endpoint wants alice's credentials."""
    p = Proxy(registry.port, token=(USER, PASSWORD)).start()
    yield p
    p.stop()


@pytest.fixture
def anon_token_proxy(registry):
    p = Proxy(registry.port, token=True).start()
    yield p
    p.stop()


@pytest.fixture
def dconf(tmp_path):
    d = tmp_path / "docker-config"
    return d


def run(stack, root, dconf, *args, input=None):
    return stack("--root", str(root), *args, env={"DOCKER_CONFIG": str(dconf)}, input=input)


def test_basic_auth_pull_refused_without_login(stack, basic_registry, root, dconf):
    ref = basic_registry.ref("busybox")
    r = run(stack, root, dconf, "pull", "-q", ref)
    assert r.code == 1
    assert ref in r.err and "access denied" in r.err, r


def test_login_with_wrong_password_is_refused(stack, basic_registry, root, dconf):
    r = run(stack, root, dconf, "login", "-u", USER, "-p", "wrong", basic_registry.host)
    assert r.code == 1
    assert basic_registry.host in r.err, r
    assert not (dconf / "config.json").exists()


def test_basic_auth_login_pull_logout(stack, basic_registry, root, dconf):
    r = run(stack, root, dconf, "login", "-u", USER, "--password-stdin", basic_registry.host,
            input=PASSWORD + "\n")
    assert r.code == 0, r
    assert "Login Succeeded" in r.out
    cfg = json.loads((dconf / "config.json").read_text())
    assert basic_registry.host in cfg["auths"]
    assert (dconf / "config.json").stat().st_mode & 0o777 == 0o600
    r = run(stack, root, dconf, "pull", "-q", basic_registry.ref("busybox"))
    assert r.code == 0, r
    r = run(stack, root, dconf, "logout", basic_registry.host)
    assert r.code == 0 and "Removing login credentials" in r.out, r
    cfg = json.loads((dconf / "config.json").read_text())
    assert basic_registry.host not in cfg["auths"]


def test_bearer_token_flow_with_credentials(stack, token_proxy, root, dconf):
    ref = f"{token_proxy.host}/busybox:latest"
    r = run(stack, root, dconf, "pull", "-q", ref)
    assert r.code == 1
    assert ref in r.err and ("refused" in r.err or "denied" in r.err), r
    token_proxy.requests.clear()
    r = run(stack, root, dconf, "login", "-u", USER, "-p", PASSWORD, token_proxy.host)
    assert r.code == 0, r
    r = run(stack, root, dconf, "pull", "-q", ref)
    assert r.code == 0, r
    token_reqs = [h for m, path, h in token_proxy.requests if path.startswith("/token")]
    assert token_reqs and all(h.get("Authorization", "").startswith("Basic ") for h in token_reqs)
    assert any("scope=repository%3Abusybox%3Apull" in path for _, path, _ in token_proxy.requests
               if path.startswith("/token"))


def test_bearer_token_anonymous(stack, anon_token_proxy, root, dconf):
    r = run(stack, root, dconf, "pull", "-q", f"{anon_token_proxy.host}/busybox")
    assert r.code == 0, r
    blob_gets = [h for m, path, h in anon_token_proxy.requests if "/blobs/" in path]
    assert blob_gets and all(h.get("Authorization", "").startswith("Bearer ") for h in blob_gets)


def test_logout_when_not_logged_in(stack, root, dconf):
    r = run(stack, root, dconf, "logout", "127.0.0.1:1")
    assert r.code == 0
    assert "Not logged in" in r.out


def test_redirect_to_blob_storage_gets_no_registry_token(stack, registry, root, dconf):
    """Blobs redirected to another host (as registries do to S3): the Bearer token of the
    registry is not sent there; storage URLs carry their own authorisation."""
    storage = Proxy(registry.port).start()
    front = Proxy(registry.port, token=True, redirect_blobs=True, redirect_to=storage.host).start()
    try:
        r = run(stack, root, dconf, "pull", "-q", f"{front.host}/busybox")
        assert r.code == 0, r
        gets = [h for m, path, h in storage.requests if "/blobs/" in path]
        assert gets and not any("Authorization" in h for h in gets), gets
        assert any(h.get("Authorization", "").startswith("Bearer ")
                   for m, path, h in front.requests if "/blobs/" in path)
    finally:
        front.stop()
        storage.stop()


def test_credentials_from_home_docker_config_without_docker_config(stack, basic_registry, root,
                                                                   tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home)}
    r = stack("--root", str(root), "login", "-u", USER, "-p", PASSWORD, basic_registry.host,
              env=env)
    assert r.code == 0, r
    assert basic_registry.host in json.loads((home / ".docker/config.json").read_text())["auths"]
    r = stack("--root", str(root), "pull", "-q", basic_registry.ref("busybox"), env=env)
    assert r.code == 0, r
