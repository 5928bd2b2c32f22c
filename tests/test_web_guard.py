"""Connection limits, against a real server (``serving.run`` in a subprocess) on 127.0.0.1.

Half-sent requests are closed after ``[server] header_timeout_seconds`` while
everyone else is answered; past ``max_connections`` a new connection is answered
503 and closed; what happens is logged, rate-limited.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import write_config
from trialfinder.web.guard import QuietLog, effective_cap

ROOT = Path(__file__).resolve().parent.parent
HALF = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving(tmp_path: Path, **server):
    """``trialfinder``'s server in a subprocess; yields (port, a function giving its log)."""
    config = write_config(tmp_path, "http://127.0.0.1:9/api/v2")  # never asked
    port = _free_port()
    section = "".join(f"{k} = {json.dumps(v)}\n" for k, v in server.items())
    config.write_text(config.read_text() + f"\n[server]\nport = {port}\n{section}")
    program = (
        "from trialfinder.config import load_settings\n"
        "from trialfinder.serving import run\n"
        f"run(load_settings({str(config)!r}))\n"
    )
    log = tmp_path / "server.log"
    with log.open("w") as err:
        process = subprocess.Popen(
            [sys.executable, "-c", program],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        yield port, lambda: [json.loads(line) for line in log.read_text().splitlines()]
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _half_sent(port: int, count: int) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        sock.sendall(HALF)
        sockets.append(sock)
    return sockets


def _read_to_end(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (the socket's timeout bounds the wait)."""
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(4096):
            data += chunk
    return data


def test_half_sent_requests_are_closed_and_others_are_answered(tmp_path):
    with serving(tmp_path, header_timeout_seconds=1.0, access_log="off") as (port, log):
        slow = _half_sent(port, 60)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
                assert r.status == 200
            answers = [_read_to_end(sock) for sock in slow]  # each returns once closed
        finally:
            for sock in slow:
                sock.close()
        assert all(a == b"" or a.startswith(b"HTTP/1.1 408") for a in answers)
        # The server still answers after them.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
            assert r.status == 200
        lines = [line["msg"] for line in log() if "request headers not complete" in line["msg"]]
    assert 1 <= len(lines) < 60  # logged, not once per connection


def test_past_max_connections_the_longest_waiting_is_closed_for_a_new_one(tmp_path):
    with serving(tmp_path, max_connections=5, header_timeout_seconds=30.0) as (port, log):
        slow = _half_sent(port, 5)
        try:
            time.sleep(0.2)  # let the server count them
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
                assert r.status == 200
            assert _read_to_end(slow[0]).startswith(b"HTTP/1.1 408")  # the oldest made room
        finally:
            for sock in slow:
                sock.close()
        assert any("to make room" in line["msg"] for line in log())


def _busy(port: int, count: int) -> list[socket.socket]:
    """Connections each with a request in progress (a body that does not come)."""
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        sock.sendall(
            b"POST /api/v1/refresh HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        sockets.append(sock)
    return sockets


TOKEN = "t" * 20


def test_past_max_connections_all_busy_a_new_connection_is_answered_503(tmp_path):
    server = {"max_connections": 5, "body_timeout_seconds": 30.0, "admin_token": TOKEN}
    with serving(tmp_path, **server) as (port, log):
        busy = _busy(port, 5)
        try:
            time.sleep(0.3)  # let the server count them
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10)
                raise AssertionError("expected a 503")
            except urllib.error.HTTPError as error:
                assert error.code == 503
                assert error.headers["Retry-After"]
                assert json.loads(error.read())["error"]["code"] == "over_capacity"
        finally:
            for sock in busy:
                sock.close()
        deadline = time.monotonic() + 10
        while True:  # once they are gone, it answers again
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
                    assert r.status == 200
                    break
            except urllib.error.HTTPError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert any("max_connections" in line["msg"] for line in log())


def test_quiet_log_counts_what_it_suppressed(caplog):
    now = [0.0]
    quiet = QuietLog(every=5.0, clock=lambda: now[0])
    with caplog.at_level("WARNING", logger="trialfinder.web"):
        assert quiet.warning("k", "thing %s", 1)
        assert not quiet.warning("k", "thing %s", 2)
        assert not quiet.warning("k", "thing %s", 3)
        now[0] = 6.0
        assert quiet.warning("k", "thing %s", 4)
        assert not quiet.warning("k", "thing %s", 5)
        quiet.flush()  # within the window: nothing yet
        now[0] = 11.5
        quiet.flush()
        quiet.flush()  # once only
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "thing 1",
        "thing 4 (and 2 more like it since the last such line)",
        "1 more like this since: thing 4",
    ]


def test_the_cap_fits_the_descriptor_limit():
    assert effective_cap(1000, None) == 1000
    assert effective_cap(1000, 200) < 200 - 64
    assert effective_cap(50, 100_000) == 50


def test_a_body_that_does_not_arrive_is_a_408(tmp_path):
    request = (
        b"POST /api/v1/refresh HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer " + b"t" * 20 + b"\r\n"
        b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"drugs"'
    )
    with serving(tmp_path, body_timeout_seconds=1.0, admin_token=TOKEN) as (port, _):
        sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        try:
            sock.sendall(request)
            answer = b""
            while b"request_timeout" not in answer and (chunk := sock.recv(4096)):
                answer += chunk
        finally:
            sock.close()
    assert answer.startswith(b"HTTP/1.1 408")
    assert b"request_timeout" in answer
