"""What the convergence checkers share (storage self-heal, LDAP contextCSN): a bound that is a
number, the last heal of the run, and the verdict from when the goal was first reached."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..errors import HistoryError
from ..history import Op
from ._orphans import Orphans
from ._result import CheckResult, Validity
from .phases import scan_faults


def check_max_s(checker: str, max_s: float | None) -> None:
    """A bound that would make the comparison silently true or false is one clear error."""
    if max_s is not None and (isinstance(max_s, bool) or not isinstance(max_s, (int, float))
                              or not math.isfinite(max_s) or max_s <= 0):
        raise HistoryError(f"{checker}: max_s must be a finite number > 0, not {max_s!r}")


def last_heal(ops: Sequence[Op]) -> tuple[float | None, Orphans]:
    """When the run's last healed fault window ended (None: no fault was healed)."""
    windows, orphans = scan_faults(ops)
    healed = [w.end for w in windows if w.healed]
    return (max(healed) if healed else None), orphans


def convergence_verdict(checker: str, counts: dict[str, Any], examples: dict[str, list[Any]], *, heal_at: float,
                        reached_at: float | None, last_t: float, max_s: float | None, what: str,
                        not_yet: str) -> CheckResult:
    """VALID when ``what`` held ``reached_at - heal_at`` s after the heal, within ``max_s``;
    INVALID beyond it, or when still not (``not_yet``) after ``max_s`` of sampling; UNKNOWN
    when sampling ended early. Sets ``counts["converged_s"]``."""
    if reached_at is not None:
        took = reached_at - heal_at
        counts["converged_s"] = round(took, 3)
        if max_s is not None and took > max_s:
            return CheckResult(checker, Validity.INVALID, counts, examples,
                               f"{what} only {took:.1f} s after the heal (bound {max_s} s)")
        return CheckResult(checker, Validity.VALID, counts, message=f"{what} {took:.1f} s after the heal")
    if max_s is not None and last_t - heal_at > max_s:
        return CheckResult(checker, Validity.INVALID, counts, examples,
                           f"{not_yet} {last_t - heal_at:.1f} s after the heal (bound {max_s} s)")
    return CheckResult(checker, Validity.UNKNOWN, counts, examples, f"sampling ended before: {what}")
