"""Write small files through a mount at a steady rate, one JSON line per write (stdlib only).

Run inside a lab web node by tests/lab/test_storage.py (``python3 -c <this file> DIR SECONDS
INTERVAL``). Each write (open, write, fsync, close) runs in a thread the writer waits on for at
most HUNG_S: a FUSE call that hangs must not hang the writer, it is recorded as ``hung`` and the
writer stops (the thread cannot be cancelled). Each line: ``n``, ``t`` (wall clock at the start),
``s`` (seconds the write took), ``err`` ('' when it succeeded), ``sha`` (sha256 of the content).
"""

import hashlib
import json
import os
import sys
import threading
import time

HUNG_S = 30.0


def _write(path: str, data: bytes, box: list) -> None:
    try:
        with open(path, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        box.append("")
    except OSError as exc:
        box.append(str(exc))


def main(directory: str, seconds: float, interval: float) -> None:
    os.makedirs(directory, exist_ok=True)
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += 1
        data = os.urandom(4096)
        box: list = []
        wall, t0 = time.time(), time.monotonic()
        worker = threading.Thread(target=_write, args=(f"{directory}/w{n:05d}", data, box), daemon=True)
        worker.start()
        worker.join(HUNG_S)
        took = time.monotonic() - t0
        print(json.dumps({"n": n, "t": wall, "s": round(took, 4), "err": box[0] if box else "hung",
                          "sha": hashlib.sha256(data).hexdigest()}), flush=True)
        if not box:
            break
        time.sleep(max(0.0, interval - took))
    sys.stdout.flush()
    os._exit(0)  # a hung write's thread must not keep the process


main(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]))
