"""Orphan completions: an ``ok``/``fail``/``info`` whose process had no open invocation.

The recorder never writes one (it refuses to complete what was not invoked), so an orphan
means the history is damaged: a line lost, a file cut and glued, a hand-edited history.
Every checker that pairs invocations with completions counts them with :class:`Orphans`
and answers UNKNOWN unless something is already INVALID: what such a history proves is not
what it seems to (docs/checkers.md, "Thin evidence").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..history import Op
from ._result import CheckResult, Validity

#: how many orphan completions a result shows as examples
MAX_ORPHAN_EXAMPLES = 5


@dataclass
class Orphans:
    """A count of orphan completions and the first few, as result examples."""

    count: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, op: Op) -> None:
        self.count += 1
        if len(self.examples) < MAX_ORPHAN_EXAMPLES:
            self.examples.append({"index": op.index, "time": op.time, "process": op.process, "type": op.type, "f": op.f})

    def merge(self, other: Orphans) -> Orphans:
        """Both tallies in one (examples: this one's first)."""
        out = Orphans(self.count + other.count, list(self.examples))
        out.examples.extend(other.examples[: max(0, MAX_ORPHAN_EXAMPLES - len(out.examples))])
        return out

    def note(self) -> str:
        """The message part, e.g. ``"2 completion(s) without an invocation (history damaged)"``."""
        return f"{self.count} completion(s) without an invocation (history damaged)"


def fail_closed(result: CheckResult, orphans: Orphans, what: str = "") -> CheckResult:
    """``result`` with the orphans counted, shown and, unless INVALID, the verdict UNKNOWN.
    ``what`` says whose completions they were (e.g. ``"nemesis "``)."""
    if not orphans.count:
        return result
    counts = dict(result.counts)
    counts["orphan_completions"] = orphans.count
    examples = dict(result.examples)
    examples["orphan_completions"] = list(orphans.examples)
    valid = Validity.INVALID if result.valid is Validity.INVALID else Validity.UNKNOWN
    note = f"{what}{orphans.note()}"
    message = f"{result.message}; {note}" if result.message else note
    return CheckResult(result.checker, valid, counts, examples, message)
