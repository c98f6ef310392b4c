"""Session continuity: did a logged-in Moodle user stay logged in, whichever web node served?

Judges the session probe (harness/probes/session.py): processes ``session-<home node>``, each
holding one session made at its home node and checked through the web VIP. A check answered
"logged out" (``session-check`` ``ok`` with ``logged_in`` false) is a **lost session**,
attributed to its home node; checks that did not reach the site (``fail``/``info``) are
unavailability, judged by the availability checker, never a loss.

- INVALID: any session was lost (examples: home node, time, the node that answered);
- UNKNOWN: no session probe in the history, a home node that never had a session established
  and checked logged in at least ``min_checks`` times (thin evidence), or a damaged history
  (a completion without its invocation);
- VALID otherwise.

A fold (:func:`follow_sessions`) and then a judgement (:func:`judge`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..history import Op
from ._orphans import Orphans, fail_closed
from ._result import CheckResult, Validity

NAME = "sessions"
PROCESS_PREFIX = "session-"
CHECK, LOGIN = "session-check", "session-login"
#: logged-in answers a home node needs before "no loss" means anything
DEFAULT_MIN_CHECKS = 3
MAX_EXAMPLES = 10


@dataclass
class HomeFacts:
    """One home node's session, as the pass follows it."""

    logins_ok: int = 0
    logins_failed: int = 0
    checks_in: int = 0  # answered "logged in"
    checks_out: int = 0  # answered "logged out": a loss
    checks_unanswered: int = 0  # fail / info: the site did not answer (not a loss)
    served_by: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Loss:
    home: str
    time: float
    served_by: str | None
    index: int

    def to_dict(self) -> dict[str, Any]:
        return {"home": self.home, "time": self.time, "served_by": self.served_by, "index": self.index}


@dataclass
class SessionFacts:
    homes: dict[str, HomeFacts] = field(default_factory=dict)
    losses: list[Loss] = field(default_factory=list)
    orphans: Orphans = field(default_factory=Orphans)


def sessions(ops: Iterable[Op], *, min_checks: int = DEFAULT_MIN_CHECKS, max_examples: int = MAX_EXAMPLES) -> CheckResult:
    """Lost sessions per home node (docstring of the module for the verdicts)."""
    try:
        return judge(follow_sessions(ops), min_checks=min_checks, max_examples=max_examples)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        return CheckResult(NAME, Validity.UNKNOWN, message=f"bad data in history: {type(exc).__name__}: {exc}")


def follow_sessions(ops: Iterable[Op]) -> SessionFacts:
    """The pass: every ``session-*`` op, paired with its invocation (orphans counted)."""
    facts = SessionFacts()
    open_ops: dict[str, Op] = {}
    for op in ops:
        process = op.process
        if not process.startswith(PROCESS_PREFIX):
            continue
        if op.type == "invoke":
            open_ops[process] = op
            facts.homes.setdefault(_home(op, process), HomeFacts())
            continue
        if open_ops.pop(process, None) is None:
            facts.orphans.add(op)
            continue
        home = _home(op, process)
        h = facts.homes.setdefault(home, HomeFacts())
        value = op.value if isinstance(op.value, dict) else {}
        served_by = value.get("served_by")
        if op.f == LOGIN:
            if op.type == "ok" and value.get("logged_in") is True:
                h.logins_ok += 1
            else:
                h.logins_failed += 1
        elif op.f == CHECK:
            if op.type != "ok" or not isinstance(value.get("logged_in"), bool):
                h.checks_unanswered += 1
                continue
            if isinstance(served_by, str):
                h.served_by[served_by] = h.served_by.get(served_by, 0) + 1
            if value["logged_in"]:
                h.checks_in += 1
            else:
                h.checks_out += 1
                facts.losses.append(Loss(home, op.time, served_by if isinstance(served_by, str) else None, op.index))
    return facts


def _home(op: Op, process: str) -> str:
    value = op.value if isinstance(op.value, dict) else {}
    home = value.get("home")
    return home if isinstance(home, str) and home else process[len(PROCESS_PREFIX):]


def judge(facts: SessionFacts, *, min_checks: int = DEFAULT_MIN_CHECKS, max_examples: int = MAX_EXAMPLES) -> CheckResult:
    """The verdict from the facts alone."""
    homes = facts.homes
    lost_by_home = {name: h.checks_out for name, h in sorted(homes.items())}
    counts: dict[str, Any] = {
        "homes": len(homes),
        "checks": sum(h.checks_in + h.checks_out for h in homes.values()),
        "checks_unanswered": sum(h.checks_unanswered for h in homes.values()),
        "logins": sum(h.logins_ok for h in homes.values()),
        "logins_failed": sum(h.logins_failed for h in homes.values()),
        "lost": len(facts.losses),
        "lost_by_home": lost_by_home,
        "checks_by_home": {name: h.checks_in + h.checks_out for name, h in sorted(homes.items())},
    }
    examples: dict[str, list[Any]] = {}
    if not homes:
        return CheckResult(NAME, Validity.UNKNOWN, counts, message="no session probe in the history: nothing to judge")
    if facts.losses:
        examples["lost"] = [loss.to_dict() for loss in facts.losses[:max_examples]]
        where = ", ".join(f"{n} {c}" for n, c in lost_by_home.items() if c)
        result = CheckResult(NAME, Validity.INVALID, counts, examples,
                             f"{len(facts.losses)} lost session(s) by home node: {where}")
        return fail_closed(result, facts.orphans, "session probe ")
    thin = [f"{name} (logged in {h.logins_ok}x, {h.checks_in} logged-in check(s))"
            for name, h in sorted(homes.items()) if h.logins_ok == 0 or h.checks_in < min_checks]
    if thin:
        examples["thin"] = thin
        result = CheckResult(NAME, Validity.UNKNOWN, counts, examples,
                             f"no lost session, but too little evidence for: {', '.join(thin)} "
                             f"(each home needs a session and {min_checks} logged-in checks)")
        return fail_closed(result, facts.orphans, "session probe ")
    result = CheckResult(NAME, Validity.VALID, counts, examples,
                         f"no lost session: {counts['checks']} checks of {len(homes)} sessions, one per home node")
    return fail_closed(result, facts.orphans, "session probe ")
