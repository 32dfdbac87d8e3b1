"""Logging when the disk is full: the container keeps running and is never blocked,
the lines that could not be written are counted, and the count is reported (the
supervisor's log, `ps --format json`, `logs`)."""
import json
import os
import subprocess

from engine_helpers import needs_root
from netlib import needs_root as needs_netns
from uplib import poll_until, project  # noqa: F401 (fixture)

pytestmark = [needs_root, needs_netns]

LINE = "0123456789" * 9
BURST = 30000


def test_disk_full_while_logging_counts_lost_lines_and_the_container_keeps_running(project):
    # The project's containers (their logs too) on a 1 MiB tmpfs of this test's own
    # mount namespace: the burst below needs about 4 MiB of log.
    containers = project.root / "containers"
    containers.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(containers)],
                   check=True)
    try:
        project.write(f"""
services:
  app:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sh", "-c", "yes {LINE} | head -n {BURST}; touch /tmp/burst-done;
      while [ ! -e /tmp/more ]; do sleep 0.05; done; echo after; exec sleep 1000"]
""")
        project.ok("up", "-d")
        [c] = project.ps_json()
        pid = json.loads((containers / c["ID"] / "state.json").read_text())["pid"]
        log = next((project.root / "run").glob("*/supervisor.log"))
        poll_until(lambda: os.path.exists(f"/proc/{pid}/root/tmp/burst-done"),
                   what="the burst to end")
        assert "output lines are being lost" in log.read_text()
        # Space again: the next line is written and the count is recorded.
        subprocess.run(["mount", "-o", "remount,size=64m", str(containers)], check=True)
        open(f"/proc/{pid}/root/tmp/more", "w").close()
        poll_until(lambda: "after" in project.ok("logs", "--no-log-prefix").out,
                   what="the line after the burst")
        [c] = project.ps_json()
        assert c["State"] == "running"
        lost = c["LogLinesLost"]
        kept = sum(1 for rec in (containers / c["ID"] / "container.log").read_text()
                   .splitlines() if json.loads(rec)["log"] == LINE + "\n")
        assert lost > 0 and kept + lost == BURST, (kept, lost)
        assert f"{lost} lines lost in all" in log.read_text()
        r = project.ok("logs")
        assert f"{project.name}-app-1: {lost} lines of output were lost" in r.err, r.err
        project.ok("down")
    finally:
        subprocess.run(["umount", str(containers)])
