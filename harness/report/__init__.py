"""The self-contained HTML availability report of a run directory.

``load_run`` reads a run directory (docs/run-dir.md) into a compact :class:`RunModel`;
``render_report`` is pure (a model in, an HTML string out); ``build_report`` does both and
writes ``RUN_DIR/availability.html``. See docs/report.md.
"""

from __future__ import annotations

from pathlib import Path

from ._aggregate import aggregate_ops
from ._html import render_page
from ._load import load_run, load_test
from ._model import FaultSpan, Lane, LatencySeries, Outage, ReportError, RunModel, TestModel, Timeline
from ._scan import aggregate_file
from ._scrub import scrub, scrub_data

REPORT_NAME = "availability.html"


def render_report(model: RunModel, *, generated: str | None = None) -> str:
    """The report page for ``model`` (pure: no I/O, same input gives the same string)."""
    return render_page(model, generated=generated)


def build_report(run_dir: str | Path, *, out: str | Path | None = None) -> Path:
    """Load ``run_dir``, render, write ``run_dir/availability.html`` (or ``out``); its path."""
    import datetime as _dt

    model = load_run(run_dir)
    generated = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    page = render_report(model, generated=generated)
    target = Path(out) if out is not None else Path(run_dir) / REPORT_NAME
    tmp = target.with_name(target.name + ".tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        tmp.replace(target)
    except OSError as exc:
        raise ReportError(f"{target}: cannot write the report: {exc.strerror}") from exc
    return target


__all__ = [
    "REPORT_NAME",
    "FaultSpan",
    "Lane",
    "LatencySeries",
    "Outage",
    "ReportError",
    "RunModel",
    "TestModel",
    "Timeline",
    "aggregate_file",
    "aggregate_ops",
    "build_report",
    "load_run",
    "load_test",
    "render_report",
    "scrub",
    "scrub_data",
]
