"""Zero lost transactions: every acknowledged write is present on every node after healing.

Jepsen's set checker, per database node. Writes are ops by processes starting with
``write_prefix`` whose ``f`` is ``write_f``; each carries a unique key. The final reads are
``read_f`` ops by ``read_prefix`` processes, one per node, whose ``ok`` value is the list of
keys found there (the last ``ok`` read of a node is its final read). Verdicts:

- lost: acknowledged (``ok``) but missing from a node's final read (reported per node);
- unexpected: found but never attempted; duplicates: found twice in one node's read;
- failed-but-present: a ``fail`` write found (``fail`` means "certainly did not happen");
- inconsistent: an indeterminate (``info``) write found on some nodes but not others;
- recovered: ``info`` writes found (fine: they may go either way). An absent ``info`` write
  is NOT lost;
- orphan completions (no invocation before them: a damaged history) are counted and make the
  verdict UNKNOWN unless INVALID; an orphan acknowledged write is still judged (its key from
  the completion): missing from a node, it is lost.

As in Jepsen, the check is a fold and then a judgement: :func:`gather` streams the history
once into a :class:`LedgerFacts` (each key's best outcome, each node's final read), and
:func:`judge` is set algebra over those facts alone.

The same checker serves forum posts made over HTTP: ``ledger(ops, write_prefix="locust-",
write_f="post", key_field="key", read_prefix="posts-read-")``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..history import Op
from ._orphans import Orphans
from ._result import CheckResult, Validity

NAME = "ledger"
_RANK = {"fail": 0, "info": 1, "ok": 2}
_OTHER, _WRITER, _READER = 0, 1, 2  # what a process is to the ledger


def ledger(
    ops: Iterable[Op],
    *,
    write_prefix: str = "ledger-",
    write_f: str = "write",
    read_prefix: str = "ledger-read-",
    read_f: str = "read",
    key_field: str | None = None,
    name: str = NAME,
    max_examples: int = 10,
) -> CheckResult:
    """Lost / unexpected / duplicate / failed-but-present writes against the final reads.

    ``key_field`` None: the key is the write's invoke value (else its completion value).
    Otherwise the key is the field ``key_field`` of the completion's extra fields, else of
    the invocation's, else of a dict value (locust ``post`` ops carry ``key``).
    """
    try:
        facts = gather(ops, write_prefix=write_prefix, write_f=write_f, read_prefix=read_prefix, read_f=read_f, key_field=key_field)
        return judge(facts, name=name, what=f"{write_f!r} operations by {write_prefix!r} processes", max_examples=max_examples)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        return CheckResult(name, Validity.UNKNOWN, message=f"bad data in history: {type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class LedgerFacts:
    """What one pass over the history gathers for the ledger, before any judgement."""

    #: every attempted key -> its best outcome over all attempts: "ok" > "info" > "fail"
    outcomes: dict[Any, str] = field(default_factory=dict)
    #: writes whose key could not be read (not tracked)
    unkeyed: int = 0
    #: node -> the keys of its last ``ok`` read
    final_reads: dict[str, list[Any]] = field(default_factory=dict)
    #: nodes whose reads all failed (none ``ok``)
    read_failed: set[str] = field(default_factory=set)
    #: write and read completions with no invocation before them (judged all the same)
    orphans: Orphans = field(default_factory=Orphans)

    def keys_with(self, outcome: str) -> set[Any]:
        """The keys whose best outcome is ``outcome``."""
        return {k for k, s in self.outcomes.items() if s == outcome}


def _key(inv: Op | None, comp: Op | None, key_field: str | None) -> Any:
    """A write's key (see :func:`ledger`); ``inv`` None for an orphan completion."""
    if key_field is None:
        if inv is not None and inv.value is not None:
            return inv.value
        return comp.value if comp is not None else None
    for op in (comp, inv):
        if op is None:
            continue
        if key_field in op.extra:
            return op.extra[key_field]
        if isinstance(op.value, dict) and key_field in op.value:
            return op.value[key_field]
    return None


def _read_node(inv: Op | None, comp: Op, read_prefix: str) -> str:
    """The node a final read is of: the completion's ``node``, the invocation's, else the
    process name after ``read_prefix``."""
    node = comp.extra.get("node")
    if node is None and inv is not None and isinstance(inv.value, dict):
        node = inv.value.get("node")
    if node is None:
        node = comp.process[len(read_prefix) :]
    return str(node)


def _take_read(node: str, comp: Op, final_reads: dict[str, list[Any]], read_failed: set[str]) -> None:
    """Record a read's completion: an ``ok`` one is the node's final read so far."""
    if comp.type == "ok":
        if not isinstance(comp.value, list):
            raise ValueError(f"final read of node {node!r} (op {comp.index}): value is {type(comp.value).__name__}, not a list of keys")
        final_reads[node] = comp.value
        read_failed.discard(node)
    elif node not in final_reads:
        read_failed.add(node)


def gather(
    ops: Iterable[Op],
    *,
    write_prefix: str = "ledger-",
    write_f: str = "write",
    read_prefix: str = "ledger-read-",
    read_f: str = "read",
    key_field: str | None = None,
) -> LedgerFacts:
    """The ledger's pass: one streaming fold pairing each process's invocation with its
    completion. A write never completed (its process invoked again, or the history ended)
    is indeterminate. Raises ValueError for an ``ok`` final read whose value is not a list."""
    kind: dict[str, int] = {}  # process -> _WRITER, _READER or _OTHER
    open_inv: dict[str, Op] = {}
    outcomes: dict[Any, str] = {}
    unkeyed = 0
    final_reads: dict[str, list[Any]] = {}
    read_failed: set[str] = set()
    orphans = Orphans()

    def settle_write(inv: Op | None, comp: Op | None) -> None:
        nonlocal unkeyed
        key = _key(inv, comp, key_field)
        outcome = comp.type if comp is not None else "info"
        if key is None:
            unkeyed += 1
            return
        prev = outcomes.get(key)
        if prev is None or _RANK[outcome] > _RANK[prev]:
            outcomes[key] = outcome

    for op in ops:
        proc = op.process
        k = kind.get(proc)
        if k is None:
            k = kind[proc] = _READER if proc.startswith(read_prefix) else _WRITER if proc.startswith(write_prefix) else _OTHER
        if k == _OTHER:
            continue
        if op.type == "invoke":
            prev_inv = open_inv.get(proc)
            if prev_inv is not None and k == _WRITER and prev_inv.f == write_f:
                settle_write(prev_inv, None)  # never completed: indeterminate
            open_inv[proc] = op
            continue
        inv = open_inv.pop(proc, None)
        if inv is None:  # an orphan: judged on the completion alone (an ack is still an ack)
            if op.f == (write_f if k == _WRITER else read_f):
                orphans.add(op)
                if k == _WRITER:
                    settle_write(None, op)
                else:
                    _take_read(_read_node(None, op, read_prefix), op, final_reads, read_failed)
            continue
        if k == _WRITER:
            if inv.f == write_f:
                settle_write(inv, op)
            continue
        if inv.f == read_f:
            _take_read(_read_node(inv, op, read_prefix), op, final_reads, read_failed)
    for proc, inv in open_inv.items():
        if kind.get(proc) == _WRITER and inv.f == write_f:
            settle_write(inv, None)
    return LedgerFacts(outcomes, unkeyed, final_reads, read_failed, orphans)


@dataclass
class _Comparison:
    """The final reads set against the writes: what :func:`judge` counts and shows."""

    found_by_node: dict[str, set[Any]] = field(default_factory=dict)
    found_any: set[Any] = field(default_factory=set)
    lost_per_node: dict[str, int] = field(default_factory=dict)
    lost_examples: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0
    duplicate_examples: list[dict[str, Any]] = field(default_factory=list)
    unexpected: set[Any] = field(default_factory=set)
    lost: set[Any] = field(default_factory=set)
    recovered: set[Any] = field(default_factory=set)
    failed_present: set[Any] = field(default_factory=set)
    inconsistent: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, Any]:
        return {
            "lost": len(self.lost),
            "lost_per_node": self.lost_per_node,
            "unexpected": len(self.unexpected),
            "duplicates": self.duplicates,
            "recovered": len(self.recovered),
            "failed_present": len(self.failed_present),
            "inconsistent": len(self.inconsistent),
        }

    def examples(self, max_examples: int) -> dict[str, list[Any]]:
        examples: dict[str, list[Any]] = {}
        if self.lost_examples:
            examples["lost"] = self.lost_examples
        if self.unexpected:
            examples["unexpected"] = sorted(self.unexpected, key=str)[:max_examples]
        if self.duplicate_examples:
            examples["duplicates"] = self.duplicate_examples
        if self.failed_present:
            examples["failed_present"] = sorted(self.failed_present, key=str)[:max_examples]
        if self.inconsistent:
            examples["inconsistent"] = self.inconsistent[:max_examples]
        return examples

    def problems(self) -> list[str]:
        """``"lost: 2"``-like phrases for every violation (empty: none)."""
        return [
            f"{label}: {n}"
            for label, n in (
                ("lost", len(self.lost)),
                ("unexpected", len(self.unexpected)),
                ("duplicates", self.duplicates),
                ("failed but present", len(self.failed_present)),
                ("inconsistent between nodes", len(self.inconsistent)),
            )
            if n
        ]


def _compare(facts: LedgerFacts, acked: set[Any], failed: set[Any], indeterminate: set[Any], max_examples: int) -> _Comparison:
    """Set algebra, node by node: lost = acknowledged - found, unexpected = found - attempted,
    recovered = indeterminate & found anywhere, failed-but-present = failed & found anywhere."""
    attempted = facts.outcomes.keys()
    cmp = _Comparison()
    for node in sorted(facts.final_reads):
        keys = facts.final_reads[node]
        counter = Counter(keys)
        found = set(counter)
        cmp.found_by_node[node] = found
        cmp.found_any |= found
        lost = acked - found
        cmp.lost_per_node[node] = len(lost)
        for key in sorted(lost, key=str)[: max(0, max_examples - len(cmp.lost_examples))]:
            cmp.lost_examples.append({"node": node, "key": key})
        if len(counter) != len(keys):
            for key, c in counter.items():
                if c > 1:
                    cmp.duplicates += 1
                    if len(cmp.duplicate_examples) < max_examples:
                        cmp.duplicate_examples.append({"node": node, "key": key, "count": c})
        cmp.unexpected |= found - attempted
    cmp.lost = set().union(*(acked - f for f in cmp.found_by_node.values()))
    cmp.recovered = indeterminate & cmp.found_any
    cmp.failed_present = failed & cmp.found_any
    cmp.inconsistent = _inconsistent(cmp.recovered, cmp.found_by_node)
    return cmp


def _inconsistent(recovered: set[Any], found_by_node: dict[str, set[Any]]) -> list[dict[str, Any]]:
    """Indeterminate writes found on some nodes but not on others."""
    out: list[dict[str, Any]] = []
    if len(found_by_node) > 1:
        for key in sorted(recovered, key=str):
            on = [n for n, f in found_by_node.items() if key in f]
            if len(on) != len(found_by_node):
                out.append({"key": key, "found_on": on, "missing_on": [n for n in found_by_node if n not in on]})
    return out


def judge(facts: LedgerFacts, *, name: str = NAME, what: str = "writes", max_examples: int = 10) -> CheckResult:
    """The ledger's verdict on ``facts`` alone; ``what`` names the writes looked for (the
    message when there were none)."""
    acked = facts.keys_with("ok")
    failed = facts.keys_with("fail")
    indeterminate = facts.keys_with("info")
    counts: dict[str, Any] = {
        "attempted": len(facts.outcomes),
        "acknowledged": len(acked),
        "failed": len(failed),
        "indeterminate": len(indeterminate),
        "unkeyed": facts.unkeyed,
        "nodes_read": len(facts.final_reads),
        "orphan_completions": facts.orphans.count,
    }
    not_read = ", ".join(sorted(facts.read_failed))
    if not facts.final_reads:
        msg = "no final read" + (f" (reads failed on: {not_read})" if not_read else "")
        return CheckResult(name, Validity.UNKNOWN, counts, message=msg)
    if not facts.outcomes:
        return CheckResult(name, Validity.UNKNOWN, counts, message=f"no {what}")

    cmp = _compare(facts, acked, failed, indeterminate, max_examples)
    counts.update(cmp.counts())
    counts["read_failed_nodes"] = sorted(facts.read_failed)
    examples = cmp.examples(max_examples)
    if facts.orphans.count:
        examples["orphan_completions"] = list(facts.orphans.examples)
    problems = cmp.problems()
    if problems:
        if facts.orphans.count:
            problems.append(facts.orphans.note())
        return CheckResult(name, Validity.INVALID, counts, examples, "; ".join(problems))
    doubts = [f"no final read from: {not_read}"] if not_read else []
    if facts.orphans.count:
        doubts.append(facts.orphans.note())
    if doubts:
        return CheckResult(name, Validity.UNKNOWN, counts, examples, "; ".join(doubts))
    msg = f"{len(acked)} acknowledged writes present on {len(facts.final_reads)} node(s)"
    if facts.unkeyed:
        msg += f"; {facts.unkeyed} writes carried no key and were not tracked"
    return CheckResult(name, Validity.VALID, counts, examples, msg)
