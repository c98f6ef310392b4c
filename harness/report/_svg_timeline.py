"""One test's timeline as one SVG: data in, a string out (no I/O, no global state).

One chart per test, on one shared time axis, top to bottom: the test's phases, the fault
windows (shaded through every row below and labelled), one outcome strip per probe / writer
/ load lane (green ok, red fail, amber info, grey no data), the witness transactions of the
run's transaction anomalies (each a bar from its invoke to its completion, labelled T<n>),
the outage row (every outage drawn at least ``MIN_MARK_PX`` wide and the longest labelled
with their durations), the
latency chart (p50-p95 band, p95 and p50 lines, max dotted; log axis when the spread is
wide) and the time axis. Hover tooltips are SVG ``<title>`` elements: no script needed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ._model import FaultSpan, Lane, LatencySeries, Outage, Timeline
from ._svg import (
    FAIL,
    FAULT,
    GRID,
    INFO,
    LANE_GAP,
    LANE_H,
    LAT_H,
    LEFT,
    MAX_OUTAGE_LABELS,
    MIN_MARK_PX,
    NODATA,
    OK,
    PHASE_COLOURS,
    SERIES_COLOURS,
    WIDTH,
    XScale,
    _Label,
    _n,
    _nice_step,
    _place,
    _text_w,
    esc,
    fmt_duration,
    fmt_ms,
    fmt_time,
    time_ticks,
)

# --------------------------------------------------------------------------- rows

#: rows of the witness-transaction lane before marks start to share one (then unlabelled)
MAX_TXN_ROWS = 4
TXN_ROW_H = 13


@dataclass(frozen=True)
class TxnMark:
    """Where one witness transaction of a transaction anomaly ran: from its invoke to its
    completion (``end`` None: it never completed, so it runs to the chart's end)."""

    txn: str
    start: float
    end: float | None
    anomalies: tuple[str, ...]
    process: str = ""
    forbidden: bool = True


def phases_row(phases: Sequence[dict], x: XScale, y: float, h: float = 16) -> str:
    """The test's phases (steady, inject, observe, heal, recover) as a labelled band."""
    out = ['<g class="phases">']
    for p in phases:
        try:
            a, b = float(p["start"]), float(p["end"])
        except (KeyError, TypeError, ValueError):
            continue
        name = str(p.get("name", ""))
        x0, x1 = x(a), x(b)
        w = max(x1 - x0, 1)
        colour = PHASE_COLOURS.get(name, "#e8eaf0")
        out.append(
            f'<rect x="{_n(x0)}" y="{_n(y)}" width="{_n(w)}" height="{h}" fill="{colour}">'
            f"<title>phase {esc(name)}: {esc(fmt_time(a, x.t1 - x.t0))} – {esc(fmt_time(b, x.t1 - x.t0))} "
            f"({esc(fmt_duration(b - a))})</title></rect>"
        )
        if w > _text_w(name, 10) + 6:
            out.append(f'<text x="{_n(x0 + 4)}" y="{_n(y + h - 4)}" class="ph">{esc(name)}</text>')
    out.append(f'<text x="{LEFT - 8}" y="{_n(y + h - 4)}" class="lbl" text-anchor="end">phases</text>')
    out.append("</g>")
    return "".join(out)


def fault_windows_layer(faults: Sequence[FaultSpan], x: XScale, y_label: float, y0: float, y1: float) -> str:
    """Shaded fault windows from ``y0`` to ``y1``, labelled above in up to two rows."""
    out = ['<g class="faults">']
    rows: list[list[_Label]] = [[], []]
    span = x.t1 - x.t0
    for f in faults:
        end = f.end if f.end is not None else x.t1
        x0, x1 = x(f.start), x(end)
        w = max(x1 - x0, MIN_MARK_PX)
        targets = ", ".join(f.targets)
        label = f.fault + (f" {targets}" if targets else "")
        tip = (
            f"fault {f.fault} ({f.fault_id}){' on ' + targets if targets else ''}: "
            f"{fmt_time(f.start, span)} – {fmt_time(end, span) if f.end is not None else 'never healed'} "
            f"({fmt_duration(end - f.start)})"
        )
        out.append(
            f'<rect class="fault" data-fault="{esc(f.fault)}" x="{_n(x0)}" y="{_n(y0)}" width="{_n(w)}" '
            f'height="{_n(y1 - y0)}" fill="{FAULT}" fill-opacity="0.09" stroke="{FAULT}" stroke-opacity="0.35" '
            f'stroke-dasharray="{"" if f.end is not None else "4 3"}"><title>{esc(tip)}</title></rect>'
        )
        text = label if _text_w(label) < 260 else label[:40] + "…"
        tw = _text_w(text)
        tx = min(x0 + 3, x.right - tw)
        row = _place(rows, tx, tx + tw)
        if row is None:
            text = f.fault
            tw = _text_w(text)
            tx = min(x0 + 3, x.right - tw)
            row = _place(rows, tx, tx + tw)
        if row is not None:
            ly = y_label + 12 + row * 14
            out.append(f'<text x="{_n(tx)}" y="{_n(ly)}" class="flt">{esc(text)}<title>{esc(tip)}</title></text>')
    out.append("</g>")
    return "".join(out)


def lane_strip(lane: Lane, x: XScale, y: float, origin: float, h: float = LANE_H) -> str:
    """One outcome strip: runs of all-ok (or empty) bins merged; mixed bins stacked with the
    red and amber parts at least 3 px tall so a single failure in a busy bin still shows."""
    nb = len(lane.ok)
    bin_s = lane.bin_s
    t0 = origin
    span = x.t1 - x.t0
    out = [f'<g class="lane" data-lane="{esc(lane.name)}">']
    out.append(f'<rect x="{_n(x.left)}" y="{_n(y)}" width="{_n(x.width)}" height="{h}" fill="{NODATA}"/>')

    def tip(b0: int, b1: int, ok: int, fail: int, info: int) -> str:
        a, b = t0 + b0 * bin_s, t0 + b1 * bin_s
        return f"{fmt_time(a, span)} – {fmt_time(b, span)}: {ok} ok, {fail} fail, {info} info"

    i = 0
    while i < nb:
        ok, fail, info = lane.ok[i], lane.fail[i], lane.info[i]
        total = ok + fail + info
        if total == 0:
            i += 1
            continue
        if fail == 0 and info == 0:
            j, s = i, 0
            while j < nb and lane.ok[j] and not lane.fail[j] and not lane.info[j]:
                s += lane.ok[j]
                j += 1
            x0, x1 = x(t0 + i * bin_s), x(t0 + j * bin_s)
            out.append(
                f'<rect x="{_n(x0)}" y="{_n(y)}" width="{_n(max(x1 - x0, 1))}" height="{h}" fill="{OK}">'
                f"<title>{tip(i, j, s, 0, 0)}</title></rect>"
            )
            i = j
            continue
        if ok == 0 and (fail == 0 or info == 0):
            colour = FAIL if info == 0 else INFO
            j, sf, si = i, 0, 0
            while j < nb and not lane.ok[j] and (lane.fail[j] or lane.info[j]) and ((lane.info[j] == 0) == (info == 0)) and ((lane.fail[j] == 0) == (fail == 0)):
                sf += lane.fail[j]
                si += lane.info[j]
                j += 1
            x0, x1 = x(t0 + i * bin_s), x(t0 + j * bin_s)
            out.append(
                f'<rect x="{_n(x0)}" y="{_n(y)}" width="{_n(max(x1 - x0, 1))}" height="{h}" fill="{colour}">'
                f"<title>{tip(i, j, 0, sf, si)}</title></rect>"
            )
            i = j
            continue
        x0, x1 = x(t0 + i * bin_s), x(t0 + (i + 1) * bin_s)
        w = max(x1 - x0, 1)
        hf = max(h * fail / total, 3.0) if fail else 0.0
        hi = max(h * info / total, 3.0) if info else 0.0
        hf, hi = min(hf, h), min(hi, h - min(hf, h))
        parts = [f'<g><title>{tip(i, i + 1, ok, fail, info)}</title>']
        parts.append(f'<rect x="{_n(x0)}" y="{_n(y)}" width="{_n(w)}" height="{h}" fill="{OK}"/>')
        if hi:
            parts.append(f'<rect x="{_n(x0)}" y="{_n(y + h - hf - hi)}" width="{_n(w)}" height="{_n(hi)}" fill="{INFO}"/>')
        if hf:
            parts.append(f'<rect x="{_n(x0)}" y="{_n(y + h - hf)}" width="{_n(w)}" height="{_n(hf)}" fill="{FAIL}"/>')
        parts.append("</g>")
        out.append("".join(parts))
        i += 1
    served = lane.served
    attempts = lane.attempts
    pct = f"{100.0 * served / attempts:.2f}%" if attempts else "no data"
    out.append(f'<text x="{LEFT - 8}" y="{_n(y + h / 2 + 4)}" class="lbl" text-anchor="end">{esc(lane.name)}</text>')
    out.append(f'<text x="{LEFT - 8}" y="{_n(y + h / 2 + 15)}" class="sub" text-anchor="end">{esc(pct)} ok</text>')
    out.append("</g>")
    return "".join(out)


def _pack_txns(marks: Sequence[TxnMark], x: XScale) -> list[tuple[TxnMark, int, float, float, float | None]]:
    """(mark, row, x0, width, label x or None): greedy rows by start, each bar and its label
    (right of the bar, or left of it at the chart's right edge) clear of the others in its
    row; past ``MAX_TXN_ROWS`` a mark joins the row free earliest, unlabelled (its tooltip
    still names it)."""
    ends: list[float] = []  # per row: x where the last bar or label ends
    out: list[tuple[TxnMark, int, float, float, float | None]] = []
    for m in sorted(marks, key=lambda m: (m.start, m.txn)):
        x0 = x(m.start)
        w = max(x(m.end if m.end is not None else x.t1) - x0, MIN_MARK_PX)
        tw = _text_w(m.txn, 9)
        lx = x0 + w + 3 if x0 + w + 3 + tw <= x.right else x0 - 3 - tw
        lo, hi = min(x0, lx), max(x0 + w, lx + tw)
        row = next((i for i, e in enumerate(ends) if e + 4 < lo), None)
        if row is None and len(ends) < MAX_TXN_ROWS:
            row = len(ends)
            ends.append(hi)
        elif row is None:
            row = min(range(len(ends)), key=ends.__getitem__)
            ends[row] = max(ends[row], x0 + w)
            out.append((m, row, x0, w, None))
            continue
        else:
            ends[row] = hi
        out.append((m, row, x0, w, lx))
    return out


def txn_lane(marks: Sequence[TxnMark], x: XScale, y: float) -> tuple[str, float]:
    """The witness transactions as bars under the fault windows, T<n> beside each, a tooltip
    naming the anomalies; returns the SVG and the lane's height."""
    packed = _pack_txns(marks, x)
    rows = 1 + max((r for _m, r, _x, _w, _l in packed), default=0)
    h = rows * TXN_ROW_H
    out = [f'<g class="txns"><rect x="{_n(x.left)}" y="{_n(y)}" width="{_n(x.width)}" height="{_n(h)}" fill="#f7f8fa"/>']
    for m, row, x0, w, lx in packed:
        ry = y + row * TXN_ROW_H + 2
        ran = (f"invoked {m.start:.3f} s, completed {m.end:.3f} s ({fmt_duration(m.end - m.start)})" if m.end is not None
               else f"invoked {m.start:.3f} s, never completed")
        who = f" ({m.process})" if m.process else ""
        tip = f"{m.txn}{who}: witness of {', '.join(m.anomalies)}; {ran}"
        colour = FAIL if m.forbidden else INFO
        open_end = "" if m.end is not None else f' stroke="{colour}" stroke-dasharray="3 2"'
        out.append(
            f'<g class="txn-mark" data-txn="{esc(m.txn)}" data-anomaly="{esc(" ".join(m.anomalies))}"><title>{esc(tip)}</title>'
            f'<rect x="{_n(x0)}" y="{_n(ry)}" width="{_n(w)}" height="{TXN_ROW_H - 5}" fill="{colour}" fill-opacity="0.75"{open_end}/>'
        )
        if lx is not None:
            out.append(f'<text x="{_n(lx)}" y="{_n(ry + TXN_ROW_H - 6)}" class="sub" font-size="9">{esc(m.txn)}</text>')
        out.append("</g>")
    out.append(f'<text x="{LEFT - 8}" y="{_n(y + min(h, LANE_H) / 2 + 4)}" class="lbl" text-anchor="end">witness txns</text>')
    out.append(f'<text x="{LEFT - 8}" y="{_n(y + min(h, LANE_H) / 2 + 15)}" class="sub" text-anchor="end">{len(packed)} '
               f'{"txn" if len(packed) == 1 else "txns"}</text>')
    out.append("</g>")
    return "".join(out), h


def _outage_groups(outages: Sequence[Outage], x: XScale) -> list[list[Outage]]:
    """Outages merged where they would overlap on screen (keeps the SVG small for flapping
    soaks while every outage still has a visible mark)."""
    groups: list[list[Outage]] = []
    last_x1 = -math.inf
    for o in sorted(outages, key=lambda o: o.start):
        x0 = x(o.start)
        x1 = max(x(o.end), x0 + MIN_MARK_PX)
        if groups and x0 <= last_x1 + 1:
            groups[-1].append(o)
            last_x1 = max(last_x1, x1)
        else:
            groups.append([o])
            last_x1 = x1
    return groups


def outage_overlay(outages: Sequence[Outage], x: XScale, y0: float, y1: float) -> str:
    """Faint red bands through the chart where the VIP was dark, at least 2 px wide."""
    out = ['<g class="outage-bands">']
    for g in _outage_groups(outages, x):
        a = min(o.start for o in g)
        b = max(o.end for o in g)
        x0 = x(a)
        w = max(x(b) - x0, MIN_MARK_PX)
        out.append(f'<rect x="{_n(x0)}" y="{_n(y0)}" width="{_n(w)}" height="{_n(y1 - y0)}" fill="{FAIL}" fill-opacity="0.10"/>')
    out.append("</g>")
    return "".join(out)


def outage_row(outages: Sequence[Outage], x: XScale, y: float, lane_y: dict[str, tuple[float, float]]) -> str:
    """Outage marks on their probe lane (min width) plus a bracket row with durations."""
    out = ['<g class="outages">']
    span = x.t1 - x.t0
    groups = _outage_groups(outages, x)
    by_len = sorted(range(len(groups)), key=lambda i: -max(o.duration_s for o in groups[i]))
    labelled = set(by_len[:MAX_OUTAGE_LABELS])
    rows: list[list[_Label]] = [[], []]
    for gi, g in enumerate(groups):
        a = min(o.start for o in g)
        b = max(o.end for o in g)
        x0 = x(a)
        w = max(x(b) - x0, MIN_MARK_PX)
        longest = max(g, key=lambda o: o.duration_s)
        if len(g) == 1:
            o = g[0]
            tip = (
                f"outage on {o.process}: {fmt_duration(o.duration_s)} from {fmt_time(o.start, span)} to "
                f"{fmt_time(o.end, span)}, {o.failed} failed probes"
                + (f", first error: {o.first_error}" if o.first_error else "")
                + (f", during {o.fault}" if o.fault else "")
                + (" (still open at the end)" if o.open else "")
            )
        else:
            tip = f"{len(g)} outages between {fmt_time(a, span)} and {fmt_time(b, span)}, longest {fmt_duration(longest.duration_s)}"
        for proc in sorted({o.process for o in g}):
            ly = lane_y.get(proc) or lane_y.get("other probes")
            if ly:
                out.append(
                    f'<rect class="outage-mark" x="{_n(x0)}" y="{_n(ly[0] - 2)}" width="{_n(w)}" height="{_n(ly[1] + 4)}" '
                    f'fill="{FAIL}" fill-opacity="0.6" stroke="#7a0e1c" stroke-width="1"><title>{esc(tip)}</title></rect>'
                )
        # bracket in the outage row
        out.append(
            f'<path d="M{_n(x0)} {_n(y)}v6h{_n(w)}v-6" fill="none" stroke="{FAIL}" stroke-width="1.5"><title>{esc(tip)}</title></path>'
        )
        if gi in labelled:
            text = fmt_duration(longest.duration_s) + (f" ×{len(g)}" if len(g) > 1 else "") + (" (open)" if longest.open else "")
            tw = _text_w(text, 11)
            cx = x0 + w / 2
            tx0 = min(max(cx - tw / 2, x.left), x.right - tw)
            row = _place(rows, tx0, tx0 + tw)
            if row is not None:
                out.append(
                    f'<text class="odur" x="{_n(tx0 + tw / 2)}" y="{_n(y + 19 + row * 13)}" text-anchor="middle">{esc(text)}'
                    f"<title>{esc(tip)}</title></text>"
                )
    out.append(f'<text x="{LEFT - 8}" y="{_n(y + 12)}" class="lbl" text-anchor="end">outages</text>')
    out.append("</g>")
    return "".join(out)


def _lat_range(series: Sequence[LatencySeries]) -> tuple[float, float]:
    lo, hi = math.inf, 0.0
    for s in series:
        for v in s.p50:
            if v is not None and v > 0:
                lo = min(lo, v)
        for v in s.max:
            if v is not None:
                hi = max(hi, v)
    if hi <= 0:
        return 0.1, 1.0
    return (lo if lo < math.inf else hi / 10), hi


def latency_chart(
    series: Sequence[LatencySeries], x: XScale, y: float, origin: float, h: float = LAT_H, log: bool | None = None
) -> str:
    """p50-p95 band, p95 and p50 lines and max (dotted) per series; log axis by default when
    max / min p50 exceeds 30 (a 3 s stall next to 2 ms probes)."""
    out = ['<g class="latency">']
    out.append(f'<rect x="{_n(x.left)}" y="{_n(y)}" width="{_n(x.width)}" height="{h}" fill="none" stroke="{GRID}"/>')
    if not series:
        out.append(f'<text x="{_n(x.left + 8)}" y="{_n(y + h / 2)}" class="sub">no latency samples</text></g>')
        return "".join(out)
    lo, hi = _lat_range(series)
    if log is None:
        log = hi / max(lo, 1e-9) > 30
    if log:
        ylo = max(lo / 1.6, hi / 1e6, 1e-3)
        yhi = hi * 1.35
        llo, lhi = math.log10(ylo), math.log10(yhi)

        def Y(v: float) -> float:
            v = max(v, ylo)
            return y + h - (math.log10(v) - llo) / (lhi - llo) * h

        decades = range(math.floor(llo), math.ceil(lhi) + 1)
        ticks = [m * 10**k for k in decades for m in (1, 2, 5) if ylo <= m * 10**k <= yhi]
        if len(ticks) > 9:
            ticks = [10**k for k in decades if ylo <= 10**k <= yhi]
    else:
        ylo = 0.0
        step = _nice_step(hi / 5)
        yhi = step * math.ceil(hi / step) if hi > 0 else 1.0

        def Y(v: float) -> float:
            return y + h - (v - ylo) / (yhi - ylo) * h

        ticks = [step * k for k in range(int(round(yhi / step)) + 1)]
    for tv in ticks:
        ty = Y(tv)
        out.append(f'<line x1="{_n(x.left)}" x2="{_n(x.right)}" y1="{_n(ty)}" y2="{_n(ty)}" stroke="{GRID}"/>')
        out.append(f'<text x="{_n(x.left - 6)}" y="{_n(ty + 4)}" class="tick" text-anchor="end">{esc(fmt_ms(tv))}</text>')
    t0 = origin
    legend = []
    for si, s in enumerate(series):
        c = SERIES_COLOURS[si % len(SERIES_COLOURS)]
        xs = [x(t0 + (b + 0.5) * s.bin_s) for b in range(len(s.n))]
        # band p50..p95, split at gaps
        for seg in _segments(s.p50, s.p95):
            top = " ".join(f"{_n(xs[b])},{_n(Y(s.p95[b]))}" for b in seg)  # type: ignore[arg-type]
            bot = " ".join(f"{_n(xs[b])},{_n(Y(s.p50[b]))}" for b in reversed(seg))  # type: ignore[arg-type]
            out.append(f'<polygon points="{top} {bot}" fill="{c}" fill-opacity="0.16" stroke="none"/>')
        out.append(_polyline(xs, s.max, Y, c, 'stroke-width="0.9" stroke-dasharray="1.5 2.5" stroke-opacity="0.85"', f"max {s.name}"))
        out.append(_polyline(xs, s.p95, Y, c, 'stroke-width="1.6"', f"p95 {s.name}"))
        out.append(_polyline(xs, s.p50, Y, c, 'stroke-width="1" stroke-opacity="0.7"', f"p50 {s.name}"))
        legend.append((c, s.name))
    # legend
    lx = x.left + 8
    for c, name in legend:
        out.append(f'<rect x="{_n(lx)}" y="{_n(y + 7)}" width="14" height="3" fill="{c}"/>')
        out.append(f'<text x="{_n(lx + 18)}" y="{_n(y + 12)}" class="leg">{esc(name)}</text>')
        lx += 30 + _text_w(name, 10.5)
    out.append(f'<text x="{_n(lx + 6)}" y="{_n(y + 12)}" class="sub">line p95 · band p50–p95 · dotted max{" · log scale" if log else ""}</text>')
    out.append(f'<text x="{LEFT - 56}" y="{_n(y + h / 2)}" class="lbl" text-anchor="end">latency</text>')
    out.append("</g>")
    return "".join(out)


def _segments(*cols: Sequence[float | None]) -> list[list[int]]:
    segs: list[list[int]] = []
    cur: list[int] = []
    for b in range(len(cols[0])):
        if all(c[b] is not None for c in cols):
            cur.append(b)
        elif cur:
            segs.append(cur)
            cur = []
    if cur:
        segs.append(cur)
    return segs


def _polyline(xs: Sequence[float], vals: Sequence[float | None], Y, colour: str, style: str, title: str) -> str:  # noqa: ANN001
    parts = []
    for seg in _segments(vals):
        if len(seg) == 1:
            b = seg[0]
            parts.append(f"M{_n(xs[b] - 1)} {_n(Y(vals[b]))}h2")
        else:
            parts.append("M" + " L".join(f"{_n(xs[b])} {_n(Y(vals[b]))}" for b in seg))
    if not parts:
        return ""
    return f'<path d="{" ".join(parts)}" fill="none" stroke="{colour}" {style}><title>{esc(title)}</title></path>'


def time_axis(x: XScale, y: float, y_grid0: float) -> str:
    out = ['<g class="axis">']
    span = x.t1 - x.t0
    for t in time_ticks(x.t0, x.t1):
        tx = x(t)
        out.append(f'<line x1="{_n(tx)}" x2="{_n(tx)}" y1="{_n(y_grid0)}" y2="{_n(y)}" stroke="{GRID}" stroke-width="0.8"/>')
        out.append(f'<text x="{_n(tx)}" y="{_n(y + 14)}" class="tick" text-anchor="middle">{esc(fmt_time(t, span))}</text>')
    unit = "s" if span <= 120 else ("min:s" if span <= 7200 else "h:min")
    out.append(f'<text x="{LEFT - 22}" y="{_n(y + 14)}" class="sub" text-anchor="end">time ({unit})</text>')
    out.append("</g>")
    return "".join(out)


def timeline_chart(
    tl: Timeline, phases: Sequence[dict] = (), *, log_latency: bool | None = None, txn_marks: Sequence[TxnMark] = ()
) -> str:
    """The full per-test chart (see the module docstring), as one ``<svg>`` element; the
    witness-transaction lane only when ``txn_marks`` has some."""
    t0 = tl.t0
    t1 = tl.t1
    for p in phases:
        try:
            t0 = min(t0, float(p["start"]))
            t1 = max(t1, float(p["end"]))
        except (KeyError, TypeError, ValueError):
            pass
    x = XScale(t0, t1)
    body: list[str] = []
    y = 6.0
    if phases:
        body.append(phases_row(phases, x, y))
        y += 22
    fault_label_y = y
    y += 34 if tl.faults else 4
    lanes_top = y
    lane_y: dict[str, tuple[float, float]] = {}
    lane_svgs = []
    for lane in tl.lanes:
        lane_svgs.append(lane_strip(lane, x, y, tl.t0))
        lane_y[lane.name] = (y, LANE_H)
        y += LANE_H + LANE_GAP + 8
    if txn_marks:
        svg, h = txn_lane(txn_marks, x, y)
        lane_svgs.append(svg)
        y += max(h, LANE_H) + LANE_GAP + 8
    outage_y = y
    y += 46
    lat_y = y
    y += LAT_H
    axis_y = y + 4
    height = axis_y + 24
    # order: shading under everything
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {_n(height)}" width="{WIDTH}" '
        f'height="{_n(height)}" role="img" aria-label="timeline">',
        time_axis(x, axis_y, lanes_top - 4),
        fault_windows_layer(tl.faults, x, fault_label_y, fault_label_y + (0 if not tl.faults else 0), axis_y),
        outage_overlay(tl.outages, x, lanes_top - 4, axis_y),
        *body,
        *lane_svgs,
        outage_row(tl.outages, x, outage_y, lane_y),
        latency_chart(tl.latency, x, lat_y, tl.t0, log=log_latency),
        "</svg>",
    ]
    return "".join(parts)
