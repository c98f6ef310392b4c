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
    """The decoded JSON of ``path``; ReportError naming the file (and line) when it cannot be
    read, is not UTF-8 or is not JSON: one line for the CLI (exit 2), never a traceback."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ReportError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ReportError(f"{path}:{line}: not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
    except RecursionError:
        raise ReportError(f"{path}: not JSON the report can read: nested too deeply") from None


_NUMBER = (int, float)
_KIND_NAMES = {str: "a string", int: "a number", float: "a number", bool: "true or false", list: "a list", dict: "an object"}


def _kind(value: Any, kinds: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in kinds
    return isinstance(value, kinds)


def _want(path: Path, where: str, value: Any, kinds: tuple[type, ...]) -> None:
    """ReportError naming the file and the field unless ``value`` is null or of ``kinds``."""
    if value is None or _kind(value, kinds):
        return
    want = " or ".join(dict.fromkeys(_KIND_NAMES[k] for k in kinds))
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    raise ReportError(f"{path}: {where}: expected {want} (or null), not {shown}")


def _want_objects(path: Path, where: str, value: Any) -> list[dict[str, Any]]:
    """A list of objects (null: empty), else ReportError naming the field and the item."""
    _want(path, where, value, (list,))
    for i, item in enumerate(value or []):
        _want(path, f"{where}[{i}]", item, (dict,))
        if item is None:
            raise ReportError(f"{path}: {where}[{i}]: expected an object, not null")
    return list(value or [])


#: result.json's top-level fields and their JSON kinds (docs/run-dir.md); each may be null
_RESULT_FIELDS: dict[str, tuple[type, ...]] = {
    "test": (str,), "slug": (str,), "title": (str,), "outcome": (str,), "tier": (str,),
    "fault_kind": (str,), "error": (str,), "started": _NUMBER, "duration_s": _NUMBER,
    "negative_proof": (bool,), "soak": (dict,), "verdicts": (dict,),
}


def check_result_shape(path: Path, r: dict[str, Any]) -> None:
    """The fields of a result.json the report reads have the kinds docs/run-dir.md gives."""
    for key, kinds in _RESULT_FIELDS.items():
        _want(path, key, r.get(key), kinds)
    for key in ("phases", "checks", "slo"):
        _want_objects(path, key, r.get(key))
    soak = r.get("soak")
    if isinstance(soak, dict):
        for i, audit in enumerate(_want_objects(path, "soak.audits", soak.get("audits"))):
            _want(path, f"soak.audits[{i}].problems", audit.get("problems"), (list,))
        for i, step in enumerate(_want_objects(path, "soak.steps", soak.get("steps"))):
            step_audit = step.get("audit")
            _want(path, f"soak.steps[{i}].audit", step_audit, (dict,))
            if isinstance(step_audit, dict):
                _want(path, f"soak.steps[{i}].audit.problems", step_audit.get("problems"), (list,))


def check_run_shape(path: Path, run: dict[str, Any]) -> None:
    """The fields of a run.json the report reads have the kinds docs/run-dir.md gives."""
    for key in ("run_id", "harness_version"):
        _want(path, key, run.get(key), (str,))
    for key in ("started", "finished"):
        _want(path, key, run.get(key), (str, *_NUMBER))
    _want(path, "seed", run.get("seed"), (*_NUMBER, str))
    tests = run.get("tests")
    _want(path, "tests", tests, (list,))
    for i, test in enumerate(tests or []):
        _want(path, f"tests[{i}]", test, (str,))
    cluster = run.get("cluster")
    _want(path, "cluster", cluster, (dict,))
    if isinstance(cluster, dict):
        for key in ("hosts", "vips"):
            _want(path, f"cluster.{key}", cluster.get(key), (dict,))
        for name, host in (cluster.get("hosts") or {}).items():
            _want(path, f"cluster.hosts.{name}", host, (dict,))
            if isinstance(host, dict):
                _want(path, f"cluster.hosts.{name}.roles", host.get("roles"), (list,))


def _read_object(path: Path) -> dict[str, Any]:
    loaded = _read_json(path)
    if not isinstance(loaded, dict):
        raise ReportError(f"{path}: not a JSON object")
    return loaded


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
                slug = r.get("slug") if isinstance(r, dict) else None
                for key in (slug if isinstance(slug, str) else None, test and _slugify(str(test))):
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
        loaded = _read_object(d / "result.json")
        check_result_shape(d / "result.json", loaded)
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
        verdicts=r.get("verdicts") if isinstance(r.get("verdicts"), dict) else None,
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
        loaded = _read_object(root / "run.json")
        check_run_shape(root / "run.json", loaded)
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
    if (root / "audit.json").is_file():
        audit = scrub_data(_read_object(root / "audit.json"))
        found = audit.get("findings")
        model.audit = [f for f in found if isinstance(f, dict)] if isinstance(found, list) else []
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
