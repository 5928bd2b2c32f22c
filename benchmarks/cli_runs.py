"""Running ``trialfinder`` as a whole process, for the benchmarks that time it.

The child gets compiled modules as a user's install has them, cached in a
temporary folder (not in the repository) even where PYTHONDONTWRITEBYTECODE is
set: the untimed first runs compile, the timed runs measure trialfinder rather
than Python's compiler.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

REPO = Path(__file__).resolve().parent.parent


class BenchError(Exception):
    """Something went wrong (not a missed target): the script exits 1."""


def child_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("TRIALFINDER_CONFIG", "TRIALFINDER_DEBUG", "COLUMNS"):
        env.pop(name, None)  # --config is given; output is piped at trialfinder's own width
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    return env


def run_cli(argv: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    """(milliseconds, finished process) of one run; a failing run is a BenchError."""
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, env=env, cwd=REPO, check=False)
    elapsed_ms = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        raise BenchError(
            f"{' '.join(argv)} exited {done.returncode}:\n"
            + done.stderr.decode("utf-8", errors="replace")
        )
    return elapsed_ms, done


def run_main(main: Callable[[], int]) -> NoReturn:
    """Run a benchmark's ``main`` and exit with its status; a benchmark that could not
    measure (``BenchError``, a child process that failed) says why and exits 1."""
    try:
        sys.exit(main())
    except (BenchError, subprocess.CalledProcessError) as error:
        print(f"{Path(sys.argv[0]).name}: {error}", file=sys.stderr)
        sys.exit(1)
