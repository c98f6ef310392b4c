"""Run Locust headless in a subprocess, bounded in time, and stream its raw samples into the history."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from ..errors import HarnessError
from ..faults import Journal, child_record
from ..history import HistoryRecorder
from ..inventory import Moodle
from ._spawn import spawn_tied
from .moodle_env import moodle_environment

#: both files ship in the package, so an installed wheel finds them without a checkout
RECORDER = Path(__file__).with_name("_recorder.py")
DEFAULT_LOCUSTFILE = Path(__file__).with_name("moodle_locustfile.py")


class LoadError(HarnessError):
    """Locust could not be started, or exited with an error before its time was up."""


class LocustLoad:
    """Headless Locust run in a subprocess; every request sample lands in ``history``.

    Each sample becomes an invoke + completion of process ``locust-<user>`` with ``f`` = the
    request name (docs/history.md). Bounded: Locust's own ``--run-time`` plus a hard kill at
    ``run_time_s + grace_s``.

    ``moodle`` (the cluster file's section, ``inventory.moodle``; ``moodle_source`` is the file,
    for errors) becomes the locustfile's ``MOODLE_*`` variables; ``env`` is applied over them,
    so a caller's per-run settings (post-key prefix, short waits) win.

    The child dies with this process (harness.load._spawn: SIGKILL when the harness is gone,
    ``kill -9`` included). With a ``journal`` it is journaled (pid, start time, command) as soon
    as it runs and closed there once it has exited, so `harness heal` stops a survivor.
    """

    def __init__(
        self,
        history: HistoryRecorder,
        host_url: str,
        *,
        users: int = 4,
        spawn_rate: float = 4.0,
        run_time_s: float = 60.0,
        locustfile: str | Path = DEFAULT_LOCUSTFILE,
        env: Mapping[str, str] | None = None,
        workdir: str | Path | None = None,
        grace_s: float = 15.0,
        moodle: Moodle | None = None,
        moodle_source: str = "<memory>",
        journal: Journal | None = None,
    ) -> None:
        if users < 1:
            raise LoadError(f"users must be >= 1, not {users}")
        if run_time_s <= 0:
            raise LoadError(f"run_time_s must be > 0, not {run_time_s}")
        self.history = history
        self.host_url = host_url
        self.users = users
        self.spawn_rate = spawn_rate
        self.run_time_s = run_time_s
        self.locustfile = Path(locustfile)
        self.env = dict(env or {})
        self.moodle = moodle
        self.moodle_source = moodle_source
        self.grace_s = grace_s
        self.journal = journal
        self._record_open: dict[str, object] | None = None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="harness-locust-"))
        self.samples_path = self.workdir / "locust-samples.jsonl"
        self.log_path = self.workdir / "locust.log"
        self.samples = 0
        self.failures = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._tail: threading.Thread | None = None
        self._stop = threading.Event()
        self._wall0 = 0.0
        self._hist0 = 0.0

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "locust",
            "-f", f"{self.locustfile},{RECORDER}",
            "--headless", "--only-summary",
            "-u", str(self.users), "-r", str(self.spawn_rate),
            "-t", f"{max(1, int(round(self.run_time_s)))}s",
            "--stop-timeout", "5",
            "--host", self.host_url,
        ]

    def environment(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The subprocess's environment: ``base`` (default: ours), the Moodle settings, ``env``."""
        env = dict(os.environ if base is None else base)
        if self.moodle is not None:
            env.update(moodle_environment(self.moodle, source=self.moodle_source))
        env.update(self.env)
        env["HARNESS_LOCUST_SAMPLES"] = str(self.samples_path)
        return env

    def start(self) -> LocustLoad:
        if not self.locustfile.exists():
            raise LoadError(f"locustfile {self.locustfile} does not exist")
        env = self.environment()  # first: an unset password variable fails before anything starts
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.samples_path.write_text("")
        self._wall0 = time.time()
        self._hist0 = self.history.now()
        log: IO[bytes] = open(self.log_path, "wb")
        command = self.command()
        try:
            self._proc = spawn_tied(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, cwd=self.workdir, start_new_session=True,
            )
        finally:
            log.close()
        if self.journal is not None:
            try:
                rec = child_record(self.journal.new_child_id(), "locust", self._proc.pid, command)
                self._record_open = self.journal.write_child(rec)
            except BaseException:  # an unjournaled load is one heal could not stop: none at all
                self.stop()
                raise
        self._tail = threading.Thread(target=self._tail_samples, name="locust-tail", daemon=True)
        self._tail.start()
        return self

    def _record(self, line: str) -> None:
        try:
            s = json.loads(line)
        except json.JSONDecodeError:
            return
        user = s.get("user") or "anon"
        extra: dict[str, object] = {"latency_ms": s.get("ms"), "t_start": round(s["t"] - self._wall0 + self._hist0, 6)}
        for field in ("node", "key", "error"):
            if s.get(field) is not None:
                extra[field] = s[field]
        if s.get("name") == "forced_relogin":
            extra["forced_relogin"] = True
        type_ = s.get("outcome") if s.get("outcome") in ("ok", "fail", "info") else ("ok" if s.get("ok") else "fail")
        self.samples += 1
        if type_ != "ok":
            self.failures += 1
        invoke: dict[str, object] = {"user": user}
        for field in ("key", "path", "sha256"):  # a post's ledger key; an upload's file and checksum
            if s.get(field):
                invoke[field] = s[field]
        self.history.record(f"locust-{user}", str(s.get("name")), type_, s.get("status"), invoke_value=invoke,
                            **extra)

    def _tail_samples(self) -> None:
        buf = ""
        with open(self.samples_path, encoding="utf-8") as fh:
            while True:
                chunk = fh.read()
                if chunk:
                    buf += chunk
                    *lines, buf = buf.split("\n")
                    for line in lines:
                        if line.strip():
                            self._record(line)
                elif self._stop.is_set():
                    return
                else:
                    time.sleep(0.05)

    def wait(self, timeout: float | None = None) -> int:
        """Wait for Locust to finish (bounded); returns its exit status."""
        if self._proc is None:
            raise LoadError("load was not started")
        limit = timeout if timeout is not None else self.run_time_s + self.grace_s
        try:
            rc = self._proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            self.stop()
            rc = self._proc.wait(timeout=10)
        self._finish_tail()
        self._close_record()
        return rc

    def stop(self) -> None:
        """Stop Locust now (its whole process group), then drain the remaining samples."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=8)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=5)
        self._finish_tail()
        self._close_record()

    def _close_record(self) -> None:
        """Journal the end of a child that has exited (a normal end: nothing left to heal)."""
        rec, proc = self._record_open, self._proc
        if rec is None or self.journal is None or proc is None or proc.poll() is None:
            return
        self.journal.write_child({**rec, "state": "stopped", "exit_status": proc.returncode})
        self._record_open = None

    def _finish_tail(self) -> None:
        self._stop.set()
        if self._tail is not None:
            self._tail.join(timeout=10)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> LocustLoad:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
