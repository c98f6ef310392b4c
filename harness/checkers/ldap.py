"""The directory tier's verdicts: logins through the LDAP VIP, lost directory writes, replication.

Histories (docs/history.md, "Directory"):

- ``ldap-probe`` (or ``ldap-probe-<vip>``) ``bind``: one simple bind of a seeded user through
  the LDAP VIP; ``ok`` when the server accepted the password. Judged like the web VIP probe.
- ``ldap-writer`` ``write``: one change through the VIP, entry ``cn=<value>`` added below
  the ledger entry ``dn`` (invoke and completion ``{"dn": dn, "value": v}``); acknowledged
  when ``ok``.
- ``ldap-final-<server>`` ``read``: after the heal, what each server holds, ``ok`` with
  ``{"entries": {dn: [the cn of every entry below dn]}}``.
- ``ldap-csn`` ``context-csn``: every server's contextCSN at one moment, ``ok`` with
  ``{"servers": {server: {"<serverID>": "<CSN>"} or null}}`` (null: that server did not answer).

Checkers:

- :func:`ldap_availability`: the availability checker over the bind probe, named apart.
- :func:`lost_directory_writes`: every acknowledged value on every server after the heal; a
  ``fail`` write found on a server is INVALID too (``fail`` promises it did not happen), an
  ``info`` one may be there or not. No final read, or nothing acknowledged: UNKNOWN.
- :func:`ldap_convergence`: time from the last heal until every server answered with the same
  contextCSN for every serverID (two providers that agree have applied the same changes).
  Within ``max_s`` when given; never agreeing while sampled past ``max_s`` is INVALID; no sample
  after the heal, or sampling ending before agreement and before ``max_s``: UNKNOWN. Its
  counts also say how many samples inside a fault window saw two servers apart
  (``diverged_in_faults``, ``longest_divergence_in_faults_s``): whether a fault meant to cut
  replication did.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import HistoryError, ParseError
from ..history import Op
from ..parsers.ldap import Csn, context_csns_agree, parse_csn
from ._convergence import check_max_s, convergence_verdict, last_heal
from ._orphans import Orphans, fail_closed
from ._result import CheckResult, Validity
from .availability import DEFAULT_MAX_PROBE_GAP_S, availability
from .phases import scan_faults

AVAILABILITY = "ldap_availability"
LOST = "lost_directory_writes"
CONVERGENCE = "ldap_convergence"
#: the processes of the directory tier's history
LDAP_PROBE_PREFIX = "ldap-probe"
LDAP_WRITER_PREFIX = "ldap-writer"
LDAP_FINAL_PREFIX = "ldap-final-"
LDAP_CSN_PROCESS = "ldap-csn"


def ldap_availability(ops: Iterable[Op], max_outage_s: float | None = None,
                      min_availability_percent: float | None = None, *,
                      max_probe_gap_s: float = DEFAULT_MAX_PROBE_GAP_S) -> CheckResult:
    """Authentication outages as users saw them: binds through the LDAP VIP that failed."""
    r = availability(ops, LDAP_PROBE_PREFIX, max_outage_s, min_availability_percent, max_probe_gap_s=max_probe_gap_s)
    return CheckResult(AVAILABILITY, r.valid, r.counts, r.examples, r.message)


def _write(op: Op) -> tuple[str, str]:
    v = op.value
    if not isinstance(v, dict) or not isinstance(v.get("dn"), str) or not isinstance(v.get("value"), str):
        raise HistoryError(f"history line index {op.index}: {op.process} {op.f} value must be"
                           f" {{'dn': str, 'value': str}}, not {v!r}")
    return v["dn"], v["value"]


def _entries(op: Op) -> dict[str, set[str]]:
    v = op.value
    entries = v.get("entries") if isinstance(v, dict) else None
    if not isinstance(entries, dict) or not all(
            isinstance(dn, str) and isinstance(vals, list) and all(isinstance(x, str) for x in vals)
            for dn, vals in entries.items()):
        raise HistoryError(f"history line index {op.index}: {op.process} read value must be"
                           f" {{'entries': {{dn: [str]}}}}, not {str(v)[:120]!r}")
    return {dn: set(vals) for dn, vals in entries.items()}


def lost_directory_writes(ops: Iterable[Op], *, writer_prefix: str = LDAP_WRITER_PREFIX,
                          final_prefix: str = LDAP_FINAL_PREFIX, max_examples: int = 10) -> CheckResult:
    """Acknowledged directory writes missing on a server after the heal (see the module)."""
    invoked: dict[str, Op] = {}
    outcome: dict[str, set[tuple[str, str]]] = {"ok": set(), "fail": set(), "info": set()}
    finals: dict[str, dict[str, set[str]]] = {}
    orphans = Orphans()
    for op in ops:
        if op.process.startswith(final_prefix):
            if op.type == "ok" and op.f == "read":
                finals[op.process[len(final_prefix):]] = _entries(op)
            continue
        if not op.process.startswith(writer_prefix) or op.f != "write":
            continue
        if op.type == "invoke":
            _write(op)
            invoked[op.process] = op
            continue
        inv = invoked.pop(op.process, None)
        if inv is None:
            orphans.add(op)
            continue
        outcome.get(op.type, outcome["info"]).add(_write(inv))
    acked, failed = outcome["ok"], outcome["fail"]
    counts: dict[str, Any] = {"acknowledged": len(acked), "failed": len(failed), "indeterminate": len(outcome["info"]),
                              "servers": sorted(finals), "lost": 0, "failed_present": 0}
    examples: dict[str, list[Any]] = {"lost": [], "failed_present": []}

    def note(kind: str, item: dict[str, Any]) -> None:
        counts[kind] += 1
        if len(examples[kind]) < max_examples:
            examples[kind].append(item)

    for server, entries in sorted(finals.items()):
        for dn, value in sorted(acked):
            if value not in entries.get(dn, set()):
                note("lost", {"server": server, "dn": dn, "value": value})
        for dn, value in sorted(failed):
            if value in entries.get(dn, set()):
                note("failed_present", {"server": server, "dn": dn, "value": value})
    shown = {k: v for k, v in examples.items() if v}
    if counts["lost"] or counts["failed_present"]:
        parts = [f"{counts['lost']} acknowledged (write, server) pair(s) missing"] if counts["lost"] else []
        if counts["failed_present"]:
            parts.append(f"{counts['failed_present']} failed write(s) present")
        result = CheckResult(LOST, Validity.INVALID, counts, shown, "; ".join(parts))
    elif not finals:
        result = CheckResult(LOST, Validity.UNKNOWN, counts, message="no final read of any LDAP server")
    elif not acked:
        result = CheckResult(LOST, Validity.UNKNOWN, counts, message="no acknowledged directory write: nothing proven")
    else:
        result = CheckResult(LOST, Validity.VALID, counts,
                             message=f"{len(acked)} acknowledged write(s) on all {len(finals)} server(s)")
    return fail_closed(result, orphans, "ldap ")


def _csn_sample(op: Op) -> dict[str, dict[int, Csn] | None]:
    """One ``ldap-csn`` sample: server -> contextCSN by serverID (None: did not answer)."""
    v = op.value
    servers = v.get("servers") if isinstance(v, dict) else None
    if not isinstance(servers, dict) or not servers:
        raise HistoryError(f"history line index {op.index}: {op.process} {op.f} value must be"
                           f" {{'servers': {{server: {{serverID: CSN}} or null}}}}, not {str(v)[:120]!r}")
    out: dict[str, dict[int, Csn] | None] = {}
    for server, csns in servers.items():
        if csns is None:
            out[server] = None
            continue
        if not isinstance(csns, dict):
            raise HistoryError(f"history line index {op.index}: {op.process} server {server!r}: contextCSNs must be"
                               f" {{serverID: CSN}} or null, not {csns!r}")
        parsed: dict[int, Csn] = {}
        for sid, text in csns.items():
            try:
                csn = parse_csn(str(text), command=f"{op.process} {server}")
            except ParseError as exc:
                raise HistoryError(f"history line index {op.index}: {exc}") from None
            if str(sid) != str(csn.sid):
                raise HistoryError(f"history line index {op.index}: {op.process} server {server!r}: CSN {text!r}"
                                   f" filed under serverID {sid!r}")
            parsed[csn.sid] = csn
        out[server] = parsed
    return out


def _agree(sample: dict[str, dict[int, Csn] | None]) -> bool:
    answers = list(sample.values())
    if len(answers) < 2 or any(a is None for a in answers):
        return False
    first = answers[0]
    return all(context_csns_agree(first, other) for other in answers[1:] if first is not None and other is not None)


def _diverged(sample: dict[str, dict[int, Csn] | None]) -> bool:
    """Two servers answered with different contextCSNs (a server that did not answer says nothing)."""
    answers = [a for a in sample.values() if a is not None]
    return any(not context_csns_agree(answers[0], other) for other in answers[1:])


def _divergence_in_faults(ops: list[Op], samples: list[tuple[float, dict[str, dict[int, Csn] | None]]]
                          ) -> dict[str, Any]:
    """How many samples inside a fault window saw the servers apart, and the longest run of
    them: the evidence that a fault meant to cut replication did (a test of convergence after
    a partition that never separated the servers proves nothing)."""
    windows, _ = scan_faults(ops)
    inside = [(t, _diverged(s)) for t, s in samples if any(w.start <= t <= w.end for w in windows)]
    longest, began, last = 0.0, None, None
    for t, apart in inside:
        if apart:
            began = t if began is None else began
            last = t
            longest = max(longest, last - began)
        else:
            began = None
    return {"samples_in_faults": len(inside), "diverged_in_faults": sum(1 for _, apart in inside if apart),
            "longest_divergence_in_faults_s": round(longest, 3) if last is not None else None}


def ldap_convergence(ops: Iterable[Op], *, max_s: float | None = None, process: str = LDAP_CSN_PROCESS,
                     f: str = "context-csn", max_examples: int = 10) -> CheckResult:
    """Time from the last heal until every server's contextCSN is the same (see the module)."""
    check_max_s(CONVERGENCE, max_s)
    ops = list(ops)
    heal_at, orphans = last_heal(ops)
    samples = [(op.time, _csn_sample(op)) for op in ops if op.process == process and op.f == f and op.type == "ok"]
    counts: dict[str, Any] = {"samples": len(samples), "converged_s": None, "bound_s": max_s}
    counts.update(_divergence_in_faults(ops, samples))
    if heal_at is None:
        return fail_closed(CheckResult(CONVERGENCE, Validity.UNKNOWN, counts, message="no healed fault"),
                           orphans, "nemesis ")
    after = [(t, s) for t, s in samples if t >= heal_at]
    counts["samples_after_heal"] = len(after)
    if not after:
        return fail_closed(CheckResult(CONVERGENCE, Validity.UNKNOWN, counts,
                                       message="no contextCSN sample after the last heal"), orphans, "nemesis ")
    examples = {"after_heal": [{"t": round(t - heal_at, 3),
                                "servers": {n: None if c is None else {sid: csn.text for sid, csn in sorted(c.items())}
                                            for n, c in sorted(s.items())}}
                               for t, s in after[:max_examples]]}
    result = convergence_verdict(CONVERGENCE, counts, examples, heal_at=heal_at,
                                 reached_at=next((t for t, s in after if _agree(s)), None), last_t=after[-1][0],
                                 max_s=max_s, what="contextCSNs equal", not_yet="contextCSNs still differ")
    return fail_closed(result, orphans, "nemesis ")
