"""Hostile and broken inventory input: one InventoryError naming the file/field, never a traceback.

NaN and infinity, bad bytes, bad YAML, alias cycles and bombs, deep nesting, oversized files,
huge Ansible ranges, and ssh-config ``Match`` / ``Host`` patterns (issue 10).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from harness.errors import InventoryError
from harness.inventory import (
    InventoryProblems,
    from_ansible,
    from_vagrant_ssh_config,
    inventory_from_dict,
    load_inventory,
)

MAX_INPUT_BYTES = 1024 * 1024  # the documented limit (docs/inventory.md)

MINIMAL = "hosts:\n  web1: {address: 198.18.0.21, roles: [web]}\n"


def _base() -> dict[str, Any]:
    return {"hosts": {"web1": {"address": "198.18.0.21", "roles": ["web"]}}}


def _problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(InventoryProblems) as info:
        inventory_from_dict(data, source="cluster.yml")
    return info.value.problems


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# -- numbers ------------------------------------------------------------------------------------

NON_FINITE = [float("nan"), float("inf"), float("-inf")]


@pytest.mark.parametrize("value", NON_FINITE, ids=repr)
@pytest.mark.parametrize("key", ["connect_timeout_s", "command_timeout_s", "keepalive_s"])
def test_non_finite_ssh_numbers_are_refused_naming_the_field(key: str, value: float) -> None:
    data = _base()
    data["ssh"] = {key: value}
    assert _problems(data) == [f"cluster.yml: ssh.{key}: expected a finite number, got {value!r}"]


@pytest.mark.parametrize(
    "section,key",
    [
        ("slo", "availability_percent"),
        ("slo", "failover_margin_s"),
        ("slo", "max_error_rate_percent"),
        ("slo", "recovery_s"),
        ("slo", "web_failover_s"),
        ("moodle", "timeout_s"),
    ],
)
def test_nan_in_slo_and_moodle_is_refused(section: str, key: str) -> None:
    data = _base()
    data[section] = {key: float("nan")}
    assert _problems(data) == [f"cluster.yml: {section}.{key}: expected a finite number, got nan"]


def test_every_non_finite_field_is_reported_at_once(tmp_path: Path) -> None:
    """From YAML's own spellings (.inf, .nan), through the file loader, all in one error."""
    path = _write(
        tmp_path, "cluster.yml",
        MINIMAL + "  web2:\n    address: 198.18.0.22\n    roles: [web]\n    ssh: {connect_timeout_s: .inf}\n"
        "slo:\n  availability_percent: .nan\n  latency_ms: {steady: {p95: .inf}}\n"
        "moodle:\n  wait_s: {min: .nan, max: .inf}\n",
    )
    with pytest.raises(InventoryProblems) as info:
        load_inventory(path)
    assert sorted(info.value.problems) == sorted([
        f"{path}: hosts.web2.ssh.connect_timeout_s: expected a finite number, got inf",
        f"{path}: slo.availability_percent: expected a finite number, got nan",
        f"{path}: slo.latency_ms.steady.p95: expected a finite number, got inf",
        f"{path}: moodle.wait_s.min: expected a finite number, got nan",
        f"{path}: moodle.wait_s.max: expected a finite number, got inf",
    ])


def test_converter_ssh_defaults_are_checked_too(tmp_path: Path) -> None:
    path = _write(tmp_path, "hosts.ini", "[web]\nweb1\n")
    with pytest.raises(InventoryProblems) as info:
        from_ansible(path, command_timeout_s=float("inf"))
    assert info.value.problems == [f"{path}: hosts.web1.ssh.command_timeout_s: expected a finite number, got inf"]


def test_moodle_account_count_is_bounded() -> None:
    data = _base()
    data["moodle"] = {"accounts": {"count": 10**12}}
    assert _problems(data) == ["cluster.yml: moodle.accounts.count: 1000000000000 is out of range [1, 100000]"]


# -- bytes and structure of a cluster file ----------------------------------------------------


def test_a_cluster_file_that_is_not_utf8_is_one_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "latin1.yml", (MINIMAL + "name: caf\xe9\n").encode("latin-1"))
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert str(info.value) == f"{path}: line 3: not UTF-8 (byte 0xe9 at offset {len(MINIMAL) + 9}); save the cluster file as UTF-8"


def test_yaml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "broken.yml", "hosts:\n  web1: {address: x\n  roles: [web]\n")
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: not valid YAML at line 3, column 8: ")
    assert "\n" not in msg


def test_an_alias_cycle_in_a_cluster_file_is_one_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "cycle.yml", MINIMAL + "vips: &v {x: *v}\n")
    with pytest.raises(InventoryError, match=r"cycle.yml: the YAML at line 3, column 7 contains itself through an alias"):
        load_inventory(path)


def _bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_a_billion_laughs_cluster_file_is_refused_fast(tmp_path: Path) -> None:
    path = _write(tmp_path, "bomb.yml", MINIMAL + "vips:\n  x:\n" + "".join("    " + ln + "\n" for ln in _bomb().splitlines()))
    start = time.monotonic()
    with pytest.raises(InventoryError, match=r"bomb.yml: the YAML at line \d+, column \d+ expands to more than 1000000 nodes"):
        load_inventory(path)
    assert time.monotonic() - start < 2


def test_deep_nesting_is_one_error_not_a_recursion_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "deep.yml", MINIMAL + "name: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(InventoryError, match="deep.yml: the YAML is nested too deeply to read"):
        load_inventory(path)


def test_a_cluster_file_over_the_size_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    path = _write(tmp_path, "huge.yml", MINIMAL + "#" * MAX_INPUT_BYTES + "\n")
    start = time.monotonic()
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert str(info.value) == f"{path}: the cluster file is larger than 1048576 bytes (1 MiB), the most the harness reads"
    assert time.monotonic() - start < 1
    # one byte less is read: the limit is the documented size, not a round number nearby
    path.write_text(MINIMAL + "#" * (MAX_INPUT_BYTES - len(MINIMAL) - 1) + "\n", encoding="utf-8")
    assert load_inventory(path).hosts["web1"].address == "198.18.0.21"


# -- Ansible inventories ------------------------------------------------------------------------


def test_an_ansible_range_over_the_limit_is_refused_naming_the_pattern(tmp_path: Path) -> None:
    path = _write(tmp_path, "hosts.ini", "[web]\nweb1\nweb[0:99999999]\n")
    start = time.monotonic()
    with pytest.raises(InventoryProblems) as info:
        from_ansible(path)
    assert info.value.problems == [
        f"{path}:3: host pattern 'web[0:99999999]' names more than 10000 hosts (the most one pattern may name)"
    ]
    assert time.monotonic() - start < 1


def test_nested_ansible_ranges_count_as_their_product(tmp_path: Path) -> None:
    path = _write(tmp_path, "hosts.yml", "all:\n  children:\n    web:\n      hosts:\n        'w[1:200]-[1:200]':\n")
    with pytest.raises(InventoryProblems, match=r"names more than 10000 hosts"):
        from_ansible(path)


def test_many_patterns_cannot_pass_the_inventory_limit(tmp_path: Path) -> None:
    lines = "".join(f"g{i}-[0:4999]\n" for i in range(3))
    path = _write(tmp_path, "hosts.ini", "[web]\n" + lines)
    with pytest.raises(InventoryError) as info:
        from_ansible(path)
    assert str(info.value) == f"{path}:4: the inventory names more than 10000 hosts (the most the harness reads)"


def test_an_ansible_range_with_step_zero_is_one_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "hosts.ini", "[web]\nweb1\nweb[1:3:0]\n")
    with pytest.raises(InventoryProblems) as info:
        from_ansible(path)
    assert info.value.problems == [f"{path}:3: bad host range '[1:3:0]' in 'web[1:3:0]': the step must be at least 1"]


@pytest.mark.parametrize("name", ["hosts.ini", "hosts.yml"])
def test_an_ansible_inventory_that_is_not_utf8_is_one_error(tmp_path: Path, name: str) -> None:
    body = "[web]\nweb1 ansible_user=jos\xe9\n" if name.endswith(".ini") else "all:\n  hosts:\n    caf\xe9:\n"
    path = _write(tmp_path, name, body.encode("latin-1"))
    line = 2 if name.endswith(".ini") else 3
    with pytest.raises(InventoryError, match=rf"^{path}: line {line}: not UTF-8 \(byte 0xe9 at offset \d+\); save the Ansible inventory as UTF-8$"):
        from_ansible(path)


def test_an_alias_cycle_in_an_ansible_yaml_inventory_is_one_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "hosts.yml", "all:\n  children: &kids\n    web:\n      children: *kids\n")
    with pytest.raises(InventoryError, match=r"hosts.yml: the YAML at line 2, column 13 contains itself through an alias \(a cycle\)"):
        from_ansible(path)


def test_a_billion_laughs_ansible_inventory_is_refused_fast(tmp_path: Path) -> None:
    body = _bomb() + "all:\n  children:\n    web:\n      hosts:\n        web1:\n          ansible_user: *a9\n"
    path = _write(tmp_path, "hosts.yml", body)
    start = time.monotonic()
    with pytest.raises(InventoryError, match=r"hosts.yml: the YAML at line \d+, column \d+ expands to more than 1000000 nodes"):
        from_ansible(path)
    assert time.monotonic() - start < 2


def test_an_ansible_yaml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "hosts.yml", "all:\n  hosts:\n    web1: [\n")
    with pytest.raises(InventoryError) as info:
        from_ansible(path)
    assert str(info.value).startswith(f"{path}: not valid YAML at line 4, column 1: ")
    assert "\n" not in str(info.value)


def test_an_empty_ansible_yaml_inventory_says_so(tmp_path: Path) -> None:
    path = _write(tmp_path, "hosts.yml", "# nothing yet\n")
    with pytest.raises(InventoryError) as info:
        from_ansible(path)
    assert str(info.value) == f"{path}: the file is empty (it needs at least one group, e.g. 'all:')"


def test_an_ansible_inventory_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "hosts.ini", "[web]\nweb1\n" + "#" * MAX_INPUT_BYTES + "\n")
    with pytest.raises(InventoryError) as info:
        from_ansible(path)
    assert str(info.value) == f"{path}: the Ansible inventory is larger than 1048576 bytes (1 MiB), the most the harness reads"


# -- vagrant ssh-config -------------------------------------------------------------------------

TWO = """\
Host web1
  HostName 127.0.0.1
  Port 2222
  User vagrant
Host web2
  HostName 127.0.0.1
  Port 2200
  User vagrant
"""


def test_strict_host_key_checking_under_match_does_not_switch_checking_off() -> None:
    text = TWO.replace("Host web2\n", "Match host web1\n  StrictHostKeyChecking no\nHost web2\n")
    with pytest.raises(InventoryProblems) as info:
        from_vagrant_ssh_config(text)
    assert info.value.problems == [
        "vagrant ssh-config:5: 'Match' blocks are not supported (whether their options apply depends on "
        "criteria the harness does not evaluate); write the options under each 'Host' instead"
    ]


def test_include_is_refused_naming_the_line() -> None:
    with pytest.raises(InventoryProblems, match=r"^vagrant ssh-config:3: 'Include' is not supported"):
        from_vagrant_ssh_config("Host web1\n  HostName 127.0.0.1\n  Include other.conf\n")


def test_a_host_star_block_applies_to_every_machine_as_in_openssh() -> None:
    inv = from_vagrant_ssh_config(TWO + "Host *\n  StrictHostKeyChecking no\n  Port 9999\n")
    # the options of Host * apply to both; the first value wins (each host's own Port)
    assert [h.ssh.insecure_ignore_host_keys for h in inv.hosts.values()] == [True, True]
    assert [h.ssh.port for h in inv.hosts.values()] == [2222, 2200]


def test_a_negated_pattern_excludes_its_host() -> None:
    inv = from_vagrant_ssh_config("Host * !web1\n  StrictHostKeyChecking no\n" + TWO)
    assert inv.hosts["web1"].ssh.insecure_ignore_host_keys is False
    assert inv.hosts["web2"].ssh.insecure_ignore_host_keys is True


def test_question_mark_several_names_and_a_name_repeated_combine_first_value_wins() -> None:
    inv = from_vagrant_ssh_config(
        "Host web1 web2\n  HostName 127.0.0.1\n  User vagrant\nHost web2\n  Port 2202\nHost web?\n  Port 2201\n"
    )
    assert sorted(inv.hosts) == ["web1", "web2"]
    assert {n: (h.address, h.ssh.user, h.ssh.port) for n, h in inv.hosts.items()} == {
        "web1": ("127.0.0.1", "vagrant", 2201),
        "web2": ("127.0.0.1", "vagrant", 2202),
    }


def test_ssh_config_text_over_the_size_limit_is_refused() -> None:
    with pytest.raises(InventoryError) as info:
        from_vagrant_ssh_config(TWO + "#" * MAX_INPUT_BYTES + "\n")
    assert str(info.value) == (
        "vagrant ssh-config: the ssh-config text is larger than 1048576 characters (1 MiB), the most the harness reads"
    )


def test_an_ansible_inventory_over_the_group_limit_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "hosts.ini", "".join(f"[g{i}]\nh{i}\n" for i in range(1001)))
    with pytest.raises(InventoryError) as info:
        from_ansible(path, role_map={f"g{i}": "web" for i in range(1001)})
    assert str(info.value) == f"{path}:2001: the inventory names more than 1000 groups (the most the harness reads)"


def test_many_hosts_under_a_deep_group_chain_convert_in_linear_time(tmp_path: Path) -> None:
    """Group precedence is computed once per set of groups, not per host (hours on main)."""
    chain = "".join(f"[g{i}:children]\ng{i + 1}\n" for i in range(300))
    path = _write(tmp_path, "hosts.ini", chain + "[g0:vars]\nansible_user=deploy\n[g300]\nweb[0:1999]\n")
    start = time.monotonic()
    inv = from_ansible(path, role_map={"g300": "web"})
    assert time.monotonic() - start < 5
    assert len(inv.hosts) == 2000 and inv.hosts["web1999"].ssh.user == "deploy"
