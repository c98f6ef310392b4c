from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture
def known_secrets_restored() -> Iterator[None]:
    """Secret values a test registers (harness._secrets.add_secret) do not outlive it: the
    registry is per process."""
    from harness import _secrets as registry

    before = set(registry._known)
    yield
    with registry._lock:
        registry._known.clear()
        registry._known.update(before)
        registry._rebuild()
