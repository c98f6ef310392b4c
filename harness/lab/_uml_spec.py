"""User-Mode Linux guests, the pure part: what a guest is (``GuestSpec``), the file its init
sources and linux.uml's command line. No I/O; unit-tested in tests/unit/test_uml_unit.py."""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LabError

LINUX_UML = Path("/usr/bin/linux.uml")
UML_MODULES = Path("/usr/lib/uml/modules")
DEV_TUN = Path("/dev/net/tun")
_HERE = Path(__file__).resolve().parent / "uml"
LAUNCHER_SOURCE = _HERE / "launcher.c"
GUEST_INIT = _HERE / "guest-init.sh"

#: Kernel command-line environment for init (and so every guest program): no AVX code paths.
#: UML saves only the FXSAVE area across its traps (the launcher hides XSAVE), so the upper
#: halves of YMM/ZMM registers are not preserved. glibc 2.36 still picks AVX memcpy through the
#: "preferred" bit AVX_Fast_Unaligned_Load even with AVX2 masked: it must be masked as well
#: (without it tc printed "%s" literally and sshd failed with "incomplete message").
GUEST_CPU_ENV: dict[str, str] = {
    "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F,-AVX512VL,-AVX512BW,-AVX512DQ,-AVX2,-AVX,"
    "-FMA,-RTM,-AVX_Fast_Unaligned_Load",
    "OPENSSL_ia32cap": "~0x1000000000000000:0",
}
#: Modules init loads when present (IPVS with the usual schedulers, netem for delay faults).
DEFAULT_MODULES: tuple[str, ...] = ("ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_wlc", "ip_vs_sh", "sch_netem")
READY_MARKER = "huml-init: HUML-READY"
_IFNAMSIZ = 15
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SUN_PATH_MAX = 107


class UmlError(LabError):
    """A UML guest could not be booted, reached or stopped (names the guest and what to do)."""


# ----------------------------------------------------------------------------------------- spec


def mac_for_address(address: str) -> str:
    """A stable, locally administered MAC from an IPv4 address: 02:48:4c + its last three bytes.

    Stable on purpose: a new random MAC per boot left the host's ARP entry stale for ~22 s.
    ("HL", 48:4c, marks it as the harness lab's.)
    """
    ip = ipaddress.IPv4Address(address)
    b = ip.packed
    return "02:48:4c:%02x:%02x:%02x" % (b[1], b[2], b[3])


@dataclass(frozen=True)
class GuestSpec:
    """What one guest is: identity, network attachment, memory, and what init should start."""

    name: str
    address: str
    prefix_len: int
    tap: str
    bridge: str
    gateway: str | None = None
    mem: str = "256M"
    init_script: Path = GUEST_INIT
    env: Mapping[str, str] = field(default_factory=dict)
    ip_forward: bool = False
    sshd: bool = True
    user_script: Path | None = None
    modules: tuple[str, ...] = DEFAULT_MODULES
    mac_override: str | None = None

    def __post_init__(self) -> None:
        where = f"UML guest {self.name!r}"
        if not _NAME_RE.match(self.name):
            raise UmlError(f"{where}: name must be 1-32 of [A-Za-z0-9_.-], starting alphanumeric")
        try:
            ip = ipaddress.IPv4Address(self.address)
        except ValueError:
            raise UmlError(f"{where}: address {self.address!r} is not an IPv4 address") from None
        if not 1 <= self.prefix_len <= 32:
            raise UmlError(f"{where}: prefix_len {self.prefix_len} is not in 1..32")
        if self.gateway is not None:
            net = ipaddress.IPv4Network(f"{ip}/{self.prefix_len}", strict=False)
            try:
                gw = ipaddress.IPv4Address(self.gateway)
            except ValueError:
                raise UmlError(f"{where}: gateway {self.gateway!r} is not an IPv4 address") from None
            if gw not in net:
                raise UmlError(f"{where}: gateway {gw} is outside {net}")
        for label, ifname in (("tap", self.tap), ("bridge", self.bridge)):
            if not ifname or len(ifname) > _IFNAMSIZ or "/" in ifname or ifname.strip() != ifname:
                raise UmlError(f"{where}: {label} {ifname!r} is not a valid interface name (max 15)")
        if not re.fullmatch(r"[0-9]+[KMG]?", self.mem):
            raise UmlError(f"{where}: mem {self.mem!r} must look like 256M")
        for key in self.env:
            if not _ENV_RE.match(key):
                raise UmlError(f"{where}: env key {key!r} is not a shell variable name")
        for m in self.modules:
            if not re.fullmatch(r"[A-Za-z0-9_-]+", m):
                raise UmlError(f"{where}: module name {m!r} is not valid")

    @property
    def mac(self) -> str:
        return self.mac_override or mac_for_address(self.address)


def guest_config(spec: GuestSpec, ssh_dir: Path | None) -> str:
    """The shell file init sources (HUML_CONF): every value quoted, so nothing is interpreted."""
    values: dict[str, str] = {
        "HUML_HOSTNAME": spec.name,
        "HUML_IFACE": "vec0",  # the UML vector driver's name for vec0:..., seen inside the guest
        "HUML_ADDRESS": spec.address,
        "HUML_PREFIX": str(spec.prefix_len),
        "HUML_GATEWAY": spec.gateway or "",
        "HUML_FORWARD": "1" if spec.ip_forward else "0",
        "HUML_MODULES": " ".join(spec.modules),
        "HUML_SSHD": "1" if spec.sshd and ssh_dir is not None else "0",
        "HUML_SSH_DIR": str(ssh_dir) if ssh_dir is not None else "",
        "HUML_USER_SCRIPT": str(spec.user_script) if spec.user_script else "",
    }
    lines = ["# written by harness.lab._uml; sourced by guest-init.sh"]
    lines += [f"{k}={shlex.quote(v)}" for k, v in values.items()]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in spec.env.items()]
    return "\n".join(lines) + "\n"


def kernel_command_line(spec: GuestSpec, *, conf_path: Path, uml_dir: Path) -> list[str]:
    """linux.uml's arguments (docs/uml.md explains each one).

    Unknown ``NAME=value`` words (HUML_CONF and the CPU settings) are handed to init as
    environment by the kernel; they must contain no spaces.
    """
    args = [
        f"umid={spec.name}",
        f"uml_dir={uml_dir}",
        f"mem={spec.mem}",
        "root=/dev/root",
        "rootfstype=hostfs",
        "rootflags=/",
        "ro",
        f"init={spec.init_script}",
        # console 0 on stdin/stdout (the log file); no other consoles or serial lines, which
        # would otherwise try to start xterms.
        "con=null",
        "ssl=null",
        "con0=fd:0,fd:1",
        f"vec0:transport=tap,ifname={spec.tap},mac={spec.mac}",
        f"HUML_CONF={conf_path}",
    ]
    args += [f"{k}={v}" for k, v in GUEST_CPU_ENV.items()]
    for a in args:
        if any(c.isspace() for c in a):
            raise UmlError(f"UML guest {spec.name!r}: kernel argument {a!r} contains whitespace")
    return args
