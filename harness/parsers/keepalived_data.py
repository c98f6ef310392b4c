"""Parse the ``/tmp/keepalived.data`` dump keepalived writes on SIGUSR1.

The state sampler sends SIGUSR1 to the VRRP process and reads this file to learn each
instance's state without DBus or SNMP. Each instance appears as `` VRRP Instance = NAME``
followed by indented ``   State = MASTER`` (keepalived 1.x and 2.x both print this line;
``Wantstate`` is what it is heading for, not what it is).
"""

from __future__ import annotations

from . import parse_error

_COMMAND = "keepalived.data (SIGUSR1 dump)"
STATES: frozenset[str] = frozenset({"MASTER", "BACKUP", "FAULT", "INIT", "STOP", "DELETED"})


def parse_keepalived_data(text: str) -> dict[str, str]:
    """Instance name -> state (``MASTER``, ``BACKUP``, ``FAULT``, ``INIT``, ...)."""
    if "------<" not in text:
        raise parse_error(_COMMAND, None, None, "no '------< ... >------' section header: not a keepalived dump")
    result: dict[str, str] = {}
    current: str | None = None
    current_lineno: int | None = None
    current_text: str | None = None
    for lineno, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if s.startswith("VRRP Instance = "):
            if current is not None and current not in result:
                raise parse_error(_COMMAND, current_lineno, current_text, f"instance {current!r} has no 'State =' line")
            current = s[len("VRRP Instance = ") :].strip()
            current_lineno, current_text = lineno, line
            continue
        if s.startswith("------<"):
            if current is not None and current not in result:
                raise parse_error(_COMMAND, current_lineno, current_text, f"instance {current!r} has no 'State =' line")
            current = None
            continue
        if current is not None and current not in result and s.startswith("State = "):
            state = s[len("State = ") :].strip()
            if not state:
                raise parse_error(_COMMAND, lineno, line, f"empty state for instance {current!r}")
            result[current] = state
    if current is not None and current not in result:
        raise parse_error(_COMMAND, current_lineno, current_text, f"instance {current!r} has no 'State =' line")
    return result
