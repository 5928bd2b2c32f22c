"""Query parameters: bounded, typed, and named in the error when wrong.

Every request is checked for size before any handler runs (a long query string
or a pile of parameters is a 400, not work), and each endpoint then reads only
the parameters it documents: an unknown or repeated one is a 400 that names
it, so a typo never silently changes an answer.
"""

from __future__ import annotations

import base64
import binascii
import math
import re

from aiohttp import web

from trialfinder.web.errors import ApiError

MAX_PATH_CHARS = 512
MAX_QUERY_CHARS = 1024
MAX_PARAMETERS = 12
MAX_VALUE_CHARS = 300


def bad(message: str) -> ApiError:
    return ApiError(400, "bad_input", message)


def check_size(request: web.Request) -> None:
    """Refuse a request too big to be a real question, before any work is done."""
    query_string = request.query_string
    if len(request.raw_path) - len(query_string) > MAX_PATH_CHARS + 1:  # +1: the "?"
        raise bad(f"the path is longer than {MAX_PATH_CHARS} characters")
    if not query_string:
        return
    if len(query_string) > MAX_QUERY_CHARS:
        raise bad(f"the query string is longer than {MAX_QUERY_CHARS} characters")
    if len(request.query) > MAX_PARAMETERS:
        raise bad(f"more than {MAX_PARAMETERS} query parameters")


class Params:
    """The query parameters of one request, read against the endpoint's allowed names."""

    def __init__(self, request: web.Request, allowed: frozenset[str]) -> None:
        query = self.query = request.query
        if not request.query_string:
            return
        unknown = sorted(set(query) - allowed)
        if unknown:
            names = ", ".join(sorted(allowed)) or "none"
            raise bad(f"unknown parameter {unknown[0]!r}; this endpoint takes: {names}")
        for name in query:
            if len(query.getall(name)) > 1:
                raise bad(f"parameter {name!r} is given more than once")
            if len(query[name]) > MAX_VALUE_CHARS:
                raise bad(f"parameter {name!r} is longer than {MAX_VALUE_CHARS} characters")

    def text(self, name: str) -> str | None:
        value = self.query.get(name)
        return value if value is None or value.strip() else None

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.text(name)
        if value is None:
            return default
        if not re.fullmatch(r"\d{1,9}", value.strip()):
            raise bad(f"{name} must be a whole number from {low} to {high}")
        number = int(value)
        if not low <= number <= high:
            raise bad(f"{name} must be a whole number from {low} to {high}")
        return number

    def number(self, name: str, low: float, high: float) -> float | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            number = float(value)
        except ValueError:
            raise bad(f"{name} must be a number from {low:g} to {high:g}") from None
        if not (math.isfinite(number) and low <= number <= high):
            raise bad(f"{name} must be a number from {low:g} to {high:g}")
        return number

    def boolean(self, name: str) -> bool:
        value = (self.text(name) or "false").strip().lower()
        if value not in ("true", "false", "1", "0"):
            raise bad(f"{name} must be true or false")
        return value in ("true", "1")

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = (self.text(name) or default).strip().lower()
        if value not in choices:
            raise bad(f"{name} must be one of: {', '.join(choices)}")
        return value


def encode_cursor(offset: int) -> str:
    """An opaque paging cursor: clients pass back what they were given."""
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise bad("cursor is not one this server gave out") from None
    match = re.fullmatch(r"o:(\d{1,7})", text)
    if not match:
        raise bad("cursor is not one this server gave out")
    return int(match.group(1))
