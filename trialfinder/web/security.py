"""Headers that keep registry text inert wherever it lands, and who may frame what.

Registry text is data, never markup: templates escape it, the widget sets it
with ``textContent``, and every answer says ``nosniff`` so that no browser
guesses JSON into HTML. Each HTML page carries a Content-Security-Policy that
allows only what that page needs; JSON answers allow nothing at all.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping

# An answer that is not a page: nothing may run, load or frame it.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
_PAGE_BASE = "default-src 'none'; base-uri 'none'; form-action 'none'"
# A frame-ancestors source: a scheme, host (maybe wildcarded) and port, or a keyword.
_SOURCE = re.compile(r"^(\*|'self'|'none'|[a-z][a-z0-9+.-]*:|[a-z][a-z0-9+.-]*://[^\s;,'\"]+)$")


def frame_ancestors(configured: list[str]) -> str:
    """The configured sources, minus any that could smuggle in another directive."""
    sources = [s for s in configured if _SOURCE.match(s.strip().lower())]
    return " ".join(s.strip() for s in sources) or "'none'"


def widget_page_csp(configured_ancestors: list[str]) -> str:
    """The server-rendered widget: its own stylesheet, nothing else; framed by whom config says."""
    return (
        f"{_PAGE_BASE}; style-src 'self'; img-src 'self'; "
        f"frame-ancestors {frame_ancestors(configured_ancestors)}"
    )


def demo_page_csp() -> str:
    """The demo drug page runs the widget as any host page would: script and API, same origin."""
    return (
        f"{_PAGE_BASE}; script-src 'self'; connect-src 'self'; style-src 'self'; "
        "img-src 'self'; frame-ancestors 'self'"
    )


def docs_page_csp() -> str:
    return f"{_PAGE_BASE}; style-src 'self'; frame-ancestors 'self'"


def safe_url(url: str | None) -> str | None:
    """A link target only if it is http(s): a registry must never hand us ``javascript:``."""
    if (
        url
        and url.lower().startswith(("https://", "http://"))
        and not any(c.isspace() or ord(c) < 32 for c in url)
    ):
        return url
    return None


def decorate(headers: MutableMapping[str, str]) -> None:
    """Headers every answer carries; a page's own CSP, set by its handler, is kept."""
    headers["X-Content-Type-Options"] = "nosniff"
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("Content-Security-Policy", API_CSP)
