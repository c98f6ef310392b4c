"""Parse OpenLDAP client output: ``ldapsearch -LLL`` LDIF and ``ldapwhoami``.

The lab's auth tier (issue 13) waits for two syncrepl providers to agree: both servers'
``contextCSN`` values (one per serverID) equal. The CSN's own fields say which server made the
last change it has seen, so the parse keys each CSN by that server ID rather than by line order.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from . import parse_error

#: a CSN: ``YYYYmmddHHMMSS.ffffffZ#count#sid#mod`` (OpenLDAP 2.4+; sid is 3 hex digits)
_CSN = re.compile(r"^(\d{14}\.\d{6}Z)#([0-9a-f]{6})#([0-9a-f]{3})#([0-9a-f]{6})$")


@dataclass(frozen=True, order=True)
class Csn:
    """One change sequence number; ordered by time, then count (what syncrepl compares)."""

    time: str
    count: int
    sid: int
    mod: int
    text: str


def parse_ldif(text: str, command: str = "ldapsearch -LLL") -> list[dict[str, list[str]]]:
    """LDIF entries -> [{attribute (lower case): [values]}], ``dn`` among them.

    Folded lines (a leading single space continues the line before, RFC 2849) are joined and
    ``attr:: base64`` values decoded, so ``-o ldif-wrap=no`` is not required of the caller.
    """
    entries: list[dict[str, list[str]]] = []
    current: dict[str, list[str]] = {}
    logical: list[tuple[int, str]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.startswith(" ") and logical and logical[-1][1]:
            logical[-1] = (logical[-1][0], logical[-1][1] + line[1:])
        else:
            logical.append((lineno, line))
    for lineno, line in logical:
        if not line.strip():
            if current:
                entries.append(current)
                current = {}
            continue
        if line.startswith("#"):
            continue
        attr, sep, value = line.partition(":")
        if not sep or not attr or " " in attr:
            raise parse_error(command, lineno, line, "not an LDIF 'attribute: value' line")
        if value.startswith(":"):
            try:
                value = base64.b64decode(value[1:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise parse_error(command, lineno, line, f"bad base64 value ({exc})") from None
        else:
            value = value.removeprefix(" ")
        current.setdefault(attr.lower(), []).append(value)
    if current:
        entries.append(current)
    return entries


def parse_csn(text: str, command: str = "ldapsearch -LLL") -> Csn:
    """One CSN value -> :class:`Csn`; anything else is a ParseError naming the command."""
    match = _CSN.match(text.strip())
    if match is None:
        raise parse_error(command, None, text, "not a CSN (YYYYmmddHHMMSS.ffffffZ#cnt#sid#mod)")
    time, count, sid, mod = match.groups()
    return Csn(time, int(count, 16), int(sid, 16), int(mod, 16), text.strip())


def parse_context_csns(text: str, command: str = "ldapsearch -LLL -s base contextCSN") -> dict[int, Csn]:
    """The suffix entry's ``contextCSN`` values -> {serverID: Csn}.

    Empty when the entry has none yet (a database no change was ever written to). Two CSNs of
    the same server ID in one entry is a ParseError: slapd keeps one per server.
    """
    out: dict[int, Csn] = {}
    for entry in parse_ldif(text, command):
        for value in entry.get("contextcsn", []):
            csn = parse_csn(value, command)
            if csn.sid in out:
                raise parse_error(command, None, value, f"two contextCSN values for serverID {csn.sid}")
            out[csn.sid] = csn
    return out


def context_csns_agree(a: dict[int, Csn], b: dict[int, Csn]) -> bool:
    """Whether two providers have seen the same changes: the same CSN for every server ID.

    Two empty sets do not agree (nothing was read yet, so nothing is known to be replicated).
    """
    return bool(a) and a == b


def parse_whoami(text: str, command: str = "ldapwhoami") -> str:
    """``ldapwhoami`` -> the bound DN (``dn:uid=x,...`` -> ``uid=x,...``; anonymous -> "")."""
    line = text.strip()
    if line == "anonymous":
        return ""
    if not line.startswith("dn:"):
        raise parse_error(command, 1, line, "expected 'dn:<DN>' or 'anonymous'")
    return line[3:]
