"""Another process that holds the cache's write lock: as another trialfinder would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HOLD = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO registry_state (registry, checked_at) VALUES ('holder', 'x')")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


class LockHolder:
    """Another process that takes the write lock, writes a row, and commits after ``seconds``."""

    def __init__(self, path: Path, seconds: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(path), str(seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "held"

    def wait(self) -> int:
        return self.process.wait(timeout=60)
