"""Shared fixtures: the stack binary built by `make`, run as a user would run it."""
import os
import subprocess
from pathlib import Path

import pytest

SRCDIR = Path(os.environ.get("STACK_SRCDIR", Path(__file__).resolve().parents[2]))
STACK = os.environ.get("STACK_BIN", str(SRCDIR / "stack"))


class Result:
    def __init__(self, proc):
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def __repr__(self):
        return f"<exit {self.code}\nstdout:\n{self.out}\nstderr:\n{self.err}>"


def run_stack(*args, cwd=None, env=None, input=None, clean_env=True):
    """Run the stack binary. By default with a minimal environment, so that the
    developer's shell cannot change what a test sees."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    if not clean_env:
        base = dict(os.environ)
    if env:
        base.update(env)
    proc = subprocess.run([STACK, *args], cwd=cwd, env=base, input=input,
                          capture_output=True, text=True, timeout=120)
    return Result(proc)


@pytest.fixture
def stack():
    return run_stack


# Image fixtures (test images, loopback registries, a temp state root).
from image_fixtures import fresh_registry, registry, root, test_images  # noqa: E402,F401
