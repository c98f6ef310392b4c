"""Parse ``tc qdisc show`` and recognise tc's "no such qdisc kind" error.

The rate-limit and latency faults add a root qdisc with a handle of their own and, on heal,
delete it only if ``tc qdisc show dev IFACE root`` still lists that handle: an operator's own
qdisc is never removed. Latency needs netem, which some kernels lack (docs/lab-measurements.md):
tc says so on stderr, and the fault turns that into UnsupportedFault.
"""

from __future__ import annotations

from dataclasses import dataclass

#: what tc prints (iproute2 6.x, and the older wording) when the kernel has no such qdisc kind
_KIND_UNKNOWN = ("qdisc kind is unknown", "Unknown qdisc")


@dataclass(frozen=True)
class Qdisc:
    """One ``qdisc`` line: ``qdisc tbf fa17: [dev eth0] root refcnt 3 rate 1Mbit ...``."""

    kind: str
    handle: str
    #: ``root``, or the parent's handle (``1:1``)
    parent: str
    #: only in the unfiltered form (``tc qdisc show`` without ``dev``)
    device: str | None


def parse_qdisc_show(text: str) -> list[Qdisc]:
    """Every qdisc listed, in order. Lines that are not ``qdisc`` lines (the statistics of
    ``tc -s``) and ``qdisc`` lines too short to name a kind, a handle and a parent are skipped:
    heal asks one question of this output and must not fail on a line it does not need."""
    found: list[Qdisc] = []
    for line in text.splitlines():
        words = line.split()
        if len(words) < 4 or words[0] != "qdisc":
            continue
        kind, handle, rest = words[1], words[2], words[3:]
        device = None
        if rest[0] == "dev" and len(rest) >= 2:
            device, rest = rest[1], rest[2:]
        if rest and rest[0] == "root":
            parent = "root"
        elif len(rest) >= 2 and rest[0] == "parent":
            parent = rest[1]
        else:
            continue
        found.append(Qdisc(kind, handle, parent, device))
    return found


def has_root_qdisc(text: str, handle: str) -> bool:
    """``tc qdisc show dev X root`` lists a root qdisc with this handle (``fa17:``)."""
    return any(q.parent == "root" and q.handle == handle for q in parse_qdisc_show(text))


def qdisc_kind_unknown(stderr: str) -> bool:
    """tc refused a qdisc because the kernel does not know its kind (netem absent)."""
    return any(sign in stderr for sign in _KIND_UNKNOWN)
