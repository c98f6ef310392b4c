"""ldap-replication-off: the consumer saved on the host and deleted, put back by the heal, which
waits until the server caught up; its shell run for real against stand-in ldapsearch /
ldapmodify; bad input and every refusal named."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from harness.cluster import Cluster
from harness.errors import FaultError
from harness.faults import get_fault
from harness.faults.ldap import LdapReplicationOff
from harness.inventory._model import Directory, Host, Inventory
from harness.testing import FakeCluster

SUFFIX = "dc=lms,dc=lab"
CSN_OLD = "20261207173831.769331Z#000000#001#000000"
CSN_NEW = "20261207173910.016387Z#000000#001#000000"
CSN_2 = "20261207173705.863023Z#000000#002#000000"
#: `ldapsearch -LLL -o ldif-wrap=no` of the lab's mdb database (credentials shortened)
CONSUMER = ("dn: olcDatabase={1}mdb,cn=config\n"
            'olcSyncrepl: {0}rid=001 provider=ldap://198.18.68.51:389/ bindmethod=simple binddn="cn=admin,dc=lms,'
            'dc=lab" credentials="s3cret" searchbase="dc=lms,dc=lab" type=refreshAndPersist retry="1 +"\n'
            "olcMultiProvider: TRUE\n\n")


@pytest.fixture
def fake() -> FakeCluster:
    return FakeCluster()


@pytest.fixture
def cluster(fake: FakeCluster) -> Cluster:
    inv = Inventory(name="t", hosts={"ldap1": Host("ldap1", "198.18.68.51", ("ldap",)),
                                     "ldap2": Host("ldap2", "198.18.68.52", ("ldap",)),
                                     "web1": Host("web1", "198.18.68.21", ("web",))},
                    directory=Directory(kind="openldap", suffix=SUFFIX, people=f"ou=people,{SUFFIX}"))
    return Cluster(inv, transport_factory=lambda host: fake(host.name))


@pytest.fixture
def instant(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [0.0]
    monkeypatch.setattr(LdapReplicationOff, "_clock", staticmethod(lambda: now[0]))
    monkeypatch.setattr(LdapReplicationOff, "_sleep", staticmethod(lambda s: now.__setitem__(0, now[0] + s)))
    return now


def _csns(*csns: str) -> str:
    return f"dn: {SUFFIX}\n" + "".join(f"contextCSN: {c}\n" for c in csns) + "\n"


def test_bad_input_is_named(cluster: Cluster) -> None:
    fault = get_fault("ldap-replication-off")
    with pytest.raises(FaultError, match=r"host 'web1' has no role ldap"):
        fault(cluster, host="web1")
    with pytest.raises(FaultError, match=r"parameter 'saved': 'run/x; rm' is not an absolute plain path"):
        fault(cluster, host="ldap2", saved="run/x; rm")
    with pytest.raises(FaultError, match=r"parameter 'ldapi': 'ldap://x' is not an ldapi:// URL"):
        fault(cluster, host="ldap2", ldapi="ldap://x")
    with pytest.raises(FaultError, match="timeout_s"):
        fault(cluster, host="ldap2", timeout_s=0.0)
    bare = Cluster(Inventory(name="t", hosts={"ldap2": Host("ldap2", "198.18.68.52", ("ldap",))}))
    with pytest.raises(FaultError, match="suffix"):  # no directory: section, no suffix given
        fault(bare, host="ldap2")


def test_inject_runs_the_script_and_a_refusal_before_any_change_leaves_nothing_to_heal(
        cluster: Cluster, fake: FakeCluster) -> None:
    t = fake("ldap2").on(r"^sh -c", (6, "", ""))
    f = get_fault("ldap-replication-off")(cluster, host="ldap2")
    with pytest.raises(FaultError, match=r"host 'ldap2': switching replication off: the database of dc=lms,dc=lab "
                                         r"has no olcSyncrepl"):
        f.inject()
    assert len(t.commands) == 1 and "ldapmodify" in t.commands[0]
    f.heal()  # refused before any change: the heal does nothing
    assert len(t.commands) == 1
    t2 = fake("ldap1").on(r"^sh -c", (3, "", ""))
    with pytest.raises(FaultError, match=r"already exists .*`harness heal` puts it back"):
        get_fault("ldap-replication-off")(cluster, host="ldap1").inject()
    assert len(t2.commands) == 1


def test_heal_puts_it_back_and_waits_until_the_server_caught_up_with_its_peer(
        cluster: Cluster, fake: FakeCluster, instant: list[float]) -> None:
    mine = iter([_csns(CSN_OLD, CSN_2), _csns(CSN_OLD, CSN_2), _csns(CSN_NEW, CSN_2)])
    t = fake("ldap2").on(r"^sh -c", (0, "", "")).on(r"contextCSN", lambda line: (0, next(mine), ""))
    fake("ldap1").on(r"contextCSN", (0, _csns(CSN_2, CSN_NEW), ""))
    f = get_fault("ldap-replication-off")(cluster, host="ldap2", poll_s=1.0)
    f.inject()
    f.heal()
    assert instant[0] == 2.0  # two polls behind, the third caught up
    assert [c.split()[0] for c in t.commands] == ["sh", "sh", "ldapsearch", "ldapsearch", "ldapsearch"]
    assert "-b dc=lms,dc=lab -s base contextCSN" in t.commands[-1]


def test_heal_that_never_catches_up_or_cannot_put_it_back_names_host_and_file(
        cluster: Cluster, fake: FakeCluster, instant: list[float]) -> None:
    fake("ldap2").on(r"^sh -c", (0, "", "")).on(r"contextCSN", (0, _csns(CSN_OLD), ""))
    fake("ldap1").on(r"contextCSN", (0, _csns(CSN_NEW), ""))
    f = get_fault("ldap-replication-off")(cluster, host="ldap2", timeout_s=5.0)
    f.inject()
    with pytest.raises(FaultError, match=r"host 'ldap2': not caught up .* after 5 s \(last: contextCSN differs from "
                                         r"ldap1\)"):
        f.heal()
    exits = iter([0, 7])  # the inject went through; the heal finds no saved file and no consumer
    fake("ldap1").on(r"^sh -c", lambda line: (next(exits), "", ""))
    g = get_fault("ldap-replication-off")(cluster, host="ldap1")
    g.inject()
    with pytest.raises(FaultError, match=r"/run/harness-ldap-replication-off.ldif is missing .* cannot be put back"):
        g.heal()


def _stand_ins(bin_dir: Path, log: Path, search_output: str) -> None:
    """ldapsearch printing ``search_output``; ldapmodify logging its arguments and stdin."""
    bin_dir.mkdir()
    (bin_dir / "search.out").write_text(search_output)
    scripts = {
        "ldapsearch": f"#!/bin/sh\ncat {bin_dir}/search.out\n",
        "ldapmodify": f"#!/bin/sh\necho \"ARGS $*\" >> {log}\nif [ \"$1\" = -Y ]; then cat >> {log}; fi\n",
    }
    for name, text in scripts.items():
        path = bin_dir / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _sh(command: str, bin_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    return subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True, timeout=30, check=False)


def test_the_scripts_save_delete_and_restore_the_consumer_for_real(cluster: Cluster, tmp_path: Path) -> None:
    saved = tmp_path / "saved.ldif"
    log = tmp_path / "modify.log"
    _stand_ins(tmp_path / "bin", log, CONSUMER)
    f = get_fault("ldap-replication-off")(cluster, host="ldap2", saved=str(saved))
    done = _sh(f.inject_command(), tmp_path / "bin")
    assert done.returncode == 0, done.stderr
    assert saved.read_text() == (
        "dn: olcDatabase={1}mdb,cn=config\nchangetype: modify\nadd: olcSyncrepl\n"
        + CONSUMER.splitlines()[1] + "\n-\nreplace: olcMultiProvider\nolcMultiProvider: TRUE\n")
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600  # it holds the replication credentials
    assert log.read_text().endswith("dn: olcDatabase={1}mdb,cn=config\nchangetype: modify\n"
                                    "delete: olcMultiProvider\n-\ndelete: olcSyncrepl\n")
    assert _sh(f.inject_command(), tmp_path / "bin").returncode == 3  # never over an earlier save
    assert _sh(f.heal_command(), tmp_path / "bin").returncode == 0
    assert f"ARGS -Y EXTERNAL -Q -H ldapi:/// -f {saved}" in log.read_text() and not saved.exists()
    # healed already: a consumer is there, nothing to do; none there and no file: exit 7
    assert _sh(f.heal_command(), tmp_path / "bin").returncode == 0
    (tmp_path / "bin" / "search.out").write_text("dn: olcDatabase={1}mdb,cn=config\n\n")
    assert _sh(f.heal_command(), tmp_path / "bin").returncode == 7
    assert _sh(f.inject_command(), tmp_path / "bin").returncode == 6
    (tmp_path / "bin" / "search.out").write_text("")
    assert _sh(f.inject_command(), tmp_path / "bin").returncode == 5
