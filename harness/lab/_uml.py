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

Split by concern: ``_uml_spec`` (GuestSpec, config, kernel command line: pure), ``_uml_net``
(tap, mconsole, ping), ``_uml_proc`` (process groups from /proc); this module checks the
machine, builds the launcher, boots and drives a ``Guest``, and re-exports the others' names.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..transport.base import CommandResult
from ._procfs import read_stat
from ._uml_net import _checksum, create_tap, icmp_ping, ip, link_exists, mconsole, remove_tap, tap_is_free, tcp_answers
from ._uml_proc import group_members, pss_kib, same_mm, status_kib, tracer_pid
from ._uml_spec import (
    DEFAULT_MODULES,
    DEV_TUN,
    GUEST_CPU_ENV,
    GUEST_INIT,
    LAUNCHER_SOURCE,
    LINUX_UML,
    READY_MARKER,
    SUN_PATH_MAX,
    UML_MODULES,
    GuestSpec,
    UmlError,
    guest_config,
    kernel_command_line,
    mac_for_address,
)

__all__ = [
    "DEFAULT_MODULES", "DEV_TUN", "GUEST_CPU_ENV", "GUEST_INIT", "LAUNCHER_SOURCE", "LINUX_UML", "READY_MARKER",
    "UML_MODULES", "Guest", "GuestSpec", "UmlError", "boot_guest", "build_launcher", "create_tap", "group_members",
    "guest_config", "icmp_ping", "ip", "kernel_command_line", "link_exists", "mac_for_address", "mconsole",
    "remove_tap", "tap_is_free", "tcp_answers", "uml_available", "_checksum",
]


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
        st = read_stat(self.pid)
        return st is not None and st.alive and st.starttime == self.start_ticks

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
        return [p for p in group_members(self.pgid) if tracer_pid(p) == 0]

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
            free = not alive and (not link_exists(self.spec.tap) or tap_is_free(self.spec.tap))
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
            naive += status_kib(pid, "VmRSS")
            if not any(same_mm(pid, other) for other in distinct):
                distinct.append(pid)
        return {
            "rss": sum(status_kib(p, "VmRSS") for p in distinct),
            "pss": sum(pss_kib(p) for p in distinct),
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
    if len(str(mconsole_path)) > SUN_PATH_MAX:
        raise UmlError(f"state dir {state} is too long: {mconsole_path} exceeds a socket path's 107 bytes")
    for hidden in ("/run", "/proc", "/sys", "/dev"):
        if str(state) == hidden or str(state).startswith(hidden + "/"):
            raise UmlError(f"state dir {state} is under {hidden}, which the guest replaces: use another")
    if (uml_dir / spec.name / "pid").exists():
        old = (uml_dir / spec.name / "pid").read_text().strip()
        if old.isdigit() and read_stat(int(old)) is not None and Path(f"/proc/{old}/exe").exists():
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
    st = read_stat(proc.pid)
    guest = Guest(
        spec=spec, state_dir=state, pid=proc.pid, pgid=proc.pid,
        start_ticks=st.starttime if st else 0, started_at=time.time(), launched_monotonic=t0,
        console_log=console_log, mconsole_path=mconsole_path,
        ssh_key=client_key, known_hosts=known_hosts, _proc=proc,
    )  # fmt: skip
    guest.save()
    return guest
