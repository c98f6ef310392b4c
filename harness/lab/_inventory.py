"""The lab described as a cluster file (cluster.yml, docs/cluster-file.md): what the harness
drives the lab through, written by `lab up` and validated by harness.inventory."""

from __future__ import annotations

from typing import Any

import yaml

from ..inventory import load_inventory
from ._gluster import MOUNT_POINT, VOLUME
from ._interfaces import LabContext
from ._ldap import LDAP_PORT, PEOPLE_DN, ROOT_DN, SUFFIX

PASSWORD_ENV = "HARNESS_DB_PASSWORD"
#: where the lab LMS's students' password is handed to the load (never written in cluster.yml)
MOODLE_PASSWORD_ENV = "HARNESS_MOODLE_PASSWORD"
#: the password lms/seed.sql gives student001 .. student200
LMS_STUDENT_PASSWORD = "LabStudent-1"
#: where the auth tier's rootdn password is handed to the harness (never written in cluster.yml)
LDAP_PASSWORD_ENV = "HARNESS_LDAP_PASSWORD"


def inventory_dict(lab: LabContext) -> dict[str, Any]:
    """cluster.yml content (docs/cluster-file.md) describing this lab."""
    topo, paths = lab.topo, lab.paths
    hosts: dict[str, Any] = {
        "supervisor": {"address": topo.bridge_address, "roles": ["hypervisor"], "transport": "local",
                       "hypervisor": {"kind": "lab", "state_dir": str(lab.state_dir)}},
    }
    for h in topo.hosts.values():
        hosts[h.name] = {"address": h.address, "roles": list(h.roles),
                         "domain": {"name": h.name, "hypervisor": "supervisor"},
                         "services": lab.strategy.domain(lab, h).services()}
    out: dict[str, Any] = {
        "name": f"harness-lab-{lab.name}",
        "ssh": {"user": "root", "port": 22, "key_file": str(paths.key), "known_hosts": str(paths.known_hosts),
                "insecure_ignore_host_keys": False, "connect_timeout_s": 5, "command_timeout_s": 120,
                "keepalive_s": 2},
        # the lab's MariaDB runs at its default isolation, REPEATABLE READ: what it promises
        "database": {"kind": "galera", "user": "harness", "password_env": PASSWORD_ENV, "name": "harness",
                     "port": 3306, "isolation": "repeatable-read"},
        # the lab LMS's accounts, course and forum (lms/seed.sql) and Moodle's own schema names
        "moodle": {"accounts": {"prefix": "student", "digits": 3, "first": 1, "count": 200},
                   "password_env": MOODLE_PASSWORD_ENV, "course_id": 2, "forum_cmid": 1,
                   "database": "moodle", "table_prefix": "mdl_"},
        "vips": {
            "web": {"address": topo.vips["web"], "port": 80, "protocol": "http", "path": "/login/index.php"},
            "db": {"address": topo.vips["db"], "port": 3306, "protocol": "mysql"},
        },
        "hosts": hosts,
        # SLOs for the lab on 2 shared cores: a login (bcrypt + two redirects) under load takes
        # ~170-330 ms at p95, other pages ~30 ms; failover budgets come from the daemons' own
        # configuration (keepalived, Galera timers), these are the margins around them: the
        # probe's own timeout (0.5 s), the gratuitous ARP and scheduling on busy cores (a
        # power-cord pull measured 4.0-4.3 s against a 3.61 s keepalived budget).
        # Availability depends on the directors (their `availability_percent` says why).
        "slo": {
            "availability_percent": lab.strategy.availability_percent, "failover_margin_s": 1.5,
            "max_error_rate_percent": 5.0,
            "recovery_s": 60, "web_failover_s": 3.0,
            "director_failover_s": 5.0,  # promise: takeovers measured 0.2 s (crash) to 4.3 s (power-cord pull)
            "latency_ms": {"steady": {"p95": 500, "p99": 1000}, "fault": {"p95": 2000, "p99": 5000},
                           "recovery": {"p95": 1000, "p99": 2000}},
        },
    }
    if lab.file_tier == "gluster":
        out["storage"] = {"kind": "glusterfs", "volume": VOLUME, "mount_point": MOUNT_POINT,
                          "health": f"gluster --mode=script volume status {VOLUME}"}
    if lab.auth_tier == "openldap":
        # the directory ldap1 and ldap2 serve (harness.lab._ldap), fronted by the directors on
        # the LDAP VIP (the LMS's logins, the bind probe); probes also read each server
        out["vips"]["ldap"] = {"address": topo.vips["ldap"], "port": LDAP_PORT, "protocol": "ldap"}
        out["directory"] = {"kind": "openldap", "suffix": SUFFIX, "people": PEOPLE_DN, "user_attribute": "uid",
                            "bind_dn": ROOT_DN, "bind_password_env": LDAP_PASSWORD_ENV, "port": LDAP_PORT}
    return out


def write_inventory(lab: LabContext) -> None:
    """Write cluster.yml (with a header saying where the DB password is) and validate it."""
    paths = lab.paths
    header = (f"# Written by `harness lab up` for lab {lab.name!r}; regenerated on every up.\n"
              f"# The harness DB password is in {paths.harness_password_file}:\n"
              f"#   export {PASSWORD_ENV}=$(cat {paths.harness_password_file})\n"
              f"# The lab LMS's students all have the password of lms/seed.sql:\n"
              f"#   export {MOODLE_PASSWORD_ENV}={LMS_STUDENT_PASSWORD}\n")
    if lab.auth_tier != "none":
        header += (f"# The directory's bind password (its rootdn's) is in {paths.ldap_admin_password_file}:\n"
                   f"#   export {LDAP_PASSWORD_ENV}=$(cat {paths.ldap_admin_password_file})\n")
    text = header + yaml.safe_dump(inventory_dict(lab), sort_keys=False, default_flow_style=False)
    paths.inventory.write_text(text)
    load_inventory(paths.inventory)  # validates against docs/cluster-file.md
