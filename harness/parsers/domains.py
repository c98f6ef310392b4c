"""Parse hypervisor domain lists: ``xl list``, ``xm list`` and ``virsh list --all``.

Domain faults (destroy, pause, reboot) check before and after that the domain is in the
expected state; the three tools print it differently, so the state is normalised to one of
running, paused, shutoff, crashed, blocked, dying, other (the raw text is kept too).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import parse_error

STATES: frozenset[str] = frozenset({"running", "paused", "shutoff", "crashed", "blocked", "dying", "other"})

#: xl/xm flag letters in the order they are printed (``r-----``), most telling first when
#: several are set: a crashed or dying domain may still show ``b``.
_XL_FLAG_PRIORITY = (("c", "crashed"), ("d", "dying"), ("s", "shutoff"), ("p", "paused"), ("r", "running"), ("b", "blocked"))

_VIRSH_STATES = {
    "running": "running",
    "idle": "blocked",  # virsh's name for a blocked (idle) Xen/KVM domain
    "blocked": "blocked",
    "paused": "paused",
    "in shutdown": "dying",
    "shut off": "shutoff",
    "shutoff": "shutoff",
    "crashed": "crashed",
    "dying": "dying",
}


@dataclass(frozen=True)
class DomainInfo:
    """A domain: ``id`` is None when it is not running (virsh prints ``-``)."""

    name: str
    id: int | None
    state: str
    raw_state: str = ""


def _xl_state(flags: str) -> str:
    """``r-----`` -> running. No flag set (``------``) means runnable but not on a CPU at
    this instant, which is alive: reported as running."""
    letters = set(flags.replace("-", ""))
    for letter, state in _XL_FLAG_PRIORITY:
        if letter in letters:
            return state
    if flags and set(flags) == {"-"}:
        return "running"
    return "other"


def _parse_xen_list(text: str, command: str) -> list[DomainInfo]:
    lines = text.splitlines()
    out: list[DomainInfo] = []
    seen_header = False
    for lineno, line in enumerate(lines, 1):
        s = line.strip()
        if not s:
            continue
        if not seen_header:
            if s.startswith("Name") and "State" in s:
                seen_header = True
                continue
            raise parse_error(command, lineno, line, "expected the 'Name ID Mem VCPUs State Time(s)' header")
        # name may not contain spaces in xl, but take the five numeric/state columns from the right
        fields = s.rsplit(None, 5)
        if len(fields) != 6:
            raise parse_error(command, lineno, line, "expected 'NAME ID MEM VCPUS STATE TIME'")
        name, dom_id, _mem, _vcpus, flags, _time = fields
        if not dom_id.lstrip("-").isdigit() or len(flags) != 6 or not set(flags) <= set("rbpscd-"):
            raise parse_error(command, lineno, line, "bad ID or State column")
        out.append(DomainInfo(name, int(dom_id), _xl_state(flags), flags))
    if not seen_header:
        raise parse_error(command, None, None, "empty output (no header)")
    return out


def parse_xl_list(text: str) -> list[DomainInfo]:
    """Parse ``xl list`` (Domain-0 included)."""
    return _parse_xen_list(text, "xl list")


def parse_xm_list(text: str) -> list[DomainInfo]:
    """Parse legacy ``xm list`` (same columns as ``xl list``)."""
    return _parse_xen_list(text, "xm list")


def parse_virsh_list(text: str) -> list[DomainInfo]:
    """Parse ``virsh list --all``: `` Id   Name   State`` then a dashed rule then rows."""
    command = "virsh list --all"
    out: list[DomainInfo] = []
    seen_header = False
    for lineno, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or set(s) == {"-"}:
            continue
        if not seen_header:
            if s.split()[:3] == ["Id", "Name", "State"]:
                seen_header = True
                continue
            raise parse_error(command, lineno, line, "expected the 'Id Name State' header")
        fields = s.split(None, 2)
        if len(fields) != 3:
            raise parse_error(command, lineno, line, "expected 'ID NAME STATE'")
        dom_id, name, raw = fields
        if dom_id != "-" and not dom_id.isdigit():
            raise parse_error(command, lineno, line, f"bad Id {dom_id!r}")
        out.append(DomainInfo(name, None if dom_id == "-" else int(dom_id), _VIRSH_STATES.get(raw, "other"), raw))
    if not seen_header:
        raise parse_error(command, None, None, "empty output (no header)")
    return out
