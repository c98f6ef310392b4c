"""The two designs of highly available logins compared under the fault that tells them apart:
the first LDAP server falls silent (the ``blackhole`` fault: every packet dropped, no reset).

- **VIP** (``--ldap-hosts vip``, the lab's default; tests/availability/test_ldap.py): the
  directors' health check takes the silent server out once, in 1.6-2.1 s measured, and every
  login after that is as fast as before.
- **A server list** (``--ldap-hosts servers``, Moodle's ``host_url`` "ldap://ldap1;ldap://ldap2"):
  this module's lab. Each login tries ldap1 first and moves on only when it gives up, so with
  the LMS's network timeout of 2 s *every* login pays those 2 s for as long as ldap1 is silent
  (the module asserts it and prints the figures); without a network timeout, Moodle's default,
  the client library waits for TCP to give up (minutes): php-ldap's own bind to the silent
  server, run on a web node with no timeout set, is still waiting when cut off after 15 s.

Lab ``lds`` 198.18.80.0/24 (or HARNESS_LDAP_DESIGNS_LAB_NAME / _SUBNET), HAProxy directors.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Iterator

import pytest

from harness.cluster import Cluster
from harness.faults import get_fault
from harness.inventory import load_inventory
from harness.lab import LMS_STUDENT_PASSWORD, Lab
from harness.lab._ldap import our_slapd_processes

from .conftest import own_lab, own_lab_marks
from .test_ldap_lab import _lms_login, _logged_in

pytestmark = own_lab_marks("ldap designs lab")

NAME = os.environ.get("HARNESS_LDAP_DESIGNS_LAB_NAME", "lds")
SUBNET = os.environ.get("HARNESS_LDAP_DESIGNS_LAB_SUBNET", "198.18.80.0/24")
#: the LMS's LMS_LDAP_NETWORK_TIMEOUT in the lab (harness/lab/_configs.py)
NETWORK_TIMEOUT_S = 2.0
#: how long a bind without a network timeout is let wait before it counts as hung
HANG_CUTOFF_S = 15


def _say(msg: str) -> None:
    sys.stderr.write(f"ldap designs: {msg}\n")


@pytest.fixture(scope="module")
def lds_lab() -> Iterator[Lab]:
    lab = Lab(NAME, SUBNET, directors="haproxy", auth_tier="openldap", ldap_hosts="servers")
    yield from own_lab(lab, _say, "ldap designs")
    assert our_slapd_processes(NAME, ["ldap1", "ldap2"]) == []


def _timed_login(lab: Lab) -> tuple[float, str]:
    t0 = time.monotonic()
    r = _lms_login(lab, "student077", LMS_STUDENT_PASSWORD)
    took = time.monotonic() - t0
    assert _logged_in(r), (r.status_code, r.headers)
    return took, r.headers.get("X-Lab-Auth", "")


def test_a_server_list_pays_the_network_timeout_on_every_login_while_the_first_server_is_silent(
        lds_lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    ldap1, ldap2 = (f"ldap://{lds_lab.topo.host(h).address}" for h in ("ldap1", "ldap2"))
    before = [_timed_login(lds_lab) for _ in range(3)]
    assert all(server == f"ldap {ldap1}" for _, server in before), before
    cluster = Cluster(load_inventory(lds_lab.inventory_path))
    fault = get_fault("blackhole")(cluster, host="ldap1")
    try:
        fault.inject()
        during = [_timed_login(lds_lab) for _ in range(5)]
    finally:
        fault.heal()
        cluster.close()
    after = [_timed_login(lds_lab) for _ in range(3)]
    figures = {phase: [round(t, 3) for t, _ in logins] for phase, logins in
               (("before", before), ("ldap1 silent", during), ("after", after))}
    sys.stdout.write(f"\nFIGURE ldap host list (servers design), ldap1 black-holed: login seconds {figures}; "
                     f"median while silent {statistics.median(figures['ldap1 silent']):.2f}s\n")
    # every login while ldap1 is silent went to ldap2, and only after ldap1's timeout
    assert all(server == f"ldap {ldap2}" for _, server in during), during
    assert min(t for t, _ in during) >= NETWORK_TIMEOUT_S * 0.95, figures
    # the cost ends with the fault: ldap1 answers first again, at the old speed
    assert all(server == f"ldap {ldap1}" for _, server in after), after
    assert max(t for t, _ in after) < NETWORK_TIMEOUT_S, figures


def test_without_a_network_timeout_a_bind_to_a_silent_server_hangs(lds_lab: Lab) -> None:
    """Moodle's auth_ldap sets no network timeout: php-ldap's connect to a server that drops
    every packet waits for TCP (minutes). Run on web1 with the same extension the LMS uses."""
    address = lds_lab.topo.host("ldap1").address
    script = (f"$c = ldap_connect('ldap://{address}'); ldap_set_option($c, LDAP_OPT_PROTOCOL_VERSION, 3); "
              "var_dump(@ldap_bind($c, 'uid=student077,ou=people,dc=lms,dc=lab', 'x'));")
    cluster = Cluster(load_inventory(lds_lab.inventory_path))
    fault = get_fault("blackhole")(cluster, host="ldap1")
    try:
        fault.inject()
        t0 = time.monotonic()
        done = lds_lab.exec("web1", ["timeout", str(HANG_CUTOFF_S), "php", "-r", script], timeout=HANG_CUTOFF_S + 15)
        waited = time.monotonic() - t0
    finally:
        fault.heal()
        cluster.close()
    sys.stdout.write(f"\nFIGURE ldap bind without a network timeout to a black-holed server: still waiting after "
                     f"{waited:.1f}s (exit {done.returncode}, cut off by timeout {HANG_CUTOFF_S}s)\n")
    assert done.returncode == 124, (done.returncode, done.stdout, done.stderr)  # cut off, not answered
    assert waited >= HANG_CUTOFF_S * 0.95
