"""The directory tier's probes against ldap3's in-memory server (MOCK_SYNC), and their histories
judged by the directory checkers: no LDAP server, no cluster."""

from __future__ import annotations

import ldap3
import pytest
from ldap3.core import exceptions as ldap_exc

from harness.checkers import Validity
from harness.checkers.ldap import ldap_availability, ldap_convergence, lost_directory_writes
from harness.errors import ProbeError
from harness.history import HistoryRecorder
from harness.probes.ldap import (
    ContextCsnProbe,
    LdapBindProbe,
    LdapEndpoint,
    LdapWriteLedger,
    classify,
    open_connection,
    read_final,
)

SUFFIX = "dc=lms,dc=lab"
ADMIN = f"cn=admin,{SUFFIX}"
ALICE = f"uid=alice,ou=people,{SUFFIX}"
VIP = LdapEndpoint("ldap", "198.18.70.100")


class Directory:
    """One in-memory server per address; a connect to an address listed in ``down`` is refused."""

    def __init__(self, *addresses: str) -> None:
        self.servers = {a: ldap3.Server(f"mock-{a}") for a in addresses}
        self.down: set[str] = set()
        self.timeouts: set[str] = set()
        for a in addresses:
            seed = ldap3.Connection(self.servers[a], client_strategy=ldap3.MOCK_SYNC)
            seed.strategy.add_entry(ADMIN, {"userPassword": "rootpw", "sn": "admin"})
            seed.strategy.add_entry(ALICE, {"userPassword": "alice-pw", "uid": "alice"})
            seed.strategy.add_entry(SUFFIX, {"objectClass": ["dcObject"], "dc": "lms"})

    def connect(self, address: str, port: int, user: str, password: str, timeout_s: float) -> ldap3.Connection:
        conn = ldap3.Connection(self.servers[address], user=user, password=password, client_strategy=ldap3.MOCK_SYNC)
        if address in self.down:
            def refused() -> None:
                raise ldap_exc.LDAPSocketOpenError(f"socket connection error while opening: [Errno 111] {address}")
            conn.open = refused  # type: ignore[method-assign]
        if address in self.timeouts:
            def hung(*args: object, **kwargs: object) -> bool:
                raise ldap_exc.LDAPResponseTimeoutError("no response from server")
            conn.add = hung  # type: ignore[method-assign]
        return conn

    def set_csn(self, address: str, *csns: str) -> None:
        conn = ldap3.Connection(self.servers[address], user=ADMIN, password="rootpw", client_strategy=ldap3.MOCK_SYNC)
        conn.bind()
        conn.modify(SUFFIX, {"contextCSN": [(ldap3.MODIFY_REPLACE, list(csns))]})


def test_binds_accepted_refused_and_unreachable_are_ok_fail_fail_and_judged_as_outages() -> None:
    d = Directory(VIP.address)
    h = HistoryRecorder()
    probe = LdapBindProbe(h, VIP, [(ALICE, "alice-pw")], max_count=10, max_duration_s=5, connect=d.connect)
    assert probe.bind_once(0) == "ok"
    d.down.add(VIP.address)
    assert probe.bind_once(1) == "fail"
    d.down.clear()
    wrong = LdapBindProbe(h, VIP, [(ALICE, "stale")], max_count=1, max_duration_s=1, connect=d.connect)
    assert wrong.bind_once(0) == "fail"
    assert probe.bind_once(2) == "ok"
    ops = [o for o in h.ops() if o.type != "invoke"]
    assert [o.type for o in ops] == ["ok", "fail", "fail", "ok"]
    assert "LDAPSocketOpenError" in ops[1].extra["error"] and "invalidCredentials (49)" in ops[2].extra["error"]
    r = ldap_availability(h.ops())
    assert r.counts["outages"] == 1 and r.counts["failed"] == 2


def test_the_ledger_is_acknowledged_and_read_back_from_every_server_and_a_missing_value_is_lost() -> None:
    d = Directory(VIP.address, "198.18.70.51")
    h = HistoryRecorder()
    w = LdapWriteLedger(h, VIP, ADMIN, "rootpw", parent=f"ou=harness,{SUFFIX}", tag="run1", max_count=5,
                        max_duration_s=5, connect=d.connect)
    w._prepare()
    w._prepare()  # the entry already there is fine (a second workload in the same run)
    assert [w.write_once(n) for n in range(3)] == ["ok", "ok", "ok"]
    d.timeouts.add(VIP.address)
    assert w.write_once(3) == "info"  # the answer never came: may have been done
    servers = [LdapEndpoint("ldap1", VIP.address), LdapEndpoint("ldap2", "198.18.70.51")]
    # ldap2 is another server that never saw the writes: the ledger entry is absent there
    assert read_final(h, servers, ADMIN, "rootpw", [w.dn], connect=d.connect) == {"ldap1": True, "ldap2": True}
    finals = {o.process: o.value for o in h.ops() if o.process.startswith("ldap-final-") and o.type == "ok"}
    assert finals["ldap-final-ldap1"] == {"entries": {w.dn: ["run1-0", "run1-1", "run1-2"]}}
    assert finals["ldap-final-ldap2"] == {"entries": {w.dn: []}}
    r = lost_directory_writes(h.ops())
    assert r.valid is Validity.INVALID and r.counts["lost"] == 3 and r.counts["indeterminate"] == 1
    assert {e["server"] for e in r.examples["lost"]} == {"ldap2"}


def test_a_server_down_at_the_final_read_fails_that_read_and_the_verdict_is_not_valid() -> None:
    d = Directory(VIP.address)
    h = HistoryRecorder()
    w = LdapWriteLedger(h, VIP, ADMIN, "rootpw", parent=f"ou=harness,{SUFFIX}", tag="run2", max_count=1,
                        max_duration_s=1, connect=d.connect)
    w._prepare()
    w.write_once(0)
    d.down.add(VIP.address)
    assert read_final(h, [LdapEndpoint("ldap1", VIP.address)], ADMIN, "rootpw", [w.dn], connect=d.connect) == \
        {"ldap1": False}
    assert lost_directory_writes(h.ops()).valid is Validity.UNKNOWN  # no final read: nothing proven


def test_a_refused_ledger_bind_is_one_clear_error_naming_the_vip() -> None:
    d = Directory(VIP.address)
    w = LdapWriteLedger(HistoryRecorder(), VIP, ADMIN, "wrong", parent=f"ou=harness,{SUFFIX}", tag="x",
                        max_count=1, max_duration_s=1, connect=d.connect)
    with pytest.raises(ProbeError, match=r"bind as cn=admin,dc=lms,dc=lab refused by ldap \(198.18.70.100\): "
                                         r"invalidCredentials"):
        w._prepare()


def test_context_csns_are_sampled_per_server_and_a_silent_one_is_null() -> None:
    ldap1, ldap2 = LdapEndpoint("ldap1", "198.18.70.51"), LdapEndpoint("ldap2", "198.18.70.52")
    d = Directory(ldap1.address, ldap2.address)
    a, b = "20261203200153.635150Z#000000#001#000000", "20261203200200.528265Z#000000#002#000000"
    d.set_csn(ldap1.address, a, b)
    d.set_csn(ldap2.address, a)
    h = HistoryRecorder()
    h.invoke("nemesis", "kill-process", {"fault_id": "f1"}).ok({"fault_id": "f1"})
    h.invoke("nemesis", "heal", {"fault_id": "f1"}).ok({"fault_id": "f1"})
    p = ContextCsnProbe(h, [ldap1, ldap2], ADMIN, "rootpw", suffix=SUFFIX, max_count=5, max_duration_s=5,
                        connect=d.connect)
    assert p.sample() == {"ldap1": {"1": a, "2": b}, "ldap2": {"1": a}}
    d.down.add(ldap2.address)
    assert p.sample()["ldap2"] is None
    d.down.clear()
    d.set_csn(ldap2.address, a, b)
    p.sample()
    r = ldap_convergence(h.ops(), max_s=30)
    assert r.valid is Validity.VALID and r.counts["samples_after_heal"] == 3


def test_bad_settings_are_refused_before_anything_runs() -> None:
    h = HistoryRecorder()
    with pytest.raises(ProbeError, match="no user to bind as"):
        LdapBindProbe(h, VIP, [], max_count=1, max_duration_s=1)
    with pytest.raises(ProbeError, match="port must be 1-65535"):
        LdapBindProbe(h, LdapEndpoint("ldap", "198.18.70.100", 0), [(ALICE, "x")], max_count=1, max_duration_s=1)
    with pytest.raises(ProbeError, match="guard refused 10.0.0.1"):
        LdapBindProbe(h, LdapEndpoint("ldap", "10.0.0.1"), [(ALICE, "x")], max_count=1, max_duration_s=1,
                      guard=lambda a: False)
    with pytest.raises(ProbeError, match="convergence needs at least two"):
        ContextCsnProbe(h, [VIP], ADMIN, "x", suffix=SUFFIX, max_count=1, max_duration_s=1)
    with pytest.raises(ProbeError, match="tag 'a b'"):
        LdapWriteLedger(h, VIP, ADMIN, "x", parent=SUFFIX, tag="a b", max_count=1, max_duration_s=1)
    with pytest.raises(ProbeError, match="timeout_s must be a positive finite number"):
        LdapBindProbe(h, VIP, [(ALICE, "x")], max_count=1, max_duration_s=1, timeout_s=float("nan"))


def test_only_a_connection_never_opened_is_certainly_not_done() -> None:
    assert classify(ldap_exc.LDAPSocketOpenError("refused")) == "fail"
    assert classify(ldap_exc.LDAPResponseTimeoutError("no answer")) == "info"
    assert classify(ldap_exc.LDAPSocketReceiveError("reset")) == "info"


def test_the_bind_probe_thread_is_bounded_by_its_count_and_stops_by_itself() -> None:
    d = Directory(VIP.address)
    h = HistoryRecorder()
    with LdapBindProbe(h, VIP, [(ALICE, "alice-pw")], rate_hz=200, max_count=7, max_duration_s=5,
                       connect=d.connect) as probe:
        assert probe.join(timeout=5)
    assert probe.counts == {"ok": 7, "fail": 0, "info": 0}
    assert len(probe.jitter.late_ms) == 7


def _inventory(monkeypatch: pytest.MonkeyPatch):
    from harness.inventory import inventory_from_dict

    monkeypatch.setenv("TEST_LDAP_PW", "rootpw")
    return inventory_from_dict({
        "hosts": {"ldap1": {"address": "198.18.70.51", "roles": ["ldap"]},
                  "ldap2": {"address": "198.18.70.52", "roles": ["ldap"]}},
        "vips": {"ldap": {"address": VIP.address, "port": 389, "protocol": "ldap"}},
        "directory": {"kind": "openldap", "suffix": SUFFIX, "people": f"ou=people,{SUFFIX}", "bind_dn": ADMIN,
                      "bind_password_env": "TEST_LDAP_PW"},
    }, "cluster.yml")


def test_the_directory_check_names_every_server_and_what_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.probes.ldap import check_directory

    inv = _inventory(monkeypatch)
    d = Directory("198.18.70.51", "198.18.70.52", VIP.address)
    for address in d.servers:
        seed = ldap3.Connection(d.servers[address], client_strategy=ldap3.MOCK_SYNC)
        seed.strategy.add_entry(f"ou=people,{SUFFIX}", {"objectClass": ["organizationalUnit"], "ou": "people"})
    check_directory(inv, connect=d.connect)  # all sound: no error
    d.down.add(VIP.address)
    d.servers["198.18.70.52"] = ldap3.Server("mock-empty")  # a server with nothing in it
    ldap3.Connection(d.servers["198.18.70.52"], client_strategy=ldap3.MOCK_SYNC).strategy.add_entry(
        ADMIN, {"userPassword": "rootpw", "sn": "admin"})
    with pytest.raises(ProbeError) as info:
        check_directory(inv, connect=d.connect)
    text = str(info.value)
    assert "ldap2 (198.18.70.52:389): no entry dc=lms,dc=lab (directory.suffix)" in text
    assert "ldap2 (198.18.70.52:389): no entry ou=people,dc=lms,dc=lab (directory.people)" in text
    assert "ldap (198.18.70.100:389): LDAPSocketOpenError" in text and "ldap1" not in text
    monkeypatch.setenv("TEST_LDAP_PW", "wrong")
    with pytest.raises(ProbeError, match=r"ldap1 \(198.18.70.51:389\): bind as cn=admin,dc=lms,dc=lab refused: "
                                         r"invalidCredentials"):
        check_directory(inv, vip=None, connect=d.connect)


@pytest.mark.parametrize("timeout_s,receive", [(0.5, 1), (1.0, 1), (2.5, 3), (3.0, 3)])
def test_a_real_connections_receive_timeout_is_whole_seconds(timeout_s: float, receive: int) -> None:
    """ldap3 packs the receive timeout into SO_RCVTIMEO as an integer: a float fails the first
    real socket (struct.error), which the in-memory server above never opens."""
    conn = open_connection("198.18.70.51", 389, "cn=admin,dc=lms,dc=lab", "pw", timeout_s)
    assert conn.receive_timeout == receive and isinstance(conn.receive_timeout, int)
    assert conn.server.connect_timeout == timeout_s


def test_the_workloads_directory_probes_come_from_the_cluster_file_and_are_judged(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.checkers import run_all
    from harness.probes.ldap import directory_probes

    inv = _inventory(monkeypatch)
    d = Directory("198.18.70.51", "198.18.70.52", VIP.address)
    for address in d.servers:  # the accounts: student001.. as the directory has them
        seed = ldap3.Connection(d.servers[address], client_strategy=ldap3.MOCK_SYNC)
        for n in (1, 2):
            seed.strategy.add_entry(f"uid=student{n:03d},ou=people,{SUFFIX}", {"userPassword": "LabStudent-1"})
    a = "20261203200153.635150Z#000000#001#000000"
    for address in ("198.18.70.51", "198.18.70.52"):
        d.set_csn(address, a)
    h = HistoryRecorder()
    probes = directory_probes(h, inv, tag="run7", accounts_password="LabStudent-1", users=2, bind_hz=50,
                              write_hz=50, csn_hz=50, max_duration_s=0.2, csn_extra_s=0.1, connect=d.connect)
    assert [u for u, _ in probes.bind.users] == [f"uid=student001,ou=people,{SUFFIX}", f"uid=student002,ou=people,{SUFFIX}"]
    assert probes.writer is not None and probes.writer.dn == f"cn=run7,ou=harness,{SUFFIX}"
    assert probes.csn is not None and [s.name for s in probes.servers] == ["ldap1", "ldap2"]
    h.invoke("nemesis", "kill-process", {"fault_id": "f1"}).ok({"fault_id": "f1"})
    for p in probes.probes():
        p.start()
    for p in probes.probes():
        assert p.join(timeout=5)
    h.invoke("nemesis", "heal", {"fault_id": "f1"}).ok({"fault_id": "f1"})
    probes.csn.sample()  # one after the heal: the servers agree
    # the mock servers do not replicate: only the VIP's "server" has the writes
    probes.servers = [LdapEndpoint("ldap1", VIP.address), LdapEndpoint("ldap2", "198.18.70.52")]
    probes.final_read(h)
    by_name = {r.checker: r for r in run_all(h.ops())}
    assert by_name["ldap_availability"].counts["failed"] == 0 and by_name["ldap_availability"].counts["ok"] > 3
    lost = by_name["lost_directory_writes"]
    assert lost.counts["acknowledged"] > 3 and {e["server"] for e in lost.examples["lost"]} == {"ldap2"}
    assert by_name["ldap_convergence"].valid.value == "valid"
