"""Bank: transfers between accounts never create or destroy money.

The accounts and the expected total come from the ok ``setup`` op of a ``bank-setup`` process
(value ``{"accounts": [...], "total": T}``); every ok ``read`` of a ``bank-`` process (value
``{"<account>": balance, ...}``) must show every account, sum to ``T``, and (unless
``allow_negative``) hold no negative balance: transfers refuse to overdraw. UNKNOWN with no
setup or no ok read. Transfers themselves are only counted: what they did is seen in reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..history import Op
from ._result import CheckResult, Validity
from ._txn_history import TxnHistoryError

NAME = "bank"
PREFIX = "bank-"


def has_bank(ops: Iterable[Op]) -> bool:
    return any(op.process.startswith(PREFIX) for op in ops)


def check_bank(ops: Iterable[Op], *, allow_negative: bool = False, max_examples: int = 10) -> CheckResult:
    """Wrong totals, missing or unexpected accounts and negative balances in ok reads."""
    accounts: list[str] | None = None
    total: int | None = None
    reads = 0
    transfers = {"ok": 0, "fail": 0, "info": 0}
    counts = {"wrong_total": 0, "missing_accounts": 0, "unexpected_accounts": 0, "negative": 0}
    examples: dict[str, list[Any]] = {k: [] for k in counts}

    def note(kind: str, example: dict[str, Any]) -> None:
        counts[kind] += 1
        if len(examples[kind]) < max_examples:
            examples[kind].append(example)

    for op in ops:
        if not op.process.startswith(PREFIX) or op.type == "invoke":
            continue
        if op.f == "setup" and op.type == "ok":
            v = op.value
            if not isinstance(v, dict) or not isinstance(v.get("accounts"), list) or isinstance(v.get("total"), bool) \
                    or not isinstance(v.get("total"), int):
                raise TxnHistoryError(f"history line index {op.index}: bank setup value must be "
                                      f"{{'accounts': [...], 'total': int}}, not {v!r}")
            accounts = [str(a) for a in v["accounts"]]
            total = v["total"]
        elif op.f == "transfer" and op.type in transfers:
            transfers[op.type] += 1
        elif op.f == "read" and op.type == "ok":
            v = op.value
            if not isinstance(v, dict):
                raise TxnHistoryError(f"history line index {op.index}: bank read value is {type(v).__name__}, not a mapping")
            for acct, bal in v.items():
                if isinstance(bal, bool) or not isinstance(bal, int):
                    raise TxnHistoryError(f"history line index {op.index}: bank read value[{acct!r}] = {bal!r} is not an int")
            if accounts is None or total is None:
                continue  # judged only against a setup seen before it
            reads += 1
            balances = {str(k): b for k, b in v.items()}
            got = sum(balances.values())
            ex = {"index": op.index, "time": op.time, "process": op.process, "balances": v}
            if got != total:
                note("wrong_total", {**ex, "total": got, "expected": total, "difference": got - total})
            missing = [a for a in accounts if a not in balances]
            if missing:
                note("missing_accounts", {**ex, "missing": missing})
            extra = sorted(set(balances) - set(accounts))
            if extra:
                note("unexpected_accounts", {**ex, "unexpected": extra})
            negative = {a: b for a, b in balances.items() if b < 0}
            if negative and not allow_negative:
                note("negative", {**ex, "negative": negative})
    out: dict[str, Any] = {"reads": reads, "transfers": transfers, "expected_total": total, **counts}
    bad = [k for k, n in counts.items() if n]
    shown = {k: v for k, v in examples.items() if v}
    if bad:
        return CheckResult(NAME, Validity.INVALID, out, shown, "; ".join(f"{counts[k]} read(s) with {k.replace('_', ' ')}" for k in bad))
    if total is None:
        return CheckResult(NAME, Validity.UNKNOWN, out, message="no ok bank setup: the expected total is unknown")
    if reads == 0:
        return CheckResult(NAME, Validity.UNKNOWN, out, message="no ok read of the balances")
    return CheckResult(NAME, Validity.VALID, out, message=f"{reads} read(s), every one totals {total}")
