"""Loaded by Locust next to the user's locustfile: writes every raw request sample as one JSON line.

It runs inside the Locust subprocess (never in pytest's process: Locust monkey-patches with
gevent on import). The harness tails the file and turns each sample into history operations,
so latency checkers see raw samples rather than Locust's rounded percentiles.
"""

from __future__ import annotations

import json
import os
import time

from locust import events

from harness._secrets import scrub

_path = os.environ.get("HARNESS_LOCUST_SAMPLES")
_fh = open(_path, "a", buffering=1, encoding="utf-8") if _path else None


@events.request.add_listener
def _on_request(request_type, name, response_time, response_length, response=None, context=None,
                exception=None, start_time=None, url=None, **_kw):
    if _fh is None:
        return
    ctx = context or {}
    status = getattr(response, "status_code", None) if response is not None else None
    sample = {
        "t": start_time if start_time is not None else time.time() - (response_time or 0) / 1000.0,
        "name": name,
        "method": request_type,
        "ms": response_time,
        "status": status,
        "ok": exception is None,
        "error": None if exception is None else scrub(f"{type(exception).__name__}: {exception}")[:300],
        "user": ctx.get("user"),
        "key": ctx.get("key"),
        # uploads: the file's place in Moodle's pool and its checksum (harness.checkers.storage)
        "path": ctx.get("path"),
        "sha256": ctx.get("sha256"),
        "node": ctx.get("node"),
        # the locustfile says ok / fail / info for writes (info: timeout or 5xx, maybe stored)
        "outcome": ctx.get("outcome"),
    }
    _fh.write(json.dumps(sample) + "\n")
