"""The page: a RunModel in, one self-contained HTML string out.

Inline CSS and inline SVG only: no fonts, scripts, images or stylesheets from the network,
so the file opens the same from a CI artifact, a mail attachment or an air-gapped bastion.
Every string from the run passes through ``esc`` (scrub + escape).
"""

from __future__ import annotations

import json
from typing import Any

from .._host_keys import host_key_warning
from ._model import Outage, RunModel, TestModel
from ._soak import soak_section, soak_trend_section
from ._style import CSS
from ._svg import esc, fmt_at, fmt_duration
from ._svg_charts import bar_chart, topology
from ._svg_timeline import timeline_chart
from ._txn import transactions_section, witness_marks

MAX_OUTAGE_ROWS = 300
MAX_EXAMPLES = 3


def _mapping(value: Any) -> dict[Any, Any]:
    """``value`` if it is a dict, else an empty one (result.json and run.json are untrusted)."""
    return value if isinstance(value, dict) else {}


def _badge(value: object) -> str:
    v = str(value or "unknown").lower()
    return f'<span class="badge {esc(v)}">{esc(v)}</span>'


def _pct(v: float | None) -> str:
    if v is None:
        return "–"
    if v >= 99.995 and v < 100:
        return f"{v:.4f}%"
    return f"{v:.2f}%"


def _num(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if v != v:
            return "nan"
        return f"{v:,.3f}".rstrip("0").rstrip(".") if abs(v) < 1e6 else f"{v:,.0f}"
    return esc(v)


def _check(t: TestModel, name: str) -> dict[str, Any] | None:
    return next((c for c in t.checks if c.get("checker") == name), None)


def _lost(t: TestModel) -> int | None:
    if t.ledger and isinstance(t.ledger.get("lost"), int):
        return int(t.ledger["lost"])
    return None


def _longest(t: TestModel) -> Outage | None:
    return t.timeline.longest_outage if t.timeline else None


def _outage_slo(t: TestModel) -> dict[str, Any] | None:
    """The test's "longest ... outage" SLO line with a bound (scenario.slo_line), if it has one."""
    for s in t.slo:
        name = str(s.get("name", "")).lower()
        if name.startswith("longest") and "outage" in name and isinstance(s.get("bound"), (int, float)):
            return s
    return None


# --------------------------------------------------------------------------- run summary


def _header(run: RunModel) -> str:
    c = run.cluster
    meta = []
    if run.started:
        meta.append(f"started <b>{esc(run.started)}</b>")
    if run.finished:
        meta.append(f"finished <b>{esc(run.finished)}</b>")
    if c.get("name"):
        meta.append(f"cluster <b>{esc(c['name'])}</b>")
    if run.markers:
        meta.append(f"markers <b>{esc(run.markers)}</b>")
    meta.append(f"harness <b>{esc(run.harness_version or '?')}</b>")
    meta.append(f"seed <b class='mono'>{esc(run.seed if run.seed is not None else '–')}</b>")
    unchecked = c.get("host_keys_unchecked")  # run.json is untrusted: a list of names, or nothing
    warning = host_key_warning([str(h) for h in unchecked]) if isinstance(unchecked, list) else None
    banner = f'<div class="err hostkeys">{esc(warning)}</div>' if warning else ""
    return (
        f'<header class="run"><h1>Availability report · <span class="mono">{esc(run.run_id)}</span></h1>'
        f'<div class="meta">{" · ".join(meta)}</div>{banner}</header>'
    )


def _cards(run: RunModel) -> str:
    n = len(run.tests)
    outcomes: dict[str, int] = {}
    for t in run.tests:
        outcomes[t.outcome] = outcomes.get(t.outcome, 0) + 1
    bad = outcomes.get("failed", 0) + outcomes.get("error", 0)
    parts = ", ".join(f"{v} {esc(k)}" for k, v in sorted(outcomes.items()))
    cards = [
        f'<div class="card {"bad" if bad else "good"}"><div class="k">Tests</div><div class="v">{n - bad} / {n} ok</div><div class="s">{parts or "no tests"}</div></div>'
    ]
    # the headline figures are the cluster's: negative proofs (broken on purpose) have a card of their own
    measured, proofs = run.measured, run.negative_proofs
    scope = "all tests" if not proofs else f"{len(measured)} test{'s' if len(measured) != 1 else ''}, negative proofs apart"
    pct = run.availability_percent
    cards.append(
        f'<div class="card {"bad" if pct is not None and pct < 99.0 else "good" if pct is not None else ""}"><div class="k">VIP availability</div>'
        f'<div class="v">{_pct(pct)}</div><div class="s">{run.probe_attempts:,} probes, {esc(scope)}</div></div>'
    )
    worst: tuple[Outage, TestModel] | None = None
    for t in measured:
        o = _longest(t)
        if o and (worst is None or o.duration_s > worst[0].duration_s):
            worst = (o, t)
    if worst:
        o, t = worst
        # red only for a broken promise: an outage within its test's bound is what failover costs
        slo = _outage_slo(t)
        broken = t.outcome in ("failed", "error") or (slo is not None and str(slo.get("verdict")).lower() == "invalid")
        bound = f" · bound {esc(fmt_duration(float(slo['bound'])))}" if slo else ""
        cards.append(
            f'<div class="card{" bad" if broken else ""}"><div class="k">Longest outage</div><div class="v">{esc(fmt_duration(o.duration_s))}</div>'
            f'<div class="s">{esc(o.fault or "no fault")}{bound} · <a href="#{esc(t.slug)}">{esc(t.title)}</a></div></div>'
        )
    else:
        cards.append('<div class="card good"><div class="k">Longest outage</div><div class="v">none</div><div class="s">no failed probe</div></div>')
    lost_vals = [x for x in (_lost(t) for t in measured) if x is not None]
    acked = sum(int(t.ledger.get("acknowledged", 0) or 0) for t in measured if t.ledger)
    if lost_vals:
        lost = sum(lost_vals)
        cards.append(
            f'<div class="card {"bad" if lost else "good"}"><div class="k">Lost writes</div><div class="v">{lost:,}</div>'
            f'<div class="s">of {acked:,} acknowledged</div></div>'
        )
    faults = sum(len(t.timeline.faults) for t in measured if t.timeline)
    cards.append(f'<div class="card"><div class="k">Faults injected</div><div class="v">{faults:,}</div><div class="s">{len(run.longest_by_fault())} kinds with outages</div></div>')
    if proofs:
        caught = sum(1 for t in proofs if t.outcome == "passed")
        cards.append(
            f'<div class="card {"good" if caught == len(proofs) else "bad"}"><div class="k">Negative proofs</div>'
            f'<div class="v">{caught} / {len(proofs)} caught</div><div class="s">cluster broken on purpose; figures kept apart</div></div>'
        )
    return f'<div class="cards">{"".join(cards)}</div>'


_NEG_TAG = " <span class='tag neg' title='the cluster was broken on purpose: passing means the checker caught it'>negative proof</span>"


def _chip(t: TestModel, c: dict[str, Any]) -> str:
    """A checker's chip: its verdict's colour when it decided the test; grey, saying so, when
    it was waived or had nothing to judge (a waived INVALID must not read as a pass or a fail)."""
    name, verdict, message = str(c.get("checker", "?")), str(c.get("valid", "unknown")).lower(), str(c.get("message", ""))
    role, reason = t.verdict_role(name)
    if role == "waived":
        return (f'<span class="badge waived" title="waived: {esc(reason)} (verdict {esc(verdict)}: {esc(message)})">'
                f'{esc(name)} waived</span>')
    if role == "not_applicable":
        return f'<span class="badge waived" title="nothing to judge: {esc(message)}">{esc(name)} n/a</span>'
    expected = f" (expected: {esc(reason)})" if role == "expected_invalid" else ""
    return f'<span class="badge {esc(verdict)}" title="{esc(message)}{expected}">{esc(name)}</span>'


def _tests_table(run: RunModel) -> str:
    rows = []
    for i, t in enumerate(run.tests, 1):
        tl = t.timeline
        o = _longest(t)
        lost = _lost(t)
        chips = " ".join(_chip(t, c) for c in t.checks)
        rows.append(
            f'<tr class="{"hot" if t.outcome in ("failed", "error") else ""}"><td class="num">{i}</td>'
            f'<td><a href="#{esc(t.slug)}">{esc(t.title)}</a>{_NEG_TAG if t.negative_proof else ""}<div class="mono muted nodeid">{esc(t.test)}</div></td>'
            f"<td>{esc(t.tier or '')}</td><td>{esc(t.fault_kind or '')}</td><td>{_badge(t.outcome)}</td>"
            f'<td class="num">{_pct(tl.availability_percent) if tl else "–"}</td>'
            f'<td class="num">{esc(fmt_duration(o.duration_s)) if o else "none"}</td>'
            f'<td class="num">{"–" if lost is None else f"{lost:,}"}</td><td>{chips}</td></tr>'
        )
    return (
        "<section><h2>Tests</h2><table><thead><tr><th class='num'>#</th><th>test</th><th>tier</th><th>fault kind</th><th>outcome</th>"
        "<th class='num'>availability</th><th class='num'>longest outage</th><th class='num'>lost writes</th><th>checkers</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def _by_fault(run: RunModel) -> str:
    items = run.longest_by_fault()
    if not items:
        return ""
    bars = bar_chart([(k, o.duration_s, f"{fmt_duration(o.duration_s)} · {t.title}") for k, (o, t) in items.items()])
    return f"<section><h2>Longest outage per fault kind</h2>{bars}</section>"


def _topology(run: RunModel) -> str:
    c = run.cluster
    hosts = _mapping(c.get("hosts"))
    vips = _mapping(c.get("vips"))
    if not hosts and not vips:
        return ""
    rows = "".join(
        f"<tr><td>{esc(n)}</td><td class='mono'>{esc(h.get('address', '') if isinstance(h, dict) else '')}</td>"
        f"<td>{esc(', '.join(str(r) for r in (h.get('roles') or [])) if isinstance(h, dict) else '')}</td></tr>"
        for n, h in sorted(hosts.items())
    )
    vrows = "".join(f"<tr><td>{esc(n)}</td><td class='mono'>{esc(a)}</td></tr>" for n, a in sorted(vips.items()))
    src = f"<div class='muted mono'>{esc(c.get('source', ''))}</div>" if c.get("source") else ""
    return (
        f"<section><h2>Cluster topology{(' · ' + esc(c['name'])) if c.get('name') else ''}</h2>{src}"
        f"{topology(hosts, vips)}"
        "<details><summary>hosts and VIPs as a table</summary><div class='grid2'>"
        f"<table><thead><tr><th>host</th><th>address</th><th>roles</th></tr></thead><tbody>{rows}</tbody></table>"
        f"<table><thead><tr><th>VIP</th><th>address</th></tr></thead><tbody>{vrows}</tbody></table></div></details></section>"
    )


# --------------------------------------------------------------------------- per test

_LEGEND = (
    '<div class="legend"><span><i class="sw" style="background:#2f9e5b"></i>ok</span>'
    '<span><i class="sw" style="background:#d7263d"></i>fail</span>'
    '<span><i class="sw" style="background:#f0a202"></i>info (indeterminate)</span>'
    '<span><i class="sw" style="background:#e4e7ec"></i>no data</span>'
    '<span><i class="sw" style="background:#5b4fcf;opacity:.35"></i>fault window</span>'
    '<span><i class="sw" style="background:#d7263d;opacity:.25"></i>outage (from last ok to next ok)</span>'
    "<span>hover for details</span></div>"
)


def _stats(t: TestModel) -> str:
    tl = t.timeline
    out = []
    if tl:
        pct = tl.availability_percent
        out.append(("availability", _pct(pct), "bad" if pct is not None and pct < 100 else "good"))
        out.append(("outages", f"{len(tl.outages):,}", "bad" if tl.outages else "good"))
        o = tl.longest_outage
        out.append(("longest outage", fmt_duration(o.duration_s) if o else "none", "bad" if o else "good"))
        out.append(("faults", f"{len(tl.faults):,}", ""))
        out.append(("probes", f"{tl.probe_attempts:,}", ""))
        out.append(("time bin", fmt_duration(tl.bin_s), ""))
    lost = _lost(t)
    if lost is not None:
        out.append(("lost writes", f"{lost:,}", "bad" if lost else "good"))
    if t.duration_s is not None:
        out.append(("duration", fmt_duration(float(t.duration_s)), ""))
    return '<div class="stats">' + "".join(f'<div class="stat {c}"><div class="k">{esc(k)}</div><div class="v">{esc(v)}</div></div>' for k, v, c in out) + "</div>"


def _outage_table(t: TestModel) -> str:
    tl = t.timeline
    if not tl:
        return ""
    if not tl.outages:
        return "<h3>Outages</h3><p class='muted'>No failed probe: the VIP never went dark.</p>"
    span = tl.t1 - tl.t0
    worst = sorted(tl.outages, key=lambda o: -o.duration_s)
    shown = worst[:MAX_OUTAGE_ROWS]
    shown.sort(key=lambda o: o.start)
    rows = "".join(
        f"<tr><td class='num'>{esc(fmt_at(o.start, span))}</td><td class='num'>{esc(fmt_at(o.end, span))}</td>"
        f"<td class='num'><b>{esc(fmt_duration(o.duration_s))}</b>{' (open)' if o.open else ''}</td>"
        f"<td class='nw'>{esc(o.process)}</td><td class='num'>{o.failed:,}</td><td class='nw'>{esc(o.fault or '–')}</td>"
        f"<td class='mono'>{esc(o.first_error or '')}</td></tr>"
        for o in shown
    )
    more = (
        f"<p class='muted'>{len(tl.outages) - len(shown):,} shorter outages not listed (all {len(tl.outages):,} are marked on the chart).</p>"
        if len(tl.outages) > len(shown)
        else ""
    )
    return (
        f"<h3>Outages ({len(tl.outages):,})</h3><table><thead><tr><th class='num'>from</th><th class='num'>to</th>"
        "<th class='num'>duration</th><th>probe</th><th class='num'>failed probes</th><th>during fault</th><th>first error</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>{more}"
    )


def _fault_table(t: TestModel) -> str:
    tl = t.timeline
    if not tl or not tl.faults:
        return ""
    span = tl.t1 - tl.t0
    rows = []
    for f in tl.faults[:MAX_OUTAGE_ROWS]:
        end = f.end if f.end is not None else tl.t1
        n_out = sum(1 for o in tl.outages if o.start <= end and o.end >= f.start)
        rows.append(
            f"<tr><td><span class='tag fault'>{esc(f.fault)}</span></td><td class='mono'>{esc(f.fault_id)}</td>"
            f"<td>{esc(', '.join(f.targets))}</td><td class='num'>{esc(fmt_at(f.start, span))}</td>"
            f"<td class='num'>{esc(fmt_at(f.end, span)) if f.end is not None else '<b>never healed</b>'}</td>"
            f"<td class='num'>{esc(fmt_duration(end - f.start))}</td><td class='num'>{n_out}</td></tr>"
        )
    more = f"<p class='muted'>{len(tl.faults) - MAX_OUTAGE_ROWS:,} more faults not listed.</p>" if len(tl.faults) > MAX_OUTAGE_ROWS else ""
    return (
        f"<h3>Fault windows ({len(tl.faults):,})</h3><table><thead><tr><th>fault</th><th>id</th><th>targets</th><th class='num'>injected</th>"
        f"<th class='num'>healed</th><th class='num'>window</th><th class='num'>outages</th></tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"
    )


_LEDGER_FIELDS = (
    ("attempted", "written", False),
    ("acknowledged", "acknowledged", False),
    ("failed", "failed", False),
    ("indeterminate", "indeterminate", False),
    ("lost", "lost", True),
    ("recovered", "recovered", False),
    ("unexpected", "unexpected", True),
    ("duplicates", "duplicates", True),
    ("failed_present", "failed but present", True),
    ("inconsistent", "inconsistent", True),
)


def _ledger(t: TestModel) -> str:
    c = t.ledger
    if not c:
        return ""
    cells = []
    for key, label, bad_if_nonzero in _LEDGER_FIELDS:
        if key not in c:
            continue
        v = c[key]
        always = key in ("attempted", "acknowledged", "lost", "recovered")
        if not always and not v:
            continue
        cls = "bad" if bad_if_nonzero and v else ""
        cells.append(f'<div class="{cls}" data-ledger="{esc(key)}"><div class="k">{esc(label)}</div><div class="v">{_num(v)}</div></div>')
    per_node = c.get("lost_per_node")
    node_txt = ""
    if isinstance(per_node, dict) and per_node:
        node_txt = "<p class='muted'>lost per node: " + ", ".join(f"{esc(n)} {_num(v)}" for n, v in sorted(per_node.items())) + "</p>"
    chk = _check(t, "ledger")
    msg = f"<p class='muted'>{esc(chk.get('message', ''))}</p>" if chk and chk.get("message") else ""
    return f"<h3>Writes (ledger)</h3><div class='ledger'>{''.join(cells)}</div>{node_txt}{msg}"


def _failover(t: TestModel) -> str:
    """Promise, keepalived budget + margin and the measured outage of a director failover, side
    by side: a budget that grows with a slow configuration is visible next to the promise."""
    c = t.failover
    if c is None:
        return ""
    n = _mapping(c.get("counts"))
    promise = "none given" if n.get("promise_s") is None else f"{_num(n.get('promise_s'))} s"
    budget = f"{_num(n.get('budget_s'))} s + {_num(n.get('margin_s'))} s = {_num(n.get('budget_bound_s'))} s"
    if n.get("refused_before_inject") is True:
        measured = "not run: refused before any fault"
    elif n.get("longest_outage_s") is None:
        measured = "–"
    else:
        measured = f"{_num(n.get('longest_outage_s'))} s"
    if n.get("takeover_s") is None:
        taken = "–"
    else:
        taken = (f"{esc(str(n.get('new_holder') or '?'))} between {_num(n.get('takeover_after_s'))} and "
                 f"{_num(n.get('takeover_s'))} s" +
                 (f"; first served {_num(n.get('first_served_s'))} s" if n.get("first_served_s") is not None else ""))
    if n.get("logged_takeover_s") is not None:
        unc = n.get("logged_clock_uncertainty_s")
        logged = (f"{_num(n.get('logged_takeover_s'))} s" + (f" (&plusmn;{_num(unc)} s)" if unc is not None else "") +
                  (f"; first served {_num(n.get('logged_first_served_s'))} s"
                   if n.get("logged_first_served_s") is not None else ""))
    else:
        logged = "–"
    logged_note = (f"<p class='muted'>logged takeover: {esc(str(n.get('logged_takeover_source')))}</p>"
                   if n.get("logged_takeover_source") else
                   f"<p class='muted'>no logged takeover: {esc(str(n.get('logged_takeover_error')))}</p>"
                   if n.get("logged_takeover_error") else "")
    verdict = str(c.get("valid", "unknown")).lower()
    settings = c.get("examples", {}).get("setting") if isinstance(c.get("examples"), dict) else None
    setting = f"<p class='muted'>budget from {esc(settings[0])}</p>" if isinstance(settings, list) and settings else ""
    return (
        "<h3>Director failover</h3><table class='slo failover'><thead><tr><th class='num'>promise</th>"
        "<th class='num'>keepalived budget + margin</th><th class='num'>measured (longest outage)</th>"
        "<th class='num'>standby takeover (state samples)</th>"
        "<th class='num'>takeover (new MASTER's log)</th><th>verdict</th>"
        f"</tr></thead><tbody><tr class='{'hot' if verdict == 'invalid' else ''}'>"
        f"<td class='num' data-failover='promise'>{promise}</td><td class='num' data-failover='budget'>{budget}</td>"
        f"<td class='num' data-failover='measured'>{measured}</td><td class='num' data-failover='takeover'>{taken}</td>"
        f"<td class='num' data-failover='logged'>{logged}</td>"
        f"<td>{_badge(verdict)}</td></tr></tbody></table>"
        f"<p class='muted'>{esc(c.get('message', ''))}</p>{setting}{logged_note}"
    )


def _slo(t: TestModel) -> str:
    if not t.slo:
        return ""
    rows = []
    for s in t.slo:
        unit = str(s.get("unit") or "")
        verdict = str(s.get("verdict", s.get("valid", "unknown"))).lower()
        reported = s.get("bound") is None and s.get("measured") is not None  # a figure shown, not judged
        bound = "–" if s.get("bound") is None else f"{_num(s.get('bound'))} {esc(unit)}"
        badge = '<span class="badge">reported</span>' if reported else _badge(verdict)
        rows.append(
            f"<tr class='{'hot' if verdict == 'invalid' else ''}'><td>{esc(s.get('name', '?'))}</td>"
            f"<td class='num slo-measured'>{_num(s.get('measured'))} {esc(unit)}</td>"
            f"<td class='num slo-bound'>{bound}</td><td>{badge}</td></tr>"
        )
    return (
        "<h3>SLOs</h3><table class='slo'><thead><tr><th>objective</th><th class='num'>measured</th><th class='num'>bound</th>"
        f"<th>verdict</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _figures(counts: dict[str, Any]) -> str:
    simple = [(k, v) for k, v in counts.items() if isinstance(v, (int, float, bool)) and not isinstance(v, dict)]
    return ", ".join(f"{esc(k)} {_num(v)}" for k, v in simple[:8])


def _checks(t: TestModel) -> str:
    if not t.checks:
        return ""
    rows = []
    for c in t.checks:
        examples = c.get("examples") if isinstance(c.get("examples"), dict) else {}
        ex_html = ""
        if examples:
            blocks = []
            for k, items in examples.items():
                items = list(items) if isinstance(items, list) else [items]
                more = f" (+{len(items) - MAX_EXAMPLES} more)" if len(items) > MAX_EXAMPLES else ""
                text = "\n".join(json.dumps(i, default=str, ensure_ascii=False) for i in items[:MAX_EXAMPLES])
                blocks.append(f"<div><b>{esc(k)}</b>{esc(more)}<pre class='ex'>{esc(text)}</pre></div>")
            ex_html = f"<details><summary>examples</summary>{''.join(blocks)}</details>"
        counts = _mapping(c.get("counts"))
        verdict = str(c.get("valid", "unknown")).lower()
        role, reason = t.verdict_role(str(c.get("checker", "?")))
        decides = {"waived": f"<div class='muted'>waived: {esc(reason)}</div>", "not_applicable": "<div class='muted'>n/a</div>",
                   "expected_invalid": f"<div class='muted'>expected INVALID: {esc(reason)}</div>"}.get(role, "")
        rows.append(
            f"<tr class='{'hot' if verdict == 'invalid' and role == 'judged' else ''}'><td><b>{esc(c.get('checker', '?'))}</b></td>"
            f"<td>{_badge(verdict)}{decides}</td>"
            f"<td>{esc(c.get('message', ''))}<div class='muted'>{_figures(counts)}</div>{ex_html}</td></tr>"
        )
    return (
        "<h3>Checker verdicts</h3><table><thead><tr><th>checker</th><th>verdict</th><th>message, figures and examples</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _test_section(t: TestModel) -> str:
    tags = "".join(f"<span class='tag'>{esc(x)}</span>" for x in (t.tier,) if x)
    if t.fault_kind:
        tags += f"<span class='tag fault'>{esc(t.fault_kind)}</span>"
    if t.negative_proof:
        tags += _NEG_TAG
    err = f"<div class='err'>{esc(t.error)}</div>" if t.error else ""
    notes = "".join(f"<p class='muted'>{esc(n)}</p>" for n in t.notes)
    chart = ""
    if t.timeline and t.timeline.lanes:
        chart = _LEGEND + timeline_chart(t.timeline, t.phases, txn_marks=witness_marks(t.checks))
    elif t.timeline:
        chart = "<p class='muted'>The history holds no probe, write or request results to draw.</p>"
    left = _ledger(t) + _failover(t) + _slo(t)
    right = _outage_table(t) + _fault_table(t)
    grid = f"<div class='grid2'><div>{left}</div><div>{right}</div></div>" if left and right else left + right
    cls = esc(t.outcome.replace(" ", "-"))
    return (
        f'<section class="test {cls}" id="{esc(t.slug)}"><div class="title-row"><h2>{esc(t.title)}</h2>{_badge(t.outcome)}{tags}</div>'
        f'<div class="node mono">{esc(t.test)}</div>{err}{notes}{_stats(t)}{soak_section(t)}{chart}{grid}{transactions_section(t.checks)}{_checks(t)}</section>'
    )


def _audit(run: RunModel) -> str:
    """The static audit's findings, worst first (run.json and audit.json are untrusted: text only)."""
    if run.audit is None:
        return ""
    if not run.audit:
        return '<section class="audit"><h2>Configuration audit</h2><p>No findings.</p></section>'
    rows = []
    for f in run.audit:
        sev = str(f.get("severity", "?"))
        raw = f.get("evidence")
        ev: list[Any] = raw if isinstance(raw, list) else []
        where = "<br>".join(
            esc(f"{e.get('host')}" + (f":{e.get('path')}" if e.get("path") else "") + (f":{e.get('line')}" if e.get("line") else "")
                + (f" {e.get('text')}" if e.get("text") else "")) for e in ev if isinstance(e, dict))
        badge = {"critical": "invalid", "warning": "unknown", "info": "valid"}.get(sev, "unknown")
        rows.append(f"<tr><td><span class='badge {badge}'>{esc(sev)}</span></td><td class='mono'>{esc(f.get('rule', '?'))}</td>"
                    f"<td>{esc(f.get('message', ''))}</td><td class='mono'>{where}</td>"
                    f"<td class='mono'>{esc(f.get('confirm') or '')}</td></tr>")
    return ('<section class="audit"><h2>Configuration audit</h2><p class="muted">Read from the hosts before any '
            'fault (docs/audit.md): what the configuration says will go wrong.</p><table><thead><tr><th>severity</th>'
            '<th>rule</th><th>finding</th><th>evidence</th><th>confirm with</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table></section>")


def render_page(run: RunModel, *, generated: str | None = None) -> str:
    """The whole page (see the module docstring)."""
    title = f"Availability report {run.run_id}"
    body = [
        _header(run),
        _cards(run),
        _audit(run),
        _tests_table(run),
        _by_fault(run),
        soak_trend_section(run),
        _topology(run),
        *(_test_section(t) for t in run.tests),
        f"<footer>harness {esc(run.harness_version or '?')} · seed {esc(run.seed if run.seed is not None else '–')}"
        + (f" · generated {esc(generated)}" if generated else "")
        + " · self-contained: no network resources</footer>",
    ]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body><main>{''.join(body)}</main></body></html>\n"
    )

