"""The fast path of ``parse_study`` (plain dicts) gives the Trial the models give, or
steps aside: on every recorded study, and on each value of them made odd in turn."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from tests.standins.ctgov import load_fixture_studies
from tests.test_ctgov_client import _loose_study
from trialfinder.registries.ctgov.parse import (
    MalformedStudyError,
    _plain_fields,
    parse_study,
    parse_with_models,
)

ODD_VALUES = [None, 7, 2.5, True, "x", "", [], ["x"], [7], {}, {"date": 7}]
# Records with what the fixtures lack: site and central contacts, a thousand sites.
PLACES = sorted((Path(__file__).parent / "fixtures" / "ctgov_places").glob("NCT*.json"))


def _places_records() -> list:
    return [json.loads(path.read_text(encoding="utf-8")) for path in PLACES]


def _same_or_declined(raw) -> None:
    try:
        slow = parse_with_models(raw)
    except MalformedStudyError:
        assert _plain_fields(raw) is None  # refused by the models: the fast path steps aside
        with pytest.raises(MalformedStudyError):
            parse_study(raw)
        return
    assert parse_study(raw).model_dump() == slow.model_dump()


def _paths(value, path=()):
    """Every place in a study's JSON, to make odd one at a time."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for n, item in enumerate(value[:2]):
            yield from _paths(item, (*path, n))


def _with(raw, path, value):
    changed = copy.deepcopy(raw)
    target = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return changed


def _records(reference_dir: Path | None) -> list:
    records = [*load_fixture_studies(), _loose_study(), *_places_records()]
    if reference_dir is not None:
        for path in sorted((reference_dir / "ctgov").glob("v2_*.json")):
            data = json.loads(path.read_text(encoding="utf-8"))
            records += data.get("studies", []) if isinstance(data, dict) else []
    return records


def test_the_fast_path_takes_well_formed_studies():
    records = [*load_fixture_studies(), *_places_records()]
    assert all(_plain_fields(raw) is not None for raw in records)


def test_both_paths_agree_on_every_record(request):
    try:
        reference = request.getfixturevalue("reference_dir")
    except pytest.skip.Exception:
        reference = None
    for raw in _records(reference):
        _same_or_declined(raw)


@pytest.mark.parametrize(
    "raw", [*load_fixture_studies()[:3], _loose_study(), *_places_records()[1:3]]
)
def test_both_paths_agree_when_any_one_value_is_odd(raw):
    for path in list(_paths(raw))[1:]:
        for value in ODD_VALUES:
            _same_or_declined(_with(raw, path, value))
    for missing in list(_paths(raw))[1:]:  # and with each one left out
        changed = copy.deepcopy(raw)
        target = changed
        for step in missing[:-1]:
            target = target[step]
        del target[missing[-1]]
        _same_or_declined(changed)
