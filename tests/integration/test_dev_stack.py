"""examples/dev-stack as the README runs it: examples/dev-stack/images.sh makes the
images (here, with no registry access, Debian stand-ins from the test image cache,
loaded and tagged under the example's names), `up -d --wait` brings Postgres, Redis and
the app up, and `exec`, the published port, `down`/`up` and `down -v` do what a
developer expects of them."""
import json
import os
import subprocess
import urllib.request

import pytest

from conftest import STACK
from uplib import Project, poll_until

SRCDIR = os.environ.get("STACK_SRCDIR", os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
EXAMPLE = os.path.join(SRCDIR, "examples/dev-stack")


@pytest.fixture(scope="module")
def images_root(tmp_path_factory):
    """A state root holding the example's images, made by its own script."""
    root = tmp_path_factory.mktemp("devstack") / "root"
    root.mkdir()
    r = subprocess.run(["sh", os.path.join(EXAMPLE, "images.sh")], capture_output=True,
                       text=True, env={**os.environ, "STACK": f"{STACK} --root {root}"})
    assert r.returncode == 0, r.stderr
    return root, r


@pytest.fixture
def dev(tmp_path, registry, images_root):
    """The example project under the images' root; afterwards `down -v` leaves nothing."""
    p = Project(tmp_path, registry)
    p.root = images_root[0]
    p.dir = EXAMPLE
    yield p
    crashes = p.supervisor_crashes()
    r = p("down", "-v", "-t", "1")
    assert crashes == [], crashes
    assert r.code == 0, r
    assert p.leftovers() == []
    assert volumes(p) == []


def volumes(p):
    r = p.ok("volume", "ls", "-q")
    return [v for v in r.out.split() if v.startswith(p.name + "_")]


def psql(p, sql):
    return p.ok("exec", "-T", "db", "psql", "-U", "app", "-d", "app", "-At", "-c", sql).out


def app_page():
    with urllib.request.urlopen("http://127.0.0.1:8080/", timeout=5) as resp:
        return resp.read().decode()


def test_images_script_loads_debian_stand_ins_under_the_example_names_when_pull_fails(
        images_root):
    root, r = images_root
    for ref in ("busybox:1.35", "postgres:15", "redis:7"):
        assert f"cannot pull {ref}" in r.stderr
        assert f"{ref}: stand-in loaded" in r.stderr
    out = subprocess.run([STACK, "--root", str(root), "images", "--format", "json"],
                         capture_output=True, text=True, check=True).stdout
    rows = json.loads(out)
    names = {f"{i['Repository']}:{i['Tag']}" for i in rows}
    assert {"busybox:1.35", "postgres:15", "redis:7"} <= names, names
    again = subprocess.run(["sh", os.path.join(EXAMPLE, "images.sh")], capture_output=True,
                           text=True, env={**os.environ, "STACK": f"{STACK} --root {root}"})
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("already in the store") == 3, again.stdout


def test_dev_stack_comes_up_healthy_and_the_app_reaches_db_and_cache_by_name(dev):
    dev.ok("up", "-d", "--wait")
    states = {c["Service"]: c["Health"] for c in dev.ps_json()}
    assert states == {"app": "healthy", "db": "healthy", "cache": "healthy"}, states
    assert psql(dev, "select 1").strip() == "1"
    assert dev.ok("exec", "-T", "cache", "redis-cli", "ping").out.strip() == "PONG"
    page = poll_until(lambda: (lambda t: t if "db:5432 ok" in t and
                               "cache:6379 ok" in t else None)(app_page()),
                      timeout=30, what="the app's page naming both")
    assert page.splitlines() == ["db:5432 ok", "cache:6379 ok"], page


def test_dev_stack_keeps_postgres_data_across_down_and_up(dev):
    dev.ok("up", "-d", "--wait")
    psql(dev, "create table notes (body text); insert into notes values ('kept')")
    dev.ok("down")
    assert len(volumes(dev)) == 2, volumes(dev)
    dev.ok("up", "-d", "--wait")
    assert psql(dev, "select body from notes").strip() == "kept"
