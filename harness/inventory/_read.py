"""Read untrusted inventory input safely: bounded size, strict UTF-8, YAML without bombs.

Every reader of the package (cluster files, Ansible INI/YAML, ``vagrant ssh-config`` text)
goes through here, so a hostile or broken file gives one InventoryError naming the file (and
the line where known), never a traceback, a hang or an exhausted memory. The limits are
documented in docs/cluster-file.md and docs/inventory.md.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from ..errors import InventoryError

#: largest input file (cluster file, Ansible inventory, ssh-config text) read at all: a real
#: one is a few kB, and PyYAML needs ~130 x the file's size in memory and ~9 s per MB
MAX_INPUT_BYTES = 1024 * 1024
#: most YAML nodes a document may stand for once its aliases are expanded: a billion-laughs
#: document is a few hundred bytes that stand for 10^9 nodes, and any walk over it (``str()`` of
#: one variable) would never end
MAX_YAML_NODES = 1_000_000


def read_text(path: str | os.PathLike[str], source: str, what: str) -> str:
    """The file's text, or one InventoryError: unreadable, over MAX_INPUT_BYTES, or not UTF-8."""
    try:
        with Path(path).expanduser().open("rb") as f:
            raw = f.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise InventoryError(f"{source}: cannot read the {what}: {exc.strerror or exc}") from None
    return decode_text(raw, source, what)


def decode_text(raw: bytes, source: str, what: str) -> str:
    """Check the size, then decode strict UTF-8; the error names the line of the first bad byte."""
    if len(raw) > MAX_INPUT_BYTES:
        raise InventoryError(
            f"{source}: the {what} is larger than {MAX_INPUT_BYTES} bytes (1 MiB), the most the harness reads"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InventoryError(
            f"{source}: line {line}: not UTF-8 (byte {raw[exc.start]:#04x} at offset {exc.start}); "
            f"save the {what} as UTF-8"
        ) from None


def check_text_size(text: str, source: str, what: str) -> None:
    """The size limit for text handed over in memory (``vagrant ssh-config`` output)."""
    if len(text) > MAX_INPUT_BYTES:
        raise InventoryError(
            f"{source}: the {what} is larger than {MAX_INPUT_BYTES} characters (1 MiB), the most the harness reads"
        )


def _where(mark: Any) -> str:
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def _yaml_message(exc: yaml.YAMLError) -> str:
    """`` at line L, column C: problem`` from PyYAML's error, without its multi-line snippet."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        context = f" ({exc.context}{_where(exc.context_mark)})" if exc.context else ""
        return f"{_where(exc.problem_mark)}: {exc.problem}{context}"
    return ": " + str(exc).replace("\n", " ")


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def check_node_graph(root: yaml.Node, source: str, limit: int = MAX_YAML_NODES) -> None:
    """Refuse an alias cycle, and a document that stands for more than ``limit`` nodes.

    The walk is iterative (no RecursionError) and counts each shared node once per use from
    what it already knows, so a billion-laughs document is refused after a few hundred steps.
    """
    size: dict[int, int] = {}
    open_: set[int] = set()  # nodes on the current path: meeting one again is a cycle
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        key = id(node)
        if leaving:
            open_.discard(key)
            total = 1 + sum(size[id(c)] for c in _children(node))
            if total > limit:
                raise InventoryError(
                    f"{source}: the YAML{_where(node.start_mark)} expands to more than {limit} nodes "
                    f"through aliases (an alias bomb?); the most the harness reads is {limit}"
                )
            size[key] = total
            continue
        if key in size:
            continue
        if key in open_:
            raise InventoryError(f"{source}: the YAML{_where(node.start_mark)} contains itself through an alias (a cycle)")
        open_.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in size)


def load_yaml(text: str, source: str, loader: yaml.SafeLoader | None = None) -> Any:
    """Parse one YAML document (with ``loader``, made on ``text``); every failure is one InventoryError.

    The node graph is composed and checked before any Python object is built, so cycles and
    alias bombs never reach the readers.
    """
    if loader is None:
        loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_node_graph(node, source)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise InventoryError(f"{source}: not valid YAML{_yaml_message(exc)}") from None
    except RecursionError:
        raise InventoryError(f"{source}: the YAML is nested too deeply to read") from None
    finally:
        loader.dispose()
