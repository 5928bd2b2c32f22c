"""JSON out: one encoder for every answer, the CLI's and the API's.

orjson, not the standard library: it encodes a big answer (a trial with a
thousand sites) several times faster, in C, and writes UTF-8 bytes directly,
which is what an HTTP body and a stored answer are. Output keeps keys in the
order given and non-ASCII text as it is.
"""

from __future__ import annotations

from typing import Any

import orjson


def dumps(data: Any) -> bytes:
    """Compact JSON, as UTF-8 bytes: for HTTP bodies and what is stored."""
    return orjson.dumps(data)


def dumps_pretty(data: Any) -> str:
    """Indented JSON with a final newline, as text: for people and pipes (the CLI)."""
    return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE).decode()
