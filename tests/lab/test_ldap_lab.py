"""The lab's auth tier (issue 13, first piece): OpenLDAP multi-provider on ldap1 and ldap2, on a
lab of its own (``--auth-tier openldap``).

- both slapd up (`lab status`: up, a pid, the contextCSN), and in the cluster file as hosts with
  role ``ldap`` and service ``slapd``;
- a seeded LMS user binds on each server (from the client host, over the lab network); a wrong
  password does not;
- replication both ways: an entry added on ldap1 appears on ldap2, one added on ldap2 appears on
  ldap1, each waited for with a bound (the FIGURE lines say how long it took); the new user
  binds on the server it was not added on;
- afterwards both servers' contextCSN agree, with a CSN of each serverID;
- at the end the lab is torn down and no slapd process of the lab is left.
"""

from __future__ import annotations

import os
import stat
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.inventory import load_inventory
from harness.lab import LMS_STUDENT_PASSWORD, Lab
from harness.lab._auth_tier import admin_modify, context_csns, csns_disagree, people, user_dn, whoami
from harness.lab._inventory import LDAP_PASSWORD_ENV
from harness.lab._ldap import ldap_url, our_slapd_processes, person_ldif
from harness.parsers.ldap import context_csns_agree
from harness.probes.ldap import check_directory

from .conftest import own_lab, own_lab_marks, wait_until

#: skipped only where no lab runs at all; a machine without slapd fails (the preflight names
#: the packages): scripts/setup installs slapd and ldap-utils, so this test must run
pytestmark = own_lab_marks("ldap lab")

NAME, SUBNET = "ld", "198.18.70.0/24"
SERVERS = ("ldap1", "ldap2")
#: a replicated entry must be on the peer within this (measured well under a second)
REPLICATION_BOUND_S = 30.0


def _say(msg: str) -> None:
    sys.stderr.write(f"ldap: {msg}\n")


def _figure(msg: str) -> None:
    sys.stdout.write(f"\nFIGURE {msg}\n")
    sys.stdout.flush()


@pytest.fixture(scope="module")
def ld_lab() -> Iterator[Lab]:
    lab = Lab(NAME, SUBNET, directors="haproxy", auth_tier="openldap")
    yield from own_lab(lab, _say, "ldap")
    # own_lab tore it down and found no netns, link or state dir; the auth tier's own leftovers:
    assert our_slapd_processes(NAME, list(SERVERS)) == []


def test_both_slapd_are_up_and_in_the_cluster_file(ld_lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    st = ld_lab.status()
    assert st.healthy, st.problems
    for h in SERVERS:
        assert st.ldap[h]["slapd"] == "up" and isinstance(st.ldap[h]["pid"], int), st.ldap[h]
        assert st.ldap[h]["context_csn"], st.ldap[h]
    inv = load_inventory(ld_lab.inventory_path)
    assert [h.name for h in inv.with_role("ldap")] == list(SERVERS)
    for h in SERVERS:
        svc = inv.host(h).services["slapd"]
        assert svc.process == "slapd" and svc.start is not None and svc.start.endswith(f"{h} start slapd")
    # the directory: section is usable as the harness uses it: every server takes the bind
    # identity and holds the suffix and the accounts (no LDAP VIP in the lab yet)
    monkeypatch.setenv(LDAP_PASSWORD_ENV, ld_lab.paths.ldap_admin_password_file.read_text())
    check_directory(inv, vip=None, guard=ld_lab.guard)


def test_the_rootdn_password_is_only_in_the_0600_secret_and_each_servers_own_config(ld_lab: Lab) -> None:
    """Every file of the lab's state dir (the hosts' disks with it) holding the password: the
    secret itself and each server's mdb config entry (the consumer's credentials), all 0600,
    the config under a 0700 directory; the cluster file and the logs do not."""
    secret = ld_lab.paths.ldap_admin_password_file.read_bytes()
    assert len(secret) >= 32 and b"\n" not in secret
    holders = []
    for root, _dirs, files in os.walk(ld_lab.state_dir):
        for name in files:
            path = Path(root) / name
            try:
                if path.is_file() and secret in path.read_bytes():
                    holders.append(path)
            except OSError:
                continue
    names = sorted(str(p.relative_to(ld_lab.state_dir)) for p in holders)
    assert names == ["hosts/ldap1/disk/var/lib/hlab-ld-ldap1-slapd/config/cn=config/olcDatabase={1}mdb.ldif",
                     "hosts/ldap2/disk/var/lib/hlab-ld-ldap2-slapd/config/cn=config/olcDatabase={1}mdb.ldif",
                     "secrets/ldap_admin_password"], names
    for path in holders:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for h in SERVERS:
        base = ld_lab.state_dir / f"hosts/{h}/disk/var/lib/hlab-ld-{h}-slapd"
        assert stat.S_IMODE(base.stat().st_mode) == 0o700, base


@pytest.mark.parametrize("server", SERVERS)
def test_a_seeded_user_binds_on_each_server(ld_lab: Lab, server: str) -> None:
    assert whoami(ld_lab, "client", "student042", LMS_STUDENT_PASSWORD, server=server) == user_dn("student042")
    proc = ld_lab.exec("client", ["ldapwhoami", "-x", "-H", ldap_url(ld_lab.topo.host(server)),
                                  "-D", user_dn("student042"), "-w", "not-the-password", "-o", "nettimeout=5"],
                       timeout=15)
    assert proc.returncode == 49, (proc.returncode, proc.stderr)  # invalidCredentials


def _add_user_and_wait(lab: Lab, on: str, peer: str) -> str:
    uid = f"t{uuid.uuid4().hex[:10]}"
    password = f"pw-{uuid.uuid4().hex[:8]}"
    t0 = time.monotonic()
    admin_modify(lab, on, person_ldif(uid, password))
    wait_until(f"uid={uid} added on {on} appears on {peer}", lambda: uid in people(lab, peer),
               timeout=REPLICATION_BOUND_S, interval=0.05,
               evidence=lambda: f"{on}: {sorted(context_csns(lab, on).items())}\n"
                                f"{peer}: {sorted(context_csns(lab, peer).items())}")
    _figure(f"ldap replication {on} -> {peer}: {time.monotonic() - t0:.3f}s from ldapadd to visible")
    # the password came with it: the new user binds on the server it was not added on
    assert whoami(lab, "client", uid, password, server=peer) == user_dn(uid)
    return uid


def test_an_entry_added_on_either_server_appears_on_the_other(ld_lab: Lab) -> None:
    _add_user_and_wait(ld_lab, "ldap1", "ldap2")
    _add_user_and_wait(ld_lab, "ldap2", "ldap1")
    # both servers' contextCSN agree afterwards, and each server's own writes are in them
    wait_until("contextCSN agree on ldap1 and ldap2", lambda: csns_disagree(ld_lab, list(SERVERS)) == "",
               timeout=REPLICATION_BOUND_S, evidence=lambda: csns_disagree(ld_lab, list(SERVERS)))
    one, two = context_csns(ld_lab, "ldap1"), context_csns(ld_lab, "ldap2")
    assert context_csns_agree(one, two) and set(one) == {1, 2}, (one, two)


def test_a_server_destroyed_and_started_again_catches_up_from_its_peer(ld_lab: Lab) -> None:
    """The power-cord pull of ldap2: an entry added on ldap1 meanwhile is on ldap2 once it is
    back (its cn=config and database kept on its own disk, syncrepl retrying every second)."""
    ld_lab.domain("destroy", "ldap2")
    uid, password = f"t{uuid.uuid4().hex[:10]}", f"pw-{uuid.uuid4().hex[:8]}"
    admin_modify(ld_lab, "ldap1", person_ldif(uid, password))
    t0 = time.monotonic()
    ld_lab.domain("start", "ldap2")
    started = time.monotonic() - t0
    wait_until(f"uid={uid} added on ldap1 while ldap2 was down appears on ldap2",
               lambda: uid in people(ld_lab, "ldap2"), timeout=REPLICATION_BOUND_S, interval=0.05)
    _figure(f"ldap catch-up after a destroy of ldap2: start {started:.2f}s, then on ldap2 "
            f"{time.monotonic() - t0 - started:.3f}s later")
    assert whoami(ld_lab, "client", uid, password, server="ldap2") == user_dn(uid)
    wait_until("contextCSN agree after the catch-up", lambda: csns_disagree(ld_lab, list(SERVERS)) == "",
               timeout=REPLICATION_BOUND_S, evidence=lambda: csns_disagree(ld_lab, list(SERVERS)))
    st = ld_lab.status()
    assert st.ldap["ldap2"]["slapd"] == "up" and st.healthy, st.problems
