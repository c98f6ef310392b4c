"""Split brain: two directors MASTER for one VRRP instance, or one VIP held by two hosts.

Read from the ``state``/``sample`` ops (docs/history.md): ``vrrp`` gives each host's state
per instance, ``vip_holders`` the hosts that carry each VIP. During a network partition
between the directors a split brain is VRRP doing its job (each side sees no master), so by
default it is tolerated inside fault windows and for ``settle_s`` after each heal; anywhere
else, and in particular after the last heal has settled, it is INVALID: that is the
acceptance suite's "no split brain after heal".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..history import Op
from ._result import CheckResult, Validity
from .phases import fault_windows

NAME = "split_brain"


def split_brain_in(state: Any) -> list[dict[str, Any]]:
    """The split brains in one state sample value: ``[{"kind": "vrrp"|"vip", "name", "hosts"}]``."""
    found: list[dict[str, Any]] = []
    if not isinstance(state, dict):
        return found
    vrrp = state.get("vrrp")
    if isinstance(vrrp, dict):
        masters: dict[str, list[str]] = {}
        for host, instances in vrrp.items():
            if not isinstance(instances, dict):
                raise ValueError(f"state sample: vrrp.{host} is {type(instances).__name__}, not a mapping")
            for inst, st in instances.items():
                if st == "MASTER":
                    masters.setdefault(inst, []).append(host)
        for inst, hosts in masters.items():
            if len(hosts) > 1:
                found.append({"kind": "vrrp", "name": inst, "hosts": sorted(hosts)})
    holders = state.get("vip_holders")
    if isinstance(holders, dict):
        for vip, hosts in holders.items():
            if not isinstance(hosts, list):
                raise ValueError(f"state sample: vip_holders.{vip} is {type(hosts).__name__}, not a list")
            if len(set(hosts)) > 1:
                found.append({"kind": "vip", "name": vip, "hosts": sorted(set(hosts))})
    return found


def split_brain(
    ops: Iterable[Op],
    *,
    allow_during_faults: bool = True,
    settle_s: float = 3.0,
    process: str = "state",
    max_examples: int = 10,
) -> CheckResult:
    """Count samples with split brain; INVALID if one is seen outside the tolerated windows.

    ``allow_during_faults`` False makes any split brain INVALID. ``persisted_after_last_heal``
    is True when a sample taken ``settle_s`` or more after the last heal still shows one.
    UNKNOWN when no sample carried ``vrrp`` or ``vip_holders``.
    """
    try:
        return _split_brain(ops, allow_during_faults, settle_s, process, max_examples)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        return CheckResult(NAME, Validity.UNKNOWN, message=f"bad data: {type(exc).__name__}: {exc}")


def _split_brain(ops: Iterable[Op], allow: bool, settle_s: float, process: str, max_examples: int) -> CheckResult:
    windows = fault_windows(ops)
    tolerated = [(w.start, w.end + settle_s) for w in windows]
    heals = [w.end for w in windows if w.healed]
    last_heal = max(heals) if heals else None
    samples = 0
    informative = 0
    split_samples = 0
    vrrp_split = 0
    vip_split = 0
    first = last = None
    after_heal = False
    untolerated = 0
    examples: list[dict[str, Any]] = []
    names: set[str] = set()
    for op in ops:
        if op.process != process or op.type != "ok" or op.f != "sample":
            continue
        samples += 1
        value = op.value
        if not isinstance(value, dict):
            continue
        if isinstance(value.get("vrrp"), dict) or isinstance(value.get("vip_holders"), dict):
            informative += 1
        found = split_brain_in(value)
        if not found:
            continue
        t = op.time
        split_samples += 1
        if any(x["kind"] == "vrrp" for x in found):
            vrrp_split += 1
        if any(x["kind"] == "vip" for x in found):
            vip_split += 1
        names.update(f"{x['kind']}:{x['name']}" for x in found)
        if first is None:
            first = t
        last = t
        excused = allow and any(a <= t < b for a, b in tolerated)
        if last_heal is not None and t >= last_heal + settle_s:
            after_heal = True
        if not excused:
            untolerated += 1
        if len(examples) < max_examples and (not excused or len(examples) < max_examples // 2):
            examples.append({"time": t, "index": op.index, "split": found, "tolerated": excused})
    counts: dict[str, Any] = {
        "samples": samples,
        "split_brain_samples": split_samples,
        "vrrp_split_samples": vrrp_split,
        "vip_split_samples": vip_split,
        "untolerated_samples": untolerated,
        "first_time": first,
        "last_time": last,
        "affected": sorted(names),
        "last_heal_time": last_heal,
        "persisted_after_last_heal": after_heal,
    }
    ex = {"samples": examples} if examples else {}
    if informative == 0:
        return CheckResult(NAME, Validity.UNKNOWN, counts, ex, f"no {process!r} sample with vrrp or vip_holders")
    if untolerated:
        msg = f"split brain in {untolerated} sample(s) outside fault windows (+{settle_s} s settle)"
        if after_heal:
            msg += "; persisted after the last heal"
        return CheckResult(NAME, Validity.INVALID, counts, ex, msg)
    msg = f"{informative} samples, no untolerated split brain"
    if split_samples:
        msg += f" ({split_samples} during faults)"
    return CheckResult(NAME, Validity.VALID, counts, ex, msg)
