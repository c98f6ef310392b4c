"""Rules over the directors' keepalived.conf files, compared with each other (pure).

Peers are the directors whose configs hold a VRRP instance of the same name: they must agree
on what makes them one virtual router (VRID, advert interval, authentication, VIPs, unicast
peers), and every director that may hold a VIP must serve it (an IPVS virtual server with the
same real servers, each with a health check). Each rule says what goes wrong at failover time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..parsers.keepalived_conf import KeepalivedConfig, VirtualServerConf, VrrpInstance, failover_budget_s
from ._model import Evidence, Finding, Severity

CONFIRM_CRASH = "tests/availability/test_directors.py::test_master_director_crash_moves_the_vip_within_budget"
CONFIRM_SPLIT = ("tests/availability/test_directors.py::"
                 "test_partition_between_directors_split_brain_is_detected_and_healed")
CONFIRM_WEB = "tests/availability/test_web_nodes.py::test_apache_killed_on_one_web_node_leaves_the_site_up"


@dataclass(frozen=True)
class DirectorConfig:
    """One director's keepalived.conf, parsed, and where it was read."""

    host: str
    path: str
    config: KeepalivedConfig


def _ev(d: DirectorConfig, inst: VrrpInstance | VirtualServerConf, text: str) -> Evidence:
    return Evidence(d.host, inst.source or d.path, inst.lineno or None, text)


def _peers(directors: list[DirectorConfig]) -> dict[str, list[tuple[DirectorConfig, VrrpInstance]]]:
    by_name: dict[str, list[tuple[DirectorConfig, VrrpInstance]]] = {}
    for d in directors:
        for name, inst in d.config.vrrp_instances.items():
            by_name.setdefault(name, []).append((d, inst))
    return by_name


def vrrp_findings(directors: list[DirectorConfig], *, promise_s: float | None = None) -> list[Finding]:
    """VRRP peers' consistency, VRID collisions, preemption, ARP refresh and the failover budget."""
    out: list[Finding] = []
    hosts = [d.host for d in directors]
    for name, members in sorted(_peers(directors).items()):
        present = {d.host for d, _ in members}
        for host in hosts:
            if host not in present and len(directors) > 1:
                d0, i0 = members[0]
                out.append(Finding("vrrp-instance-missing", Severity.CRITICAL,
                                   f"VRRP instance {name} is on {', '.join(sorted(present))} but not on {host}: "
                                   f"{host} can never take its VIPs over",
                                   (_ev(d0, i0, f"vrrp_instance {name}"), Evidence(host, text="no such instance")),
                                   CONFIRM_CRASH))
        if len(members) < 2:
            continue
        out.extend(_disagreements(name, members))
        out.extend(_preemption(name, members))
        out.extend(_unicast(name, members))
    out.extend(_vrid_collisions(directors))
    for d in directors:
        for name, inst in sorted(d.config.vrrp_instances.items()):
            if not inst.garp_master_refresh:
                out.append(Finding("vrrp-no-garp-refresh", Severity.INFO,
                                   f"{d.host}: {name} sends gratuitous ARP only on becoming MASTER "
                                   "(garp_master_refresh unset or 0): a switch or client that missed it keeps a "
                                   "stale ARP entry until it expires", (_ev(d, inst, f"vrrp_instance {name}"),),
                                   CONFIRM_SPLIT))
    if promise_s is not None:
        for d in directors:
            for name, inst in sorted(d.config.vrrp_instances.items()):
                if inst.state == "MASTER" and not inst.nopreempt:
                    continue  # the budget is the taking-over BACKUP's
                budget = failover_budget_s(inst)
                if budget > promise_s:
                    out.append(Finding("vrrp-budget-over-promise", Severity.CRITICAL,
                                       f"{d.host}: {name} may take {budget:.2f} s to take over (3 x advert_int "
                                       f"{inst.advert_int:g} + skew + preempt_delay {inst.preempt_delay:g}), more "
                                       f"than the promised {promise_s:g} s (slo.director_failover_s)",
                                       (_ev(d, inst, f"advert_int {inst.advert_int:g}, priority {inst.priority}"),),
                                       CONFIRM_CRASH))
    return out


def _disagreements(name: str, members: list[tuple[DirectorConfig, VrrpInstance]]) -> list[Finding]:
    """Fields on which peers must agree to be one virtual router."""
    out = []
    checks = (
        ("vrrp-vrid-mismatch", Severity.CRITICAL, "virtual_router_id", lambda i: i.virtual_router_id,
         "they are different virtual routers: each is MASTER of its own, both hold the VIPs"),
        ("vrrp-advert-int-mismatch", Severity.CRITICAL, "advert_int", lambda i: i.advert_int,
         "keepalived drops adverts whose interval differs from its own: the backup never hears the master"),
        ("vrrp-auth-mismatch", Severity.CRITICAL, "authentication", lambda i: (i.auth_type, i.auth_fingerprint),
         "adverts that fail authentication are dropped: both sides become MASTER"),
        ("vrrp-vips-mismatch", Severity.CRITICAL, "virtual_ipaddress", lambda i: tuple(sorted(i.vips)),
         "a takeover moves other addresses than the master held"),
        ("vrrp-version-mismatch", Severity.CRITICAL, "vrrp version", lambda i: i.version,
         "VRRPv2 and v3 adverts are not understood by the other version"),
    )
    for rule, severity, what, key, why in checks:
        values = {key(i) for _, i in members}
        if len(values) > 1:
            shown = ["(set)" if what == "authentication" and key(i)[1] else _show(key(i)) for _, i in members]
            out.append(Finding(rule, severity, f"{name}: {what} differs between peers ({why})",
                               tuple(_ev(d, i, f"{what} {s}") for (d, i), s in zip(members, shown, strict=True)),
                               CONFIRM_SPLIT))
    prios = [i.priority for _, i in members]
    if len(set(prios)) < len(prios):
        out.append(Finding("vrrp-equal-priority", Severity.WARNING,
                           f"{name}: peers share priority {max(set(prios), key=prios.count)}: which one is MASTER "
                           "is decided by the higher IP address, not by the configuration",
                           tuple(_ev(d, i, f"priority {i.priority}") for d, i in members), CONFIRM_CRASH))
    return out


def _show(value: object) -> str:
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value if v is not None) or "none"
    return "none" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _preemption(name: str, members: list[tuple[DirectorConfig, VrrpInstance]]) -> list[Finding]:
    out = []
    masters = [(d, i) for d, i in members if i.state == "MASTER"]
    if len(masters) > 1:
        out.append(Finding("vrrp-two-masters-configured", Severity.WARNING,
                           f"{name}: {len(masters)} peers start as state MASTER: at boot both claim the VIPs "
                           "until adverts settle it", tuple(_ev(d, i, "state MASTER") for d, i in masters),
                           CONFIRM_SPLIT))
    top = max(i.priority for _, i in members)
    for d, i in masters:
        if i.priority < top:
            out.append(Finding("vrrp-master-not-highest", Severity.WARNING,
                               f"{name}: {d.host} is state MASTER with priority {i.priority}, below a peer's {top}: "
                               "it is preempted as soon as that peer runs (two VIP moves instead of none)",
                               (_ev(d, i, f"state MASTER, priority {i.priority}"),), CONFIRM_CRASH))
    nopre = [(d, i) for d, i in members if i.nopreempt]
    for d, i in nopre:
        if i.state == "MASTER":
            out.append(Finding("vrrp-nopreempt-ignored", Severity.WARNING,
                               f"{name}: {d.host} has nopreempt with state MASTER; keepalived honours nopreempt "
                               "only with state BACKUP", (_ev(d, i, "nopreempt, state MASTER"),), CONFIRM_CRASH))
    if nopre and len(nopre) < len(members):
        out.append(Finding("vrrp-preempt-inconsistent", Severity.WARNING,
                           f"{name}: nopreempt on {', '.join(d.host for d, _ in nopre)} only: after a failover the "
                           "VIPs move back or stay depending on which director failed",
                           tuple(_ev(d, i, "nopreempt" if i.nopreempt else "preempt") for d, i in members),
                           CONFIRM_CRASH))
    delays = {i.preempt_delay for _, i in members}
    if len(delays) > 1:
        out.append(Finding("vrrp-preempt-delay-mismatch", Severity.WARNING,
                           f"{name}: preempt_delay differs between peers: the takeover time depends on which one "
                           "is standing by", tuple(_ev(d, i, f"preempt_delay {i.preempt_delay:g}") for d, i in members),
                           CONFIRM_CRASH))
    return out


def _unicast(name: str, members: list[tuple[DirectorConfig, VrrpInstance]]) -> list[Finding]:
    """With unicast adverts each peer must list every other peer's source address."""
    if not any(i.unicast_peers for _, i in members):
        return []
    out = []
    for d, i in members:
        for d2, i2 in members:
            if d2 is d or i2.unicast_src_ip is None:
                continue
            if i2.unicast_src_ip not in i.unicast_peers:
                out.append(Finding("vrrp-unicast-asymmetric", Severity.CRITICAL,
                                   f"{name}: {d.host} does not list {d2.host} ({i2.unicast_src_ip}) in unicast_peer: "
                                   f"{d2.host} never hears its adverts and takes the VIPs too",
                                   (_ev(d, i, f"unicast_peer {', '.join(i.unicast_peers) or 'none'}"),
                                    _ev(d2, i2, f"unicast_src_ip {i2.unicast_src_ip}")), CONFIRM_SPLIT))
    return out


def _vrid_collisions(directors: list[DirectorConfig]) -> list[Finding]:
    """Two different instances on one interface (any director) with the same VRID share a MAC."""
    seen: dict[tuple[str | None, int], tuple[DirectorConfig, VrrpInstance]] = {}
    out = []
    for d in directors:
        for name, inst in sorted(d.config.vrrp_instances.items()):
            if inst.virtual_router_id is None:
                continue
            key = (inst.interface, inst.virtual_router_id)
            other = seen.get(key)
            if other is not None and other[1].name != name:
                out.append(Finding("vrrp-vrid-collision", Severity.CRITICAL,
                                   f"VRID {inst.virtual_router_id} on {inst.interface} is used by {other[1].name} and "
                                   f"{name}: their adverts are taken for one router's",
                                   (_ev(other[0], other[1], f"vrrp_instance {other[1].name}"),
                                    _ev(d, inst, f"vrrp_instance {name}")), CONFIRM_SPLIT))
            seen.setdefault(key, (d, inst))
    return out


def _key(vs: VirtualServerConf) -> tuple[str, int | None, str]:
    return (vs.address, vs.port, vs.protocol)


def detection_time_s(vs: VirtualServerConf) -> float | None:
    """Worst time keepalived takes to drop a dead real server of ``vs``: one ``delay_loop`` to
    the next check, then ``retry + 1`` timed-out attempts ``delay_before_retry`` apart."""
    worst = None
    for rs in vs.real_servers:
        if not rs.checks:
            continue
        timeout = rs.connect_timeout if rs.connect_timeout is not None else 5.0
        retry = rs.retry if rs.retry is not None else 1
        gap = rs.delay_before_retry if rs.delay_before_retry is not None else 1.0
        t = (vs.delay_loop if vs.delay_loop is not None else 60.0) + timeout * (retry + 1) + gap * retry
        worst = t if worst is None else max(worst, t)
    return worst


def lvs_findings(directors: list[DirectorConfig], *, web_failover_s: float | None = None,
                 web_vips: Mapping[str, str] | None = None) -> list[Finding]:
    """IPVS virtual servers: present on every director that may hold their VIP, the same real
    servers everywhere, a health check for each, its detection time, connection sync."""
    out: list[Finding] = []
    holders: dict[str, set[str]] = {}
    for d in directors:
        for inst in d.config.vrrp_instances.values():
            for vip in inst.vips:
                holders.setdefault(vip, set()).add(d.host)
    servers: dict[tuple[str, int | None, str], list[tuple[DirectorConfig, VirtualServerConf]]] = {}
    for d in directors:
        for vs in d.config.virtual_servers:
            servers.setdefault(_key(vs), []).append((d, vs))
    for key, members in sorted(servers.items(), key=lambda kv: str(kv[0])):
        label = f"virtual_server {key[0]} {key[1] if key[1] is not None else ''}".rstrip()
        present = {d.host for d, _ in members}
        for host in sorted(holders.get(key[0], set()) - present):
            d0, v0 = members[0]
            out.append(Finding("lvs-virtual-server-missing", Severity.CRITICAL,
                               f"{host} may hold VIP {key[0]} but has no {label}: after a failover to {host} "
                               "connections to it are refused", (_ev(d0, v0, label),
                                                                 Evidence(host, text=f"no {label}")), CONFIRM_CRASH))
        reals = {tuple(sorted((r.address, r.port) for r in vs.real_servers)) for _, vs in members}
        if len(reals) > 1:
            out.append(Finding("lvs-real-servers-differ", Severity.CRITICAL,
                               f"{label}: the directors forward to different real servers: what the site is "
                               "depends on which director holds the VIP",
                               tuple(_ev(d, vs, "real servers " + ", ".join(f"{r.address}:{r.port}"
                                                                            for r in vs.real_servers))
                                     for d, vs in members), CONFIRM_CRASH))
        for d, vs in members:
            for rs in vs.real_servers:
                if not rs.checks:
                    out.append(Finding("lvs-no-health-check", Severity.CRITICAL,
                                       f"{d.host}: {label}: real server {rs.address}:{rs.port} has no health check: "
                                       "when it dies, its share of new connections keeps going to it",
                                       (Evidence(d.host, vs.source or d.path, rs.lineno or None,
                                                 f"real_server {rs.address} {rs.port}"),), CONFIRM_WEB))
            detect = detection_time_s(vs)
            is_web = web_vips is None or key[0] in web_vips.values()
            if web_failover_s is not None and detect is not None and is_web and detect > web_failover_s:
                out.append(Finding("lvs-detection-over-promise", Severity.WARNING,
                                   f"{d.host}: {label}: a dead real server may stay in the pool {detect:.2f} s "
                                   f"(delay_loop + timed-out checks), more than the promised {web_failover_s:g} s "
                                   "(slo.web_failover_s)", (_ev(d, vs, f"delay_loop {vs.delay_loop}"),),
                                   CONFIRM_WEB))
    if len(directors) > 1 and servers:
        for d in directors:
            if d.config.virtual_servers and d.config.lvs_sync_daemon is None:
                out.append(Finding("lvs-no-connection-sync", Severity.WARNING,
                                   f"{d.host}: no lvs_sync_daemon: established connections are not known to the "
                                   "other director and break when the VIP moves", (Evidence(d.host, d.path, None,
                                                                                           "global_defs"),),
                                   CONFIRM_CRASH))
    return out
