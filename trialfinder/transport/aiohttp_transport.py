"""The default transport: aiohttp, with its TLS (Python's OpenSSL) and our body reader.

aiohttp's own inflating is turned off (``auto_decompress=False``) and only
gzip and deflate are asked for, so ``BodyReader`` counts the compressed bytes
as they arrive and inflates them in bounded steps. Proxies come from
``network.proxy_for`` per request (``trust_env`` stays off, so aiohttp does not
make a second, different choice from the environment).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import aiohttp
from yarl import URL

from trialfinder.transport import (
    HostNotFoundError,
    Reply,
    Request,
    TransportError,
    TransportTimeoutError,
)
from trialfinder.transport.body import ACCEPT_ENCODING, BodyReader
from trialfinder.transport.network import proxy_for, ssl_context

if TYPE_CHECKING:
    from trialfinder.config import HttpSettings


class AiohttpTransport:
    name = "aiohttp"

    def __init__(self, settings: HttpSettings, headers: Mapping[str, str]) -> None:
        self.settings = settings
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(
                total=settings.timeout_seconds,
                sock_connect=settings.connect_timeout_seconds,
                sock_read=settings.read_timeout_seconds,
            ),
            headers={**headers, "Accept-Encoding": ACCEPT_ENCODING},
            connector=aiohttp.TCPConnector(ssl=ssl_context(settings.ca_bundle)),
            auto_decompress=False,
            raise_for_status=False,
            trust_env=False,
        )

    async def send(self, request: Request) -> Reply:
        settings = self.settings
        proxy, proxy_auth = _split_credentials(proxy_for(request.url, settings.proxy))
        try:
            async with self._session.request(
                request.method,
                request.url,
                params=request.params,
                json=request.json,
                headers=request.headers,
                proxy=proxy,
                proxy_auth=proxy_auth,
            ) as response:
                reader = BodyReader(
                    settings.max_answer_bytes, response.headers.get("Content-Encoding")
                )
                async for chunk in response.content.iter_any():
                    reader.feed(chunk)
                body = reader.finish()
                headers = {name.lower(): value for name, value in response.headers.items()}
                return Reply(response.status, headers, body, self.name)
        except aiohttp.ConnectionTimeoutError:
            raise TransportTimeoutError(
                f"could not connect within {settings.connect_timeout_seconds:g} s"
            ) from None
        except aiohttp.SocketTimeoutError:
            raise TransportTimeoutError(
                f"sent nothing for {settings.read_timeout_seconds:g} s"
            ) from None
        except TimeoutError:
            raise TransportTimeoutError(
                f"no answer within {settings.timeout_seconds:g} s"
            ) from None
        except aiohttp.ClientConnectorDNSError as error:
            raise HostNotFoundError(_describe(error)) from None
        except aiohttp.ClientError as error:
            raise TransportError(_describe(error)) from None

    async def aclose(self) -> None:
        await self._session.close()


def _split_credentials(proxy: str | None) -> tuple[str | None, aiohttp.BasicAuth | None]:
    """A proxy URL without its user:password, and those as Basic auth for the proxy."""
    if proxy is None:
        return None, None
    url = URL(proxy)
    if url.user is None:
        return proxy, None
    auth = aiohttp.BasicAuth(url.user, url.password or "")
    return str(url.with_user(None)), auth


def _describe(error: aiohttp.ClientError) -> str:
    return str(error) or type(error).__name__
