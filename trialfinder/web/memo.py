"""Whole answers kept for a few seconds, served before any handler runs.

A popular widget asks the same URL over and over. The memo keeps each
memoisable answer (a ``Representation`` a handler marked with ``MEMOISE``) as
three finished header sets, headers of every kind included (the answer's own,
CORS, security, ``X-Cache: memo``): one for a 304, one plain, one gzipped.
Serving from it is a dictionary lookup, an ETag comparison and a copy of one
header set; the handler, its parameter checks and SQLite are skipped.

Answers are keyed by the URL as sent (path and query string) and the Host
asked (the Atom feed names its own URL). When CORS is limited to listed
origins, the asking Origin is part of the key too, since the answer says
which origin may read it. A request whose URL is not a key, or whose entry is
older than ``seconds``, goes to its handler; only answers of GET and HEAD
whose handler offered them (a 200, or the 304 made from one) are kept, so a
request refused for its size or its parameters never reaches an entry. The
memo is emptied whenever this process stores new data.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, MutableMapping

from aiohttp import web
from multidict import CIMultiDict

from trialfinder.web.httpcache import Representation, respond

MEMO_SECONDS = 5.0
MEMO_ENTRIES = 512
MEMO = "memo"  # the X-Cache of an answer served from here
# A handler sets this on an answer to offer its representation to the memo.
MEMOISE = web.ResponseKey("memoise", Representation)
READS = frozenset({"GET", "HEAD"})

Decorate = Callable[[web.Request, MutableMapping[str, str]], None]


class MemoisedAnswer:
    """One representation with its header sets finished, one per form (304, plain, gzip)."""

    __slots__ = ("expires", "header_sets", "rep")

    def __init__(self, rep: Representation, expires: float, finish: Callable) -> None:
        self.rep = rep
        self.expires = expires
        self.header_sets = {form: finish(own) for form, own in rep.header_sets.items()}

    def response(self, request: web.Request) -> web.Response:
        return respond(request, self.rep, self.header_sets)


class AnswerMemo:
    """Finished answers by request; least recently stored go first past ``entries``."""

    def __init__(
        self,
        *,
        vary_on_origin: bool,
        seconds: float | None = None,
        entries: int = MEMO_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.vary_on_origin = vary_on_origin
        self.clock = clock
        self.seconds = MEMO_SECONDS if seconds is None else seconds
        self.entries = entries
        self._items: OrderedDict[Hashable, MemoisedAnswer] = OrderedDict()

    def key(self, request: web.Request) -> Hashable:
        headers = request.headers
        if self.vary_on_origin:
            return (request.raw_path, headers.get("Host"), headers.get("Origin"))
        return (request.raw_path, headers.get("Host"))

    def answer(self, request: web.Request) -> web.Response | None:
        """The memoised answer to this request, or None if it must go to its handler."""
        if not self._items or request.method not in READS:
            return None
        key = self.key(request)
        item = self._items.get(key)
        if item is None:
            return None
        if item.expires < self.clock():
            del self._items[key]
            return None
        return item.response(request)

    def keep(self, request: web.Request, response: web.StreamResponse, decorate: Decorate) -> None:
        """Keep ``response``'s representation if its handler offered one; ``decorate``
        adds the headers every answer gets."""
        rep = response.get(MEMOISE)
        if rep is None or self.seconds <= 0 or request.method not in READS:
            return

        def finish(own: dict[str, str]) -> CIMultiDict[str]:
            headers = CIMultiDict(own)
            headers["X-Cache"] = MEMO
            decorate(request, headers)
            return headers

        key = self.key(request)
        self._items[key] = MemoisedAnswer(rep, self.clock() + self.seconds, finish)
        self._items.move_to_end(key)
        while len(self._items) > self.entries:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
