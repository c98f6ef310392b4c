"""Secret scrubbing for everything the report shows.

Error strings come from the wire (HTTP bodies, SQL errors, command stderr) and may carry a
password, a session cookie or a key. The report is an artifact that is mailed around and
kept in CI, so every string it renders passes through :func:`scrub` first.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "***"

_KEY_BLOCK = re.compile(r"-----BEGIN [A-Z0-9 ]*-----.*?(?:-----END [A-Z0-9 ]*-----|\Z)", re.S)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization / cookie headers: the whole header value goes
    (re.compile(r"(?i)\b(authorization|proxy-authorization)(\s*[:=]\s*)[^\r\n]*"), r"\1\2" + REDACTED),
    (re.compile(r"(?i)\b(set-cookie|cookie)(\s*:\s*)[^\r\n]*"), r"\1\2" + REDACTED),
    # session cookies and keys by name (Moodle: MoodleSession, MoodleSessionTest, sesskey)
    (re.compile(r"(?i)\b(MoodleSession\w*|PHPSESSID|JSESSIONID|sesskey|session_id|sessionid)(\s*[=:]\s*)[^\s;&,'\"]+"), r"\1\2" + REDACTED),
    # name=value / name: value for secret-looking names
    (
        re.compile(
            r"(?i)\b([\w.-]*(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key))"
            r"(['\"]?\s*[=:]\s*['\"]?)([^\s'\",;&}]+)"
        ),
        r"\1\2" + REDACTED,
    ),
    # credentials in URLs: scheme://user:pass@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]+):[^\s@/]+@"), r"\1:" + REDACTED + "@"),
    # SQL: IDENTIFIED BY 'x', mysql -pSECRET
    (re.compile(r"(?i)\b(identified\s+by\s+)('[^']*'|\"[^\"]*\"|\S+)"), r"\1" + REDACTED),
    (re.compile(r"(?<![\w-])(-p)(?!\s)([^\s'\"]+)"), r"\1" + REDACTED),
    # bearer tokens without a header name
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + REDACTED),
)
_SECRET_KEYS = re.compile(
    r"(?i)^(.*password.*|passwd|passphrase|pwd|.*secret.*|.*token.*|cookies?|set-cookie|authorization|"
    r"api[_-]?key|access[_-]?key|private[_-]?key|sesskey|moodlesession\w*)$"
)


def scrub(text: str) -> str:
    """``text`` with secrets replaced by ``***`` (keys blocks by ``[redacted key]``)."""
    if not text:
        return text
    if "-----BEGIN" in text:
        text = _KEY_BLOCK.sub("[redacted key]", text)
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


def scrub_data(value: Any, _depth: int = 0) -> Any:
    """Deep copy of JSON-like data with every string scrubbed and secret-named keys' values
    redacted (``{"password": "x"}`` -> ``{"password": "***"}``)."""
    if _depth > 30:
        return REDACTED
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            if isinstance(k, str) and _SECRET_KEYS.match(k) and v is not None:
                out[k] = REDACTED
            else:
                out[k] = scrub_data(v, _depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [scrub_data(v, _depth + 1) for v in value]
    return value
