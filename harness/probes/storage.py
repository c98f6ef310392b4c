"""The storage probe: uniquely named files written and read through each web node's mount of
the shared volume, over the host's transport (SSH on a real cluster and on the lab).

Why through the web nodes: the question is whether Moodle's data survives, and Moodle sees the
volume only through the mount (FUSE, NFS, ...) of the node serving the request. Each web node
has its own worker; at each slot it writes one file (``<mount>/<dir>/<run>/<host>-<n>``,
random hex content, checksum kept) and reads back the newest file another node had
acknowledged, so a file that is not visible across nodes shows while the fault is on, not only
in the final listing. Every command runs under coreutils ``timeout -k`` AND the transport's
own timeout: a hung FUSE mount must not hang a test (a process stuck in the kernel may outlive
both; the probe has moved on and the op is ``info``).

History (docs/history.md): ``storage-probe-<host>`` ``write`` / ``read`` with value ``{"path",
"sha256"}``; the ``ok`` completion of a read carries the checksum found (``null``: no such
file). Outcomes, as honestly as the ledger's: a write is ``ok`` when the rename into its final
name returned 0; ``fail`` when the command stopped before the rename (exit 10: the final name
never existed); ``info`` otherwise (a timeout, a lost connection, the rename's own error: it
may have happened). A read that got no answer is ``fail`` (a read has no side effect).
:meth:`StorageProbe.final_read` lists every node's files after the heal
(``storage-final-<host>`` ``list``), what ``checkers.storage.lost_files`` judges.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import ProbeError, TransportError
from ..history import HistoryRecorder
from ..transport.base import Transport
from ._base import ProbeThread, Schedule, check_bounds
from .ledger import _ms

__all__ = ["StorageProbe", "parse_sha256sum"]

_SAFE = re.compile(r"^[A-Za-z0-9_.:-]+$")
_PATH = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
_SUM_LINE = re.compile(r"^([0-9a-f]{64})\s+\*?(.+)$")
#: exit status of the write script when it stopped before the rename (nothing under the final name)
_BEFORE_RENAME = 10


def parse_sha256sum(text: str, strip_prefix: str) -> dict[str, str]:
    """``sha256sum`` lines -> {path relative to ``strip_prefix``: checksum}; temp files skipped."""
    out: dict[str, str] = {}
    prefix = strip_prefix.rstrip("/") + "/"
    for line in text.splitlines():
        m = _SUM_LINE.match(line.strip())
        if not m:
            continue
        path = m.group(2)
        if path.endswith(".tmp"):
            continue
        out[path[len(prefix):] if path.startswith(prefix) else path] = m.group(1)
    return out


class StorageProbe(ProbeThread):
    """One writer-reader per web node through its mount (see the module)."""

    name = "storage"

    def __init__(self, history: HistoryRecorder, transports: Mapping[str, Transport], mount: str, *, run_id: str,
                 rate_hz: float = 1.0, max_count: int, max_duration_s: float, timeout_s: float = 5.0,
                 size_bytes: int = 256, directory: str = "harness-probe", reads: bool = True,
                 expect_fstype: str | None = None) -> None:
        super().__init__()
        check_bounds(self.name, rate_hz=rate_hz, max_count=max_count, max_duration_s=max_duration_s,
                     timeout_s=timeout_s)
        if not transports:
            raise ProbeError("storage: no web node to write through")
        if not isinstance(mount, str) or not mount.startswith("/") or "'" in mount or mount.rstrip("/") == "":
            raise ProbeError(f"storage: mount must be an absolute path other than / (no quotes), not {mount!r}")
        for label, value in (("run_id", run_id), ("directory", directory), *(("host", h) for h in transports)):
            if not isinstance(value, str) or not _SAFE.match(value):
                raise ProbeError(f"storage: {label} {value!r} must be letters, digits, '_', '.', ':' or '-'")
        if isinstance(size_bytes, bool) or not isinstance(size_bytes, int) or not 1 <= size_bytes <= 65536:
            raise ProbeError(f"storage: size_bytes must be an integer 1..65536, not {size_bytes!r}")
        self.history = history
        self.transports = dict(transports)
        self.mount = mount.rstrip("/")
        self.run_id, self.directory = run_id, directory
        self.rate_hz, self.max_count, self.max_duration_s = rate_hz, max_count, max_duration_s
        self.timeout_s, self.size_bytes, self.reads = float(timeout_s), size_bytes, reads
        self.expect_fstype = expect_fstype
        self.counts: dict[str, int] = {"ok": 0, "fail": 0, "info": 0}
        self._acked: dict[str, tuple[str, str]] = {}  # host -> its newest acknowledged (path, sha256)
        self._lock = threading.Lock()

    @property
    def run_dir(self) -> str:
        """Where this run's files are, relative to the mount."""
        return f"{self.directory}/{self.run_id}"

    # -- commands ------------------------------------------------------------------------------
    def _t(self, seconds: float | None = None) -> str:
        t = self.timeout_s if seconds is None else seconds
        return f"timeout -k 1 {t:g}"

    def _run(self, host: str, script: str, seconds: float | None = None) -> tuple[int | None, str, str]:
        """(exit status or None when the transport gave no answer, stdout, error text)."""
        t = self.timeout_s if seconds is None else seconds
        try:
            r = self.transports[host].run(f"{self._t(t)} sh -c '{script}'", timeout=t + 2.0)
        except TransportError as exc:
            return None, "", f"{type(exc).__name__}: {exc}"
        err = (r.stderr.strip() or r.stdout.strip())[-300:]
        return r.exit_status, r.stdout, err

    def write(self, host: str, n: int) -> None:
        rel = f"{self.run_dir}/{host}-{n}"
        content = secrets.token_hex(self.size_bytes // 2 + 1)[: self.size_bytes]
        sha = hashlib.sha256(content.encode()).hexdigest()
        final = f"{self.mount}/{rel}"
        script = (f"mkdir -p {posixpath.dirname(final)} && printf %s {content} > {final}.tmp"
                  f" || exit {_BEFORE_RENAME}; mv -f {final}.tmp {final}")
        op = self.history.invoke(f"storage-probe-{host}", "write", {"path": rel, "sha256": sha})
        t0 = time.monotonic()
        status, _, err = self._run(host, script)
        if status == 0:
            op.ok({"path": rel, "sha256": sha}, took_ms=_ms(t0))
            with self._lock:
                self._acked[host] = (rel, sha)
            kind = "ok"
        elif status == _BEFORE_RENAME:
            op.fail({"path": rel, "sha256": sha}, took_ms=_ms(t0), error=f"before rename: {err}")
            kind = "fail"
        else:
            why = err or f"exit {status}"
            op.info({"path": rel, "sha256": sha}, took_ms=_ms(t0),
                    error=f"exit {status}: {why}" if status is not None else why)
            kind = "info"
        with self._lock:
            self.counts[kind] += 1

    def read(self, host: str, n: int = 0) -> None:
        """Read the newest file another node acknowledged, the nodes in turn (none yet: no read)."""
        with self._lock:
            others = sorted((h, v) for h, v in self._acked.items() if h != host)
        if not others:
            return
        rel, sha = others[n % len(others)][1]
        op = self.history.invoke(f"storage-probe-{host}", "read", {"path": rel, "sha256": sha})
        t0 = time.monotonic()
        status, out, err = self._run(host, f"if [ -e {self.mount}/{rel} ]; then sha256sum {self.mount}/{rel};"
                                           " else echo missing; fi")
        if status == 0:
            found = parse_sha256sum(out, self.mount).get(rel)
            op.ok({"path": rel, "sha256": found}, took_ms=_ms(t0))
        else:
            op.fail({"path": rel, "sha256": sha}, took_ms=_ms(t0),
                    error=f"exit {status}: {err}" if status is not None else err)

    def _prepare(self) -> None:
        """One clear error before any fault: the volume not mounted on a node, mounted
        read-only, or (``expect_fstype``) another filesystem there (a local disk in its place)."""
        for host in self.transports:
            status, out, err = self._run(host, f"mountpoint -q {self.mount}; echo mountpoint=$?;"
                                               f" findmnt -rn -o FSTYPE,OPTIONS --mountpoint {self.mount} || true")
            if status is None or status != 0:
                raise ProbeError(f"storage: {host}: cannot check the mount {self.mount}: {err or f'exit {status}'}")
            lines = out.split()
            if "mountpoint=0" not in lines:
                raise ProbeError(f"storage: {host}: {self.mount} is not a mount point (the shared volume is not"
                                 " mounted: files would land on the node's own disk)")
            fstype, options = (lines[1], lines[2].split(",")) if len(lines) >= 3 else ("?", [])
            if "ro" in options:
                raise ProbeError(f"storage: {host}: {self.mount} is mounted read-only ({','.join(options)})")
            if self.expect_fstype is not None and fstype != self.expect_fstype:
                raise ProbeError(f"storage: {host}: {self.mount} is {fstype}, not {self.expect_fstype}")

    # -- the workers ---------------------------------------------------------------------------
    def _workers(self) -> list[tuple[str, Callable[[], None]]]:
        start = time.monotonic()
        return [(f"storage-probe-{h}", lambda h=h: self._worker(h, start)) for h in self.transports]  # type: ignore[misc]

    def _worker(self, host: str, start: float) -> None:
        t_end = start + self.max_duration_s
        sched = Schedule(self.rate_hz, start, t_end)
        for n in range(self.max_count):
            if self.stopping or self.next_slot(sched, t_end) is None:
                return
            self.write(host, n)
            if self.reads and not self.stopping:
                self.read(host, n)
            sched.advance()

    # -- after the heal ------------------------------------------------------------------------
    def final_read(self, hosts: list[str] | None = None, *, paths: Iterable[str] = (),
                   timeout_s: float = 30.0) -> dict[str, dict[str, str] | None]:
        """List this run's files on each host's mount, and ``paths`` (relative to the mount:
        e.g. the LMS's uploads, ``filedir/..``), recorded (``storage-final-<host>``); host ->
        {path: sha256}, None where the listing failed (recorded ``fail``)."""
        extra = sorted(set(paths))
        for p in extra:
            if not _PATH.match(p) or ".." in p.split("/"):
                raise ProbeError(f"storage: final_read path {p!r} is not a plain relative path")
        # a file that exists but cannot be read (EIO, a split brain) fails the listing: absent
        # and unreadable are different findings
        check = "".join(f" if [ -e {self.mount}/{p} ]; then sha256sum {self.mount}/{p} || rc=1; fi;" for p in extra)
        out: dict[str, dict[str, str] | None] = {}
        for host in hosts or list(self.transports):
            op = self.history.invoke(f"storage-final-{host}", "list", None)
            status, text, err = self._run(
                host, f"rc=0; d={self.mount}/{self.run_dir}; if [ -d $d ]; then find $d -type f ! -name \"*.tmp\""
                      f" -exec sha256sum {{}} + || rc=1; fi;{check} exit $rc", timeout_s)
            if status == 0:
                files = parse_sha256sum(text, self.mount)
                op.ok({"files": files})
                out[host] = files
            else:
                op.fail(None, error=f"exit {status}: {err}" if status is not None else err)
                out[host] = None
        return out

    def summary(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "hosts": sorted(self.transports), "run_dir": self.run_dir}
