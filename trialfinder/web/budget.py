"""A budget for work, not just requests: ``[server] fetches_per_client_per_hour``.

The rate limit counts requests; a request the cache answers costs a read, one
that is not cached costs the registries and drug sources a search. So each
client (as ``ratelimit.client_key`` counts them) also has a budget of uncached
fetches: a token bucket of ``fetches_per_client_per_hour``, refilled evenly
over the hour. A fetch already under way for someone else costs nothing to
join, and a cached answer, even a stale one, is never refused for it; past it,
a question that would need a fetch is 429 ``fetch_budget_spent`` with
Retry-After. Fetches of the admin refresh and the scheduler are not counted.

Names that no drug source knows and for which the registries found no trials
are remembered for ``UNKNOWN_SECONDS`` (``UnknownNames``, bounded): a question
about one that would need a fetch is answered 404 ``unknown_drug`` at once, so
repeating junk names, with whatever filters, costs nothing.

The pipeline names the client of each request in ``CLIENT`` (a context
variable, so the service sees it without every handler passing it on); work
done outside a request (no client) is not budgeted.
"""

from __future__ import annotations

import contextvars
import time
from collections import OrderedDict
from collections.abc import Callable

from trialfinder.terms import name_key
from trialfinder.web.errors import ApiError, retry_after
from trialfinder.web.ratelimit import MAX_CLIENTS, TokenBuckets

CLIENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("client", default=None)
UNKNOWN_SECONDS = 600.0
UNKNOWN_NAMES = 10_000


class BudgetSpent(ApiError):
    def __init__(self, wait: float) -> None:
        minutes = max(1, round(wait / 60))
        super().__init__(
            429,
            "fetch_budget_spent",
            "this address has asked for many answers that were not cached yet, each a search "
            f"of the registries; answers already cached are still served. Try again in about "
            f"{minutes} min",
            headers=retry_after(wait),
        )


class FetchBudget:
    """Uncached fetches per client per hour; 0 turns the budget off."""

    def __init__(self, per_hour: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.buckets = TokenBuckets(per_hour, per_hour / 3600.0, MAX_CLIENTS, clock)
        self.enabled = per_hour > 0

    def charge(self) -> None:
        """Spend one fetch of the current request's client, or raise ``BudgetSpent``."""
        client = CLIENT.get()
        if not self.enabled or client is None:
            return
        wait = self.buckets.take(client)
        if wait:
            raise BudgetSpent(wait)


class UnknownNames:
    """Names nothing knows, remembered for ``seconds``; at most ``entries``, oldest out."""

    def __init__(
        self,
        seconds: float = UNKNOWN_SECONDS,
        entries: int = UNKNOWN_NAMES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.entries = entries
        self.clock = clock
        self._names: OrderedDict[str, float] = OrderedDict()  # folded name -> until

    def remember(self, name: str) -> None:
        key = name_key(name)
        self._names.pop(key, None)
        self._names[key] = self.clock() + self.seconds
        while len(self._names) > self.entries:
            self._names.popitem(last=False)

    def forget(self, name: str) -> None:
        self._names.pop(name_key(name), None)

    def check(self, name: str) -> None:
        """Raise 404 ``unknown_drug`` if ``name`` is remembered as unknown."""
        key = name_key(name)
        until = self._names.get(key)
        if until is None:
            return
        if until < self.clock():
            del self._names[key]
            return
        raise ApiError(
            404,
            "unknown_drug",
            f"no drug source knows {name!r} and the registries found no trials of it when "
            "asked a few minutes ago; check the spelling",
            extra={"suggestions": []},
        )

    def __len__(self) -> int:
        return len(self._names)
