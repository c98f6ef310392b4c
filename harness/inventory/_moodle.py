"""The ``moodle:`` section of a cluster file: accounts, course and forum, database, waits.

Written once in the cluster file, read by the load runner (which hands it to the locustfile)
and by the forum-post read-back. Like the database, the password is only ever named by
environment variable (``password_env``).
"""

from __future__ import annotations

import re
from typing import Any

from ._checks import MISSING, Checker, describe_value, join_path, refuse_password
from ._model import Moodle, MoodleAccounts

MOODLE_KEYS = ("accounts", "password_env", "course_id", "forum_cmid", "database", "table_prefix", "wait_s", "timeout_s",
               "node_header")
SERIES_KEYS = ("prefix", "digits", "first", "count")
#: the locustfile's MOODLE_USERS separates accounts by ',' and a name from its password by ':'
_USERNAME_SEPARATORS = (",", ":")
#: a table prefix is pasted into SQL identifiers: letters, digits and underscores only
_TABLE_PREFIX_RE = re.compile(r"[A-Za-z0-9_]*")
#: most accounts a numbered series may name: ``names()`` builds the list, and no load runs more users
MAX_ACCOUNTS = 100_000


def read_moodle(c: Checker, raw: Any, path: str) -> Moodle | None:
    data = c.mapping(raw, path)
    if data is None:
        return None
    data = refuse_password(c, data, path)
    c.keys(data, path, (), MOODLE_KEYS)
    d = Moodle()
    accounts = read_accounts(c, data["accounts"], join_path(path, "accounts")) if "accounts" in data else d.accounts
    wait_min, wait_max = _read_wait(c, data["wait_s"], join_path(path, "wait_s"), d) if "wait_s" in data else (
        d.wait_min_s, d.wait_max_s)
    values: dict[str, Any] = {
        "password_env": c.string(data, "password_env", path, None) if data.get("password_env") is not None else None,
        "course_id": c.integer(data, "course_id", path, d.course_id, low=1),
        "forum_cmid": c.integer(data, "forum_cmid", path, d.forum_cmid, low=1),
        "database": c.string(data, "database", path, d.database),
        "table_prefix": _read_table_prefix(c, data, path, d.table_prefix),
        "timeout_s": c.number(data, "timeout_s", path, d.timeout_s, low=0.1),
        "node_header": c.string(data, "node_header", path, None) if data.get("node_header") is not None else None,
    }
    if accounts is None or MISSING in (wait_min, wait_max) or MISSING in values.values():
        return None
    return Moodle(accounts=accounts, wait_min_s=wait_min, wait_max_s=wait_max, **values)


def read_accounts(c: Checker, raw: Any, path: str) -> MoodleAccounts | None:
    """``{prefix, digits, first, count}`` (a numbered series) or ``{usernames: [...]}``."""
    data = c.mapping(raw, path)
    if data is None:
        return None
    c.keys(data, path, (), SERIES_KEYS + ("usernames",))
    if "usernames" in data:
        for key in SERIES_KEYS:
            if key in data:
                c.error(join_path(path, key), "not used with usernames (the list names every account)")
        names = _read_usernames(c, data["usernames"], join_path(path, "usernames"))
        return None if names is None else MoodleAccounts(usernames=names)
    d = MoodleAccounts()
    values = {
        "prefix": c.string(data, "prefix", path, d.prefix),
        "digits": c.integer(data, "digits", path, d.digits, low=0, high=12),
        "first": c.integer(data, "first", path, d.first, low=0),
        "count": c.integer(data, "count", path, d.count, low=1, high=MAX_ACCOUNTS),
    }
    if MISSING in values.values():
        return None
    return MoodleAccounts(**values)


def _read_usernames(c: Checker, raw: Any, path: str) -> tuple[str, ...] | None:
    if not isinstance(raw, list) or not raw:
        c.error(path, f"expected a non-empty list of usernames, got {describe_value(raw)}")
        return None
    names: list[str] = []
    ok = True
    for i, name in enumerate(raw):
        ipath = join_path(path, i)
        if not isinstance(name, str) or not name.strip():
            c.error(ipath, f"expected a username, got {describe_value(name)}")
            ok = False
        elif any(sep in name for sep in _USERNAME_SEPARATORS):
            c.error(ipath, f"{name!r}: a username cannot contain ',' or ':'")
            ok = False
        elif name in names:
            c.error(ipath, f"username {name!r} listed twice (each load user needs its own account)")
            ok = False
        else:
            names.append(name)
    return tuple(names) if ok else None


def _read_wait(c: Checker, raw: Any, path: str, d: Moodle) -> tuple[Any, Any]:
    """``wait_s: {min, max}``: seconds a user waits between two actions."""
    data = c.mapping(raw, path)
    if data is None:
        return MISSING, MISSING
    c.keys(data, path, (), ("min", "max"))
    low = c.number(data, "min", path, d.wait_min_s, 0)
    high = c.number(data, "max", path, d.wait_max_s, 0)
    if low is not MISSING and high is not MISSING and low > high:
        c.error(path, f"min ({low:g}) is above max ({high:g})")
        return MISSING, MISSING
    return low, high


def _read_table_prefix(c: Checker, data: dict[str, Any], path: str, default: str) -> Any:
    if "table_prefix" not in data:
        return default
    value = data["table_prefix"]
    if not isinstance(value, str) or not _TABLE_PREFIX_RE.fullmatch(value):
        c.error(join_path(path, "table_prefix"),
                f"expected letters, digits and underscores (Moodle's $CFG->prefix), got {describe_value(value)}")
        return MISSING
    return value
