"""Fixtures for image tests: the test images (built once, cached), a loopback registry
holding them, a fresh state root per test."""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from registry import Registry

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
