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
        (b'{"t": "\\ud800"}', "\ufffd"),  # no character: replaced, see below
        ('{"t": "x"}'.encode("utf-16"), "x"),
    ],
)
def test_what_orjson_refuses_the_standard_library_still_reads(body, expected):
    assert str(next(iter(loads(body).values()))) == expected


def test_what_is_not_json_is_a_value_error():
    with pytest.raises(ValueError):
        loads(b"<html>down</html>")


def test_a_lone_surrogate_becomes_a_replacement_character_wherever_it_is():
    body = b'{"a": [{"t\\udc00": "x\\ud800y", "ok": "\\ud83d\\ude00"}], "n": NaN}'
    decoded = loads(body)
    assert decoded["a"] == [{"t\ufffd": "x\ufffdy", "ok": "\U0001f600"}]  # a pair stays
    assert "\ufffd" in loads(b'["\\udfff"]')[0]
    assert loads(b'{"x": "\\ud800"}')["x"].encode("utf-8") == "\ufffd".encode()


def test_json_nested_beyond_reading_is_a_value_error_not_a_recursion_error():
    with pytest.raises(ValueError, match="nested too deeply"):
        loads(b"[" * 100_000 + b"]" * 100_000)
