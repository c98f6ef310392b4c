"""Run a few named jobs in threads and re-raise the first failure naming its job (`lab up`)."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from typing import Any

from ..errors import LabError


def parallel(jobs: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Run jobs in threads; job name -> result, or the first failure as a LabError naming it."""
    results: dict[str, Any] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
        futures = {pool.submit(fn): name for name, fn in jobs.items()}
        errors = []
        for fut in concurrent.futures.as_completed(futures):
            try:
                results[futures[fut]] = fut.result()
            except Exception as exc:  # noqa: BLE001 (re-raised below, named)
                errors.append((futures[fut], exc))
    if errors:
        name, first = errors[0]
        if isinstance(first, LabError) and str(first).startswith(name):
            raise first
        raise LabError(f"{name}: {first}") from first
    return results
