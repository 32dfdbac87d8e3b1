"""Stopping: the stop signal, the grace period, SIGKILL to the whole cgroup, and the
exit code that comes back."""
import signal
import time

from engine_helpers import engine, needs_busybox, needs_root  # noqa: F401

pytestmark = [needs_root, needs_busybox]


def wait_ready(c):
    line = c.proc.stdout.readline()
    assert line.strip() == "ready", line


def test_term_ignoring_process_is_killed_after_grace(engine):
    # PID 1 without a handler ignores SIGTERM: only the SIGKILL after the grace ends it.
    c = engine.start("sh", "-c", "echo ready; while :; do sleep 0.1; done",
                     spec={"stop_grace_period": 1})
    wait_ready(c)
    t0 = time.monotonic()
    c.proc.send_signal(signal.SIGTERM)
    code, _, err = c.wait()
    elapsed = time.monotonic() - t0
    assert code == 137, err
    assert c.report() == {"exit_code": 137, "signal": 9, "oom_killed": False}
    assert elapsed >= 0.9


def test_process_handling_term_exits_with_its_own_code(engine):
    c = engine.start("sh", "-c", "trap 'exit 3' TERM; echo ready; while :; do sleep 0.1; done",
                     spec={"stop_grace_period": 30})
    wait_ready(c)
    c.proc.send_signal(signal.SIGTERM)
    code, _, err = c.wait(timeout=20)
    assert code == 3, err


def test_stop_signal_by_name_is_used(engine):
    c = engine.start("sh", "-c", "trap 'exit 4' USR1; echo ready; while :; do sleep 0.1; done",
                     spec={"stop_signal": "SIGUSR1", "stop_grace_period": 30})
    wait_ready(c)
    c.proc.send_signal(signal.SIGINT)
    code, _, err = c.wait(timeout=20)
    assert code == 4, err


def test_stop_kills_every_process_of_the_cgroup(engine):
    # Children that ignore TERM and would outlive a PID 1 signal must go too.
    c = engine.start("sh", "-c", "trap '' TERM; (trap '' TERM; sleep 1000) & "
                     "(trap '' TERM; sleep 1000) & echo ready; wait",
                     spec={"stop_grace_period": 0.5})
    wait_ready(c)
    c.proc.send_signal(signal.SIGTERM)
    code, _, err = c.wait(timeout=20)
    assert code == 137, err


def test_other_signals_are_forwarded_to_pid_1(engine):
    c = engine.start("sh", "-c", "trap 'exit 5' HUP; echo ready; while :; do sleep 0.1; done")
    wait_ready(c)
    c.proc.send_signal(signal.SIGHUP)
    code, _, err = c.wait(timeout=20)
    assert code == 5, err


def test_killed_by_signal_reports_128_plus_signal(engine):
    r = engine.run("sh", "-c", "kill -USR2 $$")
    # PID 1 ignores signals it has no handler for, even from itself: a child shows it.
    r = engine.run("sh", "-c", "sh -c 'kill -USR2 $$'; echo $?")
    assert r.code == 0, r
    assert r.out.strip() == str(128 + signal.SIGUSR2)
