"""The cluster file's ``moodle:`` section: defaults are the lab's, every bad field is named."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.errors import InventoryError
from harness.inventory import (
    InventoryProblems,
    Moodle,
    MoodleAccounts,
    dump_inventory,
    inventory_from_dict,
    load_inventory,
    write_inventory,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "cluster-file.md"
MINIMAL = {"hosts": {"web1": {"address": "198.18.0.21", "roles": ["web"]}}}


@pytest.fixture
def doc_example() -> dict[str, Any]:
    m = re.search(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    assert m, "docs/cluster-file.md lost its example"
    return yaml.safe_load(m.group(1))


def _with_moodle(section: Any) -> dict[str, Any]:
    data = copy.deepcopy(MINIMAL)
    data["moodle"] = section
    return data


def _problems(section: Any) -> list[str]:
    with pytest.raises(InventoryProblems) as info:
        inventory_from_dict(_with_moodle(section), source="cluster.yml")
    return info.value.problems


def test_without_the_section_the_lab_values_apply() -> None:
    """The defaults equal the locustfile's own and the lab LMS's: nothing changes for the lab."""
    m = inventory_from_dict(MINIMAL).moodle
    assert m == Moodle()
    assert m.accounts.names()[:2] == ["student001", "student002"] and m.accounts.names()[-1] == "student200"
    assert len(m.accounts.names()) == 200
    assert (m.course_id, m.forum_cmid, m.database, m.table_prefix) == (2, 1, "moodle", "mdl_")
    assert (m.wait_min_s, m.wait_max_s, m.timeout_s) == (1.0, 3.0, 30.0)
    assert m.forum_posts_table == "mdl_forum_posts"
    assert m.password_env is None


def test_documented_section_loads(doc_example: dict[str, Any]) -> None:
    m = inventory_from_dict(doc_example, source="cluster.yml").moodle
    assert m.password_env == "MOODLE_PASSWORD"
    assert m.accounts == MoodleAccounts(prefix="student", digits=3, first=1, count=200)
    assert m.database == "moodle" and m.forum_posts_table == "mdl_forum_posts"


def test_a_real_moodle_section() -> None:
    inv = inventory_from_dict(_with_moodle({
        "accounts": {"usernames": ["alice", "bob", "carol"]}, "password_env": "SITE_PW", "course_id": 7,
        "forum_cmid": 42, "database": "moodle_prod", "table_prefix": "m4_", "wait_s": {"min": 0.5, "max": 0.5},
        "timeout_s": 12,
    }))
    m = inv.moodle
    assert m.accounts.names() == ["alice", "bob", "carol"]
    assert (m.course_id, m.forum_cmid, m.database) == (7, 42, "moodle_prod")
    assert m.forum_posts_table == "m4_forum_posts" and m.table("user") == "m4_user"
    assert (m.wait_min_s, m.wait_max_s, m.timeout_s) == (0.5, 0.5, 12.0)


def test_numbered_series_and_an_empty_table_prefix() -> None:
    m = inventory_from_dict(_with_moodle({"accounts": {"prefix": "lt", "digits": 0, "first": 8, "count": 3},
                                          "table_prefix": ""})).moodle
    assert m.accounts.names() == ["lt8", "lt9", "lt10"]
    assert m.forum_posts_table == "forum_posts"


def test_password_comes_from_the_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    inv = inventory_from_dict(_with_moodle({"password_env": "SITE_PW"}), source="site.yml")
    monkeypatch.setenv("SITE_PW", "s3cret")
    assert inv.moodle_password() == "s3cret"
    monkeypatch.delenv("SITE_PW")
    with pytest.raises(InventoryError, match=r"^site\.yml: moodle\.password_env: environment variable 'SITE_PW' is not set$"):
        inv.moodle_password()
    assert inventory_from_dict(MINIMAL).moodle_password() is None


MOODLE_ERRORS = [
    ({"password": "s3cret"}, "moodle.password: passwords never appear in the file: name an environment variable with password_env"),
    ({"course": 2}, "moodle.course: unknown key 'course' (known: accounts, course_id, database, forum_cmid, node_header, "
                    "password_env, table_prefix, timeout_s, wait_s)"),
    ({"course_id": 0}, "moodle.course_id: 0 is out of range [1, None]"),
    ({"forum_cmid": "1"}, "moodle.forum_cmid: expected an integer, got str '1'"),
    ({"database": ""}, "moodle.database: expected a non-empty string, got str ''"),
    ({"table_prefix": "mdl-"}, "moodle.table_prefix: expected letters, digits and underscores (Moodle's $CFG->prefix), got str 'mdl-'"),
    ({"password_env": 3}, "moodle.password_env: expected a non-empty string, got int 3"),
    ({"timeout_s": 0}, "moodle.timeout_s: 0 must be >= 0.1"),
    ({"node_header": ""}, "moodle.node_header: expected a non-empty string, got str ''"),
    ({"wait_s": {"min": 3, "max": 1}}, "moodle.wait_s: min (3) is above max (1)"),
    ({"wait_s": {"min": 5}}, "moodle.wait_s: min (5) is above max (3)"),
    ({"wait_s": {"low": 1}}, "moodle.wait_s.low: unknown key 'low' (known: max, min)"),
    ({"wait_s": 2}, "moodle.wait_s: expected a mapping, got int 2"),
    ({"accounts": {"count": 0}}, "moodle.accounts.count: 0 is out of range [1, 100000]"),
    ({"accounts": {"digits": 20}}, "moodle.accounts.digits: 20 is out of range [0, 12]"),
    ({"accounts": {"pattern": "s{n}"}}, "moodle.accounts.pattern: unknown key 'pattern' (known: count, digits, first, prefix, usernames)"),
    ({"accounts": {"usernames": []}}, "moodle.accounts.usernames: expected a non-empty list of usernames, got a list"),
    ({"accounts": {"usernames": "alice"}}, "moodle.accounts.usernames: expected a non-empty list of usernames, got str 'alice'"),
    ({"accounts": {"usernames": ["alice", 7]}}, "moodle.accounts.usernames[1]: expected a username, got int 7"),
    ({"accounts": {"usernames": ["a:b"]}}, "moodle.accounts.usernames[0]: 'a:b': a username cannot contain ',' or ':'"),
    ({"accounts": {"usernames": ["alice", "alice"]}}, "moodle.accounts.usernames[1]: username 'alice' listed twice"),
    ({"accounts": {"usernames": ["alice"], "count": 5}}, "moodle.accounts.count: not used with usernames"),
    ("yes", "moodle: expected a mapping, got str 'yes'"),
]


@pytest.mark.parametrize(("section", "expected"), MOODLE_ERRORS, ids=[e[1][:40] for e in MOODLE_ERRORS])
def test_each_bad_field_is_named(section: Any, expected: str) -> None:
    problems = _problems(section)
    assert len(problems) == 1, problems
    assert problems[0].startswith("cluster.yml: " + expected), problems[0]


def test_every_bad_field_in_one_error() -> None:
    problems = _problems({"course_id": -1, "table_prefix": "x y", "wait_s": {"min": "1"},
                          "accounts": {"usernames": ["a,b"]}})
    assert [p.split(":")[1].strip() for p in problems] == [
        "moodle.accounts.usernames[0]", "moodle.wait_s.min", "moodle.course_id", "moodle.table_prefix",
    ]


def test_round_trip_keeps_the_section(tmp_path: Path) -> None:
    for section in ({"accounts": {"usernames": ["alice", "bob"]}, "password_env": "PW", "table_prefix": "",
                     "wait_s": {"min": 0.2, "max": 0.4}},
                    {"accounts": {"prefix": "u", "digits": 2, "first": 0, "count": 5}, "course_id": 3,
                     "node_header": "X-Served-By"}):
        inv = inventory_from_dict(_with_moodle(section), source=str(tmp_path / "cluster.yml"))
        assert inventory_from_dict(dump_inventory(inv), source=inv.source) == inv
        assert load_inventory(write_inventory(inv, tmp_path / "cluster.yml")) == inv


README = DOC.parents[1] / "README.md"


def _readme_block(lang: str, first_line: str) -> str:
    blocks = re.findall(rf"```{lang}\n(.*?)```", README.read_text(), re.S)
    found = [b for b in blocks if b.startswith(first_line)]
    assert found, f"README.md lost its {lang} block starting {first_line!r}"
    return found[0]


def test_readme_cluster_file_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cluster file of README's "Use it from your own repo" is valid as printed."""
    path = tmp_path / "cluster.yml"
    path.write_text(_readme_block("yaml", "# cluster.yml"))
    inv = load_inventory(path)
    assert [h.name for h in inv.with_role("db")] == ["db1", "db2", "db3"]
    assert inv.host("dir2").service("keepalived").config == "/etc/keepalived/keepalived.conf"
    assert inv.host("web2").address == "10.0.0.22" and inv.host("web1").service("apache").process == "apache2"
    assert inv.moodle.accounts.names()[0] == "loadtest01" and len(inv.moodle.accounts.names()) == 20
    assert (inv.moodle.course_id, inv.moodle.forum_cmid, inv.moodle.forum_posts_table) == (12, 345, "mdl_forum_posts")
    monkeypatch.setenv("MOODLE_PASSWORD", "pw")
    assert inv.moodle_password() == "pw"


def test_readme_own_test_uses_real_fixtures() -> None:
    """The README's own-test example names fixtures the plugin defines."""
    import ast

    import harness.plugin

    tree = ast.parse(_readme_block("python", "import pytest"))
    tests = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
    assert tests
    for fn in tests:
        for arg in fn.args.args:
            assert callable(getattr(harness.plugin, arg.arg, None)), f"README example: no fixture {arg.arg!r}"
