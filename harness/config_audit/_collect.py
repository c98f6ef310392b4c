"""Reading what the rules judge, over each host's transport (the audit's only side effect)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..budgets import DEFAULT_KEEPALIVED_CONF
from ..errors import HarnessError
from ..parsers.haproxy_cfg import parse_haproxy_cfg
from ..parsers.keepalived_conf import parse_keepalived_conf
from ._model import Evidence, Finding, Severity, sort_findings
from .haproxy import HaproxyDirector, haproxy_findings
from .keepalived import DirectorConfig, lvs_findings, vrrp_findings

if TYPE_CHECKING:
    from ..cluster import Cluster

#: bound on one read (a hung host must not hang the audit)
READ_TIMEOUT_S = 15.0
DEFAULT_HAPROXY_CFG = "/etc/haproxy/haproxy.cfg"


def _read(cluster: Cluster, host: str, path: str) -> tuple[str | None, Finding | None]:
    try:
        return cluster.transport(host).check_output(["cat", path], timeout=READ_TIMEOUT_S), None
    except HarnessError as exc:
        return None, Finding("host-unreadable", Severity.CRITICAL, f"{host}: cannot read {path}: {exc}",
                             (Evidence(host, path, None, str(exc)),))


def read_directors(cluster: Cluster) -> tuple[list[DirectorConfig], list[Finding]]:
    """Each director's keepalived.conf, parsed; a host or file that cannot be read or parsed is a
    finding naming the host and path (its peers are still compared with each other)."""
    directors: list[DirectorConfig] = []
    problems: list[Finding] = []
    for host in cluster.inventory.with_role("director"):
        svc = host.services.get("keepalived")
        path = (svc.config if svc and svc.config else None) or DEFAULT_KEEPALIVED_CONF
        text, problem = _read(cluster, host.name, path)
        if text is None:
            problems.append(problem)  # type: ignore[arg-type]
            continue
        try:
            config = parse_keepalived_conf(text, source=path)
        except HarnessError as exc:
            problems.append(Finding("config-unparsable", Severity.CRITICAL, f"{host.name}: {path}: {exc}",
                                    (Evidence(host.name, path, None, str(exc)),)))
            continue
        for pattern in config.unresolved_includes:
            problems.append(Finding("config-include-unread", Severity.WARNING,
                                    f"{host.name}: {path} includes {pattern}, which the audit did not read: "
                                    "what it configures is not judged", (Evidence(host.name, path, None,
                                                                                  f"include {pattern}"),)))
        directors.append(DirectorConfig(host.name, path, config))
    return directors, problems


def read_haproxy(cluster: Cluster) -> tuple[list[HaproxyDirector], list[Finding]]:
    """The haproxy.cfg of each director that runs HAProxy (a ``haproxy`` service)."""
    directors: list[HaproxyDirector] = []
    problems: list[Finding] = []
    for host in cluster.inventory.with_role("director"):
        svc = host.services.get("haproxy")
        if svc is None:
            continue
        path = svc.config or DEFAULT_HAPROXY_CFG
        text, problem = _read(cluster, host.name, path)
        if text is None:
            problems.append(problem)  # type: ignore[arg-type]
            continue
        try:
            directors.append(HaproxyDirector(host.name, path, parse_haproxy_cfg(text, source=path)))
        except HarnessError as exc:
            problems.append(Finding("config-unparsable", Severity.CRITICAL, f"{host.name}: {path}: {exc}",
                                    (Evidence(host.name, path, None, str(exc)),)))
    return directors, problems


def audit_cluster(cluster: Cluster) -> list[Finding]:
    """Every rule over what the cluster's hosts say, worst first."""
    inv = cluster.inventory
    directors, findings = read_directors(cluster)
    findings += vrrp_findings(directors, promise_s=inv.slo.director_failover_s)
    web = {name: v.address for name, v in inv.vips.items() if v.protocol == "http"}
    findings += lvs_findings(directors, web_failover_s=inv.slo.web_failover_s, web_vips=web or None)
    haproxies, problems = read_haproxy(cluster)
    findings += problems
    binds = {name: f"{v.address}:{v.port}" for name, v in inv.vips.items() if v.protocol == "http"}
    findings += haproxy_findings(haproxies, web_failover_s=inv.slo.web_failover_s, web_binds=binds or None)
    return sort_findings(findings)


def exit_status(findings: list[Finding]) -> int:
    """As ``harness check``: 0 clean (INFO at most), 1 a WARNING or CRITICAL finding about the
    configuration, 3 nothing wrong found but a host or file could not be judged."""
    unjudged = {"host-unreadable", "config-unparsable", "config-include-unread"}
    if any(f.severity is not Severity.INFO and f.rule not in unjudged for f in findings):
        return 1
    if any(f.rule in unjudged for f in findings):
        return 3
    return 0
