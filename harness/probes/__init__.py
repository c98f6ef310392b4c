"""Probes: bounded background workers that exercise the cluster and record every operation.

``VipProbe`` (HTTP/TCP through a VIP), ``Ledger`` (uniquely keyed writes through the DB VIP,
read back from every node), ``SessionProbe`` (one logged-in Moodle session per web node,
checked through the web VIP) and ``StateSampler`` (the cluster's own view). Each is bounded by a
count and a duration, runs in a thread (``start()``/``stop()``/``join()`` or ``with``), and
writes into the run's HistoryRecorder in the formats of docs/history.md.
"""

from __future__ import annotations

from ._base import Jitter, Schedule
from .ledger import Ledger, classify_write_error, db_nodes
from .session import SessionHome, SessionProbe
from .state import StateSampler, parse_ip_addr
from .vip import VipProbe

__all__ = ["Jitter", "Ledger", "Schedule", "SessionHome", "SessionProbe", "StateSampler", "VipProbe",
           "classify_write_error", "db_nodes", "parse_ip_addr"]
