"""Transactions out of a history: invoke/completion pairs of list-append ``txn`` ops.

Validation lives here so the checker sees only well-formed micro-ops; anything else is one
:class:`TxnHistoryError` naming the history line (its ``index``) and the field.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import HistoryError
from ..history import Op

TXN_PREFIX = "txn-"
TXN_F = "txn"


class TxnHistoryError(HistoryError):
    """A list-append op's micro-ops do not follow docs/history.md (names line and field)."""


@dataclass(slots=True)
class Txn:
    """One transaction: ``type`` ok / fail / info (an invoke never completed is info)."""

    id: int
    process: str
    type: str
    mops: list[list[Any]]
    invoke_index: int
    complete_index: int | None
    invoke_time: float
    complete_time: float | None


def _bad(op: Op, where: str, why: str) -> TxnHistoryError:
    return TxnHistoryError(f"history line index {op.index} ({op.process} {op.type}): value{where}: {why}")


_SCALARS = (int, str)
_INTS = {int}


def _check_mops(op: Op, value: Any, *, reads_filled: bool) -> list[list[Any]]:
    """``value`` if well formed (a fast pass for the common shapes), else the first fault."""
    if type(value) is list:
        for mop in value:
            if type(mop) is not list or len(mop) != 3 or type(mop[1]) not in _SCALARS:
                break
            f, v = mop[0], mop[2]
            if f == "append":
                if type(v) is not int:
                    break
            elif f != "r":
                break
            elif reads_filled:
                if type(v) is not list or (v and not set(map(type, v)) <= _INTS):
                    break
            elif v is not None and type(v) is not list:
                break
        else:
            return value
    return _slow_check(op, value, reads_filled=reads_filled)


def _slow_check(op: Op, value: Any, *, reads_filled: bool) -> list[list[Any]]:
    if not isinstance(value, list):
        raise _bad(op, "", f"is {type(value).__name__}, not a list of micro-ops")
    for i, mop in enumerate(value):
        if not isinstance(mop, list) or len(mop) != 3:
            raise _bad(op, f"[{i}]", f"{mop!r} is not a [f, key, value] triple")
        f, key, v = mop
        if isinstance(key, (list, dict)) or key is None or isinstance(key, bool):
            raise _bad(op, f"[{i}][1] (key)", f"{key!r} is not a JSON scalar (int or string)")
        if f == "append":
            if isinstance(v, bool) or not isinstance(v, int):
                raise _bad(op, f"[{i}][2] (append value)", f"{v!r} is not an int")
        elif f == "r":
            if reads_filled:
                if not isinstance(v, list):
                    raise _bad(op, f"[{i}][2] (read value)", f"{v!r} is not a list (an ok read carries what it read)")
                for j, e in enumerate(v):
                    if isinstance(e, bool) or not isinstance(e, int):
                        raise _bad(op, f"[{i}][2][{j}] (read element)", f"{e!r} is not an int")
            elif v is not None and not isinstance(v, list):
                raise _bad(op, f"[{i}][2] (read value)", f"{v!r} is neither null nor a list")
        else:
            raise _bad(op, f"[{i}][0] (f)", f"{f!r} is not 'append' or 'r'")
    return value


def is_txn_op(op: Op) -> bool:
    return op.f == TXN_F and op.process.startswith(TXN_PREFIX)


def collect(ops: Iterable[Op]) -> tuple[list[Txn], int]:
    """The transactions in history order of invocation, and the number of orphan completions.

    The ok completion's value is what happened (reads filled); a fail or info completion's
    value is ignored in favour of the invocation's (only its type matters)."""
    txns: list[Txn] = []
    open_by_process: dict[str, Txn] = {}
    orphans = 0
    for op in ops:
        if op.f != TXN_F or not op.process.startswith(TXN_PREFIX):
            continue
        if op.type == "invoke":
            if op.process in open_by_process:
                raise TxnHistoryError(f"history line index {op.index}: {op.process} invoked again before completing")
            t = Txn(len(txns), op.process, "info", _check_mops(op, op.value, reads_filled=False), op.index, None, op.time, None)
            txns.append(t)
            open_by_process[op.process] = t
            continue
        t_open = open_by_process.pop(op.process, None)
        if t_open is None:
            orphans += 1
            continue
        t_open.type = op.type
        t_open.complete_index = op.index
        t_open.complete_time = op.time
        if op.type == "ok":
            mops = _check_mops(op, op.value, reads_filled=True)
            if len(mops) != len(t_open.mops):
                raise _bad(op, "", f"{len(mops)} micro-ops, the invocation had {len(t_open.mops)}")
            t_open.mops = mops
    return txns, orphans
