"""``trialfinder doctor``: can this machine reach each registry and drug source, and if not, why.

A search that cannot reach a registry can only say what the last attempt met
("cannot find the host"). A person fixing it needs the whole path, step by
step, for every service at once: does the name resolve, does a connection
open, does TLS verify, is a proxy in the way, does the service answer a real
(tiny) question, and how fast. Each step that fails comes with what to do.

The steps below the HTTP one are plain socket work (the same proxy and
certificate rules as the transports: ``transport.network``); the last one asks
the registry's own client (``Registry.probe``) or the drug source's
(``lookup``), through the same polite client a search uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from trialfinder.config import Settings
from trialfinder.errors import TrialfinderError
from trialfinder.registries import LABELS
from trialfinder.resolve_online import source_http, source_kinds
from trialfinder.transport.network import proxy_for, ssl_context

# Each socket step gives up after this long.
STEP_SECONDS = 10.0
# The HTTP step: one polite attempt, bounded.
PROBE_SECONDS = 30.0


@dataclass
class Check:
    """What one service's path looks like from here."""

    label: str
    url: str
    proxy: str | None = None
    steps: list[str] = field(default_factory=list)  # what went well, in order
    problem: str | None = None  # the first step that failed, and why
    advice: str | None = None  # what to do about it
    skipped: str | None = None  # not checked, and why (off, no key)
    milliseconds: float | None = None  # the real question's round trip
    over_http: bool = True  # False for the store: no proxy, no route to tell

    @property
    def ok(self) -> bool:
        return self.problem is None


async def check_everything(settings: Settings) -> list[Check]:
    """The store, then every enabled registry and drug source, checked at the same time."""
    targets = _targets(settings)
    return list(
        await asyncio.gather(
            asyncio.to_thread(check_store, settings),
            *(_check(settings, *target) for target in targets),
        )
    )


def check_store(settings: Settings) -> Check:
    """Can the store be opened (created, migrated) and read, and what is it."""
    from trialfinder.store.connection import public_url
    from trialfinder.store.schema import schema_version
    from trialfinder.store.store import Store

    check = Check("Store", public_url(str(settings.store_place)), over_http=False)
    started = time.perf_counter()
    try:
        with Store.open_configured(settings) as store:
            check.url = store.place
            version = schema_version(store.conn)
            if store.engine == "postgresql":
                server = store.conn.execute("SHOW server_version").fetchone()[0]
                check.steps.append(f"PostgreSQL {server} answered")
            else:
                check.steps.append("SQLite file opened")
    except TrialfinderError as error:
        return _failed(check, str(error), _STORE_ADVICE)
    except Exception as error:  # whatever it is, the store cannot be used: say so, go on
        return _failed(check, f"{type(error).__name__}", _STORE_ADVICE)
    check.milliseconds = (time.perf_counter() - started) * 1000
    check.steps.append(f"schema version {version}, opened in {check.milliseconds:.0f} ms")
    return check


_STORE_ADVICE = (
    "check [store] url (host, port, database, user; a password may go in "
    "$TRIALFINDER_STORE_URL) and that the server accepts this machine, or [cache] path"
)


def _targets(settings: Settings) -> list[tuple[str, str, Callable[[], Awaitable[None]] | None]]:
    """(label, base URL, the real question to ask, or None if it is not to be asked)."""
    from trialfinder.search import open_registry

    def registry_probe(name: str) -> Callable[[], Awaitable[None]]:
        async def probe() -> None:
            async with open_registry(settings, name) as client:
                await client.probe()

        return probe

    found = []
    for name in settings.registries.enabled:
        section = getattr(settings.registries, name)
        probe = registry_probe(name)
        if name == "nci_cts" and not section.api_key:
            probe = None
        found.append((LABELS[name], section.base_url, probe))
    for kind, section, extra in source_kinds(settings).values():
        if section.enabled:
            found.append(
                (kind.label, section.base_url, _source_probe(settings, kind, section, extra))
            )
    return found


def _source_probe(settings: Settings, kind: type, section, extra: dict):
    async def probe() -> None:
        async with source_http(settings, kind, section) as http:
            await kind(section.base_url, http, **extra).lookup("aspirin")

    return probe


async def _check(
    settings: Settings, label: str, url: str, probe: Callable[[], Awaitable[None]] | None
) -> Check:
    check = Check(label, url, proxy=proxy_for(url, settings.http.proxy))
    if probe is None:
        check.skipped = "off: no API key (TRIALFINDER_NCI_CTS_API_KEY); not checked"
        return check
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    host = parts.hostname or ""
    port = parts.port or (443 if secure else 80)
    if check.proxy is not None:
        proxy = urlsplit(check.proxy)
        # Through a proxy, this machine resolves and reaches the proxy; the proxy does the rest.
        reached = await _reach(check, proxy.hostname or "", proxy.port or 3128, "the proxy")
        if not reached:
            return check
    else:
        if not await _reach(check, host, port, host):
            return check
        if secure and not await _tls(check, host, port, settings):
            return check
    started = time.perf_counter()
    try:
        async with asyncio.timeout(PROBE_SECONDS):
            await probe()
    except TimeoutError:
        return _failed(check, f"no answer within {PROBE_SECONDS:g} s", _SLOW)
    except TrialfinderError as error:
        return _failed(check, str(error), _advice_for_http(str(error)))
    check.milliseconds = (time.perf_counter() - started) * 1000
    check.steps.append(f"answered in {check.milliseconds:.0f} ms")
    return check


async def _reach(check: Check, host: str, port: int, what: str) -> bool:
    """DNS and a TCP connection to ``host:port``, each a step of ``check``."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(STEP_SECONDS):
            addresses = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError) as error:
        _failed(check, f"cannot resolve {host} ({_why(error)})", _advice_dns(what, check))
        return False
    address = addresses[0][4][0]
    check.steps.append(f"{host} is {address}")
    try:
        async with asyncio.timeout(STEP_SECONDS):
            _, writer = await asyncio.open_connection(address, port)
    except (OSError, TimeoutError) as error:
        _failed(check, f"cannot connect to {host}:{port} ({_why(error)})", _advice_connect(what))
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    check.steps.append(f"connected to port {port}")
    return True


async def _tls(check: Check, host: str, port: int, settings: Settings) -> bool:
    context = ssl_context(settings.http.ca_bundle)
    try:
        async with asyncio.timeout(STEP_SECONDS):
            _, writer = await asyncio.open_connection(host, port, ssl=context, server_hostname=host)
    except ssl.SSLCertVerificationError as error:
        _failed(check, f"TLS certificate not trusted ({error.verify_message})", _TLS_TRUST)
        return False
    except (OSError, TimeoutError) as error:
        _failed(check, f"TLS handshake failed ({_why(error)})", _TLS_OTHER)
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    check.steps.append("TLS verified")
    return True


def _failed(check: Check, problem: str, advice: str) -> Check:
    check.problem, check.advice = problem, advice
    return check


def _why(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return f"no answer within {STEP_SECONDS:g} s"
    return str(error) or type(error).__name__


def _advice_dns(what: str, check: Check) -> str:
    if check.proxy is not None:
        return "check the proxy's name in HTTPS_PROXY / HTTP_PROXY or [http] proxy"
    return (
        f"this machine cannot look up {what}: check the network, or, if traffic must go "
        "through a proxy, set HTTPS_PROXY (or [http] proxy in config.toml)"
    )


def _advice_connect(what: str) -> str:
    if what == "the proxy":
        return "the proxy is down or refuses this machine: check its address and port"
    return (
        "a firewall may block it: on a network that only lets traffic out through a proxy, "
        "set HTTPS_PROXY (or [http] proxy in config.toml)"
    )


_TLS_TRUST = (
    "a network that inspects TLS signs with its own CA: set [http] ca_bundle (or "
    "SSL_CERT_FILE) to a PEM file that holds it"
)
_TLS_OTHER = "TLS is blocked or broken on the way: try [http] proxy, or ask the network's admins"
_SLOW = (
    "the service is slow or hangs: try again later; [http] read_timeout_seconds bounds each read"
)


def _advice_for_http(message: str) -> str:
    if "403" in message or "refused" in message:
        return (
            'the service refuses this client: [http] transport = "browser-tls" gets through '
            'a CDN that refuses by TLS fingerprint ("auto", the default, tries it by itself)'
        )
    if "429" in message or "throttled" in message:
        return "throttled: lower requests_per_second for it in config.toml, and try later"
    if "401" in message or "Unauthorized" in message or "key" in message.casefold():
        return "the API key is missing or wrong: check it in config.toml or its variable"
    if "HTML" in message or "not JSON" in message or "not XML" in message:
        return (
            "something answers in the service's place (a maintenance page, a proxy's login "
            "page, a captive portal): open the address in a browser from this machine"
        )
    return "the service is failing: try again later; if it lasts, check its status page"
