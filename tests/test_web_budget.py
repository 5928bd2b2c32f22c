"""A budget for work: uncached fetches per client per hour, and junk names remembered."""

from __future__ import annotations

from trialfinder.web.budget import UnknownNames


async def test_a_flood_of_unknown_names_costs_the_registry_little(make_client, ctgov_standin):
    client = await make_client(fetches_per_client_per_hour=20)
    cached = await client.get("/api/v1/drugs/blinatumomab/trials")
    assert cached.status == 200
    before = len(ctgov_standin.study_requests)
    statuses = []
    for number in range(80):
        response = await client.get(f"/api/v1/drugs/zzjunk{number:03d}x/trials")
        statuses.append(response.status)
        if response.status == 429:
            assert int(response.headers["Retry-After"]) > 0
            error = (await response.json())["error"]
            assert error["code"] == "fetch_budget_spent"
            assert "cached" in error["message"]
    searches = len(ctgov_standin.study_requests) - before
    assert searches <= 30
    assert statuses.count(429) >= 50
    # A cached answer is never refused for the budget.
    again = await client.get("/api/v1/drugs/blinatumomab/trials?status=open")
    assert again.status == 200
    # Another client has its own budget.
    other = await client.get(
        "/api/v1/drugs/zzother/trials", headers={"X-Forwarded-For": "203.0.113.9"}
    )
    assert other.status == 429  # X-Forwarded-For is not believed without trusted_proxies
    metrics = await (await client.get("/metrics")).text()
    refused = statuses.count(429) + 1
    assert f'trialfinder_fetches_refused_total{{reason="fetch_budget_spent"}} {refused}' in (
        metrics.replace(".0\n", "\n")
    )


async def test_a_name_nothing_knows_is_remembered(make_client, ctgov_standin):
    client = await make_client(fetches_per_client_per_hour=100)
    first = await client.get("/api/v1/drugs/zzjunkname/trials")
    assert first.status == 200
    assert (await first.json())["drug"]["known"] is False
    searches = len(ctgov_standin.study_requests)
    for query in ["?status=all", "?phase=2", "?country=France", ""]:
        response = await client.get(f"/api/v1/drugs/zzjunkname/trials{query}")
        if query:
            assert response.status == 404
            assert (await response.json())["error"]["code"] == "unknown_drug"
    assert (await client.get("/widget/ZZJunkName")).status == 200  # as cached
    assert (await client.get("/widget/ZZJunkName?phase=3")).status == 404
    assert len(ctgov_standin.study_requests) == searches  # none of them searched


async def test_behind_a_trusted_proxy_each_client_has_its_budget(make_client, ctgov_standin):
    client = await make_client(fetches_per_client_per_hour=1, trusted_proxies=["127.0.0.1"])
    one = {"X-Forwarded-For": "203.0.113.1"}
    assert (await client.get("/api/v1/drugs/zza/trials", headers=one)).status == 200
    assert (await client.get("/api/v1/drugs/zzb/trials", headers=one)).status == 429
    two = {"X-Forwarded-For": "203.0.113.2"}
    assert (await client.get("/api/v1/drugs/zzb/trials", headers=two)).status == 200


def test_unknown_names_are_bounded_and_expire():
    now = [0.0]
    names = UnknownNames(seconds=600, entries=3, clock=lambda: now[0])
    for name in ["a", "b", "c", "d"]:
        names.remember(name)
    assert len(names) == 3
    names.check("a")  # evicted: no longer known as unknown
    try:
        names.check("D")
        raise AssertionError("expected a 404")
    except Exception as error:
        assert getattr(error, "status", None) == 404
    now[0] = 601.0
    names.check("d")  # expired
