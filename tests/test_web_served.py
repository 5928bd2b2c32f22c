"""API answers stored ready to serve (``web.served``): a repeated URL is one read, and only
while the answer it keeps is still the answer."""

from __future__ import annotations

import asyncio
import gzip
import sqlite3

import pytest

from tests.standins.webapp import web_settings
from trialfinder.store import served
from trialfinder.web import create_app
from trialfinder.web.keys import SERVICE
from trialfinder.web.served import ServedAnswers

TRIALS = "/api/v1/drugs/blinatumomab/trials?status=all"


@pytest.fixture
async def client(aiohttp_client, aiohttp_server, tmp_path, ctgov_standin):
    ctgov = await aiohttp_server(ctgov_standin.app())
    settings = web_settings(tmp_path, str(ctgov.make_url("/api/v2")), None, memo_seconds=0)
    return await aiohttp_client(create_app(settings))


async def ask(client, path=TRIALS, **headers):
    response = await client.get(path, headers=headers)
    assert response.status in (200, 304), await response.text()
    await asyncio.gather(*client.server.app[SERVICE].served._keeping)  # what it kept, landed
    return response, await response.read()


def cache_of(client) -> sqlite3.Connection:
    return sqlite3.connect(client.server.app[SERVICE].settings.cache.path)


def worked_out_never(client, monkeypatch) -> None:
    async def no(*args, **kwargs):
        raise AssertionError("worked out, not read whole")

    monkeypatch.setattr(client.server.app[SERVICE], "search", no)


async def test_a_cache_hit_is_kept_and_the_same_url_is_answered_with_it(client, monkeypatch):
    fetched, _ = await ask(client)
    assert fetched.headers["X-Cache"] == "miss"
    hit, body = await ask(client)  # worked out from the cache, and kept
    assert hit.headers["X-Cache"] == "hit"
    with cache_of(client) as conn:
        assert conn.execute("SELECT count(*) FROM served_answers").fetchone()[0] == 1
    worked_out_never(client, monkeypatch)
    again, same = await ask(client)
    assert same == body and again.headers["ETag"] == hit.headers["ETag"]
    assert again.headers["X-Cache"] == "hit"
    assert again.headers["Cache-Control"] == hit.headers["Cache-Control"]
    zipped, _ = await ask(client, **{"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"  # aiohttp's client unzipped it
    unchanged, nothing = await ask(client, **{"If-None-Match": hit.headers["ETag"]})
    assert unchanged.status == 304 and nothing == b""
    # Another URL is another answer: worked out (here it fails: ``search`` is gone).
    other = await client.get(TRIALS + "&phase=3")
    assert other.status == 500


async def test_a_change_to_the_cache_is_seen_at_once(client):
    await ask(client)
    _, before = await ask(client)
    with cache_of(client) as conn:
        conn.execute("UPDATE searches SET total = total + 1")  # any change counts
    response, after = await ask(client)
    assert response.headers["X-Cache"] == "hit"  # worked out again, from the changed cache
    assert after != before
    _, kept_again = await ask(client)
    assert kept_again == after


async def test_an_answer_read_before_a_change_is_not_kept(tmp_path):
    from trialfinder.store import Store

    with Store.open(tmp_path / "c.sqlite") as store:
        conn = store.conn
        _, read_at = served.lookup(conn, "k", 0.0)
        conn.execute("UPDATE cache_generation SET n = n + 1")  # a write landed meanwhile
        answer = served.ServedAnswer('W/"x"', "blinatumomab", b"{}", None)
        assert not served.keep(conn, "k", read_at, 2e9, answer)
        assert served.lookup(conn, "k", 0.0)[0] is None
        _, now_at = served.lookup(conn, "k", 0.0)
        assert served.keep(conn, "k", now_at, 2e9, answer)
        found, _ = served.lookup(conn, "k", 0.0)
        assert found.body == b"{}" and served.lookup(conn, "k", 2e9 + 1)[0] is None


async def test_another_configuration_keeps_its_own_answers(client):
    service = client.server.app[SERVICE]
    settings = service.settings
    shorter = settings.server.model_copy(update={"max_age_seconds": 1})
    other = settings.model_copy(update={"server": shorter})
    assert ServedAnswers(other, service.pool).prefix != service.served.prefix
    assert ServedAnswers(settings, service.pool).prefix == service.served.prefix


async def test_the_kept_gzip_is_the_body(client):
    await ask(client)
    await ask(client)
    with cache_of(client) as conn:
        body, zipped = conn.execute("SELECT body, gzipped FROM served_answers").fetchone()
    assert gzip.decompress(zipped) == body


async def test_lookups_that_arrive_together_share_one_reader_call(client, monkeypatch):
    paths = [TRIALS, f"{TRIALS}&phase=3", f"{TRIALS}&phase=2"]
    for path in paths:
        await ask(client, path)  # fetched (each fetch changes the cache: kept answers go)
    for path in paths:
        await ask(client, path)  # kept
    service = client.server.app[SERVICE]
    calls = []
    read = service.pool.read

    async def counted(fn, *args, **kwargs):
        calls.append(fn)
        return await read(fn, *args, **kwargs)

    monkeypatch.setattr(service.pool, "read", counted)
    worked_out_never(client, monkeypatch)
    answers = await asyncio.gather(*(ask(client, path) for path in paths * 3))
    assert all(response.status == 200 for response, _ in answers)
    assert len(calls) < len(answers)  # nine requests, fewer reads (one a turn of the loop)
