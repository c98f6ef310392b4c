"""The file tier's verdicts: files acknowledged and then lost or corrupted, and self-heal.

Histories (docs/history.md, "Files"): a storage write ``{"path": p, "sha256": s}`` of a
``storage-probe-<host>`` process (or an upload of the LMS load with the same value) is acknowledged
when its completion is ``ok``; after the heal each web node lists what its mount holds, one
``storage-final-<host>`` ``list`` whose ``ok`` value is ``{"files": {path: sha256}}``; the
self-heal backlog is sampled by ``storage-heal`` ``heal-info`` ops whose ``ok`` value is
``{"pending": n}`` (``null`` while a brick does not answer: unknown is not zero).

- :func:`lost_files`: every acknowledged file must be on every web node with its checksum,
  and every read the storage probe made of a file another node had acknowledged must find it
  whole (``read_missing`` / ``read_corrupt``: not visible across nodes while the run went on).
  A ``fail`` write found on a node is INVALID too (``fail`` promises it did not happen); an
  ``info`` write may be there or not. No final listing, or nothing acknowledged: UNKNOWN (a
  run that wrote nothing proves nothing).
- :func:`storage_convergence`: after the last heal the backlog must reach 0 and stay there,
  within ``max_s`` when given. Never reaching 0 while sampled past ``max_s`` is INVALID; no
  sample after the heal, or the samples ending before 0 and before ``max_s``: UNKNOWN.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import HistoryError
from ..history import Op
from ._convergence import check_max_s, convergence_verdict, last_heal
from ._orphans import Orphans, fail_closed
from ._result import CheckResult, Validity
from .availability import DEFAULT_MAX_PROBE_GAP_S, availability

LOST = "lost_files"
CONVERGENCE = "storage_convergence"
AVAILABILITY = "storage_availability"
#: the processes of the file tier's history (harness.probes.storage)
STORAGE_PROBE_PREFIX = "storage-probe-"
STORAGE_FINAL_PREFIX = "storage-final-"
STORAGE_HEAL_PROCESS = "storage-heal"


def storage_availability(ops: Iterable[Op], max_outage_s: float | None = None, *,
                         max_probe_gap_s: float = DEFAULT_MAX_PROBE_GAP_S) -> CheckResult:
    """Write/read outages of the storage probe as its clients saw them: the VIP availability
    checker over the ``storage-probe-`` processes (one per web node), named apart."""
    r = availability(ops, STORAGE_PROBE_PREFIX, max_outage_s, max_probe_gap_s=max_probe_gap_s)
    return CheckResult(AVAILABILITY, r.valid, r.counts, r.examples, r.message)


def _file(op: Op, what: str) -> tuple[str, str]:
    v = op.value
    if not isinstance(v, dict) or not isinstance(v.get("path"), str) or not isinstance(v.get("sha256"), str):
        raise HistoryError(f"history line index {op.index}: {what} value must be {{'path': str, 'sha256': str}},"
                           f" not {v!r}")
    return v["path"], v["sha256"]


def _listing(op: Op) -> dict[str, str]:
    v = op.value
    files = v.get("files") if isinstance(v, dict) else None
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(s, str) for k, s in files.items()):
        raise HistoryError(f"history line index {op.index}: {op.process} list value must be"
                           f" {{'files': {{path: sha256}}}}, not {str(v)[:120]!r}")
    return files


def lost_files(ops: Iterable[Op], *, write_prefixes: tuple[str, ...] = (STORAGE_PROBE_PREFIX, "locust-"),
               write_fs: tuple[str, ...] = ("write", "upload"), final_prefix: str = STORAGE_FINAL_PREFIX,
               max_examples: int = 10) -> CheckResult:
    """Acknowledged files missing or corrupt on a web node after the heal (see the module)."""
    invoked: dict[str, Op] = {}  # process -> its open write invocation
    acked: dict[str, str] = {}
    failed: dict[str, str] = {}
    maybe: dict[str, str] = {}
    finals: dict[str, dict[str, str]] = {}
    bad_reads: list[tuple[str, dict[str, Any]]] = []  # (kind, example) of reads during the run
    reading: dict[str, Op] = {}
    orphans = Orphans()
    for op in ops:
        if op.process.startswith(final_prefix):
            if op.type == "ok" and op.f == "list":
                finals[op.process[len(final_prefix):]] = _listing(op)
            continue
        if op.process.startswith(STORAGE_PROBE_PREFIX) and op.f == "read":
            # the probe reads only files another node had acknowledged: absent or different is a finding
            if op.type == "invoke":
                _file(op, "read")
                reading[op.process] = op
            elif (rinv := reading.pop(op.process, None)) is None:
                orphans.add(op)
            elif op.type == "ok":
                path, sha = _file(rinv, "read")
                got = op.value.get("sha256") if isinstance(op.value, dict) else None
                node = op.process[len(STORAGE_PROBE_PREFIX):]
                if got is None:
                    bad_reads.append(("read_missing", {"node": node, "path": path, "time": op.time}))
                elif got != sha:
                    bad_reads.append(("read_corrupt", {"node": node, "path": path, "sha256": got, "expected": sha,
                                                       "time": op.time}))
            continue
        if not op.process.startswith(write_prefixes) or op.f not in write_fs:
            continue
        if op.type == "invoke":
            _file(op, op.f)
            invoked[op.process] = op
            continue
        inv = invoked.pop(op.process, None)
        if inv is None:
            orphans.add(op)
            continue
        path, sha = _file(inv, inv.f)
        {"ok": acked, "fail": failed, "info": maybe}.get(op.type, maybe)[path] = sha
    counts: dict[str, Any] = {"acknowledged": len(acked), "failed": len(failed), "indeterminate": len(maybe),
                              "nodes": sorted(finals), "lost": 0, "corrupt": 0, "failed_present": 0,
                              "read_missing": 0, "read_corrupt": 0}
    examples: dict[str, list[Any]] = {"lost": [], "corrupt": [], "failed_present": [], "read_missing": [],
                                      "read_corrupt": []}

    def note(kind: str, item: dict[str, Any]) -> None:
        counts[kind] += 1
        if len(examples[kind]) < max_examples:
            examples[kind].append(item)

    for node, files in sorted(finals.items()):
        for path, sha in sorted(acked.items()):
            got = files.get(path)
            if got is None:
                note("lost", {"node": node, "path": path})
            elif got != sha:
                note("corrupt", {"node": node, "path": path, "sha256": got, "expected": sha})
        for path in sorted(failed):
            if path in files:
                note("failed_present", {"node": node, "path": path})
    for kind, item in bad_reads:
        note(kind, item)
    shown = {k: v for k, v in examples.items() if v}
    bad = [k for k in ("lost", "corrupt", "failed_present", "read_missing", "read_corrupt") if counts[k]]
    if bad:
        msg = "; ".join(f"{counts[k]} {k.replace('_', ' ')} (file, node) pair(s)" if not k.startswith("read")
                        else f"{counts[k]} read(s) of an acknowledged file {k[5:]}" for k in bad)
        result = CheckResult(LOST, Validity.INVALID, counts, shown, msg)
    elif not finals:
        result = CheckResult(LOST, Validity.UNKNOWN, counts, message="no final listing of any web node")
    elif not acked:
        result = CheckResult(LOST, Validity.UNKNOWN, counts, message="no acknowledged file: nothing proven")
    else:
        result = CheckResult(LOST, Validity.VALID, counts,
                             message=f"{len(acked)} acknowledged file(s) intact on {len(finals)} node(s)")
    return fail_closed(result, orphans, "storage ")


def storage_convergence(ops: Iterable[Op], *, max_s: float | None = None, process: str = STORAGE_HEAL_PROCESS,
                        f: str = "heal-info", max_examples: int = 10) -> CheckResult:
    """Time from the last heal until the self-heal backlog is 0 for good (see the module)."""
    check_max_s(CONVERGENCE, max_s)
    ops = list(ops)
    heal_at, orphans = last_heal(ops)
    samples: list[tuple[float, int | None]] = []
    for op in ops:
        if op.process == process and op.f == f and op.type == "ok":
            v = op.value
            pending = v.get("pending", "missing") if isinstance(v, dict) else "missing"
            if pending is not None and (isinstance(pending, bool) or not isinstance(pending, int) or pending < 0):
                raise HistoryError(f"history line index {op.index}: {process} {f} value must be"
                                   f" {{'pending': int >= 0 or null}}, not {v!r}")
            samples.append((op.time, pending))
    counts: dict[str, Any] = {"samples": len(samples), "max_pending": max((p for _, p in samples if p is not None),
                                                                          default=None),
                              "converged_s": None, "bound_s": max_s}
    if heal_at is None:
        return fail_closed(CheckResult(CONVERGENCE, Validity.UNKNOWN, counts, message="no healed fault"),
                           orphans, "nemesis ")
    after = [(t, p) for t, p in samples if t >= heal_at]
    counts["samples_after_heal"] = len(after)
    if not after:
        return fail_closed(CheckResult(CONVERGENCE, Validity.UNKNOWN, counts,
                                       message="no heal-info sample after the last heal"), orphans, "nemesis ")
    zero_from: float | None = None  # start of the final run of zero samples
    for t, p in after:
        if p == 0:
            zero_from = t if zero_from is None else zero_from
        else:
            zero_from = None
    examples = {"after_heal": [{"t": round(t - heal_at, 3), "pending": p} for t, p in after[-max_examples:]]}
    result = convergence_verdict(CONVERGENCE, counts, examples, heal_at=heal_at, reached_at=zero_from,
                                 last_t=after[-1][0], max_s=max_s, what="backlog 0", not_yet="backlog not 0")
    return fail_closed(result, orphans, "nemesis ")
