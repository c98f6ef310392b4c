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
  is NOT lost.

The same checker serves forum posts made over HTTP: ``ledger(ops, write_prefix="locust-",
write_f="post", key_field="key", read_prefix="posts-read-")``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from ..history import Op
from ._result import CheckResult, Validity

NAME = "ledger"
_RANK = {"fail": 0, "info": 1, "ok": 2}


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
        return _ledger(ops, write_prefix, write_f, read_prefix, read_f, key_field, name, max_examples)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        return CheckResult(name, Validity.UNKNOWN, message=f"bad data in history: {type(exc).__name__}: {exc}")


def _key(inv: Op, comp: Op | None, key_field: str | None) -> Any:
    if key_field is None:
        if inv.value is not None:
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


def _ledger(
    ops: Iterable[Op],
    write_prefix: str,
    write_f: str,
    read_prefix: str,
    read_f: str,
    key_field: str | None,
    name: str,
    max_examples: int,
) -> CheckResult:
    kind: dict[str, int] = {}  # process -> 1 writer, 2 reader, 0 other
    open_inv: dict[str, Op] = {}
    status: dict[Any, str] = {}
    unkeyed = 0
    final_reads: dict[str, list[Any]] = {}
    read_failed: set[str] = set()

    def settle_write(inv: Op, comp: Op | None) -> None:
        nonlocal unkeyed
        key = _key(inv, comp, key_field)
        outcome = comp.type if comp is not None else "info"
        if key is None:
            unkeyed += 1
            return
        prev = status.get(key)
        if prev is None or _RANK[outcome] > _RANK[prev]:
            status[key] = outcome

    for op in ops:
        proc = op.process
        k = kind.get(proc)
        if k is None:
            if proc.startswith(read_prefix):
                k = 2
            elif proc.startswith(write_prefix):
                k = 1
            else:
                k = 0
            kind[proc] = k
        if k == 0:
            continue
        if op.type == "invoke":
            prev_inv = open_inv.get(proc)
            if prev_inv is not None and k == 1 and prev_inv.f == write_f:
                settle_write(prev_inv, None)  # never completed: indeterminate
            open_inv[proc] = op
            continue
        inv = open_inv.pop(proc, None)
        if inv is None:
            continue
        if k == 1:
            if inv.f == write_f:
                settle_write(inv, op)
            continue
        if inv.f != read_f:
            continue
        node = op.extra.get("node")
        if node is None and isinstance(inv.value, dict):
            node = inv.value.get("node")
        if node is None:
            node = proc[len(read_prefix) :]
        node = str(node)
        if op.type == "ok":
            if not isinstance(op.value, list):
                raise ValueError(f"final read of node {node!r} (op {op.index}): value is {type(op.value).__name__}, not a list of keys")
            final_reads[node] = op.value
            read_failed.discard(node)
        elif node not in final_reads:
            read_failed.add(node)
    for proc, inv in open_inv.items():
        if kind.get(proc) == 1 and inv.f == write_f:
            settle_write(inv, None)

    acked = {k for k, s in status.items() if s == "ok"}
    failed = {k for k, s in status.items() if s == "fail"}
    indeterminate = {k for k, s in status.items() if s == "info"}
    counts: dict[str, Any] = {
        "attempted": len(status),
        "acknowledged": len(acked),
        "failed": len(failed),
        "indeterminate": len(indeterminate),
        "unkeyed": unkeyed,
        "nodes_read": len(final_reads),
    }
    if not final_reads:
        msg = "no final read"
        if read_failed:
            msg += f" (reads failed on: {', '.join(sorted(read_failed))})"
        return CheckResult(name, Validity.UNKNOWN, counts, message=msg)
    if not status:
        return CheckResult(name, Validity.UNKNOWN, counts, message=f"no {write_f!r} operations by {write_prefix!r} processes")

    lost_per_node: dict[str, int] = {}
    lost_ex: list[dict[str, Any]] = []
    dup_ex: list[dict[str, Any]] = []
    found_any: set[Any] = set()
    found_by_node: dict[str, set[Any]] = {}
    unexpected: set[Any] = set()
    dup_total = 0
    for node in sorted(final_reads):
        keys = final_reads[node]
        counter = Counter(keys)
        found = set(counter)
        found_by_node[node] = found
        found_any |= found
        lost = acked - found
        lost_per_node[node] = len(lost)
        for key in sorted(lost, key=str)[: max(0, max_examples - len(lost_ex))]:
            lost_ex.append({"node": node, "key": key})
        if len(counter) != len(keys):
            for key, c in counter.items():
                if c > 1:
                    dup_total += 1
                    if len(dup_ex) < max_examples:
                        dup_ex.append({"node": node, "key": key, "count": c})
        unexpected |= found - status.keys()
    lost_keys = set().union(*(acked - f for f in found_by_node.values()))
    recovered = indeterminate & found_any
    failed_present = failed & found_any
    inconsistent = []
    if len(found_by_node) > 1:
        for key in sorted(recovered, key=str):
            on = [n for n, f in found_by_node.items() if key in f]
            if len(on) != len(found_by_node):
                inconsistent.append({"key": key, "found_on": on, "missing_on": [n for n in found_by_node if n not in on]})
    counts.update(
        {
            "lost": len(lost_keys),
            "lost_per_node": lost_per_node,
            "unexpected": len(unexpected),
            "duplicates": dup_total,
            "recovered": len(recovered),
            "failed_present": len(failed_present),
            "inconsistent": len(inconsistent),
            "read_failed_nodes": sorted(read_failed),
        }
    )
    examples: dict[str, list[Any]] = {}
    if lost_ex:
        examples["lost"] = lost_ex
    if unexpected:
        examples["unexpected"] = sorted(unexpected, key=str)[:max_examples]
    if dup_ex:
        examples["duplicates"] = dup_ex
    if failed_present:
        examples["failed_present"] = sorted(failed_present, key=str)[:max_examples]
    if inconsistent:
        examples["inconsistent"] = inconsistent[:max_examples]
    problems = [
        f"{label}: {n}"
        for label, n in (
            ("lost", len(lost_keys)),
            ("unexpected", len(unexpected)),
            ("duplicates", dup_total),
            ("failed but present", len(failed_present)),
            ("inconsistent between nodes", len(inconsistent)),
        )
        if n
    ]
    if problems:
        return CheckResult(name, Validity.INVALID, counts, examples, "; ".join(problems))
    if read_failed:
        return CheckResult(
            name, Validity.UNKNOWN, counts, examples, f"no final read from: {', '.join(sorted(read_failed))}"
        )
    msg = f"{len(acked)} acknowledged writes present on {len(final_reads)} node(s)"
    if unkeyed:
        msg += f"; {unkeyed} writes carried no key and were not tracked"
    return CheckResult(name, Validity.VALID, counts, examples, msg)
