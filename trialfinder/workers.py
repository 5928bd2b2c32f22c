"""Several server processes on one port: ``[server] workers`` / ``serve --workers``.

One Python process answers on one core. With ``workers`` above 1, this parent
settles the database schema once, then starts that many processes, each the
same app listening on the same address with SO_REUSEPORT, so the kernel
spreads connections among them. The parent only watches:

* SIGINT or SIGTERM (Ctrl-C reaches only the parent: each worker leaves the
  terminal's process group) is passed on as one SIGTERM to each worker, which
  stops gracefully; the parent exits 0 once all have;
* a worker that ends by itself (a crash, a kill) ends the rest: the parent
  exits 1 and says which worker died, and a process manager restarts it all.
  A half-served port is worse than a restart;
* a worker whose parent is gone (killed with SIGKILL, say) stops itself
  within ``ORPHAN_CHECK_SECONDS``, so no worker outlives the service.

Politeness is shared, not multiplied: each worker gets the settings
``shared_by(workers)``, every registry's and drug source's request rate
divided among them. Only worker 0 runs the refresh scheduler. What each
worker keeps to itself (the memo, the per-client rate limit, single-flight
fetches, metrics) is listed with the setting in config.toml.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import socket
from collections.abc import AsyncIterator
from multiprocessing.connection import wait
from types import FrameType

from trialfinder.config import Settings

log = logging.getLogger("trialfinder.web")
STOP_SECONDS = 20.0  # a worker's graceful stop takes up to serving.SHUTDOWN_SECONDS
ORPHAN_CHECK_SECONDS = 1.0


def serve_workers(
    settings: Settings, host: str, port: int, workers: int, *, scheduler: bool
) -> int:
    """Run ``workers`` server processes until a signal or a death; the exit status."""
    from trialfinder.serving import configure_logging
    from trialfinder.store import Store

    configure_logging()
    _check_address(host, port)
    Store.open_configured(settings).close()  # migrate once, before any worker opens it
    shared = settings.shared_by(workers)
    spawn = multiprocessing.get_context("spawn")
    processes = [
        spawn.Process(
            target=_worker,
            args=(shared, host, port, number, scheduler and number == 0),
            name=f"trialfinder-worker-{number}",
        )
        for number in range(workers)
    ]
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            _terminate(processes)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for process in processes:
            process.start()
        log.info("serving on http://%s:%s with %d workers", host, port, workers)
        return _watch(processes, lambda: stopping)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _terminate(processes)
        for process in processes:
            if process.pid is None:
                continue  # never started: a start before it failed
            process.join(STOP_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()


def _check_address(host: str, port: int) -> None:
    """Raise OSError now, in the parent, if something listens on the address already.

    The probe does not share the port (no SO_REUSEPORT): another trialfinder
    serving there would otherwise be joined silently, not reported."""
    for family, kind, proto, _, address in socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    ):
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio does
            probe.bind(address)
            probe.listen()


def _watch(processes: list, stopping) -> int:
    """Wait until every worker has ended; 1 if one ended without being asked to."""
    running = {process.sentinel: process for process in processes}
    status = 0
    while running:
        for sentinel in wait(list(running)):
            process = running.pop(sentinel)
            process.join()
            if not stopping() and status == 0:
                log.error(
                    "worker %s ended by itself (exit code %s); stopping the others",
                    process.name,
                    process.exitcode,
                )
                status = 1
                _terminate(list(running.values()))
    return status


def _terminate(processes: list) -> None:
    for process in processes:
        if process.is_alive():
            process.terminate()  # SIGTERM: the worker's graceful stop


def _worker(settings: Settings, host: str, port: int, number: int, scheduler: bool) -> None:
    """One server process (the target of each spawned worker)."""
    from trialfinder.serving import run

    os.setpgrp()  # out of the terminal's group: only the parent hears Ctrl-C
    run(
        settings,
        host,
        port,
        [_stop_when_orphaned(os.getppid())],
        scheduler=scheduler,
        worker=number,
        reuse_port=True,
    )


def _stop_when_orphaned(parent: int):
    """A cleanup context: once the parent is gone, stop as if sent SIGTERM."""

    async def context(app) -> AsyncIterator[None]:
        async def watch() -> None:
            while os.getppid() == parent:
                await asyncio.sleep(ORPHAN_CHECK_SECONDS)
            log.warning("the parent process is gone; worker stopping")
            os.kill(os.getpid(), signal.SIGTERM)

        task = asyncio.get_running_loop().create_task(watch())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return context
