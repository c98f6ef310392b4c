"""The soak parts of the page (pure): a test's soak section and the trend across runs.

Fed by result.json ``soak`` (written by harness.soak.run_soak through Scenario.extra) and by
RunModel.soak_trend (earlier run directories of the same reports directory).
"""

from __future__ import annotations

import math
import re
from typing import Any

from ._model import RunModel, TestModel
from ._svg import esc, fmt_duration
from ._svg_charts import line_chart, strip_plot


def nines_text(pct: float | None, probes: int | None = None) -> str:
    """``99.95% = 3.3 nines``; at 100 % the resolution of the probes bounds it (``> 4.2``)."""
    if not isinstance(pct, (int, float)):
        return "–"
    miss = 1.0 - float(pct) / 100.0
    if miss <= 0:
        if probes:
            return f"no failed probe: > {math.log10(probes):.1f} nines"
        return "no failed probe"
    return f"{-math.log10(min(miss, 1.0)):.1f} nines"


def _pct(v: Any) -> str:
    if not isinstance(v, (int, float)):
        return "–"
    return f"{v:.4f}%" if 99.99 <= v < 100 else f"{v:.2f}%"


def _s(v: Any) -> str:
    return f"{v:.2f} s" if isinstance(v, (int, float)) else "–"


def _badge(text: str, cls: str) -> str:
    return f'<span class="badge {esc(cls)}">{esc(text)}</span>'


def _median(vals: list[float]) -> float:
    s = sorted(vals)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def failover_by_kind(steps: list[dict[str, Any]]) -> list[tuple[str, list[float], float | None]]:
    """(fault kind, failover times of the steps that ran, its budget), in first-seen order."""
    order: dict[str, tuple[list[float], float | None]] = {}
    for st in steps:
        if not isinstance(st, dict) or st.get("status") != "ran":
            continue
        kind = str(st.get("kind") or st.get("fault") or "?")
        vals, budget = order.get(kind, ([], None))
        if isinstance(st.get("failover_s"), (int, float)):
            vals.append(float(st["failover_s"]))
        b = st.get("budget_s")
        order[kind] = (vals, float(b) if isinstance(b, (int, float)) else budget)
    return [(k, v, b) for k, (v, b) in order.items()]


def _cards(soak: dict[str, Any], steps: list[dict[str, Any]]) -> str:
    pct = soak.get("availability_percent")
    audits = [a for a in (soak.get("audits") or []) if isinstance(a, dict)]
    failed = [a for a in audits if not a.get("ok")]
    ran = [s for s in steps if s.get("status") != "not run"]
    over = [s for s in ran if isinstance(s.get("failover_s"), (int, float)) and isinstance(s.get("budget_s"), (int, float))
            and s["failover_s"] > s["budget_s"]]
    longest = soak.get("longest_outage_s")
    cards = [
        ("web VIP availability", _pct(pct), nines_text(pct, soak.get("probes")), "bad" if isinstance(pct, (int, float)) and pct < 99 else "good"),
        ("steps run", f"{len(ran)} / {len(steps)}",
         "stopped at the deadline" if soak.get("stopped_by_deadline") else (str(soak.get("stopped") or "schedule completed")), ""),
        ("audits passed", f"{len(audits) - len(failed)} / {len(audits)}", "after every fault, plus the baseline", "bad" if failed else "good"),
        ("failovers over budget", f"{len(over)}", f"of {len(ran)} faults", "bad" if over else "good"),
        ("longest outage", _s(longest), f"{soak.get('outages', '–')} outages in all", ""),
        ("seed", esc(soak.get("seed", "–")), "replay: --seed with the same cluster", ""),
    ]
    return '<div class="stats">' + "".join(
        f'<div class="stat {c}" data-soak="{esc(k)}"><div class="k">{esc(k)}</div><div class="v">{v if k == "seed" else esc(v)}</div>'
        f'<div class="k">{esc(sub)}</div></div>'
        for k, v, sub, c in cards
    ) + "</div>"


def _failover_table(rows: list[tuple[str, list[float], float | None]]) -> str:
    if not rows:
        return ""
    body = []
    for kind, vals, budget in rows:
        worst = max(vals) if vals else None
        verdict = "–" if worst is None or budget is None else (_badge("valid", "valid") if worst <= budget else _badge("over", "invalid"))
        body.append(
            f"<tr class='{'hot' if worst is not None and budget is not None and worst > budget else ''}'><td><span class='tag fault'>{esc(kind)}</span></td>"
            f"<td class='num'>{len(vals)}</td><td class='num'>{_s(min(vals) if vals else None)}</td>"
            f"<td class='num'>{_s(_median(vals) if vals else None)}</td><td class='num'><b>{_s(worst)}</b></td>"
            f"<td class='num'>{_s(budget)}</td><td>{verdict}</td></tr>"
        )
    return (
        "<table class='failovers'><thead><tr><th>fault kind</th><th class='num'>faults</th><th class='num'>min</th>"
        "<th class='num'>median</th><th class='num'>max</th><th class='num'>budget</th><th>verdict</th></tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _audit_table(soak: dict[str, Any], steps: list[dict[str, Any]]) -> str:
    rows = []
    baseline = next((a for a in (soak.get("audits") or []) if isinstance(a, dict) and a.get("step") == 0), None)
    if baseline is not None:
        ok = bool(baseline.get("ok"))
        rows.append(
            f"<tr class='{'' if ok else 'hot'}'><td class='num'>0</td><td>baseline</td><td>whole cluster</td><td>–</td><td>–</td>"
            f"<td class='num'>{_s(baseline.get('recovery_s'))}</td><td>{_badge('ok' if ok else 'failed', 'valid' if ok else 'invalid')}</td>"
            f"<td class='problems'>{esc('; '.join(map(str, baseline.get('problems') or [])))}</td></tr>"
        )
    for st in steps:
        status = str(st.get("status") or "not run")
        target = st.get("resolved_target") or st.get("target") or ""
        if st.get("resolved_target") and st.get("target") and st["target"] != st["resolved_target"]:
            target = f"{st['resolved_target']} ({st['target']})"
        audit = st.get("audit") if isinstance(st.get("audit"), dict) else None
        if status == "not run":
            rows.append(
                f"<tr class='notrun'><td class='num'>{esc(st.get('index', ''))}</td><td><span class='tag'>{esc(st.get('kind', ''))}</span></td>"
                f"<td>{esc(target)}</td><td colspan='5'>not run (the deadline came first)</td></tr>"
            )
            continue
        took = st.get("took_effect")
        effect = "–" if took is None else (f"yes, {_s(st.get('effect_s'))}" if took else "<b>not seen</b>")
        fo, b = st.get("failover_s"), st.get("budget_s")
        over = isinstance(fo, (int, float)) and isinstance(b, (int, float)) and fo > b
        fo_txt = f"{'<b>' if over else ''}{_s(fo)}{'</b>' if over else ''}" + (f" <span class='muted'>/ {_s(b)}</span>" if b is not None else "")
        if audit is None:
            verdict, problems, rec = _badge("no audit", "unknown"), "", "–"
        else:
            ok = bool(audit.get("ok"))
            verdict = _badge("ok" if ok else "failed", "valid" if ok else "invalid")
            problems = "; ".join(map(str, audit.get("problems") or []))
            rec = _s(audit.get("recovery_s"))
        err = st.get("error")
        if status == "inject failed" or err:
            problems = "; ".join(x for x in (problems, f"{status}: {err}" if status == "inject failed" else str(err or "")) if x)
        bad = (audit is not None and not audit.get("ok")) or status == "inject failed" or over
        rows.append(
            f"<tr class='{'hot' if bad else ''}'><td class='num'>{esc(st.get('index', ''))}</td>"
            f"<td><span class='tag fault'>{esc(st.get('kind', ''))}</span></td><td>{esc(target)}</td>"
            f"<td>{effect}</td><td class='num'>{fo_txt}</td><td class='num'>{rec}</td><td>{verdict}</td>"
            f"<td class='problems'>{esc(problems)}</td></tr>"
        )
    if not rows:
        return ""
    return (
        "<table class='audits'><thead><tr><th class='num'>step</th><th>fault</th><th>target</th><th>took effect</th>"
        "<th class='num'>failover / budget</th><th class='num'>back to steady</th><th>audit</th><th>problems</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def soak_section(t: TestModel) -> str:
    """The soak block of a test section; empty when the test has no soak results."""
    soak = t.soak
    if not soak:
        return ""
    steps = [s for s in (soak.get("steps") or []) if isinstance(s, dict)]
    rows = failover_by_kind(steps)
    legend = (
        "<div class='legend'><span><i class='sw' style='background:#2f9e5b'></i>failover within budget</span>"
        "<span><i class='sw' style='background:#d7263d'></i>over budget</span><span>▮ median</span>"
        "<span style='color:#d7263d'>┆ budget</span><span>— min to max</span></div>"
    )
    plot = strip_plot(rows)
    return (
        "<div class='soak'><h3>Soak</h3>"
        + _cards(soak, steps)
        + (f"<h3>Failover time per fault kind (longest web VIP outage per fault)</h3>{legend}{plot}{_failover_table(rows)}" if rows else "")
        + "<h3>Audits after every fault</h3><p class='muted'>One VRRP master, each VIP on exactly one host, every node back, "
        "Galera Synced with the full cluster size, no fault left in the nemesis or the journal.</p>"
        + _audit_table(soak, steps)
        + "</div>"
    )


_RUN_ID = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})")


def _run_label(run_id: str) -> str:
    """``20261125T023053Z-7a0b`` -> ``11-25 02:30`` (run ids start with the UTC time)."""
    m = _RUN_ID.match(run_id)
    return f"{m.group(2)}-{m.group(3)} {m.group(4)}:{m.group(5)}" if m else run_id[:16]


def soak_trend_section(run: RunModel) -> str:
    """Availability and the longest outage of the soak runs in the reports directory."""
    pts = run.soak_trend
    if not pts:
        return ""
    labels = [_run_label(p.run_id) for p in pts]
    avail = line_chart([(lab, p.availability_percent, p.current) for lab, p in zip(labels, pts, strict=True)],
                       title="VIP availability per run (%)", unit="%", colour="#2f9e5b")
    longest = line_chart([(lab, p.longest_outage_s, p.current) for lab, p in zip(labels, pts, strict=True)],
                         title="Longest outage per run (s)", unit="s", colour="#d7263d", y_min=0.0, fmt="{:.2f}")
    rows = "".join(
        f"<tr class='{'hot' if (p.audits_failed or 0) > 0 else ''}'><td class='mono'>{esc(p.run_id)}{' <b>(this run)</b>' if p.current else ''}</td>"
        f"<td class='mono'>{esc(p.seed if p.seed is not None else '–')}</td><td class='num'>{_pct(p.availability_percent)}</td>"
        f"<td class='num'>{esc(nines_text(p.availability_percent))}</td><td class='num'>{_s(p.longest_outage_s)}</td>"
        f"<td class='num'>{esc(p.steps_run if p.steps_run is not None else '–')}</td>"
        f"<td class='num'>{esc(p.audits_failed if p.audits_failed is not None else '–')}</td></tr>"
        for p in reversed(pts)
    )
    return (
        f"<section class='soak-trend'><h2>Soak trend ({len(pts)} run{'s' if len(pts) != 1 else ''} in this reports directory)</h2>"
        f"<div class='grid2'><div>{avail}</div><div>{longest}</div></div>"
        "<details><summary>runs as a table</summary><table><thead><tr><th>run</th><th>seed</th><th class='num'>availability</th>"
        "<th class='num'>nines</th><th class='num'>longest outage</th><th class='num'>steps</th><th class='num'>audits failed</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></details></section>"
    )


__all__ = ["failover_by_kind", "fmt_duration", "nines_text", "soak_section", "soak_trend_section"]
