"""harness.transport.supervisor: which addresses are the machine the harness runs on."""

from __future__ import annotations

import socket
import subprocess
from typing import Any

import pytest

from harness.errors import TransportError
from harness.transport import supervisor
from harness.transport.supervisor import discover, identity_from, supervisor_reason

#: ``ip -j addr show`` of a supervisor with the lab up (trimmed): lo, eth0, the lab bridge
IP_J_ADDR = """[{"ifindex":1,"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8},
{"family":"inet6","local":"::1","prefixlen":128}]},
{"ifindex":2,"ifname":"eth0","addr_info":[{"family":"inet","local":"192.0.2.2","prefixlen":24},
{"family":"inet6","local":"fd00::2","prefixlen":64},{"family":"inet6","local":"fe80::fc:ff:fe00:1","prefixlen":64}]},
{"ifindex":7,"ifname":"hlab0","addr_info":[{"family":"inet","local":"198.18.0.1","prefixlen":24}]},
{"ifindex":9,"ifname":"veth-web1","addr_info":[]}]"""


def test_identity_normalises_addresses_and_hostname() -> None:
    ident = identity_from({"FD00:0:0::2", "::ffff:192.0.2.9", "fe80::1%eth0", "not-an-ip"}, "Box.Example.")
    assert ident.addresses == {"fd00::2", "192.0.2.9", "fe80::1"}
    assert ident.hostname == "box.example"


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("192.0.2.2", "an address of this machine's own interfaces"),
        ("fd00:0::2", "an address of this machine's own interfaces"),
        ("[fd00::2]", "an address of this machine's own interfaces"),
        ("198.18.0.1", "an address of this machine's own interfaces"),  # the lab gateway (the lab's supervisor host)
        ("198.18.0.21", None),  # a lab host: its own namespace
        ("192.0.2.3", None),
        ("::", "the unspecified address (it reaches this machine)"),
        ("ip6-localhost", "a name of the loopback"),
        ("box", "this machine's hostname"),
        ("box.example", "this machine's hostname"),
        ("box.other", None),
        ("web1", None),
        ("", None),
    ],
)
def test_supervisor_reason(address: str, expected: str | None) -> None:
    ident = identity_from({"127.0.0.1", "::1", "192.0.2.2", "fd00::2", "198.18.0.1"}, "box.example")
    assert supervisor_reason(address, ident) == expected


def test_discover_parses_ip_j_addr(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []

    def fake_run(argv: Any, **kw: Any) -> subprocess.CompletedProcess[str]:
        seen.append((argv, kw.get("timeout")))
        return subprocess.CompletedProcess(argv, 0, IP_J_ADDR, "")

    monkeypatch.setattr(supervisor.subprocess, "run", fake_run)
    monkeypatch.setattr(supervisor.socket, "gethostname", lambda: "sup")
    ident = discover()
    assert ident.addresses == {"127.0.0.1", "::1", "192.0.2.2", "fd00::2", "fe80::fc:ff:fe00:1", "198.18.0.1"}
    assert ident.hostname == "sup"
    assert seen == [(("ip", "-j", "addr", "show"), 5.0)]  # a finite timeout


@pytest.mark.parametrize(
    ("result", "message"),
    [
        (FileNotFoundError(2, "No such file or directory: 'ip'"), r"cannot list this machine's addresses \(ip -j addr show\)"),
        (subprocess.CompletedProcess([], 1, "", "RTNETLINK answers: boom"), r"ip -j addr show exited 1: RTNETLINK answers: boom"),
        (subprocess.CompletedProcess([], 0, "{oops", ""), r"cannot list this machine's addresses: .*not JSON"),
    ],
)
def test_discover_fails_with_one_error(monkeypatch: pytest.MonkeyPatch, result: Any, message: str) -> None:
    def fake_run(argv: Any, **kw: Any) -> Any:
        if isinstance(result, Exception):
            raise result
        return result

    monkeypatch.setattr(supervisor.subprocess, "run", fake_run)
    with pytest.raises(TransportError, match=message):
        discover()


def test_discover_on_this_machine_finds_the_loopback_and_the_hostname() -> None:
    ident = discover()
    assert "127.0.0.1" in ident.addresses
    assert ident.hostname == socket.gethostname().lower()
    assert supervisor_reason(socket.gethostname(), ident) == "this machine's hostname"
