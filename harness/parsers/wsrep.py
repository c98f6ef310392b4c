"""Parse ``SHOW STATUS LIKE 'wsrep%'`` as printed by the ``mysql``/``mariadb`` client.

Both the batch form (``mysql -N -B``: ``name<TAB>value``, optionally with the
``Variable_name<TAB>Value`` header when ``-N`` is missing) and the interactive table form
(``| wsrep_ready | ON |`` between ``+---+`` rules) are accepted: the Galera audit runs the
first, people paste the second into bug reports.
"""

from __future__ import annotations

import re

from ..errors import ParseError
from . import parse_error

_COMMAND = "SHOW STATUS LIKE 'wsrep%'"
_BATCH_ESCAPES = {"\\t": "\t", "\\n": "\n", "\\\\": "\\", "\\0": "\0"}


def _unescape(value: str) -> str:
    """``mysql -B`` escapes tab, newline, backslash and NUL in values."""
    if "\\" not in value:
        return value
    out = []
    i = 0
    while i < len(value):
        pair = value[i : i + 2]
        if pair in _BATCH_ESCAPES:
            out.append(_BATCH_ESCAPES[pair])
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def parse_wsrep_status(text: str) -> dict[str, str]:
    """Variable name -> value (strings, as the server reports them). Empty output -> {}."""
    result: dict[str, str] = {}
    lines = text.splitlines()
    table = any(ln.startswith("+-") for ln in lines)
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if table:
            s = line.strip()
            if s.startswith("+"):
                continue
            if not (s.startswith("|") and s.endswith("|")):
                if s.endswith(("rows in set", "row in set")) or " in set (" in s:
                    continue
                raise parse_error(_COMMAND, lineno, line, "expected '| name | value |'")
            cells = [c.strip() for c in s[1:-1].split("|")]
            if len(cells) != 2:
                # a value containing '|' : name is the first cell, the rest is the value
                cells = [cells[0], "|".join(cells[1:]).strip()]
            name, value = cells
        else:
            if "\t" not in line:
                raise parse_error(_COMMAND, lineno, line, "expected 'name<TAB>value' (mysql -N -B)")
            name, value = line.split("\t", 1)
            value = _unescape(value)
        if name == "Variable_name":
            continue
        if not name:
            raise parse_error(_COMMAND, lineno, line, "empty variable name")
        result[name] = value
    return result


_INTEGER = re.compile(r"^-?\d+$")
#: digits that are an identifier, not a count (a UUID of all digits is possible in principle)
_NOT_NUMBERS = frozenset({"wsrep_cluster_state_uuid"})


def typed_wsrep_status(status: dict[str, str]) -> dict[str, int | str]:
    """Integers as ints (``wsrep_cluster_size`` 3, not "3"), everything else as reported: the
    form a state sample records, so checkers compare sizes as numbers."""
    return {k: int(v) if _INTEGER.match(v) and k not in _NOT_NUMBERS else v for k, v in status.items()}


_ISO_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def iso8601_duration_s(text: str) -> float:
    """Galera's timer format (``PT3S``, ``PT0.5S``, ``PT1M30S``, ``P1D``) in seconds."""
    m = _ISO_DURATION.match(text.strip())
    if not m or text.strip() in ("P", "PT"):
        raise ParseError(f"wsrep_provider_options: {text!r} is not an ISO 8601 duration like PT3S")
    d, h, mi, s = (float(m.group(g) or 0) for g in ("d", "h", "m", "s"))
    return d * 86400 + h * 3600 + mi * 60 + s


def parse_provider_options(text: str) -> dict[str, str]:
    """``wsrep_provider_options`` (``evs.suspect_timeout = PT5S; gcache.size = 128M; ...``) -> dict."""
    out: dict[str, str] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep:
            raise ParseError(f"wsrep_provider_options: {part.strip()!r} is not 'name = value'")
        out[name.strip()] = value.strip()
    return out


#: Galera's defaults for the timers that decide how long writes stall when a node dies
GALERA_TIMER_DEFAULTS = {
    "evs.suspect_timeout": "PT5S",
    "evs.inactive_check_period": "PT0.5S",
    "evs.keepalive_period": "PT1S",
    "evs.join_retrans_period": "PT1S",
}
#: rounds of the membership protocol's JOIN messages a starved node may need to agree on the
#: new view (each retransmitted after ``evs.join_retrans_period``)
JOIN_ROUNDS = 2


def galera_stall_budget_s(options: dict[str, str]) -> float:
    """How long writes may stall when a node dies silently, from the provider options.

    The survivors suspect the node after ``evs.suspect_timeout`` without traffic from it,
    noticed at the next ``evs.inactive_check_period``; the last keepalive may have arrived
    up to ``evs.keepalive_period`` before the death. Then they must agree on the new view:
    JOIN messages, retransmitted every ``evs.join_retrans_period`` until every survivor has
    answered; on two busy cores that took up to two rounds (docs/lab-measurements.md: writes
    stalled 3.1 s with suspect PT2S and 6.3 s with the default PT5S when idle; with the lab's
    timers 4.0-4.3 s alone and 6.4 s after 25 minutes of the CI suite, 1.9 s over the first
    three timers).
    """
    def timer(name: str) -> float:
        return iso8601_duration_s(options.get(name) or GALERA_TIMER_DEFAULTS[name])

    return (timer("evs.suspect_timeout") + timer("evs.inactive_check_period") + timer("evs.keepalive_period")
            + JOIN_ROUNDS * timer("evs.join_retrans_period"))
