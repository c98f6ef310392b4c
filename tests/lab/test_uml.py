"""User-Mode Linux guests on a private bridge: boot, reach over SSH, IPVS and netem inside,
pause/unpause, destroy and reboot on the same tap, clean shutdown; then LVS-NAT end to end.

Uses its own bridge ``humlt0`` (198.18.200.1/24), taps and namespaces named ``humlt-*``, all
removed at teardown. Needs root and the Debian packages named by ``uml_available()``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.lab._uml import Guest, GuestSpec, boot_guest, remove_tap, tap_is_free, uml_available

_REASON = uml_available() or (None if shutil.which("ssh") else "ssh client missing: apt-get install openssh-client")
pytestmark = [pytest.mark.lab, pytest.mark.skipif(_REASON is not None, reason=_REASON or "")]

BRIDGE = "humlt0"
HOST_ADDR = "198.18.200.1"


def _sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(list(argv), capture_output=True, text=True, timeout=30)
    if check and res.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {res.returncode}: {res.stderr.strip()}")
    return res


def _link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


@pytest.fixture(scope="module")
def bridge() -> Iterator[str]:
    """humlt0 with the host's address; a leftover from a crashed run is replaced."""
    if _link_exists(BRIDGE):
        _sh("ip", "link", "del", BRIDGE)
    _sh("ip", "link", "add", BRIDGE, "type", "bridge")
    _sh("ip", "addr", "add", f"{HOST_ADDR}/24", "dev", BRIDGE)
    _sh("ip", "link", "set", BRIDGE, "up")
    try:
        yield BRIDGE
    finally:
        _sh("ip", "link", "del", BRIDGE, check=False)


@pytest.fixture
def guests(bridge: str) -> Iterator[list[Guest]]:
    """Guests the test boots go in this list; all are destroyed and their taps removed after."""
    booted: list[Guest] = []
    yield booted
    for g in booted:
        with contextlib.suppress(Exception):
            g.destroy()
    for tap in {g.spec.tap for g in booted}:
        remove_tap(tap)


def _poll(fn, timeout: float, step: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return True
        time.sleep(step)
    return False


def _connect_ms(address: str, port: int = 22) -> float:
    t0 = time.monotonic()
    with socket.create_connection((address, port), timeout=5):
        return (time.monotonic() - t0) * 1000


def test_guest_ipvs_netem_pause_destroy_reboot_shutdown(
    guests: list[Guest], tmp_path_factory: pytest.TempPathFactory
) -> None:
    state = tmp_path_factory.mktemp("uml")
    spec = GuestSpec(name="humlt-g1", address="198.18.200.11", prefix_len=24, tap="humlt-g1", bridge=BRIDGE)
    g = boot_guest(spec, state)
    guests.append(g)
    g.wait_ready(timeout=60)

    # identity, and the IPVS table is readable (ip_vs loaded from the UML module tree)
    assert g.run("hostname").stdout.strip() == "humlt-g1"
    ipvs = g.run("ipvsadm -Ln")
    assert ipvs.exit_status == 0, ipvs.stderr
    assert ipvs.stdout.startswith("IP Virtual Server version"), ipvs.stdout

    # netem is accepted, printed correctly (no AVX memcpy garbage) and really delays packets
    assert _connect_ms(spec.address) < 80
    add = g.run("tc qdisc add dev vec0 root netem delay 100ms")
    assert add.exit_status == 0, add.stderr
    assert "netem" in g.run("tc qdisc show dev vec0").stdout
    assert "delay 100ms" in g.run("tc qdisc show dev vec0").stdout
    assert _connect_ms(spec.address) >= 90
    assert g.run("tc qdisc del dev vec0 root").exit_status == 0

    # pause: the guest stops answering; unpause: it answers again and its programs survived
    g.pause()
    try:
        assert not g.answers(timeout=1.0)
        assert g.is_running()
    finally:
        g.unpause()
    assert _poll(lambda: g.answers(timeout=0.5), timeout=10)
    assert g.run("echo still-here").stdout.strip() == "still-here"

    # destroy: the whole group goes, the tap is free at once, a second boot on it works
    g.destroy()
    assert not g.is_running() and g.members() == []
    assert tap_is_free(spec.tap)
    g2 = boot_guest(spec, state)
    guests.append(g2)
    g2.wait_ready(timeout=60)
    assert g2.pid != g.pid
    assert g2.run("cat /proc/sys/net/ipv4/ip_forward").stdout.strip() == "0"

    # clean halt through the management console: init stops everything and halts
    assert g2.shutdown(timeout=20) == "mconsole cad"
    assert not g2.is_running() and tap_is_free(spec.tap)
    assert "HUML-HALT" in g2.console_log.read_text(errors="replace")


# -- LVS-NAT end to end ---------------------------------------------------------------------------

VIP = "198.18.200.100"
DIRECTOR = "198.18.200.10"
RS_GATEWAY = "198.18.201.1"  # the director's address on the real servers' subnet
REAL_SERVERS = {"rs1": "198.18.201.21", "rs2": "198.18.201.22"}


@pytest.fixture
def real_servers(bridge: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Two namespaces on humlt0 in 198.18.201.0/24, each serving its name over HTTP on :80.

    Their default route is the director: LVS-NAT needs the replies to pass back through it.
    http.server runs under ``timeout`` so nothing outlives a crashed test by more than 5 min.
    """
    procs: list[subprocess.Popen[bytes]] = []
    made: list[str] = []
    try:
        for i, (name, addr) in enumerate(REAL_SERVERS.items(), start=1):
            ns, veth = f"humlt-{name}", f"humlt-v{i}"
            _sh("ip", "netns", "add", ns)
            made.append(ns)
            _sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            _sh("ip", "link", "set", veth, "master", bridge, "up")
            _sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")
            _sh("ip", "-n", ns, "link", "set", "eth0", "up")
            _sh("ip", "-n", ns, "link", "set", "lo", "up")
            _sh("ip", "-n", ns, "route", "add", "default", "via", RS_GATEWAY)
            docroot = tmp_path / name
            docroot.mkdir()
            (docroot / "index.html").write_text(f"{name}\n")
            procs.append(
                subprocess.Popen(
                    ["ip", "netns", "exec", ns, "timeout", "300", sys.executable, "-m", "http.server", "80",
                     "--bind", addr, "--directory", str(docroot)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                )  # fmt: skip
            )
        for name, addr in REAL_SERVERS.items():
            ns = f"humlt-{name}"

            def listening(ns: str = ns, addr: str = addr) -> bool:
                return bool(_sh("ip", "netns", "exec", ns, "ss", "-Hltn", f"src {addr}:80").stdout.strip())

            assert _poll(listening, timeout=15, step=0.1), f"http.server in {ns} never listened"
        yield REAL_SERVERS
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)
        for ns in made:
            _sh("ip", "netns", "del", ns, check=False)
        for i in range(1, len(REAL_SERVERS) + 1):
            if _link_exists(f"humlt-v{i}"):
                _sh("ip", "link", "del", f"humlt-v{i}", check=False)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 (lab address)
        return resp.read().decode().strip()


def test_lvs_nat_through_a_uml_director(
    guests: list[Guest], real_servers: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    state = tmp_path_factory.mktemp("uml-nat")
    spec = GuestSpec(
        name="humlt-dir", address=DIRECTOR, prefix_len=24, tap="humlt-dir", bridge=BRIDGE, ip_forward=True
    )
    d = boot_guest(spec, state)
    guests.append(d)
    d.wait_ready(timeout=60)
    setup = " && ".join(
        [
            f"ip addr add {VIP}/24 dev vec0",
            f"ip addr add {RS_GATEWAY}/24 dev vec0",
            # the real servers share the wire: no ICMP redirects telling them to bypass us
            "sysctl -qw net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.vec0.send_redirects=0",
            f"ipvsadm -A -t {VIP}:80 -s rr",
            *(f"ipvsadm -a -t {VIP}:80 -r {addr}:80 -m" for addr in real_servers.values()),
        ]
    )
    res = d.run(setup)
    assert res.exit_status == 0, res.stderr

    answers = [_get(f"http://{VIP}/") for _ in range(6)]
    assert set(answers) == set(real_servers), answers
    assert answers.count("rs1") == answers.count("rs2") == 3  # round robin, one connection each

    # IPVS's connection table (not --stats: those counters follow a 2 s estimator) shows that
    # the director, not some other path, carried them: 3 connections from us to each server
    conns = d.run("ipvsadm -Lnc").stdout.splitlines()
    for addr in real_servers.values():
        mine = [c for c in conns if c.split()[-3:] and c.split()[-3].startswith(f"{HOST_ADDR}:")
                and c.split()[-2] == f"{VIP}:80" and c.split()[-1] == f"{addr}:80"]  # fmt: skip
        assert len(mine) == 3, conns
