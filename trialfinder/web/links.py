"""Where the server's own absolute links point: ``[server] public_url``, never a forged Host.

The Atom feed needs absolute ids and links, and the demo page's embed snippet
is copied to other sites; both are cached publicly. Taking their origin from
the request's Host header would let anyone who can send a request put their
own host into an answer that caches and readers keep. So the origin is, in
order: ``[server] public_url``; the request's Host, only if it is one of
``[server] allowed_hosts``; else the configured ``host:port``.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from aiohttp import web

from trialfinder.config import ServerSettings
from trialfinder.web.keys import SETTINGS


def origin(request: web.Request) -> str:
    """``scheme://host[:port]`` (with ``public_url``'s path, if it has one), no trailing /."""
    return origin_for(request.app[SETTINGS].server)(request)


def origin_for(server: ServerSettings) -> Callable[[web.Request], str]:
    """``origin`` for these settings, decided once: the memo asks it of every request."""
    if server.public_url:
        fixed = server.public_url.rstrip("/")
        return lambda request: fixed
    name = f"[{server.host}]" if ":" in server.host else server.host
    configured = f"http://{name}:{server.port}"
    allowed_hosts = list(server.allowed_hosts)
    if not allowed_hosts:
        return lambda request: configured

    def from_host(request: web.Request) -> str:
        host = request.headers.get("Host", "").strip().lower()
        if host and allowed(host, allowed_hosts):
            return f"{request.scheme}://{host}"
        return configured

    return from_host


def allowed(host: str, allowed_hosts: list[str]) -> bool:
    """Whether a Host header names one of ``allowed_hosts`` (an entry without a port
    allows any port of that name)."""
    name, port = _split(host)
    for entry in allowed_hosts:
        entry_name, entry_port = _split(entry.strip().lower())
        if entry_name == name and (not entry_port or entry_port == port):
            return True
    return False


def _split(host: str) -> tuple[str, str]:
    """``name:port`` or ``[v6]:port`` as (name, port); port may be empty."""
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1], host[end + 2 :]
    name, _, port = host.partition(":")
    return name, port


def widget_page(request: web.Request, typed: str) -> str:
    return f"{origin(request)}/widget/{quote(typed, safe='')}"
