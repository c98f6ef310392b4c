"""The hosts whose SSH host keys the run does not check, and the one warning line naming them.

``ssh.insecure_ignore_host_keys`` (a cluster file, ``ansible_host_key_checking=false``,
Vagrant's ``StrictHostKeyChecking no``) is an opt-out the user made once and may forget: every
run that connects says so at its start (pytest's header, `harness heal`), run.json keeps the
list (``cluster.host_keys_unchecked``) and the report shows it near the top. Pure.
"""

from __future__ import annotations

from typing import Any


def unchecked_host_keys(inventory: Any) -> list[str]:
    """Names of the hosts reached over SSH without checking their host key, sorted."""
    return sorted(
        h.name for h in inventory.hosts.values() if h.transport == "ssh" and h.ssh.insecure_ignore_host_keys
    )


def host_key_warning(hosts: list[str]) -> str | None:
    """The warning line for these hosts, or None when every host's key is checked."""
    if not hosts:
        return None
    return (f"WARNING: SSH host keys are NOT checked for {len(hosts)} host(s): {', '.join(hosts)} "
            "(ssh.insecure_ignore_host_keys): whoever answers at their address is trusted")
