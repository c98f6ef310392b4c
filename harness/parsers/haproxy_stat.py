"""Parse HAProxy ``show stat`` CSV from the runtime (stats) socket.

The state sampler records which backends each director's HAProxy sees UP, so a checker can
tell "web3 was still in rotation while dead". Columns are read by name from the ``# pxname,``
header, which differs between HAProxy versions.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

from . import parse_error

_COMMAND = "haproxy show stat"
_TYPES = {"0": "frontend", "1": "backend", "2": "server", "3": "listener"}


@dataclass(frozen=True)
class ServerStat:
    """One row: a frontend, backend, server or listener of a proxy.

    ``state`` is the status normalised to one word: ``UP``, ``DOWN``, ``MAINT``, ``DRAIN``,
    ``NOLB``, ``NOCHECK``, ``OPEN``, ``FULL``, ``STOP`` (else the raw status upper-cased);
    ``transitional`` is True for ``UP 1/2`` / ``DOWN 1/2`` (a check is changing its mind).
    """

    proxy: str
    name: str
    type: str
    status: str
    state: str
    transitional: bool = False
    weight: int | None = None
    check_status: str | None = None
    last_check: str | None = None  # the last check's own words ("Layer7 timeout: ...")
    address: str | None = None
    downtime_s: int | None = None

    @property
    def is_server(self) -> bool:
        return self.type == "server"


def _state(status: str) -> tuple[str, bool]:
    s = status.strip()
    if s.lower() == "no check":
        return "NOCHECK", False
    word = s.split(" ", 1)[0].upper() if s else ""
    transitional = "/" in s and word in ("UP", "DOWN", "NOLB")
    if word in ("UP", "DOWN", "MAINT", "DRAIN", "NOLB", "OPEN", "FULL", "STOP"):
        return word, transitional
    return s.upper(), transitional


def _opt_int(text: str | None) -> int | None:
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def parse_show_stat(text: str) -> list[ServerStat]:
    """Every row of ``show stat`` (frontends and backends included; filter with ``is_server``)."""
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if start is None or not lines[start].startswith("# pxname,svname,"):
        shown = lines[start] if start is not None else None
        raise parse_error(_COMMAND, None if start is None else start + 1, shown, "expected the '# pxname,svname,...' header")
    header = lines[start][2:].rstrip(",").split(",")
    for needed in ("pxname", "svname", "status"):
        if needed not in header:
            raise parse_error(_COMMAND, start + 1, lines[start], f"header lacks column {needed!r}")
    col = {name: i for i, name in enumerate(header)}
    out: list[ServerStat] = []
    for offset, row in enumerate(csv.reader(lines[start + 1 :])):
        lineno = start + 2 + offset
        if not row or not "".join(row).strip():
            continue
        if len(row) < len(header):
            raise parse_error(_COMMAND, lineno, ",".join(row), f"{len(row)} fields, header has {len(header)}")

        def get(name: str, row: list[str] = row) -> str | None:
            i = col.get(name)
            return row[i] if i is not None else None

        status = get("status") or ""
        state, transitional = _state(status)
        svname = get("svname") or ""
        kind = _TYPES.get(get("type") or "", "")
        if not kind:
            kind = {"FRONTEND": "frontend", "BACKEND": "backend"}.get(svname, "server")
        check = get("check_status")
        out.append(
            ServerStat(
                proxy=get("pxname") or "",
                name=svname,
                type=kind,
                status=status,
                state=state,
                transitional=transitional,
                weight=_opt_int(get("weight")),
                check_status=check or None,
                last_check=get("last_chk") or None,
                address=get("addr") or None,
                downtime_s=_opt_int(get("downtime")),
            )
        )
    return out


def server_states(stats: list[ServerStat]) -> dict[str, dict[str, str]]:
    """Backend -> server -> state, the shape of a state sample's ``backends`` entry."""
    out: dict[str, dict[str, str]] = {}
    for s in stats:
        if s.is_server:
            out.setdefault(s.proxy, {})[s.name] = s.state
    return out


def status_with_reason(stat: ServerStat) -> str:
    """The raw status; when not UP, followed by the last check's verdict (why it is down):
    ``UP``, ``UP 1/2``, ``DOWN(L7TOUT Layer7 timeout: check duration 1001ms)``, ``DOWN 1/2``."""
    status = stat.status or "?"
    if status.startswith("UP"):
        return status
    why = " ".join(v for v in (stat.check_status, stat.last_check) if v)
    return f"{status}({why})" if why else status


def backend_servers(stats: list[ServerStat]) -> dict[str, dict[str, str]]:
    """Proxy -> server -> ``status_with_reason``: what ``harness lab status`` shows per director
    (every row but a proxy's FRONTEND and BACKEND aggregates)."""
    out: dict[str, dict[str, str]] = {}
    for s in stats:
        if s.name not in ("FRONTEND", "BACKEND") and s.proxy:
            out.setdefault(s.proxy, {})[s.name] = status_with_reason(s)
    return out
