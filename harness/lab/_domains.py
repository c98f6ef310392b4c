"""The two kinds of lab host as domains: a set of namespaces with its own init, or a UML guest.

Which one a host is, the director strategy decides (``Directors.domain``); the shared rules of
the domain actions are ``HostDomain.act``. A guest's pause stops only its kernel side
(docs/uml.md); a namespace host is frozen whole (cgroup freezer, else SIGSTOP).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from typing import Any

from ..errors import LabError
from . import _lvs, _netns, _uml
from ._interfaces import HostDomain
from ._paths import GUEST_NOTIFY_LOG, NOTIFY_LOG
from ._services import CONFIG_FILES, DAEMONS, host_daemons
from ._state import LabState


class NamespaceHost(HostDomain):
    """A host made of network, PID, mount, UTS and IPC namespaces around its own init."""

    def state(self, state: LabState) -> str:
        if _netns.init_pid(state, self.host.name) is None:
            return "shutoff"
        return "paused" if _netns.is_frozen(state, self.host) else "running"

    def _destroy(self, state: LabState) -> None:
        _netns.set_link(self.host, False)  # first: no FIN/RST may escape the dying host
        _netns.kill_init(state, self.host)

    def _shutdown(self, state: LabState, current: str) -> str:
        if current == "paused":
            _netns.freeze(state, self.host, False)
        self.hostctl("stop", "all", 60)
        _netns.terminate_init(state, self.host)
        _netns.set_link(self.host, False)
        return ""

    def _freeze(self, state: LabState, frozen: bool) -> None:
        _netns.freeze(state, self.host, frozen)

    def _boot(self, state: LabState) -> None:
        """Power on: fresh eth0 addresses (a reboot loses a VIP), init, daemons."""
        lab, host = self.lab, self.host
        _netns.create_host_network(lab.topo, host, state)
        ns = ["ip", "-n", host.netns]
        _netns.run([*ns, "addr", "flush", "dev", "eth0"], what=host.name)
        _netns.run([*ns, "addr", "add", f"{host.address}/{lab.topo.prefixlen}", "dev", "eth0"], what=host.name)
        lab.strategy.prepare_real_server(lab, host)
        _netns.set_link(host, True)
        _netns.start_init(lab.topo, host, state, lab.paths)
        lab.say(f"{host.name}: init running; starting daemons")
        self.hostctl("start", "all", 90)
        lab.say(f"{host.name}: daemons started")

    def exec(self, argv: Sequence[str], *, timeout: float = 60.0, input: str | None = None,
             check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the host's namespaces via nsenter."""
        name = self.host.name
        pid = _netns.init_pid(self.lab.load_state(), name)
        if pid is None:
            raise LabError(f"{name}: not running (no live init recorded in {self.lab.state_dir})")
        shown = " ".join(map(str, argv))
        try:
            proc = subprocess.run(_netns.nsenter_argv(pid, [str(a) for a in argv]), capture_output=True, text=True,
                                  timeout=timeout, input=input, env=_netns.CLEAN_ENV)
        except subprocess.TimeoutExpired:
            raise LabError(f"{name}: `{shown}` did not finish in {timeout:.0f}s") from None
        if check and proc.returncode != 0:
            raise LabError(f"{name}: `{shown}` exited {proc.returncode}:\n"
                           + "\n".join("    " + ln for ln in (proc.stderr or proc.stdout).strip().splitlines()[-15:]))
        return proc

    def hostctl(self, action: str, daemon: str = "all", wait: float = 90.0) -> str:
        name = self.host.name
        proc = self.exec([str(self.lab.paths.hostctl), name, action, daemon, "--wait", f"{wait:g}"],
                         timeout=wait * 3 + 60, check=True)
        return proc.stdout.strip()

    def services(self) -> dict[str, Any]:
        hostctl, name, paths = str(self.lab.paths.hostctl), self.host.name, self.lab.paths
        services: dict[str, Any] = {}
        for daemon in host_daemons(self.host, self.lab.topo.file_tier):
            d = DAEMONS[daemon]
            svc: dict[str, Any] = {"manager": "command", "start": f"{hostctl} {name} start {daemon}",
                                   "stop": f"{hostctl} {name} stop {daemon}", "pidfile": d.pidfile,
                                   "process": d.process}
            if daemon in CONFIG_FILES:
                svc["config"] = str(paths.conf(name, CONFIG_FILES[daemon]))
            if daemon == "keepalived":  # the notify script's log, for logged takeover times
                svc["transitions"] = f"cat {paths.log(name) / NOTIFY_LOG}"
            services[daemon] = svc
        return services


class GuestHost(HostDomain):
    """An LVS director: a User-Mode Linux guest booted on the lab bridge (harness.lab._uml)."""

    def state(self, state: LabState) -> str:
        return _lvs.guest_state(self.lab.paths, self.host.name)

    def _guest(self) -> _uml.Guest:
        guest = _lvs.load_guest(self.lab.paths, self.host.name)
        if guest is None:
            raise LabError(f"{self.host.name}: no guest record in {self.lab.state_dir}/guests")
        return guest

    def _destroy(self, state: LabState) -> None:
        _lvs.destroy_guest(self.lab.paths, self.host)

    def _shutdown(self, state: LabState, current: str) -> str:
        how = self._guest().shutdown(timeout=20)  # init TERMs keepalived: it hands the VIPs over (priority 0)
        _lvs.set_paused(self.lab.paths, self.host.name, False)
        return f" ({how})"

    def _freeze(self, state: LabState, frozen: bool) -> None:
        guest = self._guest()
        if frozen:
            guest.pause()
        else:
            guest.unpause()
        _lvs.set_paused(self.lab.paths, self.host.name, frozen)

    def _boot(self, state: LabState) -> None:
        lab, name = self.lab, self.host.name
        guest = _lvs.load_guest(lab.paths, name)
        if guest is not None and _lvs.group_is_guest(guest):
            guest.destroy()  # helpers of a crashed linux.uml would hold the tap
        lab.say(f"{name}: booting the guest")
        g = _uml.boot_guest(_lvs.guest_spec(lab.topo, self.host, lab.paths), lab.state_dir)
        took = g.wait_ready(timeout=60)
        lab.say(f"{name}: guest ready in {took:.1f}s (sshd up, keepalived started)")

    def exec(self, argv: Sequence[str], *, timeout: float = 60.0, input: str | None = None,
             check: bool = False) -> subprocess.CompletedProcess[str]:
        raise LabError(f"{self.host.name}: a UML guest (LVS director) has no namespaces to enter: use Lab.ssh")

    def hostctl(self, action: str, daemon: str = "all", wait: float = 90.0) -> str:
        """The guest's own POSIX sh service control, over SSH."""
        name = self.host.name
        res = self.lab.ssh(name, f"sh {self.lab.paths.guestctl} {name} {action} {daemon}", timeout=wait + 30)
        if res.returncode != 0:
            raise LabError(f"{name}: guestctl {action} {daemon} exited {res.returncode}: "
                           f"{(res.stderr or res.stdout).strip()}")
        return res.stdout.strip()

    def services(self) -> dict[str, Any]:
        """keepalived (with IPVS) is a director guest's only service."""
        ctl, name = self.lab.paths.guestctl, self.host.name
        return {"keepalived": {
            "manager": "command", "start": f"sh {ctl} {name} start keepalived",
            "stop": f"sh {ctl} {name} stop keepalived", "pidfile": DAEMONS["keepalived"].pidfile,
            "process": "keepalived", "config": str(self.lab.paths.conf(name, "keepalived.conf")),
            # the guest's copy of its notify lines (those on its console are the host's to read)
            "transitions": f"cat {GUEST_NOTIFY_LOG}"}}
