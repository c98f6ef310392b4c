"""The report's other SVG charts: bar chart, cluster topology, and the soak's strip plot
(failover times by fault kind) and line chart (a figure across nightly runs)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ._svg import (
    FAIL,
    GRID,
    INK,
    MIN_MARK_PX,
    MUTED,
    OK,
    _n,
    _nice_step,
    _text_w,
    esc,
)


def bar_chart(rows: Sequence[tuple[str, float, str]], *, width: int = 1180, colour: str = FAIL) -> str:
    """Horizontal bars: (label, value, value text); for the longest outage per fault kind."""
    if not rows:
        return ""
    bh, gap, left = 18, 8, 190
    vmax = max((v for _, v, _ in rows), default=1.0) or 1.0
    h = len(rows) * (bh + gap) + gap
    out = [f'<svg class="bars" viewBox="0 0 {width} {h}" width="{width}" height="{h}">']
    for i, (label, v, text) in enumerate(rows):
        yy = gap + i * (bh + gap)
        w = max((width - left - 420) * v / vmax, MIN_MARK_PX)
        out.append(f'<text x="{left - 8}" y="{yy + 13}" class="lbl" text-anchor="end">{esc(label)}</text>')
        out.append(f'<rect x="{left}" y="{yy}" width="{_n(w)}" height="{bh}" rx="2" fill="{colour}"><title>{esc(label)}: {esc(text)}</title></rect>')
        out.append(f'<text x="{_n(left + w + 6)}" y="{yy + 13}" class="val">{esc(text)}</text>')
    out.append("</svg>")
    return "".join(out)


_TIERS = (("director", "directors"), ("web", "web nodes"), ("db", "database"), ("mgm", "management"),
          ("fileserver", "file servers"), ("ldap", "directory"), ("hypervisor", "hypervisors"), ("client", "clients"))


def topology(hosts: dict, vips: dict, *, width: int = 1180) -> str:
    """Tiers as rows of host boxes (directors, web, database, ...), VIPs above the directors."""
    rows: list[tuple[str, list[tuple[str, dict]]]] = []
    placed: set[str] = set()
    for role, label in _TIERS:
        members = [(n, h) for n, h in sorted(hosts.items()) if isinstance(h, dict) and role in (h.get("roles") or []) and n not in placed]
        if members:
            rows.append((label, members))
            placed.update(n for n, _ in members)
    rest = [(n, h if isinstance(h, dict) else {}) for n, h in sorted(hosts.items()) if n not in placed]
    if rest:
        rows.append(("other", rest))
    if not rows and not vips:
        return ""
    bw, bh, gap, left = 150, 42, 12, 120
    y = 8
    out: list[str] = []
    if vips:
        x0: float = left
        for name, addr in sorted(vips.items()):
            text = f"VIP {name}  {addr}"
            w = _text_w(text, 11.5) + 20
            out.append(f'<rect x="{x0}" y="{y}" width="{_n(w)}" height="24" rx="12" fill="#fde8ec" stroke="{FAIL}"/>')
            out.append(f'<text x="{_n(x0 + w / 2)}" y="{y + 16}" class="val" text-anchor="middle">{esc(text)}</text>')
            x0 += w + 12
        y += 38
    for label, members in rows:
        out.append(f'<text x="{left - 10}" y="{y + 26}" class="lbl" text-anchor="end">{esc(label)}</text>')
        per_row = max(1, int((width - left) // (bw + gap)))
        for i, (name, h) in enumerate(members):
            if i and i % per_row == 0:
                y += bh + gap
            bx = left + (i % per_row) * (bw + gap)
            roles = ", ".join(str(r) for r in (h.get("roles") or []))
            out.append(
                f'<rect x="{bx}" y="{y}" width="{bw}" height="{bh}" rx="5" fill="#f5f7fa" stroke="#b8c2cc">'
                f"<title>{esc(name)} {esc(h.get('address', ''))} roles: {esc(roles)}</title></rect>"
            )
            out.append(f'<text x="{bx + 10}" y="{y + 18}" class="hn">{esc(name)}</text>')
            out.append(f'<text x="{bx + 10}" y="{y + 33}" class="sub">{esc(h.get("address", ""))}</text>')
        y += bh + gap
    height = y + 4
    return (
        f'<svg class="topo" viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
        + "".join(out)
        + "</svg>"
    )


# --------------------------------------------------------------------------- soak


def _axis_max(v: float) -> float:
    """A round upper bound >= v for a small linear axis."""
    if v <= 0:
        return 1.0
    step = _nice_step(v / 4)
    return step * math.ceil(v / step + 1e-9)


def strip_plot(
    rows: Sequence[tuple[str, Sequence[float], float | None]], *, width: int = 1180, unit: str = "s"
) -> str:
    """Failover times per fault kind: one row per kind, a dot per fault, a min-max whisker,
    the median as a thick tick and the kind's budget as a dashed red mark.

    ``rows``: (kind, values, budget or None). Dots over their budget are red, others green.
    """
    rows = [(k, list(v), b) for k, v, b in rows if v or b is not None]
    if not rows:
        return ""
    left, right, rh, top = 190, 60, 30, 8
    vmax = max([x for _, v, _ in rows for x in v] + [b for _, _, b in rows if b is not None] + [0.1])
    amax = _axis_max(vmax * 1.05)
    w = width - left - right

    def X(v: float) -> float:
        return left + min(max(v, 0.0), amax) / amax * w

    h = top + len(rows) * rh + 24
    out = [f'<svg class="strip" viewBox="0 0 {width} {h}" width="{width}" height="{h}">']
    step = _nice_step(amax / 8)
    k = 0
    while k * step <= amax + 1e-9 and k < 50:
        xv = X(k * step)
        out.append(f'<line x1="{_n(xv)}" y1="{top}" x2="{_n(xv)}" y2="{top + len(rows) * rh}" stroke="{GRID}"/>')
        out.append(f'<text x="{_n(xv)}" y="{top + len(rows) * rh + 14}" class="tick" text-anchor="middle">{esc(f"{k * step:g}")} {esc(unit)}</text>')
        k += 1
    for i, (kind, vals, budget) in enumerate(rows):
        cy = top + i * rh + rh / 2
        out.append(f'<text x="{left - 10}" y="{_n(cy + 4)}" class="lbl" text-anchor="end">{esc(kind)}</text>')
        if budget is not None:
            bx = X(budget)
            out.append(
                f'<line x1="{_n(bx)}" y1="{_n(cy - 11)}" x2="{_n(bx)}" y2="{_n(cy + 11)}" stroke="{FAIL}" stroke-width="2" stroke-dasharray="3 2">'
                f"<title>{esc(kind)}: budget {esc(f'{budget:g}')} {esc(unit)}</title></line>"
            )
        if not vals:
            continue
        s = sorted(vals)
        med = s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2
        out.append(f'<line x1="{_n(X(s[0]))}" y1="{_n(cy)}" x2="{_n(X(s[-1]))}" y2="{_n(cy)}" stroke="{MUTED}" stroke-width="1.5"/>')
        out.append(
            f'<rect x="{_n(X(med) - 1.5)}" y="{_n(cy - 8)}" width="3" height="16" fill="{INK}">'
            f"<title>{esc(kind)}: median {esc(f'{med:.3f}')} {esc(unit)} of {len(s)}</title></rect>"
        )
        for j, v in enumerate(vals):
            over = budget is not None and v > budget
            jitter = ((j % 3) - 1) * 4  # keep coincident dots apart
            out.append(
                f'<circle cx="{_n(X(v))}" cy="{_n(cy + jitter)}" r="4" fill="{FAIL if over else OK}" fill-opacity=".75" stroke="#fff" stroke-width=".8">'
                f"<title>{esc(kind)} #{j + 1}: {esc(f'{v:.3f}')} {esc(unit)}{' (over budget)' if over else ''}</title></circle>"
            )
        out.append(f'<text x="{_n(X(s[-1]) + 10)}" y="{_n(cy + 4)}" class="sub">max {esc(f"{s[-1]:.2f}")} {esc(unit)}</text>')
    out.append("</svg>")
    return "".join(out)


def line_chart(
    points: Sequence[tuple[str, float | None, bool]], *, title: str, unit: str, width: int = 580, height: int = 200,
    colour: str = "#1f6fd1", y_min: float | None = None, fmt: str = "{:.3f}",
) -> str:
    """A small line chart over runs (oldest left): (run label, value or None, is current).
    Missing values break the line; the current run is a larger dot."""
    vals = [v for _, v, _ in points if v is not None]
    if not vals:
        return ""
    left, right, top, bottom = 64, 16, 26, 38
    lo = min(vals) if y_min is None else min(y_min, min(vals))
    hi = max(vals)
    if hi - lo < 1e-9:
        lo, hi = lo - (abs(lo) * 0.01 or 0.5), hi + (abs(hi) * 0.01 or 0.5)
    pad = (hi - lo) * 0.08
    lo, hi = lo - pad if y_min is None else lo, hi + pad
    w, h = width - left - right, height - top - bottom
    n = len(points)

    def X(i: int) -> float:
        return left + (w / 2 if n == 1 else i / (n - 1) * w)

    def Y(v: float) -> float:
        return top + h - (v - lo) / (hi - lo) * h

    out = [f'<svg class="trend" viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
           f'<text x="{left}" y="15" class="lbl">{esc(title)}</text>']
    for k in range(5):
        tick = lo + (hi - lo) * k / 4
        yv = Y(tick)
        out.append(f'<line x1="{left}" y1="{_n(yv)}" x2="{left + w}" y2="{_n(yv)}" stroke="{GRID}"/>')
        out.append(f'<text x="{left - 6}" y="{_n(yv + 4)}" class="tick" text-anchor="end">{esc(fmt.format(tick))}</text>')
    seg: list[str] = []
    for i, (_, v, _) in enumerate(points):
        if v is None:
            if len(seg) > 1:
                out.append(f'<polyline points="{" ".join(seg)}" fill="none" stroke="{colour}" stroke-width="2"/>')
            seg = []
            continue
        seg.append(f"{_n(X(i))},{_n(Y(v))}")
    if len(seg) > 1:
        out.append(f'<polyline points="{" ".join(seg)}" fill="none" stroke="{colour}" stroke-width="2"/>')
    label_every = max(1, math.ceil(n / 8))
    for i, (label, v, current) in enumerate(points):
        if i % label_every == 0 or current or i == n - 1:
            anchor = "start" if i == 0 and n > 1 else ("end" if i == n - 1 and n > 1 else "middle")  # stay inside
            out.append(f'<text x="{_n(X(i))}" y="{top + h + 16}" class="tick" text-anchor="{anchor}">{esc(label)}</text>')
        if v is None:
            continue
        r = 5.5 if current else 3.5
        out.append(
            f'<circle cx="{_n(X(i))}" cy="{_n(Y(v))}" r="{r}" fill="{colour}" stroke="{INK if current else "#fff"}" stroke-width="{1.5 if current else 1}">'
            f"<title>{esc(label)}: {esc(fmt.format(v))} {esc(unit)}{' (this run)' if current else ''}</title></circle>"
        )
    out.append("</svg>")
    return "".join(out)
