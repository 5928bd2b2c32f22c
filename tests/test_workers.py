"""Several server processes on one port: shared politeness, both answering, one stop.

``trialfinder serve --workers 2`` is run as a user would, against stand-ins
served from threads of this process. The tests find out which worker
answered from ``/metrics`` (``trialfinder_worker_info``), and check that a
SIGTERM stops them all gracefully while a worker's death stops the rest with
a non-zero exit.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.standins.ctgov import CtgovStandin
from tests.standins.drugs import DrugStandins
from tests.standins.server import serve_in_thread
from tests.standins.webapp import wait_until_serving, web_settings

ROOT = Path(__file__).resolve().parent.parent
TRIALS = "/api/v1/drugs/blinatumomab/trials"
WORKER = re.compile(r'trialfinder_worker_info\{worker="(\d+)",pid="(\d+)"\} 1')

pytestmark = pytest.mark.skipif(
    not hasattr(socket, "SO_REUSEPORT"), reason="workers share a port with SO_REUSEPORT"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    """One request on a connection of its own (so the kernel may pick either worker)."""
    request = urllib.request.Request(url, headers={"Connection": "close"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()


def _workers_seen(base: str, seconds: float = 20) -> dict[str, int]:
    """Worker number -> pid, asked until both have answered (the second may start later)."""
    seen: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    while len(seen) < 2 and time.monotonic() < deadline:
        _, body = _get(base + "/metrics")
        worker, pid = WORKER.search(body.decode()).groups()
        seen[worker] = int(pid)
    return seen


@pytest.fixture
def served(tmp_path):
    """``trialfinder serve --workers 2`` against the stand-ins; yields (base URL, process)."""
    ctgov, drugs = CtgovStandin(), DrugStandins()
    with serve_in_thread(ctgov.app()) as ctgov_base, serve_in_thread(drugs.app()) as drugs_base:
        settings = web_settings(tmp_path, f"{ctgov_base}/api/v2", drugs.base_urls(drugs_base))
        port = _free_port()
        # A file, not a pipe: a pipe nobody reads fills up and blocks the workers' logging.
        errors = (tmp_path / "stderr.txt").open("w+", encoding="utf-8")
        process = subprocess.Popen(
            [sys.executable, "-m", "trialfinder", "--config", str(settings.source), "serve",
             "--workers", "2", "--no-scheduler", "--port", str(port)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        process.stderr_text = lambda: errors.seek(0) or errors.read()
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_serving(base, process)
            yield base, process
        finally:
            if process.poll() is None:
                process.kill()  # its workers notice and stop themselves
            process.wait(timeout=30)
            errors.close()


def test_two_workers_answer_alike_and_stop_on_sigterm(served):
    base, process = served
    seen = _workers_seen(base)
    assert set(seen) == {"0", "1"} and len(set(seen.values())) == 2
    answers = {json.dumps(json.loads(_get(base + TRIALS)[1])["trials"]) for _ in range(8)}
    assert len(answers) == 1  # whichever worker answered, from the one cache
    assert len(json.loads(answers.pop())) == 5
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0, process.stderr_text()
    err = process.stderr_text()
    for pid in seen.values():
        assert not _alive(pid)
    access = [json.loads(line) for line in err.splitlines() if '"trialfinder.access"' in line]
    assert sum(line["path"] == TRIALS for line in access) == 8  # every line whole, none lost


def test_a_dying_worker_stops_the_others(served):
    base, process = served
    seen = _workers_seen(base)
    os.kill(seen["1"], signal.SIGKILL)
    assert process.wait(timeout=30) == 1
    assert "worker trialfinder-worker-1 ended by itself" in process.stderr_text()
    assert not _alive(seen["0"])


def test_workers_stop_themselves_when_the_parent_is_killed(served):
    base, process = served
    seen = _workers_seen(base)
    process.kill()
    process.wait(timeout=30)
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in seen.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in seen.values())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not a worker: it has ended and waits for its parent to notice.
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "zombie" in status.read_text())


def test_a_taken_address_is_a_clear_error_not_a_traceback(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = web_settings(tmp_path, "http://127.0.0.1:9/api/v2", None).source
        for workers in ("1", "2"):
            result = subprocess.run(
                [sys.executable, "-m", "trialfinder", "--config", str(config), "serve",
                 "--no-scheduler", "--port", str(port), "--workers", workers],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=60,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )  # fmt: skip
            assert result.returncode == 1
            assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
            assert "Traceback" not in result.stderr
