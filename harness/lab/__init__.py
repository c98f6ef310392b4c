"""The lab: a real three-tier HA cluster (keepalived + IPVS in User-Mode Linux guests, or + HAProxy;
Apache + PHP, MariaDB Galera) on one machine, every other host a set of namespaces with its own
init, built and torn down by the harness.

    lab = Lab()                       # name "default", subnet 198.18.0.0/24, directors "auto":
                                      # dir1/dir2 UML guests with IPVS where they boot, else HAProxy
    lab = Lab("hap", "198.18.4.0/24", directors="haproxy")   # a second lab, HAProxy directors
    status = lab.up(progress=print)   # no-op if already running; waits on real readiness
    lab.ssh("web1", "hostname")
    lab.domain("destroy", "dir1")     # power-cord pull; lab.domain("start", "dir1") heals
    lab.down()                        # removes exactly what the state file records

Everything created is recorded in <state dir>/state.json before it is created, so `down` works
after a crashed or SIGKILLed `up`. The harness database password is in
<state dir>/secrets/harness_db_password (`Lab.db_password()`; cluster.yml names it by the
environment variable HARNESS_DB_PASSWORD).

This module only re-exports. The parts (private modules; docs/lab.md draws the layout):

    _lab          Lab: identity, back doors (nsenter, SSH), a thin composition of the rest
    _lifecycle    up / down / teardown / leftovers, readiness
    _status       lab status: gather per host, fold into LabStatus, judge the directors
    _records      LabStatus, DirectorStatus, HttpAnswer (typed, no I/O)
    _domains      a host as a domain: NamespaceHost | GuestHost
    _directors/   the director kind as a strategy: HAProxyDirectors | LVSDirectors
    _files        generated files (secrets, keys, hostctl, configs, known_hosts)
    _configs      rendered config files of one host (pure)
    _inventory    cluster.yml of the lab
    _paths, _services, _render, _proc, _parallel   leaves: file layout, daemon table,
                  templates, in-host process control, threads
    _daemons, _galera, _hostctl, _init, _clustercheck   what runs inside a host
    _netns, _lvs, _uml*, _state, _topology, _preflight  hardware, guests, records, names, checks
    _disks        each namespace host's own disk: the mount plan (pure) its init runs, the seed

The names are re-exported lazily (PEP 562 ``__getattr__``): the commands that run inside a
host (``python -m harness.lab._hostctl``, on every service start, stop and heal) import this
package first, and need none of the Lab's machinery; a plain re-export doubled their start-up
(~0.45 s instead of ~0.2 s, most of it harness.transport and harness.inventory).
"""


from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..errors import LabError

if TYPE_CHECKING:
    from ._directors import haproxy_command
    from ._inventory import LDAP_PASSWORD_ENV, LMS_STUDENT_PASSWORD, MOODLE_PASSWORD_ENV
    from ._lab import DOMAIN_ACTIONS, PASSWORD_ENV, Lab
    from ._records import DirectorStatus, LabStatus

__all__ = ["DOMAIN_ACTIONS", "LDAP_PASSWORD_ENV", "LMS_STUDENT_PASSWORD", "MOODLE_PASSWORD_ENV", "PASSWORD_ENV", "DirectorStatus", "Lab", "LabError", "LabStatus", "haproxy_command"]

#: public name -> the private module defining it
_EXPORTS = {
    "Lab": "._lab", "DOMAIN_ACTIONS": "._lab", "PASSWORD_ENV": "._lab",
    "LabStatus": "._records", "DirectorStatus": "._records",
    "haproxy_command": "._directors",
    "MOODLE_PASSWORD_ENV": "._inventory", "LMS_STUDENT_PASSWORD": "._inventory", "LDAP_PASSWORD_ENV": "._inventory",
}


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
