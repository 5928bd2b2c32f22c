"""The browser-TLS transport: curl-cffi, shaking hands as Chrome does.

Some CDNs (ClinicalTrials.gov's, as a US government team's client found)
answer 403 to a client whose TLS ClientHello looks like Python's OpenSSL,
whatever its headers say. curl-cffi's ``impersonate="chrome"`` sends Chrome's
ClientHello (its cipher and extension order, GREASE values, ALPN), which such a
CDN lets through. Only the handshake is borrowed: requests still carry
trialfinder's own User-Agent, and the same proxy, CA bundle, timeouts and size
cap as the aiohttp transport.

libcurl inflates compressed bodies itself, 16 KB at a time, so the size cap is
counted on the inflated bytes (which are never fewer than the wire's).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING

from curl_cffi.requests import AsyncSession
from curl_cffi.requests import exceptions as curl_errors

from trialfinder.transport import (
    HostNotFoundError,
    Reply,
    Request,
    TransportError,
    TransportTimeoutError,
)
from trialfinder.transport.body import BodyReader
from trialfinder.transport.network import ca_file, proxy_for

if TYPE_CHECKING:
    from trialfinder.config import HttpSettings

IMPERSONATE = "chrome"


class BrowserTlsTransport:
    name = "browser-tls"

    def __init__(self, settings: HttpSettings, headers: Mapping[str, str]) -> None:
        self.settings = settings
        self._session = AsyncSession(
            impersonate=IMPERSONATE,
            headers=dict(headers),
            verify=ca_file(settings.ca_bundle) or True,
            trust_env=False,  # network.proxy_for has read the environment already
        )

    async def send(self, request: Request) -> Reply:
        settings = self.settings
        total = asyncio.timeout(settings.timeout_seconds)
        try:
            async with total:
                return await self._send(request)
        except TransportTimeoutError:
            raise
        except TimeoutError:
            raise TransportTimeoutError(
                f"no answer within {settings.timeout_seconds:g} s"
            ) from None
        except curl_errors.ConnectTimeout:
            raise TransportTimeoutError(
                f"could not connect within {settings.connect_timeout_seconds:g} s"
            ) from None
        except curl_errors.Timeout:
            raise TransportTimeoutError(
                f"sent nothing for {settings.read_timeout_seconds:g} s"
            ) from None
        except curl_errors.DNSError as error:
            raise HostNotFoundError(str(error)) from None
        except curl_errors.RequestException as error:
            raise TransportError(str(error) or type(error).__name__) from None

    async def _send(self, request: Request) -> Reply:
        settings = self.settings
        response = await self._session.request(
            request.method,  # type: ignore[arg-type]
            request.url,
            params=dict(request.params) if request.params else None,
            json=request.json,
            headers=dict(request.headers),
            proxy=proxy_for(request.url, settings.proxy),
            timeout=(settings.connect_timeout_seconds, settings.read_timeout_seconds),
            stream=True,
        )
        finished = False
        try:
            reader = BodyReader(settings.max_answer_bytes)
            chunks = aiter(response.aiter_content())
            while True:
                try:
                    async with asyncio.timeout(settings.read_timeout_seconds):
                        chunk = await anext(chunks, None)
                except TimeoutError:
                    raise TransportTimeoutError(
                        f"sent nothing for {settings.read_timeout_seconds:g} s"
                    ) from None
                if chunk is None:
                    break
                reader.inflated(chunk)
            finished = True
            headers = {name.lower(): value or "" for name, value in response.headers.items()}
            return Reply(response.status_code, headers, reader.finish(), self.name)
        finally:
            if finished:
                await response.aclose()
            else:
                await _abandon(response)

    async def aclose(self) -> None:
        await self._session.close()


async def _abandon(response) -> None:
    """Stop a transfer we will not read on (too big, stalled, cancelled).

    curl-cffi's own ``aclose`` waits for the transfer to end, while libcurl keeps
    queueing what arrives, unread: an oversized answer would then be received
    whole after all. ``quit_now`` makes libcurl's next write fail, and cancelling
    the transfer's task takes the handle out of curl's loop at once.
    """
    if response.quit_now is not None:
        response.quit_now.set()
    task = response.astream_task
    if task is not None and not task.done():
        task.cancel()
        await asyncio.wait([task])
