"""The report's data model: what a run directory reduces to, ready to render.

A run (:class:`RunModel`) holds its tests (:class:`TestModel`); a test with a history has a
:class:`Timeline`: outcome counts per time bin (:class:`Lane`), binned latency
(:class:`LatencySeries`), the fault windows (:class:`FaultSpan`) and the exact outages
(:class:`Outage`). Built by ``_load`` (run directory) from ``_aggregate`` / ``_scan``
(history); read by ``_html``, ``_svg`` and ``_soak``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import HarnessError


class ReportError(HarnessError):
    """A run directory cannot be turned into a report (names the file at fault)."""


@dataclass
class Lane:
    """One row of the timeline strip: outcome counts per bin."""

    name: str
    kind: str  # "probe" | "writes" | "requests" | "storage" | "ldap-binds" | "ldap-writes"
    ok: list[int]
    fail: list[int]
    info: list[int]
    bin_s: float = 1.0  # may be a multiple of the timeline's bin for a sparse lane

    @property
    def attempts(self) -> int:
        return sum(self.ok) + sum(self.fail) + sum(self.info)

    @property
    def served(self) -> int:
        return sum(self.ok)


@dataclass
class LatencySeries:
    """Per-bin latency of ok results (ms). Percentiles are approximate (9% buckets, clamped
    to the bin's exact min/max); ``max`` is exact. None where a bin has no sample."""

    name: str
    kind: str
    n: list[int]
    p50: list[float | None]
    p95: list[float | None]
    max: list[float | None]
    bin_s: float = 1.0  # a multiple of the timeline's bin, so most bins hold several samples


@dataclass(frozen=True)
class Outage:
    """An exact outage window from the availability checker, attributed to a fault."""

    process: str
    start: float
    end: float
    duration_s: float
    failed: int
    first_error: str | None
    open: bool
    fault: str | None = None  # the fault whose window (or heal) it overlaps


@dataclass(frozen=True)
class FaultSpan:
    fault_id: str
    fault: str
    start: float
    end: float | None  # None: never healed (runs to the end of the history)
    targets: tuple[str, ...] = ()
    error: str | None = None


@dataclass
class Timeline:
    t0: float
    t1: float
    bin_s: float
    lanes: list[Lane]
    latency: list[LatencySeries]
    faults: list[FaultSpan]
    outages: list[Outage]
    probe_attempts: int
    probe_ok: int
    ops: int = 0
    nbins: int = 0

    @property
    def availability_percent(self) -> float | None:
        return 100.0 * self.probe_ok / self.probe_attempts if self.probe_attempts else None

    @property
    def longest_outage(self) -> Outage | None:
        return max(self.outages, key=lambda o: o.duration_s, default=None)


@dataclass
class TestModel:
    slug: str
    test: str
    title: str
    outcome: str
    tier: str | None = None
    fault_kind: str | None = None
    started: float | None = None
    duration_s: float | None = None
    phases: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    slo: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    timeline: Timeline | None = None
    ledger: dict[str, Any] | None = None  # counts of the ledger checker
    notes: list[str] = field(default_factory=list)
    soak: dict[str, Any] | None = None  # result.json "soak" (harness.soak): steps, audits, figures
    #: the cluster was broken on purpose; "passed" means the checker caught it
    negative_proof: bool = False
    #: result.json "verdicts" (harness.verdicts): which checkers decided the test, which were waived
    verdicts: dict[str, Any] | None = None

    def verdict_role(self, checker: str) -> tuple[str, str]:
        """("judged" | "waived" | "expected_invalid" | "not_applicable", reason) of a checker;
        ("judged", "") for a run from before verdicts were recorded."""
        v = self.verdicts or {}
        if checker in (v.get("not_applicable") or []):
            return "not_applicable", ""
        for role in ("waived", "expected_invalid"):
            for entry in v.get(role) or []:
                if isinstance(entry, dict) and entry.get("checker") == checker:
                    return role, str(entry.get("reason") or "")
        return "judged", ""

    @property
    def failover(self) -> dict[str, Any] | None:
        """The ``director_failover`` verdict (harness.budgets) of a director failover test:
        the user's promise, the keepalived budget + margin and the measured outage, or None."""
        found = next((c for c in self.checks if c.get("checker") == "director_failover"), None)
        return found if found is not None and isinstance(found.get("counts"), dict) else None


@dataclass(frozen=True)
class TrendPoint:
    """One soak run of the reports directory, for the trend across nights."""

    run_id: str
    started: str | None
    seed: Any
    availability_percent: float | None
    longest_outage_s: float | None
    steps_run: int | None = None
    audits_failed: int | None = None
    current: bool = False


@dataclass
class RunModel:
    run_id: str
    started: str | None = None
    finished: str | None = None
    seed: Any = None
    harness_version: str | None = None
    markers: str | None = None
    cluster: dict[str, Any] = field(default_factory=dict)
    tests: list[TestModel] = field(default_factory=list)
    soak_trend: list[TrendPoint] = field(default_factory=list)
    #: the static audit at the start of the run (audit.json's findings; None: not run)
    audit: list[dict[str, Any]] | None = None

    @property
    def measured(self) -> list[TestModel]:
        """The tests whose figures describe the cluster: all but the negative proofs, whose
        outages and lost writes were made on purpose (a 27 s outage that proves a checker works
        is not the cluster's longest outage)."""
        return [t for t in self.tests if not t.negative_proof]

    @property
    def negative_proofs(self) -> list[TestModel]:
        return [t for t in self.tests if t.negative_proof]

    @property
    def probe_attempts(self) -> int:
        return sum(t.timeline.probe_attempts for t in self.measured if t.timeline)

    @property
    def availability_percent(self) -> float | None:
        attempts = self.probe_attempts
        ok = sum(t.timeline.probe_ok for t in self.measured if t.timeline)
        return 100.0 * ok / attempts if attempts else None

    def longest_by_fault(self) -> dict[str, tuple[Outage, TestModel]]:
        """The longest outage per fault kind (``(no fault)`` for outages outside any window),
        over the measured tests."""
        out: dict[str, tuple[Outage, TestModel]] = {}
        for t in self.measured:
            if not t.timeline:
                continue
            for o in t.timeline.outages:
                kind = o.fault or "(no fault)"
                if kind not in out or o.duration_s > out[kind][0].duration_s:
                    out[kind] = (o, t)
        return dict(sorted(out.items(), key=lambda kv: -kv[1][0].duration_s))
