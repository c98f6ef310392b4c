"""Ground truth: the outage the VIP probe measures against keepalived's own notify log.

For each director kind (its OWN lab ``gtru`` on 198.18.7.0/24, LVS first, then HAProxy; never
the shared "default" lab), a MASTER keepalived crash (kill -9, the ``director-failure`` fault)
and a MASTER domain destroy (``domain-destroy``), each injected through the nemesis while the
web VIP probe runs with the acceptance workload's rate and timeout. The figures are printed
(run with ``-s`` to see them); what "agree" means is in harness/lab/_ground_truth.py:

- a destroy, and a crash on a HAProxy director: the outage starts at the fault and ends within
  2 probe intervals of the backup's ``MASTER`` line (an interval is ``max(1/rate, timeout)``);
- a crash of keepalived on an LVS director: the kernel's IPVS table outlives keepalived, so the
  probe must see no outage before the takeover, and at most a blip at it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.checkers import Validity
from harness.lab import Lab
from harness.lab._ground_truth import Expect, Failover, measure_failover, wait_settled
from harness.lab._uml import uml_available
from harness.workload import WorkloadSpec

from .conftest import own_lab, own_lab_marks

pytestmark = own_lab_marks("ground truth lab")

NAME, SUBNET = "gtru", "198.18.7.0/24"
SPEC = WorkloadSpec.acceptance()


def _say(msg: str) -> None:
    sys.stderr.write(f"ground-truth: {msg}\n")


@pytest.fixture(scope="module", params=["lvs", "haproxy"])
def gt_lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    kind = request.param
    if kind == "lvs" and uml_available() is not None:
        pytest.skip(f"LVS directors: {uml_available()}")
    yield from own_lab(Lab(NAME, SUBNET, directors=kind), _say, kind)


def _run(lab: Lab, fault: str, expect: Expect, run_dir: Path) -> Failover:
    wait_settled(lab, "dir1")
    fo = measure_failover(lab, fault, run_dir, expect=expect, rate_hz=SPEC.web_probe_hz,
                          timeout_s=SPEC.probe_timeout_s)
    c = fo.comparison
    offsets = ", ".join(f"{o.host} {o.offset_s - (time.time() - time.monotonic()):+.3f}s "
                        f"(+-{o.uncertainty_s * 1000:.0f} ms)" for o in fo.offsets.values())
    _say(f"[{lab.director_kind}] {c.line()}")
    _say(f"[{lab.director_kind}]   fault invoke {fo.fault_invoke:.3f} ok {fo.fault_ok:.3f}, {fo.new} MASTER "
         f"{'-' if fo.takeover is None else f'{fo.takeover:.3f}'} (history s); director clocks vs the host's "
         f"real time: {offsets}")
    _say(f"[{lab.director_kind}]   notify lines: " + "; ".join(f"{h}: {lines[-2:]}" for h, lines in fo.notify_lines.items()))
    wait_settled(lab, "dir1")  # the healed director takes the VIPs back before the next test
    return fo


def test_destroyed_master_outage_agrees_with_the_notify_log(gt_lab: Lab, tmp_path: Path) -> None:
    fo = _run(gt_lab, "domain-destroy", "outage", tmp_path)
    c = fo.comparison
    assert (fo.old, fo.new) == ("dir1", "dir2")
    assert c.validity is Validity.VALID, c.line()
    assert c.probe_outage_s > 1.0, c.line()  # a power-cord pull is seen (the takeover takes ~3 s)


def test_crashed_master_keepalived_against_the_notify_log(gt_lab: Lab, tmp_path: Path) -> None:
    # LVS: keepalived dies, the guest kernel keeps forwarding; HAProxy: the balancer dies with it
    expect: Expect = "switch" if gt_lab.director_kind == "lvs" else "outage"
    fo = _run(gt_lab, "director-failure", expect, tmp_path)
    c = fo.comparison
    assert c.validity is Validity.VALID, c.line()
    if expect == "switch":
        assert c.probe_outage_s <= c.tolerance_s, c.line()
