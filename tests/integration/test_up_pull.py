"""`up` starts the services whose images are in the store while other images are still
being pulled: a registry proxy holds one image's layer until the test has seen the other
service running, then lets it through (or fails it). Nothing here is timed: the proxy
holds the pull for as long as the test needs."""
import threading
import uuid

import pytest

from engine_helpers import needs_root
from image_fixtures import layer_tar, push_busybox_plus_layer
from netlib import needs_root as needs_netns
from registry import Proxy
from uplib import poll_until, project  # noqa: F401 (fixture)

pytestmark = [needs_root, needs_netns]


@pytest.fixture
def held(project):
    """A proxy in front of the test registry holding the last layer of an image of its
    own (busybox plus a layer) until `release` is set; `image` names it through the
    proxy. busybox itself is pulled into the project's store first: it is local."""
    repo = f"late{uuid.uuid4().hex[:8]}"
    tar = layer_tar([("etc/pulled-late", "file", uuid.uuid4().hex.encode())])
    digest = push_busybox_plus_layer(project.registry, repo, tar)
    release = threading.Event()
    proxy = Proxy(project.registry.port, hold={digest: release}).start()
    proxy.image = f"{proxy.host}/{repo}:latest"
    proxy.release = release
    proxy.held_digest = digest
    project.ok("pull", project.image)
    try:
        yield proxy
    finally:
        release.set()
        proxy.stop()


THREE = """
services:
  here:
    image: BUSYBOX
    command: ["sleep", "1000"]
    stop_signal: SIGKILL
  late:
    image: LATE
    command: ["sleep", "1000"]
    stop_signal: SIGKILL
  after:
    image: BUSYBOX
    command: ["sleep", "1000"]
    stop_signal: SIGKILL
    depends_on: [late]
"""


def states(project):
    return {c["Service"]: c["State"] for c in project.ps_json("-a")}


def blob_asked(proxy):
    return any(m == "GET" and path.endswith("/blobs/" + proxy.held_digest)
               for m, path, _ in proxy.arrivals)


def up_while_held(project, held):
    """`up -d` of THREE in the background, once its pull is held and `here` runs."""
    project.write(THREE.replace("LATE", held.image))
    up = project.spawn("up", "-d")
    try:
        poll_until(lambda: blob_asked(held), what="the held layer's download")
        poll_until(lambda: states(project).get("here") == "running",
                   what="the service with a local image running")
    except BaseException:
        held.release.set()
        up.kill()
        up.communicate(timeout=60)
        raise
    return up


def test_service_with_a_local_image_runs_while_another_image_is_still_pulling(project, held):
    up = up_while_held(project, held)
    try:
        # The pull is still held: its service and the one that depends on it wait.
        assert up.poll() is None
        assert states(project) == {"here": "running"}
    finally:
        held.release.set()
    out, err = up.communicate(timeout=120)
    assert up.returncode == 0, err
    assert states(project) == {"here": "running", "late": "running", "after": "running"}
    lines = err.splitlines()
    n = project.name
    # Started while the pull ran; the dependent only after the image landed.
    assert lines.index(f" Container {n}-here-1  Started") < lines.index(" late Pulled"), err
    assert lines.index(" late Pulled") < lines.index(f" Container {n}-after-1  Started"), err
    # The image it pulled is the one the container runs.
    r = project.ok("exec", "late", "cat", "/etc/pulled-late")
    assert len(r.out) == 32


def test_pull_that_fails_after_others_started_fails_naming_the_service(project, held):
    up = up_while_held(project, held)
    held.fail_blobs, held.fail_status = 1, 404  # the held download answers 404
    held.release.set()
    out, err = up.communicate(timeout=120)
    assert up.returncode == 1, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("stack: service late: ") and "404" in last, err
    # The others went on; the dependent of the failed service was never made.
    assert states(project) == {"here": "running"}


def test_create_with_an_image_to_pull_creates_every_service(project, held):
    held.release.set()
    project.write(THREE.replace("LATE", held.image))
    r = project.ok("create")
    assert states(project) == {"here": "created", "late": "created", "after": "created"}, r.err
    project.ok("start")
    assert states(project) == {"here": "running", "late": "running", "after": "running"}


def test_up_killed_while_pulling_leaves_what_started_and_up_completes(project, held):
    up = up_while_held(project, held)
    try:
        up.kill()  # SIGKILL, by the PID this test started
        up.communicate(timeout=60)
        # The supervisor gave up on the image the dead CLI was pulling; what runs stays.
        assert states(project) == {"here": "running"}
    finally:
        held.release.set()
    project.ok("up", "-d")
    assert states(project) == {"here": "running", "late": "running", "after": "running"}


def test_wait_timeout_fires_while_a_dependent_waits_for_its_dependency(project):
    # busybox is pulled first (a fresh store): the deadline runs from when it landed,
    # and still fires while app waits for db's probe (an hour away).
    project.write("""
services:
  db:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
    labels:
      io.stack.healthcheck.fast-start: "false"
    healthcheck:
      test: ["CMD", "true"]
      interval: 1h
  app:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
    depends_on:
      db:
        condition: service_healthy
""")
    r = project("up", "-d", "--wait", "--wait-timeout", "1")
    assert r.code == 1, r
    assert f"timeout waiting for container {project.name}-db-1 to be healthy" in r.err, r
    assert states(project) == {"db": "running"}
