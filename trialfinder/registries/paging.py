"""When a registry's paging stops making sense, stop asking, loudly.

A registry that hands out a new page token for ever, sends the same page again,
or sends more records than the total it announced would otherwise be asked
until a page cap: 10,000 pages is hours at a polite rate, and every page is
held in memory. Each rule here ends such paging within a page or two, as an
outage-type error (``RegistryUnavailableError``): nothing is stored, and a
cached answer, if there is one, is served marked stale.
"""

from __future__ import annotations

from trialfinder.errors import RegistryUnavailableError

# Pages asked for at most when the registry announced no total to bound them.
UNBOUNDED_MAX_PAGES = 1_000


class PagingGuard:
    """Accounts for each page of one search and refuses paging that cannot end well."""

    def __init__(self, label: str, *, max_pages: int = UNBOUNDED_MAX_PAGES):
        self.label = label
        self.max_pages = max_pages
        self.pages = 0
        self.received = 0  # records sent, counting repeats and ones that could not be read
        self.total: int | None = None
        self._tokens: set[str] = set()

    def announced(self, total: int | None) -> None:
        """The total the first page announced: it bounds how much may arrive, and so
        (every page must bring something new) how many pages. No page count is
        assumed: a registry may serve smaller pages than it was asked for."""
        self.total = total

    def page(self, *, received: int, new: int, more: bool, token: str | None = None) -> None:
        """One page arrived with ``received`` records, ``new`` of them not seen before;
        ``more`` says the registry offers a next page (by ``token``, if it pages so)."""
        self.pages += 1
        self.received += received
        if more and new == 0:
            self._stop(f"offered another page after page {self.pages}, which brought nothing new")
        if self.total is not None and self.received > self.total:
            self._stop(f"sent more records ({self.received}) than the {self.total} it announced")
        if not more:
            return
        if token is not None:
            if token in self._tokens:
                self._stop("repeated a page token")
            self._tokens.add(token)
        if self.total is None and self.pages >= self.max_pages:
            self._stop(f"offered more than {self.max_pages} pages")

    def _stop(self, why: str) -> None:
        raise RegistryUnavailableError(
            self.label, f"{why}; paging stopped, nothing from this answer was saved"
        )
