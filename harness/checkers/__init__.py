"""Checkers: pure functions of a history returning a CheckResult (Jepsen's habit).

Each takes a sequence of :class:`harness.history.Op` and returns counts and a few examples
with a Validity: VALID, INVALID, or UNKNOWN when the history cannot tell (no data, bad data).
``run_all`` runs the standard set with one :class:`CheckConfig`; ``harness check`` is a thin
shell over it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..history import Op
from ._result import CheckResult, Validity
from .availability import DEFAULT_MAX_PROBE_GAP_S, availability
from .bank import check_bank
from .latency import latency, nearest_rank
from .ldap import (
    LDAP_CSN_PROCESS,
    LDAP_FINAL_PREFIX,
    LDAP_PROBE_PREFIX,
    LDAP_WRITER_PREFIX,
    ldap_availability,
    ldap_convergence,
    lost_directory_writes,
)
from .ledger import ledger
from .list_append import MODELS as ISOLATION_MODELS
from .list_append import check_list_append
from .phases import PHASE_NAMES, FaultWindow, Phases, fault_windows, is_nemesis
from .recovery import DefaultSteady, recovery
from .sessions import sessions
from .split_brain import split_brain
from .storage import (
    STORAGE_FINAL_PREFIX,
    STORAGE_HEAL_PROCESS,
    STORAGE_PROBE_PREFIX,
    lost_files,
    storage_availability,
    storage_convergence,
)


@dataclass(frozen=True)
class CheckConfig:
    """Parameters of the standard checker set (a cluster file's ``slo`` maps onto it)."""

    probe_prefix: str = "vip-probe"
    max_outage_s: float | None = None
    min_availability_percent: float | None = None
    #: a VIP probe idle longer than this beyond its usual spacing is unobserved time (UNKNOWN)
    max_probe_gap_s: float = DEFAULT_MAX_PROBE_GAP_S
    latency_bounds: Mapping[str, Mapping[str, float | None]] = field(default_factory=dict)
    recovery_s: float = 60.0  # length of the recovery phase after a heal (latency phases)
    recovery_within_s: float = 60.0  # SLO: back to steady state within this after a heal
    split_brain_settle_s: float = 3.0
    allow_split_brain_during_faults: bool = True
    #: also check forum posts made through locust as a second ledger (needs their final reads)
    posts_read_prefix: str | None = None
    #: the isolation the database promises: list_append is INVALID only for what it forbids
    isolation: str = "serializable"
    #: the file tier (harness.checkers.storage): longest write/read outage of the storage
    #: probe, and the time from the last heal until the self-heal backlog is back to 0
    storage_max_outage_s: float | None = None
    storage_converge_s: float | None = None
    #: the directory tier (harness.checkers.ldap): longest authentication outage through the
    #: LDAP VIP, and the time from the last heal until every server's contextCSN is the same
    ldap_max_outage_s: float | None = None
    ldap_converge_s: float | None = None

    def __post_init__(self) -> None:
        """Refuse a bound that would make a comparison silently true or false (``x > nan`` is
        False: a NaN bound passes every outage), naming the field."""
        _bound("max_outage_s", self.max_outage_s, optional=True)
        _bound("min_availability_percent", self.min_availability_percent, optional=True, high=100.0)
        _bound("max_probe_gap_s", self.max_probe_gap_s)
        _bound("recovery_s", self.recovery_s)
        _bound("recovery_within_s", self.recovery_within_s)
        _bound("split_brain_settle_s", self.split_brain_settle_s)
        _bound("storage_max_outage_s", self.storage_max_outage_s, optional=True)
        _bound("storage_converge_s", self.storage_converge_s, optional=True)
        _bound("ldap_max_outage_s", self.ldap_max_outage_s, optional=True)
        _bound("ldap_converge_s", self.ldap_converge_s, optional=True)
        if self.isolation not in ISOLATION_MODELS:
            raise ValueError(f"CheckConfig.isolation: {self.isolation!r} is not one of {', '.join(sorted(ISOLATION_MODELS))}")
        if not self.probe_prefix:
            raise ValueError("CheckConfig.probe_prefix: must not be empty (it would take every process for a probe)")
        for phase, bounds in self.latency_bounds.items():
            if phase not in PHASE_NAMES:
                raise ValueError(f"CheckConfig.latency_bounds: unknown phase {phase!r} (known: {', '.join(PHASE_NAMES)})")
            for pname, value in bounds.items():
                _bound(f"latency_bounds.{phase}.{pname}", value, optional=True)

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


def _bound(name: str, value: Any, *, optional: bool = False, high: float = math.inf) -> None:
    """ValueError naming ``CheckConfig.<name>`` unless ``value`` is a finite number in
    [0, high] (or None where optional). A bool is not a number here."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"CheckConfig.{name}: {value!r} is not a number")
    if not math.isfinite(value) or not 0 <= value <= high:
        limit = f"between 0 and {high:g}" if high != math.inf else "a finite number >= 0"
        raise ValueError(f"CheckConfig.{name}: must be {limit}, not {value!r}")


def applicable(ops: Iterable[Op], config: CheckConfig | None = None) -> dict[str, bool]:
    """Which standard checkers have something of their kind to judge in ``ops`` (one pass).

    A checker with nothing of its kind is "not applicable": its UNKNOWN says "nothing to
    judge", not "could not judge", and ``harness check`` shows it as N/A and leaves it out of
    the exit status. A bound the user set makes its checker applicable whatever the history
    holds (asked to judge, it must say it could not). Of its kind: availability, a process of
    ``probe_prefix``; ledger, a ``ledger-`` process; latency, an ok completion with
    ``latency_ms``; split_brain, a ``state`` sample; recovery, any nemesis op (a fault never
    healed is "could not judge"); posts, whenever asked for; sessions, a ``session-`` process;
    list_append, a ``txn-`` process's ``txn`` op; bank, a ``bank-`` process; lost_files, a
    storage probe, final listing or LMS upload; storage_availability, a ``storage-probe-``
    process; storage_convergence, ``storage-heal`` samples in a run with a fault;
    ldap_availability, an ``ldap-probe`` process; lost_directory_writes, an ``ldap-writer`` or
    ``ldap-final-`` process; ldap_convergence, ``ldap-csn`` samples in a run with a fault (all
    of these run by ``run_all`` only when applicable).
    """
    c = config or CheckConfig()
    seen = {"availability": False, "ledger": False, "latency": False, "split_brain": False, "recovery": False,
            "sessions": False, "list_append": False, "bank": False, "lost_files": False,
            "storage_availability": False, "storage_convergence": False, "ldap_availability": False,
            "lost_directory_writes": False, "ldap_convergence": False}
    prefix = c.probe_prefix
    heal_samples = csn_samples = False
    for op in ops:
        process = op.process
        if process.startswith(prefix):
            seen["availability"] = True
        elif process.startswith("ledger-"):
            seen["ledger"] = True
        elif process.startswith("session-"):
            seen["sessions"] = True
        elif process.startswith("txn-") and op.f == "txn":
            seen["list_append"] = True
        elif process.startswith("bank-"):
            seen["bank"] = True
        elif process.startswith(STORAGE_PROBE_PREFIX):
            seen["storage_availability"] = seen["lost_files"] = True
        elif process.startswith(STORAGE_FINAL_PREFIX) or (process.startswith("locust-") and op.f == "upload"):
            seen["lost_files"] = True
        elif process == STORAGE_HEAL_PROCESS:
            heal_samples = True
        elif process.startswith(LDAP_PROBE_PREFIX):
            seen["ldap_availability"] = True
        elif process.startswith((LDAP_WRITER_PREFIX, LDAP_FINAL_PREFIX)):
            seen["lost_directory_writes"] = True
        elif process == LDAP_CSN_PROCESS:
            csn_samples = True
        elif process == "state" and op.f == "sample":
            seen["split_brain"] = True
        elif is_nemesis(process):
            seen["recovery"] = True
        if op.type == "ok" and "latency_ms" in op.extra:
            seen["latency"] = True
        if all(seen.values()):
            break
    if c.max_outage_s is not None or c.min_availability_percent is not None:
        seen["availability"] = True
    if any(v is not None for b in c.latency_bounds.values() for v in b.values()):
        seen["latency"] = True
    if c.posts_read_prefix:
        seen["posts"] = True
    # self-heal is judged after a fault: backlog samples of a run without one have nothing to converge
    seen["storage_convergence"] = heal_samples and seen["recovery"]
    if c.storage_max_outage_s is not None:
        seen["storage_availability"] = True
    if c.storage_converge_s is not None:
        seen["storage_convergence"] = True
    seen["ldap_convergence"] = csn_samples and seen["recovery"]
    if c.ldap_max_outage_s is not None:
        seen["ldap_availability"] = True
    if c.ldap_converge_s is not None:
        seen["ldap_convergence"] = True
    return seen


#: the checkers run only when the history holds their kind of ops
_OPTIONAL = ("list_append", "bank", "lost_files", "storage_availability", "storage_convergence",
             "ldap_availability", "lost_directory_writes", "ldap_convergence")


def run_all(ops: Iterable[Op], config: CheckConfig | None = None) -> list[CheckResult]:
    """Run every standard checker; a checker that crashes yields UNKNOWN, never a pass.

    ``ops`` is read several times: a list, or a :class:`harness.history.HistoryFile` that
    streams a long history from disk on each pass; a one-shot iterator is made a list first.
    """
    if isinstance(ops, Iterator):
        ops = list(ops)
    c = config or CheckConfig()
    runs: list[tuple[str, Callable[[], CheckResult]]] = [
        ("availability", lambda: availability(
            ops, c.probe_prefix, c.max_outage_s, c.min_availability_percent, max_probe_gap_s=c.max_probe_gap_s
        )),
        ("ledger", lambda: ledger(ops)),
        ("latency", lambda: latency(ops, c.latency_bounds, c.recovery_s)),
        (
            "split_brain",
            lambda: split_brain(ops, allow_during_faults=c.allow_split_brain_during_faults, settle_s=c.split_brain_settle_s),
        ),
        ("recovery", lambda: recovery(ops, c.recovery_within_s, probe_prefix=c.probe_prefix)),
        ("sessions", lambda: sessions(ops)),
    ]
    # the transaction and file checkers join the set only when the history holds their ops
    kinds = {k for k, seen in applicable(ops, c).items() if seen and k in _OPTIONAL}
    if "list_append" in kinds:
        runs.append(("list_append", lambda: check_list_append(ops, model=c.isolation)))
    if "bank" in kinds:
        runs.append(("bank", lambda: check_bank(ops)))
    if "lost_files" in kinds:
        runs.append(("lost_files", lambda: lost_files(ops)))
    if "storage_availability" in kinds:
        runs.append(("storage_availability", lambda: storage_availability(
            ops, c.storage_max_outage_s, max_probe_gap_s=c.max_probe_gap_s)))
    if "storage_convergence" in kinds:
        runs.append(("storage_convergence", lambda: storage_convergence(ops, max_s=c.storage_converge_s)))
    if "ldap_availability" in kinds:
        runs.append(("ldap_availability", lambda: ldap_availability(
            ops, c.ldap_max_outage_s, max_probe_gap_s=c.max_probe_gap_s)))
    if "lost_directory_writes" in kinds:
        runs.append(("lost_directory_writes", lambda: lost_directory_writes(ops)))
    if "ldap_convergence" in kinds:
        runs.append(("ldap_convergence", lambda: ldap_convergence(ops, max_s=c.ldap_converge_s)))
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
    "ISOLATION_MODELS",
    "Phases",
    "Validity",
    "applicable",
    "availability",
    "check_bank",
    "check_list_append",
    "fault_windows",
    "latency",
    "ldap_availability",
    "ldap_convergence",
    "ledger",
    "lost_directory_writes",
    "lost_files",
    "nearest_rank",
    "recovery",
    "run_all",
    "sessions",
    "split_brain",
    "storage_availability",
    "storage_convergence",
]
