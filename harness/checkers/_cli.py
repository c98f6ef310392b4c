"""``harness check HISTORY.jsonl|RUN_DIR``: run the checkers on a recorded history.

Prints a table (checker, verdict, key figures) or, with ``--json``, a JSON list of each
result's ``to_dict()`` plus ``applicable``. Exit status, so that CI tells "proved" from
"could not judge": 0 every applicable checker VALID; 1 any INVALID; 2 bad input (usage, an
unreadable or empty history: one line, never a traceback); 3 no INVALID but some applicable
checker UNKNOWN, or none applicable at all (``--accept-unknown`` makes that 0). A checker
with nothing of its kind in the history (:func:`harness.checkers.applicable`) shows N/A and
does not count.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from typing import IO, Any

from .._secrets import scrub_data
from ..errors import HistoryError
from ..history import history_path, load_history
from . import ISOLATION_MODELS, CheckConfig, applicable, run_all
from ._result import CheckResult, Validity
from .availability import DEFAULT_MAX_PROBE_GAP_S
from .phases import PHASE_NAMES

#: the figures shown per checker in the table, in order
_KEY_FIGURES: dict[str, tuple[str, ...]] = {
    "availability": ("attempts", "availability_percent", "outages", "longest_outage_s"),
    "ledger": ("acknowledged", "lost", "unexpected", "duplicates", "failed_present", "indeterminate", "recovered"),
    "posts": ("acknowledged", "lost", "unexpected", "duplicates", "failed_present"),
    "latency": ("samples",),
    "split_brain": ("samples", "split_brain_samples", "untolerated_samples", "persisted_after_last_heal"),
    "recovery": ("heals", "recovered", "late", "never", "max_recovery_s"),
    "list_append": ("txns", "ok", "info", "keys", "model"),
    "bank": ("reads", "wrong_total", "negative", "expected_total"),
    "ldap_availability": ("attempts", "availability_percent", "outages", "longest_outage_s"),
    "lost_directory_writes": ("acknowledged", "lost", "failed_present", "indeterminate"),
    "ldap_convergence": ("samples", "samples_after_heal", "converged_s"),
}

#: shown for any checker when non-zero: the thin evidence that made it UNKNOWN (docs/checkers.md)
_THIN_EVIDENCE = ("unobserved_windows", "orphan_completions")

#: exit statuses of ``harness check`` (docs/checkers.md)
EXIT_VALID, EXIT_INVALID, EXIT_BAD_INPUT, EXIT_UNKNOWN = 0, 1, 2, 3


def _finite(option: str, text: str) -> float:
    """``text`` as a float; NaN and infinity refused (``x > nan`` is False: a NaN bound would
    pass every outage)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{option}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{option}: {text!r} is not a finite number")
    return value


def _non_negative(option: str):  # noqa: ANN202 - argparse type factory
    def parse(text: str) -> float:
        value = _finite(option, text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"{option}: must be >= 0, not {text}")
        return value

    return parse


def _percent(text: str) -> float:
    value = _non_negative("--min-availability")(text)
    if value > 100:
        raise argparse.ArgumentTypeError(f"--min-availability: {text} is over 100")
    return value


def _prefix(option: str):  # noqa: ANN202 - argparse type factory
    def parse(text: str) -> str:
        if not text:
            raise argparse.ArgumentTypeError(f"{option}: must not be empty (it would match every process)")
        return text

    return parse


def _latency_bound(text: str) -> tuple[str, str, float]:
    """``steady:p95=300`` -> ("steady", "p95", 300.0)."""
    try:
        phase, rest = text.split(":", 1)
        pname, ms = rest.split("=", 1)
        value = float(ms)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--latency: {text!r} is not PHASE:pNN=MS (e.g. steady:p95=300)") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"--latency: {text!r}: {ms!r} is not a finite number")
    if phase not in PHASE_NAMES:
        raise argparse.ArgumentTypeError(f"--latency: unknown phase {phase!r} (known: {', '.join(PHASE_NAMES)})")
    if not pname.startswith("p"):
        raise argparse.ArgumentTypeError(f"--latency: {pname!r} is not a percentile like p95")
    try:
        p = float(pname[1:])
    except ValueError:
        raise argparse.ArgumentTypeError(f"--latency: {pname!r} is not a percentile like p95") from None
    if not 0 < p <= 100 or not value >= 0:
        raise argparse.ArgumentTypeError(f"--latency: {text!r} out of range")
    return phase, pname, value


def register(subparsers: Any) -> None:
    """Add the ``check`` subcommand."""
    p = subparsers.add_parser(
        "check",
        help="run the checkers on a recorded history",
        description="Run availability, ledger, latency, split-brain and recovery checkers (and list_append / bank "
        "when the history holds transactions) on a history.jsonl. "
        "Exit 0 if every applicable verdict is VALID, 1 if any is INVALID, 2 for bad input (usage, an unreadable "
        "or empty history), 3 if some is UNKNOWN (or nothing was applicable) and none INVALID. "
        "A checker with nothing of its kind in the history shows N/A and does not count.",
    )
    p.add_argument("history", metavar="HISTORY.jsonl|RUN_DIR", help="a history file, or a run directory holding history.jsonl")
    p.add_argument("--json", action="store_true", help="print a JSON list of results instead of a table")
    p.add_argument("--accept-unknown", action="store_true", help="exit 0, not 3, when no verdict is INVALID but some is UNKNOWN")
    g = p.add_argument_group("bounds")
    g.add_argument("--max-outage", type=_non_negative("--max-outage"), metavar="S", help="longest tolerated VIP outage, seconds")
    g.add_argument("--min-availability", type=_percent, metavar="PERCENT", help="minimum share of VIP probes served")
    g.add_argument(
        "--latency",
        type=_latency_bound,
        action="append",
        default=[],
        metavar="PHASE:pNN=MS",
        help="latency bound, repeatable (e.g. --latency steady:p95=300 --latency fault:p99=5000)",
    )
    g.add_argument("--recovery-s", type=_non_negative("--recovery-s"), default=60.0, metavar="S", help="length of the recovery phase after a heal (default 60)")
    g.add_argument(
        "--recovery-within",
        type=_non_negative("--recovery-within"),
        default=None,
        metavar="S",
        help="back to steady state within S seconds of each heal (default: --recovery-s)",
    )
    g.add_argument(
        "--max-probe-gap",
        type=_non_negative("--max-probe-gap"),
        default=DEFAULT_MAX_PROBE_GAP_S,
        metavar="S",
        help=f"a VIP probe idle longer than S seconds beyond its usual spacing is unobserved time: UNKNOWN (default {DEFAULT_MAX_PROBE_GAP_S:g})",
    )
    g.add_argument("--settle", type=_non_negative("--settle"), default=3.0, metavar="S", help="split brain tolerated this long after a heal (default 3)")
    g.add_argument("--strict-split-brain", action="store_true", help="split brain is INVALID even during a fault")
    g.add_argument("--probe-prefix", type=_prefix("--probe-prefix"), default="vip-probe", metavar="PREFIX", help="process name prefix of VIP probes")
    g.add_argument(
        "--posts-read-prefix",
        type=_prefix("--posts-read-prefix"),
        default=None,
        metavar="PREFIX",
        help="also check locust forum posts against reads by these processes",
    )
    t = p.add_argument_group("transactions")
    t.add_argument(
        "--isolation",
        choices=sorted(ISOLATION_MODELS),
        default=None,
        metavar="MODEL",
        help="the model list_append judges against: " + ", ".join(sorted(ISOLATION_MODELS))
        + " (default: the cluster file's database.isolation, else serializable)",
    )
    t.add_argument("--cluster", metavar="FILE", default=None, help="cluster file whose database.isolation is the model")
    p.set_defaults(func=run_check)


def isolation_from_args(args: argparse.Namespace) -> str:
    """``--isolation``, else the cluster file's ``database.isolation``, else serializable."""
    if getattr(args, "isolation", None):
        return str(args.isolation)
    cluster = getattr(args, "cluster", None)
    if cluster:
        from ..inventory import load_inventory

        level = load_inventory(cluster).database.isolation
        if level:
            return level
    return "serializable"


def config_from_args(args: argparse.Namespace) -> CheckConfig:
    bounds: dict[str, dict[str, float]] = {}
    for phase, pname, value in args.latency:
        bounds.setdefault(phase, {})[pname] = value
    return CheckConfig(
        probe_prefix=args.probe_prefix,
        max_outage_s=args.max_outage,
        max_probe_gap_s=args.max_probe_gap,
        min_availability_percent=args.min_availability,
        latency_bounds=bounds,
        recovery_s=args.recovery_s,
        recovery_within_s=args.recovery_within if args.recovery_within is not None else args.recovery_s,
        split_brain_settle_s=args.settle,
        allow_split_brain_during_faults=not args.strict_split_brain,
        posts_read_prefix=args.posts_read_prefix,
        isolation=isolation_from_args(args),
    )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value == value else "nan"
    return str(value)


def key_figures(result: CheckResult) -> str:
    """The few numbers that matter for one checker, as ``name=value`` pairs."""
    c = result.counts
    if result.checker == "latency" and isinstance(c.get("phases"), dict):
        parts = [
            f"{phase} p95={_fmt(s.get('p95'))} p99={_fmt(s.get('p99'))} n={s.get('n')}" for phase, s in c["phases"].items()
        ]
        return "; ".join(parts) or "samples=0"
    names = _KEY_FIGURES.get(result.checker, tuple(k for k, v in c.items() if isinstance(v, (int, float)))[:5])
    names += tuple(n for n in _THIN_EVIDENCE if c.get(n) and n not in names)  # why an UNKNOWN, when so
    return " ".join(f"{n}={_fmt(c[n])}" for n in names if n in c)


def _verdict(result: CheckResult, applies: bool) -> str:
    """VALID / INVALID / UNKNOWN, or N/A for an UNKNOWN with nothing of its kind to judge."""
    if result.valid is Validity.UNKNOWN and not applies:
        return "N/A"
    return result.valid.value.upper()


def render_table(results: Sequence[CheckResult], applies: dict[str, bool] | None = None) -> str:
    shown = applies or {}
    rows = [(r.checker, _verdict(r, shown.get(r.checker, True)), key_figures(r)) for r in results]
    w0 = max([len("checker")] + [len(r[0]) for r in rows])
    w1 = max([len("verdict")] + [len(r[1]) for r in rows])
    lines = [f"{'checker':<{w0}}  {'verdict':<{w1}}  figures", f"{'-' * w0}  {'-' * w1}  {'-' * 7}"]
    lines += [f"{a:<{w0}}  {b:<{w1}}  {c}" for a, b, c in rows]
    notes = [
        f"  {r.checker}: " + ("not applicable: nothing of its kind in the history" + (f" ({r.message})" if r.message else "")
                              if verdict == "N/A" else r.message)
        for r, (_, verdict, _) in zip(results, rows, strict=True)
        if r.message or verdict == "N/A"
    ]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)


def _counted(results: Sequence[CheckResult], applies: dict[str, bool] | None) -> list[CheckResult]:
    """The results the exit status looks at: an INVALID always, others if applicable."""
    shown = applies or {}
    return [r for r in results if r.valid is Validity.INVALID or shown.get(r.checker, True)]


def exit_status(results: Sequence[CheckResult], applies: dict[str, bool] | None = None, *, accept_unknown: bool = False) -> int:
    """0 VALID, 1 INVALID, 3 UNKNOWN (or nothing applicable), 0 for that with ``accept_unknown``."""
    counted = _counted(results, applies)
    if any(r.valid is Validity.INVALID for r in counted):
        return EXIT_INVALID
    if not counted or any(r.valid is Validity.UNKNOWN for r in counted):
        return EXIT_VALID if accept_unknown else EXIT_UNKNOWN
    return EXIT_VALID


def _summary(results: Sequence[CheckResult], applies: dict[str, bool], status: int, accept_unknown: bool) -> str:
    """The last line: what the exit status says and why."""
    counted = _counted(results, applies)
    unknown = [r.checker for r in counted if r.valid is Validity.UNKNOWN]
    if status == EXIT_INVALID:
        return "verdict: INVALID (exit 1): " + ", ".join(r.checker for r in counted if r.valid is Validity.INVALID)
    if not counted:
        what = "nothing to judge: no checker applies to this history"
    elif unknown:
        what = "could not judge: " + ", ".join(unknown)
    else:
        return "verdict: VALID (exit 0)"
    return f"verdict: UNKNOWN ({what}; exit 0 with --accept-unknown)" if accept_unknown else (
        f"verdict: UNKNOWN (exit 3): {what}; --accept-unknown to accept")


def run_check(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    """Load, check, print; the exit status (raises HistoryError for an unreadable or empty history)."""
    stream = out or sys.stdout
    config = config_from_args(args)
    ops = load_history(args.history)
    if not ops:
        raise HistoryError(f"{history_path(args.history)}: no operations: an empty history proves nothing")
    results = run_all(ops, config)
    applies = applicable(ops, config)
    accept_unknown = bool(getattr(args, "accept_unknown", False))
    status = exit_status(results, applies, accept_unknown=accept_unknown)
    if args.json:
        docs = [dict(r.to_dict(), applicable=applies.get(r.checker, True)) for r in results]
        for doc in docs:  # the transaction anomalies at top level, where CI scripts look first
            if "anomaly_types" in doc["counts"]:
                doc["anomaly_types"] = doc["counts"]["anomaly_types"]
        json.dump(scrub_data(docs), stream, indent=2, default=str)
        stream.write("\n")
    else:
        stream.write(f"{args.history}: {len(ops)} operations\n")
        stream.write(render_table(results, applies) + "\n")
        stream.write("\n" + _summary(results, applies, status, accept_unknown) + "\n")
    return status
