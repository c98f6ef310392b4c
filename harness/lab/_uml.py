"""User-Mode Linux guests on a lab bridge: the building block for real LVS/IPVS directors.

Why UML: the lab host's kernel has no ip_vs and no netem, and cannot load modules; a UML guest is
a Linux kernel of its own (Debian's 6.1, with ip_vs and netem as modules) run as an ordinary
process, whose root file system is the host's / seen through hostfs. See docs/uml.md.

The pieces, in the order a guest's life uses them:
- ``uml_available()``: None when this machine can run guests, else a one-line reason.
- ``build_launcher(state_dir)``: compiles ``uml/launcher.c``, which starts linux.uml under a
  seccomp filter that hides the XSAVE regset (the stock kernel panics on AVX-512 hosts without it).
- ``boot_guest(spec, state_dir)``: tap into the bridge, linux.uml in its own process group,
  console to ``<state>/guests/<name>/console.log``; returns a ``Guest``.
- ``Guest``: ``wait_ready``, ``run`` (over SSH), ``pause``/``unpause``, ``shutdown``,
  ``destroy``, ``is_running``, ``rss_kib``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import ipaddress
import json
import os
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LabError
from ..transport.base import CommandResult

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
_SUN_PATH_MAX = 107


class UmlError(LabError):
    """A UML guest could not be booted, reached or stopped (names the guest and what to do)."""


# --------------------------------------------------------------------------------------- checks


def uml_available(
    *,
    linux: Path = LINUX_UML,
    modules_root: Path = UML_MODULES,
    tun: Path = DEV_TUN,
    which: Callable[[str], str | None] = shutil.which,
    euid: int | None = None,
    kernel_version: Callable[[Path], str | None] | None = None,
) -> str | None:
    """None when UML guests can run here, else one line saying what is missing and how to fix it.

    The keyword arguments exist for tests; callers use the defaults.
    """
    if (os.geteuid() if euid is None else euid) != 0:
        return "UML guests need root (tap devices, bridge ports)"
    if not (linux.is_file() and os.access(linux, os.X_OK)):
        return f"no {linux}: apt-get install user-mode-linux"
    version = (kernel_version or _uml_kernel_version)(linux)
    if not version:
        return f"{linux} --version printed no kernel version"
    if not (modules_root / version / "modules.dep").is_file():
        return f"no UML modules dir {modules_root / version} (user-mode-linux package incomplete?)"
    if not tun.exists():
        return f"no {tun}: the host kernel needs TUN/TAP"
    for tool, package in (("gcc", "gcc"), ("ip", "iproute2"), ("modprobe", "kmod")):
        if which(tool) is None:
            return f"{tool} missing: apt-get install {package}"
    return None


def _uml_kernel_version(linux: Path) -> str | None:
    """The guest kernel's release, which names its module directory (``linux.uml --version``)."""
    try:
        out = subprocess.run([str(linux), "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    line = out.stdout.strip().splitlines()
    return line[0].strip() if out.returncode == 0 and line else None


# ------------------------------------------------------------------------------------- launcher


def build_launcher(state_dir: Path | str) -> Path:
    """Compile launcher.c into ``state_dir/uml-launcher`` unless an up-to-date binary is there.

    Built per state dir (not shipped) because it is a dozen lines and the host's gcc and kernel
    headers are the ones that match. Written to a temporary name and renamed, so two callers
    racing never run a half-written binary.
    """
    state = Path(state_dir)
    state.mkdir(parents=True, exist_ok=True)
    out = state / "uml-launcher"
    if out.exists() and out.stat().st_mtime >= LAUNCHER_SOURCE.stat().st_mtime:
        return out
    gcc = shutil.which("gcc")
    if gcc is None:
        raise UmlError(
            "gcc not found: it builds the UML seccomp launcher "
            "(apt-get install -y --no-install-recommends gcc libc6-dev)"
        )
    tmp = state / f".uml-launcher.{os.getpid()}"
    cmd = [gcc, "-O2", "-Wall", "-Wextra", "-o", str(tmp), str(LAUNCHER_SOURCE)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if res.returncode != 0:
        tmp.unlink(missing_ok=True)
        tail = "\n    ".join(res.stderr.strip().splitlines()[-8:])
        raise UmlError(f"building {LAUNCHER_SOURCE.name} failed ({shlex.join(cmd)}):\n    {tail}")
    os.replace(tmp, out)
    return out


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


# -------------------------------------------------------------------------------- host network


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)
    if check and res.returncode != 0:
        raise UmlError(f"command 'ip {' '.join(args)}' exited {res.returncode}: {res.stderr.strip()}")
    return res


def _link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def create_tap(tap: str, bridge: str) -> None:
    """A persistent tap in ``bridge``, up; reused if it exists (a second boot on the same tap)."""
    if not _link_exists(bridge):
        raise UmlError(f"bridge {bridge!r} does not exist: create it before booting guests")
    if _link_exists(tap):
        if not Path("/sys/class/net", tap, "tun_flags").exists():
            raise UmlError(f"interface {tap!r} exists and is not a tap")
    else:
        _ip("tuntap", "add", tap, "mode", "tap")
    _ip("link", "set", tap, "master", bridge)
    _ip("link", "set", tap, "up")


def remove_tap(tap: str) -> None:
    """Delete a tap (idempotent). Its guest must be gone first: a held tap cannot be deleted."""
    if _link_exists(tap):
        _ip("tuntap", "del", tap, "mode", "tap")


_TUNSETIFF = 0x400454CA
_IFF_TAP = 0x0002
_IFF_NO_PI = 0x1000


def tap_is_free(tap: str) -> bool:
    """True when no process holds ``tap``: attaching to it succeeds (EBUSY while a guest has it).

    The same test the next boot makes, so "free" means exactly "a new guest can open it".
    """
    try:
        fd = os.open(DEV_TUN, os.O_RDWR)
    except OSError as exc:
        raise UmlError(f"cannot open {DEV_TUN}: {exc}") from exc
    try:
        ifr = struct.pack("16sH22x", tap.encode(), _IFF_TAP | _IFF_NO_PI)
        fcntl.ioctl(fd, _TUNSETIFF, ifr)
        return True
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            return False
        raise UmlError(f"tap {tap!r}: TUNSETIFF failed: {exc}") from exc
    finally:
        os.close(fd)


# ------------------------------------------------------------------------------ process groups


def _read_stat(pid: int) -> tuple[str, int, int, int] | None:
    """(state, ppid, pgid, starttime) from /proc/PID/stat, or None if the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = raw[raw.rindex(")") + 2 :].split()  # comm may contain spaces and parentheses
    return rest[0], int(rest[1]), int(rest[2]), int(rest[19])


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) PIDs of process group ``pgid``."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        st = _read_stat(int(entry.name))
        if st and st[2] == pgid and st[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return sorted(members)


def _tracer_pid(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("TracerPid:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


_SYS_KCMP = 312  # x86-64
_KCMP_VM = 1


def _same_mm(pid1: int, pid2: int) -> bool:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(_SYS_KCMP, pid1, pid2, _KCMP_VM, 0, 0) == 0


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# ------------------------------------------------------------------------------------ mconsole

_MCONSOLE_MAGIC = 0xCAFEBABE
_MCONSOLE_VERSION = 2


def mconsole(socket_path: Path, command: str, timeout: float = 3.0) -> str:
    """Send one command to a guest's management console (what ``uml_mconsole`` does).

    The protocol is a datagram ``{u32 magic, u32 version, u32 len, char data[512]}`` answered
    by ``{u32 err, u32 more, u32 len, char data[512]}``; done here so uml-utilities is optional.
    The reply socket is abstract (no file to clean up).
    """
    data = command.encode()
    if len(data) >= 512:
        raise UmlError(f"mconsole command too long: {command[:40]!r}...")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.bind(f"\0huml-mconsole-{os.getpid()}-{time.monotonic_ns()}")
        s.settimeout(timeout)
        s.sendto(struct.pack("<III", _MCONSOLE_MAGIC, _MCONSOLE_VERSION, len(data)) + data.ljust(512, b"\0"),
                 str(socket_path))
        parts = []
        while True:
            reply = s.recv(12 + 512)
            err, more, length = struct.unpack("<III", reply[:12])
            parts.append(reply[12 : 12 + length].decode(errors="replace"))
            if err:
                raise UmlError(f"mconsole {socket_path}: {command!r} failed: {''.join(parts).strip()}")
            if not more:
                return "".join(parts)
    except OSError as exc:
        raise UmlError(f"mconsole {socket_path}: {command!r}: {exc}") from exc
    finally:
        s.close()


# ----------------------------------------------------------------------------------------- ping


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def icmp_ping(address: str, timeout: float = 1.0) -> bool:
    """One ICMP echo over a raw socket (root): True if ``address`` answered within ``timeout``.

    Here because the host may have no ``ping`` binary (iputils-ping is not installed by default).
    """
    ident = os.getpid() & 0xFFFF
    seq = time.monotonic_ns() & 0xFFFF
    header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    payload = b"huml-ping"
    packet = struct.pack("!BBHHH", 8, 0, _checksum(header + payload), ident, seq) + payload
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as s:
        s.sendto(packet, (address, 0))
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            s.settimeout(left)
            try:
                data, (src, _) = s.recvfrom(2048)
            except (socket.timeout, TimeoutError):
                return False
            ihl = (data[0] & 0x0F) * 4
            typ, _, _, rid, rseq = struct.unpack("!BBHHH", data[ihl : ihl + 8])
            if src == address and typ == 0 and rid == ident and rseq == seq:
                return True
    return False


def tcp_answers(address: str, port: int, timeout: float = 1.0) -> bool:
    """True if a TCP connect to address:port completes (the guest kernel and the daemon are up)."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


# ---------------------------------------------------------------------------------------- guest


@dataclass
class Guest:
    """A booted UML guest. Holds what is needed to find it again: pid, pgid and start time."""

    spec: GuestSpec
    state_dir: Path
    pid: int
    pgid: int
    start_ticks: int
    started_at: float  # time.time() of the launch, for logs
    launched_monotonic: float
    console_log: Path
    mconsole_path: Path
    ssh_key: Path | None = None
    known_hosts: Path | None = None
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    # ---- state

    @property
    def guest_dir(self) -> Path:
        return self.state_dir / "guests" / self.spec.name

    def is_running(self) -> bool:
        """True while linux.uml (the same process: pid and start time match) has not exited."""
        if self._proc is not None and self._proc.poll() is not None:
            return False
        st = _read_stat(self.pid)
        return st is not None and st[0] not in ("Z", "X") and st[3] == self.start_ticks

    def members(self) -> list[int]:
        """Live processes of the guest's group (linux.uml, its helpers, one stub per guest mm)."""
        return group_members(self.pgid)

    def _group_alive(self) -> bool:
        return bool(group_members(self.pgid))

    def console_tail(self, lines: int = 15) -> str:
        try:
            text = self.console_log.read_text(errors="replace")
        except OSError:
            return "(no console log)"
        return "\n    ".join(text.strip().splitlines()[-lines:])

    # ---- readiness

    def answers(self, timeout: float = 1.0) -> bool:
        """One probe: TCP port 22 when sshd runs, else ICMP echo."""
        if self.spec.sshd:
            return tcp_answers(self.spec.address, 22, timeout)
        return icmp_ping(self.spec.address, timeout)

    def wait_ready(self, timeout: float = 30.0) -> float:
        """Wait until init printed its ready marker and the guest answers; return seconds since launch.

        Polls (50 ms steps) and fails early with the console tail if linux.uml exits.
        """
        deadline = time.monotonic() + timeout
        marker_seen = False
        while time.monotonic() < deadline:
            if not self.is_running():
                raise UmlError(f"UML guest {self.spec.name!r} exited while booting:\n    {self.console_tail()}")
            if not marker_seen:
                with contextlib.suppress(OSError):
                    marker_seen = READY_MARKER in self.console_log.read_text(errors="replace")
            if marker_seen and self.answers(timeout=min(0.5, max(0.05, deadline - time.monotonic()))):
                return time.monotonic() - self.launched_monotonic
            time.sleep(0.05)
        what = "does not answer" if marker_seen else "init never printed its ready marker"
        raise UmlError(
            f"UML guest {self.spec.name!r} ({self.spec.address}) not ready after {timeout:.0f} s: "
            f"{what}:\n    {self.console_tail()}"
        )

    # ---- commands

    def ssh_argv(self, command: str | Sequence[str]) -> list[str]:
        """argv for the host's ssh client running ``command`` in the guest as root."""
        if self.ssh_key is None or self.known_hosts is None or not self.spec.sshd:
            raise UmlError(f"UML guest {self.spec.name!r} was booted without sshd")
        line = command if isinstance(command, str) else shlex.join(command)
        return [
            "ssh", "-i", str(self.ssh_key),
            "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR",
            f"root@{self.spec.address}", line,
        ]  # fmt: skip

    def run(self, command: str | Sequence[str], timeout: float = 30.0) -> CommandResult:
        """Run a command in the guest over SSH; raises UmlError only if it could not be run.

        ssh exits 255 for its own failures (refused, timed out, host key): those become errors,
        any other status is the command's and is returned.
        """
        argv = self.ssh_argv(command)
        t0 = time.monotonic()
        try:
            res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise UmlError(f"UML guest {self.spec.name!r}: {argv[-1]!r} timed out after {timeout} s") from exc
        if res.returncode == 255:
            raise UmlError(f"UML guest {self.spec.name!r}: ssh failed: {res.stderr.strip()}")
        return CommandResult(self.spec.name, argv[-1], res.returncode, res.stdout, res.stderr, time.monotonic() - t0)

    # ---- faults and lifecycle

    def _kernel_side(self) -> list[int]:
        """Members not ptraced by UML: linux.uml and its helper processes.

        The others are stubs running guest programs under ptrace; a SIGSTOP/SIGCONT reaching
        them is reported to UML as an unexpected signal and kills the guest program (init too:
        a kernel panic). Measured: stopping the whole group panicked the guest on SIGCONT.
        """
        return [p for p in group_members(self.pgid) if _tracer_pid(p) == 0]

    def pause(self) -> None:
        """Freeze the guest (like ``xl pause``): SIGSTOP the kernel side of its process group.

        Guest programs stop at their next trap into the (stopped) kernel; timers stop with it.
        """
        if not self.is_running():
            raise UmlError(f"UML guest {self.spec.name!r} is not running: cannot pause")
        for pid in self._kernel_side():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def unpause(self) -> None:
        """Resume a paused guest (SIGCONT to the same processes ``pause`` stopped)."""
        for pid in self._kernel_side():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def destroy(self, timeout: float = 10.0) -> float:
        """Pull the power cord: SIGKILL the whole process group, wait until the tap is free.

        Killing only the main PID leaves helpers holding the tap and the next boot fails.
        Idempotent. Returns the seconds it took.
        """
        t0 = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, signal.SIGKILL)
        self._wait_gone(t0 + timeout)
        shutil.rmtree(self.state_dir / "uml" / self.spec.name, ignore_errors=True)  # stale umid dir
        return time.monotonic() - t0

    def _wait_gone(self, deadline: float) -> None:
        while True:
            if self._proc is not None:
                self._proc.poll()  # reap our child, else it lingers as a zombie
            alive = self._group_alive()
            free = not alive and (not _link_exists(self.spec.tap) or tap_is_free(self.spec.tap))
            if free:
                return
            if time.monotonic() >= deadline:
                state = f"processes {group_members(self.pgid)} still alive" if alive else "tap still busy"
                raise UmlError(f"UML guest {self.spec.name!r}: {state} (tap {self.spec.tap})")
            if alive:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pgid, signal.SIGKILL)
            time.sleep(0.02)

    def shutdown(self, timeout: float = 15.0) -> str:
        """Halt cleanly, falling back to ``destroy`` after ``timeout``. Returns how it ended.

        First choice: mconsole ``cad`` (init has ctrl-alt-del mapped to SIGINT: it stops every
        process, syncs and halts). Without a reachable mconsole: SIGTERM to linux.uml, which
        makes UML exit at once (its own cleanup, not the guest's: no init, no daemons told).
        A paused guest is resumed first, or it could not hear either.
        """
        if not self.is_running():
            self.destroy()
            return "not running"
        self.unpause()
        deadline = time.monotonic() + timeout
        how = "mconsole cad"
        try:
            mconsole(self.mconsole_path, "cad", timeout=min(3.0, timeout))
        except UmlError:
            how = "SIGTERM"
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
        while time.monotonic() < deadline:
            if not self.is_running():
                self._wait_gone(time.monotonic() + 5.0)
                shutil.rmtree(self.state_dir / "uml" / self.spec.name, ignore_errors=True)
                return how
            time.sleep(0.05)
        self.destroy()
        return f"{how} timed out after {timeout:.0f} s: destroyed"

    def rss_kib(self) -> dict[str, int]:
        """Memory of the guest's processes, counting each address space once.

        UML's helpers share linux.uml's memory (CLONE_VM): a plain sum of VmRSS over the group
        would count it several times. ``rss`` sums VmRSS over distinct address spaces (kcmp),
        ``pss`` sums their proportional set size, ``rss_naive`` is the plain sum.
        """
        distinct: list[int] = []
        naive = 0
        for pid in group_members(self.pgid):
            naive += _status_kib(pid, "VmRSS")
            if not any(_same_mm(pid, other) for other in distinct):
                distinct.append(pid)
        return {
            "rss": sum(_status_kib(p, "VmRSS") for p in distinct),
            "pss": sum(_pss_kib(p) for p in distinct),
            "rss_naive": naive,
            "processes": len(group_members(self.pgid)),
            "address_spaces": len(distinct),
        }

    # ---- persistence (a later CLI call may act on a guest another process booted)

    def save(self) -> Path:
        path = self.guest_dir / "guest.json"
        data = {
            "name": self.spec.name, "address": self.spec.address, "prefix_len": self.spec.prefix_len,
            "tap": self.spec.tap, "bridge": self.spec.bridge, "gateway": self.spec.gateway,
            "mem": self.spec.mem, "sshd": self.spec.sshd, "pid": self.pid, "pgid": self.pgid,
            "start_ticks": self.start_ticks, "started_at": self.started_at,
        }  # fmt: skip
        path.write_text(json.dumps(data, indent=2) + "\n")
        return path

    @classmethod
    def load(cls, state_dir: Path | str, name: str) -> Guest:
        """The guest ``name`` recorded in ``state_dir`` (its process may have exited since)."""
        state = Path(state_dir)
        path = state / "guests" / name / "guest.json"
        try:
            d = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise UmlError(f"{path}: cannot read guest record: {exc}") from exc
        spec = GuestSpec(
            name=d["name"], address=d["address"], prefix_len=d["prefix_len"], tap=d["tap"],
            bridge=d["bridge"], gateway=d.get("gateway"), mem=d.get("mem", "256M"), sshd=d.get("sshd", True),
        )  # fmt: skip
        gdir = state / "guests" / name
        key = state / "ssh" / "id_ed25519"
        return cls(
            spec=spec, state_dir=state, pid=d["pid"], pgid=d["pgid"], start_ticks=d["start_ticks"],
            started_at=d["started_at"], launched_monotonic=time.monotonic(),
            console_log=gdir / "console.log", mconsole_path=state / "uml" / name / "mconsole",
            ssh_key=key if key.exists() else None,
            known_hosts=(gdir / "known_hosts") if (gdir / "known_hosts").exists() else None,
        )  # fmt: skip


# ----------------------------------------------------------------------------------------- boot


def _ssh_keygen(path: Path, comment: str) -> None:
    if path.exists():
        return
    if shutil.which("ssh-keygen") is None:
        raise UmlError("ssh-keygen missing (apt-get install openssh-client): needed for guest sshd keys")
    res = subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    if res.returncode != 0:
        raise UmlError(f"ssh-keygen for {path} failed: {res.stderr.strip()}")


def _prepare_ssh(spec: GuestSpec, state: Path, gdir: Path) -> tuple[Path, Path, Path]:
    """Client key (shared per state dir), per-guest host key, authorized_keys and known_hosts.

    The guest reads its ssh/ directory through hostfs; known_hosts pins its host key, so the
    harness never needs to turn host key checking off.
    """
    (state / "ssh").mkdir(mode=0o700, exist_ok=True)
    client_key = state / "ssh" / "id_ed25519"
    _ssh_keygen(client_key, "harness-lab")
    ssh_dir = gdir / "ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    _ssh_keygen(ssh_dir / "host_key", spec.name)
    shutil.copyfile(client_key.with_suffix(".pub"), ssh_dir / "authorized_keys")
    host_pub = (ssh_dir / "host_key.pub").read_text().split()
    known_hosts = gdir / "known_hosts"
    known_hosts.write_text(f"{spec.address} {host_pub[0]} {host_pub[1]}\n")
    return ssh_dir, client_key, known_hosts


def boot_guest(spec: GuestSpec, state_dir: Path | str, *, linux: Path = LINUX_UML) -> Guest:
    """Start ``spec`` as a UML guest and return at once (``Guest.wait_ready`` waits for it).

    linux.uml runs through the seccomp launcher, in its own session and process group (setsid:
    one ``kill -- -PGID`` ends it and all its helpers, and nothing else), stdin /dev/null,
    console to ``guests/NAME/console.log``.
    """
    reason = uml_available(linux=linux)
    if reason:
        raise UmlError(f"UML guest {spec.name!r}: cannot boot: {reason}")
    state = Path(state_dir).resolve()
    launcher = build_launcher(state)
    gdir = state / "guests" / spec.name
    gdir.mkdir(parents=True, exist_ok=True)
    uml_dir = state / "uml"
    uml_dir.mkdir(exist_ok=True)
    mconsole_path = uml_dir / spec.name / "mconsole"
    if len(str(mconsole_path)) > _SUN_PATH_MAX:
        raise UmlError(f"state dir {state} is too long: {mconsole_path} exceeds a socket path's 107 bytes")
    for hidden in ("/run", "/proc", "/sys", "/dev"):
        if str(state) == hidden or str(state).startswith(hidden + "/"):
            raise UmlError(f"state dir {state} is under {hidden}, which the guest replaces: use another")
    if (uml_dir / spec.name / "pid").exists():
        old = (uml_dir / spec.name / "pid").read_text().strip()
        if old.isdigit() and _read_stat(int(old)) is not None and Path(f"/proc/{old}/exe").exists():
            raise UmlError(f"UML guest {spec.name!r} already runs (pid {old}): destroy it first")
        shutil.rmtree(uml_dir / spec.name, ignore_errors=True)

    ssh_dir = client_key = known_hosts = None
    if spec.sshd:
        ssh_dir, client_key, known_hosts = _prepare_ssh(spec, state, gdir)
    conf = gdir / "conf.sh"
    conf.write_text(guest_config(spec, ssh_dir))

    create_tap(spec.tap, spec.bridge)
    if not tap_is_free(spec.tap):
        raise UmlError(f"UML guest {spec.name!r}: tap {spec.tap} is held by another process")

    argv = [str(launcher), str(linux), *kernel_command_line(spec, conf_path=conf, uml_dir=uml_dir)]
    (gdir / "cmdline").write_text(shlex.join(argv) + "\n")
    console_log = gdir / "console.log"
    with open(console_log, "wb") as log, open(os.devnull, "rb") as devnull:
        t0 = time.monotonic()
        proc = subprocess.Popen(
            argv, stdin=devnull, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True, cwd=str(gdir),
        )  # fmt: skip
    st = _read_stat(proc.pid)
    guest = Guest(
        spec=spec, state_dir=state, pid=proc.pid, pgid=proc.pid,
        start_ticks=st[3] if st else 0, started_at=time.time(), launched_monotonic=t0,
        console_log=console_log, mconsole_path=mconsole_path,
        ssh_key=client_key, known_hosts=known_hosts, _proc=proc,
    )  # fmt: skip
    guest.save()
    return guest
