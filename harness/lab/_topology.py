"""The lab's hosts, addresses, roles and object names, all derived from (name, subnet).

Pure: nothing here touches the machine, so the unit tests check every derivation. Every name
the lab creates carries the lab's own prefix, so `down` can sweep exactly its own objects.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from ..errors import LabError

#: host name -> (last-octet offset in the subnet, roles); order is the start order
HOST_LAYOUT: dict[str, tuple[int, tuple[str, ...]]] = {
    "client": (5, ("client",)),
    "db1": (31, ("db",)),
    "db2": (32, ("db",)),
    "db3": (33, ("db",)),
    "web1": (21, ("web",)),
    "web2": (22, ("web",)),
    "web3": (23, ("web",)),
    "dir1": (11, ("director",)),
    "dir2": (12, ("director",)),
}
#: the optional file tier's hosts (``file_tier="gluster"``): two data bricks and an arbiter,
#: started after the db tier and before the web tier would use them
FILE_TIER_LAYOUT: dict[str, tuple[int, tuple[str, ...]]] = {
    "fs1": (41, ("fileserver",)),
    "fs2": (42, ("fileserver",)),
    "fs3": (43, ("fileserver",)),
}
#: ``none``: no file servers (the default: every lab before issue 12); ``gluster``: GlusterFS
#: replica 3 arbiter 1 on fs1-fs3, mounted by every web node (harness.lab._gluster)
FILE_TIERS = ("none", "gluster")
#: the optional auth tier's hosts (``auth_tier="openldap"``): two OpenLDAP providers
#: replicating each other (harness.lab._ldap)
AUTH_TIER_LAYOUT: dict[str, tuple[int, tuple[str, ...]]] = {
    "ldap1": (51, ("ldap",)),
    "ldap2": (52, ("ldap",)),
}
#: ``none``: no directory servers (the default); ``openldap``: slapd multi-provider on ldap1, ldap2
AUTH_TIERS = ("none", "openldap")
BRIDGE_OFFSET = 1
VIP_OFFSETS = {"web": 100, "db": 101}
#: the auth tier's VIP (``auth_tier="openldap"``): the directors front ldap1 and ldap2 on it;
#: next to the others, used by nothing else in the subnet
AUTH_TIER_VIP_OFFSETS = {"ldap": 102}
#: VIPs that ride in another VIP's VRRP instance: the LDAP VIP moves with the web VIP (its
#: one client is the LMS behind it; one instance less to settle, watch and judge)
VRRP_COMPANIONS = {"VI_WEB": ("ldap",)}
#: VRRP instances: name -> (VIP name, virtual router id)
VRRP_INSTANCES = {"VI_WEB": ("web", 51), "VI_DB": ("db", 52)}
DIRECTOR_PRIORITY = {"dir1": 150, "dir2": 100}
#: what the directors are: HAProxy in namespaces, or LVS/IPVS in User-Mode Linux guests
DIRECTOR_KINDS = ("lvs", "haproxy", "auto")

_NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,5}$")


@dataclass(frozen=True)
class LabHost:
    name: str
    address: str
    roles: tuple[str, ...]
    netns: str  # network namespace name (ip netns)
    veth: str  # root-side end of the veth pair (the host side is always eth0)
    mac: str  # fixed MAC of the host's eth0: a random one per boot leaves stale ARP entries
    tap: str = ""  # tap device of the host when it is a UML guest (LVS directors)

    def has_role(self, role: str) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class Topology:
    lab_name: str
    subnet: str
    prefixlen: int
    bridge: str
    bridge_address: str
    hosts: dict[str, LabHost]
    vips: dict[str, str]  # "web"/"db" (and "ldap" with the auth tier) -> address
    file_tier: str = "none"  # one of FILE_TIERS
    auth_tier: str = "none"  # one of AUTH_TIERS

    def host(self, name: str) -> LabHost:
        try:
            return self.hosts[name]
        except KeyError:
            raise LabError(
                f"lab {self.lab_name!r} has no host {name!r} (hosts: {', '.join(self.hosts)})"
            ) from None

    def with_role(self, role: str) -> list[LabHost]:
        return [h for h in self.hosts.values() if role in h.roles]

    @property
    def netns_prefix(self) -> str:
        return "hlab-" if self.lab_name == "default" else f"hlab-{self.lab_name}-"

    def mysql_host_pattern(self) -> str:
        """MariaDB account host matching every lab address: 'net/mask' works for any prefix."""
        net = ipaddress.IPv4Network(self.subnet)
        return f"{net.network_address}/{net.netmask}"


def bridge_name(lab_name: str) -> str:
    """`hlab0` for the default lab, `hlab-<name>` otherwise (at most 11 characters)."""
    return "hlab0" if lab_name == "default" else f"hlab-{lab_name}"


def validate_name(lab_name: str) -> None:
    if lab_name != "default" and not _NAME_RE.match(lab_name):
        raise LabError(
            f"lab name {lab_name!r}: use 'default' or 1-6 lowercase letters/digits starting with a "
            "letter (it becomes part of interface names, which are limited to 15 characters)"
        )


def build_topology(lab_name: str = "default", subnet: str = "198.18.0.0/24", file_tier: str = "none",
                   auth_tier: str = "none") -> Topology:
    """Derive every address and object name of a lab; LabError names the bad argument.

    ``file_tier`` ``gluster`` adds the file servers fs1-fs3 (``FILE_TIER_LAYOUT``);
    ``auth_tier`` ``openldap`` the directory servers ldap1, ldap2 (``AUTH_TIER_LAYOUT``)."""
    validate_name(lab_name)
    if file_tier not in FILE_TIERS:
        raise LabError(f"file_tier {file_tier!r}: use one of {', '.join(FILE_TIERS)}")
    if auth_tier not in AUTH_TIERS:
        raise LabError(f"auth_tier {auth_tier!r}: use one of {', '.join(AUTH_TIERS)}")
    try:
        net = ipaddress.IPv4Network(subnet, strict=True)
    except ValueError as exc:
        raise LabError(f"subnet {subnet!r}: not an IPv4 network in CIDR form ({exc})") from None
    if net.num_addresses < 128:
        raise LabError(
            f"subnet {subnet!r}: too small; the lab uses offsets up to .{max(VIP_OFFSETS.values())}, "
            "so give a /25 or larger (e.g. 198.18.0.0/24)"
        )
    if net.num_addresses > 65536:
        raise LabError(f"subnet {subnet!r}: too large; use a /16 to /25 reserved for the lab")
    bridge = bridge_name(lab_name)
    prefix = "hlab-" if lab_name == "default" else f"hlab-{lab_name}-"
    hosts: dict[str, LabHost] = {}
    layout = dict(HOST_LAYOUT)
    if file_tier != "none":
        layout.update(FILE_TIER_LAYOUT)
    if auth_tier != "none":
        layout.update(AUTH_TIER_LAYOUT)
    for name, (offset, roles) in layout.items():
        addr = net.network_address + offset
        octets = str(addr).split(".")
        hosts[name] = LabHost(
            name=name,
            address=str(addr),
            roles=roles,
            netns=f"{prefix}{name}",
            veth=f"{bridge}h{offset}",
            mac="02:48:4c:{:02x}:{:02x}:{:02x}".format(int(octets[1]), int(octets[2]), int(octets[3])),
            tap=f"{bridge}u{offset}",
        )
    return Topology(
        lab_name=lab_name,
        subnet=str(net),
        prefixlen=net.prefixlen,
        bridge=bridge,
        bridge_address=str(net.network_address + BRIDGE_OFFSET),
        hosts=hosts,
        vips={k: str(net.network_address + off) for k, off in
              {**VIP_OFFSETS, **(AUTH_TIER_VIP_OFFSETS if auth_tier != "none" else {})}.items()},
        file_tier=file_tier,
        auth_tier=auth_tier,
    )
