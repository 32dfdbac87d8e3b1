"""tests/images/build.py, which builds the test images from the apt mirror before the suite
(scripts/test.sh): a mirror that cannot be reached is retried, then fails with the tool's
own message and one line naming the image and the step, leaving nothing half-built; inside
the suite (--offline) a missing image is an error that says what builds it."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SRCDIR

BUILD = SRCDIR / "tests/images/build.py"
needs_debootstrap = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("debootstrap"),
                                       reason="needs root and debootstrap")


def build(cache, *args, env=None):
    return subprocess.run([sys.executable, str(BUILD), "--cache", str(cache), *args],
                          capture_output=True, text=True, timeout=300,
                          env={"PATH": os.environ["PATH"], **(env or {})})


@needs_debootstrap
def test_unreachable_mirror_is_retried_then_fails_with_debootstraps_message(tmp_path):
    # Port 1 on loopback: nothing listens, every download is refused at once.
    mirror = "http://127.0.0.1:1/debian"
    r = build(tmp_path / "cache", "redis",
              env={"STACK_TEST_MIRROR": mirror, "STACK_TEST_RETRY_PAUSE": "0.05"})
    assert r.returncode == 1, r
    lines = r.stderr.splitlines()
    assert [ln for ln in lines if "attempt" in ln] == [
        f"build.py: debootstrap bookworm from {mirror} failed (exit 1, attempt {i} of 3):"
        for i in (1, 2, 3)]
    # debootstrap's own words, from its log and its stderr
    assert f"  | E: Failed getting release file {mirror}/dists/bookworm/Release" in lines
    assert lines[-1] == (f"build.py: test image redis: debootstrap bookworm from {mirror} "
                         f"failed (exit 1): E: Failed getting release file "
                         f"{mirror}/dists/bookworm/Release")
    assert r.stdout == ""
    # nothing half-built: no base rootfs, no image directory, no mount left in the cache
    cache = tmp_path / "cache"
    assert not (cache / "minbase-bookworm").exists()
    assert [p.name for p in cache.glob("*/*")] == []
    assert str(cache) not in Path("/proc/self/mountinfo").read_text()


def test_offline_build_of_a_missing_image_says_test_sh_builds_it(tmp_path):
    r = build(tmp_path / "cache", "--offline", "postgres")
    assert r.returncode == 2, r
    assert r.stdout == ""
    assert r.stderr.startswith("build.py: test image postgres is not in the cache ")
    assert "scripts/test.sh builds the test images before the suite" in r.stderr
    assert [p.name for p in (tmp_path / "cache").glob("*/*")] == []


def test_offline_build_still_makes_busybox_which_needs_no_mirror(tmp_path):
    r = build(tmp_path / "cache", "--offline", "busybox")
    assert r.returncode == 0, r
    layout = Path(r.stdout.strip())
    assert layout.name == "busybox" and (layout / "index.json").is_file()
