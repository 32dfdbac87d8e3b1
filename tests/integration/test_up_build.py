"""`up` and the builder: a service with `build:` is built before anything starts
(`up --build`, `--no-build`, `pull_policy: build`, pull first when it also names an
`image:`), its image named as Compose names it, and a rebuilt image recreates the
service's container. Through the real CLI, over busybox from the loopback registry."""
from engine_helpers import needs_root
from netlib import needs_root as needs_netns
from uplib import poll_until, project  # noqa: F401 (fixture)

pytestmark = [needs_root, needs_netns]

# The app serves the content of /msg (COPY'd from the context) on port 80; the client
# fetches it by service name and logs it.
APP = """
services:
  app:
    build: .
    stop_signal: SIGKILL
  client:
    image: BUSYBOX
    stop_signal: SIGKILL
    depends_on: [app]
    command: ["sh", "-c", "until nc app 80 > /got && test -s /got; do sleep 0.1; done; cat /got; exec sleep 1000"]
"""

DOCKERFILE = """FROM BUSYBOX
COPY msg /msg
CMD ["sh", "-c", "while true; do nc -l -p 80 < /msg; done"]
"""


def write_app(project, compose=APP, dockerfile=DOCKERFILE, msg="v1"):
    project.write(compose)
    (project.dir / "Dockerfile").write_text(dockerfile.replace("BUSYBOX", project.image))
    (project.dir / "msg").write_text(msg + "\n")


def ids(project):
    return {c["Service"]: c["ID"] for c in project.ps_json()}


def test_up_builds_a_build_only_service_named_project_service_and_reaches_it_by_name(project):
    write_app(project)
    r = project.ok("up", "-d")
    assert " Service app  Built" in r.err.splitlines(), r.err
    app = [c for c in project.ps_json() if c["Service"] == "app"][0]
    assert app["Image"] == f"{project.name}-app"
    out = poll_until(lambda: project.ok("logs", "--no-log-prefix", "client").out,
                     what="the client's fetch")
    assert out == "v1\n"


def test_up_again_reuses_the_image_and_up_build_rebuilds_and_recreates(project):
    write_app(project)
    project.ok("up", "-d")
    first = ids(project)
    (project.dir / "msg").write_text("v2\n")
    r = project.ok("up", "-d")
    assert "Built" not in r.err, r.err
    assert ids(project) == first
    r = project.ok("up", "-d", "--build")
    assert " Service app  Built" in r.err.splitlines(), r.err
    after = ids(project)
    assert after["app"] != first["app"]
    assert after["client"] == first["client"]


def test_pull_policy_build_builds_on_every_up(project):
    write_app(project, APP.replace("    build: .\n", "    build: .\n    pull_policy: build\n"))
    project.ok("up", "-d")
    first = ids(project)
    (project.dir / "msg").write_text("v2\n")
    r = project.ok("up", "-d")
    assert " Service app  Built" in r.err.splitlines(), r.err
    assert ids(project)["app"] != first["app"]


def test_image_and_build_pull_first_and_build_when_the_pull_fails(project):
    missing = project.registry.ref("not-there", "1")
    write_app(project, APP.replace("    build: .\n", f"    build: .\n    image: {missing}\n"))
    r = project.ok("up", "-d")
    lines = r.err.splitlines()
    assert " app Pulling" in lines, r.err
    assert any(line.startswith(" ! app Warning") for line in lines), r.err
    assert " Service app  Built" in lines, r.err
    app = [c for c in project.ps_json() if c["Service"] == "app"][0]
    assert app["Image"] == missing


def test_image_and_build_uses_the_pulled_image_without_building(project):
    # The Dockerfile would fail: the pull succeeds, so it never runs.
    write_app(project, APP.replace("    build: .\n", f"    build: .\n    image: {project.image}\n"
                                   "    command: [\"sleep\", \"1000\"]\n"),
              dockerfile="FROM BUSYBOX\nRUN exit 7\n")
    project.ok("down")  # the store is the test's own: busybox is not in it yet
    r = project.ok("up", "-d", "app")
    assert " app Pulling" in r.err.splitlines(), r.err
    assert "Built" not in r.err and "Warning" not in r.err, r.err
    assert [c["Service"] for c in project.ps_json()] == ["app"]


def test_build_error_fails_up_naming_the_service_and_step_and_starts_nothing(project):
    write_app(project, APP + """  db:
    image: BUSYBOX
    command: ["sleep", "1000"]
""", dockerfile="FROM BUSYBOX\nCOPY msg /msg\nRUN echo failing now; exit 3\n")
    r = project("up", "-d")
    assert r.code == 1, r
    assert "stack: app: step 3/3: RUN echo failing now; exit 3: exit 3" in r.err, r
    assert "failing now" in r.err
    assert "Started" not in r.err and "Created" not in r.err, r
    assert project.ps_json() == []
    assert project.leftovers() == []


def test_no_build_refuses_a_service_whose_image_was_never_built(project):
    write_app(project)
    r = project("up", "-d", "--no-build")
    assert r.code == 1, r
    assert r.err.strip() == (f"stack: service app: image {project.name}-app is not built "
                             "and --no-build was given"), r
    assert project.leftovers() == []


def test_no_build_runs_the_image_built_before_without_rebuilding(project):
    write_app(project, APP.replace("    build: .\n", "    build: .\n    pull_policy: build\n"))
    project.ok("build")
    r = project.ok("up", "-d", "--no-build")
    assert "Built" not in r.err, r.err
    assert sorted(ids(project)) == ["app", "client"]


def test_build_and_no_build_together_are_a_usage_error(project):
    write_app(project)
    r = project("up", "-d", "--build", "--no-build")
    assert r.code != 0 and "--build and --no-build are incompatible" in r.err, r


def test_pull_always_leaves_built_images_alone(project):
    # proj-app exists in no registry: --pull always pulls the others only
    write_app(project)
    project.ok("up", "-d")
    first = ids(project)
    r = project.ok("up", "-d", "--pull", "always")
    assert " client Pulled" in r.err.splitlines(), r.err
    assert "app Pull" not in r.err, r.err
    assert ids(project) == first


def test_no_build_pulls_a_missing_image_and_fails_clearly_when_it_cannot(project):
    missing = project.registry.ref("not-there", "2")
    write_app(project, APP.replace("    build: .\n", f"    build: .\n    image: {missing}\n"))
    r = project("up", "-d", "--no-build")
    assert r.code == 1, r
    assert r.err.splitlines()[-1] == (f"stack: service app: image {missing} could not be "
                                      "pulled and --no-build was given"), r
    assert project.leftovers() == []
