"""One secret scrubber for every file the harness writes (history, result.json, run.json, the
report, the allure results).

Secrets reach strings from everywhere: a service's ``start:`` line in a heal error, a fault's
command, an assertion message, an HTTP body, a SQL error. Files of a run dir are mailed
around and kept in CI, so each writer passes its data through :func:`scrub_data` (or its
line through :func:`dumps_scrubbed`) at the point of writing. This module imports nothing
from the harness: the history (written per operation) and the report (importable without the
lab) both use it.

Two layers:

* **Known values**, scrubbed verbatim wherever they appear: :func:`add_secret` (the scenario
  registers the database and Moodle passwords it reads from ``password_env``) and, once per
  recorder, :func:`add_env_secrets` (environment variables named like secrets:
  ``*PASSWORD*``, ``*_PWD``, ``*TOKEN*``, ``*SECRET*``, ``*API_KEY*``).
* **Forms**, for secrets nobody told us about (docs/report.md, "Secrets", lists them). The
  one judgement call is ``-p``: ``-pX`` (attached) is a MySQL-style password (always after
  a MySQL/MariaDB client or ``sshpass``) except when ``X`` is a number (``ssh -p22``, ``ps -p123``) or a known single-dash word (``-path``,
  ``-print``, ``-pthread``, ...); ``-p X`` (spaced) is a password only after a MySQL/MariaDB
  client or ``sshpass`` in the same command; everywhere else it is a port or a pidfile
  (``ssh -p 22``, ``haproxy -p /run/haproxy.pid``) and is kept. Outside such a command
  ``-pX`` is also kept when ``X`` is at most three letters (flags: ``cp -pr``).

Speed: the history calls this per record. :func:`suspicious` is a handful of substring tests
that clean text fails; only suspicious text goes through the patterns.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REDACTED = "***"
#: shorter known values are not scrubbed verbatim (a password "1" would eat every digit)
MIN_KNOWN_LEN = 4
#: shorter values of secret-named environment variables are flags, not secrets
MIN_ENV_LEN = 6
_MAX_DEPTH = 30

_KEY_BLOCK = re.compile(r"-----BEGIN [A-Z0-9 ]*-----.*?(?:-----END [A-Z0-9 ]*-----|\Z)", re.S)

_NAMES = r"(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|auth[_-]?key)"
_VALUE = r"""('[^'\r\n]*'|"[^"\r\n]*"|[^\s'",;&}]+)"""
#: words that follow "token" in prose, not a token value
_PROSE = (r"(?:is|was|has|had|are|were|be|been|the|a|an|in|on|of|to|at|by|for|from|with|and|or|not|"
          r"no|none|null|expired|invalid|missing|rejected|required|revoked|refresh|file|found|given|"
          r"set|unset|empty|error|failed|mismatch)\b")
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization headers: the whole value (scheme and credentials, which hold no quote) to
    # the line's end or a closing quote (`curl -H 'Authorization: Bearer X' URL` keeps the URL)
    (re.compile(r"(?i)\b(authorization|proxy-authorization|x-auth-token|x-api-key)(['\"]?\s*[:=]\s*['\"]?)[^\r\n'\"]*"),
     r"\1\2" + REDACTED),
    # cookie headers: the whole value to the line's end (a cookie value may be quoted)
    (re.compile(r"(?i)\b(set-cookie|cookie)(['\"]?\s*:\s*)[^\r\n]*"), r"\1\2" + REDACTED),
    # session cookies and keys by name (Moodle: MoodleSession, MoodleSessionTest, sesskey)
    (re.compile(r"(?i)\b(MoodleSession\w*|PHPSESSID|JSESSIONID|sesskey|session_id|sessionid)(['\"]?\s*[=:]\s*)[^\s;&,'\"]+"),
     r"\1\2" + REDACTED),
    # long options: --password X, --password=X, --db-pass 'X', --token X (not --password --next)
    (re.compile(r"(?i)(--(?:\w+[-_])*(?:" + _NAMES[3:-1] + r"|pass))(=|\s+)(?!-)" + _VALUE), r"\1\2" + REDACTED),
    # name=value / name: value for secret-looking names (password=, PASSWORD: , MYSQL_PWD=,
    # HARNESS_DB_PASSWORD=, "token": "..."); MySQL's "(using password: YES)" stays
    (re.compile(r"(?i)\b([\w.-]*" + _NAMES + r")(['\"]?\s*[=:]\s*)(?!(?:YES|NO)\))" + _VALUE), r"\1\2" + REDACTED),
    # credentials in URLs: scheme://user:pass@host (the last @ before the path)
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]+):[^\s/]*@"), r"\1:" + REDACTED + "@"),
    # SQL: IDENTIFIED BY 'x'
    (re.compile(r"(?i)\b(identified\s+by\s+)('[^']*'|\"[^\"]*\"|\S+)"), r"\1" + REDACTED),
    # bearer / basic credentials and bare tokens without a header name
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + REDACTED),
    (re.compile(r"(?i)\b(token)(\s+)(?!" + _PROSE + r")[A-Za-z0-9._~+/=:-]{4,}"), r"\1\2" + REDACTED),
)
#: -pX attached: a MySQL-style password unless a number or one of these single-dash words
_DASH_P_WORDS = frozenset({"ath", "erm", "rint", "rintf", "rint0", "rune", "thread", "ipe", "edantic",
                           "idfile", "id", "ort", "rofile", "rg"})
_DASH_P_ATTACHED = re.compile(r"(?<![\w-])-p(?![\s=])([^\s'\"]+)")
#: a MySQL/MariaDB client or sshpass, and the rest of its command (to ; | & or the line's end)
_PASSWORD_P_COMMAND = re.compile(r"(?i)(?<![\w.-])(?:[\w./-]*/)?(?:mysql\w*|mariadb[\w-]*|sshpass)\b[^;|&\r\n]*")
_DASH_P_SPACED = re.compile(r"(?<=\s)-p(\s+)(?!-)('[^']*'|\"[^\"]*\"|\S+)")
_SECRET_KEYS = re.compile(
    r"(?i)^(.*password.*|passwd|passphrase|pwd|.*secret.*|.*token.*|cookies?|set-cookie|authorization|"
    r"api[_-]?key|access[_-]?key|private[_-]?key|sesskey|moodlesession\w*)$"
)
#: environment variable names whose values are secrets (PWD and OLDPWD are directories)
_ENV_NAMES = re.compile(r"(?i)(passw|passphrase|_pwd$|^pwd_|secret|token|api_?key|access_?key|private_?key)")
_ENV_NOT = re.compile(r"(?i)^(old)?pwd$|_(file|path|dir)$")
#: clean text holds none of these (lowercased): every pattern above needs one of them
_TRIGGER_WORDS = ("pass", "pwd", "secret", "token", "auth", "cookie", "sess", "bearer", "basic", "identified",
                  "://", "-----begin", "apikey", "api_key", "api-key", "accesskey", "access_key", "access-key",
                  "privatekey", "private_key", "private-key", " -p", "\t-p", "\n-p", "\"-p", "'-p", "(-p")

_lock = threading.Lock()
_known: set[str] = set()
_known_re: re.Pattern[str] | None = None
#: the known values and the forms JSON gives them (quotes, backslashes, non-ASCII escaped)
_known_forms: tuple[str, ...] = ()


def _rebuild() -> None:
    # caller holds the lock; longest first so a value containing another goes whole
    global _known_re, _known_forms
    values = sorted(_known, key=lambda v: (-len(v), v))
    _known_re = re.compile("|".join(map(re.escape, values))) if values else None
    escaped = {json.dumps(v)[1:-1] for v in values} | {json.dumps(v, ensure_ascii=False)[1:-1] for v in values}
    _known_forms = tuple(sorted(set(values) | escaped))


def add_secret(value: str | None) -> bool:
    """Scrub ``value`` verbatim from everything written from now on; False when too short
    (under :data:`MIN_KNOWN_LEN`) or empty, and then only the forms catch it."""
    if not isinstance(value, str) or len(value) < MIN_KNOWN_LEN:
        return False
    with _lock:
        if value not in _known:
            _known.add(value)
            _rebuild()
    return True


def add_secrets(values: Iterable[str | None]) -> None:
    for v in values:
        add_secret(v)


def add_env_secrets(environ: dict[str, str] | None = None) -> list[str]:
    """Register the values of secret-named environment variables; returns their names."""
    env = os.environ if environ is None else environ
    names = []
    for name, value in env.items():
        if not _ENV_NAMES.search(name) or _ENV_NOT.search(name):
            continue
        if len(value) < MIN_ENV_LEN or value.lower() in ("true", "false", "yes", "no") or value.isdigit():
            continue
        if add_secret(value):
            names.append(name)
    return names


def known_count() -> int:
    """How many values are scrubbed verbatim (for tests and diagnostics; never the values)."""
    return len(_known)


def suspicious(text: str) -> bool:
    """True when ``text`` may hold a secret. Substring tests only (a regex alternation costs
    ten times more): clean text, the common case of a history line, stops here."""
    low = text.lower()
    for word in _TRIGGER_WORDS:
        if word in low:
            return True
    for value in _known_forms:
        if value in text:
            return True
    return low.startswith("-p")


def _scrub_dash_p(text: str) -> str:
    """``-p`` passwords: every form inside a MySQL/MariaDB/sshpass command, else ``-pX`` only."""

    def in_client(m: re.Match[str]) -> str:
        command = _DASH_P_ATTACHED.sub("-p" + REDACTED, m.group(0))
        # the client's own -p only: `sshpass -p X ssh -p 22` keeps ssh's port
        return _DASH_P_SPACED.sub(lambda p: "-p" + p.group(1) + REDACTED, command, count=1)

    def attached(m: re.Match[str]) -> str:
        rest = m.group(1)
        if rest.isdigit() or rest.lower() in _DASH_P_WORDS or (len(rest) <= 3 and rest.isalpha()):
            return m.group(0)  # a port or pid (-p22), a single-dash word (-path), flags (cp -pr)
        return "-p" + REDACTED

    text = _PASSWORD_P_COMMAND.sub(in_client, text)
    return _DASH_P_ATTACHED.sub(attached, text)


def scrub(text: str) -> str:
    """``text`` with secrets replaced by ``***`` (key blocks by ``[redacted key]``)."""
    if not text or not isinstance(text, str) or not suspicious(text):
        return text
    if _known_re is not None:
        text = _known_re.sub(REDACTED, text)
    if "-----BEGIN" in text:
        text = _KEY_BLOCK.sub("[redacted key]", text)
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    if "-p" in text:
        text = _scrub_dash_p(text)
    return text


def scrub_data(value: Any, _depth: int = 0) -> Any:
    """Deep copy of JSON-like data with every string scrubbed and secret-named keys' values
    redacted (``{"password": "x"}`` -> ``{"password": "***"}``). Objects JSON cannot hold
    become their scrubbed ``str()`` here, not later unscrubbed through ``default=str``."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return scrub(value)
    if _depth > _MAX_DEPTH:
        return REDACTED
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            key = scrub(k) if isinstance(k, str) else k
            if isinstance(k, str) and _SECRET_KEYS.match(k) and v is not None:
                out[key] = REDACTED
            else:
                out[key] = scrub_data(v, _depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [scrub_data(v, _depth + 1) for v in value]
    return scrub(str(value))


def dumps_scrubbed(data: Any, *, keep: frozenset[str] = frozenset(), **kwargs: Any) -> str:
    """``json.dumps(data)`` scrubbed: dumped once, and only data whose JSON text is
    :func:`suspicious` is scrubbed and dumped again (a history line costs one search).
    Top-level keys in ``keep`` keep their values (a history line's ``process``, ``type`` and
    ``f``: the checkers pair and judge by them, and a known value must not rename them)."""
    kwargs.setdefault("default", str)
    line = json.dumps(data, **kwargs)
    if not suspicious(line):
        return line
    if keep and isinstance(data, dict):
        scrubbed = {k: v if k in keep else scrub_data({k: v})[k] for k, v in data.items()}
        return json.dumps(scrubbed, **kwargs)
    return json.dumps(scrub_data(data), **kwargs)


def scrub_file(path: str | Path) -> bool:
    """Scrub a text file in place (files a child process wrote, e.g. Locust's log and samples);
    True when it changed. JSONL files are scrubbed record by record, so they stay JSON; binary
    files and files that are not UTF-8 are left alone."""
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if "\0" in text or not suspicious(text):
        return False
    if p.suffix == ".jsonl":
        lines = []
        for line in text.splitlines(keepends=True):
            try:
                lines.append(dumps_scrubbed(json.loads(line)) + ("\n" if line.endswith("\n") else ""))
            except ValueError:
                lines.append(scrub(line))
        out = "".join(lines)
    else:
        out = scrub(text)
    if out == text:
        return False
    tmp = p.with_name(p.name + ".scrub-tmp")
    tmp.write_text(out, encoding="utf-8")
    os.replace(tmp, p)
    return True
