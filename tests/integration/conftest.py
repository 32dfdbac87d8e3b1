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
    if not _will_reexec():
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
# The ELF file under test, and what the tests run: the same file, or for a build with
# ASan/UBSan (configure --enable-sanitizers) a wrapper that runs it with options under which
# any sanitizer report aborts the process and lands in SANITIZER_LOGS, so that a report
# fails the test during which it happened even when the test expects a failing exit or
# ignores the exit of a process it stopped. Tests pass their own minimal environments, so
# the options cannot travel in ours.
STACK_BINARY = os.environ.get("STACK_BIN", str(SRCDIR / "stack"))
SANITIZED = False
SANITIZER_LOGS = None
STACK = STACK_BINARY


def _sanitized(path):
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def _will_reexec():
    return not os.environ.get("STACK_TEST_NETNS") and os.geteuid() == 0 and \
        shutil.which("unshare")


def _sanitizer_wrapper():
    """The wrapper script (in a directory of its own, removed at the end of the session)."""
    import shlex
    import tempfile
    global SANITIZER_LOGS
    d = Path(tempfile.mkdtemp(prefix="stack-sanitizer-"))
    SANITIZER_LOGS = d / "logs"
    SANITIZER_LOGS.mkdir()
    common = "halt_on_error=1:abort_on_error=1:print_stacktrace=1"
    asan = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), common, "detect_leaks=1",
                                  f"log_path={SANITIZER_LOGS}/asan"]))
    ubsan = ":".join(filter(None, [os.environ.get("UBSAN_OPTIONS"), common,
                                   f"log_path={SANITIZER_LOGS}/ubsan"]))
    (d / "stack").write_text(
        "#!/bin/sh\n"
        f"ASAN_OPTIONS={shlex.quote(asan)}; export ASAN_OPTIONS\n"
        f"UBSAN_OPTIONS={shlex.quote(ubsan)}; export UBSAN_OPTIONS\n"
        f"exec {shlex.quote(STACK_BINARY)} \"$@\"\n")
    os.chmod(d / "stack", 0o755)
    return str(d / "stack")


# Not in the process that is about to re-execute itself in the namespace (it would leak).
if _sanitized(STACK_BINARY) and not _will_reexec():
    SANITIZED = True
    STACK = _sanitizer_wrapper()


def pytest_unconfigure(config):
    if SANITIZED:
        shutil.rmtree(Path(STACK).parent, ignore_errors=True)


@pytest.fixture(autouse=True)
def no_sanitizer_report():
    """With a sanitizer build: a report from any stack process run by the test fails it."""
    if not SANITIZED:
        yield
        return
    before = set(SANITIZER_LOGS.iterdir())
    yield
    new = sorted(set(SANITIZER_LOGS.iterdir()) - before)
    if new:
        pytest.fail("sanitizer report:\n" + "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')}" for p in new), pytrace=False)


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
