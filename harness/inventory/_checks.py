"""The validation toolkit of the cluster file: every problem is collected, then raised at once.

The whole file is checked before anything is built (chaostoolkit's habit): every problem is
kept with the file, the path of the field and what is wrong, and all of them are raised
together in one InventoryError, one per line, so a user fixes the file in one pass.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import InventoryError

#: a field that had a problem (already recorded): the section is not built
MISSING = object()


class InventoryProblems(InventoryError):
    """An InventoryError that also keeps each problem as its own line (``.problems``)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def known_names(names: Iterable[str]) -> str:
    return ", ".join(sorted(names))


class Checker:
    """Collects problems as ``source: path: message`` lines."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def error(self, path: str, message: str) -> None:
        self.problems.append(f"{self.source}: {path}: {message}" if path else f"{self.source}: {message}")

    def raise_if_any(self) -> None:
        if self.problems:
            raise InventoryProblems(self.problems)

    # -- shape -------------------------------------------------------------------------------
    def mapping(self, value: Any, path: str) -> dict[str, Any] | None:
        if not isinstance(value, Mapping):
            self.error(path, f"expected a mapping, got {describe_value(value)}")
            return None
        bad = [k for k in value if not isinstance(k, str)]
        for k in bad:
            self.error(path, f"key {k!r} is not a string")
        return {k: v for k, v in value.items() if isinstance(k, str)}

    def keys(
        self, data: Mapping[str, Any], path: str, required: Iterable[str], optional: Iterable[str]
    ) -> None:
        required = tuple(required)
        allowed = set(required) | set(optional)
        for key in data:
            if key not in allowed:
                self.error(join_path(path, key), f"unknown key {key!r} (known: {known_names(allowed)})")
        for key in required:
            if key not in data:
                self.error(join_path(path, key), "missing required field")

    # -- scalars (return MISSING on a problem, after recording it) -----------------------------
    def string(self, data: Mapping[str, Any], key: str, path: str, default: Any = MISSING) -> Any:
        if key not in data:
            return default
        value = data[key]
        if not isinstance(value, str) or not value.strip():
            self.error(join_path(path, key), f"expected a non-empty string, got {describe_value(value)}")
            return MISSING
        return value

    def integer(
        self, data: Mapping[str, Any], key: str, path: str, default: Any = MISSING,
        low: int | None = None, high: int | None = None,
    ) -> Any:
        if key not in data:
            return default
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(join_path(path, key), f"expected an integer, got {describe_value(value)}")
            return MISSING
        if (low is not None and value < low) or (high is not None and value > high):
            self.error(join_path(path, key), f"{value} is out of range [{low}, {high}]")
            return MISSING
        return value

    def number(
        self, data: Mapping[str, Any], key: str, path: str, default: Any = MISSING,
        low: float | None = None, high: float | None = None,
    ) -> Any:
        if key not in data:
            return default
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.error(join_path(path, key), f"expected a number, got {describe_value(value)}")
            return MISSING
        if isinstance(value, float) and not math.isfinite(value):
            # NaN compares false with every bound and .inf never ends a wait: refuse both here,
            # so no range check below (and no caller) ever sees them
            self.error(join_path(path, key), f"expected a finite number, got {value!r}")
            return MISSING
        if (low is not None and value < low) or (high is not None and value > high):
            rng = f">= {low}" if high is None else f"in [{low}, {high}]"
            self.error(join_path(path, key), f"{value} must be {rng}")
            return MISSING
        return float(value)

    def boolean(self, data: Mapping[str, Any], key: str, path: str, default: Any = MISSING) -> Any:
        if key not in data:
            return default
        value = data[key]
        if not isinstance(value, bool):
            self.error(join_path(path, key), f"expected true or false, got {describe_value(value)}")
            return MISSING
        return value

    def choice(
        self, data: Mapping[str, Any], key: str, path: str, known: Iterable[str], what: str,
        default: Any = MISSING,
    ) -> Any:
        value = self.string(data, key, path, default)
        if value is MISSING or value is default:
            return value
        known = frozenset(known)
        if value not in known:
            self.error(join_path(path, key), f"unknown {what} {value!r} (known: {known_names(known)})")
            return MISSING
        return value


def refuse_password(c: Checker, data: dict[str, Any], path: str) -> dict[str, Any]:
    """A section that names a password itself gets an error (passwords live in environment
    variables named by ``password_env``); the rest of the section is read on."""
    if "password" not in data:
        return data
    c.error(join_path(path, "password"), "passwords never appear in the file: name an environment variable with password_env")
    return {k: v for k, v in data.items() if k != "password"}


def join_path(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def describe_value(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"boolean {value!r}"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return f"{type(value).__name__} {value!r}"


def expand_user(path: str | None) -> str | None:
    return os.path.expanduser(path) if path else path

