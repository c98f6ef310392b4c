"""Nightly soak: a seeded schedule of faults under Moodle load, audits after every fault.

``pytest -m soak --soak-duration 8h --seed N`` (docs/soak.md). The same seed and cluster give
the same schedule, so a failed night is replayed exactly.
"""

from __future__ import annotations

import time

import pytest

from harness.checkers import Validity
from harness.scenario import SloLine
from harness.soak import SoakPlan, build_schedule, run_soak
from harness.workload import WorkloadSpec

pytestmark = [pytest.mark.soak]


def _ranges(duration_s: float) -> dict[str, tuple[float, float]]:
    """Shorter holds for a smoke soak (minutes), CTS-like ones for a night."""
    if duration_s < 15 * 60:
        return {"steady_s": (10.0, 20.0), "fault_s": (6.0, 12.0)}
    return {"steady_s": (30.0, 120.0), "fault_s": (10.0, 30.0)}


# hours of history stay on disk, not in memory: the checkers stream history.jsonl
@pytest.mark.scenario(title="Soak: seeded fault schedule, audits after every fault", tier="soak", fault="soak",
                      history_in_memory=False)
def test_soak_schedule_keeps_the_cluster_whole(scenario, cluster, harness_settings, load_users):
    s = harness_settings
    deadline = time.monotonic() + s.soak_duration_s
    schedule = build_schedule(s.seed, s.soak_duration_s, cluster.inventory, **_ranges(s.soak_duration_s))
    assert schedule, f"a {s.soak_duration_s:g} s soak leaves no room for a single fault step"
    run = run_soak(scenario, SoakPlan(schedule, deadline, WorkloadSpec.soak(users=load_users), seed=s.seed))

    lines: list[SloLine] = []
    ran = run.ran
    for r in ran:
        target = r.resolved_target or r.step.target_text
        lines.append(scenario.slo_line(f"#{r.step.index} {r.step.kind} on {target}: longest web VIP outage",
                                       r.failover_s, r.budget_s, "s"))
    avail = run.check("availability")
    scenario.slo_line("web VIP availability over the soak (reported)", avail.counts.get("availability_percent"), None, "%")
    lines.append(scenario.slo_line("steps run", len(ran), 1, "", higher_is_better=True))
    lines.append(scenario.slo_line("faults that failed to inject", sum(r.status == "inject failed" for r in ran), 0, ""))
    lines.append(scenario.slo_line("audits failed (after every fault)", run.summary["audits_failed"], 0, ""))
    ledger = run.check("ledger")
    posts = run.check("posts")
    lines.append(scenario.slo_line("lost ledger writes", ledger.counts.get("lost"), 0, ""))
    lines.append(scenario.slo_line("lost forum posts", posts.counts.get("lost"), 0, ""))
    split = run.check("split_brain")
    lines.append(scenario.slo_line("split-brain samples outside fault windows",
                                   split.counts.get("untolerated_samples"), 0, ""))

    failures = [f"{ln.name}: measured {ln.measured} {ln.unit}, bound {ln.bound} {ln.unit}" if ln.verdict is Validity.INVALID
                else f"{ln.name}: could not be measured" for ln in lines if ln.verdict is not Validity.VALID]
    bad_audits = [a for a in run.summary["audits"] if not a["ok"]]
    failures += [f"audit after step {a['step']} ({a['fault']} on {a['target']}): {'; '.join(a['problems'][:4])}"
                 for a in bad_audits]
    if ledger.valid is Validity.INVALID:
        failures.append(f"ledger: {ledger.message}")
    if posts.valid is Validity.INVALID:
        failures.append(f"posts: {posts.message}")
    if split.counts.get("persisted_after_last_heal"):
        failures.append(f"split brain persisted after the last heal: {split.examples}")
    assert not failures, f"soak (seed {s.seed}) failed:\n  " + "\n  ".join(failures)
