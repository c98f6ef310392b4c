"""The directory tier's probes: logins through the LDAP VIP, a write ledger, contextCSN samples.

What harness.checkers.ldap judges (docs/history.md, "Directory"):

- :class:`LdapBindProbe`: simple binds of seeded users through the LDAP VIP at a fixed rate,
  a fresh connection each (a login opens its own; a kept connection stays on the server it
  reached and hides the failover), as Moodle's auth_ldap binds as the user.
- :class:`LdapWriteLedger`: unique values added to one ledger entry through the VIP; each is
  acknowledged or not, and :func:`read_final` reads every server on its own after the heal.
- :class:`ContextCsnProbe`: every server's contextCSN, asked of each server directly.

Every call has a connect and an operation timeout (a black-holed server must not hang a test).
The outcome of an attempt says what the client knows: refused before anything was sent, or
answered with an error result, is ``fail`` (the server did not do it); a timeout or a lost
connection after the request went out is ``info`` (it may have been done).

The client is ldap3 (pure Python); :data:`Connect` is the seam a test replaces with ldap3's
in-memory ``MOCK_SYNC`` server.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import ldap3
from ldap3.core import exceptions as ldap_exc

from ..checkers.ldap import LDAP_CSN_PROCESS, LDAP_FINAL_PREFIX, LDAP_PROBE_PREFIX, LDAP_WRITER_PREFIX
from ..errors import ParseError, ProbeError
from ..history import HistoryRecorder
from ..inventory._model import Directory, Inventory
from ..parsers.ldap import parse_csn
from ._base import Jitter, ProbeThread, Schedule, call_guard, check_bounds
from .ledger import _ms

__all__ = ["Connect", "ContextCsnProbe", "DirectoryProbes", "LdapBindProbe", "LdapEndpoint", "LdapWriteLedger",
           "check_directory", "classify", "directory_probes", "open_connection", "read_final",
           "server_endpoints", "vip_endpoint"]

#: a ledger write is one new entry ``cn=<value>`` under the ledger entry: adds of distinct
#: entries never conflict between providers, where values added to one entry's attribute on
#: two providers at once can be lost (plain syncrepl replicates the whole entry)
LEDGER_CHILD_CLASS = "applicationProcess"


@dataclass(frozen=True)
class LdapEndpoint:
    """Where and as whom to reach one LDAP server or VIP."""

    name: str
    address: str
    port: int = 389


#: (address, port, bind DN, password, timeout_s) -> an ldap3 Connection not yet opened
Connect = Callable[[str, int, str, str, float], ldap3.Connection]


def open_connection(address: str, port: int, user: str, password: str, timeout_s: float) -> ldap3.Connection:
    """A plain LDAP connection with a connect timeout and an operation (receive) timeout.

    The receive timeout is whole seconds, rounded up: ldap3 packs it into SO_RCVTIMEO as an
    integer on Linux, and a float (every caller's default) fails the first real socket with
    ``struct.error: required argument is not an integer`` (found by tests/lab/test_ldap_lab.py;
    the in-memory server of the unit tests opens no socket)."""
    server = ldap3.Server(address, port=port, connect_timeout=timeout_s, get_info=ldap3.NONE)
    return ldap3.Connection(server, user=user, password=password, receive_timeout=max(1, math.ceil(timeout_s)),
                            auto_bind=ldap3.AUTO_BIND_NONE, raise_exceptions=False, read_only=False)


def classify(exc: BaseException) -> str:
    """``fail`` when the request certainly did not reach the server, else ``info``."""
    return "fail" if isinstance(exc, ldap_exc.LDAPSocketOpenError) else "info"


def _result(conn: ldap3.Connection) -> str:
    r = conn.result or {}
    return f"{r.get('description', 'no result')} ({r.get('result', '?')}): {r.get('message') or ''}".rstrip(": ")


def _unbind(conn: ldap3.Connection) -> None:
    try:
        conn.unbind()
    except ldap_exc.LDAPException:
        pass


def _check_endpoint(who: str, ep: LdapEndpoint, guard: Callable[[str], Any] | None) -> None:
    if not isinstance(ep.port, int) or isinstance(ep.port, bool) or not 0 < ep.port < 65536:
        raise ProbeError(f"{who}: {ep.name}: port must be 1-65535, not {ep.port!r}")
    call_guard(who, guard, ep.address)


class LdapBindProbe(ProbeThread):
    """Bind as each of ``users`` in turn through ``vip`` at ``rate_hz`` (see the module).

    Records ``invoke`` ``{"vip": name, "user": dn}`` then ``ok`` (password accepted),
    ``fail`` (refused connection, or the server answered the bind with an error) or ``info``
    (timeout, connection lost), with ``latency_ms``, ``late_ms`` and ``error``.
    """

    name = "ldap-probe"

    def __init__(self, history: HistoryRecorder, vip: LdapEndpoint, users: Sequence[tuple[str, str]], *,
                 rate_hz: float = 10.0, max_count: int, max_duration_s: float, timeout_s: float = 1.0,
                 process: str | None = None, guard: Callable[[str], Any] | None = None,
                 connect: Connect = open_connection) -> None:
        super().__init__()
        check_bounds(self.name, rate_hz=rate_hz, max_count=max_count, max_duration_s=max_duration_s,
                     timeout_s=timeout_s)
        if not users:
            raise ProbeError("ldap-probe: no user to bind as")
        _check_endpoint(self.name, vip, guard)
        self.history, self.vip, self.users = history, vip, list(users)
        self.process = process or f"{LDAP_PROBE_PREFIX}-{vip.name}"
        if not self.process.startswith(LDAP_PROBE_PREFIX):
            raise ProbeError(f"ldap-probe: process {self.process!r} must start with {LDAP_PROBE_PREFIX!r}")
        self.rate_hz, self.max_count, self.max_duration_s, self.timeout_s = rate_hz, max_count, max_duration_s, timeout_s
        self.connect = connect
        self.jitter = Jitter()
        self.counts = {"ok": 0, "fail": 0, "info": 0}

    def bind_once(self, n: int, late_ms: float | None = None) -> str:
        """One login as the ``n``-th user (round robin), recorded; its outcome."""
        dn, password = self.users[n % len(self.users)]
        op = self.history.invoke(self.process, "bind", {"vip": self.vip.name, "user": dn})
        extra: dict[str, Any] = {} if late_ms is None else {"late_ms": round(late_ms, 3)}
        t0 = time.monotonic()
        conn = self.connect(self.vip.address, self.vip.port, dn, password, self.timeout_s)
        try:
            conn.open()
            accepted = conn.bind()
            detail = "" if accepted else _result(conn)
        except ldap_exc.LDAPException as exc:
            kind = classify(exc)
            (op.fail if kind == "fail" else op.info)(None, latency_ms=_ms(t0), error=f"{type(exc).__name__}: {exc}",
                                                      **extra)
            self.counts[kind] += 1
            return kind
        finally:
            _unbind(conn)
        if accepted:
            op.ok(None, latency_ms=_ms(t0), **extra)
            self.counts["ok"] += 1
            return "ok"
        op.fail(None, latency_ms=_ms(t0), error=detail, **extra)
        self.counts["fail"] += 1
        return "fail"

    def _workers(self) -> list[tuple[str, Callable[[], None]]]:
        return [(self.process, self._run)]

    def _run(self) -> None:
        start = time.monotonic()
        t_end = start + self.max_duration_s
        sched = Schedule(self.rate_hz, start, t_end)
        for n in range(self.max_count):
            if self.stopping:
                return
            due = self.next_slot(sched, t_end)
            if due is None:
                return
            late_ms = (time.monotonic() - due) * 1000.0
            self.jitter.add(late_ms)
            self.bind_once(n, late_ms)
            sched.advance()


class LdapWriteLedger(ProbeThread):
    """Add entry ``cn=<tag>-<n>`` under the ledger entry through the VIP at ``rate_hz``.

    The ledger entry ``cn=<tag>,<parent>`` is made (with its parent OU) before the first write.
    Each write is a new entry, as an account created (see ``LEDGER_CHILD_CLASS``). A write is
    ``ok`` when the server answered success, ``fail`` when it answered an error or the
    connection was refused, ``info`` when the answer never came.
    """

    name = "ldap-writer"

    def __init__(self, history: HistoryRecorder, vip: LdapEndpoint, bind_dn: str, password: str, *, parent: str,
                 tag: str, rate_hz: float = 5.0, max_count: int, max_duration_s: float, timeout_s: float = 2.0,
                 guard: Callable[[str], Any] | None = None, connect: Connect = open_connection) -> None:
        super().__init__()
        check_bounds(self.name, rate_hz=rate_hz, max_count=max_count, max_duration_s=max_duration_s,
                     timeout_s=timeout_s)
        if not tag or not tag.replace("-", "").isalnum():
            raise ProbeError(f"ldap-writer: tag {tag!r} must be letters, digits and '-' (it names the ledger entry)")
        _check_endpoint(self.name, vip, guard)
        self.history, self.vip, self.bind_dn, self.password = history, vip, bind_dn, password
        self.parent, self.tag = parent, tag
        self.dn = f"cn={tag},{parent}"
        self.rate_hz, self.max_count, self.max_duration_s, self.timeout_s = rate_hz, max_count, max_duration_s, timeout_s
        self.connect = connect
        self.counts = {"ok": 0, "fail": 0, "info": 0}

    def _prepare(self) -> None:
        """Make the ledger entry (and its OU) through the VIP; a refusal here is one clear error."""
        conn = self._bound("making the ledger entry")
        try:
            ou = self.parent.split(",", 1)[0].split("=", 1)[-1]
            for dn, attrs in ((self.parent, {"objectClass": ["organizationalUnit"], "ou": ou}),
                              (self.dn, {"objectClass": ["applicationProcess"], "cn": self.tag})):
                if not conn.add(dn, attributes=attrs) and (conn.result or {}).get("result") != 68:  # 68: already exists
                    raise ProbeError(f"ldap-writer: {self.vip.name} ({self.vip.address}): add {dn}: {_result(conn)}")
        finally:
            _unbind(conn)

    def _bound(self, why: str) -> ldap3.Connection:
        conn = self.connect(self.vip.address, self.vip.port, self.bind_dn, self.password, self.timeout_s)
        try:
            conn.open()
            ok = conn.bind()
        except ldap_exc.LDAPException as exc:
            _unbind(conn)
            raise ProbeError(f"ldap-writer: {why}: {self.vip.name} ({self.vip.address}:{self.vip.port}): "
                             f"{type(exc).__name__}: {exc}") from exc
        if not ok:
            detail = _result(conn)
            _unbind(conn)
            raise ProbeError(f"ldap-writer: {why}: bind as {self.bind_dn} refused by {self.vip.name} "
                             f"({self.vip.address}): {detail}")
        return conn

    def write_once(self, n: int) -> str:
        """Add value ``<tag>-<n>`` on a fresh connection, recorded; its outcome."""
        value = {"dn": self.dn, "value": f"{self.tag}-{n}"}
        op = self.history.invoke(LDAP_WRITER_PREFIX, "write", value)
        t0 = time.monotonic()
        conn = self.connect(self.vip.address, self.vip.port, self.bind_dn, self.password, self.timeout_s)
        try:
            conn.open()
            if not conn.bind():
                op.fail(value, latency_ms=_ms(t0), error=f"bind: {_result(conn)}")
                self.counts["fail"] += 1
                return "fail"
            done = conn.add(f"cn={value['value']},{self.dn}",
                            attributes={"objectClass": [LEDGER_CHILD_CLASS], "cn": value["value"]})
            detail = "" if done else _result(conn)
        except ldap_exc.LDAPException as exc:
            kind = classify(exc)
            (op.fail if kind == "fail" else op.info)(value, latency_ms=_ms(t0), error=f"{type(exc).__name__}: {exc}")
            self.counts[kind] += 1
            return kind
        finally:
            _unbind(conn)
        if done:
            op.ok(value, latency_ms=_ms(t0))
            self.counts["ok"] += 1
            return "ok"
        op.fail(value, latency_ms=_ms(t0), error=detail)
        self.counts["fail"] += 1
        return "fail"

    def _workers(self) -> list[tuple[str, Callable[[], None]]]:
        return [(LDAP_WRITER_PREFIX, lambda: self.run_slots(self.rate_hz, self.max_count, self.max_duration_s,
                                                            self.write_once))]


def _children(conn: ldap3.Connection, base: str) -> list[str]:
    """The ``cn`` of every entry right below ``base`` (none when ``base`` is absent)."""
    if not conn.search(base, f"(objectClass={LEDGER_CHILD_CLASS})", ldap3.LEVEL, attributes=["cn"],
                       paged_size=None):
        if (conn.result or {}).get("result") == 32:  # noSuchObject
            return []
        if (conn.result or {}).get("result") == 0:  # success, nothing found
            return []
        raise ProbeError(f"search {base}: {_result(conn)}")
    out: list[str] = []
    for entry in conn.response or []:
        if str(entry.get("dn", "")).replace(" ", "").lower() == base.replace(" ", "").lower():
            continue  # one level below only (ldap3's in-memory server also returns the base)
        cn = (entry.get("attributes") or {}).get("cn")
        values = cn if isinstance(cn, list) else [cn]
        out.extend(str(v) for v in values if v)
    return sorted(out)


def _search(conn: ldap3.Connection, base: str, attribute: str) -> list[str] | None:
    """The values of ``attribute`` of entry ``base`` (None: no such entry)."""
    if not conn.search(base, "(objectClass=*)", ldap3.BASE, attributes=[attribute]):
        if (conn.result or {}).get("result") == 32:  # noSuchObject
            return None
        raise ProbeError(f"search {base}: {_result(conn)}")
    attrs = conn.response[0].get("attributes", {}) if conn.response else {}
    values: Any = next((v for k, v in attrs.items() if k.lower() == attribute.lower()), [])
    return [str(v) for v in (values if isinstance(values, list) else [values])]


def read_final(history: HistoryRecorder, servers: Sequence[LdapEndpoint], bind_dn: str, password: str,
               dns: Sequence[str], *, timeout_s: float = 5.0, connect: Connect = open_connection) -> dict[str, bool]:
    """After the heal: what each server holds of the ledger entries ``dns``, read from that
    server alone (``ldap-final-<server>`` ``read``); server -> whether it answered."""
    answered: dict[str, bool] = {}
    for ep in servers:
        op = history.invoke(f"{LDAP_FINAL_PREFIX}{ep.name}", "read", None)
        conn = connect(ep.address, ep.port, bind_dn, password, timeout_s)
        try:
            conn.open()
            if not conn.bind():
                raise ProbeError(f"bind as {bind_dn}: {_result(conn)}")
            entries = {dn: _children(conn, dn) for dn in dns}
        except (ldap_exc.LDAPException, ProbeError) as exc:
            op.fail(None, error=f"{ep.name} ({ep.address}): {type(exc).__name__}: {exc}")
            answered[ep.name] = False
            continue
        finally:
            _unbind(conn)
        op.ok({"entries": entries})
        answered[ep.name] = True
    return answered


class ContextCsnProbe(ProbeThread):
    """Every server's contextCSN of ``suffix``, asked of each server in turn at ``rate_hz``.

    One ``ldap-csn`` ``context-csn`` op per sample: ``ok`` with ``{"servers": {name: {sid: CSN}
    or null}}`` (null: that server did not answer in time; the errors in ``error``).
    """

    name = "ldap-csn"

    def __init__(self, history: HistoryRecorder, servers: Sequence[LdapEndpoint], bind_dn: str, password: str, *,
                 suffix: str, rate_hz: float = 2.0, max_count: int, max_duration_s: float, timeout_s: float = 1.0,
                 guard: Callable[[str], Any] | None = None, connect: Connect = open_connection) -> None:
        super().__init__()
        check_bounds(self.name, rate_hz=rate_hz, max_count=max_count, max_duration_s=max_duration_s,
                     timeout_s=timeout_s)
        if len(servers) < 2:
            raise ProbeError(f"ldap-csn: {len(servers)} server(s): convergence needs at least two to compare")
        for ep in servers:
            _check_endpoint(self.name, ep, guard)
        self.history, self.servers, self.bind_dn, self.password = history, list(servers), bind_dn, password
        self.suffix = suffix
        self.rate_hz, self.max_count, self.max_duration_s, self.timeout_s = rate_hz, max_count, max_duration_s, timeout_s
        self.connect = connect
        self.samples = 0
        #: (monotonic time, every server answered with the same contextCSNs) of the latest sample
        self.last: tuple[float, bool] | None = None

    def _csns(self, ep: LdapEndpoint) -> dict[str, str]:
        conn = self.connect(ep.address, ep.port, self.bind_dn, self.password, self.timeout_s)
        try:
            conn.open()
            if not conn.bind():
                raise ProbeError(f"bind as {self.bind_dn}: {_result(conn)}")
            values = _search(conn, self.suffix, "contextCSN")
        finally:
            _unbind(conn)
        if values is None:
            raise ProbeError(f"no entry {self.suffix}")
        out: dict[str, str] = {}
        for text in values:
            try:
                csn = parse_csn(text, command=f"contextCSN of {ep.name}")
            except ParseError as exc:
                raise ProbeError(str(exc)) from None
            out[str(csn.sid)] = csn.text
        return out

    def sample(self) -> dict[str, dict[str, str] | None]:
        """One sample of every server, recorded; server -> {serverID: CSN} or None."""
        op = self.history.invoke(LDAP_CSN_PROCESS, "context-csn", None)
        t0 = time.monotonic()
        servers: dict[str, dict[str, str] | None] = {}
        errors = []
        for ep in self.servers:
            try:
                servers[ep.name] = self._csns(ep)
            except (ldap_exc.LDAPException, ProbeError) as exc:
                servers[ep.name] = None
                errors.append(f"{ep.name}: {type(exc).__name__}: {exc}")
        extra: dict[str, Any] = {"error": "; ".join(errors)[-500:]} if errors else {}
        op.ok({"servers": servers}, took_ms=_ms(t0), **extra)
        self.samples += 1
        answers = list(servers.values())
        self.last = (time.monotonic(), all(a for a in answers) and all(a == answers[0] for a in answers))
        return servers

    def wait_for_agreement(self, timeout_s: float) -> float | None:
        """Wait, at most ``timeout_s``, for a sample taken from now on in which every server
        shows the same contextCSNs (a workload lets replication catch up before its final
        read); seconds waited, or None."""
        return self.wait_for_sample(timeout_s, bool)

    def _workers(self) -> list[tuple[str, Callable[[], None]]]:
        return [(LDAP_CSN_PROCESS, lambda: self.run_slots(self.rate_hz, self.max_count, self.max_duration_s,
                                                          lambda n: self.sample()))]


# --------------------------------------------------------------------------- from the cluster file

def _directory(inventory: Inventory) -> Directory:
    if inventory.directory is None:
        raise ProbeError(f"{inventory.source}: no directory: section (the LDAP tier's probes need one)")
    return inventory.directory


def server_endpoints(inventory: Inventory) -> list[LdapEndpoint]:
    """Every ``ldap`` host, reached directly on the directory's port (for reads per server)."""
    port = _directory(inventory).port
    return [LdapEndpoint(h.name, h.address, port) for h in sorted(inventory.with_role("ldap"), key=lambda h: h.name)]


def vip_endpoint(inventory: Inventory, vip: str = "ldap") -> LdapEndpoint:
    """The LDAP VIP; one clear error when the cluster file has none or not of protocol ldap."""
    v = inventory.vip(vip)
    if v.protocol != "ldap":
        raise ProbeError(f"{inventory.source}: vips.{vip}: protocol {v.protocol!r}, not ldap")
    return LdapEndpoint(v.name, v.address, v.port)


def check_directory(inventory: Inventory, *, vip: str | None = "ldap", timeout_s: float = 3.0,
                    guard: Callable[[str], Any] | None = None, connect: Connect = open_connection) -> None:
    """Before any fault: every LDAP server (and the VIP) answers, takes the bind identity and
    holds the suffix and the accounts' entry. One ProbeError naming each host and what failed
    (unreachable, bind refused, no such base DN), never a test that fails later for it."""
    d = _directory(inventory)
    password = inventory.directory_password()
    if d.bind_dn is None or password is None:
        raise ProbeError(f"{inventory.source}: directory: bind_dn and bind_password_env are needed to check "
                         "the servers (and to write and read the ledger)")
    targets = server_endpoints(inventory) + ([vip_endpoint(inventory, vip)] if vip is not None else [])
    if not server_endpoints(inventory):
        raise ProbeError(f"{inventory.source}: no host with role ldap")
    problems = []
    for ep in targets:
        _check_endpoint("ldap", ep, guard)
        conn = connect(ep.address, ep.port, d.bind_dn, password, timeout_s)
        try:
            conn.open()
            if not conn.bind():
                problems.append(f"{ep.name} ({ep.address}:{ep.port}): bind as {d.bind_dn} refused: {_result(conn)}")
                continue
            for what, base in (("suffix", d.suffix), ("people", d.people)):
                if _search(conn, base, "objectClass") is None:
                    problems.append(f"{ep.name} ({ep.address}:{ep.port}): no entry {base} (directory.{what})")
        except ldap_exc.LDAPException as exc:
            problems.append(f"{ep.name} ({ep.address}:{ep.port}): {type(exc).__name__}: {exc}")
        except ProbeError as exc:
            problems.append(f"{ep.name} ({ep.address}:{ep.port}): {exc}")
        finally:
            _unbind(conn)
    if problems:
        raise ProbeError(f"{inventory.source}: the directory is not usable: " + "; ".join(problems))


@dataclass
class DirectoryProbes:
    """The directory tier's probes of one workload: binds through the VIP, and (with a bind
    identity in the cluster file) the write ledger and the contextCSN sampler."""

    bind: LdapBindProbe
    writer: LdapWriteLedger | None
    csn: ContextCsnProbe | None
    servers: list[LdapEndpoint]
    bind_dn: str | None
    password: str | None

    def probes(self) -> list[ProbeThread]:
        return [p for p in (self.bind, self.writer, self.csn) if p is not None]

    def final_read(self, history: HistoryRecorder) -> None:
        """Read the ledger entry from every server on its own (``ldap-final-<server>``); the
        caller has let replication catch up first (``csn.wait_for_agreement``)."""
        if self.writer is not None and self.bind_dn is not None and self.password is not None:
            read_final(history, self.servers, self.bind_dn, self.password, [self.writer.dn],
                       connect=self.writer.connect)


def directory_probes(history: HistoryRecorder, inventory: Inventory, *, tag: str, accounts_password: str,
                     bind_hz: float = 10.0, write_hz: float = 5.0, csn_hz: float = 2.0, users: int = 8,
                     max_duration_s: float = 180.0, csn_extra_s: float = 60.0, timeout_s: float = 1.0,
                     guard: Callable[[str], Any] | None = None, connect: Connect = open_connection) -> DirectoryProbes:
    """The probes for the cluster file's ``directory:`` and LDAP VIP, not yet started: binds of
    the first ``users`` Moodle accounts (their password is the directory's), the ledger under
    ``directory.ledger_parent`` and contextCSN samples (these two need ``bind_dn``)."""
    d = _directory(inventory)
    vip = vip_endpoint(inventory)
    names = inventory.moodle.accounts.names()[:users]
    if not names:
        raise ProbeError(f"{inventory.source}: moodle.accounts names no account to bind as")
    bind = LdapBindProbe(history, vip, [(d.user_dn(n), accounts_password) for n in names], rate_hz=bind_hz,
                         max_count=int(bind_hz * max_duration_s) + 1, max_duration_s=max_duration_s,
                         timeout_s=timeout_s, guard=guard, connect=connect)
    password = inventory.directory_password()
    servers = server_endpoints(inventory)
    writer = csn = None
    if d.bind_dn is not None and password is not None:
        writer = LdapWriteLedger(history, vip, d.bind_dn, password, parent=d.ledger_parent, tag=tag, rate_hz=write_hz,
                                 max_count=int(write_hz * max_duration_s) + 1, max_duration_s=max_duration_s,
                                 timeout_s=max(timeout_s, 2.0), guard=guard, connect=connect)
        if len(servers) >= 2:
            total = max_duration_s + csn_extra_s
            csn = ContextCsnProbe(history, servers, d.bind_dn, password, suffix=d.suffix, rate_hz=csn_hz,
                                  max_count=int(csn_hz * total) + 1, max_duration_s=total, timeout_s=timeout_s,
                                  guard=guard, connect=connect)
    return DirectoryProbes(bind, writer, csn, servers, d.bind_dn, password)
