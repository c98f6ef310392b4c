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
- the LDAP VIP (issue 13, next piece): the cluster file's directory checks out through it, a
  bind probe through it binds every time (FIGURE: its latency p50/p99); the lab LMS logs in
  through LDAP on the web VIP (``X-Lab-Auth`` names the LDAP VIP), and a password changed in
  the directory is the one the next login checks; with slapd on ldap1 (the server HAProxy
  sends to) killed, binds through the VIP work again within a bound (FIGURE: the outage as
  ldap_availability judges the probe's history), and ldap1 started again rejoins;
- at the end the lab is torn down and no slapd process of the lab is left.

The lab's name and subnet: ``ld`` 198.18.70.0/24, or HARNESS_LDAP_LAB_NAME and
HARNESS_LDAP_LAB_SUBNET (two checkouts testing at once each take their own); its directors
HAProxy, or HARNESS_LDAP_LAB_DIRECTORS=lvs.
"""

from __future__ import annotations

import collections
import os
import re
import stat
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from harness.checkers import Validity
from harness.checkers.ldap import ldap_availability
from harness.history import HistoryRecorder
from harness.inventory import load_inventory
from harness.lab import LMS_STUDENT_PASSWORD, Lab
from harness.lab._auth_tier import (
    admin_modify,
    context_csns,
    csns_disagree,
    ldap_client,
    people,
    user_dn,
    whoami,
)
from harness.lab._inventory import LDAP_PASSWORD_ENV
from harness.lab._ldap import ROOT_DN, ldap_url, our_slapd_processes, person_ldif
from harness.lab._services import DAEMONS
from harness.parsers.ldap import context_csns_agree
from harness.probes.ldap import LdapBindProbe, check_directory, vip_endpoint

from .conftest import own_lab, own_lab_marks, wait_until

#: skipped only where no lab runs at all; a machine without slapd fails (the preflight names
#: the packages): scripts/setup installs slapd and ldap-utils, so this test must run
pytestmark = own_lab_marks("ldap lab")

NAME = os.environ.get("HARNESS_LDAP_LAB_NAME", "ld")
SUBNET = os.environ.get("HARNESS_LDAP_LAB_SUBNET", "198.18.70.0/24")
#: haproxy (the default); lvs runs the same checks against keepalived + IPVS directors
DIRECTORS = os.environ.get("HARNESS_LDAP_LAB_DIRECTORS", "haproxy")
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
    lab = Lab(NAME, SUBNET, directors=DIRECTORS, auth_tier="openldap")
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
    # the directory: section is usable as the harness uses it: every server and the LDAP VIP
    # take the bind identity and hold the suffix and the accounts
    assert inv.vip("ldap").address == ld_lab.topo.vips["ldap"] and inv.vip("ldap").protocol == "ldap"
    assert st.vip_holders["ldap"] == ["dir1"], st.vip_holders
    monkeypatch.setenv(LDAP_PASSWORD_ENV, ld_lab.paths.ldap_admin_password_file.read_text())
    check_directory(inv, guard=ld_lab.guard)


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
    assert names == [f"hosts/ldap1/disk/var/lib/hlab-{NAME}-ldap1-slapd/config/cn=config/olcDatabase={{1}}mdb.ldif",
                     f"hosts/ldap2/disk/var/lib/hlab-{NAME}-ldap2-slapd/config/cn=config/olcDatabase={{1}}mdb.ldif",
                     "secrets/ldap_admin_password"], names
    for path in holders:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for h in SERVERS:
        base = ld_lab.state_dir / f"hosts/{h}/disk/var/lib/hlab-{NAME}-{h}-slapd"
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
    _wait_healthy(ld_lab, "ldap2 back")  # HAProxy's check: ldap2 UP again after rise 2
    assert ld_lab.status().ldap["ldap2"]["slapd"] == "up"


def _wait_healthy(lab: Lab, what: str) -> None:
    wait_until(f"lab healthy ({what})", lambda: lab.status().healthy, timeout=30, interval=0.2,
               evidence=lambda: "; ".join(lab.status().problems))


# -- the LDAP VIP -------------------------------------------------------------------------------
#: users the bind probes log in as (not the one whose password a test changes)
PROBE_USERS = [f"student{n:03d}" for n in range(2, 12)]
#: binds through the VIP must work again within this after the server behind it is killed
#: (HAProxy: fall 2 checks, 1 s then 200 ms apart, then the backup; measured ~1-2 s)
FAILOVER_BOUND_S = 15.0


def _bind_probe(lab: Lab, history: HistoryRecorder, count: int, rate_hz: float = 20.0) -> LdapBindProbe:
    inv = load_inventory(lab.inventory_path)
    return LdapBindProbe(history, vip_endpoint(inv), [(user_dn(u), LMS_STUDENT_PASSWORD) for u in PROBE_USERS],
                         rate_hz=rate_hz, max_count=count, max_duration_s=count / rate_hz + 30, timeout_s=1.0,
                         guard=lab.guard)


def _latencies(history: HistoryRecorder) -> list[float]:
    return [float(op.extra["latency_ms"]) for op in history.ops() if op.type == "ok" and "latency_ms" in op.extra]


def test_binds_through_the_ldap_vip_all_succeed(ld_lab: Lab) -> None:
    history = HistoryRecorder()
    probe = _bind_probe(ld_lab, history, count=200).start()
    assert probe.join(timeout=60), "ldap-probe did not finish"
    assert probe.counts == {"ok": 200, "fail": 0, "info": 0}, probe.counts
    lat = sorted(_latencies(history))
    q = statistics.quantiles(lat, n=100)
    _figure(f"ldap bind through the VIP ({DIRECTORS}, {len(lat)} binds at 20 Hz): p50 {q[49]:.2f} ms, p99 {q[98]:.2f} ms, "
            f"max {lat[-1]:.2f} ms")
    assert ldap_availability(history.ops(), max_outage_s=0).valid is Validity.VALID


def _lms_login(lab: Lab, user: str, password: str) -> requests.Response:
    """The lab LMS's login through the web VIP (form, then POST): the POST's answer, unfollowed."""
    web = lab.topo.vips["web"]
    s = requests.Session()
    s.trust_env = False  # no proxy between the test and the lab
    page = s.get(f"http://{web}/login/index.php", timeout=10)
    token = re.search(r'name="logintoken"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="logintoken"', page.text)
    assert token, page.text[:300]
    return s.post(f"http://{web}/login/index.php", allow_redirects=False, timeout=10,
                  data={"anchor": "", "logintoken": next(g for g in token.groups() if g), "username": user,
                        "password": password})


def _logged_in(r: requests.Response) -> bool:
    return r.status_code == 303 and "testsession=" in r.headers.get("Location", "")


def test_the_lms_logs_in_through_the_ldap_vip(ld_lab: Lab) -> None:
    r = _lms_login(ld_lab, "student042", LMS_STUDENT_PASSWORD)
    assert _logged_in(r), (r.status_code, r.headers)
    assert r.headers["X-Lab-Auth"] == f"ldap ldap://{ld_lab.topo.vips['ldap']}", r.headers
    refused = _lms_login(ld_lab, "student042", "not-the-password")
    assert not _logged_in(refused) and refused.headers["X-Lab-Auth"].startswith("ldap ldap://"), refused.headers


def _set_password(lab: Lab, uid: str, password: str) -> None:
    """``ldappasswd`` as the rootdn on ldap1 (the password on stdin's file, never argv)."""
    ldap_client(lab, "ldap1", ["ldappasswd", "-x", "-H", ldap_url(lab.topo.host("ldap1")), "-o", "nettimeout=5",
                               "-D", ROOT_DN, "-y", str(lab.paths.ldap_admin_password_file), "-T", "/dev/stdin",
                               user_dn(uid)], input=password)


def test_a_password_changed_in_the_directory_is_the_next_lms_logins(ld_lab: Lab) -> None:
    uid, new = "student150", f"New-{uuid.uuid4().hex[:10]}"
    _set_password(ld_lab, uid, new)
    try:
        old = _lms_login(ld_lab, uid, LMS_STUDENT_PASSWORD)
        assert not _logged_in(old), (old.status_code, old.headers)
        assert _logged_in(_lms_login(ld_lab, uid, new))
    finally:
        _set_password(ld_lab, uid, LMS_STUDENT_PASSWORD)
    assert _logged_in(_lms_login(ld_lab, uid, LMS_STUDENT_PASSWORD))


def test_binds_through_the_vip_survive_the_server_behind_it_killed(ld_lab: Lab) -> None:
    """SIGKILL of ldap1's slapd (the directors' active server) under a bind probe: binds
    through the VIP work again within FAILOVER_BOUND_S (HAProxy's ldap-check, or keepalived's
    MISC_CHECK, takes ldap1 out; ldap2 takes over); ldap1 started again is back in."""
    history = HistoryRecorder()
    probe = _bind_probe(ld_lab, history, count=20 * 60).start()
    try:
        wait_until("the probe's first binds", lambda: probe.counts["ok"] >= 20, timeout=10, interval=0.05)
        pidfile = DAEMONS["slapd"].pidfile
        ld_lab.exec("ldap1", ["sh", "-c", f"kill -9 $(cat {pidfile})"], timeout=10, check=True)
        killed_ok = probe.counts["ok"]
        # back: 20 binds in a row after the kill (ok grew by 20 with no failure among them)
        wait_until("binds through the LDAP VIP after ldap1's slapd was killed",
                   lambda: probe.counts["ok"] >= killed_ok + 20 and _last_ok(history, 20),
                   timeout=FAILOVER_BOUND_S, interval=0.05)
    finally:
        probe.stop()
    res = ldap_availability(history.ops(), max_outage_s=FAILOVER_BOUND_S)
    why = collections.Counter(f"{op.type} {str(op.extra.get('error', ''))[:70]}" for op in history.ops()
                              if op.type in ("fail", "info"))
    _figure(f"ldap bind outage through the VIP after a SIGKILL of slapd on ldap1 ({DIRECTORS}): longest "
            f"{res.counts['longest_outage_s']:.3f}s ({res.counts['failed']} of {res.counts['attempts']} binds failed: "
            f"{dict(why)})")
    assert res.valid is Validity.VALID, res.message
    ld_lab.hostctl("ldap1", "start", "slapd", 30)
    _wait_healthy(ld_lab, "ldap1's slapd started again")


def _last_ok(history: HistoryRecorder, n: int) -> bool:
    done = [op for op in history.ops() if op.type in ("ok", "fail", "info")]
    return len(done) >= n and all(op.type == "ok" for op in done[-n:])
