"""Fixtures for image tests: the test images (built once, cached), a loopback registry
holding them, a fresh state root per test; images made of hand-written layers."""
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest

from registry import Registry, push_blob, put_manifest

SRCDIR = Path(os.environ.get("STACK_SRCDIR", Path(__file__).resolve().parents[2]))
BUILD = SRCDIR / "tests/images/build.py"


class TestImages:
    """OCI layouts of the test images, from the cache scripts/test.sh fills before the
    suite. Inside the suite's own network namespace nothing can be downloaded: an image
    missing from the cache fails the test with build.py's message instead."""

    def __init__(self):
        self.paths = {}

    def layout(self, name):
        if name not in self.paths:
            offline = ["--offline"] if os.environ.get("STACK_TEST_NETNS") else []
            p = subprocess.run([sys.executable, str(BUILD), *offline, name],
                               capture_output=True, text=True)
            if p.returncode != 0:
                pytest.fail(p.stderr.strip() or f"build.py {name}: exit {p.returncode}",
                            pytrace=False)
            self.paths[name] = Path(p.stdout.split()[-1])
        return self.paths[name]


@pytest.fixture(scope="session")
def test_images():
    return TestImages()


class PushedRegistry(Registry):
    def __init__(self, workdir, images, **kw):
        super().__init__(workdir, **kw)
        self.images = images
        self.pushed = {}

    def ensure(self, name, repo=None, tag="latest"):
        """Pushes test image `name` as repo:tag once; returns the manifest digest."""
        key = (name, repo or name, tag)
        if key not in self.pushed:
            auth = next(iter(self.users.items())) if self.users else None
            self.pushed[key] = self.push(self.images.layout(name), repo or name, tag, auth)
        return self.pushed[key]

    def ref(self, repo, tag="latest"):
        return f"{self.host}/{repo}:{tag}"


@pytest.fixture(scope="session")
def registry(test_images):
    """A plain loopback registry holding busybox:latest (other images on demand)."""
    d = tempfile.mkdtemp(prefix="stack-registry-")
    reg = PushedRegistry(d, test_images).start()
    try:
        reg.ensure("busybox")
        yield reg
    finally:
        reg.stop()
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def fresh_registry(test_images, tmp_path):
    """A registry of this test's own, for tests that break or stop it."""
    reg = PushedRegistry(tmp_path / "registry", test_images).start()
    try:
        yield reg
    finally:
        reg.stop()


@pytest.fixture
def root(tmp_path):
    """A state root of this test's own."""
    r = tmp_path / "root"
    r.mkdir()
    return r


def stored_images(stack, root):
    """`stack images --format json` of the state root."""
    r = stack("--root", str(root), "images", "--format", "json")
    assert r.code == 0, r
    return json.loads(r.out)


def assert_store_clean(root):
    """No layer tree committed, no temporary debris."""
    store = root / "images"
    layers = list((store / "layers/sha256").iterdir())
    assert layers == [], layers
    assert list((store / "tmp").iterdir()) == []


def layer_tar(entries):
    """A layer tar (PAX) of (name, kind, data[, attrs]) entries, names kept as written.
    kind: file (data: bytes), dir, symlink or hardlink (data: target); attrs: TarInfo
    fields such as mode, uid, gid, mtime."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, data, *attrs in entries:
            ti = tarfile.TarInfo(name)
            ti.mode = {"dir": 0o755, "symlink": 0o777}.get(kind, 0o644)
            for k, v in (attrs[0] if attrs else {}).items():
                setattr(ti, k, v)
            body = None
            if kind == "file":
                ti.size, body = len(data), io.BytesIO(data)
            elif kind == "dir":
                ti.type = tarfile.DIRTYPE
            elif kind == "symlink":
                ti.type, ti.linkname = tarfile.SYMTYPE, data
            elif kind == "hardlink":
                ti.type, ti.linkname = tarfile.LNKTYPE, data
            # TarInfo.name drops a trailing "/": "/" and "./" must reach the tar as written
            ti.name = name
            tf.addfile(ti, body)
    return buf.getvalue()


def push_layer_image(reg, repo, layers, config=None):
    """Pushes repo:latest made of the given layer tars (lowest first, gzip'd here) and
    an image config holding `config`; returns the reference."""
    base = f"http://{reg.host}"
    gzs = [gzip.compress(t, mtime=0) for t in layers]
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": config or {},
                      "rootfs": {"type": "layers",
                                 "diff_ids": ["sha256:" + hashlib.sha256(t).hexdigest()
                                              for t in layers]}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": push_blob(base, repo, cfg), "size": len(cfg)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": push_blob(base, repo, gz), "size": len(gz)} for gz in gzs],
    }).encode()
    put_manifest(base, repo, "latest", manifest, "application/vnd.oci.image.manifest.v1+json")
    return reg.ref(repo)


OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def push_busybox_plus_layer(registry, repo, tar):
    """Pushes repo:latest to a PushedRegistry: busybox's layers and the layer tar on top.
    Returns the digest of that last layer's blob."""
    layout = registry.images.layout("busybox")
    base = f"http://{registry.host}"

    def blob(digest):
        return (layout / "blobs/sha256" / digest.split(":", 1)[1]).read_bytes()

    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads(blob(index["manifests"][0]["digest"]))
    config = json.loads(blob(manifest["config"]["digest"]))
    gz = gzip.compress(tar, mtime=0)
    config["rootfs"]["diff_ids"].append("sha256:" + hashlib.sha256(tar).hexdigest())
    cfg = json.dumps(config).encode()
    layers = []
    for d in manifest["layers"]:
        push_blob(base, repo, blob(d["digest"]))
        layers.append(d)
    extra = push_blob(base, repo, gz)
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                   "digest": extra, "size": len(gz)})
    body = json.dumps({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": push_blob(base, repo, cfg), "size": len(cfg)},
        "layers": layers,
    }).encode()
    put_manifest(base, repo, "latest", body, OCI_MANIFEST)
    return extra
