"""Whole answers kept for a few seconds, served before any handler runs.

A popular widget asks the same URL over and over. The memo keeps each
memoisable answer (a ``Representation`` a handler marked with ``MEMOISE``) as
three finished header sets, headers of every kind included (the answer's own,
CORS, security, ``X-Cache: memo``): one for a 304, one plain, one gzipped.
Serving from it is a dictionary lookup, an ETag comparison and a copy of one
header set; the handler, its parameter checks and SQLite are skipped.

Answers are keyed by the URL as sent (path and query string) and the origin
the answer's links are built on (``links.origin``: the Atom feed names its own
URL), not the raw Host, so made-up Host headers share one entry. When CORS is limited to listed
origins, the asking Origin is part of the key too, since the answer says
which origin may read it. A request whose URL is not a key, or whose entry is
older than ``seconds``, goes to its handler; only answers of GET and HEAD
whose handler offered them (a 200, or the 304 made from one) are kept, so a
request refused for its size or its parameters never reaches an entry. The
memo is emptied drug by drug: each answer names its topic (the drug it is
about, or one trial), and a fetch that stores data of a drug forgets that
drug's answers and no other's. Other processes on the same store change it
too: the app looks at the store's change count (``cache_generation``, kept by
triggers) every ``GENERATION_CHECK_SECONDS`` and empties the memo when another
process has moved it (``saw_generation``), so an answer another process has
changed is served from here for at most that long. The count moves with this
process's own writes too, but each of those tells the memo the count before and
after it (``wrote``, from the writer thread, the write lock held between the two
reads), so a move made only by them empties nothing more than their own drugs.

It is bounded twice: by entries and by bytes (each counted as twice its body:
the plain and the gzip form at most); an answer bigger than an eighth of the
bytes is not kept. When an entry expires, the next request re-renders it
through its handler while the requests that arrive meanwhile are still served
the expired entry, so a popular answer never sends a crowd to the handler at
once; an expired entry is served so only for a bounded time, and a re-render
that fails lets the next request try again.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, MutableMapping

from aiohttp import web
from multidict import CIMultiDict

from trialfinder.terms import name_key
from trialfinder.web.httpcache import Representation, respond

MEMO_SECONDS = 5.0
GENERATION_CHECK_SECONDS = 0.5
# Own writes remembered between two looks at the change count (a burst of fetches).
OWN_WRITES_KEPT = 4096
MEMO_ENTRIES = 512
MEMO_BYTES = 64 * 1024 * 1024
MEMO = "memo"  # the X-Cache of an answer served from here
# A handler sets this on an answer to offer its representation to the memo ...
MEMOISE = web.ResponseKey("memoise", Representation)
# ... and this to say what data it shows, so a fetch of that data forgets it.
TOPIC = web.ResponseKey("memo_topic", tuple)
READS = frozenset({"GET", "HEAD"})


def drug_topic(name: str) -> tuple[str, str]:
    """The topic of answers about a drug: its preferred name, folded."""
    return ("drug", name_key(name))


def trial_topic(trial_id: str) -> tuple[str, str]:
    return ("trial", trial_id.upper())


Decorate = Callable[[web.Request, MutableMapping[str, str]], None]


class MemoisedAnswer:
    """One representation with its header sets finished, one per form (304, plain, gzip)."""

    __slots__ = ("expires", "header_sets", "renewing_until", "rep", "size", "topic")

    def __init__(
        self, rep: Representation, expires: float, finish: Callable, topic: Hashable | None
    ) -> None:
        self.rep = rep
        self.expires = expires
        self.topic = topic
        self.size = 2 * len(rep.body)
        self.renewing_until: float | None = None  # while one request re-renders it
        self.header_sets = {form: finish(own) for form, own in rep.header_sets.items()}

    def response(self, request: web.Request) -> web.Response:
        return respond(request, self.rep, self.header_sets)


class AnswerMemo:
    """Finished answers by request; least recently stored go first past the bounds."""

    def __init__(
        self,
        *,
        vary_on_origin: bool,
        seconds: float | None = None,
        entries: int = MEMO_ENTRIES,
        max_bytes: int = MEMO_BYTES,
        clock: Callable[[], float] = time.monotonic,
        host_of: Callable[[web.Request], str | None] | None = None,
    ) -> None:
        self.vary_on_origin = vary_on_origin
        # What of the Host an answer depends on: the app passes the origin its links use
        # (``links.origin``), so that made-up Hosts share one entry instead of churning it.
        self.host_of = host_of or (lambda request: request.headers.get("Host"))
        self.clock = clock
        self.seconds = MEMO_SECONDS if seconds is None else seconds
        # How long past its expiry an entry may still be served while it is re-rendered.
        self.serve_expired_for = max(30.0, 6 * self.seconds)
        self.entries = entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[Hashable, MemoisedAnswer] = OrderedDict()
        self._by_topic: dict[Hashable, set[Hashable]] = {}
        # The store's change count (``cache_generation``) when last looked at, and how
        # many times the memo was emptied: an answer rendered across an emptying is not kept.
        self.generation: int | None = None
        self.epoch = 0
        self.generation_check_seconds = GENERATION_CHECK_SECONDS
        # This process's own writes, as change count before -> after (``wrote``): told
        # by the writer thread, hence the lock.
        self._own: dict[int, int] = {}
        self._own_lock = threading.Lock()

    def key(self, request: web.Request) -> Hashable:
        if self.vary_on_origin:
            return (request.raw_path, self.host_of(request), request.headers.get("Origin"))
        return (request.raw_path, self.host_of(request))

    def answer(self, request: web.Request) -> web.Response | None:
        """The memoised answer to this request, or None if it must go to its handler."""
        if not self._items or request.method not in READS:
            return None
        key = self.key(request)
        item = self._items.get(key)
        if item is None:
            return None
        now = self.clock()
        if item.expires < now:
            if now - item.expires > self.serve_expired_for:
                self._drop(key)
                return None
            if item.renewing_until is None or item.renewing_until < now:
                # This request re-renders it; if that fails, the next one tries after a while.
                item.renewing_until = now + max(self.seconds, 1.0)
                return None
        return item.response(request)

    def keep(
        self,
        request: web.Request,
        response: web.StreamResponse,
        decorate: Decorate,
        epoch: int | None = None,
    ) -> None:
        """Keep ``response``'s representation if its handler offered one; ``decorate``
        adds the headers every answer gets. ``epoch``, the memo's when the handler
        started: if the memo was emptied since, the answer may be of data changed
        since, and is not kept."""
        rep = response.get(MEMOISE)
        if rep is None or self.seconds <= 0 or request.method not in READS:
            return
        if epoch is not None and epoch != self.epoch:
            return
        if 2 * len(rep.body) > self.max_bytes // 8:
            return  # one huge answer would push out many small ones

        def finish(own: dict[str, str]) -> CIMultiDict[str]:
            headers = CIMultiDict(own)
            headers["X-Cache"] = MEMO
            decorate(request, headers)
            return headers

        key = self.key(request)
        self._drop(key)
        item = MemoisedAnswer(rep, self.clock() + self.seconds, finish, response.get(TOPIC))
        self._items[key] = item
        self.bytes += item.size
        if item.topic is not None:
            self._by_topic.setdefault(item.topic, set()).add(key)
        while len(self._items) > self.entries or self.bytes > self.max_bytes:
            self._drop(next(iter(self._items)))

    def forget(self, topic: Hashable) -> None:
        """Forget every answer about ``topic`` (new data of it was stored)."""
        for key in list(self._by_topic.get(topic, ())):
            self._drop(key)

    def clear(self) -> None:
        self._items.clear()
        self._by_topic.clear()
        self.bytes = 0
        self.epoch += 1

    def wrote(self, before: int, after: int) -> None:
        """This process's write took the change count from ``before`` to ``after`` (its
        answers were forgotten drug by drug already); called from the writer thread."""
        if after != before:
            with self._own_lock:
                self._own[before] = after
                if len(self._own) > OWN_WRITES_KEPT:
                    del self._own[next(iter(self._own))]

    def saw_generation(self, generation: int) -> None:
        """The store's change count is now ``generation``. If only this process's own
        writes moved it there, each has already forgotten its drug's answers and nothing
        more goes. If another process changed what answers are read from, which answers
        that touched is not known here, so every one goes."""
        seen = self.generation
        with self._own_lock:
            while seen is not None and seen != generation and seen in self._own:
                seen = self._own.pop(seen)
        if seen is not None and seen != generation:
            self.clear()
        self.generation = generation

    def _drop(self, key: Hashable) -> None:
        item = self._items.pop(key, None)
        if item is None:
            return
        self.bytes -= item.size
        keys = self._by_topic.get(item.topic)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_topic[item.topic]

    def __len__(self) -> int:
        return len(self._items)
