"""A full disk: the filesystem holding ``path`` filled up to ``leave_bytes`` free.

What a brick (or any data directory) meets when its disk fills: writes fail with ENOSPC there
while the other replicas take them. The fault allocates one file of its own,
``<path>/.harness-disk-full`` (``fallocate``: no data is written, so it takes a moment even for
gigabytes; its last 8 MiB are written with ``dd`` until the filesystem says ENOSPC, because
allocating every byte ``df`` shows fails), and heal deletes only that file. Filling a big filesystem by mistake (a host's root
shared with the operating system) would hurt more than the test: more than ``max_fill_bytes``
(default 8 GiB) is refused, naming host, path and size.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from ..errors import FaultError
from ..transport.base import quote_command
from .base import Fault, no_extra, take

#: the one file this fault owns in the filled directory
FILL_NAME = ".harness-disk-full"
DEFAULT_MAX_FILL_BYTES = 8 * 1024**3
#: the last bytes of the fill, written (``dd``, exit 1 at ENOSPC accepted) rather than allocated
TOP_UP_BYTES = 8 * 1024**2
TOP_UP_BLOCK = 64 * 1024
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9_./-]*$")


def parse_df_avail(text: str) -> int:
    """Available bytes from ``df -P -B1 PATH`` (the data line's fourth column)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        raise FaultError(f"disk-full: df printed no data line: {text[:200]!r}")
    fields = lines[-1].split()
    if len(fields) < 4 or not fields[3].isdigit():
        raise FaultError(f"disk-full: df's data line has no available-bytes column: {lines[-1]!r}")
    return int(fields[3])


class DiskFull(Fault):
    """Fill the filesystem of ``path`` on ``host`` (see the module)."""

    name = "disk-full"
    summary = "fallocate one file of ours to fill the filesystem of a path (leave_bytes free); heal: delete it"

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        out = {
            "host": take(params, self.name, "host", str),
            "path": take(params, self.name, "path", str),
            "leave_bytes": take(params, self.name, "leave_bytes", int, 0),
            "max_fill_bytes": take(params, self.name, "max_fill_bytes", int, DEFAULT_MAX_FILL_BYTES),
        }
        no_extra(params, self.name, out)
        path = out["path"]
        if not _SAFE_PATH.match(path) or ".." in path.split("/") or posixpath.normpath(path) == "/":
            raise FaultError(f"{self.name}: parameter 'path': {path!r} must be an absolute directory other than /")
        for key in ("leave_bytes", "max_fill_bytes"):
            if out[key] < 0:
                raise FaultError(f"{self.name}: parameter {key!r} must be >= 0, not {out[key]}")
        self.host(out["host"])
        return out

    def resolve_targets(self) -> list[str]:
        return [self.params["host"]]

    @property
    def fill_file(self) -> str:
        return posixpath.join(posixpath.normpath(self.params["path"]), FILL_NAME)

    def _inject(self) -> None:
        host, path = self.params["host"], self.params["path"]
        avail = parse_df_avail(self.run_expect(host, [0], quote_command(["df", "-P", "-B1", path])).stdout)
        size = avail - self.params["leave_bytes"]
        if size > self.params["max_fill_bytes"]:
            raise FaultError(f"{self.name}: {host}:{path}: filling it takes {size} bytes, more than max_fill_bytes "
                             f"{self.params['max_fill_bytes']} (a filesystem this big is rarely the data disk alone)")
        self.runtime["fill_bytes"] = max(size, 0)
        if size <= 0:
            return  # already as full as asked
        self.touch(host)
        # fallocate of every byte df shows fails (ENOSPC: the extents' own metadata needs blocks
        # too, measured on a 256 MiB ext4), so the last TOP_UP_BYTES are written, up to ENOSPC
        top_up = min(size, TOP_UP_BYTES)
        if size > top_up:
            self.run_expect(host, [0], quote_command(["fallocate", "-l", str(size - top_up), self.fill_file]))
        blocks = -(-top_up // TOP_UP_BLOCK)
        self.run_expect(host, [0, 1], quote_command(["dd", "if=/dev/zero", f"of={self.fill_file}", f"bs={TOP_UP_BLOCK}",
                                                     f"count={blocks}", "oflag=append", "conv=notrunc", "status=none"]))

    def _heal(self) -> None:
        self.run_expect(self.params["host"], [0], quote_command(["rm", "-f", self.fill_file]))
