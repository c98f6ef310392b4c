"""The lab's auth tier, without a lab: the topology and daemons it adds, each server's cn=config
LDIF (serverID, the peer as syncrepl provider, multi-provider, no password in clear but the
consumer's own credentials), the seed of the LMS's users, the 0600 files slapadd writes, the
sweep of the lab's own slapd processes, the preflight, the CLI, the cluster file, `lab status`."""

from __future__ import annotations

import argparse
import os
import shutil
import stat
from pathlib import Path

import pytest

from harness.errors import LabError
from harness.inventory import inventory_from_dict
from harness.lab import Lab, _ldap
from harness.lab._cli import format_status, register
from harness.lab._ldap import (
    MDB_MAXSIZE,
    PEOPLE_DN,
    ROOT_DN,
    SUFFIX,
    account_names,
    config_ldif,
    make_config,
    our_slapd_processes,
    seed_ldif,
    server_id,
    slapd_argv,
    ssha,
    ssha_matches,
    syncrepl_value,
)
from harness.lab._paths import LabPaths
from harness.lab._preflight import missing_packages
from harness.lab._records import LabStatus
from harness.lab._services import host_daemons
from harness.lab._status import add_ldap
from harness.lab._topology import Topology, build_topology
from harness.parsers.ldap import parse_ldif

NAME, SUBNET = "lt", "198.18.70.0/24"
PASSWORD = "s3cret-root-pw"


def _topo() -> Topology:
    return build_topology(NAME, SUBNET, auth_tier="openldap")


def _entry(ldif: str, dn: str) -> dict[str, list[str]]:
    entries = {e["dn"][0]: e for e in parse_ldif(ldif)}
    return entries[dn]


def test_the_auth_tier_adds_ldap1_ldap2_and_is_off_by_default() -> None:
    plain = build_topology(NAME, SUBNET)
    assert plain.auth_tier == "none" and plain.with_role("ldap") == []
    topo = _topo()
    assert [(h.name, h.address, h.netns, h.roles) for h in topo.with_role("ldap")] == [
        ("ldap1", "198.18.70.51", "hlab-lt-ldap1", ("ldap",)), ("ldap2", "198.18.70.52", "hlab-lt-ldap2", ("ldap",))]
    assert set(plain.hosts) < set(topo.hosts)
    # every address distinct: the hosts, the web and db VIPs and the auth tier's LDAP VIP
    assert len({h.address for h in topo.hosts.values()} | set(topo.vips.values())) == len(topo.hosts) + 3
    assert (set(plain.vips), topo.vips["ldap"]) == ({"web", "db"}, "198.18.70.102")
    both = build_topology(NAME, SUBNET, "gluster", "openldap")
    assert {"fs1", "ldap2"} <= set(both.hosts)
    with pytest.raises(LabError, match="auth_tier 'ad'"):
        build_topology(NAME, SUBNET, auth_tier="ad")
    with pytest.raises(LabError, match="auth_tier 'krb'"):
        Lab(NAME, SUBNET, auth_tier="krb")


def test_slapd_runs_on_ldap_hosts_only() -> None:
    topo = _topo()
    assert host_daemons(topo.host("ldap2")) == ["sshd", "slapd"]
    assert host_daemons(topo.host("web1")) == ["sshd", "apache"]


def test_server_ids_come_from_the_host_name() -> None:
    assert (server_id("ldap1"), server_id("ldap2")) == (1, 2)
    with pytest.raises(LabError, match="web1: not an ldap host"):
        server_id("web1")


@pytest.mark.parametrize("host,peer,sid,rid", [("ldap1", "198.18.70.52", "1", "002"),
                                                ("ldap2", "198.18.70.51", "2", "001")])
def test_each_servers_config_replicates_from_its_peer(host: str, peer: str, sid: str, rid: str) -> None:
    topo = _topo()
    ldif = config_ldif(topo, topo.host(host), PASSWORD)
    glob = _entry(ldif, "cn=config")
    assert glob["olcserverid"] == [sid]
    assert glob["olcpidfile"] == ["/run/slapd/slapd.pid"]
    mdb = _entry(ldif, "olcDatabase={1}mdb,cn=config")
    assert mdb["olcsuffix"] == [SUFFIX] and mdb["olcrootdn"] == [ROOT_DN]
    assert mdb["olcdbmaxsize"] == [str(MDB_MAXSIZE)] and MDB_MAXSIZE == 64 * 1024 * 1024
    assert mdb["olcdbdirectory"] == [f"/var/lib/hlab-{NAME}-{host}-slapd/data"]
    assert mdb["olcmultiprovider"] == ["TRUE"]
    [sync] = mdb["olcsyncrepl"]
    assert sync.startswith(f"{{0}}rid={rid} provider=ldap://{peer}:389/ ")
    assert "type=refreshAndPersist" in sync and 'retry="1 +"' in sync and f'searchbase="{SUFFIX}"' in sync
    assert "timeout=" in sync and "network-timeout=" in sync
    overlay = _entry(ldif, "olcOverlay={0}syncprov,olcDatabase={1}mdb,cn=config")
    assert "olcSyncProvConfig" in overlay["objectclass"]
    assert _entry(ldif, "cn=module{0},cn=config")["olcmoduleload"] == ["back_mdb", "syncprov"]
    assert {"core", "cosine", "inetorgperson"} <= {e.get("cn", [""])[0] for e in parse_ldif(ldif)}
    # the rootdn's password only as its salted hash; in clear only as the consumer's credentials
    [rootpw] = mdb["olcrootpw"]
    assert rootpw.startswith("{SSHA}") and ssha_matches(PASSWORD, rootpw)
    assert ldif.count(PASSWORD) == 1 and f'credentials="{PASSWORD}"' in sync
    # userPassword: nobody reads it but the server's own root; anonymous may bind with it
    assert mdb["olcaccess"][0].startswith("{0}to attrs=userPassword ") and "by anonymous auth" in mdb["olcaccess"][0]
    assert "by * none" in mdb["olcaccess"][0]


def test_a_lab_without_a_peer_or_a_password_with_a_quote_is_refused() -> None:
    topo = _topo()
    with pytest.raises(LabError, match="quote"):
        syncrepl_value(topo.host("ldap2"), 'pa"ss')
    plain = build_topology(NAME, SUBNET)
    with pytest.raises(LabError, match="no peer ldap host"):
        config_ldif(plain, plain.host("web1"), PASSWORD)


def test_ssha_is_what_slappasswd_makes() -> None:
    hashed = ssha("LabStudent-1", b"12345678")
    assert hashed == ssha("LabStudent-1", b"12345678") and hashed.startswith("{SSHA}")
    assert ssha_matches("LabStudent-1", hashed) and not ssha_matches("LabStudent-2", hashed)
    assert ssha("x") != ssha("x")  # a new salt each time


def test_the_seed_is_the_lms_users_under_ou_people_with_hashed_passwords() -> None:
    users = account_names()
    assert users[0] == "student001" and users[-1] == "student200" and len(users) == 200
    seed = (Path(_ldap.__file__).parent / "lms" / "seed.sql").read_text()
    assert "student001..student200" in seed and '"LabStudent-1"' in seed  # what the LMS has
    entries = parse_ldif(seed_ldif(users[:3], "LabStudent-1"))
    assert [e["dn"][0] for e in entries] == [SUFFIX, PEOPLE_DN] + [f"uid={u},{PEOPLE_DN}" for u in users[:3]]
    person = entries[2]
    assert person["objectclass"] == ["inetOrgPerson"] and person["uid"] == ["student001"]
    assert person["mail"] == ["student001@lab.invalid"] and person["sn"] == ["001"]
    assert ssha_matches("LabStudent-1", person["userpassword"][0])
    assert "LabStudent-1" not in seed_ldif(users, "LabStudent-1")


def test_slapd_listens_on_its_own_address_and_a_local_socket_in_the_foreground() -> None:
    argv = slapd_argv(NAME, _topo().host("ldap1"))
    assert argv[:3] == ["/usr/sbin/slapd", "-d", "0"]
    assert argv[argv.index("-h") + 1] == "ldap://198.18.70.51:389/ ldapi://%2Frun%2Fslapd%2Fldapi/"
    assert argv[argv.index("-F") + 1] == f"/var/lib/hlab-{NAME}-ldap1-slapd/config"


@pytest.mark.skipif(not os.path.exists("/usr/sbin/slapadd"), reason="slapd not installed (scripts/setup installs it)")
def test_the_config_slapadd_makes_keeps_the_password_in_0600_files_only(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    topo = _topo()
    base = tmp_path / "slapd"
    monkeypatch.setattr(_ldap, "slapd_dir", lambda lab, host: str(base / host))
    paths = LabPaths(tmp_path / "state")
    paths.secrets.mkdir(parents=True)
    paths.ldap_admin_password_file.write_text(PASSWORD)
    assert make_config(topo, topo.host("ldap1"), paths) == "cn=config made"
    assert make_config(topo, topo.host("ldap1"), paths) == "cn=config kept"
    assert stat.S_IMODE((base / "ldap1").stat().st_mode) == 0o700
    holders = []
    for root, _dirs, files in os.walk(base):
        for name in files:
            path = Path(root) / name
            if PASSWORD in path.read_text(errors="replace"):
                holders.append(path)
                assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    assert [p.name for p in holders] == ["olcDatabase={1}mdb.ldif"]
    assert not (base / "ldap1" / "config.new").exists()
    shutil.rmtree(base)


def test_only_the_labs_own_slapd_processes_are_found(tmp_path: Path) -> None:
    def proc(pid: int, *argv: str) -> None:
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")

    proc(10, "/usr/sbin/slapd", "-d", "0", "-F", "/var/lib/hlab-lt-ldap1-slapd/config")
    proc(11, "/usr/sbin/slapd", "-F", "/var/lib/hlab-other-ldap1-slapd/config")
    proc(12, "/usr/sbin/slapd", "-F", "/etc/ldap/slapd.d")
    proc(13, "vi", "/var/lib/hlab-lt-ldap2-slapd/config")
    (tmp_path / "self").mkdir()
    assert [p for p, _ in our_slapd_processes("lt", ["ldap1", "ldap2"], str(tmp_path))] == [10]


def test_preflight_asks_for_slapd_only_for_a_lab_with_the_auth_tier() -> None:
    no_ldap = lambda p: "ldap" not in p and "slap" not in p  # noqa: E731
    assert missing_packages(exists=no_ldap) == []
    assert missing_packages(exists=no_ldap, auth_tier="openldap") == ["ldap-utils", "slapd"]


def test_the_cli_takes_auth_tier_default_none() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    assert parser.parse_args(["lab", "up"]).auth_tier == "none"
    assert parser.parse_args(["lab", "up", "--auth-tier", "openldap"]).auth_tier == "openldap"
    with pytest.raises(SystemExit):
        parser.parse_args(["lab", "up", "--auth-tier", "ad"])


def test_the_lab_cluster_file_has_the_ldap_hosts_only_with_the_auth_tier(tmp_path: Path) -> None:
    lab = Lab(NAME, SUBNET, state_dir=tmp_path, directors="haproxy", auth_tier="openldap")
    inv = inventory_from_dict(lab.inventory_dict(), "cluster.yml")
    assert [h.name for h in inv.with_role("ldap")] == ["ldap1", "ldap2"]
    slapd = inv.host("ldap2").services["slapd"]
    assert slapd.start is not None and slapd.start.endswith("ldap2 start slapd")
    assert slapd.process == "slapd" and slapd.pidfile == "/run/slapd/slapd.pid"
    # the directory: section (docs/cluster-file.md) names the tier's tree and bind identity
    assert inv.directory is not None
    assert (inv.directory.kind, inv.directory.suffix, inv.directory.people) == ("openldap", SUFFIX, PEOPLE_DN)
    assert (inv.directory.bind_dn, inv.directory.bind_password_env) == (ROOT_DN, "HARNESS_LDAP_PASSWORD")
    assert inv.directory.user_dn("student007") == f"uid=student007,{PEOPLE_DN}"
    plain = Lab(NAME, SUBNET, state_dir=tmp_path, directors="haproxy").inventory_dict()
    assert "ldap1" not in plain["hosts"] and "directory" not in plain
    assert PASSWORD not in str(lab.inventory_dict())


def test_lab_status_shows_each_slapd_and_names_one_down() -> None:
    st = LabStatus(name=NAME, state_dir="/s", built=True, hosts={"ldap1": "running", "ldap2": "running"},
                   ssh={"ldap1": True, "ldap2": True})
    add_ldap(st, "ldap1", {"slapd": "up", "pid": 8, "context_csn": ["20261207141929.143322Z#000000#001#000000"]})
    add_ldap(st, "ldap2", "error: ldap2: `ldapsearch` timed out")
    assert st.problems == ["ldap2: slapd error: ldap2: `ldapsearch` timed out"]
    assert st.ldap["ldap2"]["slapd"] == "down" and st.to_dict()["ldap"]["ldap1"]["pid"] == 8
    text = format_status(st)
    assert "slapd up pid=8 contextCSN=20261207141929.143322Z#000000#001#000000" in text
    assert "ldap2" in text and "slapd down pid=-" in text
