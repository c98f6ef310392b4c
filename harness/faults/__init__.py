"""The fault catalogue: named faults, journaled before they act, healed always.

``FAULTS`` maps names to classes (imported lazily); ``Nemesis`` injects them into a run's
history and heals them on any exit; ``Journal`` is the on-disk record ``harness heal`` replays
after a crashed run (docs/faults.md), child processes of the run included (``child_record``,
``stop_children``).
"""

from ._children import ChildOutcome, child_record, stop_children
from ._journal import HealOutcome, Journal, JournalProblem, heal_journal
from ._registry import FAULTS, UnknownFault, get_fault
from .base import Fault
from .nemesis import Nemesis, Terminated

__all__ = [
    "FAULTS",
    "ChildOutcome",
    "Fault",
    "HealOutcome",
    "Journal",
    "JournalProblem",
    "Nemesis",
    "Terminated",
    "UnknownFault",
    "child_record",
    "get_fault",
    "heal_journal",
    "stop_children",
]
