"""link-down, partition, bandwidth, latency: exact commands, backends, heal only what is ours."""

from __future__ import annotations

import pytest

from harness.cluster import Cluster
from harness.errors import CommandError, FaultError, UnsupportedFault
from harness.faults import get_fault
from harness.inventory._model import Host, Inventory
from harness.testing import FakeCluster


def inventory() -> Inventory:
    return Inventory(
        name="t",
        hosts={
            "dir1": Host("dir1", "198.18.0.11", ("director",)),
            "dir2": Host("dir2", "198.18.0.12", ("director",)),
            "db1": Host("db1", "fd00::31", ("db",)),
            "vag": Host("vag", "box.local", ("web",)),
        },
    )


@pytest.fixture
def fake() -> FakeCluster:
    return FakeCluster()


@pytest.fixture
def cluster(fake: FakeCluster) -> Cluster:
    return Cluster(inventory(), transport_factory=lambda host: fake(host.name))


def test_link_down_and_up(cluster: Cluster, fake: FakeCluster) -> None:
    f = get_fault("link-down")(cluster, host="dir1", interface="eth0")
    f.inject()
    f.heal()
    f.heal()
    assert fake("dir1").commands == ["ip link set eth0 down", "ip link set eth0 up"]


def test_link_down_auto_heal_is_one_detached_script_that_answers_first(cluster: Cluster, fake: FakeCluster) -> None:
    get_fault("link-down")(cluster, host="dir1", interface="eth0", auto_heal_s=30).inject()
    assert fake("dir1").commands == [
        "nohup sh -c 'sleep 0.3; ip link set eth0 down; sleep 30; ip link set eth0 up' >/dev/null 2>&1 &",
    ]


def test_link_down_auto_heal_retries_until_the_host_answers_again(cluster: Cluster, fake: FakeCluster) -> None:
    from harness.errors import TransportError

    answers = iter([TransportError("dir1", "connection timed out"), TransportError("dir1", "no route"), (0, "", "")])

    def up(line: str):
        a = next(answers)
        if isinstance(a, Exception):
            raise a
        return a

    fake("dir1").on(r"ip link set eth0 up$", up)
    f = get_fault("link-down")(cluster, host="dir1", interface="eth0", auto_heal_s=0.1)
    f.inject()
    f.heal()
    assert fake("dir1").commands[-3:] == ["ip link set eth0 up"] * 3


def test_link_down_heal_does_not_retry_a_real_command_failure(cluster: Cluster, fake: FakeCluster) -> None:
    from harness.errors import CommandError

    fake("dir1").on(r"ip link set eth0 up$", (2, "", "Cannot find device"))
    f = get_fault("link-down")(cluster, host="dir1", interface="eth0", auto_heal_s=0.1)
    f.inject()
    with pytest.raises(CommandError, match="Cannot find device"):
        f._heal()
    assert fake("dir1").commands.count("ip link set eth0 up") == 1


def test_link_down_refuses_bad_interface(cluster: Cluster) -> None:
    with pytest.raises(FaultError, match="'eth0; reboot' is not an interface name"):
        get_fault("link-down")(cluster, host="dir1", interface="eth0; reboot")


def test_partition_nft_rules_each_side_drops_the_other(cluster: Cluster, fake: FakeCluster) -> None:
    f = get_fault("partition")(cluster, a=["dir1"], b=["dir2", "db1"])
    f.inject()
    table = "harness_partition"
    head = (
        f"add table inet {table}; delete table inet {table}; add table inet {table}; "
        f"add chain inet {table} input {{ type filter hook input priority -10; policy accept; }}; "
        f"add chain inet {table} output {{ type filter hook output priority -10; policy accept; }}"
    )
    assert fake("dir1").commands == [
        "command -v nft >/dev/null 2>&1",
        "nft 'add table inet harness_partition_probe; delete table inet harness_partition_probe'",
        "nft '" + head + "; add rule inet harness_partition input ip saddr { 198.18.0.12 } drop; "
        "add rule inet harness_partition output ip daddr { 198.18.0.12 } drop; "
        "add rule inet harness_partition input ip6 saddr { fd00::31 } drop; "
        "add rule inet harness_partition output ip6 daddr { fd00::31 } drop'",
    ]
    assert fake("dir2").commands[2] == (
        "nft '" + head + "; add rule inet harness_partition input ip saddr { 198.18.0.11 } drop; "
        "add rule inet harness_partition output ip daddr { 198.18.0.11 } drop'"
    )
    assert f.describe()["runtime"] == {"backend": {"dir1": "nft", "dir2": "nft", "db1": "nft"}}


def test_partition_heal_deletes_only_our_table_and_is_idempotent(cluster: Cluster, fake: FakeCluster) -> None:
    f = get_fault("partition")(cluster, a=["dir1"], b=["dir2"])
    f.inject()
    f.heal()
    f.heal()
    for host in ("dir1", "dir2"):
        assert fake(host).commands[-1] == "nft 'add table inet harness_partition; delete table inet harness_partition'"
        assert len(fake(host).commands) == 4  # detect, probe the inet family, block, unblock


def test_partition_uses_an_ip_table_where_the_kernel_lacks_the_inet_family(cluster: Cluster, fake: FakeCluster) -> None:
    for host in ("dir1", "dir2"):
        fake(host).on(r"table inet harness_partition_probe", (1, "", "Error: Could not process rule: No such file or directory"))
    f = get_fault("partition")(cluster, a=["dir1"], b=["dir2"])
    f.inject()
    assert fake("dir1").commands[-1].startswith("nft 'add table ip harness_partition; delete table ip harness_partition; ")
    assert "add rule ip harness_partition input ip saddr { 198.18.0.12 } drop" in fake("dir1").commands[-1]
    f.heal()
    assert fake("dir2").commands[-1] == "nft 'add table ip harness_partition; delete table ip harness_partition'"
    assert f.describe()["runtime"] == {"backend": {"dir1": "nft-ip", "dir2": "nft-ip"}}


def test_partition_uses_iptables_legacy_where_nft_has_no_ip_family(cluster: Cluster, fake: FakeCluster) -> None:
    """Debian's User-Mode Linux kernel (the lab's LVS directors): nf_tables without the inet and ip
    families ("Operation not supported"), ip_tables as modules, iptables itself being iptables-nft."""
    t = fake("dir1")
    t.on(r"harness_partition_probe", (1, "", "Error: Could not process rule: Operation not supported"))
    f = get_fault("partition")(cluster, a=["dir1"], b=["dir2"])
    f.inject()
    assert t.commands[-1] == (
        "iptables-legacy -N HARNESS_PARTITION_IN && iptables-legacy -N HARNESS_PARTITION_OUT && "
        "iptables-legacy -A HARNESS_PARTITION_IN -s 198.18.0.12 -j DROP && "
        "iptables-legacy -A HARNESS_PARTITION_OUT -d 198.18.0.12 -j DROP && "
        "iptables-legacy -I INPUT 1 -j HARNESS_PARTITION_IN && iptables-legacy -I OUTPUT 1 -j HARNESS_PARTITION_OUT"
    )
    assert f.describe()["runtime"]["backend"] == {"dir1": "iptables-legacy", "dir2": "nft"}
    n = len(t.commands)
    f.heal()
    assert [c.split(";")[0] for c in t.commands[n:]] == ["command -v iptables-legacy >/dev/null 2>&1 || exit 0",
                                                         "command -v ip6tables-legacy >/dev/null 2>&1 || exit 0"]
    assert "iptables-legacy -F $c && iptables-legacy -X $c" in t.commands[n]


def test_partition_without_any_usable_firewall_names_the_host(cluster: Cluster, fake: FakeCluster) -> None:
    t = fake("dir2")
    t.on(r"harness_partition_probe", (1, "", "Error: Could not process rule: Operation not supported"))
    t.on(r"^command -v iptables-legacy", (1, "", ""))
    f = get_fault("partition")(cluster, a=["dir1"], b=["dir2"])
    with pytest.raises(UnsupportedFault, match="host dir2: nft has neither the inet nor the ip family"):
        f.inject()
    f.heal()  # dir1 was cut before dir2 failed: the heal removes it
    assert fake("dir1").commands[-1] == "nft 'add table inet harness_partition; delete table inet harness_partition'"


def test_partition_iptables_fallback(cluster: Cluster, fake: FakeCluster) -> None:
    t = fake("dir1")
    t.on(r"^command -v nft", (1, "", ""))
    f = get_fault("partition")(cluster, a=["dir1"], b=["dir2"])
    f.inject()
    block = t.commands[-1]
    assert block == (
        "iptables -N HARNESS_PARTITION_IN && iptables -N HARNESS_PARTITION_OUT && "
        "iptables -A HARNESS_PARTITION_IN -s 198.18.0.12 -j DROP && "
        "iptables -A HARNESS_PARTITION_OUT -d 198.18.0.12 -j DROP && "
        "iptables -I INPUT 1 -j HARNESS_PARTITION_IN && iptables -I OUTPUT 1 -j HARNESS_PARTITION_OUT"
    )
    # leftover chains are cleared before -N
    assert t.commands[1].startswith("command -v iptables >/dev/null 2>&1 || exit 0; ")
    n = len(t.commands)
    f.heal()
    heal = t.commands[n:]
    assert len(heal) == 2
    assert "iptables -D INPUT -j HARNESS_PARTITION_IN" in heal[0]
    assert "iptables -F $c && iptables -X $c" in heal[0]
    assert heal[1].startswith("command -v ip6tables")


def test_partition_from_journal_without_backend_detects_again(cluster: Cluster, fake: FakeCluster) -> None:
    fake("dir2").on(r"^command -v nft", (1, "", ""))
    cls = get_fault("partition")
    f = cls.from_journal(cluster, {"fault_id": "f1", "name": "partition",
                                   "params": {"a": ["dir1"], "b": ["dir2"], "table": "harness_partition"},
                                   "state": "injecting"})
    f.heal()
    assert fake("dir1").commands[-1].startswith("nft ")
    assert fake("dir2").commands[-1].startswith("command -v ip6tables")


def test_blackhole_drops_everything_but_loopback_and_the_ssh_port_and_heal_deletes_it(
        cluster: Cluster, fake: FakeCluster) -> None:
    f = get_fault("blackhole")(cluster, host="dir1")
    f.inject()
    t = "harness_blackhole"
    assert fake("dir1").commands[-1] == (
        f"nft 'add table inet {t}; delete table inet {t}; add table inet {t}; "
        f"add chain inet {t} input {{ type filter hook input priority -10; policy accept; }}; "
        f"add chain inet {t} output {{ type filter hook output priority -10; policy accept; }}; "
        f"add rule inet {t} input iif lo accept; add rule inet {t} input tcp dport {{ 22 }} accept; "
        f"add rule inet {t} input drop; add rule inet {t} output oif lo accept; "
        f"add rule inet {t} output tcp sport {{ 22 }} accept; add rule inet {t} output drop'")
    assert fake("dir2").commands == []  # the others are not touched: the host alone goes silent
    f.heal()
    assert fake("dir1").commands[-1] == f"nft 'add table inet {t}; delete table inet {t}'"


def test_blackhole_iptables_spares_the_given_ports_and_a_missing_ip6tables(cluster: Cluster, fake: FakeCluster) -> None:
    fake("dir1").on(r"^command -v nft", (1, "", ""))
    get_fault("blackhole")(cluster, host="dir1", spare_ports=[2222, 22]).inject()
    v4, v6 = fake("dir1").commands[-2:]
    assert v4 == (
        "iptables -N HARNESS_BLACKHOLE_IN && iptables -N HARNESS_BLACKHOLE_OUT && "
        "iptables -A HARNESS_BLACKHOLE_IN -i lo -j ACCEPT && iptables -A HARNESS_BLACKHOLE_OUT -o lo -j ACCEPT && "
        "iptables -A HARNESS_BLACKHOLE_IN -p tcp --dport 22 -j ACCEPT && "
        "iptables -A HARNESS_BLACKHOLE_OUT -p tcp --sport 22 -j ACCEPT && "
        "iptables -A HARNESS_BLACKHOLE_IN -p tcp --dport 2222 -j ACCEPT && "
        "iptables -A HARNESS_BLACKHOLE_OUT -p tcp --sport 2222 -j ACCEPT && "
        "iptables -A HARNESS_BLACKHOLE_IN -j DROP && iptables -A HARNESS_BLACKHOLE_OUT -j DROP && "
        "iptables -I INPUT 1 -j HARNESS_BLACKHOLE_IN && iptables -I OUTPUT 1 -j HARNESS_BLACKHOLE_OUT")
    assert v6.startswith("if command -v ip6tables >/dev/null 2>&1; then ip6tables -N HARNESS_BLACKHOLE_IN && ")


def test_blackhole_validation_keeps_the_way_back_open(cluster: Cluster) -> None:
    cls = get_fault("blackhole")
    with pytest.raises(FaultError, match="spare_ports.*the harness's SSH port must stay open"):
        cls(cluster, host="dir1", spare_ports=[])
    with pytest.raises(FaultError, match="spare_ports"):
        cls(cluster, host="dir1", spare_ports=[70000])
    with pytest.raises(FaultError, match="table"):
        cls(cluster, host="dir1", table="x;y")
    assert cls(cluster, host="dir1").params["spare_ports"] == [22]


def test_partition_validation(cluster: Cluster) -> None:
    cls = get_fault("partition")
    with pytest.raises(FaultError, match="dir1 are on both sides"):
        cls(cluster, a=["dir1"], b=["dir1", "dir2"])
    with pytest.raises(FaultError, match="host 'nope' is not in the inventory"):
        cls(cluster, a=["dir1"], b=["nope"])
    with pytest.raises(FaultError, match="host 'vag' has address 'box.local', not an IP"):
        cls(cluster, a=["dir1"], b=["vag"])
    with pytest.raises(FaultError, match="'b' must be a non-empty list"):
        cls(cluster, a=["dir1"], b=[])


def test_bandwidth_tbf_with_our_handle(cluster: Cluster, fake: FakeCluster) -> None:
    t = fake("dir1")
    t.on(r"^tc qdisc show", (0, "qdisc tbf fa17: root refcnt 3 rate 1Mbit burst 4Kb lat 400ms \n", ""))
    f = get_fault("bandwidth")(cluster, host="dir1", interface="eth0", rate="1mbit")
    f.inject()
    f.heal()
    assert t.commands == [
        "tc qdisc add dev eth0 root handle fa17: tbf rate 1mbit burst 32kbit latency 400ms",
        "tc qdisc show dev eth0 root",
        "tc qdisc del dev eth0 root handle fa17:",
    ]


def test_bandwidth_heal_leaves_a_foreign_root_qdisc(cluster: Cluster, fake: FakeCluster) -> None:
    t = fake("dir1")
    t.on(r"^tc qdisc add", (2, "", "Error: Exclusivity flag on, cannot modify."))
    t.on(r"^tc qdisc show", (0, "qdisc htb 1: root refcnt 2 r2q 10 default 0x10\n", ""))
    f = get_fault("bandwidth")(cluster, host="dir1", interface="eth0", rate="1mbit")
    with pytest.raises(CommandError, match="Exclusivity flag"):
        f.inject()
    f.heal()
    assert not any(c.startswith("tc qdisc del") for c in t.commands)


def test_bandwidth_validation(cluster: Cluster) -> None:
    with pytest.raises(FaultError, match="'rate': 'fast' is not a tc rate"):
        get_fault("bandwidth")(cluster, host="dir1", interface="eth0", rate="fast")


def test_latency_netem_command(cluster: Cluster, fake: FakeCluster) -> None:
    t = fake("dir1")
    t.on(r"^tc qdisc show", (0, "qdisc netem fa17: root refcnt 2 limit 1000 delay 50ms  10ms\n", ""))
    f = get_fault("latency")(cluster, host="dir1", interface="eth0", delay_ms=50, jitter_ms=10)
    f.inject()
    f.heal()
    assert t.commands == [
        "tc qdisc add dev eth0 root handle fa17: netem delay 50ms 10ms",
        "tc qdisc show dev eth0 root",
        "tc qdisc del dev eth0 root handle fa17:",
    ]


def test_latency_unsupported_kernel(cluster: Cluster, fake: FakeCluster) -> None:
    # what tc printed on this lab's kernel (CONFIG_NET_SCH_NETEM is not set)
    fake("dir2").on(r"^tc qdisc add .*netem", (2, "", "Error: Specified qdisc kind is unknown.\n"))
    f = get_fault("latency")(cluster, host="dir2", interface="eth0", delay_ms=50)
    with pytest.raises(UnsupportedFault, match="^latency: netem unsupported on host dir2$"):
        f.inject()


def test_latency_unsupported_by_module_probe(cluster: Cluster, fake: FakeCluster) -> None:
    t = fake("dir2")
    t.on(r"^tc qdisc add .*netem", (2, "", "RTNETLINK answers: No such file or directory\n"))
    t.on(r"^modinfo", (1, "", ""))
    with pytest.raises(UnsupportedFault, match="dir2"):
        get_fault("latency")(cluster, host="dir2", interface="eth0", delay_ms=50).inject()
    assert t.commands[-1].startswith("modinfo sch_netem")


def test_latency_other_failure_is_not_called_unsupported(cluster: Cluster, fake: FakeCluster) -> None:
    t = fake("dir2")
    t.on(r"^tc qdisc add .*netem", (1, "", "Cannot find device \"eth9\"\n"))
    t.on(r"^modinfo", (0, "", ""))
    with pytest.raises(CommandError, match="Cannot find device") as info:
        get_fault("latency")(cluster, host="dir2", interface="eth9", delay_ms=50).inject()
    assert not isinstance(info.value, UnsupportedFault)
