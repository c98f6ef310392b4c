"""The lab's state file: what it made, written BEFORE each object is made.

`state.json` in the state dir is rewritten atomically (temp file, fsync, rename) on every
change, so a SIGKILLed `up` leaves a record `down` can act on. Init processes are recorded with
their start time from /proc/PID/stat, so a recycled PID is never killed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import LabError
from ._procfs import read_stat

STATE_ROOT = Path("/var/lib/harness-lab")
STATE_FILE = "state.json"


def default_state_dir(lab_name: str) -> Path:
    return STATE_ROOT / lab_name


def proc_starttime(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (clock ticks since boot), or None if the PID is gone."""
    st = read_stat(pid)
    return st.starttime if st is not None else None


def pid_alive(pid: int | None, starttime: int | None) -> bool:
    """True only if ``pid`` still runs AND is the same process (same start time)."""
    if not pid:
        return False
    st = read_stat(pid)
    if st is None or (starttime is not None and st.starttime != starttime):
        return False
    return st.alive


@dataclass
class LabState:
    """In-memory copy of state.json; every mutator saves at once."""

    path: Path
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, state_dir: Path) -> LabState:
        path = state_dir / STATE_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            data = {}
        except (OSError, ValueError) as exc:
            raise LabError(f"{path}: unreadable lab state ({exc}); remove it after checking `ip netns`") from None
        data.setdefault("records", [])
        data.setdefault("inits", {})
        return cls(path=path, data=data)

    @property
    def exists(self) -> bool:
        return self.path.exists()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as fh:
            json.dump(self.data, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    # -- records -------------------------------------------------------------------------
    def record(self, kind: str, name: str, **extra: Any) -> None:
        """Note that the lab is about to create ``kind``/``name`` (idempotent)."""
        for rec in self.data["records"]:
            if rec["kind"] == kind and rec["name"] == name:
                return
        self.data["records"].append({"kind": kind, "name": name, **extra})
        self.save()

    def records(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.data["records"] if r["kind"] == kind]

    def forget(self, kind: str, name: str) -> None:
        self.data["records"] = [r for r in self.data["records"] if not (r["kind"] == kind and r["name"] == name)]
        self.save()

    # -- host inits ----------------------------------------------------------------------
    def set_init(self, host: str, **fields: Any) -> None:
        self.data["inits"][host] = {**self.data["inits"].get(host, {}), **fields}
        self.save()

    def init(self, host: str) -> dict[str, Any]:
        return dict(self.data["inits"].get(host, {}))

    def set(self, **fields: Any) -> None:
        self.data.update(fields)
        self.save()

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


@contextlib.contextmanager
def locked(state_dir: Path, timeout_s: float = 300.0) -> Iterator[None]:
    """Serialise up/down/domain operations on one lab across processes (flock on a side file)."""
    state_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_path = state_dir.parent / f".{state_dir.name}.lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LabError(
                        f"{lock_path}: another harness process holds the lab lock for over {timeout_s:.0f}s"
                    ) from None
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)
