"""Chaos and acceptance test harness for high-availability Linux clusters."""

from .errors import (
    CommandError,
    FaultError,
    HarnessError,
    HistoryError,
    InventoryError,
    LabError,
    ParseError,
    ProbeError,
    TransportError,
    UnknownFault,
    UnknownTransport,
    UnsupportedFault,
)
from .history import HistoryFile, HistoryRecorder, Op, iter_history, load_history

__version__ = "0.1.0"

__all__ = [
    "CommandError",
    "FaultError",
    "HarnessError",
    "HistoryError",
    "HistoryFile",
    "HistoryRecorder",
    "InventoryError",
    "LabError",
    "Op",
    "ParseError",
    "ProbeError",
    "TransportError",
    "UnknownFault",
    "UnknownTransport",
    "UnsupportedFault",
    "__version__",
    "iter_history",
    "load_history",
]
