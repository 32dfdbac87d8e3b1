"""Named, anonymous and bind volumes through `stack up` and `down -v`, as Docker Compose
v2 has them: Postgres data that outlives recreation and `down` but not `down -v`,
copy-up from the image (owners kept) and nocopy, anonymous volumes handed to the
recreated container and renewed by -V, `rm -v`, volumes_from, and the errors that stop
`up` before anything is made."""
import json
import os

from engine_helpers import needs_root
from netlib import needs_root as needs_netns
from uplib import Project, poll_until, project  # noqa: F401 (fixture)

pytestmark = [needs_root, needs_netns]


def volumes(project):
    """{name: labels} of every volume under the project's root."""
    r = project.ok("volume", "ls", "--format", "json")
    out = {}
    for line in r.out.splitlines():
        if line.strip():
            v = json.loads(line)
            out[v["Name"]] = project.ok("volume", "inspect", v["Name"]).out
    return {n: json.loads(t)[0]["Labels"] or {} for n, t in out.items()}


def data_dir(project, name):
    return project.root / "volumes" / name / "_data"


def anonymous(project):
    return sorted(n for n, labels in volumes(project).items()
                  if "com.docker.volume.anonymous" in labels)


def logs_contain(project, service, text):
    return poll_until(lambda: text in project("logs", service).out + project("logs", service).err,
                      timeout=60, what=f"{text!r} in the logs of {service}")


POSTGRES = """
services:
  db:
    image: {pg}
    environment:
      POSTGRES_USER: app
      POSTGRES_HOST_AUTH_METHOD: trust
    stop_signal: SIGINT
    volumes: ["pgdata:/var/lib/postgresql/data"]
    healthcheck:
      test: ["CMD", "pg_isready", "-U", "app", "-h", "127.0.0.1"]
      interval: 1s
      retries: 120
  sql:
    image: {pg}
    restart: "no"
    command: ["psql", "-h", "db", "-U", "app", "-tAc", "${{SQL}}"]
    depends_on:
      db:
        condition: service_healthy
volumes:
  pgdata:
"""


def test_postgres_data_outlives_recreate_and_down_and_goes_with_down_v(project):
    project.registry.ensure("postgres")
    project.write(POSTGRES.format(pg=project.registry.ref("postgres")))
    create = {"SQL": "CREATE TABLE marker(v text); INSERT INTO marker VALUES ('kept')"}
    select = {"SQL": "SELECT 'got:' || v FROM marker"}
    vol = f"{project.name}_pgdata"

    r = project("up", "-d", env=create)
    assert r.code == 0, r
    logs_contain(project, "sql", "INSERT 0 1")
    labels = volumes(project)[vol]
    assert labels["com.docker.compose.project"] == project.name
    assert labels["com.docker.compose.volume"] == "pgdata"
    # Recreated: the new db container mounts the same volume.
    r = project("up", "-d", "--force-recreate", env=select)
    assert r.code == 0, r
    assert f"Container {project.name}-db-1  Recreate" in r.err, r.err
    logs_contain(project, "sql", "got:kept")
    # down keeps named volumes.
    project.ok("down", "-t", "5")
    assert vol in volumes(project)
    assert (data_dir(project, vol) / "PG_VERSION").exists()
    r = project("up", "-d", env=select)
    assert r.code == 0, r
    logs_contain(project, "sql", "got:kept")
    # down -v takes it: a new up starts from an empty database.
    r = project.ok("down", "-v", "-t", "5")
    assert f"Volume {vol}  Removed" in r.err, r.err
    assert vol not in volumes(project)
    assert not (project.root / "volumes" / vol).exists()
    r = project("up", "-d", env=select)
    assert r.code == 0, r
    logs_contain(project, "sql", 'relation "marker" does not exist')


def test_copy_up_fills_an_empty_named_volume_keeping_owners_and_nocopy_does_not(project):
    project.registry.ensure("postgres")
    project.write(f"""
services:
  app:
    image: {project.registry.ref("postgres")}
    command: ["sleep", "1000"]
    stop_signal: SIGKILL
    volumes:
      - home:/var/lib/postgresql
      - ssl:/etc/ssl
      - bare:/etc/postgresql:nocopy
  image:
    image: {project.registry.ref("postgres")}
    command: ["stat", "-c", "%n %u %g %a", "/var/lib/postgresql",
              "/etc/ssl/private/ssl-cert-snakeoil.key"]
volumes:
  home:
  ssl:
  bare:
""")
    project.ok("up", "-d")
    logs_contain(project, "image", "snakeoil")
    out = project.ok("logs", "image").out
    want = dict(line.split("| ", 1)[1].split(" ", 1) for line in out.splitlines() if "| /" in line)
    home = data_dir(project, f"{project.name}_home")
    key = data_dir(project, f"{project.name}_ssl") / "private/ssl-cert-snakeoil.key"

    def owner(p):
        st = p.stat()
        return f"{st.st_uid} {st.st_gid} {st.st_mode & 0o7777:o}"
    assert want["/var/lib/postgresql"].split()[0] != "0", want
    assert owner(home) == want["/var/lib/postgresql"]
    assert owner(key) == want["/etc/ssl/private/ssl-cert-snakeoil.key"]
    assert os.listdir(data_dir(project, f"{project.name}_bare")) == []
    # Copy-up happens once: what the container wrote stays, nothing is copied over it.
    (home / "mine").write_text("x")
    project.ok("up", "-d", "--force-recreate")
    assert (home / "mine").read_text() == "x"


ANON = """
services:
  app:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sh", "-c", "[ -e /cache/m ] || echo $$$$ > /cache/m; exec sleep 1000"]
    volumes: ["/cache"]
"""


def test_anonymous_volume_goes_to_the_recreated_container_and_renew_replaces_it(project):
    project.write(ANON)
    project.ok("up", "-d")
    [first] = poll_until(lambda: anonymous(project), what="an anonymous volume")
    labels = volumes(project)[first]
    assert labels["com.docker.compose.project"] == project.name
    marker = poll_until(lambda: (data_dir(project, first) / "m").exists() and
                        (data_dir(project, first) / "m").read_text(), what="the marker")
    project.ok("up", "-d", "--force-recreate")
    assert anonymous(project) == [first]
    assert (data_dir(project, first) / "m").read_text() == marker
    # -V alone recreates (Compose's --renew-anon-volumes forces recreation).
    r = project.ok("up", "-d", "-V")
    assert f"Container {project.name}-app-1  Recreate" in r.err, r.err
    vols = anonymous(project)
    assert len(vols) == 2 and first in vols, vols
    [second] = [v for v in vols if v != first]
    poll_until(lambda: (data_dir(project, second) / "m").exists(), what="a new marker")
    # Plain down leaves both; down -v (the fixture) takes them.
    project.ok("down", "-t", "1")
    assert sorted(anonymous(project)) == sorted(vols)


def test_rm_v_removes_the_anonymous_volumes_and_keeps_named_ones(project):
    project.write(ANON.replace('["/cache"]', '["/cache", "named:/named"]') +
                  "volumes:\n  named:\n")
    project.ok("up", "-d")
    [anon] = poll_until(lambda: anonymous(project), what="an anonymous volume")
    project.ok("stop", "-t", "1")
    project.ok("rm", "-f")
    assert anonymous(project) == [anon]
    project.ok("up", "-d")
    assert len(anonymous(project)) == 2
    project.ok("rm", "-f", "-s", "-v")
    assert anonymous(project) == [anon]
    assert f"{project.name}_named" in volumes(project)


def test_tmpfs_short_syntax_options_reach_the_mount(project):
    project.write("""
services:
  app:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sh", "-c", "grep ' /run/x ' /proc/mounts; exec sleep 1000"]
    tmpfs:
      - /run/x:size=64m,mode=1770
""")
    project.ok("up", "-d")
    logs_contain(project, "app", "/run/x")
    [line] = [ln for ln in project("logs", "app").out.splitlines() if " /run/x " in ln]
    assert "size=65536k" in line and "mode=1770" in line, line


def test_tmpfs_short_syntax_with_an_unknown_option_fails_up(project):
    project.write("""
services:
  app:
    image: BUSYBOX
    command: ["sleep", "1000"]
    tmpfs:
      - /run/x:size=64m,bogus
""")
    r = project("up", "-d")
    assert r.code == 1, r
    assert 'tmpfs /run/x: option "bogus" is not supported' in r.err, r
    assert project.ps_json("-a") == []


def test_volumes_from_a_service_read_only(project):
    project.write("""
services:
  writer:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sh", "-c", "echo hello > /data/f; exec sleep 1000"]
    volumes: ["data:/data"]
  reader:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sh", "-c", "until [ -e /data/f ]; do sleep 0.1; done; cat /data/f; touch /data/g || echo WRITE-FAILED; exec sleep 1000"]
    volumes_from: ["writer:ro"]
volumes:
  data:
""")
    project.ok("up", "-d")
    logs_contain(project, "reader", "WRITE-FAILED")
    out = project("logs", "reader")
    assert "hello" in out.out and "Read-only file system" in out.out + out.err
    assert not (data_dir(project, f"{project.name}_data") / "g").exists()


def test_missing_external_volume_fails_up_naming_service_and_leaves_nothing(project):
    project.write("""
services:
  a:
    image: BUSYBOX
    command: ["sleep", "1000"]
    volumes: ["own:/own"]
  b:
    image: BUSYBOX
    command: ["sleep", "1000"]
    volumes: ["ext:/ext"]
volumes:
  own:
  ext:
    external: true
    name: nowhere
""")
    r = project("up", "-d")
    assert r.code == 1, r
    assert r.err.strip() == 'stack: service b: external volume "nowhere" not found', r
    assert volumes(project) == {}
    assert project.ps_json("-a") == []
    assert project.leftovers() == []


def test_bind_source_that_must_exist_fails_up_before_any_container(project):
    project.write("""
services:
  a:
    image: BUSYBOX
    command: ["sleep", "1000"]
  b:
    image: BUSYBOX
    command: ["sleep", "1000"]
    volumes:
      - type: bind
        source: ./missing
        target: /m
        bind:
          create_host_path: false
""")
    r = project("up", "-d")
    assert r.code == 1, r
    assert r.err.strip() == (f"stack: service b: bind source path {project.dir}/missing "
                             "does not exist"), r
    assert project.ps_json("-a") == []
    assert project.leftovers() == []


def test_volume_used_by_another_project_is_not_removed(project, tmp_path, registry):
    project.write("""
services:
  app:
    image: BUSYBOX
    command: ["sleep", "1000"]
    volumes: ["data:/data"]
volumes:
  data:
""")
    project.ok("up", "-d")
    project.ok("down", "-t", "0")
    vol = f"{project.name}_data"
    (tmp_path / "other").mkdir()
    other = Project(tmp_path / "other", registry)
    other.root = project.root
    other.write(f"""
services:
  user:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
    volumes: ["shared:/shared"]
volumes:
  shared:
    external: true
    name: {vol}
""")
    try:
        other.ok("up", "-d")
        user = f"{other.name}-user-1"
        r = project("volume", "rm", vol)
        assert r.code == 1 and "volume is in use" in r.err and user in r.err, r
        r = project("down", "-v")
        assert r.code == 1 and vol in r.err and user in r.err, r
        assert vol in volumes(project)
    finally:
        other.ok("down", "-v", "-t", "0")
    # The external volume is not the other project's to remove.
    assert vol in volumes(project)
    assert other.leftovers() == []


def test_short_syntax_bind_source_is_made_and_mounted(project):
    project.write("""
services:
  app:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sh", "-c", "echo hi > /m/f; exec sleep 1000"]
    volumes: ["./made/deep:/m"]
""")
    project.ok("up", "-d")
    made = project.dir / "made" / "deep" / "f"
    poll_until(lambda: made.exists() and made.read_text() == "hi\n", what="the bind's file")


def test_volume_driver_other_than_local_fails_up_naming_service(project):
    project.write("""
services:
  app:
    image: BUSYBOX
    command: ["sleep", "1000"]
    volumes: ["data:/data"]
volumes:
  data:
    driver: nfs
""")
    r = project("up", "-d")
    assert r.code == 1, r
    assert r.err.strip() == (f'stack: service app: volume "{project.name}_data": driver "nfs" '
                             "is not supported (stack has the local driver only)"), r
    assert volumes(project) == {}
    assert project.ps_json("-a") == []
