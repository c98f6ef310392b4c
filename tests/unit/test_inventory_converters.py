"""Ansible (INI and YAML) inventories and `vagrant ssh-config` output into the cluster model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.errors import InventoryError
from harness.inventory import dump_inventory, from_ansible, from_vagrant_ssh_config, inventory_from_dict

INI = """\
# production Moodle
[lvs]
dir1 ansible_host=198.18.0.11
dir2 ansible_host=198.18.0.12 ansible_port=2222

[webservers]
web[1:3] ansible_user=deploy

[galera]
db1 ansible_host=198.18.0.31 ansible_ssh_private_key_file="~/keys/db key"
db2 ansible_host=198.18.0.32

[dbservers:children]
galera

[dbservers:vars]
ansible_user=dba

[all:vars]
ansible_user=root
ansible_port=22

[monitoring]
db1
"""

YAML = """\
all:
  vars:
    ansible_user: root
  children:
    loadbalancers:
      hosts:
        lb1: {ansible_host: 10.0.0.11}
        lb2: {ansible_host: 10.0.0.12}
    moodle:
      hosts:
        web01:
          ansible_host: 10.0.0.21
        web02:
          ansible_host: 10.0.0.22
          ansible_port: 2200
      vars:
        ansible_user: www
    database:
      children:
        ndbd:
          hosts:
            data[a:b]:
      vars:
        ansible_ssh_private_key_file: /keys/db
    ndb_mgmd:
      hosts:
        mgm1: {ansible_host: 10.0.0.40}
    supervisor:
      hosts:
        localhost: {ansible_connection: local}
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_ini_groups_children_and_vars(tmp_path: Path) -> None:
    inv = from_ansible(_write(tmp_path, "hosts.ini", INI), known_hosts="/kh")
    assert sorted(inv.hosts) == ["db1", "db2", "dir1", "dir2", "web1", "web2", "web3"]
    assert inv.name == "hosts" and inv.source.endswith("hosts.ini")
    assert inv.host("dir1").roles == ("director",) and inv.host("dir1").address == "198.18.0.11"
    assert inv.host("dir2").ssh.port == 2222 and inv.host("dir1").ssh.port == 22
    # host var beats group var beats all:vars
    assert inv.host("web2").ssh.user == "deploy" and inv.host("web2").address == "web2"
    # db1 is in galera, a child of dbservers: both map to db; dbservers:vars reaches it
    db1 = inv.host("db1")
    assert db1.roles == ("db",) and db1.ssh.user == "dba"
    assert db1.ssh.key_file == os.path.expanduser("~/keys/db key")
    assert db1.ssh.known_hosts == "/kh" and not db1.ssh.insecure_ignore_host_keys


def test_yaml_inventory_with_ranges_nested_children_and_local(tmp_path: Path) -> None:
    inv = from_ansible(_write(tmp_path, "inventory.yml", YAML), command_timeout_s=30.0)
    assert sorted(inv.hosts) == ["dataa", "datab", "lb1", "lb2", "localhost", "mgm1", "web01", "web02"]
    assert [h.name for h in inv.with_role("director")] == ["lb1", "lb2"]
    assert inv.host("web02").ssh.port == 2200 and inv.host("web02").ssh.user == "www"
    assert inv.host("dataa").roles == ("db",) and inv.host("dataa").ssh.key_file == "/keys/db"
    assert inv.host("mgm1").roles == ("mgm",)
    assert inv.host("localhost").transport == "local" and inv.host("localhost").roles == ("client",)
    assert inv.host("lb1").ssh.command_timeout_s == 30.0
    assert inventory_from_dict(dump_inventory(inv), inv.source) == inv


def test_yaml_detected_without_suffix(tmp_path: Path) -> None:
    inv = from_ansible(_write(tmp_path, "hosts", YAML))
    assert "lb1" in inv.hosts


def test_role_map_overrides_and_extends_defaults(tmp_path: Path) -> None:
    text = "[frontends]\nfe1 ansible_host=10.1.0.1\n[webservers]\nw1 ansible_host=10.1.0.2\n"
    inv = from_ansible(_write(tmp_path, "i.ini", text), role_map={"frontends": "director", "webservers": "client"})
    assert inv.host("fe1").roles == ("director",) and inv.host("w1").roles == ("client",)


def test_host_in_no_mapped_group_is_an_error_naming_it(tmp_path: Path) -> None:
    text = "[webservers]\nw1\n[monitoring]\nmon1\nmon2\n"
    with pytest.raises(InventoryError) as info:
        from_ansible(_write(tmp_path, "i.ini", text))
    lines = str(info.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{tmp_path / 'i.ini'}: host 'mon1' is in no group mapped to a role (its groups: monitoring")
    assert "role_map" in lines[0] and "mon2" in lines[1]


def test_ungrouped_host_and_group_mapped_to_none(tmp_path: Path) -> None:
    text = "loose1\n[web]\nw1\n"
    with pytest.raises(InventoryError, match="host 'loose1' is in no group mapped to a role .its groups: ungrouped"):
        from_ansible(_write(tmp_path, "i.ini", text))
    with pytest.raises(InventoryError, match="host 'w1' is in no group"):
        from_ansible(_write(tmp_path, "j.ini", "[web]\nw1\n"), role_map={"web": None})


def test_ansible_errors_name_file_and_host(tmp_path: Path) -> None:
    text = "[web]\nw1 ansible_port=ssh\nw2 junk\n[bad section\n"
    with pytest.raises(InventoryError) as info:
        from_ansible(_write(tmp_path, "i.ini", text))
    msg = str(info.value)
    assert "i.ini:3: expected key=value, got 'junk'" in msg
    assert "i.ini:4: bad section header" in msg
    assert "host 'w1': ansible_port: expected an integer, got 'ssh'" in msg


def test_unknown_role_in_role_map_and_unknown_default(tmp_path: Path) -> None:
    p = _write(tmp_path, "i.ini", "[web]\nw1\n")
    with pytest.raises(InventoryError, match=r"role_map\['web'\]: unknown role 'frontend'"):
        from_ansible(p, role_map={"web": "frontend"})
    with pytest.raises(InventoryError, match="unknown ssh default.* prot"):
        from_ansible(p, prot=22)


def test_validation_of_the_result_applies(tmp_path: Path) -> None:
    text = "[web]\nw1 ansible_host=10.0.0.5\nw2 ansible_host=10.0.0.5\n"
    with pytest.raises(InventoryError, match="hosts.w2.address: duplicate address '10.0.0.5'"):
        from_ansible(_write(tmp_path, "i.ini", text))


def test_host_key_checking_opt_out_only_when_the_inventory_says_so(tmp_path: Path) -> None:
    text = "[web]\nw1\nw2 ansible_host_key_checking=false\n"
    inv = from_ansible(_write(tmp_path, "i.ini", text))
    assert not inv.host("w1").ssh.insecure_ignore_host_keys
    assert inv.host("w2").ssh.insecure_ignore_host_keys


def test_extra_sections(tmp_path: Path) -> None:
    inv = from_ansible(
        _write(tmp_path, "i.ini", "[web]\nw1 ansible_host=10.0.0.5\n"),
        name="prod",
        extra={"vips": {"web": {"address": "10.0.0.100", "port": 80, "protocol": "http"}}},
    )
    assert inv.name == "prod" and inv.vip("web").port == 80


def test_extra_adds_the_moodle_section_and_refuses_unknown_ones(tmp_path: Path) -> None:
    path = _write(tmp_path, "i.ini", "[web]\nw1 ansible_host=10.0.0.5\n")
    inv = from_ansible(path, extra={"moodle": {"database": "moodle_prod", "table_prefix": "m4_"}})
    assert inv.moodle.database == "moodle_prod" and inv.moodle.forum_posts_table == "m4_forum_posts"
    with pytest.raises(InventoryError, match=r"extra: unknown section\(s\) lms \(known: database, moodle, name, slo, vips\)"):
        from_ansible(path, extra={"lms": {}})


# `vagrant ssh-config` of a 4-machine Vagrantfile (VirtualBox, default insecure key handling)
VAGRANT = """\
Host dir1
  HostName 127.0.0.1
  User vagrant
  Port 2222
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  PasswordAuthentication no
  IdentityFile /home/ci/ha/.vagrant/machines/dir1/virtualbox/private_key
  IdentitiesOnly yes
  LogLevel FATAL
  PubkeyAcceptedKeyTypes +ssh-rsa
  HostKeyAlgorithms +ssh-rsa

Host web1
  HostName 127.0.0.1
  User vagrant
  Port 2200
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  PasswordAuthentication no
  IdentityFile "/home/ci/my ha/.vagrant/machines/web1/virtualbox/private_key"
  IdentitiesOnly yes
  LogLevel FATAL

Host galera1
  HostName 192.168.56.31
  User vagrant
  Port 22
  UserKnownHostsFile ~/.ssh/vagrant_known_hosts
  PasswordAuthentication no
  IdentityFile /home/ci/.vagrant.d/insecure_private_key
  IdentitiesOnly yes

Host ndb-mgm1
  HostName 127.0.0.1
  User vagrant
  Port 2201
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  IdentityFile /home/ci/ha/.vagrant/machines/ndb-mgm1/virtualbox/private_key
"""


def test_vagrant_ssh_config_sample() -> None:
    inv = from_vagrant_ssh_config(VAGRANT, known_hosts="/ignored-when-vagrant-says", command_timeout_s=20.0)
    assert list(inv.hosts) == ["dir1", "web1", "galera1", "ndb-mgm1"]
    dir1 = inv.host("dir1")
    assert dir1.roles == ("director",) and dir1.address == "127.0.0.1"
    assert (dir1.ssh.user, dir1.ssh.port) == ("vagrant", 2222)
    assert dir1.ssh.key_file == "/home/ci/ha/.vagrant/machines/dir1/virtualbox/private_key"
    assert dir1.ssh.insecure_ignore_host_keys  # because vagrant printed StrictHostKeyChecking no
    assert dir1.ssh.command_timeout_s == 20.0
    assert inv.host("web1").ssh.key_file == "/home/ci/my ha/.vagrant/machines/web1/virtualbox/private_key"
    galera = inv.host("galera1")
    assert galera.roles == ("db",) and galera.address == "192.168.56.31"
    assert not galera.ssh.insecure_ignore_host_keys  # vagrant did not say so
    assert galera.ssh.known_hosts == os.path.expanduser("~/.ssh/vagrant_known_hosts")
    assert inv.host("ndb-mgm1").roles == ("mgm",)


def test_vagrant_roles_dict_and_callable() -> None:
    inv = from_vagrant_ssh_config(VAGRANT, roles={"dir1": ["director", "client"]})
    assert inv.host("dir1").roles == ("director", "client") and inv.host("web1").roles == ("web",)
    inv = from_vagrant_ssh_config(VAGRANT, roles=lambda name: ["client"])
    assert {h.roles for h in inv.hosts.values()} == {("client",)}


def test_vagrant_unguessable_name_and_bad_roles_are_errors() -> None:
    text = VAGRANT + "\nHost monitor\n  HostName 127.0.0.1\n  Port 2202\n"
    with pytest.raises(InventoryError, match="host 'monitor': cannot guess its role"):
        from_vagrant_ssh_config(text)
    with pytest.raises(InventoryError, match=r"hosts.dir1.roles\[0\]: unknown role 'lvs'"):
        from_vagrant_ssh_config(VAGRANT, roles={"dir1": ["lvs"]})
    with pytest.raises(InventoryError, match=r"roles\['dir9'\]: no such host"):
        from_vagrant_ssh_config(VAGRANT, roles={"dir9": ["director"]})
    with pytest.raises(InventoryError, match="no 'Host' entries"):
        from_vagrant_ssh_config("")


def test_vagrant_same_forwarded_port_twice_is_a_duplicate() -> None:
    text = "Host web1\n  HostName 127.0.0.1\n  Port 2222\nHost web2\n  HostName 127.0.0.1\n  Port 2222\n"
    with pytest.raises(InventoryError, match="vagrant ssh-config: hosts.web2.address: duplicate address '127.0.0.1' .port 2222."):
        from_vagrant_ssh_config(text)
