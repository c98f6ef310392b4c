"""The Locust child dies with the harness, even on ``kill -9``, and is journaled while it runs.

A real parent process starts a sleeping stand-in for Locust through ``LocustLoad.start`` (the
same spawning function, only ``command()`` differs) and is then SIGKILLed; the child must go.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness.faults import Journal
from harness.faults._children import read_stat
from harness.history import HistoryRecorder
from harness.load import LocustLoad

REPO = Path(__file__).resolve().parents[2]

PARENT = textwrap.dedent("""
    import sys, time
    from harness.faults import Journal
    from harness.history import HistoryRecorder
    from harness.load import LocustLoad

    class StandIn(LocustLoad):
        def command(self):
            return [sys.executable, "-c", "import time; time.sleep(120)"]

    run = sys.argv[1]
    load = StandIn(HistoryRecorder(), "http://127.0.0.1:9", run_time_s=60.0, workdir=run + "/locust",
                   journal=Journal(run))
    load.start()
    print(load._proc.pid, flush=True)
    time.sleep(120)
""")

THREADED_PARENT = textwrap.dedent("""
    import ctypes, subprocess, sys, threading, time
    from harness.load._spawn import spawn_tied

    SLEEP = [sys.executable, "-c", "import time; time.sleep(120)"]
    libc = ctypes.CDLL(None)
    pids = {}

    def naive():  # PR_SET_PDEATHSIG set straight from the forking thread, as one would at first
        libc.prctl(1, 9, 0, 0, 0)

    def short_lived():
        pids["control"] = subprocess.Popen(SLEEP, preexec_fn=naive).pid
        pids["ours"] = spawn_tied(SLEEP).pid

    t = threading.Thread(target=short_lived)
    t.start()
    t.join()
    print(pids["control"], pids["ours"], flush=True)
    time.sleep(120)
""")


def _start_parent(script: str, *args: str) -> tuple[subprocess.Popen[str], list[int]]:
    """The parent process and the pids it prints on its first line (bounded wait)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    parent = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env)
    assert parent.stdout is not None
    ready, _, _ = select.select([parent.stdout], [], [], 60)
    first = parent.stdout.readline() if ready else ""
    if not first.strip():
        parent.kill()
        _, err = parent.communicate(timeout=10)
        pytest.fail(f"the parent printed no pid; stderr:\n{err[-2000:]}")
    return parent, [int(p) for p in first.split()]


def _running(pid: int, start: int) -> bool:
    st = read_stat(pid)
    return st is not None and st.starttime == start and st.alive


def _gone_within(pid: int, start: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while _running(pid, start):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _cleanup(pid: int, start: int | None) -> None:
    """A child a failed test left behind: kill it only if it is still that process."""
    if start is not None and _running(pid, start):
        os.kill(pid, signal.SIGKILL)


def test_the_locust_child_dies_when_the_harness_is_killed_with_sigkill_and_was_journaled(tmp_path: Path) -> None:
    parent, (child,) = _start_parent(PARENT, str(tmp_path))
    st = read_stat(child)
    assert st is not None and st.alive
    try:
        (rec,) = Journal(tmp_path).pending_children()
        assert (rec["name"], rec["pid"], rec["start_time"], rec["pgid"]) == ("locust", child, st.starttime, child)
        assert rec["command"][-2:] == ["-c", "import time; time.sleep(120)"] and rec["boot_id"]
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        assert _gone_within(child, st.starttime, 10.0), "the Locust child outlived kill -9 of its parent"
    finally:
        parent.kill()
        parent.communicate(timeout=10)
        _cleanup(child, st.starttime)


def test_a_child_forked_for_a_thread_that_ends_lives_on_until_the_process_dies(tmp_path: Path) -> None:
    # PR_SET_PDEATHSIG fires when the forking *thread* exits: the control child, tied the naive
    # way from a short-lived thread, dies with that thread; ours was forked by the spawner thread
    parent, (control, ours) = _start_parent(THREADED_PARENT)
    starts = {pid: getattr(read_stat(pid), "starttime", None) for pid in (control, ours)}
    try:
        assert starts[ours] is not None and _running(ours, starts[ours])
        assert starts[control] is None or _gone_within(control, starts[control], 10.0)
        assert _running(ours, starts[ours]), "the child died with the thread that asked for it"
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        assert _gone_within(ours, starts[ours], 10.0)
    finally:
        parent.kill()
        parent.communicate(timeout=10)
        for pid, start in starts.items():
            _cleanup(pid, start)


class _Quick(LocustLoad):
    def command(self) -> list[str]:
        return [sys.executable, "-c", "pass"]


def test_a_normal_end_closes_the_childs_journal_record(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    load = _Quick(HistoryRecorder(), "http://127.0.0.1:9", run_time_s=5.0, workdir=tmp_path / "locust", journal=journal)
    load.start()
    assert [r["state"] for r in journal.children()] == ["running"]
    assert load.wait() == 0
    assert journal.pending_children() == []
    assert [(r["child_id"], r["state"], r.get("exit_status")) for r in journal.children()] == [
        ("c1", "running", None), ("c1", "stopped", 0)]
    assert journal.pending() == []  # fault readers do not see child records


def test_stop_closes_the_record_of_a_child_it_killed(tmp_path: Path) -> None:
    class Sleepy(LocustLoad):
        def command(self) -> list[str]:
            return [sys.executable, "-c", "import time; time.sleep(60)"]

    journal = Journal(tmp_path)
    load = Sleepy(HistoryRecorder(), "http://127.0.0.1:9", run_time_s=60.0, workdir=tmp_path / "locust", journal=journal)
    load.start()
    load.stop()
    assert journal.pending_children() == []
    assert journal.children()[-1]["exit_status"] == -signal.SIGTERM
