"""The harness package has no import circles, and no import hidden in a function to dodge one.

Reads every module's imports with ``ast`` (module level, including ``if TYPE_CHECKING`` blocks:
a circle there is still a circle for a reader) and looks for cycles among harness modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import harness

ROOT = Path(harness.__file__).resolve().parent


def _module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom, modules: set[str]) -> list[str]:
    """The harness modules ``from X import a, b`` depends on: X.a where a is a module, and X
    itself when a name is not a module (``from . import _netns`` needs only the parent package
    to exist, which Python sees to before any submodule runs; ``from . import Lab`` needs its
    ``__init__`` to have run)."""
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    subs = [f"{target}.{alias.name}" for alias in node.names]
    needs_init = any(sub not in modules for sub in subs)
    return ([target] if needs_init else []) + [sub for sub in subs if sub in modules]


def import_graph(root: Path = ROOT, *, with_nested: bool = False) -> tuple[dict[str, set[str]], list[str]]:
    """module -> harness modules it imports at module level (``with_nested``: in functions too);
    and the function-level harness imports, as ``module:line imports ...``."""
    files = {_module_name(p, root): p for p in root.rglob("*.py") if "lms" not in p.parts}
    graph: dict[str, set[str]] = {}
    nested: list[str] = []
    for name, path in files.items():
        tree = ast.parse(path.read_text(), str(path))
        is_package = path.name == "__init__.py"
        deps: set[str] = set()
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                targets = _resolve(name, is_package, node, set(files))
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            targets = [t for t in targets if t in files]
            if not targets:
                continue
            if node.col_offset > 0 and not _in_type_checking(tree, node):
                nested.append(f"{name}:{node.lineno} imports {', '.join(targets)}")
                if not with_nested:
                    continue
            deps.update(t for t in targets if t != name)
        graph[name] = deps
    return graph, nested


def _in_type_checking(tree: ast.Module, node: ast.stmt) -> bool:
    for top in tree.body:
        if isinstance(top, ast.If) and "TYPE_CHECKING" in ast.unparse(top.test):
            if any(n is node for n in ast.walk(top)):
                return True
    return False


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_planted_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_relative_imports() -> None:
    graph, _ = import_graph()
    assert "harness.lab._topology" in graph["harness.lab._lab"]
    assert "harness.lab._uml" in graph["harness.lab._directors"]
    assert "harness.parsers.haproxy_stat" in graph["harness.lab._directors.haproxy"]


def test_the_harness_package_has_no_import_circles() -> None:
    graph, _ = import_graph()
    assert find_cycles(graph) == []


def test_no_circle_even_counting_imports_inside_functions() -> None:
    """A function-level import that closes a circle only hides it (as harness.lab._daemons,
    _galera and _lvs once did)."""
    graph, _ = import_graph(with_nested=True)
    assert find_cycles(graph) == []


def test_the_lab_has_no_function_level_imports_of_its_own_modules() -> None:
    _, nested = import_graph()
    assert [n for n in nested if n.startswith("harness.lab")] == []
