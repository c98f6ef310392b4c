"""Parse ``SHOW STATUS LIKE 'wsrep%'`` as printed by the ``mysql``/``mariadb`` client.

Both the batch form (``mysql -N -B``: ``name<TAB>value``, optionally with the
``Variable_name<TAB>Value`` header when ``-N`` is missing) and the interactive table form
(``| wsrep_ready | ON |`` between ``+---+`` rules) are accepted: the Galera audit runs the
first, people paste the second into bug reports.
"""

from __future__ import annotations

from . import parse_error

_COMMAND = "SHOW STATUS LIKE 'wsrep%'"
_BATCH_ESCAPES = {"\\t": "\t", "\\n": "\n", "\\\\": "\\", "\\0": "\0"}


def _unescape(value: str) -> str:
    """``mysql -B`` escapes tab, newline, backslash and NUL in values."""
    if "\\" not in value:
        return value
    out = []
    i = 0
    while i < len(value):
        pair = value[i : i + 2]
        if pair in _BATCH_ESCAPES:
            out.append(_BATCH_ESCAPES[pair])
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def parse_wsrep_status(text: str) -> dict[str, str]:
    """Variable name -> value (strings, as the server reports them). Empty output -> {}."""
    result: dict[str, str] = {}
    lines = text.splitlines()
    table = any(ln.startswith("+-") for ln in lines)
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if table:
            s = line.strip()
            if s.startswith("+"):
                continue
            if not (s.startswith("|") and s.endswith("|")):
                if s.endswith(("rows in set", "row in set")) or " in set (" in s:
                    continue
                raise parse_error(_COMMAND, lineno, line, "expected '| name | value |'")
            cells = [c.strip() for c in s[1:-1].split("|")]
            if len(cells) != 2:
                # a value containing '|' : name is the first cell, the rest is the value
                cells = [cells[0], "|".join(cells[1:]).strip()]
            name, value = cells
        else:
            if "\t" not in line:
                raise parse_error(_COMMAND, lineno, line, "expected 'name<TAB>value' (mysql -N -B)")
            name, value = line.split("\t", 1)
            value = _unescape(value)
        if name == "Variable_name":
            continue
        if not name:
            raise parse_error(_COMMAND, lineno, line, "empty variable name")
        result[name] = value
    return result
