"""Session fixture: the embedded lab, brought up once (or reused if already running).

Torn down at session end only if this session brought it up. Skips with a reason when not
root or when a Debian package is missing (the message says which and how to install it).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from harness.lab import Lab
from harness.lab._preflight import missing_packages, missing_packages_message


def lab_skip_reason(short: bool = False) -> str | None:
    """Why no lab can run here (None: it can); ``short``: the first line of a missing-packages list."""
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces, bridges, daemons)"
    pkgs = missing_packages()
    if not pkgs:
        return None
    message = missing_packages_message(pkgs)
    return message.splitlines()[0] if short else message


def own_lab_marks(label: str, also: Callable[[], str | None] | None = None) -> list[pytest.MarkDecorator]:
    """``pytestmark`` of a module with a lab of its own: ``lab``, skipped (saying ``label``)
    where no lab can run or where ``also`` gives a reason (e.g. no UML guest boots)."""
    reason = lab_skip_reason(short=True) or (also() if also is not None else None)
    return [pytest.mark.lab, pytest.mark.skipif(reason is not None, reason=f"{label}: {reason}")]


@pytest.fixture(scope="session")
def lab_session(request: pytest.FixtureRequest) -> Iterator[tuple[Lab, bool]]:
    reason = lab_skip_reason()
    if reason:
        pytest.skip(reason)
    # the plugin's --lab-name and --lab-subnet (default "default", 198.18.0.0/24), so a second lab
    # can run these tests; the HAProxy variant (tests/lab/test_lvs.py has the LVS one on a lab of
    # its own; the acceptance suite later brings the lab up with the default, auto)
    name, subnet = request.config.getoption("--lab-name"), request.config.getoption("--lab-subnet")
    lab = Lab(name, subnet, directors="haproxy") if subnet else Lab(name, directors="haproxy")
    was_up = lab.status().built and (lab.state_dir / "state.json").exists()
    lab.up(progress=lambda m: sys.stderr.write(f"lab: {m}\n"))
    os.environ.setdefault("HARNESS_DB_PASSWORD", lab.db_password())
    try:
        yield lab, not was_up
    finally:
        if not was_up:
            lab.down()


@pytest.fixture(scope="session")
def lab(lab_session: tuple[Lab, bool]) -> Lab:
    return lab_session[0]


def wait_until(what: str, pred: Callable[[], object], timeout: float = 30.0, interval: float = 0.1,
               evidence: Callable[[], str] | None = None) -> object:
    """Poll ``pred`` until it is true (returning its value) or fail the test after ``timeout``,
    with what ``evidence`` says of the state it was stuck in."""
    __tracebackhide__ = True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"{what}: not true after {timeout:.0f}s" + (f"\n{evidence()}" if evidence else ""))


def own_lab(lab: Lab, say: Callable[[str], None], label: str) -> Iterator[Lab]:
    """A module's own lab (its own name and subnet), for a fixture to ``yield from``: a lab
    left by a crashed earlier run under that name is removed first; at the end the lab is torn
    down (from its state dir, as a test may have rebuilt it) and nothing may be left."""
    if (lab.state_dir / "state.json").exists():  # ours by name: a crashed earlier run
        Lab.from_state_dir(lab.state_dir).down()
    t0 = time.monotonic()
    lab.up(progress=say)
    say(f"{label} lab up in {time.monotonic() - t0:.1f}s")
    try:
        yield lab
    finally:
        current = Lab.from_state_dir(lab.state_dir) if (lab.state_dir / "state.json").exists() else lab
        current.down()
        assert current.leftovers() == []
