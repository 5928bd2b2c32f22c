"""Helpers for tests of the web app: a config with a [server] section, and the app served.

Not a stand-in itself: it points trialfinder's web app at the stand-ins. Async
tests start the stand-ins with ``aiohttp_server`` on the test's own loop; tests
that drive the app from another thread (Schemathesis, a browser) serve it with
``serve_in_thread``, where its Store is opened on that thread's loop.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.conftest import write_config
from tests.standins.server import serve_in_thread
from trialfinder.config import Settings, load_settings

# Rate limits and fetch budgets off unless a test asks: most tests send many requests,
# about many drugs, from one address.
DEFAULT_SERVER = {"rate_limit_per_minute": 0, "fetches_per_client_per_hour": 0}


def _toml(value: Any) -> str:
    return json.dumps(value)  # strings, numbers, booleans and lists of strings read the same


def web_settings(
    folder: Path,
    ctgov_url: str,
    drug_urls: dict[str, str] | None,
    *,
    retries: int = 0,
    refresh: dict[str, Any] | None = None,
    registry_urls: dict[str, str] | None = None,
    store_url: str | None = None,
    **server: Any,
) -> Settings:
    """Settings aimed at the stand-ins, with ``[server]`` (and ``[refresh]``) keys as given;
    registries other than ClinicalTrials.gov are asked only if ``registry_urls`` names them."""
    path = write_config(
        folder,
        ctgov_url,
        drug_urls=drug_urls,
        retries=retries,
        registry_urls=registry_urls,
        store_url=store_url,
    )
    values = {**DEFAULT_SERVER, **server}
    section = "\n[server]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in values.items())
    if refresh:
        section += "\n[refresh]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in refresh.items())
    path.write_text(path.read_text(encoding="utf-8") + section, encoding="utf-8")
    return load_settings(path)


@contextlib.contextmanager
def serve_app(settings: Settings) -> Iterator[str]:
    """trialfinder's web app on 127.0.0.1 in a thread; yields its base URL."""
    from trialfinder.web import create_app

    with serve_in_thread(create_app(settings)) as base:
        yield base
