"""Each registry's request budget, shared by every process on one store.

``http`` spaces requests within a process unless it is given a slot reserver
(``http.registry_budget``); this module makes one over the store
(``store.budgets``), so that the CLI, the scheduler and every server process
(on every machine, on PostgreSQL) together keep to each registry's configured
rate. The reservation is one short write: through the pool's writer thread in
the server (never on its event loop), on the caller's thread for a pool that
is one connection (the refresher's, the CLI's).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from typing import Any

from trialfinder.http import SlotReserver, registry_budget
from trialfinder.store import budgets


def store_budget(pool: Any) -> SlotReserver:
    """A slot reserver drawing from the budgets in ``pool``'s store (a ``StorePool``
    or ``InlinePool``)."""

    async def reserve(registry: str, interval: float) -> float:
        interval_ms = max(1, math.ceil(interval * 1000))
        start_ms = await pool.write(_reserve_now, registry, interval_ms)
        return start_ms / 1000

    return reserve


def _reserve_now(store, registry: str, interval_ms: int) -> int:
    # The time is read when the write runs, not when it was queued.
    return budgets.reserve_slot(store, registry, interval_ms, math.floor(time.time() * 1000))


@contextlib.contextmanager
def sharing_budget(pool: Any) -> Iterator[None]:
    """Registry clients opened inside (and in tasks and ``asyncio.run`` loops started
    inside) draw from the store's budgets."""
    token = registry_budget.set(store_budget(pool))
    try:
        yield
    finally:
        registry_budget.reset(token)
