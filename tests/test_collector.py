"""The garbage collector held back during a fetch: counted, and always given back."""

from __future__ import annotations

import gc

import pytest

from trialfinder.collector import PAUSED_THRESHOLD, collector_paused


def test_overlapping_pauses_restore_the_threshold_only_when_the_last_ends():
    before = gc.get_threshold()
    first, second = collector_paused(), collector_paused()
    first.__enter__()
    assert gc.get_threshold()[0] == PAUSED_THRESHOLD
    second.__enter__()
    first.__exit__(None, None, None)  # fetches overlap; the first to end is not the last
    assert gc.get_threshold()[0] == PAUSED_THRESHOLD
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before
    assert gc.isenabled()


def test_a_failing_fetch_gives_the_collector_back():
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("the registry failed")
    assert gc.get_threshold() == before
