"""Template rendering: fill templates/<name> with `string.Template`, and the VRRP blocks both
director kinds share. A pure leaf (reads only the package's templates)."""

from __future__ import annotations

import string

from ..errors import LabError
from ._paths import TEMPLATES, LabPaths
from ._topology import DIRECTOR_PRIORITY, VRRP_COMPANIONS, VRRP_INSTANCES, LabHost, Topology


def render(template: str, **values: object) -> str:
    """Fill templates/<template>; a missing value is a LabError naming it (never a silent blank)."""
    text = (TEMPLATES / template).read_text()
    try:
        return string.Template(text).substitute({k: str(v) for k, v in values.items()})
    except KeyError as exc:
        raise LabError(f"template {template}: no value for ${exc.args[0]}") from None


def vrrp_instance_blocks(topo: Topology, host: LabHost, paths: LabPaths, advert_int: float, *,
                         iface: str) -> list[str]:
    """The vrrp_instance blocks of one director (both director kinds share them); an
    instance also holds its companion VIPs the lab has (``VRRP_COMPANIONS``: the LDAP VIP)."""
    top = max(DIRECTOR_PRIORITY.values())

    def addresses(inst: str, vip_name: str) -> str:
        names = [vip_name, *(c for c in VRRP_COMPANIONS.get(inst, ()) if c in topo.vips)]
        return "\n        ".join(f"{topo.vips[n]}/{topo.prefixlen} dev {iface}" for n in names)

    return [
        render("keepalived-instance.conf", instance=inst, vrid=vrid,
               state="MASTER" if DIRECTOR_PRIORITY[host.name] == top else "BACKUP",
               priority=DIRECTOR_PRIORITY[host.name], advert_int=f"{advert_int:g}",
               addresses=addresses(inst, vip_name), iface=iface, notify=paths.conf(host.name, "keepalived-notify.sh"))
        for inst, (vip_name, vrid) in VRRP_INSTANCES.items()
    ]
