"""The report's transactions section: anomalies by type and each witness cycle as a graph.

Pure rendering from a test's check dicts (``list_append`` and ``bank`` results as
``CheckResult.to_dict()``): a table of anomaly types with counts (forbidden ones marked), and
for each witness cycle a small inline SVG: transactions on a circle, one arrow per edge
labelled ww / wr / rw / process / realtime, the edges in words beneath. ``witness_marks`` says
where the witness transactions ran, for the timeline chart's lane (``_svg_timeline.TxnMark``).
"""

from __future__ import annotations

import math
from typing import Any

from ._svg import FAIL, INK, MUTED, esc
from ._svg_timeline import TxnMark

EDGE_COLOURS = {"ww": "#1f6fd1", "wr": "#0f9d9a", "rw": FAIL, "process": "#8e44ad", "realtime": "#c2571a"}
_SIZE = 220
_R_NODE = 18
MAX_WITNESSES = 3


def cycle_svg(edges: list[dict[str, Any]]) -> str:
    """One cycle: nodes named by the edges' ``from``, arrows ``from -> to`` labelled by kind."""
    names: list[str] = []
    for e in edges:
        for n in (str(e.get("from")), str(e.get("to"))):
            if n not in names:
                names.append(n)
    c = _SIZE / 2
    ring = c - _R_NODE - 14 if len(names) > 1 else 0
    pos = {n: (c + ring * math.cos(2 * math.pi * i / len(names) - math.pi / 2),
               c + ring * math.sin(2 * math.pi * i / len(names) - math.pi / 2)) for i, n in enumerate(names)}
    parts = [f'<svg class="txn-cycle" xmlns="http://www.w3.org/2000/svg" width="{_SIZE}" height="{_SIZE}" '
             f'viewBox="0 0 {_SIZE} {_SIZE}" role="img" aria-label="dependency cycle">',
             '<defs><marker id="txn-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" '
             f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{INK}"/></marker></defs>']
    for e in edges:
        (x1, y1), (x2, y2) = pos[str(e.get("from"))], pos[str(e.get("to"))]
        dx, dy = x2 - x1, y2 - y1
        d = math.hypot(dx, dy) or 1.0
        ux, uy = dx / d, dy / d
        # bow each arrow a little to the right, so a 2-cycle's two arrows do not overlap
        mx, my = (x1 + x2) / 2 - uy * 18, (y1 + y2) / 2 + ux * 18
        sx, sy = x1 + ux * _R_NODE, y1 + uy * _R_NODE
        ex, ey = x2 - ux * (_R_NODE + 2), y2 - uy * (_R_NODE + 2)
        kind = str(e.get("kind"))
        colour = EDGE_COLOURS.get(kind, MUTED)
        parts.append(f'<path d="M{sx:.1f},{sy:.1f} Q{mx:.1f},{my:.1f} {ex:.1f},{ey:.1f}" fill="none" stroke="{colour}" '
                     f'stroke-width="2" marker-end="url(#txn-arrow)" data-edge="{esc(kind)}"><title>{esc(e.get("why", ""))}</title></path>')
        parts.append(f'<text x="{mx:.1f}" y="{my:.1f}" font-size="11" fill="{colour}" text-anchor="middle">{esc(kind)}</text>')
    for n, (x, y) in pos.items():
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{_R_NODE}" fill="#fff" stroke="{INK}" stroke-width="1.5"/>'
                     f'<text x="{x:.1f}" y="{y + 4:.1f}" font-size="11" text-anchor="middle" fill="{INK}">{esc(n)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _time(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return float(v)


def _described(witness: dict[str, Any]) -> list[dict[str, Any]]:
    """The txns a witness names (``txns`` of a cycle or a lost update, ``txn``, ``reader``,
    ``writer``): the checker's ``describe`` dicts, each with ``txn`` and its times."""
    out: list[dict[str, Any]] = []
    for v in witness.values():
        for d in v if isinstance(v, list) else [v]:
            if isinstance(d, dict) and isinstance(d.get("txn"), str):
                out.append(d)
    return out


def _ran(d: dict[str, Any], start: float) -> str:
    end = _time(d.get("end"))
    return f"{d['txn']} {start:.3f}–{f'{end:.3f} s' if end is not None else 'never completed'}"


def witness_marks(checks: list[dict[str, Any]]) -> list[TxnMark]:
    """Where each witness transaction of the list-append examples ran, one mark per txn with
    every anomaly it witnesses; none for a history without anomalies, or for witnesses without
    times (results from before the checker recorded them)."""
    la = next((c for c in checks if c.get("checker") == "list_append"), None)
    if la is None:
        return []
    forbidden = set((la.get("counts") or {}).get("forbidden_anomaly_types") or [])
    found: dict[str, tuple[float, float | None, str, list[str]]] = {}
    examples = la.get("examples") or {}
    for kind, witnesses in sorted(examples.items() if isinstance(examples, dict) else []):
        for w in witnesses if isinstance(witnesses, list) else []:
            if not isinstance(w, dict):
                continue
            for d in _described(w):
                start = _time(d.get("time"))
                if start is None:
                    continue
                entry = found.setdefault(d["txn"], (start, _time(d.get("end")), str(d.get("process", "")), []))
                if kind not in entry[3]:
                    entry[3].append(kind)
    return [TxnMark(name, start, end, tuple(kinds), process, forbidden=any(k in forbidden for k in kinds))
            for name, (start, end, process, kinds) in found.items()]


def transactions_section(checks: list[dict[str, Any]]) -> str:
    """The section for one test, or "" when it ran no transaction checker."""
    la = next((c for c in checks if c.get("checker") == "list_append"), None)
    bank = next((c for c in checks if c.get("checker") == "bank"), None)
    if la is None and bank is None:
        return ""
    out = ["<h3>Transactions</h3>"]
    if la is not None:
        counts = la.get("counts") or {}
        per = counts.get("anomalies") or {}
        forbidden = set(counts.get("forbidden_anomaly_types") or [])
        out.append(f"<p class='muted'>list-append: {esc(la.get('valid', ''))} against {esc(counts.get('model', '?'))}; "
                   f"{esc(counts.get('txns', 0))} txns. {esc(la.get('message', ''))}</p>")
        if per:
            rows = "".join(f"<tr class='{'bad' if t in forbidden else ''}' data-anomaly='{esc(t)}'><td>{esc(t)}</td>"
                           f"<td>{esc(n)}</td><td>{'forbidden' if t in forbidden else 'allowed'}</td></tr>" for t, n in sorted(per.items()))
            out.append(f"<table class='anomalies'><tr><th>anomaly</th><th>count</th><th>by the model</th></tr>{rows}</table>")
        for kind, witnesses in sorted((la.get("examples") or {}).items()):
            for w in list(witnesses)[:MAX_WITNESSES]:
                if not isinstance(w, dict) or not w.get("edges"):
                    continue
                words = "".join(f"<li>{esc(e.get('why', ''))}</li>" for e in w["edges"])
                ran = ", ".join(_ran(d, t) for d in _described(w) if (t := _time(d.get("time"))) is not None)
                ran_html = f"<div class='muted'>ran: {esc(ran)}</div>" if ran else ""
                out.append(f"<figure class='txn-witness' data-anomaly='{esc(kind)}'>{cycle_svg(w['edges'])}"
                           f"<figcaption>{esc(kind)}<ul>{words}</ul>{ran_html}</figcaption></figure>")
    if bank is not None:
        bc = bank.get("counts") or {}
        out.append(f"<p class='muted'>bank: {esc(bank.get('valid', ''))}; {esc(bc.get('reads', 0))} reads, "
                   f"{esc(bc.get('wrong_total', 0))} with a wrong total. {esc(bank.get('message', ''))}</p>")
    return "".join(out)
