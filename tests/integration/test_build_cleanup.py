"""stack build never leaves a RUN container behind: a failing stage or service stops its
siblings at once, and a builder killed with SIGKILL is cleaned up after (by its guard at
once, or by the next build when the guard was killed too). The builder fixture then
checks that no container, cgroup, process, mount or scratch file remains."""
import os
import signal
from pathlib import Path

import pytest

from build_helpers import builder, in_cgroup, mounts_anywhere  # noqa: F401
from engine_helpers import cgroup_dir

needs_two_cpus = pytest.mark.skipif((os.cpu_count() or 1) < 2,
                                    reason="stages and services run side by side only with 2 CPUs")

# The sleeping step marks its start and its end in a cache mount (shared by every step
# of the root that names id=meet); the failing step waits for the start, so it fails
# while the sleeper's RUN is running.
SLEEPER = "RUN --mount=type=cache,id=meet,target=/meet touch /meet/started; sleep 120; touch /meet/slept\n"
FAILER = ("RUN --mount=type=cache,id=meet,target=/meet until [ -e /meet/started ]; do sleep 0.05; done; "
          "echo failing on purpose; exit 3\n")


def meet(builder, name):
    """Does the marker exist in the cache mount?"""
    return any((d / name).exists() for d in (builder.root / "build/cache-mounts").iterdir())


def children(pid):
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def comm(pid):
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def assert_containers_gone(builder, containers):
    for cid, pids in containers.items():
        assert [p for p in pids if in_cgroup(p, cid)] == [], cid
        assert not cgroup_dir("pids", cid).exists()
        assert not (builder.root / "containers" / cid).exists()
    assert mounts_anywhere(builder.tmp) == []


@needs_two_cpus
def test_a_failing_stage_stops_its_sibling_stage_at_once_and_is_named(builder):
    builder.dockerfile(f"""
FROM @BASE@ AS sleeper
{SLEEPER}
FROM @BASE@ AS bad
{FAILER}
FROM @BASE@
COPY --from=sleeper /bin/sh /a
COPY --from=bad /bin/sh /b
""")
    r = builder.build()
    assert r.code == 1, r
    first = r.err.splitlines()[0]
    assert first.startswith("stack: app: stage bad: step 4/7: RUN --mount=type=cache"), r
    assert first.endswith("exit 3") and "failing on purpose" in r.err, r
    assert meet(builder, "started"), r  # the sleeper's RUN ran ...
    assert not meet(builder, "slept"), r  # ... and was stopped, not waited for
    assert mounts_anywhere(builder.tmp) == []


@needs_two_cpus
def test_a_failing_service_stops_the_other_services_builds(builder):
    builder.write("Dockerfile.sleeper", f"FROM {builder.base}\n{SLEEPER}")
    builder.write("Dockerfile.bad", f"FROM {builder.base}\n{FAILER}")
    builder.write("compose.yaml", "services:\n"
                  "  sleeper:\n    build:\n      context: .\n      dockerfile: Dockerfile.sleeper\n"
                  "  bad:\n    build:\n      context: .\n      dockerfile: Dockerfile.bad\n")
    r = builder.build()
    assert r.code == 1, r
    assert "stack: bad: step 2/2: RUN --mount=type=cache" in r.err and "exit 3" in r.err, r
    assert "stack: sleeper: not built: the build of bad failed" in r.err, r
    assert meet(builder, "started") and not meet(builder, "slept"), r


SLEEPS = "RUN echo started; sleep 600\n"
# one build whose RUN sleeps; two stages of one build; two services (each a child of
# the CLI), whose builders die with it
KILLED = {
    "one step": ("FROM @BASE@\n" + SLEEPS, None, 1),
    "two stages": ("FROM @BASE@ AS a\n" + SLEEPS + "FROM @BASE@ AS b\n" + SLEEPS
                   + "FROM @BASE@\nCOPY --from=a /bin/sh /a\nCOPY --from=b /bin/sh /b\n", None, 2),
    "two services": ("FROM @BASE@\n" + SLEEPS,
                     "services:\n  one:\n    build: .\n  two:\n    build: .\n", 2),
}


@pytest.mark.parametrize("case", KILLED)
def test_kill_9_of_build_during_run_leaves_nothing_behind(builder, case):
    dockerfile, compose, count = KILLED[case]
    if count > 1 and (os.cpu_count() or 1) < 2:
        pytest.skip("stages and services run side by side only with 2 CPUs")
    builder.dockerfile(dockerfile, compose)
    p = builder.start_build()
    running = builder.running_run_containers("sleep", count)
    p.kill()
    # the guard keeps the build's stdout and stderr until it has cleaned up
    out, err = p.communicate(timeout=60)
    assert p.returncode == -signal.SIGKILL, (out, err)
    assert "clean up" not in err, err  # the guard reported nothing it could not remove
    assert_containers_gone(builder, running)


def test_a_build_killed_with_its_guard_is_cleaned_up_by_the_next_build(builder):
    builder.dockerfile("FROM @BASE@\n" + SLEEPS)
    p = builder.start_build()
    running = builder.running_run_containers("sleep")
    guards = [c for c in children(p.pid) if comm(c) == "stack-guard"]
    assert len(guards) == 1, children(p.pid)
    os.kill(guards[0], signal.SIGKILL)
    p.kill()
    p.communicate(timeout=60)
    # nothing cleaned up yet: the RUN still runs, orphaned
    (cid, pids), = running.items()
    assert [q for q in pids if in_cgroup(q, cid)] != []
    builder.dockerfile("FROM @BASE@\nRUN echo next > /next\n")
    r = builder.build()
    assert r.code == 0, r
    assert_containers_gone(builder, running)
