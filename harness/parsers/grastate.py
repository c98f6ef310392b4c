"""Parse a Galera node's saved position: ``grastate.dat`` and ``mariadbd --wsrep-recover``'s log.

The lab's Galera start reads both to decide whether a node may bootstrap a cluster
(``safe_to_bootstrap: 1``) and where a crashed node resumes (``--wsrep-start-position``).
"""

from __future__ import annotations

import re

#: the UUID of a node that never joined a cluster (grastate.dat before the first start)
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
_RECOVERED = re.compile(r"WSREP: Recovered position:\s*([0-9a-f-]{36}:-?\d+)")


def parse_grastate(text: str) -> dict[str, str]:
    """``grastate.dat`` -> {key: value} (``uuid``, ``seqno``, ``safe_to_bootstrap``, ...).

    ``# GALERA saved state`` and other comment lines are skipped; a line without ``:`` too.
    """
    out: dict[str, str] = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            key, _, value = line.partition(":")
            out[key.strip()] = value.strip()
    return out


def parse_recovered_position(log_text: str) -> str | None:
    """The last ``WSREP: Recovered position: uuid:seqno`` of a recover run, or None when there
    is nothing to resume from (no such line, the zero UUID, or seqno -1)."""
    found = _RECOVERED.findall(log_text)
    if not found:
        return None
    pos: str = found[-1]
    return None if pos.startswith(ZERO_UUID) or pos.endswith(":-1") else pos
