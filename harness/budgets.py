"""How long a failover may take, read from the cluster's own timers (keepalived, Galera).

The acceptance tests and the soak bound each outage by these plus the SLO's
``failover_margin_s``: a BACKUP director's takeover from its keepalived.conf, a database
node's silent death from the Galera timers it reports.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pymysql

from .cluster import Cluster
from .errors import HarnessError
from .parsers.keepalived_conf import failover_budget_s, parse_keepalived_conf
from .parsers.wsrep import galera_stall_budget_s, parse_provider_options


def director_failover_budget_s(cluster: Cluster) -> float:
    """The longest time a BACKUP may take to take over, from each director's keepalived.conf:
    3 x advert_int + skew + preempt_delay, maximised over every VRRP instance."""
    budgets: list[float] = []
    for host in cluster.inventory.with_role("director"):
        svc = host.services.get("keepalived")
        path = (svc.config if svc and svc.config else None) or "/etc/keepalived/keepalived.conf"
        text = cluster.transport(host.name).check_output(["cat", path])
        conf = parse_keepalived_conf(text, source=f"{host.name}:{path}")
        budgets += [failover_budget_s(i) for i in conf.vrrp_instances.values()]
    if not budgets:
        raise HarnessError("no vrrp_instance found in any director's keepalived configuration")
    return max(budgets)


def database_stall_budget_s(cluster: Cluster, guard: Callable[[str], Any] | None = None) -> float:
    """How long a silent database node death may stall writes (and so the site), from the
    Galera timers of the first node that answers (wsrep_provider_options)."""
    inv = cluster.inventory
    if inv.database.kind != "galera":
        raise HarnessError(f"{inv.source}: database.kind {inv.database.kind!r}: no stall budget known")
    errors = []
    for host in inv.with_role("db"):
        try:
            if guard is not None:
                guard(host.address)
            conn = pymysql.connect(host=host.address, port=inv.database.port, user=inv.database.user,
                                   password=inv.db_password(), connect_timeout=3, read_timeout=5,
                                   write_timeout=5)
            try:
                with conn.cursor() as cur:
                    cur.execute("SHOW GLOBAL VARIABLES LIKE 'wsrep_provider_options'")
                    row = cur.fetchone()
            finally:
                conn.close()
        except (pymysql.err.MySQLError, OSError) as exc:
            errors.append(f"{host.name}: {exc}")
            continue
        if row:
            return galera_stall_budget_s(parse_provider_options(row[1]))
    raise HarnessError("no database node told its wsrep_provider_options: " + "; ".join(errors))
