"""Rules over where the web nodes keep Moodle's sessions and data (pure).

A web node dies with its own disk: sessions kept in files there log every user on it out, and
uploads kept there are missing on every other node. Nodes must also agree on their settings
(one node on another database or dataroot is a site that changes with the balancer's choice).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..parsers.web_config import AppVersion, MountFact, WebSettings
from ._model import Evidence, Finding, Severity

CONFIRM_RELOGIN = ("tests/reliability/test_lost_transactions.py::"
                   "test_no_lost_writes_or_relogins_when_a_web_node_dies")
CONFIRM_FILES = "tests/reliability/test_storage.py::test_files_kept_when_a_file_server_is_destroyed"
#: settings that are each node's own by design (not compared)
NODE_OWN = frozenset({"LMS_NODE", "LMS_SESSION_DIR"})


@dataclass(frozen=True)
class WebNode:
    """One web node's settings and the filesystems under its session path and dataroot."""

    host: str
    settings: WebSettings
    mounts: dict[str, MountFact]
    #: what identifies its code (None: not read; the collector says why)
    version: AppVersion | None = None


def _ev(n: WebNode, key: str, text: str) -> Evidence:
    return Evidence(n.host, n.settings.source, n.settings.lines.get(key) or None, text)


def web_findings(nodes: list[WebNode]) -> list[Finding]:
    out: list[Finding] = []
    for n in nodes:
        s = n.settings
        if s.sessions == "file" and s.session_path:
            m = n.mounts.get(s.session_path)
            if m is not None and not m.shared:
                key = "LMS_SESSIONS" if "LMS_SESSIONS" in s.lines else "session_handler_class"
                out.append(Finding("web-sessions-local", Severity.CRITICAL,
                                   f"{n.host}: sessions are files in {s.session_path} on the node's own {m.fstype} "
                                   f"({m.source}): when {n.host} dies every user it served must log in again",
                                   (_ev(n, key, f"file sessions in {s.session_path}"),
                                    Evidence(n.host, text=f"findmnt: {m.fstype} {m.source} {m.target}")),
                                   CONFIRM_RELOGIN))
        if s.dataroot and len(nodes) > 1:
            m = n.mounts.get(s.dataroot)
            if m is not None and not m.shared:
                key = "LMS_DATAROOT" if "LMS_DATAROOT" in s.lines else "dataroot"
                out.append(Finding("web-dataroot-local", Severity.CRITICAL,
                                   f"{n.host}: Moodle's dataroot {s.dataroot} is on the node's own {m.fstype} "
                                   f"({m.source}): files uploaded through {n.host} are missing on the other nodes",
                                   (_ev(n, key, f"dataroot {s.dataroot}"),
                                    Evidence(n.host, text=f"findmnt: {m.fstype} {m.source} {m.target}")),
                                   CONFIRM_FILES))
    shared = {(n.host, m.source) for n in nodes if n.settings.dataroot
              for m in [n.mounts.get(n.settings.dataroot)] if m is not None and m.shared}
    if len({src for _, src in shared}) > 1:
        out.append(Finding("web-dataroot-volumes-differ", Severity.CRITICAL,
                           "the web nodes mount different shared volumes as Moodle's dataroot: "
                           + ", ".join(f"{h} {src}" for h, src in sorted(shared)),
                           tuple(Evidence(h, text=f"dataroot on {src}") for h, src in sorted(shared)), CONFIRM_FILES))
    versions: dict[str, list[WebNode]] = {}
    for n in nodes:
        if n.version is not None:
            versions.setdefault(n.version.value, []).append(n)
    if len(versions) > 1:
        out.append(Finding("web-version-differs", Severity.WARNING,
                           "the web nodes run different application code: "
                           + "; ".join(f"{', '.join(x.host for x in group)}: {value}"
                                       for value, group in sorted(versions.items(), key=lambda kv: kv[1][0].host))
                           + ": what a user gets (and what a schema upgrade expects) depends on the node serving",
                           tuple(Evidence(n.host, n.version.source, n.version.line, n.version.value)
                                 for group in versions.values() for n in group if n.version is not None),
                           CONFIRM_RELOGIN))
    keys = sorted({k for n in nodes for k in n.settings.settings} - NODE_OWN)
    for key in keys:
        values = {n.host: n.settings.settings.get(key) for n in nodes}
        if len(set(values.values())) > 1:
            secret = "PASSWORD" in key.upper() or "pass" in key.lower()
            out.append(Finding("web-settings-differ", Severity.WARNING,
                               f"{key} differs between web nodes: what a user gets depends on the node serving",
                               tuple(_ev(n, key, f"{key} " + ("(set)" if secret and values[n.host] else
                                                               str(values[n.host]))) for n in nodes), CONFIRM_RELOGIN))
    return out
