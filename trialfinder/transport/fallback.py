"""Which hosts get the browser-TLS transport: those whose CDN refused Python's TLS.

In ``auto`` mode a request goes out on aiohttp. An HTTPS answer of 403 with an
HTML page (a CDN's refusal page, not the API's own error) may be a refusal of
the TLS fingerprint; the request is then tried once more through the
browser-TLS transport. If that one is not refused, the host is remembered for
the rest of the process (every registry client, every event loop) and every
later request to it goes that way at once, and this is said once on stderr,
so a user knows why a different client is in use.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit

from trialfinder.transport import Reply

log = logging.getLogger("trialfinder.http")

_BROWSER_HOSTS: set[str] = set()
_LOCK = threading.Lock()


def origin(url: str) -> str:
    """``scheme://host:port`` of ``url``: what is remembered."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def uses_browser_tls(url: str) -> bool:
    with _LOCK:
        return origin(url) in _BROWSER_HOSTS


def looks_like_a_tls_refusal(reply: Reply, url: str) -> bool:
    """403 with an HTML page, over HTTPS: a fingerprint is only seen in a TLS handshake."""
    if reply.status != 403 or urlsplit(url).scheme != "https":
        return False
    return "html" in reply.content_type.lower() or bytes(reply.body[:64]).lstrip()[:1] == b"<"


def remember(url: str, registry: str) -> None:
    """Send every later request to ``url``'s host through browser-TLS; say so once."""
    key = origin(url)
    with _LOCK:
        if key in _BROWSER_HOSTS:
            return
        _BROWSER_HOSTS.add(key)
    log.warning(
        "%s: %s refused trialfinder's usual TLS client (HTTP 403, an HTML page) and let a "
        "browser-like one through; using that one for %s from now on "
        '(set [http] transport = "browser-tls" to start with it, or "aiohttp" to never switch)',
        registry,
        urlsplit(url).hostname,
        urlsplit(url).hostname,
    )


def forget() -> None:
    """Forget every remembered host (for tests)."""
    with _LOCK:
        _BROWSER_HOSTS.clear()
