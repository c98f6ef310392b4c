"""No fault targets the supervisor (a host with ``transport: local``) without ``allow_local``.

The refusal comes at construction, before the journal entry and before any command; running
a command on the supervisor as another host's hypervisor (a lab domain) stays allowed.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.cluster import Cluster
from harness.errors import FaultError, TransportError
from harness.faults import Journal, Nemesis, get_fault
from harness.history import HistoryRecorder
from harness.inventory._model import Database, Domain, Host, Hypervisor, Inventory, Service
from harness.testing import FakeCluster
from harness.transport import supervisor
from harness.transport.supervisor import SupervisorIdentity, identity_from

APACHE = Service("apache", "sysv", sysv_name="apache2", process="apache2")
KEEPALIVED = Service("keepalived", "sysv", sysv_name="keepalived", process="keepalived")
MARIADB = Service("mariadb", "systemd", unit="mariadb.service", process="mariadbd")


def inventory() -> Inventory:
    """The lab's shape: a supervisor with transport local, and a local host in every role a
    fault can target (a one-machine setup could give the supervisor any role)."""
    return Inventory(
        name="t",
        hosts={
            "supervisor": Host("supervisor", "198.18.0.1", ("hypervisor",), transport="local",
                               services={"python": Service("python", "command", start="true", stop="true",
                                                           process="python3")},
                               hypervisor=Hypervisor("lab", state_dir="/tmp/lab")),
            "localdir": Host("localdir", "198.18.0.2", ("director",), transport="local",
                             services={"keepalived": KEEPALIVED}),
            "localdb": Host("localdb", "198.18.0.3", ("db",), transport="local", services={"mariadb": MARIADB}),
            "localweb": Host("localweb", "198.18.0.4", ("web",), transport="local", services={"apache": APACHE},
                             domain=Domain("localweb", "supervisor")),
            "localfs": Host("localfs", "198.18.0.5", ("fileserver",), transport="local"),
            "localldap": Host("localldap", "198.18.0.6", ("ldap",), transport="local"),
            "web1": Host("web1", "198.18.0.21", ("web",), services={"apache": APACHE},
                         domain=Domain("web1", "supervisor")),
            "web2": Host("web2", "198.18.0.22", ("web",), services={"apache": APACHE}),
        },
        database=Database(kind="galera"),
    )


@pytest.fixture
def fake() -> FakeCluster:
    return FakeCluster()


@pytest.fixture
def cluster(fake: FakeCluster) -> Cluster:
    return Cluster(inventory(), transport_factory=lambda host: fake(host.name))


#: every fault of the catalogue, with parameters whose target is a local host
LOCAL_TARGETS: list[tuple[str, dict[str, Any], str]] = [
    ("kill-process", {"host": "localweb", "process": "apache"}, "localweb"),
    ("stop-service", {"host": "localweb", "service": "apache"}, "localweb"),
    ("freeze", {"host": "supervisor", "process": "python3"}, "supervisor"),
    ("link-down", {"host": "supervisor", "interface": "harnessbr0"}, "supervisor"),
    ("bandwidth", {"host": "supervisor", "interface": "eth0", "rate": "1mbit"}, "supervisor"),
    ("latency", {"host": "supervisor", "interface": "eth0", "delay_ms": 50}, "supervisor"),
    ("partition", {"a": ["supervisor"], "b": ["web1", "web2"]}, "supervisor"),
    ("partition", {"a": ["web1"], "b": ["web2", "supervisor"]}, "supervisor"),
    ("partition", {"a": "supervisor", "b": "web1"}, "supervisor"),
    ("blackhole", {"host": "supervisor"}, "supervisor"),
    ("director-failure", {"host": "localdir"}, "localdir"),
    ("db-node-failure", {"host": "localdb"}, "localdb"),
    ("db-tier-power-loss", {"hosts": ["localdb"]}, "localdb"),
    ("domain-destroy", {"host": "localweb"}, "localweb"),
    ("domain-pause", {"host": "localweb"}, "localweb"),
    ("domain-shutdown", {"host": "localweb"}, "localweb"),
    ("domain-start", {"host": "localweb"}, "localweb"),
    ("disk-full", {"host": "localweb", "path": "/srv/bricks"}, "localweb"),
    ("brick-kill", {"host": "localfs", "volume": "moodledata"}, "localfs"),
    ("ldap-replication-off", {"host": "localldap", "suffix": "dc=lms,dc=lab"}, "localldap"),
]


@pytest.mark.parametrize(("name", "params", "host"), LOCAL_TARGETS)
def test_a_local_target_is_refused_naming_fault_host_and_opt_in(
    cluster: Cluster, fake: FakeCluster, name: str, params: dict[str, Any], host: str
) -> None:
    with pytest.raises(FaultError) as info:
        get_fault(name)(cluster, **params)
    text = str(info.value)
    assert text.startswith(f"{name}: host {host!r} has transport local")
    assert "allow_local=True" in text
    assert fake.transports == {}  # not one command anywhere


def test_every_catalogued_fault_is_covered() -> None:
    from harness.faults import FAULTS

    assert {n for n, _, _ in LOCAL_TARGETS} == set(FAULTS)


def test_a_partition_names_every_local_host(fake: FakeCluster) -> None:
    inv = inventory()
    c = Cluster(inv, transport_factory=lambda host: fake(host.name))
    with pytest.raises(FaultError, match=r"host 'supervisor', 'localweb' has transport local"):
        get_fault("partition")(c, a=["supervisor", "web1"], b=["localweb"])


def test_nemesis_refuses_before_the_journal_and_the_history(cluster: Cluster, fake: FakeCluster,
                                                            tmp_path: Path) -> None:
    n = Nemesis(cluster, HistoryRecorder(), Journal(tmp_path))
    with pytest.raises(FaultError, match="freeze: host 'supervisor'"):
        n.inject("freeze", host="supervisor", process="python3")
    with pytest.raises(FaultError, match="allow_local"):
        with n.fault("link-down", host="supervisor", interface="harnessbr0"):
            pass  # pragma: no cover - never entered
    assert not (tmp_path / "journal.jsonl").exists()
    assert n.history.ops() == [] and fake.transports == {}


def test_allow_local_opts_in_per_fault_and_is_journaled(cluster: Cluster, fake: FakeCluster, tmp_path: Path) -> None:
    n = Nemesis(cluster, HistoryRecorder(), Journal(tmp_path))
    with n.fault("link-down", host="supervisor", interface="dummy0", allow_local=True) as f:
        assert f.params["allow_local"] is True
        assert Journal(tmp_path).records()[0]["params"]["allow_local"] is True
    assert fake("supervisor").commands == ["ip link set dummy0 down", "ip link set dummy0 up"]
    # the opt-in is per fault: the next one on the same host is refused again
    with pytest.raises(FaultError, match="host 'supervisor'"):
        n.inject("link-down", host="supervisor", interface="dummy0")


def test_allow_local_false_or_not_a_bool_is_no_opt_in(cluster: Cluster) -> None:
    with pytest.raises(FaultError, match="allow_local=True"):
        get_fault("freeze")(cluster, host="supervisor", process="python3", allow_local=False)
    with pytest.raises(FaultError, match=r"parameter 'allow_local' must be bool, not 'yes'"):
        get_fault("freeze")(cluster, host="supervisor", process="python3", allow_local="yes")
    with pytest.raises(FaultError, match=r"parameter 'allow_local' must be bool, not 1"):
        get_fault("freeze")(cluster, host="supervisor", process="python3", allow_local=1)


def test_remote_targets_are_unchanged_and_records_carry_no_opt_in(cluster: Cluster) -> None:
    f = get_fault("link-down")(cluster, host="web1", interface="eth0")
    assert f.params == {"host": "web1", "interface": "eth0", "auto_heal_s": None}


def test_a_lab_domain_fault_still_runs_on_the_supervisor_as_hypervisor(cluster: Cluster, fake: FakeCluster) -> None:
    f = get_fault("domain-destroy")(cluster, host="web1")
    f.inject()
    assert f.targets == ["web1"]
    assert fake("supervisor").commands[0].endswith("-m harness lab domain destroy web1 --state-dir /tmp/lab")


def test_a_journaled_local_fault_is_still_healed(cluster: Cluster, fake: FakeCluster) -> None:
    """Whatever wrote the record, the fault may be in force: healing it is not targeting."""
    record = {"fault_id": "f1", "name": "freeze", "params": {"host": "supervisor", "process": "python3"},
              "targets": ["supervisor"], "state": "injected", "runtime": {"pids": [4242]}}
    fault = get_fault("freeze").from_journal(cluster, record)
    with pytest.raises(FaultError, match="already injected"):
        fault.inject()  # a rebuilt fault can only heal
    fault.heal()
    assert fake("supervisor").commands[-1] == "kill -CONT 4242"


def test_a_misspelt_opt_in_is_refused_and_the_real_one_listed(cluster: Cluster) -> None:
    with pytest.raises(FaultError, match=r"unknown parameter\(s\) alow_local \(known: allow_local, host, pidfile"):
        get_fault("freeze")(cluster, host="supervisor", process="python3", alow_local=True)


# -- the supervisor by address: transport ssh, but an address of this machine ---------------------

#: the supervisor as the tests see it: the lab bridge's gateway and one more interface address
IDENT = identity_from({"127.0.0.1", "::1", "198.18.0.1", "10.9.9.9", "fe80::1"}, "supervisor-box.example.org")


@pytest.fixture
def as_supervisor(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Replace address discovery (the module's one side effect); count the calls."""
    calls: list[int] = []

    def discover() -> SupervisorIdentity:
        calls.append(1)
        return IDENT

    monkeypatch.setattr(supervisor, "discover", discover)
    return calls


def _ssh_cluster(fake: FakeCluster, address: str) -> Cluster:
    inv = inventory()
    hosts = dict(inv.hosts)
    hosts["web9"] = Host("web9", address, ("web",), services={"apache": APACHE})
    return Cluster(replace(inv, hosts=hosts), transport_factory=lambda host: fake(host.name))


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.1.2.3", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("0.0.0.0", "the unspecified address"),
        ("localhost", "a name of the loopback"),
        ("LOCALHOST.", "a name of the loopback"),
        ("web.localhost", "a name of the loopback"),
        ("10.9.9.9", "an address of this machine's own interfaces"),
        ("fe80::1%eth0", "an address of this machine's own interfaces"),
        ("supervisor-box.example.org", "this machine's hostname"),
        ("Supervisor-Box", "this machine's hostname"),
    ],
)
def test_an_ssh_target_at_the_supervisors_address_is_refused(
    fake: FakeCluster, as_supervisor: list[int], address: str, why: str
) -> None:
    c = _ssh_cluster(fake, address)
    with pytest.raises(FaultError) as info:
        get_fault("kill-process")(c, host="web9", process="apache")
    text = str(info.value)
    assert text.startswith(f"kill-process: host 'web9' (transport ssh) has address {address!r}, {why}")
    assert "machine the harness runs on" in text and "allow_local=True" in text
    assert fake.transports == {}
    # the opt-in works as for transport local; a lab host (own namespace) is not the supervisor
    assert get_fault("kill-process")(c, host="web9", process="apache", allow_local=True).targets == ["web9"]
    assert get_fault("partition")(c, a=["web1"], b=["web2"]).targets == ["web1", "web2"]


def test_other_addresses_and_names_are_not_the_supervisor(fake: FakeCluster, as_supervisor: list[int]) -> None:
    for address in ("198.18.0.21", "10.9.9.10", "supervisor-box.example.com", "supervisor-boxes", "web1.example.org"):
        c = _ssh_cluster(fake, address)
        assert get_fault("kill-process")(c, host="web9", process="apache").targets == ["web9"]
    assert len(as_supervisor) == 5
    with pytest.raises(FaultError, match=r"host 'web9' \(transport ssh\) has address '10.9.9.9'"):
        get_fault("kill-process")(_ssh_cluster(fake, "10.9.9.9"), host="web9", process="apache")


def test_when_the_addresses_cannot_be_listed_the_fault_is_refused(fake: FakeCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> SupervisorIdentity:
        raise TransportError("supervisor", "cannot list this machine's addresses (ip -j addr show): No such file")

    monkeypatch.setattr(supervisor, "discover", broken)
    c = _ssh_cluster(fake, "198.18.0.30")
    with pytest.raises(FaultError, match=r"kill-process: cannot tell whether 'web9' is the machine .*ip -j addr show.*allow_local=True"):
        get_fault("kill-process")(c, host="web9", process="apache")
    assert get_fault("kill-process")(c, host="web9", process="apache", allow_local=True).targets == ["web9"]
