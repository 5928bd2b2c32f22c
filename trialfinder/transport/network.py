"""Proxies and certificates as the platform has them, for every transport alike.

An institution's network usually reaches the internet through a proxy named in
``HTTPS_PROXY``/``HTTP_PROXY`` (lower-case too; lower-case wins, as in curl and
Python's urllib), with ``NO_PROXY`` listing the hosts reached directly, and
often inspects TLS with its own CA added to the system's store. This module
works both out once, in Python, and hands the answer to each transport
explicitly (the libraries' own reading of the environment differs: libcurl
ignores upper-case ``HTTP_PROXY``, aiohttp reads ``.netrc``), so the two
transports always go the same way.
"""

from __future__ import annotations

import functools
import os
import ssl
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit


def proxy_for(url: str, configured: str | None = None) -> str | None:
    """The proxy a request to ``url`` goes through, or None to go directly.

    ``configured`` (``[http] proxy``) wins over ``HTTP(S)_PROXY``/``ALL_PROXY``;
    a host that ``NO_PROXY`` names is reached directly either way.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if _bypassed(host, parts.port):
        return None
    if configured:
        return configured
    proxies = urllib.request.getproxies_environment()
    return proxies.get(parts.scheme) or proxies.get("all") or None


def _bypassed(host: str, port: int | None) -> bool:
    if not host:
        return False
    no_proxy = urllib.request.getproxies_environment().get("no")
    if not no_proxy:
        return False
    target = f"{host}:{port}" if port else host
    return bool(urllib.request.proxy_bypass_environment(target, {"no": no_proxy}))


def ssl_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """Verifying TLS against ``ca_bundle`` if given, else the system's store.

    The system's store is OpenSSL's default paths, which ``SSL_CERT_FILE`` and
    ``SSL_CERT_DIR`` override, as they do for every OpenSSL program. Made once per
    bundle (and those two variables) and shared, as a context may be: loading a store
    takes about 30 ms, and every registry and drug source opens a session per search.
    """
    return _context(ca_bundle, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=8)
def _context(ca_bundle: Path | None, _cert_file: str | None, _cert_dir: str | None):
    if ca_bundle is not None:
        return ssl.create_default_context(cafile=str(ca_bundle))
    return ssl.create_default_context()


def ca_file(ca_bundle: Path | None) -> str | None:
    """The one PEM file a curl-based transport should trust, chosen as OpenSSL would.

    ``ca_bundle`` if given, else ``SSL_CERT_FILE`` if it names a file, else the
    system's default bundle; None when there is none (curl-cffi then uses certifi's).
    """
    if ca_bundle is not None:
        return str(ca_bundle)
    candidates = [os.environ.get("SSL_CERT_FILE"), ssl.get_default_verify_paths().cafile]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate):
            return candidate
    return None
