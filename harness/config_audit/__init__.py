"""Know before you break: a static audit of the cluster's own configuration (issue 15).

Reads each host's configuration over its transport, compares peers with each other and with
the promises of the cluster file, and reports findings (``Finding``: rule, severity, evidence,
the fault test that would confirm it). The rules are pure (``keepalived``: VRRP peers and IPVS
virtual servers; ``haproxy``; ``web``: sessions, dataroot, code version; ``database``: Galera;
``ndb``; ``storage``: the GlusterFS volume; ``ldap``: replication and the LDAP VIP); collecting
is the only side effect (``_collect``). A host that cannot be read is a finding of its own,
never a silent pass.
"""

from ._collect import audit_cluster, exit_status
from ._model import Evidence, Finding, Severity, sort_findings
from .keepalived import DirectorConfig, lvs_findings, vrrp_findings

__all__ = ["DirectorConfig", "Evidence", "Finding", "Severity", "audit_cluster", "exit_status", "lvs_findings",
           "sort_findings", "vrrp_findings"]
