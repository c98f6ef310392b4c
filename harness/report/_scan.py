"""The fast reader of a history.jsonl for the report: lines matched by regex, not parsed.

A 24-hour, 100 probes/s history is 17 million lines; :func:`aggregate_file` reads it in
blocks, recognises the recorder's lines by their fixed key order with two regexes and feeds
the ``_aggregate`` aggregator, parsing with ``json`` only the lines it needs whole (nemesis,
ledger when recomputed, non-ok probe results and the ok ones beside them). Large files are
cut into byte ranges scanned by one process per CPU and merged in file order. One reader
with its parallel split: the regexes, the hot loop and the merge only make sense together.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ..errors import HistoryError
from ..history import Op, parse_line
from ._aggregate import MAX_PROBE_LANES, _Aggregator
from ._latency_hist import LAT_KMIN, LAT_NB, LAT_PER_OCTAVE, _LatHist
from ._model import Timeline

_TYPES = {b"ok": "ok", b"fail": "fail", b"info": "info"}


#: a JSON number that is always finite as a float (an exponent of at most two digits: 1e999 is
#: infinity, so such a line goes to the full parser, which refuses it)
_NUM = rb"(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]{1,2})?)"
_HEAD = re.compile(
    rb'\{"index": -?(?:0|[1-9][0-9]*), "time": ' + _NUM + rb', "process": "([^"\\\x00-\x1f]*)", "type": "(invoke|ok|fail|info)", "f": "([^"\\\x00-\x1f]*)"[,}]'
)
_LAT = re.compile(rb'"latency_ms": ' + _NUM + rb"[,}]")
_TIME = re.compile(rb'"time": ' + _NUM + rb"[,}]")


def _parse_line(line: bytes, path: Path, lineno: int, ended: bool = True) -> Op:
    """A line the regexes do not take, parsed and checked by the history reader's own line
    checker (harness.history.parse_line): the same one error for the same bad line. ``line``
    comes without its newline; it is given back (``ended``) so that the JSON errors match."""
    op = parse_line(line + b"\n" if ended else line, path, lineno, ended=ended)
    if op is None:  # pragma: no cover - callers skip blank lines
        raise HistoryError(f"{path}:{lineno}: blank line")
    return op


def _check_block(block: bytes, path: Path, first_lineno: int) -> bool:
    """Whole-block checks that keep the regex path as strict as the reader at C speed: bytes
    not UTF-8 raise the reader's error for their line; the result says whether every line
    ends in ``}`` (else each line is tested: one damaged inside still ends in ``}`` and is
    taken, the one thing the fast path does not check; docs/history.md)."""
    if not block.isascii():
        try:
            block.decode("utf-8")
        except UnicodeDecodeError as exc:
            k = block.count(b"\n", 0, exc.start)
            start = block.rfind(b"\n", 0, exc.start) + 1
            end = block.find(b"\n", exc.start)
            line = block[start:] if end < 0 else block[start : end + 1]
            parse_line(line, path, first_lineno + k)
            raise HistoryError(f"{path}:{first_lineno + k}: not UTF-8") from None  # pragma: no cover
    return block.count(b"\n") == block.count(b"}\n")


def _time_range(path: Path) -> tuple[float, float]:
    """First and last ``time`` of a history, from its first and last lines (no full read)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(65536)
        fh.seek(max(0, size - 65536))
        tail = fh.read()
    first = [m for m in (_TIME.search(x) for x in head.splitlines() if x.strip()) if m][:1]
    last = [m for m in (_TIME.search(x) for x in tail.splitlines()[-50:] if x.strip()) if m]
    t0 = float(first[0].group(1)) if first else 0.0
    t1 = max((float(m.group(1)) for m in last), default=t0 + 1.0)
    return t0, t1


def aggregate_file(
    path: str | Path, *, probe_prefix: str = "vip-probe", keep_ledger: bool = True, workers: int | None = None
) -> tuple[Timeline, list[Op]]:
    """Timeline from a history.jsonl, reading it line by line (the fast path).

    Lines written by :class:`harness.history.HistoryRecorder` are recognised by their fixed
    key order and parsed with two regexes; any other line is parsed with ``json`` and checked
    like ``load_history`` does, so a hand-written history works too (only slower). Times
    outside the range of the first and last lines are clamped into the first/last bin.

    A history over :data:`PARALLEL_BYTES` is cut at line boundaries into one byte range per
    CPU (``workers``: default the CPUs this process may use, at most 4), scanned in worker
    processes and merged in file order: the scan is pure Python, one core per range is what
    makes a 24-hour soak's report affordable. The result is the same as one scan's.
    """
    p = Path(path)
    t0, t1 = _time_range(p)
    size = p.stat().st_size
    if workers is None:
        workers = min(4, len(os.sched_getaffinity(0))) if size >= PARALLEL_BYTES else 1
    ranges = _line_ranges(p, size, max(1, workers))
    args = (t0, t1, probe_prefix, keep_ledger)
    chunks: list[_Chunk] | None = None
    if len(ranges) > 1:
        try:
            ctx = multiprocessing.get_context("spawn")  # no fork: the caller may hold SSH threads
            with ProcessPoolExecutor(max_workers=len(ranges), mp_context=ctx) as pool:
                futures = [pool.submit(_scan_range, p, a, b, *args) for a, b in ranges]
                chunks = [f.result() for f in futures]
        except (HistoryError, OSError, BrokenProcessPool):
            chunks = None  # one scan below: its error names the exact line; no worker, no problem
    if chunks is None:
        chunks = [_scan_range(p, 0, size, *args)]
    return _merge(chunks, *args).finish(probe_prefix)


#: above this size a history is scanned by one process per CPU (see aggregate_file)
PARALLEL_BYTES = 256 * 1024 * 1024
#: the scanner reads this many bytes at a time and splits them into lines
_BLOCK_BYTES = 16 * 1024 * 1024


@dataclass
class _Chunk:
    """What one byte range of a history contributes to the timeline (picklable, merged in order).

    ``head_ok``: a probe's first result in the range, when it was ok (it ends an outage that a
    range before may have left open). ``tail_ok``: a probe's last ok after its last kept
    result (it starts an outage that begins in the next range). Extra ok results in time order
    change no outage window, so keeping both always is exact.
    """

    lanes: dict[str, list[list[int]]]
    lane_kind: dict[str, str]
    hists: dict[str, _LatHist]
    nemesis: list[Op]
    ledger_ops: list[Op]
    subset: list[Op]
    head_ok: dict[str, Op]
    tail_ok: dict[str, Op]
    probe_attempts: int
    probe_ok: int
    ops: int
    tmax: float


def _line_ranges(path: Path, size: int, n: int) -> list[tuple[int, int]]:
    """``n`` byte ranges of about equal size covering the file, each starting at a line start."""
    cuts = [0]
    with open(path, "rb") as fh:
        for k in range(1, n):
            fh.seek(size * k // n)
            fh.readline()
            pos = fh.tell()
            if cuts[-1] < pos < size:
                cuts.append(pos)
    cuts.append(size)
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b > a] or [(0, size)]


def _blocks(path: Path, start: int, end: int) -> Iterator[bytes]:
    """The bytes ``start`` to ``end`` in blocks of whole lines (the last may lack its newline)."""
    with open(path, "rb") as fh:
        fh.seek(start)
        remaining = end - start
        rest = b""
        while remaining > 0:
            data = fh.read(min(_BLOCK_BYTES, remaining))
            if not data:
                break
            remaining -= len(data)
            data = rest + data
            cut = data.rfind(b"\n") + 1
            if remaining > 0 and cut < len(data):
                rest = data[cut:]
                data = data[:cut]
            else:
                rest = b""
            if data:
                yield data
        if rest:
            yield rest


def _scan_range(path: Path, start: int, end: int, t0: float, t1: float, probe_prefix: str, keep_ledger: bool) -> _Chunk:
    """Aggregate the lines from byte ``start`` to ``end`` (line starts). Line numbers in errors
    count from ``start``: aggregate_file rescans the whole file to name the exact line.

    One long function on purpose: the probe ``ok`` branch is 99.9% of a soak's lines and is
    inlined here (binning, latency bucket, outage bookkeeping) with every name it touches
    bound to a local; a call per line would cost a third of the scan."""
    p = path
    agg = _Aggregator(t0, t1, probe_prefix, keep_ledger)
    #: process -> (kind, lane, process name, the lane's counts once known); () if ignored
    kind_of: dict[bytes, tuple[str, str, str, list[list[int]] | None] | tuple[()]] = {}
    head = _HEAD.match
    lat_search = _LAT.search
    completion = agg.completion
    feed_op = agg.feed_op
    inv_tag = b'"type": "invoke", "f": '
    t0_, bin_s, last_bin = agg.t0, agg.bin_s, agg.nbins - 1
    hists = agg.hists
    in_run = agg.in_run
    pend: dict[str, tuple[bytes, int]] = {}  # probe process -> its latest ok line, parsed only if needed
    n_ok = 0

    def flush_pending() -> None:
        # hand the scanner's pending oks to the aggregator before it sees a result itself
        for proc_, (line_, lineno_) in pend.items():
            agg.pending_ok[proc_] = partial(_parse_line, line_, p, lineno_)
        pend.clear()

    floor, log2 = math.floor, math.log2
    n = 0
    lines_before = 0  # of this range, before the block
    for block in _blocks(p, start, end):
        lines = block.split(b"\n")
        torn = lines.pop()  # b"" when the block ends with its newline; else the file's torn last line
        first_lineno = lines_before + 1
        lines_before += len(lines) + (1 if torn else 0)
        all_closed = _check_block(block, p, first_lineno)
        for lineno, line in enumerate(lines, first_lineno):
            if not all_closed and not line.rstrip().endswith(b"}") and line.strip():
                n += 1  # not what the recorder writes: the reader's checks decide
                flush_pending()
                feed_op(_parse_line(line, p, lineno))
                agg.ops -= 1
                continue
            if inv_tag in line and b'"process": "nemesis' not in line and not (keep_ledger and b'"process": "ledger-' in line):
                n += 1  # an invocation the timeline does not need (probe, locust, state)
                continue
            m = head(line)
            if m is None:
                if not line.strip():
                    continue
                n += 1
                flush_pending()
                feed_op(_parse_line(line, p, lineno))
                agg.ops -= 1
                continue
            n += 1
            bproc = m.group(2)
            cls = kind_of.get(bproc)
            if cls is None:
                proc = bproc.decode("utf-8", "replace")
                c = agg.classify(proc)
                cls = kind_of[bproc] = (c[0], c[1], proc, None) if c else ()
            if not cls:
                continue
            kind = cls[0]
            typ = m.group(3)
            if kind == "nemesis" or kind == "ledger-read" or typ == b"invoke":
                if kind == "nemesis" or keep_ledger:
                    agg.feed_op(_parse_line(line, p, lineno))
                    agg.ops -= 1
                continue
            if kind == "probe" and typ == b"ok":
                # the hot path (99.9% of a soak's lines), inlined: bin, latency, outage bookkeeping
                proc = cls[2]
                t = float(m.group(1))
                b = int((t - t0_) / bin_s)
                if b < 0:
                    b = 0
                elif b >= last_bin:
                    b = last_bin
                lanes = cls[3]
                if lanes is None:  # this probe's first ok through the hot path
                    lanes = agg._lane("probe", cls[1])
                    kind_of[bproc] = cls = (cls[0], cls[1], cls[2], lanes)
                    if proc not in in_run and proc not in agg.head_ok:  # no failure before it here
                        agg.head_ok[proc] = partial(_parse_line, line, p, lineno)
                lanes[0][b] += 1
                n_ok += 1
                if t > agg.tmax:
                    agg.tmax = t
                lm = lat_search(line, m.end())
                if lm is not None:
                    ms = float(lm.group(1))
                    h = hists.get(cls[1])
                    if h is None:
                        h = hists[cls[1]] = _LatHist(cls[1], "probe", agg.nbins)
                    if ms > 0:
                        k = int(floor(log2(ms) * LAT_PER_OCTAVE)) - LAT_KMIN
                        k = 0 if k < 0 else (LAT_NB - 1 if k >= LAT_NB else k)
                    else:
                        k = 0
                    h.counts[b * LAT_NB + k] += 1
                    h.n[b] += 1
                    if ms < h.lo[b]:
                        h.lo[b] = ms
                    if ms > h.hi[b]:
                        h.hi[b] = ms
                if in_run.get(proc):
                    agg.subset.append(_parse_line(line, p, lineno))
                    in_run[proc] = False
                else:
                    pend[proc] = (line, lineno)
                continue
            if pend:
                flush_pending()
            lat = None
            if typ == b"ok":
                lm = lat_search(line, m.end())
                if lm is not None:
                    lat = float(lm.group(1))
            completion(
                kind, cls[1], cls[2], float(m.group(1)), _TYPES[typ], m.group(4).decode(), lat,
                partial(_parse_line, line, p, lineno),
            )
        if torn.strip():  # a last line without its newline: taken only if it is whole
            n += 1
            flush_pending()
            feed_op(_parse_line(torn, p, lines_before, ended=False))
            agg.ops -= 1
    flush_pending()
    return _Chunk(
        agg.lanes, agg.lane_kind, agg.hists, agg.nemesis, agg.ledger_ops, agg.subset,
        {proc: make() for proc, make in agg.head_ok.items()},
        {proc: make() for proc, make in agg.pending_ok.items()},
        agg.probe_attempts + n_ok, agg.probe_ok + n_ok, n, agg.tmax,
    )


def _merge(chunks: Iterable[_Chunk], t0: float, t1: float, probe_prefix: str, keep_ledger: bool) -> _Aggregator:
    """One aggregator holding the chunks' sums, in file order (see :class:`_Chunk`)."""
    agg = _Aggregator(t0, t1, probe_prefix, keep_ledger)
    for c in chunks:
        rename: dict[str, str] = {}
        for name, counts in c.lanes.items():
            kind = c.lane_kind[name]
            probes = sum(1 for k in agg.lane_kind.values() if k == "probe")
            if kind == "probe" and name not in agg.lanes and probes >= MAX_PROBE_LANES:
                rename[name] = "other probes"  # as classify() does past MAX_PROBE_LANES
            for dst, src in zip(agg._lane(kind, rename.get(name, name)), counts, strict=True):
                for b, v in enumerate(src):
                    if v:
                        dst[b] += v
        for name, h in c.hists.items():
            name = rename.get(name, name)
            mine = agg.hists.get(name)
            if mine is None:
                h.name = name
                agg.hists[name] = h
            else:
                mine.merge(h)
        agg.nemesis += c.nemesis
        agg.ledger_ops += c.ledger_ops
        agg.subset += [*c.head_ok.values(), *c.subset, *c.tail_ok.values()]
        agg.probe_attempts += c.probe_attempts
        agg.probe_ok += c.probe_ok
        agg.ops += c.ops
        agg.tmax = max(agg.tmax, c.tmax)
    return agg
