"""Decoding a registry's JSON (``encoding.loads``): orjson's speed, the standard library's reach."""

from __future__ import annotations

import pytest

from trialfinder.encoding import loads


def test_decodes_text_and_bytes_alike():
    body = '{"studies": [{"nctId": "NCT01", "lat": 45.5, "n": 3, "title": "Étude"}]}'
    expected = {"studies": [{"nctId": "NCT01", "lat": 45.5, "n": 3, "title": "Étude"}]}
    assert loads(body) == loads(body.encode()) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"count": NaN}', "nan"),
        (b'{"count": -Infinity}', "-inf"),
        (b'{"t": "\\ud800"}', "\ud800"),
        ('{"t": "x"}'.encode("utf-16"), "x"),
    ],
)
def test_what_orjson_refuses_the_standard_library_still_reads(body, expected):
    assert str(next(iter(loads(body).values()))) == expected


def test_what_is_not_json_is_a_value_error():
    with pytest.raises(ValueError):
        loads(b"<html>down</html>")
