"""The cluster file's ``directory:`` section (issue 13): where the accounts are, who writes the
ledger; every mistake one error naming the field; Ansible groups and Vagrant names map to the
role ``ldap``."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from harness.errors import InventoryError
from harness.inventory import DEFAULT_ROLE_MAP, Directory, dump_inventory, guess_roles, inventory_from_dict


def _doc() -> dict[str, Any]:
    return {
        "hosts": {"web1": {"address": "10.0.0.21", "roles": ["web"]},
                  "ldap1": {"address": "10.0.0.51", "roles": ["ldap"], "services": {"slapd": {"manager": "systemd", "unit": "slapd"}}}},
        "vips": {"ldap": {"address": "10.0.0.110", "port": 389, "protocol": "ldap"}},
        "directory": {"kind": "openldap", "suffix": "dc=lms,dc=lab", "people": "ou=people, DC=lms,dc=lab",
                      "bind_dn": "cn=admin,dc=lms,dc=lab", "bind_password_env": "HARNESS_LDAP_PASSWORD"},
    }


def _problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(InventoryError) as info:
        inventory_from_dict(data, "cluster.yml")
    return str(info.value).splitlines()


def test_the_directory_section_loads_and_round_trips(monkeypatch: pytest.MonkeyPatch) -> None:
    inv = inventory_from_dict(_doc(), "cluster.yml")
    d = inv.directory
    assert d == Directory("openldap", "dc=lms,dc=lab", "ou=people, DC=lms,dc=lab", bind_dn="cn=admin,dc=lms,dc=lab",
                          bind_password_env="HARNESS_LDAP_PASSWORD")
    assert d is not None and d.ledger_parent == "ou=harness,dc=lms,dc=lab"
    assert d.user_dn("student001") == "uid=student001,ou=people, DC=lms,dc=lab"
    assert inv.vip("ldap").protocol == "ldap" and [h.name for h in inv.with_role("ldap")] == ["ldap1"]
    assert inventory_from_dict(dump_inventory(inv), "cluster.yml") == inv
    with pytest.raises(InventoryError, match=r"directory.bind_password_env: environment variable "
                                             r"'HARNESS_LDAP_PASSWORD' is not set"):
        inv.directory_password()
    monkeypatch.setenv("HARNESS_LDAP_PASSWORD", "s3cret")
    assert inv.directory_password() == "s3cret"
    assert inventory_from_dict({"hosts": _doc()["hosts"]}, "c.yml").directory is None


@pytest.mark.parametrize("change, problem", [
    ({"kind": "389ds"}, "directory.kind: unknown directory kind '389ds' (known: openldap)"),
    ({"people": None}, "directory.people: missing required field"),
    ({"suffix": "lms.lab"}, "directory.suffix: 'lms.lab' is not a DN (attribute=value,...)"),
    ({"people": "ou=people,dc=other,dc=lab"},
     "directory.people: 'ou=people,dc=other,dc=lab' is not under the suffix 'dc=lms,dc=lab'"),
    ({"ledger": "dc=lms,dc=lab"}, "directory.ledger: 'dc=lms,dc=lab' is not under the suffix 'dc=lms,dc=lab'"),
    ({"bind_password_env": None}, "directory.bind_password_env: needed with bind_dn (who writes the ledger and "
                                  "reads every server)"),
    ({"password": "x"}, "directory.password: passwords never appear in the file: name an environment variable "
                        "with password_env"),
    ({"port": 0}, "directory.port: 0 is out of range [1, 65535]"),
    ({"user_attribute": "uid)(x"}, "directory.user_attribute: 'uid)(x' is not an attribute name"),
])
def test_a_bad_directory_section_is_one_error_naming_the_field(change: dict[str, Any], problem: str) -> None:
    data = copy.deepcopy(_doc())
    for key, value in change.items():
        if value is None:
            del data["directory"][key]
        else:
            data["directory"][key] = value
    assert _problems(data) == [f"cluster.yml: {problem}"]


def test_a_directory_needs_a_host_with_role_ldap() -> None:
    data = _doc()
    data["hosts"]["ldap1"]["roles"] = ["db"]
    assert _problems(data) == [
        "cluster.yml: directory.kind: kind 'openldap' needs a host with role 'ldap' (it serves the directory)"]


def test_ansible_groups_and_vagrant_names_map_to_the_new_tiers() -> None:
    assert DEFAULT_ROLE_MAP["openldap"] == DEFAULT_ROLE_MAP["ldap_servers"] == "ldap"
    assert DEFAULT_ROLE_MAP["glusterfs"] == DEFAULT_ROLE_MAP["fileservers"] == "fileserver"
    assert guess_roles("ldap2") == ["ldap"] and guess_roles("fs1") == ["fileserver"]
