"""The memo of finished answers: served before any handler, the same bytes and headers.

A memoised answer must be indistinguishable from the handler's (but for
``X-Cache`` and ``Date``): the same ETag, Cache-Control, CORS and security
headers, 304 to its ETag, gzip only when accepted. It must never answer a
question it was not asked (another query string, another Host, another
Origin when CORS is a list), never keep an error, forget entries when they
age or when new data is stored, and never let a client past its rate limit.
"""

from __future__ import annotations

import gzip

import pytest

from trialfinder.store import Store
from trialfinder.store.rendered import generation
from trialfinder.web.keys import ANSWERS, SERVICE

TRIALS = "/api/v1/drugs/blinatumomab/trials"
# Headers that differ between two answers made at different moments, by design.
MOMENTARY = {"Date", "X-Cache"}


@pytest.fixture
async def client(make_client):
    return await make_client()


def lasting(headers) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k not in MOMENTARY}


async def fetch(client, path: str, **headers: str):
    response = await client.get(path, headers=headers, auto_decompress=False)
    return response, await response.read()


@pytest.mark.parametrize("encoding", ["gzip", "identity"])
async def test_a_memoised_answer_is_the_handlers_answer(client, encoding):
    first, body = await fetch(client, TRIALS, **{"Accept-Encoding": encoding})
    second, again = await fetch(client, TRIALS, **{"Accept-Encoding": encoding})
    assert first.headers["X-Cache"] == "miss" and second.headers["X-Cache"] == "memo"
    assert again == body
    assert lasting(second.headers) == lasting(first.headers)
    assert ("Content-Encoding" in second.headers) is (encoding == "gzip")
    assert second.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert second.headers["X-Content-Type-Options"] == "nosniff"


async def test_the_memo_answers_304_and_chooses_gzip_per_request(client):
    _, plain = await fetch(client, TRIALS, **{"Accept-Encoding": "identity"})
    response, _ = await fetch(client, TRIALS)
    etag = response.headers["ETag"]
    for sent in (etag, etag.removeprefix("W/"), f'"other", {etag}', "*"):
        not_modified, body = await fetch(client, TRIALS, **{"If-None-Match": sent})
        assert not_modified.status == 304 and body == b"", sent
        assert not_modified.headers["X-Cache"] == "memo" and not_modified.headers["ETag"] == etag
        assert "Content-Type" not in not_modified.headers
    changed, body = await fetch(
        client, TRIALS, **{"If-None-Match": '"other"', "Accept-Encoding": "identity"}
    )
    assert changed.status == 200 and body == plain
    zipped, body = await fetch(client, TRIALS, **{"Accept-Encoding": "br, GZIP;q=0.5"})
    assert zipped.headers["Content-Encoding"] == "gzip" and gzip.decompress(body) == plain
    refused, body = await fetch(client, TRIALS, **{"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers and body == plain


async def test_head_is_served_from_the_memo_without_a_body(client):
    await fetch(client, TRIALS)
    response = await client.head(TRIALS)
    assert response.status == 200 and response.headers["X-Cache"] == "memo"
    assert await response.read() == b""


async def test_each_url_and_host_is_its_own_answer(client):
    await fetch(client, TRIALS)
    limited, body = await fetch(client, TRIALS + "?limit=1")
    assert limited.headers["X-Cache"] == "hit" and body.count(b'"nct_id"') < 5
    feed = "/api/v1/drugs/blinatumomab/feed.atom"
    _, one = await fetch(client, feed, Host="one.example")
    other, two = await fetch(client, feed, Host="two.example")
    # Neither Host is in [server] allowed_hosts: the feed names the configured origin,
    # and made-up Hosts share its one memo entry.
    assert other.headers["X-Cache"] == "memo"
    assert b"one.example" not in one and b"two.example" not in two


async def test_errors_and_refusals_are_never_memoised(client):
    for _ in range(2):
        response, _ = await fetch(client, TRIALS + "?limt=5")
        assert response.status == 400 and "X-Cache" not in response.headers
        response, _ = await fetch(client, "/api/v1/drugs/bevaciz/trials")
        assert response.status == 404 and "X-Cache" not in response.headers
    assert len(client.server.app[ANSWERS]) == 0


async def test_the_widget_page_keeps_its_own_policy(client):
    first, body = await fetch(client, "/widget/blinatumomab")
    second, again = await fetch(client, "/widget/blinatumomab")
    assert second.headers["X-Cache"] == "memo" and again == body
    assert "frame-ancestors *" in second.headers["Content-Security-Policy"]
    assert second.headers["Content-Security-Policy"] == first.headers["Content-Security-Policy"]


async def test_entries_age_out_and_new_data_empties_the_memo(client, ctgov_standin):
    memo = client.server.app[ANSWERS]
    now = [1000.0]
    memo.clock = lambda: now[0]
    await fetch(client, TRIALS)
    response, _ = await fetch(client, TRIALS)
    assert response.headers["X-Cache"] == "memo"
    now[0] += memo.seconds + 0.1
    response, _ = await fetch(client, TRIALS)
    assert response.headers["X-Cache"] == "hit"  # aged out: asked of the store again
    memo.clear()  # what a fetch that stores new data does
    response, _ = await fetch(client, TRIALS)
    assert response.headers["X-Cache"] == "hit"
    assert len(ctgov_standin.study_requests) == 1


async def test_the_rate_limit_counts_memoised_answers(make_client):
    client = await make_client(rate_limit_per_minute=3)
    statuses = [(await fetch(client, TRIALS))[0].status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


async def test_a_bounded_memo_lets_the_oldest_go(make_client):
    client = await make_client()
    memo = client.server.app[ANSWERS]
    memo.entries = 2
    for limit in (1, 2, 3):
        await fetch(client, f"{TRIALS}?limit={limit}")
    assert len(memo) == 2
    first, _ = await fetch(client, f"{TRIALS}?limit=1")
    latest, _ = await fetch(client, f"{TRIALS}?limit=3")
    assert first.headers["X-Cache"] == "hit" and latest.headers["X-Cache"] == "memo"


# -- per drug, bounded in bytes, renewed by one request ----------------------------------


async def look_at_the_change_count(client) -> None:
    """What the app's watcher does every half second, done now."""
    pool = client.server.app[SERVICE].pool
    count = await pool.read(lambda store: generation(store.conn))
    client.server.app[ANSWERS].saw_generation(count)


async def test_a_fetch_forgets_only_its_own_drugs_answers(client):
    memo = client.server.app[ANSWERS]
    brand = "/api/v1/drugs/Blincyto/trials"
    for path in (TRIALS, brand, TRIALS, brand):
        await fetch(client, path)
    await look_at_the_change_count(client)
    assert (await fetch(client, TRIALS))[0].headers["X-Cache"] == "memo"
    other, _ = await fetch(client, "/api/v1/drugs/pembrolizumab/trials")
    assert other.headers["X-Cache"] == "miss"  # a fetch of another drug ...
    # ... moved the change count, but this process's own write is known for its own
    await look_at_the_change_count(client)
    assert (await fetch(client, TRIALS))[0].headers["X-Cache"] == "memo"  # ... leaves this one
    fresh, _ = await fetch(client, TRIALS + "?status=all")
    assert fresh.headers["X-Cache"] == "miss"  # blinatumomab fetched: its answers go,
    assert (await fetch(client, TRIALS))[0].headers["X-Cache"] == "hit"
    assert (await fetch(client, brand))[0].headers["X-Cache"] == "hit"  # under any name
    assert (await fetch(client, "/api/v1/drugs/pembrolizumab/trials"))[0].headers[
        "X-Cache"
    ] == "memo"
    assert len(memo) >= 1


async def test_a_write_by_another_process_empties_the_memo(client):
    await fetch(client, TRIALS)
    await fetch(client, TRIALS)
    await look_at_the_change_count(client)
    assert (await fetch(client, TRIALS))[0].headers["X-Cache"] == "memo"
    where = client.server.app[SERVICE].pool.where
    with Store.open(where) as other, other.write():  # as another process would
        other.conn.execute("UPDATE searches SET total = total + 1")
    await look_at_the_change_count(client)
    assert (await fetch(client, TRIALS))[0].headers["X-Cache"] == "hit"  # read anew


async def test_an_expired_answer_is_served_while_one_request_renders_it(client):
    from aiohttp.test_utils import make_mocked_request

    memo = client.server.app[ANSWERS]
    now = [1000.0]
    memo.clock = lambda: now[0]
    await fetch(client, TRIALS)
    host = f"{client.server.host}:{client.server.port}"

    def ask():
        request = make_mocked_request("GET", TRIALS, headers={"Host": host}, app=client.server.app)
        return memo.answer(request)

    assert ask() is not None  # fresh
    now[0] += memo.seconds + 0.1
    assert ask() is None  # the first to come re-renders it ...
    served = ask()
    assert served is not None and served.headers["X-Cache"] == "memo"  # ... the rest wait not
    now[0] += max(memo.seconds, 1.0) + 0.1
    assert ask() is None  # that render never came back: the next request tries
    now[0] += memo.serve_expired_for
    assert ask() is None and len(memo) == 0  # past the bound it is gone, not served


def test_the_memo_is_bounded_in_bytes():
    from aiohttp import web
    from aiohttp.test_utils import make_mocked_request

    from trialfinder.web.httpcache import Representation
    from trialfinder.web.memo import MEMOISE, AnswerMemo

    memo = AnswerMemo(vary_on_origin=False, max_bytes=80_000)  # each kept answer: 2 x body

    def keep(path: str, size: int) -> None:
        response = web.Response()
        response[MEMOISE] = Representation(b"x" * size, "application/json", "public")
        memo.keep(make_mocked_request("GET", path), response, lambda request, headers: None)

    for n in range(10):
        keep(f"/a/{n}", 4_000)  # 8,000 bytes each: ten fill the bound exactly
    assert len(memo) == 10 and memo.bytes == 80_000
    keep("/a/10", 4_000)
    assert len(memo) == 10 and memo.bytes == 80_000  # the oldest went
    assert memo.answer(make_mocked_request("GET", "/a/0")) is None
    assert memo.answer(make_mocked_request("GET", "/a/10")) is not None
    keep("/huge", 5_001)  # over an eighth of the bound: never kept
    assert memo.answer(make_mocked_request("GET", "/huge")) is None and memo.bytes == 80_000
    memo.forget(("drug", "nothing"))  # a topic with no answers forgets nothing
    assert len(memo) == 10


async def test_memo_seconds_0_turns_the_memo_off(make_client):
    client = await make_client(memo_seconds=0)
    await fetch(client, TRIALS)
    response, _ = await fetch(client, TRIALS)
    assert response.headers["X-Cache"] == "hit" and len(client.server.app[ANSWERS]) == 0
