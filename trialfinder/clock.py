"""The one clock: what time it is, in UTC.

Kept apart so that the store never reads the clock (every time it writes is
given to it), and so that code which decides by age has one place to ask.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
