"""Parse haproxy.cfg: sections, their binds, backends and servers with their check settings.

Only what the static audit compares between directors: ``frontend``/``listen`` binds and
default backends, ``backend``/``listen`` servers with ``check``/``backup``/``inter``/
``fastinter``/``fall``/``rise``, ``default-server`` lines (in ``defaults`` and in the
section), ``timeout check`` and ``option redispatch``. Line numbers are kept for evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import parse_error

_COMMAND = "haproxy.cfg"
_SECTIONS = ("global", "defaults", "frontend", "backend", "listen", "peers", "resolvers", "userlist", "program",
             "http-errors", "ring", "cache", "mailers")
_TIME = re.compile(r"^(\d+(?:\.\d+)?)(us|ms|s|m|h|d)?$")
_UNITS = {"us": 1e-6, "ms": 1e-3, None: 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_time_s(text: str, source: str = _COMMAND, lineno: int | None = None) -> float:
    """HAProxy time (``2s``, ``200ms``, a bare number is milliseconds) in seconds."""
    m = _TIME.match(text)
    if m is None:
        raise parse_error(source, lineno, text, "not a HAProxy time (e.g. 2s, 200ms)")
    return float(m.group(1)) * _UNITS[m.group(2)]


@dataclass(frozen=True)
class ServerCheck:
    """How a server is checked (None: HAProxy's default)."""

    check: bool = False
    inter: float | None = None
    fastinter: float | None = None
    fall: int | None = None
    rise: int | None = None
    backup: bool = False


@dataclass(frozen=True)
class Server:
    name: str
    address: str
    check: ServerCheck
    lineno: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Section:
    kind: str
    name: str
    binds: tuple[str, ...] = ()
    default_backend: str | None = None
    servers: tuple[Server, ...] = ()
    timeout_check: float | None = None
    redispatch: bool = False
    lineno: int = field(default=0, compare=False)

    @property
    def serves(self) -> bool:
        """A section with servers (``backend`` or ``listen``)."""
        return self.kind in ("backend", "listen")


@dataclass(frozen=True)
class HaproxyConfig:
    sections: tuple[Section, ...] = ()

    def section(self, kind: str, name: str) -> Section | None:
        return next((s for s in self.sections if s.kind == kind and s.name == name), None)

    def backends(self) -> dict[str, Section]:
        return {s.name: s for s in self.sections if s.serves}

    def frontends(self) -> dict[str, Section]:
        """Sections that bind (``frontend``, ``listen``) by name."""
        return {s.name: s for s in self.sections if s.kind in ("frontend", "listen")}


def _server_options(words: list[str], base: ServerCheck, source: str, lineno: int) -> ServerCheck:
    values: dict[str, object] = dict(base.__dict__)
    i = 0
    while i < len(words):
        w = words[i]
        if w == "check":
            values["check"] = True
        elif w == "no-check":
            values["check"] = False
        elif w == "backup":
            values["backup"] = True
        elif w in ("inter", "fastinter") and i + 1 < len(words):
            values[w] = parse_time_s(words[i + 1], source, lineno)
            i += 1
        elif w in ("fall", "rise") and i + 1 < len(words):
            if not words[i + 1].isdigit():
                raise parse_error(source, lineno, " ".join(words), f"{w}: not a whole number")
            values[w] = int(words[i + 1])
            i += 1
        i += 1
    return ServerCheck(**values)  # type: ignore[arg-type]


def parse_haproxy_cfg(text: str, *, source: str = _COMMAND) -> HaproxyConfig:
    """haproxy.cfg text -> :class:`HaproxyConfig` (unknown keywords are ignored)."""
    sections: list[Section] = []
    defaults = ServerCheck()
    default_timeout_check: float | None = None
    default_redispatch = False
    current: dict | None = None

    def close() -> None:
        nonlocal defaults, default_timeout_check, default_redispatch
        if current is None:
            return
        if current["kind"] == "defaults":
            defaults = current["default_server"]
            default_timeout_check = current["timeout_check"]
            default_redispatch = current["redispatch"]
            return
        if current["kind"] in ("frontend", "backend", "listen"):
            sections.append(Section(current["kind"], current["name"], tuple(current["binds"]), current["default_backend"],
                                    tuple(current["servers"]), current["timeout_check"], current["redispatch"],
                                    lineno=current["lineno"]))

    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        if words[0] in _SECTIONS:
            close()
            current = {"kind": words[0], "name": words[1] if len(words) > 1 else "", "binds": [],
                       "default_backend": None, "servers": [], "default_server": defaults,
                       "timeout_check": default_timeout_check, "redispatch": default_redispatch, "lineno": lineno}
            continue
        if current is None:
            raise parse_error(source, lineno, raw, "a setting outside any section")
        key = words[0]
        if key == "bind" and len(words) > 1:
            current["binds"].append(words[1])
        elif key == "default_backend" and len(words) > 1:
            current["default_backend"] = words[1]
        elif key == "default-server":
            current["default_server"] = _server_options(words[1:], current["default_server"], source, lineno)
        elif key == "server" and len(words) >= 3:
            current["servers"].append(Server(words[1], words[2],
                                             _server_options(words[3:], current["default_server"], source, lineno),
                                             lineno=lineno))
        elif key == "timeout" and len(words) >= 3 and words[1] == "check":
            current["timeout_check"] = parse_time_s(words[2], source, lineno)
        elif key == "option" and len(words) >= 2 and words[1] == "redispatch":
            current["redispatch"] = True
        elif key == "no" and words[1:3] == ["option", "redispatch"]:
            current["redispatch"] = False
    close()
    return HaproxyConfig(tuple(sections))


def detection_time_s(section: Section, server: Server, connect_timeout_s: float = 5.0) -> float:
    """Worst time HAProxy takes to mark a silent server DOWN: the next check after at most
    ``inter``, each check waiting ``timeout check`` (else the connect timeout), the ``fall - 1``
    confirming checks ``fastinter`` apart (HAProxy's defaults: inter 2 s, fall 3)."""
    c = server.check
    inter = c.inter if c.inter is not None else 2.0
    fast = c.fastinter if c.fastinter is not None else inter
    fall = c.fall if c.fall is not None else 3
    wait = section.timeout_check if section.timeout_check is not None else connect_timeout_s
    return inter + wait + (fall - 1) * (fast + wait)
