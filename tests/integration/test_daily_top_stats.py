"""`stack top` and `stack stats` through the real CLI against a running project: the
processes come from each container's cgroup, the figures from its cgroups and its
network namespace."""
import json

from engine_helpers import needs_root
from netlib import needs_root as needs_netns
from uplib import poll_until, project  # noqa: F401 (fixture)

pytestmark = [needs_root, needs_netns]


def pid1(project, name):
    for d in (project.root / "containers").iterdir():
        if json.loads((d / "config.json").read_text())["name"] == name:
            return int((d / "engine" / "pid").read_text())
    raise AssertionError(name)


def test_top_lists_each_containers_processes_under_its_name(project):
    project.write("""
services:
  app:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sh", "-c", "sleep 1001 & exec sleep 1002"]
  other:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1003"]
""")
    project.ok("up", "-d")
    app = f"{project.name}-app-1"
    poll_until(lambda: "sleep 1001" in project.ok("top", "app").out, what="both processes")
    out = project.ok("top", "app").out
    lines = out.splitlines()
    assert lines[0] == app
    assert lines[1].split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    rows = {line.split(None, 7)[7]: line.split() for line in lines[2:] if line.strip()}
    assert set(rows) == {"sleep 1001", "sleep 1002"}, out
    main = rows["sleep 1002"]
    assert main[0] == "root" and int(main[1]) == pid1(project, app)
    assert int(rows["sleep 1001"][2]) == pid1(project, app)  # its parent: PID 1
    assert main[5] == "?" and main[6] == "00:00:00"
    assert lines[-1] == "" or out.endswith("\n\n")
    # No service named: every running container, each under its own name.
    out = project.ok("top").out
    assert app in out.splitlines() and f"{project.name}-other-1" in out.splitlines()
    assert "sleep 1003" in out
    r = project("top", "nope")
    assert r.code == 1 and "no such service: nope" in r.err, r


def test_stats_no_stream_json_reports_memory_limit_pids_and_cpu(project):
    project.write("""
services:
  busy:
    image: BUSYBOX
    stop_signal: SIGKILL
    mem_limit: 64m
    command: ["sh", "-c", "sleep 1000 & sleep 1000 & while :; do :; done"]
  idle:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
""")
    project.ok("up", "-d")

    def busy_stats():
        rows = [json.loads(line) for line in
                project.ok("stats", "--no-stream", "--format", "json").out.splitlines()]
        by_name = {r["Name"]: r for r in rows}
        b = by_name.get(f"{project.name}-busy-1")
        # A busy loop's share depends on the machine's load: some, on a sample.
        return by_name if b and b["PIDs"] == "3" and float(b["CPUPerc"][:-1]) > 5 else None

    by_name = poll_until(busy_stats, what="three processes in busy, one spinning")
    assert set(by_name) == {f"{project.name}-busy-1", f"{project.name}-idle-1"}
    busy = by_name[f"{project.name}-busy-1"]
    assert set(busy) == {"BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage",
                         "Name", "NetIO", "PIDs"}
    assert busy["MemUsage"].endswith(" / 64MiB"), busy
    assert len(busy["ID"]) == 12 and busy["NetIO"].count(" / ") == 1
    assert busy["BlockIO"].count(" / ") == 1 and busy["MemPerc"].endswith("%")
    idle = by_name[f"{project.name}-idle-1"]
    assert idle["PIDs"] == "1" and float(idle["CPUPerc"].rstrip("%")) < 2, idle
    # Named service, --no-trunc, and the table's header.
    out = project.ok("stats", "--no-stream", "--no-trunc", "idle").out.splitlines()
    assert out[0].startswith("CONTAINER ID")
    for col in ("NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"):
        assert col in out[0]
    assert len(out) == 2 and out[1].split()[0] == idle["ID"] + out[1].split()[0][12:]
    assert len(out[1].split()[0]) == 64


def test_stats_counts_the_network_traffic_of_each_container(project):
    project.write("""
services:
  server:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sh", "-c", "head -c 2000000 /dev/zero > /tmp/big; exec httpd -f -p 8000 -h /tmp"]
  client:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sh", "-c", "until wget -q -O /dev/null http://server:8000/big; do sleep 0.1; done; exec sleep 1000"]
""")
    project.ok("up", "-d")

    def mb(v):
        return float(v[:-2]) if v.endswith("MB") else 0

    def traffic():
        r = project.ok("stats", "--no-stream", "--format", "json").out
        rows = {json.loads(line)["Name"]: json.loads(line)["NetIO"] for line in r.splitlines()}
        rx = rows[f"{project.name}-client-1"].split(" / ")[0]
        tx = rows[f"{project.name}-server-1"].split(" / ")[1]
        return mb(rx) >= 2 and mb(tx) >= 2

    poll_until(traffic, what="2 MB from server to client in NET I/O")


def test_stats_streams_a_new_table_each_second_until_interrupted(project):
    project.write("""
services:
  app:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
""")
    project.ok("up", "-d")
    proc = project.spawn("stats")
    try:
        headers = 0
        while headers < 2:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            headers += line.startswith("CONTAINER ID")
    finally:
        proc.terminate()
        proc.wait()
    # A container that stops while it is watched shows "--".
    proc = project.spawn("stats", "--format", "json")
    try:
        line = json.loads(proc.stdout.readline())
        assert line["Name"] == f"{project.name}-app-1" and line["CPUPerc"] != "--"
        project.ok("stop", "app")
        while line["CPUPerc"] != "--":
            text = proc.stdout.readline()
            assert text, proc.stderr.read()
            line = json.loads(text)
        assert line["MemUsage"] == "--" and line["PIDs"] == "--"
    finally:
        proc.terminate()
        proc.wait()
    r = project("stats", "--format", "yaml")
    assert r.code == 2 and "unsupported --format" in r.err, r


def test_stats_shows_only_running_containers_unless_all(project):
    project.write("""
services:
  job:
    image: BUSYBOX
    command: ["true"]
""")
    project.ok("up", "-d")
    poll_until(lambda: not project.ps_json(), what="the job to end")
    assert project.ok("stats", "--no-stream").out.splitlines()[0].startswith("CONTAINER ID")
    assert len(project.ok("stats", "--no-stream").out.splitlines()) == 1
    # -a shows stopped containers too, without figures.
    rows = project.ok("stats", "--no-stream", "-a").out.splitlines()
    assert len(rows) == 2 and rows[1].split()[1:] == [f"{project.name}-job-1"] + ["--"] * 6
