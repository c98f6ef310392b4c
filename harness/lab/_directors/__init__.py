"""The director kinds as strategies: one object per kind, chosen once from ``director_kind``.

    directors_for("lvs")        # LVSDirectors(): UML guests, keepalived + IPVS (LVS-DR)
    directors_for("haproxy")    # HAProxyDirectors(): namespace hosts, keepalived + HAProxy
    choose_kind("auto", say)    # "lvs" where a UML guest can run here, else "haproxy"

A new kind is one module here and one entry in ``DIRECTORS``; nothing else in the lab asks
which kind it has.
"""

from __future__ import annotations

from collections.abc import Callable

from ...errors import LabError
from .._interfaces import Directors
from .._uml import uml_available
from .haproxy import HAProxyDirectors, haproxy_command
from .lvs import LVSDirectors, expected_backends, ipvs_backends

DIRECTORS: dict[str, type[Directors]] = {"lvs": LVSDirectors, "haproxy": HAProxyDirectors}

__all__ = ["DIRECTORS", "Directors", "HAProxyDirectors", "LVSDirectors", "choose_kind", "directors_for",
           "expected_backends", "haproxy_command", "ipvs_backends"]


def directors_for(kind: str) -> Directors:
    """A fresh strategy object for ``kind`` (lvs | haproxy)."""
    try:
        return DIRECTORS[kind]()
    except KeyError:
        raise LabError(f"directors {kind!r}: use one of {', '.join(DIRECTORS)}") from None


def choose_kind(requested: str, say: Callable[[str], None]) -> str:
    """Resolve what was asked for (auto | lvs | haproxy) on this machine: auto takes LVS where
    UML guests can run, else HAProxy; lvs where they cannot is an error saying why."""
    if requested not in ("lvs", "auto"):
        return requested
    reason = uml_available()
    if reason and requested == "lvs":
        raise LabError(f"directors lvs: UML guests cannot run here: {reason}")
    if reason:
        say(f"directors: LVS unavailable ({reason}): using HAProxy directors")
        return "haproxy"
    return "lvs"
