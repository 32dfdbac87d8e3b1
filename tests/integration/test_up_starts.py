"""How `up` starts containers: the supervisor begins a start (clone, cgroup, "go") and
goes on while the engine's child sets itself up, so several are in flight at once; the
progress Compose prints (Starting, then Started once the program has exec'd) shows it.
Dependency order still holds, and a start that fails in the child among many fails the
command with the service named and leaves nothing of that container."""
from engine_helpers import needs_root
from netlib import needs_root as needs_netns
from uplib import project  # noqa: F401 (fixture)

pytestmark = [needs_root, needs_netns]


def services(n, extra=""):
    text = "services:\n" + "".join(
        f"  s{i}:\n    image: BUSYBOX\n    command: [\"sleep\", \"1000\"]\n"
        "    stop_signal: SIGKILL\n" for i in range(n))
    return text + extra


def most_in_flight(err, name):
    """The most starts begun and not yet ended at any point of the progress lines."""
    inflight = most = 0
    for line in err.splitlines():
        if line.startswith(" Container ") and line.endswith("  Starting"):
            inflight += 1
            most = max(most, inflight)
        elif line.startswith(" Container ") and line.endswith("  Started"):
            inflight -= 1
    return most


def test_independent_services_start_at_once(project):
    project.write(services(6))
    r = project.ok("up", "-d")
    # Serial starts would show Starting, Started, Starting, ... (one in flight).
    assert most_in_flight(r.err, project.name) == 6, r.err
    assert r.err.count("  Started") == 6, r.err
    states = [c["State"] for c in project.ps_json()]
    assert states == ["running"] * 6


def test_dependent_starts_only_after_its_dependencies_have_started(project):
    project.write(services(4, """  web:
    image: BUSYBOX
    command: ["sleep", "1000"]
    stop_signal: SIGKILL
    depends_on: [s0, s1, s2, s3]
"""))
    r = project.ok("up", "-d")
    lines = r.err.splitlines()
    n = project.name
    web = lines.index(f" Container {n}-web-1  Starting")
    for i in range(4):
        assert lines.index(f" Container {n}-s{i}-1  Started") < web, r.err
    assert most_in_flight(r.err, n) == 4, r.err
    assert sorted(c["Service"] for c in project.ps_json()) == ["s0", "s1", "s2", "s3", "web"]


def test_start_failing_among_many_names_the_service_and_leaves_no_trace_of_it(project):
    project.write(services(5, """  bad:
    image: BUSYBOX
    command: ["/no/such/program"]
"""))
    r = project("up", "-d")
    assert r.code == 1, r
    last = r.err.strip().splitlines()[-1]
    assert last.startswith("stack: bad: start "), r.err
    assert "/no/such/program" in last, r.err
    # The failing container is removed; the others started as Compose leaves them.
    names = [c["Name"] for c in project.ps_json("-a")]
    assert f"{project.name}-bad-1" not in names, names
    assert sorted(c["Service"] for c in project.ps_json()) == [f"s{i}" for i in range(5)]
    # Nor is its endpoint left in the network record (DNS, leases).
    record = (project.root / "net" / f"{project.name}.json").read_text()
    assert f"{project.name}-bad-1" not in record


def test_first_up_whose_only_start_fails_in_the_child_leaves_nothing(project):
    project.write("""
services:
  bad:
    image: BUSYBOX
    command: ["/no/such/program"]
""")
    r = project("up", "-d")
    assert r.code == 1, r
    assert "bad" in r.err.strip().splitlines()[-1], r.err
    assert project.leftovers() == []
