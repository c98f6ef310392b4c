"""The transaction dependency graph of the list-append checker: edges, SCCs, witness cycles.

Nodes are transaction numbers (ints); an edge carries a bit mask of its kinds (a pair of
transactions may be related several ways). Cycles are found as Elle does: strongly connected
components first (Tarjan, iterative: a million transactions would overflow recursion), then
inside each component the shortest cycle of the strongest kind, searched breadth-first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

WW, WR, RW, PROCESS, REALTIME = 1, 2, 4, 8, 16
DATA = WW | WR | RW
EDGE_NAMES = {WW: "ww", WR: "wr", RW: "rw", PROCESS: "process", REALTIME: "realtime"}
#: a hop related several ways is named by its weakest-anomaly kind first (ww before wr ...)
_PREFERENCE = (WW, WR, RW, PROCESS, REALTIME)

Graph = dict[int, dict[int, int]]


def add_edge(graph: Graph, a: int, b: int, kind: int) -> None:
    """Add ``a -> b`` of ``kind`` (self edges are never added: a txn does not depend on itself)."""
    if a == b:
        return
    out = graph.get(a)
    if out is None:
        graph[a] = {b: kind}
    else:
        out[b] = out.get(b, 0) | kind


def strongly_connected(graph: Graph) -> list[list[int]]:
    """The components of more than one node (Tarjan's algorithm, iterative)."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    found: list[list[int]] = []
    counter = 0
    empty: dict[int, int] = {}
    for root in graph:
        if root in index:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(graph.get(root, empty)))]
        while work:
            node, it = work[-1]
            pushed = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(graph.get(nxt, empty))))
                    pushed = True
                    break
                if nxt in on_stack and index[nxt] < low[node]:
                    low[node] = index[nxt]
            if pushed:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                if low[node] < low[parent]:
                    low[parent] = low[node]
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    found.append(comp)
    return found


def _path(graph: Graph, members: set[int], src: int, dst: int, mask: int, limit: int) -> list[int] | None:
    """Shortest path ``src .. dst`` over edges with a kind in ``mask``, inside ``members``."""
    if src == dst:
        return [src]
    prev: dict[int, int] = {src: src}
    queue = deque([src])
    while queue and len(prev) <= limit:
        node = queue.popleft()
        for nxt, kind in graph.get(node, {}).items():
            if nxt in prev or nxt not in members or not kind & mask:
                continue
            prev[nxt] = node
            if nxt == dst:
                path = [dst]
                while path[-1] != src:
                    path.append(prev[path[-1]])
                path.reverse()
                return path
            queue.append(nxt)
    return None


def find_cycle(
    graph: Graph, comp: Iterable[int], start: int, through: int, *, max_starts: int = 200, limit: int = 100_000
) -> list[tuple[int, int, int]] | None:
    """A short cycle in ``comp`` whose first edge has a kind in ``start`` and the rest kinds in
    ``through``: ``[(a, b, kind), ...]`` closing on itself, or None."""
    members = set(comp)
    best: list[tuple[int, int, int]] | None = None
    tried = 0
    for a in members:
        for b, kind in graph.get(a, {}).items():
            if b not in members or not kind & start:
                continue
            tried += 1
            path = _path(graph, members, b, a, through, limit)
            if path is not None:
                first = _pick(kind & start)
                hops = [(a, b, first)] + [(path[i], path[i + 1], _pick(graph[path[i]][path[i + 1]] & through)) for i in range(len(path) - 1)]
                if best is None or len(hops) < len(best):
                    best = hops
                if len(best) == 2:
                    return best
            if tried >= max_starts:
                return best
    return best


def _pick(mask: int) -> int:
    for kind in _PREFERENCE:
        if mask & kind:
            return kind
    raise ValueError(f"edge mask {mask} has no known kind")


def classify(cycle: list[tuple[int, int, int]]) -> str:
    """Elle's name for a cycle from its edge kinds: G0 (ww only), G1c (ww and wr), G-single
    (exactly one rw), G2-item (two or more); ``-process`` / ``-realtime`` when it needs
    session or real-time order edges (real time wins: it is the stronger assumption)."""
    kinds = [k for _, _, k in cycle]
    rw = kinds.count(RW)
    if rw == 0:
        base = "G1c" if WR in kinds else "G0"
    elif rw == 1:
        base = "G-single"
    else:
        base = "G2-item"
    if REALTIME in kinds:
        return base + "-realtime"
    if PROCESS in kinds:
        return base + "-process"
    return base


#: the searches tried in each component, strongest (most damning) first
SEARCHES: tuple[tuple[int, int], ...] = (
    (WW, WW),  # G0
    (WR, WW | WR),  # G1c
    (RW, WW | WR),  # G-single
    (RW, DATA),  # G2-item
)


def witness(graph: Graph, comp: list[int], extra: int) -> list[tuple[int, int, int]] | None:
    """The strongest cycle in one component: data edges first, then (``extra`` = the process /
    realtime bits in use) cycles that need order edges."""
    for start, through in SEARCHES:
        cycle = find_cycle(graph, comp, start, through)
        if cycle is not None:
            return cycle
    if extra:
        return find_cycle(graph, comp, extra, DATA | extra)
    return None
