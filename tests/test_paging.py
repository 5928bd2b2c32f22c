"""PagingGuard: each rule that ends paging which cannot end well, and paging that may go on."""

from __future__ import annotations

import pytest

from trialfinder.errors import RegistryUnavailableError
from trialfinder.registries.paging import PagingGuard


def test_honest_paging_of_uneven_pages_goes_to_the_end():
    guard = PagingGuard("R")
    guard.announced(25)
    for size, token in ((10, "a"), (3, "b"), (7, "c")):  # smaller pages than asked for
        guard.page(received=size, new=size, more=True, token=token)
    guard.page(received=5, new=5, more=False)
    assert guard.pages == 4 and guard.received == 25


@pytest.mark.parametrize(
    ("pages", "why"),
    [
        ([(10, 10, True, "a"), (10, 10, True, "a")], "repeated a page token"),
        ([(10, 10, True, "a"), (10, 0, True, "b")], "page 2, which brought nothing new"),
        ([(10, 10, True, "a"), (11, 11, False, None)], r"sent more records \(21\) than the 20"),
    ],
)
def test_paging_that_cannot_end_well_is_stopped(pages, why):
    guard = PagingGuard("R")
    guard.announced(20)
    with pytest.raises(RegistryUnavailableError, match=why) as caught:
        for received, new, more, token in pages:
            guard.page(received=received, new=new, more=more, token=token)
    assert str(caught.value).startswith("R: ") and "nothing from this answer was saved" in str(
        caught.value
    )


def test_without_a_total_the_pages_are_capped():
    guard = PagingGuard("R", max_pages=3)
    guard.announced(None)
    guard.page(received=5, new=5, more=True, token="a")
    guard.page(received=5, new=5, more=True, token="b")
    with pytest.raises(RegistryUnavailableError, match="more than 3 pages"):
        guard.page(received=5, new=5, more=True, token="c")
