"""Shared fixtures: stand-in registries on 127.0.0.1 and configs that point at them."""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.standins.ctgov import CtgovStandin
from tests.standins.ctis import CtisStandin
from tests.standins.drugs import DrugStandins
from tests.standins.isrctn import IsrctnStandin
from tests.standins.nci_cts import NciCtsStandin
from tests.standins.server import serve_in_thread
from trialfinder.config import Settings, load_settings

REFERENCE = Path(__file__).resolve().parent.parent.parent / "shared" / "reference"

# Fast retries: tests check that backoff happens, not how long it takes.
FAST_HTTP = {
    "user_agent": "trialfinder-tests/1.0 (+https://example.org/trialfinder)",
    "timeout_seconds": 5.0,
    "max_retries": 3,
    "backoff_base_seconds": 0.01,
    "backoff_max_seconds": 0.05,
    "max_retry_after_seconds": 5,
}


def cli_runner(capsys, config: Path):
    """trialfinder's CLI run in-process with ``config``: ``run(*args)`` gives
    (exit code, stdout, stderr)."""
    from trialfinder.cli import main

    def run(*args: str):
        with pytest.raises(SystemExit) as exited:
            main(["--config", str(config), *args])
        out, err = capsys.readouterr()
        return exited.value.code, out, err

    return run


def cache_at_version(path: Path, version: int):
    """A cache file as trialfinder wrote it at schema ``version`` (open: close it after)."""
    import sqlite3

    from trialfinder.store.connection import write_transaction
    from trialfinder.store.schema import MIGRATIONS

    conn = sqlite3.connect(path, isolation_level=None)
    for number, migration in enumerate(MIGRATIONS[:version], start=1):
        with write_transaction(conn, lock_wait=1):
            migration(conn)
            conn.execute(f"PRAGMA user_version = {number}")
    return conn


def fast_settings(*, retries: int = 3, **sections) -> Settings:
    """Settings with fast retries and the given sections (``registries={...}``)."""
    return Settings.model_validate({"http": {**FAST_HTTP, "max_retries": retries}, **sections})


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """No test reaches the network: a name that is not this machine does not resolve."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name != "localhost":
            try:
                loopback = ipaddress.ip_address(name).is_loopback
            except ValueError:
                loopback = False
            if not loopback:
                raise socket.gaierror(socket.EAI_NONAME, f"tests stay on 127.0.0.1, not {name}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
async def registry_client():
    """Opens registry clients (``await registry_client(Kind, settings)``), closed after."""
    async with contextlib.AsyncExitStack() as stack:

        async def open_client(kind, settings: Settings, **options):
            http = await stack.enter_async_context(kind.client_for(settings))
            return kind(settings, http, **options)

        yield open_client


def write_config(
    folder: Path,
    base_url: str,
    *,
    retries: int = 3,
    timeout: float = 5.0,
    rate: float = 1000.0,
    page_size: int = 1000,
    ttl_hours: float = 24.0,
    cache_path: str = "cache/test.sqlite",
    drug_urls: dict[str, str] | None = None,
    drug_timeout: float = 2.0,
    registry_urls: dict[str, str] | None = None,
    nci_cts_key: str | None = None,
    store_url: str | None = None,
) -> Path:
    """Write a config.toml in ``folder`` aimed at stand-ins; return its path.

    ``drug_urls`` (from ``DrugStandins.base_urls``) points the drug sources at
    stand-ins; without it they are disabled, so nothing leaves the machine. Only
    ClinicalTrials.gov is searched unless ``registry_urls`` names other stand-ins.
    ``store_url`` puts the store on a PostgreSQL server instead of the SQLite file.
    """
    path = folder / "config.toml"
    text = (
        f'[cache]\npath = "{cache_path}"\nttl_hours = {ttl_hours}\n\n[http]\n'
        + "".join(
            f"{key} = {json.dumps(value)}\n"
            for key, value in {
                **FAST_HTTP,
                "timeout_seconds": timeout,
                "max_retries": retries,
            }.items()
        )
        + "\n[registries]\nenabled = ["
        + ", ".join(f'"{name}"' for name in ["ctgov", *(registry_urls or {})])
        + "]\n"
        + f'\n[registries.ctgov]\nbase_url = "{base_url}"\n'
        f"requests_per_second = {rate}\npage_size = {page_size}\n"
        f"\n[drugs]\ntimeout_seconds = {drug_timeout}\nmax_retries = 1\n"
    )
    for registry, url in (registry_urls or {}).items():
        text += f'\n[registries.{registry}]\nbase_url = "{url}"\nrequests_per_second = {rate}\n'
        if registry == "nci_cts" and nci_cts_key:
            text += f'api_key = "{nci_cts_key}"\n'
    for source in ("nci_drug_dictionary", "nci_evs", "rxnav", "openfda"):
        text += f"\n[drugs.{source}]\n"
        if drug_urls:
            text += f'base_url = "{drug_urls[source]}"\nrequests_per_second = {rate}\n'
        else:
            text += "enabled = false\n"
    if store_url:
        text += f'\n[store]\nurl = "{store_url}"\n'
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def ctgov_standin() -> CtgovStandin:
    return CtgovStandin()


@pytest.fixture
def ctgov_url(ctgov_standin: CtgovStandin) -> Iterator[str]:
    """The stand-in served from a thread: for the CLI, which runs its own loop."""
    with serve_in_thread(ctgov_standin.app()) as base:
        yield f"{base}/api/v2"


@pytest.fixture
def drug_standins() -> DrugStandins:
    return DrugStandins()


@pytest.fixture
def drug_urls(drug_standins: DrugStandins) -> Iterator[dict[str, str]]:
    """The drug-source stand-ins served from a thread."""
    with serve_in_thread(drug_standins.app()) as base:
        yield drug_standins.base_urls(base)


@pytest.fixture
def config_path(tmp_path: Path, ctgov_url: str, drug_urls: dict[str, str]) -> Path:
    return write_config(tmp_path, ctgov_url, drug_urls=drug_urls)


@pytest.fixture
def settings(config_path: Path) -> Settings:
    return load_settings(config_path)


@pytest.fixture
def reference_dir() -> Path:
    if not REFERENCE.is_dir():
        pytest.skip("../shared/reference is absent (as on a user's clone)")
    return REFERENCE


@pytest.fixture
def make_client(aiohttp_client, aiohttp_server, tmp_path, ctgov_standin, drug_standins):
    """A test client of trialfinder's web app against the stand-ins, on the test's loop;
    ``[server]`` keys as given, and any extra cleanup contexts."""
    from tests.standins.webapp import web_settings
    from trialfinder.web import create_app

    async def make(contexts=(), store_url=None, **server):
        ctgov = await aiohttp_server(ctgov_standin.app())
        drugs = await aiohttp_server(drug_standins.app())
        settings = web_settings(
            tmp_path,
            str(ctgov.make_url("/api/v2")),
            drug_standins.base_urls(str(drugs.make_url("/"))),
            store_url=store_url,
            **server,
        )
        return await aiohttp_client(create_app(settings, contexts))

    return make


# The other registries' stand-ins, served from threads (for the CLI).


@pytest.fixture
def ctis() -> CtisStandin:
    return CtisStandin()


@pytest.fixture
def isrctn() -> IsrctnStandin:
    return IsrctnStandin()


@pytest.fixture
def nci() -> NciCtsStandin:
    return NciCtsStandin()


@pytest.fixture
def registry_urls(ctis, isrctn, nci) -> Iterator[dict[str, str]]:
    with (
        serve_in_thread(ctis.app()) as ctis_base,
        serve_in_thread(isrctn.app()) as isrctn_base,
        serve_in_thread(nci.app()) as nci_base,
    ):
        yield {
            "ctis": f"{ctis_base}/ctis-public-api",
            "isrctn": f"{isrctn_base}/api",
            "nci_cts": f"{nci_base}/api/v2",
        }


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server for the session (``tests/postgres_server.py``); skips
    where the machine has none."""
    from tests.postgres_server import running_server, why_not

    reason = why_not()
    if reason is not None:
        pytest.skip(reason)
    with running_server() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_template(postgres_url) -> str:
    """A database migrated to the current schema, which each test's database copies
    (CREATE DATABASE ... TEMPLATE: far quicker than migrating each)."""
    from tests.postgres_server import create_database
    from trialfinder.store import Store

    Store.open(create_database(postgres_url, "tf_template")).close()
    return "tf_template"


_databases = itertools.count(1)


@pytest.fixture
def postgres_store_url(postgres_url, postgres_template) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database of its own for one test; its URL."""
    from tests.postgres_server import create_database, drop_database

    name = f"tf_test_{os.getpid()}_{next(_databases)}"
    url = create_database(postgres_url, name, template=postgres_template)
    yield url
    drop_database(postgres_url, name)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_place(request, tmp_path) -> Path | str:
    """Where a test's store is, once on each engine: a SQLite file, then a PostgreSQL
    database (skipped where the machine has no PostgreSQL)."""
    if request.param == "sqlite":
        return tmp_path / "cache.sqlite"
    return request.getfixturevalue("postgres_store_url")
