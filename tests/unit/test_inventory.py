"""Cluster file loading: the documented example loads, every error names file, path and field."""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.errors import HarnessError, InventoryError
from harness.inventory import (
    Host,
    Inventory,
    InventoryProblems,
    LatencyBound,
    dump_inventory,
    inventory_from_dict,
    load_inventory,
    write_inventory,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "cluster-file.md"


def _doc_example() -> str:
    m = re.search(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    assert m, "docs/cluster-file.md lost its example"
    return m.group(1)


@pytest.fixture
def good() -> dict[str, Any]:
    return yaml.safe_load(_doc_example())


def _problems(data: Any, source: str = "cluster.yml") -> list[str]:
    with pytest.raises(InventoryError) as info:
        inventory_from_dict(data, source=source)
    assert isinstance(info.value, HarnessError)
    lines = str(info.value).splitlines()
    assert isinstance(info.value, InventoryProblems) and info.value.problems == lines
    return lines


def test_documented_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "cluster.yml"
    path.write_text(_doc_example())
    inv = load_inventory(path)
    assert inv.name == "moodle-prod" and inv.source == str(path)
    assert [h.name for h in inv.with_role("director")] == ["dir1"]
    dir1 = inv.host("dir1")
    assert dir1.domain is not None and dir1.domain.hypervisor == "dom0a"
    ka = dir1.service("keepalived")
    assert ka.manager == "command" and ka.pidfile == "/run/keepalived.pid" and ka.start and ka.stop
    assert ka.transitions == "cat /var/log/keepalived-notify.log"
    assert dir1.service("haproxy").unit == "haproxy.service"
    assert inv.host("web1").service("apache").sysv_name == "apache2"
    assert inv.host("dom0a").hypervisor is not None and inv.host("dom0a").hypervisor.kind == "xl"  # type: ignore[union-attr]
    assert inv.vip("web").path == "/login/index.php" and inv.vip("db").protocol == "mysql"
    assert inv.database.kind == "galera" and inv.database.password_env == "HARNESS_DB_PASSWORD"
    assert inv.slo.latency_ms["fault"] == LatencyBound(p95=2000.0, p99=5000.0)
    # ~ expanded, defaults applied to every host
    home = os.path.expanduser("~")
    assert dir1.ssh.key_file == f"{home}/.ssh/id_ed25519"
    assert inv.host("db1").ssh.known_hosts == f"{home}/.ssh/known_hosts"
    assert dir1.ssh.command_timeout_s == 60.0 and dir1.ssh.keepalive_s == 2.0


def test_per_host_ssh_overrides_merge_with_defaults(good: dict[str, Any]) -> None:
    good["hosts"]["web1"]["ssh"] = {"port": 2222, "key_file": "~/k"}
    inv = inventory_from_dict(good, "cluster.yml")
    web1, db1 = inv.host("web1"), inv.host("db1")
    assert web1.ssh.port == 2222 and web1.ssh.key_file == os.path.expanduser("~/k")
    assert web1.ssh.user == "root" and web1.ssh.connect_timeout_s == 5.0  # from the defaults
    assert db1.ssh.port == 22 and db1.ssh.key_file == os.path.expanduser("~/.ssh/id_ed25519")


def test_minimal_file_gets_defaults() -> None:
    inv = inventory_from_dict({"hosts": {"h": {"address": "10.0.0.1", "roles": ["web"]}}}, "mini.yml")
    assert inv.name == "mini" and inv.host("h").ssh.user == "root" and inv.host("h").transport == "ssh"
    assert inv.vips == {} and inv.slo.availability_percent == 99.0


def test_the_documented_error_message_exactly(good: dict[str, Any]) -> None:
    good["hosts"]["web1"]["roles"] = ["webserver"]
    assert _problems(good) == [
        "cluster.yml: hosts.web1.roles[0]: unknown role 'webserver' (known: client, db, director, fileserver, hypervisor, ldap, mgm, web)"
    ]


def test_all_problems_are_reported_together_one_per_line(good: dict[str, Any]) -> None:
    good["hosts"]["web1"]["roles"] = ["webserver"]
    good["hosts"]["web1"]["bogus"] = 1
    del good["hosts"]["db1"]["address"]
    good["database"]["kind"] = "oracle"
    good["ssh"]["port"] = "22"
    lines = _problems(good)
    assert len(lines) == 5
    assert all(line.startswith("cluster.yml: ") for line in lines)
    joined = "\n".join(lines)
    assert "hosts.web1.bogus: unknown key 'bogus'" in joined
    assert "hosts.db1.address: missing required field" in joined
    assert "database.kind: unknown database kind 'oracle' (known: galera, ndb)" in joined
    assert "ssh.port: expected an integer, got str '22'" in joined


def _mutate(good: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(good)
    *parents, last = path.split(".")
    node = data
    for p in parents:
        node = node[p]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return data


_DELETE = object()

ERROR_CASES = [
    # (field path, new value, expected line after "cluster.yml: ")
    ("surprise", 1, "surprise: unknown key 'surprise' (known: database, directory, hosts, moodle, name, slo, ssh, storage, vips)"),
    ("hosts", _DELETE, "hosts: missing required field"),
    ("hosts", [], "hosts: expected a mapping, got a list"),
    ("hosts.web1", "198.18.0.21", "hosts.web1: expected a mapping, got str '198.18.0.21'"),
    ("hosts.web1.roles", _DELETE, "hosts.web1.roles: missing required field"),
    ("hosts.web1.roles", "web", "hosts.web1.roles: expected a list of roles, got str 'web'"),
    ("hosts.web1.roles", [], "hosts.web1.roles: at least one role is needed"),
    ("hosts.web1.roles", ["web", 3], "hosts.web1.roles[1]: expected a role name, got int 3"),
    ("hosts.web1.address", 42, "hosts.web1.address: expected a non-empty string, got int 42"),
    ("hosts.web1.transport", "telnet", "hosts.web1.transport: unknown transport 'telnet' (known: local, ssh)"),
    ("hosts.web1.ssh", {"prot": 22}, "hosts.web1.ssh.prot: unknown key 'prot'"),
    ("hosts.web1.ssh", {"port": 70000}, "hosts.web1.ssh.port: 70000 is out of range [1, 65535]"),
    ("hosts.web1.ssh", {"insecure_ignore_host_keys": "yes"}, "hosts.web1.ssh.insecure_ignore_host_keys: expected true or false, got str 'yes'"),
    ("ssh.connect_timeout_s", "5s", "ssh.connect_timeout_s: expected a number, got str '5s'"),
    ("ssh.port", True, "ssh.port: expected an integer, got boolean True"),
    ("hosts.web1.services.apache.manager", "upstart", "hosts.web1.services.apache.manager: unknown manager 'upstart' (known: command, systemd, sysv)"),
    ("hosts.web1.services.apache.manager", _DELETE, "hosts.web1.services.apache.manager: missing required field"),
    ("hosts.web1.services.apache.name", _DELETE, "hosts.web1.services.apache.name: missing required field (manager 'sysv' needs name)"),
    ("hosts.db1.services.mariadb.unit", _DELETE, "hosts.db1.services.mariadb.unit: missing required field (manager 'systemd' needs unit)"),
    ("hosts.dir1.services.keepalived.stop", _DELETE, "hosts.dir1.services.keepalived.stop: missing required field (manager 'command' needs start, stop)"),
    ("hosts.dir1.services.haproxy.start", "x", "hosts.dir1.services.haproxy.start: not used by manager 'systemd' (only by 'command')"),
    ("hosts.dir1.services.keepalived.transitions", ["cat", "x"], "hosts.dir1.services.keepalived.transitions: expected a non-empty string, got a list"),
    ("hosts.dir1.domain.hypervisor", "web1", "hosts.dir1.domain.hypervisor: host 'web1' is not a hypervisor (its roles: web)"),
    ("hosts.dir1.domain.hypervisor", "dom9", "hosts.dir1.domain.hypervisor: no host 'dom9' in the inventory (hosts: db1, dir1, dom0a, web1)"),
    ("hosts.dir1.domain", {"name": "dir1"}, "hosts.dir1.domain.hypervisor: missing required field"),
    ("hosts.dom0a.hypervisor.kind", "vmware", "hosts.dom0a.hypervisor.kind: unknown hypervisor kind 'vmware' (known: lab, virsh, xl, xm)"),
    ("hosts.dom0a.hypervisor", _DELETE, "hosts.dom0a.hypervisor: missing required field (role 'hypervisor' needs hypervisor: {kind: ...})"),
    ("hosts.web1.hypervisor", {"kind": "xl"}, "hosts.web1.hypervisor: only a host with role 'hypervisor' may have this section"),
    ("hosts.web1.address", "198.18.0.11", "hosts.web1.address: duplicate address '198.18.0.11' (port 22) also used by hosts.dir1"),
    ("hosts.web1.ndb_node_id", "two", "hosts.web1.ndb_node_id: expected an integer, got str 'two'"),
    ("database.kind", "ndb", "database.kind: kind 'ndb' needs a host with role 'mgm' (it runs ndb_mgm)"),
    ("database.password", "s3cret", "database.password: passwords never appear in the file"),
    ("database.port", "3306", "database.port: expected an integer, got str '3306'"),
    ("vips.web.port", _DELETE, "vips.web.port: missing required field"),
    ("vips.web.protocol", "https", "vips.web.protocol: unknown protocol 'https' (known: http, ldap, mysql, tcp)"),
    ("vips.web.path", "login", "vips.web.path: must start with '/', got 'login'"),
    ("vips.db.address", "198.18.0.21", "vips.db.address: '198.18.0.21' is the fixed address of hosts.web1, not a floating VIP"),
    ("slo.availability_percent", 101, "slo.availability_percent: 101 must be in [0, 100]"),
    ("slo.latency_ms.soak", {"p95": 1}, "slo.latency_ms.soak: unknown key 'soak' (known: fault, recovery, steady)"),
    ("slo.latency_ms.steady", {"p50": 1}, "slo.latency_ms.steady.p50: unknown key 'p50' (known: p95, p99)"),
    ("slo.latency_ms.steady", {"p95": 900, "p99": 800}, "slo.latency_ms.steady: p95 (900) is above p99 (800)"),
    ("name", 7, "name: expected a non-empty string, got int 7"),
]


@pytest.mark.parametrize(("path", "value", "expected"), ERROR_CASES, ids=[c[0] + ":" + c[2][:30] for c in ERROR_CASES])
def test_each_error_names_the_file_path_and_field(good: dict[str, Any], path: str, value: Any, expected: str) -> None:
    lines = _problems(_mutate(good, path, value))
    assert len(lines) == 1, lines
    assert lines[0].startswith("cluster.yml: " + expected), lines[0]


def test_valid_ndb_cluster_with_manager_and_node_ids(good: dict[str, Any]) -> None:
    good["database"]["kind"] = "ndb"
    good["hosts"]["mgm1"] = {"address": "198.18.0.40", "roles": ["mgm"]}
    good["hosts"]["db1"]["ndb_node_id"] = 2
    good["hosts"]["db2"] = {"address": "198.18.0.32", "roles": ["db"], "ndb_node_id": 2}
    assert _problems(good) == ["cluster.yml: hosts.db2.ndb_node_id: duplicate ndb_node_id 2 also used by hosts.db1"]
    good["hosts"]["db2"]["ndb_node_id"] = 3
    inv = inventory_from_dict(good)
    assert inv.database.kind == "ndb" and inv.host("db2").ndb_node_id == 3


def test_lab_hypervisor_must_be_local(good: dict[str, Any]) -> None:
    good["hosts"]["dom0a"]["hypervisor"] = {"kind": "lab", "state_dir": "/tmp/lab"}
    assert _problems(good) == [
        "cluster.yml: hosts.dom0a.transport: a hypervisor of kind 'lab' is the supervisor: transport must be 'local'"
    ]
    good["hosts"]["dom0a"]["transport"] = "local"
    assert inventory_from_dict(good).host("dom0a").transport == "local"
    del good["hosts"]["dom0a"]["hypervisor"]["state_dir"]
    assert _problems(good) == [
        "cluster.yml: hosts.dom0a.hypervisor.state_dir: missing required field (kind 'lab' needs the lab's state directory)"
    ]


def test_vagrant_style_hosts_share_an_address_on_different_ports() -> None:
    data = {
        "hosts": {
            "web1": {"address": "127.0.0.1", "roles": ["web"], "ssh": {"port": 2222}},
            "web2": {"address": "127.0.0.1", "roles": ["web"], "ssh": {"port": 2200}},
        }
    }
    assert len(inventory_from_dict(data).hosts) == 2


def test_not_a_mapping_at_top_level() -> None:
    assert _problems(["hosts"]) == ["cluster.yml: expected a mapping, got a list"]


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yml"
    with pytest.raises(InventoryError, match=f"^{re.escape(str(missing))}: cannot read the cluster file"):
        load_inventory(missing)
    empty = tmp_path / "empty.yml"
    empty.write_text("# nothing\n")
    with pytest.raises(InventoryError, match="empty.yml: the file is empty"):
        load_inventory(empty)
    broken = tmp_path / "broken.yml"
    broken.write_text("hosts: [\n")
    with pytest.raises(InventoryError, match="broken.yml: not valid YAML"):
        load_inventory(broken)


def test_duplicate_yaml_keys_are_errors_not_silently_merged(tmp_path: Path) -> None:
    path = tmp_path / "dup.yml"
    path.write_text(
        "hosts:\n"
        "  web1: {address: 10.0.0.1, roles: [web]}\n"
        "  web1: {address: 10.0.0.2, roles: [web]}\n"
    )
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert str(info.value) == f"{path}: line 3: duplicate key 'web1'"


def test_merge_keys_are_not_duplicates_but_a_repeated_key_next_to_one_is(tmp_path: Path) -> None:
    path = tmp_path / "anchors.yml"
    path.write_text(
        "hosts:\n"
        "  web1: &web {address: 10.0.0.1, roles: [web]}\n"
        "  web2: {<<: *web, address: 10.0.0.2}\n"
    )
    inv = load_inventory(path)
    assert inv.host("web2").address == "10.0.0.2" and inv.host("web2").roles == ("web",)
    path.write_text(
        "hosts:\n"
        "  web1: &web {address: 10.0.0.1, roles: [web]}\n"
        "  web2: {<<: *web, address: 10.0.0.2, address: 10.0.0.3}\n"
    )
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert str(info.value) == f"{path}: line 3: duplicate key 'address'"


def test_error_on_relative_path_shows_the_name_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("cluster.yml").write_text("hosts:\n  web1: {address: 10.0.0.1, roles: [webserver]}\n")
    with pytest.raises(InventoryError, match=r"^cluster\.yml: hosts\.web1\.roles\[0\]: unknown role 'webserver'"):
        load_inventory("cluster.yml")


def test_round_trip_through_dump_and_yaml(tmp_path: Path, good: dict[str, Any]) -> None:
    good["hosts"]["web1"]["ssh"] = {"port": 2222, "insecure_ignore_host_keys": True}
    good["hosts"]["web1"]["ndb_node_id"] = 5
    good["slo"]["latency_ms"]["steady"] = {"p99": 700}
    inv = inventory_from_dict(good, source=str(tmp_path / "cluster.yml"))
    assert inventory_from_dict(dump_inventory(inv), source=inv.source) == inv
    out = write_inventory(inv, tmp_path / "cluster.yml")
    again = load_inventory(out)
    assert again == inv
    # the per-host difference is written as an override, not a full copy
    dumped = dump_inventory(inv)
    assert dumped["hosts"]["web1"]["ssh"] == {"port": 2222, "insecure_ignore_host_keys": True}
    assert "ssh" not in dumped["hosts"]["db1"]
    assert again.slo.latency_ms["steady"] == LatencyBound(p95=None, p99=700.0)


def test_round_trip_of_an_inventory_built_in_code() -> None:
    """The lab builds the model in Python and writes cluster.yml from it."""
    from harness.inventory import Domain, Hypervisor, Service, SshConfig, Vip

    lab_ssh = SshConfig(user="root", port=22, known_hosts="/tmp/lab/known_hosts", command_timeout_s=30.0)
    inv = Inventory(
        name="lab",
        hosts={
            "sup": Host("sup", "10.99.0.1", ("hypervisor", "client"), lab_ssh, transport="local",
                        hypervisor=Hypervisor(kind="lab", state_dir="/tmp/lab")),
            "dir1": Host("dir1", "10.99.0.11", ("director",), lab_ssh, domain=Domain("dir1", "sup"),
                         services={"keepalived": Service("keepalived", "command", start="k", stop="s", pidfile="/p",
                                                          transitions="cat /run/keepalived/notify.log")}),
        },
        vips={"web": Vip("web", "10.99.0.100", 80, "http", "/")},
        source="/tmp/lab/cluster.yml",
    )
    assert inventory_from_dict(dump_inventory(inv), source=inv.source) == inv
