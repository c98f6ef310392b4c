"""The exception tree drawn in harness/errors.py matches every exception class in the package."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest

import harness
import harness.errors
from harness.errors import CommandError, HarnessError, TransportError, UnknownFault, UnknownTransport
from harness.faults import UnknownFault as FaultsUnknownFault
from harness.faults import get_fault
from harness.transport import UnknownTransport as TransportUnknownTransport
from harness.transport import get_backend

# Importing every module runs in a child process: harness.load._recorder imports locust, whose
# gevent monkey-patching must stay out of the pytest process.
_WALK = r"""
import importlib, inspect, json, pkgutil, sys
import harness
from harness.errors import HarnessError
found = []
for info in pkgutil.walk_packages(harness.__path__, "harness."):
    if info.name.endswith("__main__"):
        continue  # runs the CLI on import
    module = importlib.import_module(info.name)
    for name, obj in vars(module).items():
        if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == info.name:
            parents = [b for b in obj.__bases__ if issubclass(b, HarnessError)]
            found.append({
                "module": info.name, "name": name,
                "harness": issubclass(obj, HarnessError),
                "parent": parents[0].__name__ if parents else None,
                "bases": [b.__name__ for b in obj.__mro__],
            })
json.dump(found, sys.stdout)
"""


@dataclass(frozen=True)
class Drawn:
    name: str
    parent: str | None
    module: str


@pytest.fixture(scope="module")
def defined() -> list[dict[str, Any]]:
    out = subprocess.run([sys.executable, "-c", _WALK], check=True, capture_output=True, text=True, timeout=120)
    classes: list[dict[str, Any]] = json.loads(out.stdout)
    return classes


def _docstring() -> str:
    assert harness.errors.__doc__ is not None
    return harness.errors.__doc__


def drawn_tree(doc: str) -> list[Drawn]:
    """Parse the box drawing: four columns per level, an optional '.... module' after the name."""
    start = doc.index("    HarnessError\n")
    end = doc.index("\n\n", start)
    rows: list[Drawn] = []
    stack: list[str] = []
    for line in doc[start:end].splitlines():
        body = line[4:]
        match = re.match(r"^((?:│   |    |├── |└── )*)(\w+)(?:\s*\.+\s*(harness[\w.]*))?", body)
        assert match, f"unreadable tree line {line!r}"
        depth = len(match.group(1)) // 4
        name = match.group(2)
        del stack[depth:]
        rows.append(Drawn(name, stack[-1] if stack else None, match.group(3) or "harness.errors"))
        stack.append(name)
    return rows


def outside_tree(doc: str) -> dict[str, set[str]]:
    """module -> the class names the 'Outside the tree' paragraph lists under it."""
    text = doc[doc.index("Outside the tree") :]
    listed: dict[str, set[str]] = {}
    parts = re.split(r"\b(harness\.[a-z_.]*[a-z_])", text)
    for module, after in zip(parts[1::2], parts[2::2], strict=True):
        listed.setdefault(module, set()).update(re.findall(r"``(\w+)``", after))
    return listed


def test_the_drawing_parses_into_a_tree_rooted_at_harness_error() -> None:
    rows = drawn_tree(_docstring())
    assert rows[0] == Drawn("HarnessError", None, "harness.errors")
    by_name = {row.name: row for row in rows}
    assert by_name["CommandError"].parent == "TransportError"
    assert by_name["UmlError"] == Drawn("UmlError", "LabError", "harness.lab._uml_spec")
    assert len(by_name) == len(rows), "a class is drawn twice"


def test_every_harness_error_in_the_package_is_drawn_under_its_own_parent(defined: list[dict[str, Any]]) -> None:
    drawn = {row.name: row for row in drawn_tree(_docstring())}
    actual = {
        str(c["name"]): Drawn(c["name"], c["parent"], c["module"])
        for c in defined
        if c["harness"]
    }
    missing = sorted(set(actual) - set(drawn))
    stale = sorted(set(drawn) - set(actual))
    assert not missing, f"exception classes missing from the tree in harness/errors.py: {missing}"
    assert not stale, f"the tree in harness/errors.py draws classes that do not exist: {stale}"
    wrong = [(drawn[name], actual[name]) for name in actual if drawn[name] != actual[name]]
    assert not wrong, f"drawn (parent, module) differ from the code: {wrong}"


def test_exceptions_outside_the_tree_are_private_or_terminated_and_listed(defined: list[dict[str, Any]]) -> None:
    listed = outside_tree(_docstring())
    for cls in defined:
        if cls["harness"]:
            continue
        name, module = cls["name"], cls["module"]
        if name == "Terminated":
            assert "KeyboardInterrupt" in cls["bases"]
        else:
            assert name.startswith("_"), f"{module}.{name} must derive from HarnessError (or be private)"
        assert name in listed.get(module, set()), f"{module}.{name} is not listed outside the tree in errors.py"


def test_every_class_in_errors_py_says_in_one_line_what_it_means() -> None:
    classes = [obj for obj in vars(harness.errors).values() if isinstance(obj, type) and obj.__module__ == "harness.errors"]
    assert len(classes) >= 12
    for cls in classes:
        assert cls.__doc__ and cls.__doc__.strip().splitlines()[0].endswith((".", ")")), cls.__name__


def test_moved_lookup_errors_keep_their_old_import_paths_and_behaviour() -> None:
    assert FaultsUnknownFault is UnknownFault and TransportUnknownTransport is UnknownTransport
    with pytest.raises(UnknownFault) as fault:
        get_fault("no-such-fault")
    assert isinstance(fault.value, KeyError) and str(fault.value).startswith("Unknown fault 'no-such-fault'")
    with pytest.raises(UnknownTransport) as transport:
        get_backend("telnet")
    assert isinstance(transport.value, LookupError) and "Unknown transport 'telnet'" in str(transport.value)


def test_command_error_names_host_command_status_and_the_stderr_tail() -> None:
    err = CommandError("web1", "apachectl start", 1, "", "a\nb\nc\nd\ne\nf\nAH00558: could not bind\n", [0])
    assert isinstance(err, TransportError) and isinstance(err, HarnessError)
    text = str(err)
    assert text.startswith("web1: command 'apachectl start' exited 1, expected one of [0]")
    assert "AH00558: could not bind" in text and "\n    a\n" not in text  # only the last five lines
    assert (err.host, err.exit_status, err.expected) == ("web1", 1, (0,))


def test_every_class_in_errors_py_is_exported_from_the_package_root() -> None:
    classes = {name for name, obj in vars(harness.errors).items()
               if isinstance(obj, type) and obj.__module__ == "harness.errors"}
    assert classes <= set(harness.__all__)
    assert all(getattr(harness, name) is getattr(harness.errors, name) for name in classes)
