"""Allure helpers for the pytest plugin: steps, attachments and labels that cost nothing when
allure-pytest is not installed (``pip install allure-pytest``; extra ``report`` in pyproject).

``build_allure_html(run_dir)`` turns ``RUN_DIR/allure-results`` (written by
``pytest --alluredir RUN_DIR/allure-results``) into a static site with the allure command
line (Java, from the npm package ``allure-commandline``), offline: ``allure generate`` only
reads local files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .._secrets import scrub_file
from ._model import ReportError
from ._scrub import scrub, scrub_data

_allure: Any
_commons: Any
_commons_logger: Any
try:  # allure-pytest is optional: every helper is a no-op without it
    import allure as _allure
    import allure_commons as _commons
    import allure_commons.logger as _commons_logger
except ImportError:  # pragma: no cover - exercised when allure-pytest is absent
    _allure = _commons = _commons_logger = None

RESULTS_DIR = "allure-results"
SITE_DIR = "allure-report"
#: allure 2's page loads Google Analytics; the harness promises reports that fetch nothing
_TRACKING = re.compile(
    r"<script[^>]*googletagmanager[^>]*>\s*</script>\s*(<script>\s*window\.dataLayer.*?</script>)?", re.S
)


def _scrub_item(item: Any, _depth: int = 0) -> None:
    """Scrub an allure result in place: every string of it (name, fullName, statusDetails'
    message and trace, steps, parameters, labels), through lists and nested results."""
    if _depth > 30:
        return
    for name in getattr(type(item), "__attrs_attrs__", ()):
        attr = name.name
        value = getattr(item, attr)
        if isinstance(value, str):
            setattr(item, attr, scrub(value))
        elif isinstance(value, list):
            setattr(item, attr, [scrub(v) if isinstance(v, str) else v for v in value])
            for v in value:
                if not isinstance(v, str):
                    _scrub_item(v, _depth + 1)
        elif value is not None and hasattr(type(value), "__attrs_attrs__"):
            _scrub_item(value, _depth + 1)


class ResultsScrubber:
    """Registered with allure's plugin manager so nothing allure-pytest writes into the
    allure results holds a secret: results and containers are scrubbed in place before the
    file logger dumps them (``tryfirst``); attachments, which it writes from a body or a
    copy, are scrubbed in the results directory right after (``trylast``)."""

    if _commons is not None:
        @_commons.hookimpl(tryfirst=True)
        def report_result(self, result: Any) -> None:
            _scrub_item(result)

        @_commons.hookimpl(tryfirst=True)
        def report_container(self, container: Any) -> None:
            _scrub_item(container)

        @_commons.hookimpl(trylast=True)
        def report_attached_data(self, body: Any, file_name: str) -> None:
            _scrub_written(file_name)

        @_commons.hookimpl(trylast=True)
        def report_attached_file(self, source: Any, file_name: str) -> None:
            _scrub_written(file_name)


def _scrub_written(file_name: str) -> None:
    for plugin in _commons.plugin_manager.get_plugins():
        if isinstance(plugin, _commons_logger.AllureFileLogger):
            scrub_file(Path(plugin._report_dir) / file_name)


_SCRUBBER_NAME = "harness-secrets-scrubber"


def install_results_scrubber() -> bool:
    """Register :class:`ResultsScrubber` once per process (done on import); False without
    allure-pytest."""
    if _commons is None:
        return False
    if not _commons.plugin_manager.has_plugin(_SCRUBBER_NAME):
        _commons.plugin_manager.register(ResultsScrubber(), name=_SCRUBBER_NAME)
    return True


install_results_scrubber()


def strip_tracking(html_text: str) -> str:
    """The allure page without its analytics script tags (the report must fetch nothing)."""
    return _TRACKING.sub("", html_text)


def available() -> bool:
    """True when allure-pytest is importable (its helpers then record into the results)."""
    return _allure is not None


@contextmanager
def allure_step(name: str) -> Iterator[None]:
    """A named step in the allure report (inject, observe, heal, ...); a plain block otherwise."""
    if _allure is None:
        yield
        return
    with _allure.step(scrub(name)):
        yield


def attach_json(name: str, data: Any) -> None:
    """Attach JSON-ready data (a CheckResult.to_dict(), the SLO table), scrubbed of secrets."""
    if _allure is None:
        return
    body = json.dumps(scrub_data(data), indent=2, default=str, ensure_ascii=False)
    _allure.attach(body, name=scrub(name), attachment_type=_allure.attachment_type.JSON)


def attach_file(path: str | Path, name: str | None = None, *, kind: str | None = None) -> None:
    """Attach a file: ``.html`` (the availability report), ``.png``, ``.jsonl``/``.txt``, ...

    Text files are scrubbed before attaching; binary ones are attached as they are.
    """
    if _allure is None:
        return
    p = Path(path)
    if not p.is_file():
        return
    at = _allure.attachment_type
    types = {".html": at.HTML, ".png": at.PNG, ".json": at.JSON, ".svg": at.SVG, ".txt": at.TEXT, ".jsonl": at.TEXT, ".log": at.TEXT}
    atype = types.get((kind or p.suffix).lower(), at.TEXT)
    label = scrub(name or p.name)
    if atype in (at.PNG,):
        _allure.attach.file(str(p), name=label, attachment_type=atype)
        return
    text = p.read_text(encoding="utf-8", errors="replace")
    _allure.attach(scrub(text), name=label, attachment_type=atype)


def label_test(*, tier: str | None = None, fault_kind: str | None = None, title: str | None = None) -> None:
    """Labels for the current test: tier as allure *feature* and tag, fault kind as *story*
    and tag, so the allure UI groups failover tests by tier and fault."""
    if _allure is None:
        return
    dyn = _allure.dynamic
    if title:
        dyn.title(scrub(title))
    if tier:
        dyn.feature(tier)
        dyn.tag(f"tier:{tier}")
        dyn.label("tier", tier)
    if fault_kind:
        dyn.story(fault_kind)
        dyn.tag(f"fault:{fault_kind}")
        dyn.label("fault_kind", fault_kind)


def find_allure_cli() -> str | None:
    """The allure command line: ``$ALLURE_BIN``, ``allure`` on PATH, or a local npm install
    (``npm install --prefix ~/.cache/harness/allure allure-commandline``)."""
    candidates = [os.environ.get("ALLURE_BIN"), shutil.which("allure")]
    home = Path.home() / ".cache" / "harness" / "allure" / "node_modules" / ".bin" / "allure"
    candidates.append(str(home))
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    return None


def build_allure_html(run_dir: str | Path, *, timeout_s: float = 300.0) -> Path:
    """``allure generate RUN_DIR/allure-results -o RUN_DIR/allure-report --clean --single-file``;
    the path of the page (one self-contained index.html: opens from file://, no server).

    The analytics tag allure 2 puts in the page is removed. Also drops an ``environment.properties`` (run id, seed, harness version, cluster) into the
    results so the allure overview shows what to replay.
    """
    root = Path(run_dir)
    results = root / RESULTS_DIR
    if not results.is_dir():
        raise ReportError(f"{results}: no allure results (run pytest with --alluredir {results})")
    cli = find_allure_cli()
    if cli is None:
        raise ReportError(
            "allure command line not found: install Java 17 and `npm install --prefix ~/.cache/harness/allure "
            "allure-commandline`, or set ALLURE_BIN"
        )
    run_json = root / "run.json"
    if run_json.is_file():
        try:
            run = scrub_data(json.loads(run_json.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as exc:
            raise ReportError(f"{run_json}: cannot read: {exc}") from exc
        props = {
            "run_id": run.get("run_id"),
            "seed": run.get("seed"),
            "harness_version": run.get("harness_version"),
            "markers": run.get("markers"),
            "cluster": (run.get("cluster") or {}).get("name"),
        }
        (results / "environment.properties").write_text(
            "".join(f"{k}={v}\n" for k, v in props.items() if v is not None), encoding="utf-8"
        )
    site = root / SITE_DIR
    try:
        proc = subprocess.run(
            [cli, "generate", str(results), "-o", str(site), "--clean", "--single-file"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired as exc:
        raise ReportError(f"{cli} generate: no result after {timeout_s:.0f} s") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise ReportError(f"{cli} generate {results} exited {proc.returncode}: " + " | ".join(tail))
    page = site / "index.html"
    if page.is_file():
        page.write_text(strip_tracking(page.read_text(encoding="utf-8")), encoding="utf-8")
    return page
