"""The plugin's glue for what the run directory says about the run itself: the interruption
watch wired into pytest's hooks, and the host-key line of pytest's header.

Kept out of harness/plugin.py so the plugin stays a thin list of hooks and fixtures; the
judging is pure and lives in harness._interrupt and harness._host_keys.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import ExitStack
from typing import Any

import pytest

from ._host_keys import host_key_warning, unchecked_host_keys
from ._interrupt import InterruptWatch


class InterruptHooks:
    """A pytest plugin object: watches SIGINT/SIGTERM from configure to unconfigure, keeps the
    watch's current test, and notes a KeyboardInterrupt no handler saw (raised by code, or a
    Ctrl-C a heal deferred) before the session's teardown writes result.json and run.json."""

    def __init__(self, watch: InterruptWatch) -> None:
        self.watch = watch
        self._handlers = ExitStack()
        self._handlers.enter_context(watch.watching())

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        self.watch.current_test = item.nodeid
        result = yield
        self.watch.current_test = None  # not reached when interrupted: the test stays named
        return result

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        self.watch.note_exception(excinfo.value)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self._handlers.close()  # the signal handlers found at configure


def install_interrupt_watch(config: pytest.Config, watch: InterruptWatch) -> None:
    config.pluginmanager.register(InterruptHooks(watch), "harness-interrupts")


def host_key_header(inventory: Any) -> list[str]:
    """pytest's header line for the host-key opt-out of ``--cluster FILE`` (already read and
    validated at configure; None for the lab, which never opts out)."""
    if inventory is None:
        return []
    warning = host_key_warning(unchecked_host_keys(inventory))
    return [f"harness: {warning}"] if warning else []
