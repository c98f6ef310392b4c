"""The report in a real browser: headless Chromium loads it, takes a screenshot, logs nothing bad.

Skipped when /usr/bin/chromium is missing (``apt-get install -y --no-install-recommends
chromium``). With ``CI`` set, the screenshot is kept in reports/ as an artifact.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from harness.report import build_report
from harness.report._demo import write_demo_run

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "reports"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium not installed (/usr/bin/chromium)")


def _png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and raw RGB(A) rows of an 8-bit PNG (enough of a decoder for this test)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height, bpp = 8, b"", 0, 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        ctype = data[pos + 4 : pos + 8]
        chunk = data[pos + 8 : pos + 8 + length]
        if ctype == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and colour in (2, 6), (depth, colour)
            bpp = 3 if colour == 2 else 4
        elif ctype == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    i = 0
    for _ in range(height):
        ftype = raw[i]
        line = bytearray(raw[i + 1 : i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ftype == 1:
                line[x] = (line[x] + a) & 0xFF
            elif ftype == 2:
                line[x] = (line[x] + b) & 0xFF
            elif ftype == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, [r if bpp == 3 else b"".join(r[k : k + 3] for k in range(0, len(r), 4)) for r in rows]


def test_report_renders_in_headless_chromium(tmp_path):
    run = write_demo_run(tmp_path / "run")
    report = build_report(run)
    png = tmp_path / "report.png"
    cmd = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}", "--window-size=1400,2000",
        "--enable-logging=stderr", "--v=0", report.resolve().as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    log = proc.stdout + proc.stderr
    assert png.exists(), f"no screenshot; chromium exited {proc.returncode}:\n{log[-2000:]}"
    if os.environ.get("CI"):
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(png, ARTIFACTS / "availability-report-screenshot.png")

    # nothing blocked (the page's CSP refuses any fetch, and says so), no script error
    bad = [line for line in log.splitlines() if "CONSOLE" in line or "Uncaught" in line or "Refused to" in line or "net::ERR" in line]
    assert not bad, "\n".join(bad)

    width, height, rows = _png_pixels(png)
    assert (width, height) == (1400, 2000) and png.stat().st_size > 50_000
    # the outage is visible at a glance: a solid block of the fail red, and plenty of ok green
    def count(rgb: tuple[int, int, int], tol: int = 12) -> int:
        n = 0
        for row in rows[::2]:
            for k in range(0, len(row), 6):
                if all(abs(row[k + j] - rgb[j]) <= tol for j in range(3)):
                    n += 1
        return n

    assert count((0xD7, 0x26, 0x3D)) > 300, "no fail-red pixels: the outage is not visible"
    assert count((0x2F, 0x9E, 0x5B)) > 3000, "no ok-green pixels: the timeline is not drawn"
