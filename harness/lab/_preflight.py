"""Checks before the lab touches anything: root, Debian packages, subnet overlap, bridge name.

The deciding functions are pure (they take captured `ip -j route` output and a file-exists
callable) so unit tests cover them; `run_preflight` gathers the inputs.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import LabError
from ._topology import Topology

#: a file each needed Debian package installs -> the package
REQUIRED_FILES: dict[str, str] = {
    "/usr/sbin/keepalived": "keepalived",
    "/usr/sbin/haproxy": "haproxy",
    "/usr/sbin/apache2": "apache2",
    "/usr/lib/apache2/modules/libphp8.2.so": "libapache2-mod-php",
    "/usr/lib/apache2/modules/mod_headers.so": "apache2-bin",
    "/usr/share/php8.2-mysql/mysql/mysqli.ini": "php-mysql",
    "/usr/sbin/mariadbd": "mariadb-server",
    "/usr/bin/mariadb": "mariadb-client-core",
    "/usr/bin/mariadb-install-db": "mariadb-server-core",
    "/usr/lib/galera/libgalera_smm.so": "galera-4",
    "/usr/bin/rsync": "rsync",
    "/usr/sbin/sshd": "openssh-server",
    "/usr/bin/ssh": "openssh-client",
    "/usr/bin/ssh-keygen": "openssh-client",
    "/usr/bin/unshare": "util-linux",
    "/usr/bin/nsenter": "util-linux",
    "/usr/bin/setsid": "util-linux",
    "/usr/bin/python3": "python3",
    "/sbin/ip": "iproute2",
}


#: what the optional file tier needs beyond (``file_tier="gluster"``): checked only for a lab
#: that has one, so a machine without GlusterFS still runs every other lab
FILE_TIER_FILES: dict[str, dict[str, str]] = {
    "gluster": {
        "/usr/sbin/glusterd": "glusterfs-server",
        "/usr/sbin/gluster": "glusterfs-server",
        "/usr/sbin/glusterfs": "glusterfs-client",
    },
}


#: what the optional auth tier needs (``auth_tier="openldap"``): slapd, its schemas and
#: modules, and the clients `lab up` waits with; checked only for a lab that has one
AUTH_TIER_FILES: dict[str, dict[str, str]] = {
    "openldap": {
        "/usr/sbin/slapd": "slapd",
        "/usr/sbin/slapadd": "slapd",
        "/etc/ldap/schema/inetorgperson.ldif": "slapd",
        "/usr/lib/ldap/syncprov.so": "slapd",
        "/usr/bin/ldapsearch": "ldap-utils",
        "/usr/bin/ldapwhoami": "ldap-utils",
    },
}


def missing_packages(exists: Callable[[str], bool] = os.path.exists, file_tier: str = "none",
                     auth_tier: str = "none") -> list[str]:
    """Debian packages whose marker file is absent, sorted, without duplicates (with those of
    ``file_tier``'s and ``auth_tier``'s, when the lab has them)."""
    needed = dict(REQUIRED_FILES)
    needed.update(FILE_TIER_FILES.get(file_tier, {}))
    needed.update(AUTH_TIER_FILES.get(auth_tier, {}))
    return sorted({pkg for path, pkg in needed.items() if not exists(path)})


def missing_packages_message(packages: Iterable[str]) -> str:
    pkgs = list(packages)
    return (
        f"missing Debian package{'s' if len(pkgs) > 1 else ''}: {', '.join(pkgs)}; install with:\n"
        f"    apt-get install -y --no-install-recommends {' '.join(pkgs)}"
    )


def overlapping_routes(routes: list[dict[str, Any]], subnet: str, own_bridge: str) -> list[str]:
    """Routes (from `ip -j route`) whose destination overlaps ``subnet``, except our own bridge's.

    The default route is ignored: it covers everything by definition and the lab never uses it.
    """
    lab = ipaddress.IPv4Network(subnet)
    hits: list[str] = []
    for route in routes:
        dst = route.get("dst", "")
        if dst in ("", "default") or route.get("dev") == own_bridge:
            continue
        try:
            net = ipaddress.ip_network(dst if "/" in dst else f"{dst}/32", strict=False)
        except ValueError:
            continue
        if net.version == 4 and net.overlaps(lab):
            hits.append(f"{dst} dev {route.get('dev', '?')}")
    return hits


def ip_json(*args: str) -> Any:
    """Run `ip -j ARGS` and parse its JSON (empty output means an empty list)."""
    out = subprocess.run(["ip", "-j", *args], capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        raise LabError(f"`ip -j {' '.join(args)}` failed: {out.stderr.strip()}")
    return json.loads(out.stdout or "[]")


def link_exists(name: str) -> bool:
    return subprocess.run(["ip", "link", "show", "dev", name], capture_output=True, timeout=10).returncode == 0


def run_preflight(topo: Topology, own_bridge_recorded: bool, file_tier: str = "none",
                  auth_tier: str = "none") -> None:
    """Raise one LabError saying what to do, before anything is created."""
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces, bridges, daemons): run it with sudo or as root")
    pkgs = missing_packages(file_tier=file_tier, auth_tier=auth_tier)
    if pkgs:
        raise LabError(missing_packages_message(pkgs))
    hits = overlapping_routes(ip_json("route", "show", "table", "main"), topo.subnet, topo.bridge)
    if hits:
        raise LabError(
            f"subnet {topo.subnet} overlaps existing route(s): {'; '.join(hits)}; "
            "choose a free subnet with --subnet (e.g. another /24 in 198.18.0.0/15)"
        )
    if link_exists(topo.bridge) and not own_bridge_recorded:
        raise LabError(
            f"network interface {topo.bridge!r} exists but is not recorded by lab {topo.lab_name!r}; "
            "remove it (`ip link del " + topo.bridge + "`) if it is a leftover, or use another --name"
        )
