"""``database.isolation`` and ``database.wsrep_sync_wait`` in the cluster file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.errors import InventoryError
from harness.inventory import inventory_from_dict

DOC = Path(__file__).resolve().parents[2] / "docs" / "cluster-file.md"


@pytest.fixture
def good() -> dict[str, Any]:
    m = re.search(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    assert m
    return yaml.safe_load(m.group(1))


def test_absent_means_server_default(good: dict[str, Any]) -> None:
    good["database"].pop("isolation", None)
    good["database"].pop("wsrep_sync_wait", None)
    inv = inventory_from_dict(good, source="c.yml")
    assert inv.database.isolation is None and inv.database.wsrep_sync_wait is None


@pytest.mark.parametrize("level", ["read-committed", "repeatable-read", "serializable"])
def test_known_levels_load(good: dict[str, Any], level: str) -> None:
    good["database"]["isolation"] = level
    good["database"]["wsrep_sync_wait"] = 15
    inv = inventory_from_dict(good, source="c.yml")
    assert inv.database.isolation == level and inv.database.wsrep_sync_wait == 15


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("isolation", "snapshot", "database.isolation: unknown isolation level 'snapshot' (known: read-committed, repeatable-read, serializable)"),
        ("isolation", 3, "database.isolation: expected"),
        ("wsrep_sync_wait", 16, "database.wsrep_sync_wait: 16 is out of range [0, 15]"),
        ("wsrep_sync_wait", -1, "database.wsrep_sync_wait: -1 is out of range [0, 15]"),
        ("wsrep_sync_wait", "1", "database.wsrep_sync_wait: expected an integer, got str '1'"),
        ("wsrep_sync_wait", True, "database.wsrep_sync_wait: expected an integer"),
    ],
)
def test_bad_values_name_the_field(good: dict[str, Any], field: str, value: Any, expected: str) -> None:
    good["database"][field] = value
    with pytest.raises(InventoryError) as err:
        inventory_from_dict(good, source="c.yml")
    lines = str(err.value).splitlines()
    assert len(lines) == 1 and expected in lines[0], lines


@pytest.mark.parametrize("level", ["strict", "relaxed"])
def test_a_declared_durability_loads(good: dict[str, Any], level: str) -> None:
    good["database"]["durability"] = level
    assert inventory_from_dict(good, source="c.yml").database.durability == level
    good["database"].pop("durability")
    assert inventory_from_dict(good, source="c.yml").database.durability is None


@pytest.mark.parametrize(("value", "expected"), [
    ("paranoid", "database.durability: unknown durability 'paranoid' (known: relaxed, strict)"),
    (1, "database.durability: expected"),
])
def test_a_bad_durability_names_the_field(good: dict[str, Any], value: Any, expected: str) -> None:
    good["database"]["durability"] = value
    with pytest.raises(InventoryError) as err:
        inventory_from_dict(good, source="c.yml")
    lines = str(err.value).splitlines()
    assert len(lines) == 1 and expected in lines[0], lines
