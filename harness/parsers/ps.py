"""Parse process listings: ``pidof`` / ``pgrep`` pids and the ``ps`` parent tree.

Faults find what to kill from these (a crash freezes and kills a daemon and all its children,
so no parent sees a child die and respawns it).
"""

from __future__ import annotations

#: the command whose output :func:`parse_ps_tree` reads
PS_TREE_COMMAND = "ps -e -o pid= -o ppid="


def parse_pids(text: str) -> list[int]:
    """Whitespace-separated pids, in order, without duplicates; pid 0 and 1 are never targets."""
    seen: list[int] = []
    for word in text.split():
        if word.isdigit() and int(word) not in seen and int(word) > 1:
            seen.append(int(word))
    return seen


def parse_ps_tree(text: str) -> dict[int, list[int]]:
    """``ps -e -o pid= -o ppid=`` output -> parent pid -> child pids."""
    children: dict[int, list[int]] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 2 or not (parts[0].isdigit() and parts[1].isdigit()):
            continue
        children.setdefault(int(parts[1]), []).append(int(parts[0]))
    return children
