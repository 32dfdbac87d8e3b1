"""Shared fixtures: the stack binary built by `make`, run as a user would run it."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def pytest_configure(config):
    """Run the whole suite in a network namespace of its own (and a private mount
    namespace, so `ip netns add` leaves nothing in the host's /run/netns): bridges,
    veths and nftables tables made by tests can never touch the host's. Needs root;
    without it, tests that need namespaces skip themselves."""
    if os.environ.get("STACK_TEST_NETNS") or os.geteuid() != 0 or not shutil.which("unshare"):
        return
    os.environ["STACK_TEST_NETNS"] = "1"
    # pytest has already redirected fds 1 and 2 into its capture files: give them back.
    capman = config.pluginmanager.getplugin("capturemanager")
    if capman:
        capman.suspend_global_capture(in_=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp("unshare", ["unshare", "--net", "--mount", "--propagation", "private", "--",
                          sys.executable, "-m", "pytest", *sys.argv[1:]])



if os.environ.get("STACK_TEST_NETNS") and os.geteuid() == 0:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    # A tmpfs of this mount namespace: `ip netns add` leaves no file in the host's.
    os.makedirs("/run/netns", exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "stack-test-netns", "/run/netns"], check=True)

SRCDIR = Path(os.environ.get("STACK_SRCDIR", Path(__file__).resolve().parents[2])).resolve()
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
