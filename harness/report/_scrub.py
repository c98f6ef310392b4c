"""Secret scrubbing for everything the report shows: the one scrubber of ``harness._secrets``.

Error strings come from the wire (HTTP bodies, SQL errors, command stderr) and may carry a
password, a session cookie or a key. The report is an artifact that is mailed around and
kept in CI, so every string it renders passes through :func:`scrub` first. The scrubber lives
in ``harness._secrets`` so the history and result.json writers use the same one at the point
of writing; this module keeps the report's import path.
"""

from __future__ import annotations

from .._secrets import REDACTED, scrub, scrub_data

__all__ = ["REDACTED", "scrub", "scrub_data"]
