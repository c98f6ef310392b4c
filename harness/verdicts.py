"""Which checker verdicts make an acceptance test fail: judged, waived, expected INVALID (issue 14).

A test used to assert only the figures of its theme (the lost-writes test the writes), so a
run could pass while its own availability checker said INVALID. Now every checker that had
something of its kind to judge in the history must be VALID, unless the test says otherwise
with a marker that carries a reason:

- ``@pytest.mark.waive("availability", reason="...")``: the verdict is recorded and shown
  apart, but does not decide the outcome (the test bounds the same thing another way);
- ``@pytest.mark.expect_invalid("ledger", reason="...")``: a negative proof, the cluster is
  broken on purpose and this checker MUST say INVALID (anything else fails the test).

Pure: literal CheckResults and marker arguments in, a :class:`Judgement` out. The plugin
reads the markers and raises; the scenario runs the checkers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .checkers import CheckResult, Validity
from .errors import HarnessError

#: every checker name a marker may name: the standard set of ``run_all`` (``posts`` when the
#: workload reads its forum posts back), the director-failover promise (harness.budgets),
#: ``sessions`` (the session probe's lost sessions) and the transaction checkers
#: (``list_append``, ``bank``: when the history holds their operations) and the file tier's
#: (``lost_files``, ``storage_availability``, ``storage_convergence``, likewise) and the
#: directory tier's (``ldap_availability``, ``lost_directory_writes``, ``ldap_convergence``)
KNOWN_CHECKERS = ("availability", "ledger", "latency", "split_brain", "recovery", "posts", "director_failover",
                  "sessions", "list_append", "bank", "lost_files", "storage_availability", "storage_convergence",
                  "ldap_availability", "lost_directory_writes", "ldap_convergence")
MARKERS = ("waive", "expect_invalid")


class VerdictUsageError(HarnessError):
    """A ``waive`` or ``expect_invalid`` marker is misused (no reason, unknown checker, twice)."""


@dataclass(frozen=True)
class Declared:
    """One checker a test takes out of the default judgement, and why."""

    checker: str
    reason: str


@dataclass(frozen=True)
class Declarations:
    """A test's waivers and expected-INVALID checkers (from its markers)."""

    waived: tuple[Declared, ...] = ()
    expect_invalid: tuple[Declared, ...] = ()

    def reason(self, checker: str, kind: str) -> str | None:
        found = self.waived if kind == "waive" else self.expect_invalid
        return next((d.reason for d in found if d.checker == checker), None)


def declarations(marks: Iterable[tuple[str, Sequence[Any], Mapping[str, Any]]], *, where: str) -> Declarations:
    """``(marker name, args, kwargs)`` of a test's ``waive``/``expect_invalid`` marks ->
    Declarations; VerdictUsageError naming ``where`` (the test) and the marker otherwise.

    A waiver hides a verdict from the outcome, so it must say why: no reason, an unknown
    checker, the same checker declared twice or both waived and expected INVALID is refused.
    """
    out: dict[str, list[Declared]] = {m: [] for m in MARKERS}
    seen: dict[str, str] = {}
    for name, args, kwargs in marks:
        if name not in MARKERS:
            continue
        shown = f"{where}: @pytest.mark.{name}{_show(args, kwargs)}"
        extra = sorted(set(kwargs) - {"reason"})
        if len(args) != 1 or not isinstance(args[0], str) or extra:
            raise VerdictUsageError(f"{shown}: expected {name}(CHECKER, reason=\"why\")"
                                    + (f"; unexpected {', '.join(extra)}" if extra else ""))
        checker = args[0]
        if checker not in KNOWN_CHECKERS:
            raise VerdictUsageError(f"{shown}: unknown checker {checker!r} (known: {', '.join(KNOWN_CHECKERS)})")
        reason = kwargs.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise VerdictUsageError(f"{shown}: needs reason=\"...\" saying why this verdict does not "
                                    "decide the test as usual")
        if checker in seen:
            raise VerdictUsageError(f"{shown}: {checker!r} is already declared by @pytest.mark.{seen[checker]}")
        seen[checker] = name
        out[name].append(Declared(checker, reason.strip()))
    return Declarations(tuple(out["waive"]), tuple(out["expect_invalid"]))


def _show(args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"({', '.join(parts)})"


@dataclass(frozen=True)
class Verdict:
    """One checker's place in the judgement (result.json ``verdicts``)."""

    checker: str
    valid: Validity
    message: str = ""
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"checker": self.checker, "valid": self.valid.value, "message": self.message}
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class Judgement:
    """What the checkers said and which of it decides the test. ``failures`` empty: it passes."""

    judged: tuple[Verdict, ...] = ()
    waived: tuple[Verdict, ...] = ()
    expected_invalid: tuple[Verdict, ...] = ()
    not_applicable: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()
    #: where the checkers ran: "body" (the test ran them) or "teardown" (the harness did)
    checked_in: str = "body"

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked_in": self.checked_in,
            "judged": [v.to_dict() for v in self.judged],
            "waived": [v.to_dict() for v in self.waived],
            "expected_invalid": [v.to_dict() for v in self.expected_invalid],
            "not_applicable": list(self.not_applicable),
            "failures": list(self.failures),
        }

    def message(self) -> str:
        """The test's failure message: one line per checker that decides against it."""
        head = f"{len(self.failures)} checker verdict(s) fail this test (harness.verdicts):"
        hint = ("a checker that does not apply to what this test proves can be waived with "
                "@pytest.mark.waive(\"<checker>\", reason=\"...\"); a real misbehaviour should not be")
        return "\n".join([head, *(f"  {f}" for f in self.failures), hint])


def judge(checks: Sequence[CheckResult], applicable: Mapping[str, bool], declared: Declarations,
          *, checked_in: str = "body") -> Judgement:
    """Sort ``checks`` into judged, waived, expected INVALID and not applicable; list failures.

    ``applicable[name]`` False: the history had nothing of that checker's kind (N/A, never a
    failure, waived or not); a name missing from it counts as applicable (a verdict like
    ``director_failover`` exists only when its test computed it). A judged checker fails the
    test unless VALID; an expected-INVALID one unless INVALID (a negative proof that is not
    caught proves nothing), and also when it did not run at all. A waived one never does.
    """
    judged: list[Verdict] = []
    waived: list[Verdict] = []
    expected: list[Verdict] = []
    na: list[str] = []
    failures: list[str] = []
    by_name = {c.checker: c for c in checks}
    for c in checks:
        expect_reason = declared.reason(c.checker, "expect_invalid")
        waive_reason = declared.reason(c.checker, "waive")
        if expect_reason is not None:
            expected.append(Verdict(c.checker, c.valid, c.message, expect_reason))
            if c.valid is not Validity.INVALID:
                failures.append(f"{c.checker}: {c.valid.name}, expected INVALID ({expect_reason}): {c.message}")
        elif not applicable.get(c.checker, True):
            na.append(c.checker)
        elif waive_reason is not None:
            waived.append(Verdict(c.checker, c.valid, c.message, waive_reason))
        else:
            judged.append(Verdict(c.checker, c.valid, c.message))
            if c.valid is not Validity.VALID:
                failures.append(f"{c.checker}: {c.valid.name}: {c.message}")
    for d in declared.expect_invalid:
        if d.checker not in by_name:
            failures.append(f"{d.checker}: expected INVALID ({d.reason}) but it did not run")
    return Judgement(tuple(judged), tuple(waived), tuple(expected), tuple(na), tuple(failures), checked_in)
