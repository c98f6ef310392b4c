"""User-Mode Linux guests, the host's side of the wire: the guest's tap in the lab bridge, its
management console (mconsole) and whether it answers (ICMP echo, a TCP connect)."""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import struct
import subprocess
import time
from pathlib import Path

from ._uml_spec import DEV_TUN, UmlError

# -------------------------------------------------------------------------------- host network


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)
    if check and res.returncode != 0:
        raise UmlError(f"command 'ip {' '.join(args)}' exited {res.returncode}: {res.stderr.strip()}")
    return res


def link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def create_tap(tap: str, bridge: str) -> None:
    """A persistent tap in ``bridge``, up; reused if it exists (a second boot on the same tap)."""
    if not link_exists(bridge):
        raise UmlError(f"bridge {bridge!r} does not exist: create it before booting guests")
    if link_exists(tap):
        if not Path("/sys/class/net", tap, "tun_flags").exists():
            raise UmlError(f"interface {tap!r} exists and is not a tap")
    else:
        ip("tuntap", "add", tap, "mode", "tap")
    ip("link", "set", tap, "master", bridge)
    ip("link", "set", tap, "up")


def remove_tap(tap: str) -> None:
    """Delete a tap (idempotent). Its guest must be gone first: a held tap cannot be deleted."""
    if link_exists(tap):
        ip("tuntap", "del", tap, "mode", "tap")


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
