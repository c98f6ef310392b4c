"""Transport registry, quoting, run_expect, the local backend and the Cluster facade."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cluster import Cluster
from harness.errors import CommandError, HarnessError, InventoryError, TransportError
from harness.inventory import Host, SshConfig, inventory_from_dict
from harness.testing import FakeTransport
from harness.transport import BACKENDS, UnknownTransport, connect, get_backend, quote_command
from harness.transport.local import LocalTransport

ROOT = Path(__file__).resolve().parents[2]


# -- quoting ----------------------------------------------------------------------------------

def test_quote_list_and_template() -> None:
    assert quote_command(["ip", "link", "set", "eth 0", "down"]) == "ip link set 'eth 0' down"
    assert quote_command("kill -%s %s", "KILL", "1; rm -rf /") == "kill -KILL '1; rm -rf /'"
    with pytest.raises(TypeError):
        quote_command(["a"], "b")


def test_quoted_arguments_survive_a_real_shell() -> None:
    t = LocalTransport("sup")
    nasty = ["a b", "it's", '"$(id)"', "`uname`", "x;y", "$HOME", "*"]
    r = t.run(["printf", "%s\\n", *nasty])
    assert r.stdout.splitlines() == nasty
    assert t.check_output("printf '%%s|' %s %s", "1 2", "$(echo pwned)") == "1 2|$(echo pwned)|"


# -- registry ---------------------------------------------------------------------------------

def test_registry_names_and_lazy_lookup() -> None:
    assert set(BACKENDS) == {"ssh", "local", "fake"}
    assert get_backend("local") is LocalTransport
    assert get_backend("fake") is FakeTransport


def test_unknown_transport_is_one_clear_error() -> None:
    with pytest.raises(UnknownTransport) as info:
        get_backend("telnet")
    assert str(info.value) == "Unknown transport 'telnet' (known: fake, local, ssh)"
    assert isinstance(info.value, HarnessError)


def test_fake_backend_does_not_import_paramiko() -> None:
    code = (
        "import sys; import harness.transport as t; t.get_backend('fake'); t.get_backend('local'); "
        "print('paramiko' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_connect_chooses_backend_by_host_transport() -> None:
    local = connect(Host("sup", "127.0.0.1", ("client",), SshConfig(command_timeout_s=7), transport="local"))
    assert isinstance(local, LocalTransport) and local.command_timeout_s == 7 and local.host == "sup"
    from harness.transport.ssh import SshTransport

    ssh = connect(Host("web1", "10.0.0.21", ("web",), SshConfig(port=2222)))
    assert isinstance(ssh, SshTransport) and ssh.address == "10.0.0.21" and ssh.ssh.port == 2222
    assert ssh._client is None  # nothing connects until the first command
    fake = connect(Host("f", "10.0.0.9", ("web",), transport="fake"))  # type: ignore[arg-type]
    assert isinstance(fake, FakeTransport) and fake.host == "f"


# -- run_expect -------------------------------------------------------------------------------

def test_run_expect_allows_listed_exit_codes_only() -> None:
    t = LocalTransport("sup")
    assert t.run_expect([0, 3], "exit 3").exit_status == 3
    with pytest.raises(CommandError) as info:
        t.run_expect([0, 1], "echo out; echo 'bad thing' >&2; exit 4")
    e = info.value
    assert (e.exit_status, e.expected, e.host) == (4, (0, 1), "sup")
    assert "bad thing" in str(e) and "exit 4" in str(e) and str(e).startswith("sup: ")


def test_check_output_strips_the_newline_and_requires_zero() -> None:
    t = LocalTransport("sup")
    assert t.check_output("echo %s", "x y") == "x y"
    with pytest.raises(CommandError):
        t.check_output("false")


# -- local transport --------------------------------------------------------------------------

def test_local_result_fields() -> None:
    r = LocalTransport("sup").run("echo out; echo err >&2; exit 5")
    assert (r.host, r.exit_status, r.stdout, r.stderr) == ("sup", 5, "out\n", "err\n")
    assert r.failed and r.duration_s >= 0


def test_local_timeout_kills_the_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    t = LocalTransport("sup")
    started = time.monotonic()
    with pytest.raises(TransportError) as info:
        # a child in the same group: killed with bash, not left behind
        t.run("sleep 30 & echo $! > %s; wait", str(pidfile), timeout=0.5)
    assert time.monotonic() - started < 2
    assert str(info.value).startswith("sup: command 'sleep 30 & echo $! >") and "timed out after 0.5s" in str(info.value)
    child = int(pidfile.read_text())
    for _ in range(50):  # up to 1 s for the kernel to finish it
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        state = Path(f"/proc/{child}/stat").read_text().split()[2] if Path(f"/proc/{child}/stat").exists() else "X"
        if state == "Z":  # killed, waiting for its reaper
            break
        time.sleep(0.02)
    else:
        os.kill(child, 9)
        pytest.fail(f"child {child} survived the timeout")


def test_local_default_timeout_comes_from_the_transport() -> None:
    t = LocalTransport("sup", command_timeout_s=0.3)
    with pytest.raises(TransportError, match="timed out after 0.3s"):
        t.run("sleep 5")


def test_local_background_daemon_does_not_block_the_command(tmp_path: Path) -> None:
    """A daemon started without redirecting its output keeps our pipe open: return anyway."""
    pidfile = tmp_path / "d.pid"
    t = LocalTransport("sup")
    started = time.monotonic()
    r = t.run("setsid sleep 5 & echo $! > %s; echo started", str(pidfile))
    assert r.stdout == "started\n" and r.exit_status == 0
    assert time.monotonic() - started < 2
    try:
        os.kill(int(pidfile.read_text()), 9)
    except (ProcessLookupError, ValueError):
        pass


# -- Cluster ----------------------------------------------------------------------------------

INV = inventory_from_dict(
    {
        "name": "t",
        "hosts": {
            "dir1": {"address": "10.0.0.11", "roles": ["director"]},
            "web1": {"address": "10.0.0.21", "roles": ["web"]},
            "sup": {"address": "127.0.0.1", "roles": ["client"], "transport": "local"},
        },
    },
    source="cluster.yml",
)


def test_cluster_refuses_hosts_not_in_the_inventory() -> None:
    made: list[str] = []
    cluster = Cluster(INV, lambda h: made.append(h.name) or FakeTransport(h.name))  # type: ignore[func-returns-value]
    with pytest.raises(InventoryError, match="cluster.yml: no host 'db9' in the inventory .hosts: dir1, sup, web1."):
        cluster.run("db9", "true")
    assert made == []


def test_cluster_caches_one_transport_per_host_and_quotes() -> None:
    fakes: dict[str, FakeTransport] = {}

    def factory(h: Host) -> FakeTransport:
        fakes[h.name] = FakeTransport(h.name).on(r"^pidof", (1, "", ""))
        return fakes[h.name]

    with Cluster(INV, factory) as cluster:
        assert cluster.inventory is INV and cluster.host("dir1").address == "10.0.0.11"
        cluster.run("dir1", "kill -%s %s", "TERM", "12 13")
        cluster.run("dir1", ["ip", "addr", "del", "10.0.0.100/24", "dev", "eth 0"])
        assert cluster.transport("dir1") is cluster.transport("dir1")
        assert cluster.run_expect("dir1", [0, 1], "pidof keepalived").exit_status == 1
        with pytest.raises(CommandError):
            cluster.run_expect("dir1", [0], "pidof keepalived")
    assert fakes["dir1"].commands[:2] == ["kill -TERM '12 13'", "ip addr del 10.0.0.100/24 dev 'eth 0'"]
    assert list(fakes) == ["dir1"] and fakes["dir1"].closed


def test_cluster_close_is_idempotent_and_final() -> None:
    cluster = Cluster(INV, lambda h: FakeTransport(h.name))
    t = cluster.transport("web1")
    cluster.close()
    cluster.close()
    assert t.closed  # type: ignore[attr-defined]
    with pytest.raises(HarnessError, match="closed"):
        cluster.run("web1", "true")


def test_cluster_default_factory_uses_the_local_backend() -> None:
    with Cluster(INV) as cluster:
        assert isinstance(cluster.transport("sup"), LocalTransport)
        assert cluster.run("sup", "echo %s", "a b").stdout == "a b\n"
        host = cluster.testinfra_host("sup")
        assert host.run("echo hi").stdout == "hi\n" and host.file("/").is_directory


def test_testinfra_host_over_a_custom_transport() -> None:
    fakes: dict[str, FakeTransport] = {}

    def factory(h: Host) -> FakeTransport:
        fakes[h.name] = FakeTransport(h.name).on(r"cat /etc/hostname", (0, "web1\n", ""))
        return fakes[h.name]

    with Cluster(INV, factory) as cluster:
        host = cluster.testinfra_host("web1")
        assert host.run("cat /etc/hostname").stdout == "web1\n"
        assert host.run("ls %s", "a b").command == b"ls 'a b'"
    assert "ls 'a b'" in fakes["web1"].commands
