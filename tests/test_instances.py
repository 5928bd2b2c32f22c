"""Several trialfinder instances on one store act as one (issue 13): one fetch per
uncached question, ETags any instance honours, one registry budget, one refresher.

First two apps in this process on one cache file (each its own pool, memo and
flights, as two processes have); then three ``trialfinder serve`` processes.
"""

from __future__ import annotations

import asyncio

from tests.test_refresh import study, touch
from trialfinder.web.keys import ANSWERS, SERVICE

TRIALS = "/api/v1/drugs/blinatumomab/trials"
TOKEN = "s3cret-token-for-tests"


async def test_an_uncached_drug_asked_of_two_instances_at_once_is_fetched_once(
    make_client, ctgov_standin
):
    first, second = await make_client(), await make_client()
    ctgov_standin.latency = 0.3  # long enough for both to be asking at once
    answers = await asyncio.gather(first.get(TRIALS), second.get(TRIALS))
    assert [a.status for a in answers] == [200, 200]
    bodies = [await a.json() for a in answers]
    assert bodies[0]["trials"] == bodies[1]["trials"] and len(bodies[0]["trials"]) == 5
    assert len(ctgov_standin.study_requests) == 1
    waited = [c.server.app for c in (first, second)]
    assert sorted(a[SERVICE].claims.waited for a in waited) == [0, 1]


async def test_an_etag_from_one_instance_is_a_304_on_another(make_client):
    first, second = await make_client(), await make_client()
    fetched = await first.get(TRIALS)
    etag = fetched.headers["ETag"]
    hit = await second.get(TRIALS)
    assert hit.headers["X-Cache"] == "hit" and hit.headers["ETag"] == etag
    # The same answer, from the same rows, but for saying how it was answered: the
    # fetched one was not read from the cache.
    assert {**await fetched.json(), "from_cache": True} == await hit.json()
    assert (
        await (await first.get(TRIALS + "?limit=3")).read()
        == await (await second.get(TRIALS + "?limit=3")).read()
    )
    again = await second.get(TRIALS + "?limit=2", headers={"If-None-Match": etag})
    assert again.status == 200  # another question, another answer
    not_modified = await second.get(TRIALS, headers={"If-None-Match": etag})
    assert not_modified.status == 304


async def test_what_one_instance_stores_empties_the_others_memo(make_client, ctgov_standin):
    # A memo that would keep answers for a minute: only the store's change count can
    # tell this instance that another has changed them.
    reader = await make_client(memo_seconds=60)
    writer = await make_client(admin_token=TOKEN)
    assert (await reader.get(TRIALS)).headers["X-Cache"] == "miss"
    assert (await reader.get(TRIALS)).headers["X-Cache"] == "memo"
    before = await (await reader.get(TRIALS)).json()
    assert "NCT03914625" in {t["id"] for t in before["trials"]}
    touch(study(ctgov_standin, "NCT03914625"), overallStatus="COMPLETED")  # no longer open
    refreshed = await writer.post(
        "/api/v1/refresh",
        json={"drugs": ["blinatumomab"]},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert refreshed.status == 200
    for _ in range(100):  # the reader looks at the count twice a second
        answer = await reader.get(TRIALS)
        if answer.headers["X-Cache"] != "memo":
            break
        await asyncio.sleep(0.1)
    assert answer.headers["X-Cache"] == "hit"
    assert "NCT03914625" not in {t["id"] for t in (await answer.json())["trials"]}
    assert reader.server.app[ANSWERS].epoch >= 1
