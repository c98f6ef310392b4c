"""Where a web node keeps Moodle's sessions and data: from Apache ``SetEnv`` (the lab LMS) or
Moodle's ``config.php``, and the filesystem under a path (``findmnt``).

The static audit compares these between web nodes: sessions in files on a node's own disk are
lost with the node (every user on it logs in again), a dataroot on a node's own disk means
uploads the other nodes cannot see.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from . import parse_error

#: filesystems whose content every client sees (network and cluster filesystems)
SHARED_FSTYPES = frozenset({"nfs", "nfs4", "cifs", "smb3", "fuse.glusterfs", "glusterfs", "ceph", "fuse.ceph",
                            "fuse.sshfs", "lustre", "gpfs", "beegfs", "ocfs2", "gfs2", "fuse.s3fs", "9p"})

_SETENV = re.compile(r"^\s*SetEnv\s+(\S+)\s+(.*?)\s*$")
_CFG = re.compile(r"""^\s*\$CFG->(\w+)\s*=\s*(?:'([^']*)'|"([^"]*)"|([^;]+?))\s*;""")
_DOCROOT = re.compile(r'^\s*DocumentRoot\s+"?([^"\s]+)"?\s*$')


@dataclass(frozen=True)
class WebSettings:
    """One web node's session store and dataroot, with the line each came from."""

    source: str
    #: ``database`` (shared by every node), ``file`` (in ``session_path``), or another handler
    sessions: str | None
    session_path: str | None
    dataroot: str | None
    #: every setting read (for comparing nodes), and its line
    settings: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)


def parse_setenv(text: str, source: str = "apache2.conf") -> dict[str, tuple[str, int]]:
    """``SetEnv NAME value`` lines -> {NAME: (value, line)} (the last one wins, as Apache's)."""
    out: dict[str, tuple[str, int]] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        m = _SETENV.match(line.split("#", 1)[0]) if not line.lstrip().startswith("#") else None
        if m:
            out[m.group(1)] = (m.group(2).strip('"'), lineno)
    return out


def document_root(text: str) -> str | None:
    """The server's ``DocumentRoot`` (None when unset)."""
    root = None
    for line in text.splitlines():
        m = _DOCROOT.match(line)
        if m:
            root = m.group(1)
    return root


def lab_lms_settings(text: str, source: str) -> WebSettings | None:
    """The lab LMS's settings from its Apache config (None: not the lab LMS's config)."""
    env = parse_setenv(text, source)
    if not any(k.startswith("LMS_") for k in env):
        return None
    sessions = env.get("LMS_SESSIONS", ("database", 0))[0]
    store = {"database": "database", "node": "file"}.get(sessions, sessions)
    return WebSettings(source, store, env.get("LMS_SESSION_DIR", (None, 0))[0] if store == "file" else None,
                       env.get("LMS_DATAROOT", (None, 0))[0],
                       {k: v for k, (v, _) in env.items()}, {k: n for k, (_, n) in env.items()})


def moodle_settings(text: str, source: str = "config.php") -> WebSettings:
    """Moodle's ``config.php``: ``$CFG->dataroot``, ``session_handler_class`` (Moodle's default
    is file sessions in ``$CFG->dataroot/sessions``) and ``session_file_save_path``."""
    cfg: dict[str, str] = {}
    lines: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        m = _CFG.match(line)
        if m:
            cfg[m.group(1)] = next(g for g in m.groups()[1:] if g is not None).strip()
            lines[m.group(1)] = lineno
    if "dataroot" not in cfg:
        raise parse_error(source, None, None, "no $CFG->dataroot: not a Moodle config.php")
    handler = cfg.get("session_handler_class", r"\core\session\file").strip("\\").lower()
    kind = handler.rsplit("\\", 1)[-1]
    store = {"file": "file", "database": "database", "redis": "redis", "memcached": "memcached"}.get(kind, kind)
    path = cfg.get("session_file_save_path", cfg["dataroot"].rstrip("/") + "/sessions") if store == "file" else None
    return WebSettings(source, store, path, cfg["dataroot"], cfg, lines)


@dataclass(frozen=True)
class MountFact:
    """``findmnt -n -o FSTYPE,SOURCE,TARGET -T PATH``: the filesystem a path lives on."""

    fstype: str
    source: str
    target: str

    @property
    def shared(self) -> bool:
        return self.fstype in SHARED_FSTYPES


def parse_findmnt(text: str, command: str = "findmnt -n -o FSTYPE,SOURCE,TARGET -T") -> MountFact:
    words = text.split()
    if len(words) < 3:
        raise parse_error(command, 1, text, "expected FSTYPE SOURCE TARGET")
    return MountFact(words[0], words[1], " ".join(words[2:]))


_VERSION = re.compile(r"""^\s*\$(version|release)\s*=\s*(?:'([^']*)'|"([^"]*)"|([^;]+?))\s*;""")


@dataclass(frozen=True)
class AppVersion:
    """What identifies the code a web node runs: Moodle's ``$release ($version)`` from its
    version.php, or a digest of the application's PHP files (the lab LMS has no version)."""

    value: str
    source: str  # the file or command it was read from
    line: int | None = None


def moodle_version(text: str, source: str = "version.php") -> AppVersion:
    """Moodle's version.php -> ``4.5.1 (Build: 20241209) (2024100701.00)``; ParseError
    naming the file when it has no ``$version``."""
    found: dict[str, tuple[str, int]] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        m = _VERSION.match(line)
        if m and m.group(1) not in found:
            found[m.group(1)] = (next(g for g in m.groups()[1:] if g is not None).strip(), lineno)
    if "version" not in found:
        raise parse_error(source, None, None, "no $version: not a Moodle version.php")
    version, lineno = found["version"]
    release = found.get("release", ("", 0))[0]
    return AppVersion(f"{release} ({version})" if release else version, source, lineno)


def php_tree_digest(text: str, root: str, command: str = "find -name '*.php' -exec sha256sum") -> AppVersion:
    """``find ROOT -name '*.php' -type f -exec sha256sum {} +`` -> one digest over every file's
    hash and path relative to ``root`` (order-free), shown with the file count; ParseError
    when the output holds no ``HASH  PATH`` line (no PHP file there: nothing identifies the code)."""
    entries = []
    prefix = root.rstrip("/") + "/"
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        digest, sep, path = line.partition("  ")
        if not sep or len(digest) != 64:
            raise parse_error(command, lineno, line, "expected 'SHA256  PATH'")
        entries.append(f"{digest} {path.removeprefix(prefix)}")
    if not entries:
        raise parse_error(command, None, None, f"no PHP file under {root}")
    total = hashlib.sha256("\n".join(sorted(entries)).encode()).hexdigest()
    return AppVersion(f"sha256 {total[:16]} of {len(entries)} PHP files", command)
