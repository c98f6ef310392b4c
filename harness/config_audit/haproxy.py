"""Rules over the directors' haproxy.cfg files, compared with each other (pure).

Every director that may hold a VIP must serve it the same way: the same frontends bound to the
same addresses, the same backends with the same servers, each server checked, and a dead
server noticed within the web failover promise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..parsers.haproxy_cfg import HaproxyConfig, Section, detection_time_s
from ._model import Evidence, Finding, Severity
from .keepalived import CONFIRM_CRASH, CONFIRM_WEB


@dataclass(frozen=True)
class HaproxyDirector:
    """One director's haproxy.cfg, parsed, and where it was read."""

    host: str
    path: str
    config: HaproxyConfig


def _ev(d: HaproxyDirector, s: Section, text: str, line: int | None = None) -> Evidence:
    return Evidence(d.host, d.path, line or s.lineno or None, text)


def haproxy_findings(directors: list[HaproxyDirector], *, web_failover_s: float | None = None,
                     web_binds: Mapping[str, str] | None = None) -> list[Finding]:
    """Frontends and backends on every director, the same servers, checks and detection time.

    ``web_binds``: VIP name -> ``address:port`` of the web VIPs (the backends behind them are
    held to ``web_failover_s``)."""
    out: list[Finding] = []
    hosts = [d.host for d in directors]
    for what, table in (("frontend", lambda c: c.frontends()), ("backend", lambda c: c.backends())):
        names = sorted({n for d in directors for n in table(d.config)})
        for name in names:
            have = [(d, table(d.config)[name]) for d in directors if name in table(d.config)]
            for host in hosts:
                if host not in {d.host for d, _ in have}:
                    d0, s0 = have[0]
                    out.append(Finding(f"haproxy-{what}-missing", Severity.CRITICAL,
                                       f"{what} {name} is on {', '.join(d.host for d, _ in have)} but not on {host}: "
                                       f"after a failover to {host} what it serves is gone",
                                       (_ev(d0, s0, f"{s0.kind} {name}"), Evidence(host, text=f"no {what} {name}")),
                                       CONFIRM_CRASH))
            if what == "frontend" and len({tuple(sorted(s.binds)) for _, s in have}) > 1:
                out.append(Finding("haproxy-binds-differ", Severity.CRITICAL,
                                   f"frontend {name}: the directors bind different addresses",
                                   tuple(_ev(d, s, "bind " + ", ".join(s.binds)) for d, s in have), CONFIRM_CRASH))
            if what == "backend":
                sets = {tuple(sorted((v.name, v.address, v.check.backup) for v in s.servers)) for _, s in have}
                if len(sets) > 1:
                    out.append(Finding("haproxy-servers-differ", Severity.CRITICAL,
                                       f"backend {name}: the directors have different servers: what the site is "
                                       "depends on which director holds the VIP",
                                       tuple(_ev(d, s, "servers " + ", ".join(f"{v.name} {v.address}"
                                                                              for v in s.servers)) for d, s in have),
                                       CONFIRM_CRASH))
    web_backends = _web_backends(directors, web_binds)
    for d in directors:
        for name, s in sorted(d.config.backends().items()):
            for v in s.servers:
                if not v.check.check:
                    out.append(Finding("haproxy-no-health-check", Severity.CRITICAL,
                                       f"{d.host}: backend {name}: server {v.name} ({v.address}) has no check: when "
                                       "it dies HAProxy keeps sending it requests", (_ev(d, s, f"server {v.name} "
                                                                                             f"{v.address}", v.lineno),),
                                       CONFIRM_WEB))
                elif web_failover_s is not None and name in web_backends:
                    t = detection_time_s(s, v)
                    if t > web_failover_s:
                        sev = Severity.INFO if s.redispatch else Severity.WARNING
                        why = ("option redispatch retries a refused connection on another server, so only a "
                               "silent server costs this" if s.redispatch else "no option redispatch: its share of "
                               "requests fails meanwhile")
                        out.append(Finding("haproxy-detection-over-promise", sev,
                                           f"{d.host}: backend {name}: server {v.name} may stay UP {t:.2f} s after "
                                           f"it falls silent (inter + timeout check + (fall - 1) x (fastinter + "
                                           f"timeout check)), more than the promised {web_failover_s:g} s "
                                           f"(slo.web_failover_s); {why}",
                                           (_ev(d, s, f"server {v.name}", v.lineno),), CONFIRM_WEB))
    return out


def _web_backends(directors: list[HaproxyDirector], web_binds: Mapping[str, str] | None) -> set[str]:
    """Backends behind a frontend bound to a web VIP (every backend when the VIPs are not known)."""
    if web_binds is None:
        return {n for d in directors for n in d.config.backends()}
    wanted = set(web_binds.values())
    names: set[str] = set()
    for d in directors:
        for f in d.config.frontends().values():
            if wanted & set(f.binds):
                names.add(f.default_backend or f.name)
    return names
