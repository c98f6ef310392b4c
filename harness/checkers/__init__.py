"""Checkers: pure functions of a history returning a CheckResult (Jepsen's habit).

Each takes a sequence of :class:`harness.history.Op` and returns counts and a few examples
with a Validity: VALID, INVALID, or UNKNOWN when the history cannot tell (no data, bad data).
``run_all`` runs the standard set with one :class:`CheckConfig`; ``harness check`` is a thin
shell over it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..history import Op
from ._result import CheckResult, Validity
from .availability import availability
from .latency import latency, nearest_rank
from .ledger import ledger
from .phases import FaultWindow, Phases, fault_windows
from .recovery import DefaultSteady, recovery
from .split_brain import split_brain


@dataclass(frozen=True)
class CheckConfig:
    """Parameters of the standard checker set (a cluster file's ``slo`` maps onto it)."""

    probe_prefix: str = "vip-probe"
    max_outage_s: float | None = None
    min_availability_percent: float | None = None
    latency_bounds: Mapping[str, Mapping[str, float | None]] = field(default_factory=dict)
    recovery_s: float = 60.0  # length of the recovery phase after a heal (latency phases)
    recovery_within_s: float = 60.0  # SLO: back to steady state within this after a heal
    split_brain_settle_s: float = 3.0
    allow_split_brain_during_faults: bool = True
    #: also check forum posts made through locust as a second ledger (needs their final reads)
    posts_read_prefix: str | None = None

    @classmethod
    def from_slo(cls, slo: Any, **overrides: Any) -> CheckConfig:
        """From an inventory ``Slo`` (harness.inventory._model.Slo)."""
        bounds = {
            phase: {"p95": b.p95, "p99": b.p99} for phase, b in getattr(slo, "latency_ms", {}).items()
        }
        base: dict[str, Any] = {
            "min_availability_percent": slo.availability_percent,
            "latency_bounds": bounds,
            "recovery_s": slo.recovery_s,
            "recovery_within_s": slo.recovery_s,
        }
        base.update(overrides)
        return cls(**base)


def run_all(ops: Iterable[Op], config: CheckConfig | None = None) -> list[CheckResult]:
    """Run every standard checker; a checker that crashes yields UNKNOWN, never a pass.

    ``ops`` is read several times: a list, or a :class:`harness.history.HistoryFile` that
    streams a long history from disk on each pass; a one-shot iterator is made a list first.
    """
    if isinstance(ops, Iterator):
        ops = list(ops)
    c = config or CheckConfig()
    runs: list[tuple[str, Callable[[], CheckResult]]] = [
        ("availability", lambda: availability(ops, c.probe_prefix, c.max_outage_s, c.min_availability_percent)),
        ("ledger", lambda: ledger(ops)),
        ("latency", lambda: latency(ops, c.latency_bounds, c.recovery_s)),
        (
            "split_brain",
            lambda: split_brain(ops, allow_during_faults=c.allow_split_brain_during_faults, settle_s=c.split_brain_settle_s),
        ),
        ("recovery", lambda: recovery(ops, c.recovery_within_s, probe_prefix=c.probe_prefix)),
    ]
    if c.posts_read_prefix:
        runs.append(
            (
                "posts",
                lambda: ledger(
                    ops, write_prefix="locust-", write_f="post", key_field="key", read_prefix=c.posts_read_prefix or "", name="posts"
                ),
            )
        )
    results: list[CheckResult] = []
    for name, run in runs:
        try:
            results.append(run())
        except Exception as exc:  # noqa: BLE001 - a crashing checker must not pass or abort the others
            results.append(CheckResult(name, Validity.UNKNOWN, message=f"checker crashed: {type(exc).__name__}: {exc}"))
    return results


__all__ = [
    "CheckConfig",
    "CheckResult",
    "DefaultSteady",
    "FaultWindow",
    "Phases",
    "Validity",
    "availability",
    "fault_windows",
    "latency",
    "ledger",
    "nearest_rank",
    "recovery",
    "run_all",
    "split_brain",
]
