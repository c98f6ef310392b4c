"""What an audit finds: a rule broken, how bad, the evidence, and the test that would confirm it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class Severity(Enum):
    """How bad a finding is. CRITICAL: a promised failover cannot work as configured;
    WARNING: it works by luck or slower than promised; INFO: a risk worth knowing."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"critical": 0, "warning": 1, "info": 2}[self.value]


@dataclass(frozen=True)
class Evidence:
    """Where the finding was read: host, file and line, and the text there (or command output)."""

    host: str
    path: str | None = None
    line: int | None = None
    text: str = ""

    def where(self) -> str:
        at = self.host if self.path is None else f"{self.host}:{self.path}"
        return at if self.line is None else f"{at}:{self.line}"

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.host, "path": self.path, "line": self.line, "text": self.text}


@dataclass(frozen=True)
class Finding:
    """One broken rule. ``confirm`` names the fault test that would show it failing."""

    rule: str
    severity: Severity
    message: str
    evidence: tuple[Evidence, ...] = ()
    confirm: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity.value, "message": self.message,
                "evidence": [e.to_dict() for e in self.evidence], "confirm": self.confirm}


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Worst first, then by rule and message (stable output for tables and JSON)."""
    return sorted(findings, key=lambda f: (f.severity.rank, f.rule, f.message))
