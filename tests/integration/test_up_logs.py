"""`stack logs` from the files the supervisor writes: --tail, -f, -t, --since/--until,
rotation per logging.options, and logs kept across a supervisor's death."""
import json
import os
import signal
import subprocess
import time

from conftest import STACK
from engine_helpers import needs_root
from netlib import needs_root as needs_netns
from uplib import poll_until, project  # noqa: F401 (fixture)

pytestmark = [needs_root, needs_netns]

COUNTER = """
services:
  app:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sh", "-c", "i=1; while [ $$i -le %d ]; do echo line $$i; echo err $$i >&2; i=$$((i+1)); done; %s"]
"""


def lines_of(project, *args):
    return project.ok("logs", "--no-log-prefix", *args).out.splitlines()


def test_logs_tail_gives_the_last_records_of_both_streams(project):
    project.write(COUNTER % (50, "sleep 1000"))
    project.ok("up", "-d")
    poll_until(lambda: "err 50" in lines_of(project), what="all output")
    everything = lines_of(project)
    assert sorted(everything) == sorted([f"line {i}" for i in range(1, 51)] +
                                        [f"err {i}" for i in range(1, 51)])
    # The two streams are read apart, so their records interleave as they arrived.
    assert lines_of(project, "--tail", "3") == everything[-3:]
    assert lines_of(project, "--tail", "0") == []


def test_logs_records_carry_stream_and_time(project):
    project.write(COUNTER % (1, "sleep 1000"))
    project.ok("up", "-d")
    poll_until(lambda: "err 1" in lines_of(project), what="output")
    [cid] = [c["ID"] for c in project.ps_json()]
    recs = [json.loads(line) for line in
            (project.root / "containers" / cid / "container.log").read_text().splitlines()]
    streams = {r["log"]: r["stream"] for r in recs}
    assert streams == {"line 1\n": "stdout", "err 1\n": "stderr"}
    out = project.ok("logs", "-t", "--no-log-prefix").out.splitlines()
    assert all(line[:4].isdigit() and "T" in line.split()[0] for line in out), out
    # --until a time before anything was written shows nothing.
    assert lines_of(project, "--until", "2000-01-01T00:00:00") == []
    assert len(lines_of(project, "--since", "1h")) == 2


def test_logs_follow_streams_until_the_container_exits(project):
    project.write("""
services:
  app:
    image: BUSYBOX
    command: ["sh", "-c", "echo first; sleep 1000"]
    stop_signal: SIGKILL
""")
    project.ok("up", "-d")
    poll_until(lambda: "first" in lines_of(project), what="the first line")
    p = subprocess.Popen([STACK, "--root", str(project.root), "-p", project.name,
                          "--project-directory", str(project.dir), "logs", "-f",
                          "--no-log-prefix"], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "first\n"
    # The follower exits by itself once the container has gone.
    project.ok("stop", "-t", "0")
    assert p.wait(timeout=30) == 0


def test_logs_rotate_at_max_size_and_tail_reads_across_files(project):
    project.write("""
services:
  app:
    image: BUSYBOX
    stop_signal: SIGKILL
    logging:
      options:
        max-size: 2k
        max-file: "3"
    command: ["sh", "-c", "i=1; while [ $$i -le 400 ]; do echo line $$i; i=$$((i+1)); done; sleep 1000"]
""")
    project.ok("up", "-d")
    poll_until(lambda: lines_of(project, "--tail", "1") == ["line 400"], what="all output")
    [cid] = [c["ID"] for c in project.ps_json()]
    d = project.root / "containers" / cid
    files = sorted(p.name for p in d.glob("container.log*"))
    assert files == ["container.log", "container.log.1", "container.log.2"]
    assert all(p.stat().st_size < 2048 + 200 for p in d.glob("container.log*"))
    kept = lines_of(project)
    assert kept[-1] == "line 400" and kept[0] != "line 1"
    assert lines_of(project, "--tail", str(len(kept))) == kept


def test_container_keeps_writing_while_no_supervisor_runs_and_adoption_reads_it(project):
    project.write("""
services:
  app:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sh", "-c", "i=0; while true; do echo tick $$i; i=$$((i+1)); sleep 0.05; done"]
""")
    project.ok("up", "-d")
    [pid] = project.supervisor_pids()
    [before] = project.ps_json()
    os.kill(int(pid), signal.SIGKILL)
    poll_until(lambda: not project.supervisor_pids(), what="the supervisor to die")
    n_dead = len(lines_of(project))
    # up -d adopts the running container: same container, not restarted.
    r = project.ok("up", "-d")
    assert f" Container {project.name}-app-1  Running" in r.err.splitlines(), r.err
    [after] = project.ps_json()
    assert after["ID"] == before["ID"]
    # What it wrote meanwhile (kept in the FIFO) and after reaches the log.
    poll_until(lambda: len(lines_of(project)) > n_dead + 5, what="new lines")
    ticks = [int(line.split()[1]) for line in lines_of(project)]
    assert ticks == list(range(len(ticks))), "a line was lost or repeated"
