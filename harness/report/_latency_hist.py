"""Per-bin latency of one timeline series: a log histogram, 8 buckets per doubling.

A soak's millions of latency samples cannot go into the page; each time bin keeps counts per
bucket (about 9% wide, from 2^-10 ms to 2^24 ms) and its exact min and max, from which
:meth:`_LatHist.series` reads approximate percentiles over bins coarsened to hold about ten
samples each. The line scanner (``_scan``) inlines :func:`lat_bucket` on its hot path.
"""

from __future__ import annotations

import math

from ._model import LatencySeries

#: latency histogram: 8 buckets per doubling (about 9% wide) from 2^-10 ms to 2^24 ms
LAT_PER_OCTAVE = 8
LAT_KMIN = -10 * LAT_PER_OCTAVE
LAT_NB = 34 * LAT_PER_OCTAVE
#: bin multiples a sparse series or lane is coarsened to (see series() and _aggregate)
COARSEN = (1, 2, 4, 5, 10, 20, 25, 50, 100)


def lat_bucket(ms: float) -> int:
    if ms <= 0:
        return 0
    k = int(math.floor(math.log2(ms) * LAT_PER_OCTAVE)) - LAT_KMIN
    return 0 if k < 0 else (LAT_NB - 1 if k >= LAT_NB else k)


def _lat_value(k: int) -> float:
    return 2.0 ** ((k + LAT_KMIN + 0.5) / LAT_PER_OCTAVE)


class _LatHist:
    """Per-bin log histogram of latencies for one series."""

    def __init__(self, name: str, kind: str, nbins: int) -> None:
        self.name, self.kind, self.nbins = name, kind, nbins
        self.counts = [0] * (nbins * LAT_NB)
        self.n = [0] * nbins
        self.lo: list[float] = [math.inf] * nbins
        self.hi: list[float] = [-math.inf] * nbins

    def merge(self, other: _LatHist) -> None:
        """Add another histogram over the same bins (a later byte range of the history)."""
        counts, theirs = self.counts, other.counts
        for b, n in enumerate(other.n):
            if n:
                s = b * LAT_NB
                counts[s : s + LAT_NB] = [x + y for x, y in zip(counts[s : s + LAT_NB], theirs[s : s + LAT_NB], strict=True)]
                self.n[b] += n
                self.lo[b] = min(self.lo[b], other.lo[b])
                self.hi[b] = max(self.hi[b], other.hi[b])

    def add(self, b: int, ms: float) -> None:
        self.counts[b * LAT_NB + lat_bucket(ms)] += 1
        self.n[b] += 1
        if ms < self.lo[b]:
            self.lo[b] = ms
        if ms > self.hi[b]:
            self.hi[b] = ms

    def series(self, bin_s: float) -> LatencySeries:
        """Percentiles per bin of ``k`` base bins, ``k`` chosen so a typical bin holds about
        ten samples (a line through single samples is noise) but the chart keeps >= 80 points."""
        filled = sorted(x for x in self.n if x)
        typical = filled[len(filled) // 2] if filled else 1
        k = next((c for c in COARSEN if typical * c >= 10 or self.nbins / c < 160), COARSEN[-1])
        while k > 1 and self.nbins / k < 80:
            k = COARSEN[COARSEN.index(k) - 1]
        nb = (self.nbins + k - 1) // k
        p50: list[float | None] = []
        p95: list[float | None] = []
        mx: list[float | None] = []
        ns: list[int] = []
        for cb in range(nb):
            b0, b1 = cb * k, min((cb + 1) * k, self.nbins)
            n = sum(self.n[b0:b1])
            ns.append(n)
            if n == 0:
                p50.append(None)
                p95.append(None)
                mx.append(None)
                continue
            if k == 1:
                row = self.counts[b0 * LAT_NB : b1 * LAT_NB]
            else:
                row = [sum(col) for col in zip(*(self.counts[b * LAT_NB : (b + 1) * LAT_NB] for b in range(b0, b1)), strict=True)]
            lo, hi = min(self.lo[b0:b1]), max(self.hi[b0:b1])
            vals = []
            for p in (50.0, 95.0):
                rank = max(1, math.ceil(p / 100.0 * n))
                acc = 0
                for bucket, c in enumerate(row):
                    acc += c
                    if acc >= rank:
                        vals.append(min(max(_lat_value(bucket), lo), hi))
                        break
            p50.append(round(vals[0], 3))
            p95.append(round(vals[1], 3))
            mx.append(hi)
        return LatencySeries(self.name, self.kind, ns, p50, p95, mx, bin_s * k)
