"""Pulls that go wrong: the registry goes away mid-pull, a corrupted blob, a pull killed
half-way. Each gives a clear error or recovers on the next pull, and the store stays
consistent. Layers that try to escape their directory: test_image_layer_names.py."""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import STACK
from image_fixtures import assert_store_clean, stored_images as images
from registry import Proxy


def layer_blob(reg):
    layout = reg.images.layout("busybox")
    index = json.loads((layout / "index.json").read_text())
    m = json.loads((layout / "blobs/sha256" / index["manifests"][0]["digest"][7:]).read_bytes())
    return m["layers"][0]["digest"], m["layers"][0]["size"]


def partial_size(root, digest):
    p = root / "images/blobs/sha256" / (digest[7:] + ".partial")
    return p.stat().st_size if p.exists() else 0


def test_corrupted_blob_is_refused_and_nothing_is_kept(stack, fresh_registry, root):
    reg = fresh_registry
    reg.ensure("busybox")
    digest, _ = layer_blob(reg)
    path = reg.blob_path(digest)
    good = path.read_bytes()
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0xFF
    path.write_bytes(bytes(bad))
    ref = reg.ref("busybox")
    r = stack("--root", str(root), "pull", "-q", ref)
    assert r.code == 1
    assert len(r.err.strip().splitlines()) == 1, r
    assert ref in r.err and "digest mismatch" in r.err, r
    assert images(stack, root) == []
    assert_store_clean(root)
    assert partial_size(root, digest) == 0
    path.write_bytes(good)
    r = stack("--root", str(root), "pull", "-q", ref)
    assert r.code == 0, r
    assert len(images(stack, root)) == 1


def test_registry_gone_mid_pull_then_next_pull_resumes(stack, fresh_registry, root):
    reg = fresh_registry
    reg.ensure("busybox")
    digest, size = layer_blob(reg)
    proxy = Proxy(reg.port, cut_after=size // 3, die_after_cut=True).start()
    ref = f"{proxy.host}/busybox:latest"
    try:
        r = stack("--root", str(root), "pull", ref)
        assert r.code == 1
        assert ref in r.err.strip().splitlines()[-1], r
        assert "unreachable" in r.err, r
        assert "Retrying" in r.err
        assert images(stack, root) == []
        assert_store_clean(root)
        assert partial_size(root, digest) >= size // 4
    finally:
        proxy.stop()
    proxy = Proxy(reg.port, port=proxy.port).start()
    try:
        r = stack("--root", str(root), "pull", "-q", ref)
        assert r.code == 0, r
        assert proxy.saw_range()
    finally:
        proxy.stop()
    assert len(images(stack, root)) == 1
    assert partial_size(root, digest) == 0


def test_broken_connections_are_retried_with_range(stack, fresh_registry, root):
    reg = fresh_registry
    reg.ensure("busybox")
    digest, size = layer_blob(reg)
    proxy = Proxy(reg.port, cut_after=size // 3 + 1).start()
    try:
        r = stack("--root", str(root), "pull", f"{proxy.host}/busybox")
        assert r.code == 0, r
        assert proxy.cuts >= 2
        assert proxy.saw_range()
    finally:
        proxy.stop()
    assert len(images(stack, root)) == 1


def test_pull_killed_half_way_recovers_on_next_pull(stack, fresh_registry, root):
    reg = fresh_registry
    reg.ensure("busybox")
    digest, size = layer_blob(reg)
    proxy = Proxy(reg.port, throttle=size // 4).start()
    ref = f"{proxy.host}/busybox:latest"
    try:
        p = subprocess.Popen([STACK, "--root", str(root), "pull", "-q", ref],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while partial_size(root, digest) < size // 4 and time.time() < deadline:
            time.sleep(0.05)
        assert p.poll() is None
        p.send_signal(signal.SIGKILL)
        p.wait()
        assert images(stack, root) == []
        assert partial_size(root, digest) > 0
        proxy.throttle = None
        proxy.requests.clear()
        r = stack("--root", str(root), "pull", "-q", ref)
        assert r.code == 0, r
        assert proxy.saw_range()
    finally:
        proxy.stop()
    assert len(images(stack, root)) == 1
    assert partial_size(root, digest) == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts a small tmpfs")
def test_disk_full_is_reported_and_store_stays_consistent(stack, registry, tmp_path):
    root = tmp_path / "small"
    root.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=700k", "tmpfs", str(root)], check=True)
    try:
        ref = registry.ref("busybox")
        r = stack("--root", str(root), "pull", "-q", ref)
        assert r.code == 1
        assert len(r.err.strip().splitlines()) == 1, r
        assert ref in r.err and "No space left on device" in r.err, r
        assert images(stack, root) == []
        assert_store_clean(root)
    finally:
        subprocess.run(["umount", str(root)], check=True)


@pytest.mark.parametrize("status", [503, 429])
def test_server_errors_are_retried_with_backoff(stack, registry, root, status):
    proxy = Proxy(registry.port, fail_blobs=2, fail_status=status).start()
    try:
        r = stack("--root", str(root), "pull", f"{proxy.host}/busybox")
        assert r.code == 0, r
        assert f"Retrying (HTTP {status})" in r.err
    finally:
        proxy.stop()


def test_persistent_server_errors_fail_clearly(stack, registry, root):
    proxy = Proxy(registry.port, fail_blobs=100).start()
    try:
        ref = f"{proxy.host}/busybox"
        r = stack("--root", str(root), "pull", "-q", ref)
        assert r.code == 1
        assert ref in r.err and "503" in r.err, r
        assert images(stack, root) == []
    finally:
        proxy.stop()


def test_blob_redirects_are_followed(stack, registry, root):
    proxy = Proxy(registry.port, redirect_blobs=True).start()
    try:
        r = stack("--root", str(root), "pull", "-q", f"{proxy.host}/busybox")
        assert r.code == 0, r
    finally:
        proxy.stop()
    assert len(images(stack, root)) == 1


def test_retry_after_is_honoured(stack, registry, root):
    """429 with Retry-After: 2: the next try comes no sooner than 2 s later (our own first
    backoff is a quarter of a second)."""
    proxy = Proxy(registry.port, fail_blobs=1, fail_status=429, retry_after=2).start()
    try:
        r = stack("--root", str(root), "pull", f"{proxy.host}/busybox")
        assert r.code == 0, r
        assert "Retrying (HTTP 429)" in r.err
        [first, *_] = [t for m, path, t in proxy.arrivals if "/blobs/" in path]
        again = [t for m, path, t in proxy.arrivals if "/blobs/" in path and t > first]
        assert again and min(again) - first >= 1.9, proxy.arrivals
    finally:
        proxy.stop()
