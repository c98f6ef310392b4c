"""The wheel test's marker, registered here so ``--strict-markers`` accepts it wherever it runs."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "package: builds the wheel and uses it from a fresh venv outside the checkout")
