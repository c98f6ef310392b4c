"""An OpenLDAP server's replication switched off (``ldap-replication-off``).

Not a crash but a misconfiguration on purpose, for the directory tier's negative proof: a
server whose syncrepl consumer is gone keeps answering binds and taking writes, but no longer
receives its peer's changes, so acknowledged writes are missing on it after the heal of any
other fault, which the lost-writes checker must catch.

The consumer lives in cn=config (``olcSyncrepl`` of the database holding the directory's
suffix, with ``olcMultiProvider`` / ``olcMirrorMode``, which slapd refuses without a
consumer). The inject saves those values on the host itself, in a root-only file
(``saved``; they carry the replication credentials, so they never travel to the harness, its
journal or its logs), then deletes them. The heal puts them back from that file, removes it
and waits, bounded by ``timeout_s``, until the server's contextCSNs equal every peer's (caught
up; heal once writes have stopped, or equality may take the whole bound). A heal after a crash
(``harness heal``) finds the file where the inject left it; a heal that finds neither the file
nor a consumer names the host and the file. Run as root over ldapi (SASL EXTERNAL), the way
Debian's slapd is administered.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import FaultError
from ..parsers.ldap import context_csns_agree, parse_context_csns
from ..transport.base import quote_command
from .base import Fault, no_extra, positive, take

#: where the inject keeps the consumer's config on the host (tmpfs: gone after a reboot)
DEFAULT_SAVED = "/run/harness-ldap-replication-off.ldif"
_PATH_RE = re.compile(r"^/[A-Za-z0-9._/-]+$")
#: a grep pattern for an olcSyncrepl line of ldapsearch's LDIF (plain or base64 value)
_SYNCREPL_LINE = "'^olcSyncrepl::\\{0,1\\} '"
#: the inject's own exit codes, each with what it means
_INJECT_EXITS = {
    3: "{saved} already exists (replication switched off by an earlier run: `harness heal` puts it back)",
    4: "ldapsearch of cn=config over {ldapi} failed (slapd down, or not root?)",
    5: "no database in cn=config has olcSuffix {suffix}",
    6: "the database of {suffix} has no olcSyncrepl: no replication to switch off",
}
_HEAL_EXITS = {
    4: "ldapsearch of cn=config over {ldapi} failed (slapd down, or not root?)",
    7: "{saved} is missing and the database of {suffix} has no olcSyncrepl: the consumer cannot be put back "
       "(was the host rebooted? restore olcSyncrepl from a backup of cn=config)",
}


class LdapReplicationOff(Fault):
    """Delete a server's syncrepl consumer (saved on the host); heal: add it back."""

    name = "ldap-replication-off"
    summary = ("switch off an OpenLDAP server's syncrepl consumer (cn=config over ldapi, saved on the host); "
               "heal: put it back")

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        directory = self.cluster.inventory.directory
        out = {
            "host": take(params, self.name, "host", str),
            "suffix": take(params, self.name, "suffix", str, directory.suffix if directory else ...),
            "ldapi": take(params, self.name, "ldapi", str, "ldapi:///"),
            "saved": take(params, self.name, "saved", str, DEFAULT_SAVED),
            "timeout_s": positive(self.name, "timeout_s", take(params, self.name, "timeout_s", float, 60.0)),
            "poll_s": positive(self.name, "poll_s", take(params, self.name, "poll_s", float, 0.5)),
        }
        no_extra(params, self.name, out)
        host = self.host(out["host"])
        if not host.has_role("ldap"):
            raise FaultError(f"{self.name}: host {host.name!r} has no role ldap (roles: {', '.join(host.roles)})")
        if not _PATH_RE.match(out["saved"]):
            raise FaultError(f"{self.name}: parameter 'saved': {out['saved']!r} is not an absolute plain path")
        if not out["ldapi"].startswith("ldapi://") or any(c in out["ldapi"] for c in " '\"\n"):
            raise FaultError(f"{self.name}: parameter 'ldapi': {out['ldapi']!r} is not an ldapi:// URL")
        if "\n" in out["suffix"] or not out["suffix"].strip():
            raise FaultError(f"{self.name}: parameter 'suffix': {out['suffix']!r} is not a DN")
        return out

    def resolve_targets(self) -> list[str]:
        return [self.params["host"]]

    # ---- command builders (pure: unit-tested for exact text) ----------------------------
    def _ldapsearch(self, *args: str) -> str:
        """ldapsearch as root over ldapi, unwrapped LDIF."""
        return quote_command(["ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-Y", "EXTERNAL", "-Q", "-H",
                              self.params["ldapi"], *args])

    def _search(self) -> str:
        """cn=config's entry for the suffix's database, with the consumer's attributes."""
        return self._ldapsearch("-b", "cn=config",
                                f"(&(objectClass=olcDatabaseConfig)(olcSuffix={self.params['suffix']}))",
                                "olcSyncrepl", "olcMultiProvider", "olcMirrorMode")

    def _modify(self, *args: str) -> str:
        return quote_command(["ldapmodify", "-Y", "EXTERNAL", "-Q", "-H", self.params["ldapi"], *args])

    def inject_command(self) -> str:
        saved = quote_command([self.params["saved"]])
        return (
            f"f={saved}; [ ! -e \"$f\" ] || exit 3; "
            f"out=$({self._search()}) || exit 4; "
            "dn=$(printf '%s\\n' \"$out\" | sed -n 's/^dn: //p' | head -n 1); [ -n \"$dn\" ] || exit 5; "
            f"sr=$(printf '%s\\n' \"$out\" | grep {_SYNCREPL_LINE}); [ -n \"$sr\" ] || exit 6; "
            "mp=$(printf '%s\\n' \"$out\" | grep -E '^(olcMultiProvider|olcMirrorMode): ' | head -n 1); "
            "umask 077; "
            "{ echo \"dn: $dn\"; echo 'changetype: modify'; echo 'add: olcSyncrepl'; printf '%s\\n' \"$sr\"; "
            "if [ -n \"$mp\" ]; then echo '-'; echo \"replace: ${mp%%:*}\"; printf '%s\\n' \"$mp\"; fi; } "
            "> \"$f.tmp\" && mv \"$f.tmp\" \"$f\" || exit 1; "
            "{ echo \"dn: $dn\"; echo 'changetype: modify'; "
            "if [ -n \"$mp\" ]; then echo \"delete: ${mp%%:*}\"; echo '-'; fi; echo 'delete: olcSyncrepl'; } "
            f"| {self._modify()}"
        )

    def heal_command(self) -> str:
        saved = quote_command([self.params["saved"]])
        return (
            f"f={saved}; if [ -e \"$f\" ]; then {self._modify('-f', self.params['saved'])} && rm -f \"$f\"; exit; fi; "
            f"out=$({self._search()}) || exit 4; "
            f"printf '%s\\n' \"$out\" | grep -q {_SYNCREPL_LINE} || exit 7"
        )

    def _explain(self, exits: dict[int, str], code: int, stderr: str, what: str) -> FaultError:
        why = exits.get(code)
        text = why.format(**self.params) if why else f"exit {code}: {stderr.strip()[-300:] or 'no output'}"
        return FaultError(f"{self.name}: host {self.params['host']!r}: {what}: {text}")

    def _inject(self) -> None:
        host = self.params["host"]
        self.touch(host)
        result = self.run(host, ["sh", "-c", self.inject_command()])
        if result.exit_status != 0:
            if result.exit_status in _INJECT_EXITS:  # refused before any change: nothing to heal
                self.touched.discard(host)
            raise self._explain(_INJECT_EXITS, result.exit_status, result.stderr, "switching replication off")
        self.runtime["saved"] = self.params["saved"]

    def csn_command(self) -> str:
        return self._ldapsearch("-b", self.params["suffix"], "-s", "base", "contextCSN")

    def _context_csns(self, host: str) -> dict[int, Any]:
        out = self.run_expect(host, [0], self.csn_command()).stdout
        return parse_context_csns(out, command=f"{host}: {self.csn_command()}")

    def _heal(self) -> None:
        host = self.params["host"]
        result = self.run(host, ["sh", "-c", self.heal_command()])
        if result.exit_status != 0:
            raise self._explain(_HEAL_EXITS, result.exit_status, result.stderr, "putting replication back")
        # back means caught up: the server holds what every peer holds (their contextCSNs equal)
        peers = [h.name for h in self.cluster.inventory.with_role("ldap") if h.name != host]

        def apart() -> str | None:
            mine = self._context_csns(host)
            behind = [p for p in peers if not context_csns_agree(mine, self._context_csns(p))]
            return f"contextCSN differs from {', '.join(behind)}" if behind else None

        self.wait_for(f"host {host!r}: not caught up with its peers since replication was put back", apart,
                      timeout_s=self.params["timeout_s"], poll_s=self.params["poll_s"])
