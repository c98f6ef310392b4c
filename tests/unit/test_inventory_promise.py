"""The director failover promise (``slo.director_failover_s``) in the cluster file and ``--slo``.

Optional (absent: no promise), finite and > 0 when given, refused with one error naming the
field: a NaN promise would pass every outage, a zero one no outage at all.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.errors import InventoryError
from harness.inventory import InventoryProblems, dump_inventory, inventory_from_dict, load_inventory
from harness.inventory._model import Host, Inventory, Slo
from harness.plugin import _apply_slo_overrides, parse_slo_override


def _base(**slo: Any) -> dict[str, Any]:
    return {"hosts": {"web1": {"address": "198.18.0.21", "roles": ["web"]}}, "slo": slo}


def test_the_promise_is_read_from_the_slo_section(tmp_path: Path) -> None:
    path = tmp_path / "cluster.yml"
    path.write_text("hosts:\n  web1: {address: 198.18.0.21, roles: [web]}\nslo:\n  director_failover_s: 2.0\n")
    assert load_inventory(path).slo.director_failover_s == 2.0
    assert inventory_from_dict(_base(director_failover_s=3), source="c.yml").slo.director_failover_s == 3.0


def test_no_promise_is_none_and_null_says_the_same() -> None:
    assert inventory_from_dict(_base(), source="c.yml").slo.director_failover_s is None
    assert inventory_from_dict(_base(director_failover_s=None), source="c.yml").slo.director_failover_s is None
    assert Slo().director_failover_s is None


@pytest.mark.parametrize("value,problem", [
    (float("nan"), "expected a finite number, got nan"),
    (float("inf"), "expected a finite number, got inf"),
    (-1.5, "-1.5 must be > 0 seconds (leave it out for no promise)"),
    (0, "0 must be > 0 seconds (leave it out for no promise)"),
    ("fast", "expected a number, got str 'fast'"),
    (True, "expected a number, got boolean True"),
], ids=repr)
def test_a_bad_promise_is_one_error_naming_the_field(value: Any, problem: str) -> None:
    with pytest.raises(InventoryProblems) as info:
        inventory_from_dict(_base(director_failover_s=value), source="cluster.yml")
    assert info.value.problems == [f"cluster.yml: slo.director_failover_s: {problem}"]


def test_a_promise_survives_dump_and_reload() -> None:
    inv = inventory_from_dict(_base(director_failover_s=2.5), source="c.yml")
    again = inventory_from_dict(dump_inventory(inv), source="c.yml")
    assert again.slo.director_failover_s == 2.5 and again == inv
    assert "director_failover_s" not in dump_inventory(inventory_from_dict(_base(), source="c.yml"))["slo"]


def test_slo_override_sets_the_promise() -> None:
    inv = Inventory("x", {"a": Host("a", "198.18.0.2", ("client",))}, slo=Slo())
    override = parse_slo_override("director_failover_s=2")
    assert override == (("director_failover_s",), 2.0)
    assert _apply_slo_overrides(inv, [override]).slo.director_failover_s == 2.0
    assert inv.slo.director_failover_s is None


@pytest.mark.parametrize("bad,message", [
    ("director_failover_s=nan", "'nan' is not a finite number"),
    ("director_failover_s=inf", "'inf' is not a finite number"),
    ("director_failover_s=-2", "director_failover_s must be > 0, not -2"),
    ("director_failover_s=0", "director_failover_s must be > 0, not 0"),
])
def test_slo_override_refuses_a_non_finite_or_negative_promise(bad: str, message: str) -> None:
    with pytest.raises(pytest.UsageError, match=f"--slo: '{bad}': {message}"):
        parse_slo_override(bad)


@pytest.mark.parametrize("value", [0.0, float("nan"), -1.0, float("inf")], ids=repr)
def test_a_zero_or_non_finite_promise_is_refused_however_it_arrives(value: float) -> None:
    """The option parser refuses these too; the model refuses them however they arrive (code,
    a cluster file), naming the field."""
    with pytest.raises(InventoryError, match=r"slo\.director_failover_s: must be a finite number of seconds > 0"):
        replace(Slo(), director_failover_s=value)
    inv = Inventory("x", {"a": Host("a", "198.18.0.2", ("client",))}, slo=Slo())
    with pytest.raises(InventoryError, match=r"slo\.director_failover_s"):
        _apply_slo_overrides(inv, [(("director_failover_s",), 0.0)])
