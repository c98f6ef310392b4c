"""A run directory (docs/run-dir.md) read into a :class:`RunModel`: run.json, each test's
result.json and history (through ``_aggregate`` or, for a large file, ``_scan``), and the
soak trend across the run directories beside it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..checkers.ledger import ledger as ledger_checker
from ..history import Op, load_history
from ._aggregate import aggregate_ops
from ._model import ReportError, RunModel, TestModel, TrendPoint
from ._scan import aggregate_file
from ._scrub import scrub_data

#: above this size a history is read by the line scanner instead of load_history
FAST_PATH_BYTES = 32 * 1024 * 1024


def _read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except OSError as exc:
        raise ReportError(f"{path}: cannot read: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from exc


def _slugify(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "test"


def _test_dirs(run_dir: Path, run: Mapping[str, Any]) -> list[Path]:
    """Test directories in run.json's order, then any other with a result or history."""
    found = sorted(
        d for d in run_dir.iterdir() if d.is_dir() and ((d / "result.json").is_file() or (d / "history.jsonl").is_file())
    )
    order: dict[str, int] = {}
    for i, test in enumerate(run.get("tests") or []):
        order[_slugify(str(test))] = i
    slugs: dict[Path, int] = {}
    for d in found:
        res = d / "result.json"
        rank = len(order) + len(slugs)
        if res.is_file():
            try:
                r = _read_json(res)
                test = r.get("test") if isinstance(r, dict) else None
                for key in (r.get("slug") if isinstance(r, dict) else None, test and _slugify(str(test))):
                    if key in order:
                        rank = order[key]
                        break
            except ReportError:
                pass
        slugs[d] = rank
    return sorted(found, key=lambda d: (slugs[d], d.name))


def _ledger_summary(checks: list[dict[str, Any]], ledger_ops: list[Op]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(ledger counts, a recomputed ledger check if result.json had none)."""
    for c in checks:
        if c.get("checker") == "ledger" and isinstance(c.get("counts"), dict) and c["counts"]:
            return c["counts"], None
    if not ledger_ops:
        return None, None
    res = ledger_checker(ledger_ops).to_dict()
    res["message"] = (res.get("message") or "") + " (recomputed from the history for the report)"
    return (res["counts"] or None), res


def load_test(test_dir: str | Path, *, probe_prefix: str = "vip-probe", fast_path_bytes: int = FAST_PATH_BYTES) -> TestModel:
    """One test directory (result.json and/or history.jsonl) as a TestModel."""
    d = Path(test_dir)
    r: dict[str, Any] = {}
    if (d / "result.json").is_file():
        loaded = _read_json(d / "result.json")
        if not isinstance(loaded, dict):
            raise ReportError(f"{d / 'result.json'}: not a JSON object")
        r = scrub_data(loaded)
    checks = [c for c in (r.get("checks") or []) if isinstance(c, dict)]
    has_ledger = any(c.get("checker") == "ledger" and c.get("counts") for c in checks)
    t = TestModel(
        slug=str(r.get("slug") or d.name),
        test=str(r.get("test") or d.name),
        title=str(r.get("title") or r.get("test") or d.name),
        outcome=str(r.get("outcome") or ("unknown" if r else "no result")),
        tier=r.get("tier"),
        fault_kind=r.get("fault_kind"),
        started=r.get("started"),
        duration_s=r.get("duration_s"),
        phases=[p for p in (r.get("phases") or []) if isinstance(p, dict)],
        checks=checks,
        slo=[s for s in (r.get("slo") or []) if isinstance(s, dict)],
        error=r.get("error"),
        soak=r.get("soak") if isinstance(r.get("soak"), dict) else None,
        negative_proof=r.get("negative_proof") is True,
    )
    hist = d / "history.jsonl"
    ledger_ops: list[Op] = []
    if hist.is_file() and hist.stat().st_size > 0:
        if hist.stat().st_size > fast_path_bytes:
            t.timeline, ledger_ops = aggregate_file(hist, probe_prefix=probe_prefix, keep_ledger=not has_ledger)
        else:
            t.timeline, ledger_ops = aggregate_ops(load_history(hist), probe_prefix=probe_prefix, keep_ledger=not has_ledger)
    elif not r:
        t.notes.append("no result.json and no history.jsonl")
    else:
        t.notes.append("no history.jsonl: timeline not available")
    t.ledger, recomputed = _ledger_summary(checks, ledger_ops)
    if recomputed is not None:
        t.checks.append(scrub_data(recomputed))
    return t


def load_run(run_dir: str | Path, *, probe_prefix: str = "vip-probe") -> RunModel:
    """A run directory (docs/run-dir.md) as a RunModel; a bare test directory works too."""
    root = Path(run_dir)
    if not root.is_dir():
        raise ReportError(f"{root}: not a run directory")
    run: dict[str, Any] = {}
    if (root / "run.json").is_file():
        loaded = _read_json(root / "run.json")
        if not isinstance(loaded, dict):
            raise ReportError(f"{root / 'run.json'}: not a JSON object")
        run = scrub_data(loaded)
    if (root / "history.jsonl").is_file() or (root / "result.json").is_file():
        dirs = [root]
    else:
        dirs = _test_dirs(root, run)
    if not dirs and not run:
        raise ReportError(f"{root}: no run.json and no test directory (with result.json or history.jsonl)")
    cluster = run.get("cluster") if isinstance(run.get("cluster"), dict) else {}
    model = RunModel(
        run_id=str(run.get("run_id") or root.name),
        started=run.get("started"),
        finished=run.get("finished"),
        seed=run.get("seed"),
        harness_version=run.get("harness_version"),
        markers=run.get("markers"),
        cluster=cluster or {},
        tests=[load_test(d, probe_prefix=probe_prefix) for d in dirs],
    )
    if any(t.soak for t in model.tests) and dirs != [root]:
        model.soak_trend = load_soak_trend(root.parent, current=root.name)
    return model


#: at most this many runs in the soak trend (the newest)
MAX_TREND_RUNS = 60


def _soak_point(run_dir: Path, current: str | None) -> TrendPoint | None:
    """The soak figures of one earlier run directory; None if it has none or cannot be read."""
    try:
        run = _read_json(run_dir / "run.json") if (run_dir / "run.json").is_file() else {}
        if not isinstance(run, dict):
            run = {}
        for res in sorted(run_dir.glob("*/result.json")):
            r = _read_json(res)
            soak = r.get("soak") if isinstance(r, dict) else None
            if not isinstance(soak, dict):
                continue
            pct, longest = soak.get("availability_percent"), soak.get("longest_outage_s")
            if not isinstance(pct, (int, float)) and not isinstance(longest, (int, float)):
                continue  # a soak that died before its figures: nothing to plot
            return TrendPoint(
                run_id=str(run.get("run_id") or run_dir.name), started=run.get("started"), seed=run.get("seed", soak.get("seed")),
                availability_percent=float(pct) if isinstance(pct, (int, float)) else None,
                longest_outage_s=float(longest) if isinstance(longest, (int, float)) else None,
                steps_run=soak.get("steps_run") if isinstance(soak.get("steps_run"), int) else None,
                audits_failed=soak.get("audits_failed") if isinstance(soak.get("audits_failed"), int) else None,
                current=run_dir.name == current,
            )
    except (ReportError, OSError):
        return None
    return None


def load_soak_trend(reports_dir: str | Path, *, current: str | None = None, limit: int = MAX_TREND_RUNS) -> list[TrendPoint]:
    """Availability and longest outage of every soak run under ``reports_dir`` (run ids sort
    by time: they start with the UTC time), oldest first, the newest ``limit``; run
    directories without soak results, or unreadable, are skipped."""
    root = Path(reports_dir)
    try:
        dirs = sorted(d for d in root.iterdir() if d.is_dir())
    except OSError:
        return []
    points: list[TrendPoint] = []
    for d in reversed(dirs):
        if len(points) >= limit:
            break
        p = _soak_point(d, current)
        if p is not None:
            points.append(p)
    return points[::-1]
