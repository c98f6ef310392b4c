"""Elle's list-append analysis: isolation anomalies inferred from what transactions read.

Every key is a list that transactions append unique ints to; a read returns the whole list,
so the longest read of a key is its version order and every other read must be a prefix of
it (else ``incompatible-order``). From those orders come the dependency edges (Adya's DSG):
ww (T1 appended the element right before T2's), wr (T2 read a list ending in T1's append),
rw (T1 read a list that T2's append later extended). Cycles are found through strongly
connected components and named by their edges: G0, G1c, G-single, G2-item. Direct reads give
G1a (a failed txn's append was read), G1b (a read ended in a txn's non-final append to that
key), duplicate-elements, and lost-update (two committed txns read the same version of a key
and both appended to it). Inside one committed txn (Elle's ``internal-cases``): ``internal``, a
read of a key that disagrees with the txn's own earlier read of it and its appends since, and
``future-read``, a read holding an element the same txn appends only later. Everything found
is reported; only what ``model`` forbids makes the verdict INVALID (docs/checkers.md has the
table). ``info`` transactions may have committed: their appends explain reads and order keys,
and are never G1a.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..history import Op
from . import _txn_graph as g
from ._result import CheckResult, Validity
from ._txn_history import Txn, TxnHistoryError, collect, is_txn_op

NAME = "list_append"

#: future-read implies G1c in Elle (a wr self-edge), so every model forbidding G1c forbids it.
#: internal: Elle lists it under serializable / snapshot-isolation (Cerone's INT) but not under
#: read-committed or repeatable-read; every model here forbids it because Adya's histories, on
#: which all of them are defined, require a txn that wrote a key to read its own write back.
_G1 = frozenset({"G0", "G1a", "G1b", "G1c", "incompatible-order", "duplicate-elements", "future-read", "internal"})
_SERIAL = _G1 | {"G-single", "G2-item", "lost-update"}
_RT = frozenset(f"{a}-{s}" for a in ("G0", "G1c", "G-single", "G2-item") for s in ("process", "realtime"))
#: what each model forbids (Elle's elle.consistency-model, Adya's definitions): see docs/checkers.md
MODELS: dict[str, frozenset[str]] = {
    "read-committed": _G1,  # Adya PL-2
    "repeatable-read": frozenset(_SERIAL),  # Adya PL-2.99: G2-item (G-single is a G2-item) + lost-update
    "snapshot-isolation": _G1 | {"G-single", "lost-update"},  # Adya PL-SI: write skew (G2-item) allowed
    "serializable": frozenset(_SERIAL),  # Adya PL-3
    "strong-session-serializable": frozenset(_SERIAL | {a for a in _RT if a.endswith("-process")}),
    "strict-serializable": frozenset(_SERIAL | _RT),
}
#: the order edges a model needs in the graph
_ORDER_EDGES = {"strong-session-serializable": g.PROCESS, "strict-serializable": g.PROCESS | g.REALTIME}

__all__ = ["MODELS", "NAME", "TxnHistoryError", "check_bank", "check_list_append", "has_list_append"]


def has_list_append(ops: Iterable[Op]) -> bool:
    return any(is_txn_op(op) for op in ops)


def check_list_append(
    ops: Iterable[Op],
    *,
    model: str = "serializable",
    process_edges: bool = False,
    realtime_edges: bool = False,
    max_examples: int = 5,
) -> CheckResult:
    """Judge ``ops``'s list-append transactions against ``model`` (a key of :data:`MODELS`).

    Raises :class:`TxnHistoryError` for malformed micro-ops. UNKNOWN when no ok read saw a key
    that was appended to (no version order can be inferred) and nothing forbidden was found.
    """
    if model not in MODELS:
        raise ValueError(f"list_append model: {model!r} is not one of {', '.join(sorted(MODELS))}")
    txns, orphans = collect(ops)
    extra = _ORDER_EDGES.get(model, 0) | (g.PROCESS if process_edges else 0) | (g.REALTIME if realtime_edges else 0)
    if not txns:
        return CheckResult(NAME, Validity.UNKNOWN, {"txns": 0, "anomaly_types": []}, message="no list-append transactions")
    a = _Analysis(txns, max_examples)
    a.run(extra)
    found = sorted(a.counts)
    forbidden = sorted(t for t in found if t in MODELS[model])
    counts: dict[str, Any] = {
        "txns": len(txns),
        "ok": sum(1 for t in txns if t.type == "ok"),
        "fail": sum(1 for t in txns if t.type == "fail"),
        "info": sum(1 for t in txns if t.type == "info"),
        "keys": len(a.order),
        "model": model,
        "anomaly_types": found,
        "forbidden_anomaly_types": forbidden,
        "anomalies": dict(sorted(a.counts.items())),
        "orphan_completions": orphans,
    }
    if forbidden:
        valid, msg = Validity.INVALID, f"{model} forbids {', '.join(forbidden)}"
    elif a.known_reads == 0:
        valid, msg = Validity.UNKNOWN, "no ok read of an appended key: version orders cannot be inferred"
    elif orphans:
        valid, msg = Validity.UNKNOWN, f"{orphans} orphan completion(s): the history is damaged"
    else:
        allowed = f" ({', '.join(found)} allowed by {model})" if found else ""
        valid, msg = Validity.VALID, f"no anomaly {model} forbids{allowed}"
    return CheckResult(NAME, valid, counts, {k: v for k, v in sorted(a.examples.items())}, msg)


def _fmt(v: list[int]) -> str:
    return "[" + ", ".join(map(str, v)) + "]"


class _Analysis:
    """The fold over one history's transactions; results in ``counts`` and ``examples``."""

    def __init__(self, txns: list[Txn], max_examples: int) -> None:
        self.txns = txns
        self.max_examples = max_examples
        self.counts: dict[str, int] = {}
        self.examples: dict[str, list[Any]] = {}
        self.order: dict[Any, list[int]] = {}  # key -> longest ok read
        self.writer: dict[tuple[Any, int], int] = {}  # (key, element) -> txn id
        self.final: dict[tuple[Any, int], bool] = {}  # (key, element) -> last append of its txn to key
        self.known_reads = 0
        self.graph: g.Graph = {}
        self.repeats: list[int] = []  # ok txns touching a key twice, one of the two a read

    def found(self, kind: str, example: Any) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        ex = self.examples.setdefault(kind, [])
        if len(ex) < self.max_examples:
            ex.append(example)

    def describe(self, tid: int) -> dict[str, Any]:
        t = self.txns[tid]
        # the times place the txn on the report's timeline (invoke .. completion, None if never)
        end = None if t.complete_time is None else round(t.complete_time, 6)
        return {"txn": f"T{tid}", "process": t.process, "type": t.type, "index": t.invoke_index, "value": t.mops,
                "time": round(t.invoke_time, 6), "end": end}

    def run(self, extra: int) -> None:
        reads = self._orders()
        self._direct(reads)
        self._internal()
        self._edges(reads)
        if extra:
            self._order_edges(extra)
        self._lost_updates(reads)
        self._cycles(extra)

    def _orders(self) -> list[tuple[int, Any, list[int]]]:
        """Writers of each element, the longest read per key, and the external ok reads (a
        read of a key before the txn's own first append to it) as ``(txn, key, list)``. Notes in
        ``repeats`` the ok txns that touch a key twice, a read first or second (only those can
        be ``internal`` or ``future-read``; noted here, the in-txn pass skips the rest)."""
        writer, final, order, repeats = self.writer, self.final, self.order, self.repeats
        reads: list[tuple[int, Any, list[int]]] = []
        for t in self.txns:
            last: dict[Any, int] = {}  # key -> this txn's latest append to it
            read: set[Any] = set()  # keys this txn read before appending to them
            ok = t.type == "ok"
            repeat = False
            for f, key, v in t.mops:
                if f == "append":
                    writer[(key, v)] = t.id  # failed ones too: reading them is G1a
                    if key in last:
                        final[(key, last[key])] = False
                    elif key in read:
                        repeat = True
                    last[key] = v
                    final[(key, v)] = True
                elif ok:
                    cur = order.get(key)
                    if cur is None or len(v) > len(cur):
                        order[key] = v
                    if key in last:
                        repeat = True
                        continue
                    reads.append((t.id, key, v))
                    if key in read:
                        repeat = True
                    else:
                        read.add(key)
            if repeat and ok:
                repeats.append(t.id)
        return reads

    def _direct(self, reads: list[tuple[int, Any, list[int]]]) -> None:
        """incompatible-order, duplicate-elements, G1a, G1b, and which reads are usable."""
        order, writer, txns = self.order, self.writer, self.txns
        for t in txns:  # reads after the txn's own appends still have to fit the order
            if t.type != "ok":
                continue
            for f, key, v in t.mops:
                if f != "r":
                    continue
                longest = order[key]
                if len(set(v)) != len(v):
                    self.found("duplicate-elements", {"txn": self.describe(t.id), "key": key, "read": v})
                if v != longest[: len(v)]:
                    self.found("incompatible-order", {"key": key, "read": v, "longest": longest, "txn": self.describe(t.id)})
        for tid, key, v in reads:
            if v:
                self.known_reads += 1
            for e in v:
                w = writer.get((key, e))
                if w is not None and txns[w].type == "fail":
                    self.found("G1a", {"reader": self.describe(tid), "writer": self.describe(w), "key": key, "element": e,
                                       "explanation": f"T{tid} read {key} = {_fmt(v)}, containing {e}, appended by T{w} which failed"})
            if v:
                e = v[-1]
                w = writer.get((key, e))
                if w is not None and w != tid and not self.final.get((key, e), True):
                    self.found("G1b", {"reader": self.describe(tid), "writer": self.describe(w), "key": key, "element": e,
                                       "explanation": f"T{tid} read {key} = {_fmt(v)}, ending in {e}, an intermediate append of T{w}"})

    def _internal(self) -> None:
        """Elle's ``internal`` and ``future-read``, each ok txn on its own (one of each per txn,
        the first, as Elle's ``op-int-case`` / ``op-future-read-case``). A txn's expected state
        of a key is its last read of it plus its appends since, or, before any read, a list
        ending in its appends so far (prefix unknown)."""
        txns = self.txns
        for tid in self.repeats:
            mops = txns[tid].mops
            expect: dict[Any, list[int]] = {}  # key -> what the next read of it must be (or end in)
            suffix: set[Any] = set()  # keys not read yet: ``expect`` is the end of the list only
            internal = future = False
            for i, (f, key, v) in enumerate(mops):
                exp = expect.get(key)
                if f == "append":
                    # read before appended? (a scan of the earlier reads: rare, and lists are short)
                    if not future and exp is not None and any(m[0] == "r" and m[1] == key and v in m[2] for m in mops[:i]):
                        future = True
                        self._future_read(tid, i, key, v)
                    if exp is None:
                        expect[key] = [v]
                        suffix.add(key)
                    else:
                        expect[key] = exp + [v]
                    continue
                if exp is not None and not internal:
                    known = key not in suffix
                    n = len(v) - len(exp)
                    if (v != exp) if known else (n < 0 or v[n:] != exp):
                        internal = True
                        self._internal_case(tid, i, key, known, exp)
                expect[key] = v
                suffix.discard(key)

    def _internal_case(self, tid: int, i: int, key: Any, known: bool, exp: list[int]) -> None:
        mops = self.txns[tid].mops
        v = mops[i][2]
        last = max((j for j in range(i) if mops[j][0] == "r" and mops[j][1] == key), default=None)
        since = [m[2] for m in mops[(0 if last is None else last + 1):i] if m[0] == "append" and m[1] == key]
        apps = ", ".join(map(str, since))
        if last is None:
            why = f"T{tid} appended {apps} to {key} then read {key} = {_fmt(v)}, not ending in {_fmt(exp)}"
        elif since:
            why = f"T{tid} read {key} = {_fmt(mops[last][2])} and appended {apps}, then read {key} = {_fmt(v)}, not {_fmt(exp)}"
        else:
            why = f"T{tid} read {key} = {_fmt(exp)}, then read {key} = {_fmt(v)} with no append between"
        expected: list[Any] = exp if known else ["...", *exp]  # Elle's form: '... for an unknown prefix
        self.found("internal", {"txn": self.describe(tid), "key": key, "read": v, "expected": expected, "explanation": why})

    def _future_read(self, tid: int, i: int, key: Any, e: int) -> None:
        mops = self.txns[tid].mops
        v = next(m[2] for m in mops[:i] if m[0] == "r" and m[1] == key and e in m[2])
        self.found("future-read", {"txn": self.describe(tid), "key": key, "read": v, "element": e,
                                   "explanation": f"T{tid} read {key} = {_fmt(v)}, containing {e}, before appending {e} itself"})

    def _usable(self, key: Any, v: list[int]) -> bool:
        longest = self.order[key]
        return len(v) <= len(longest) and v == longest[: len(v)]

    def _edges(self, reads: list[tuple[int, Any, list[int]]]) -> None:
        """ww along each key's order, wr and rw from each external read (failed txns excluded)."""
        writer, txns, graph = self.writer, self.txns, self.graph
        add = g.add_edge
        for key, longest in self.order.items():
            prev = None
            for e in longest:
                w = writer.get((key, e))
                if w is None or txns[w].type == "fail":
                    prev = None
                    continue
                if prev is not None and prev != w:
                    add(graph, prev, w, g.WW)
                prev = w
        for tid, key, v in reads:
            if not self._usable(key, v):
                continue
            if v:
                w = writer.get((key, v[-1]))
                if w is not None and txns[w].type != "fail":
                    add(graph, w, tid, g.WR)
            longest = self.order[key]
            if len(v) < len(longest):
                w = writer.get((key, longest[len(v)]))
                if w is not None and txns[w].type != "fail":
                    add(graph, tid, w, g.RW)

    def _order_edges(self, extra: int) -> None:
        """Process order (each process's ok txns in turn) and real time (T1 completed before
        T2 was invoked), the latter through a frontier so edges stay O(n), as Elle does."""
        oks = [t for t in self.txns if t.type == "ok"]
        if extra & g.PROCESS:
            last: dict[str, int] = {}
            for t in oks:
                if t.process in last:
                    g.add_edge(self.graph, last[t.process], t.id, g.PROCESS)
                last[t.process] = t.id
        if extra & g.REALTIME:
            events: list[tuple[int, int, int]] = []
            for t in oks:
                events.append((t.invoke_index, 1, t.id))
                events.append((t.complete_index or t.invoke_index, 0, t.id))
            events.sort()
            frontier: set[int] = set()
            preds: dict[int, list[int]] = {}
            for _i, is_invoke, tid in events:
                if is_invoke:
                    preds[tid] = list(frontier)
                    for p in frontier:
                        g.add_edge(self.graph, p, tid, g.REALTIME)
                else:
                    frontier.difference_update(preds.pop(tid, ()))
                    frontier.add(tid)

    def _lost_updates(self, reads: list[tuple[int, Any, list[int]]]) -> None:
        """Two ok txns that read the same version of a key and both appended to it."""
        appends: dict[int, set[Any]] = {}
        same: dict[tuple[Any, int], list[int]] = {}
        for tid, key, v in reads:
            t = self.txns[tid]
            keys = appends.get(tid)
            if keys is None:
                keys = appends[tid] = {k for f, k, _ in t.mops if f == "append"}
            if key in keys and self._usable(key, v):
                tids = same.setdefault((key, len(v)), [])
                if not tids or tids[-1] != tid:  # one txn reading the key twice is one reader
                    tids.append(tid)
        for (key, n), tids in same.items():
            if len(tids) > 1:
                v = self.order[key][:n]
                self.found("lost-update", {"key": key, "read": v, "txns": [self.describe(t) for t in tids],
                                           "explanation": f"{', '.join(f'T{t}' for t in tids)} all read {key} = {_fmt(v)} and appended to it"})

    def _cycles(self, extra: int) -> None:
        for comp in g.strongly_connected(self.graph):
            cycle = g.witness(self.graph, comp, extra)
            if cycle is None:
                continue
            words = [self._explain(a, b, k) for a, b, k in cycle]
            self.found(g.classify(cycle), {
                "txns": [self.describe(a) for a, _b, _k in cycle],
                "cycle": words,
                "edges": [{"from": f"T{a}", "to": f"T{b}", "kind": g.EDGE_NAMES[k], "why": w} for (a, b, k), w in zip(cycle, words, strict=True)],
            })

    def _explain(self, a: int, b: int, kind: int) -> str:
        """One edge in words, from the first key that shows it."""
        ta, tb = self.txns[a], self.txns[b]
        name = g.EDGE_NAMES[kind]
        if kind == g.PROCESS:
            return f"T{a} -process-> T{b}: {ta.process} ran T{a} and then T{b}"
        if kind == g.REALTIME:
            return f"T{a} -realtime-> T{b}: T{a} completed (line {ta.complete_index}) before T{b} was invoked (line {tb.invoke_index})"
        a_app = [(k, v) for f, k, v in ta.mops if f == "append"]
        b_app = [(k, v) for f, k, v in tb.mops if f == "append"]
        if kind == g.WW:
            for k, v in a_app:
                o = self.order.get(k, [])
                if v in o:
                    i = o.index(v)
                    for k2, v2 in b_app:
                        if k2 == k and v2 in o[i + 1:]:
                            return f"T{a} -ww-> T{b}: T{a} appended {v} to {k} and T{b} appended {v2} after it"
        for t_r, kind_r in ((tb, g.WR), (ta, g.RW)):
            if kind != kind_r:
                continue
            for f, k, v in t_r.mops:
                if f != "r" or not isinstance(v, list):
                    continue
                if kind == g.WR and v and self.writer.get((k, v[-1])) == a:
                    return f"T{a} -wr-> T{b}: T{b} read {k} = {_fmt(v)}, which ends in T{a}'s append of {v[-1]}"
                o = self.order.get(k, [])
                if kind == g.RW and len(v) < len(o) and self.writer.get((k, o[len(v)])) == b:
                    return f"T{a} -rw-> T{b}: T{a} read {k} = {_fmt(v)} before T{b} appended {o[len(v)]}"
        return f"T{a} -{name}-> T{b}"


def check_bank(ops: Iterable[Op], **kwargs: Any) -> CheckResult:
    """The bank checker (re-exported here for callers that import both from one place)."""
    from .bank import check_bank as _check_bank

    return _check_bank(ops, **kwargs)
