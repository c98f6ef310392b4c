"""What every checker returns: a validity, counts and examples (never a bare bool)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Validity(enum.Enum):
    """VALID: the property held. INVALID: it was violated. UNKNOWN: the history cannot tell
    (too little data, or the checker itself crashed: never treated as a pass)."""

    VALID = "valid"
    INVALID = "invalid"
    UNKNOWN = "unknown"

    @classmethod
    def merge(cls, *values: Validity) -> Validity:
        """INVALID beats UNKNOWN beats VALID."""
        if any(v is cls.INVALID for v in values):
            return cls.INVALID
        if any(v is cls.UNKNOWN for v in values):
            return cls.UNKNOWN
        return cls.VALID


@dataclass(frozen=True)
class CheckResult:
    """A checker's verdict. ``counts`` holds figures (numbers), ``examples`` a few offending items."""

    checker: str
    valid: Validity
    counts: dict[str, Any] = field(default_factory=dict)
    examples: dict[str, list[Any]] = field(default_factory=dict)
    message: str = ""

    @property
    def anomaly_types(self) -> list[str]:
        """The transaction checkers' sorted anomaly names (``counts["anomaly_types"]``), else []."""
        return list(self.counts.get("anomaly_types", []))

    def to_dict(self) -> dict[str, Any]:
        return {
            "checker": self.checker,
            "valid": self.valid.value,
            "counts": self.counts,
            "examples": self.examples,
            "message": self.message,
        }
