"""What every SVG chart of the report shares: palette, sizes, escaping, number and time
formats, the time scale and label placement (pure: data in, strings out, no state).

The charts themselves: ``_svg_timeline`` (one test's timeline) and ``_svg_charts`` (bar
chart, topology, the soak's strip and line charts).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

from ._scrub import scrub

WIDTH = 1240
LEFT = 150
RIGHT = 24
LANE_H = 24
LANE_GAP = 6
LAT_H = 190
MIN_MARK_PX = 2.0
MAX_OUTAGE_LABELS = 14

OK = "#2f9e5b"
FAIL = "#d7263d"
INFO = "#f0a202"
NODATA = "#e4e7ec"
FAULT = "#5b4fcf"
INK = "#1f2933"
MUTED = "#6b7785"
GRID = "#e6e9ee"
SERIES_COLOURS = ("#1f6fd1", "#0f9d9a", "#8e44ad", "#c2571a", "#5d6d7e", "#b8336a", "#2c3e50")
PHASE_COLOURS = {
    "steady": "#dbe8f6",
    "inject": "#f6d6c8",
    "observe": "#f9e7c2",
    "fault": "#f9e7c2",
    "heal": "#d4f0dc",
    "recover": "#e1f3e6",
    "recovery": "#e1f3e6",
}


def esc(text: object) -> str:
    """Text for SVG/HTML, scrubbed of secrets and escaped (quotes too, for attributes)."""
    return html.escape(scrub(str(text)), quote=True)


def fmt_duration(s: float | None) -> str:
    """``0.41 s``, ``3.53 s``, ``12.3 s``, ``2 min 05 s``, ``1 h 02 min``."""
    if s is None or s != s:
        return "–"
    if s == math.inf:
        return "∞"
    if s < 10:
        return f"{s:.2f} s"
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        m, sec = divmod(int(round(s)), 60)
        return f"{m} min {sec:02d} s"
    h, rem = divmod(int(round(s)), 3600)
    return f"{h} h {rem // 60:02d} min"


def fmt_time(t: float, span: float) -> str:
    """A time since the run started, as precise as the span needs."""
    neg = "-" if t < 0 else ""
    t = abs(t)
    if span <= 120:
        return f"{neg}{t:.1f} s" if span <= 20 else f"{neg}{t:.0f} s"
    if span <= 7200:
        m, s = divmod(int(round(t)), 60)
        return f"{neg}{m}:{s:02d}"
    h, rem = divmod(int(round(t)), 3600)
    return f"{neg}{h}:{rem // 60:02d}"


def fmt_at(t: float, span: float) -> str:
    """A precise instant for tables: ``12.34 s``, ``12:05.3`` or ``3:02:05``."""
    if span <= 600:
        return f"{t:.2f} s"
    if span <= 7200:
        m, sec = divmod(t, 60)
        return f"{int(m)}:{sec:04.1f}"
    h, rem = divmod(int(round(t)), 3600)
    return f"{h}:{rem // 60:02d}:{rem % 60:02d}"


def fmt_ms(ms: float | None) -> str:
    if ms is None:
        return "–"
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    if ms >= 100:
        return f"{ms:.0f} ms"
    if ms >= 1:
        return f"{ms:.1f} ms"
    return f"{ms:.2f} ms"


def _n(x: float) -> str:
    """Compact coordinate."""
    return f"{x:.1f}".rstrip("0").rstrip(".")


_TIME_STEPS = (0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def time_ticks(t0: float, t1: float, max_ticks: int = 12) -> list[float]:
    span = max(t1 - t0, 1e-9)
    step = next((s for s in _TIME_STEPS if span / s <= max_ticks), _TIME_STEPS[-1])
    first = math.ceil(t0 / step) * step
    out = []
    k = 0
    while first + k * step <= t1 + 1e-9 and k < 1000:
        out.append(round(first + k * step, 6))
        k += 1
    return out


@dataclass(frozen=True)
class XScale:
    t0: float
    t1: float
    left: float = LEFT
    width: float = WIDTH - LEFT - RIGHT

    def __call__(self, t: float) -> float:
        span = self.t1 - self.t0
        if span <= 0:
            return self.left
        x = self.left + (t - self.t0) / span * self.width
        return min(max(x, self.left), self.left + self.width)

    @property
    def right(self) -> float:
        return self.left + self.width


@dataclass
class _Label:
    x0: float
    x1: float


def _place(row_labels: list[list[_Label]], x0: float, x1: float) -> int | None:
    """First row where [x0, x1] collides with no placed label, or None."""
    for i, row in enumerate(row_labels):
        if all(x1 + 6 < lab.x0 or x0 > lab.x1 + 6 for lab in row):
            row.append(_Label(x0, x1))
            return i
    return None


def _text_w(text: str, size: float = 11) -> float:
    return len(text) * size * 0.6


def _nice_step(raw: float) -> float:
    if raw <= 0:
        return 1.0
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag
