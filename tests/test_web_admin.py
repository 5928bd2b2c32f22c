"""Writes: refresh and tracking need the admin token, and are off without one."""

from __future__ import annotations

import pytest

TOKEN = "correct horse battery staple"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


WRITES = [
    ("POST", "/api/v1/refresh", {"drugs": ["blinatumomab"]}),
    ("POST", "/api/v1/tracked/blinatumomab", None),
    ("DELETE", "/api/v1/tracked/blinatumomab", None),
    ("GET", "/api/v1/tracked", None),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
async def test_writes_are_off_without_a_token(make_client, method, path, body):
    client = await make_client()
    response = await client.request(method, path, json=body, headers=AUTH)
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "writes_disabled"


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", TOKEN])
async def test_writes_need_the_right_token(make_client, method, path, body, header):
    client = await make_client(admin_token=TOKEN)
    headers = {"Authorization": header} if header else {}
    response = await client.request(method, path, json=body, headers=headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await response.json())["error"]["code"] == "unauthorized"


async def test_token_from_the_environment(make_client, monkeypatch, ctgov_standin):
    monkeypatch.setenv("TRIALFINDER_ADMIN_TOKEN", TOKEN)
    client = await make_client()
    response = await client.post("/api/v1/refresh", json={"drugs": ["blinatumomab"]}, headers=AUTH)
    assert response.status == 200


async def test_refresh_asks_the_registry_again(make_client, ctgov_standin):
    client = await make_client(admin_token=TOKEN)
    assert (await client.get("/api/v1/drugs/blinatumomab/trials")).status == 200
    before = len(ctgov_standin.study_requests)
    response = await client.post(
        "/api/v1/refresh", json={"drugs": ["blinatumomab", "bevaciz"]}, headers=AUTH
    )
    assert response.status == 200
    results = (await response.json())["results"]
    assert results[0]["ok"] is True and results[0]["name"] == "blinatumomab"
    assert results[0]["total"] == 10  # as the registry announced
    assert results[1]["ok"] is False and results[1]["error"]["code"] == "unknown_drug"
    # the drug page (all statuses) and the default list (open): both asked again
    assert len(ctgov_standin.study_requests) == before + 2
    again = await client.get("/api/v1/drugs/blinatumomab/trials")
    assert again.headers["X-Cache"] == "hit"  # the memo was emptied by the refresh
    metrics = await (await client.get("/metrics")).text()
    assert 'trialfinder_refresh_total{trigger="api",outcome="ok"} 1' in metrics
    assert 'trialfinder_refresh_total{trigger="api",outcome="error"} 1' in metrics


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"drugs": []}',
        b'{"drugs": "x"}',
        b'{"drugs": [1]}',
        b'{"drugs": [""]}',
        b"[" * 5000 + b"]" * 5000,  # nested past the parser's recursion limit
        b'{"drugs": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",  # and past it, still < 64 KB
        b"\xff\xfe",
    ],
)
async def test_refresh_rejects_a_bad_body(make_client, body):
    client = await make_client(admin_token=TOKEN)
    response = await client.post(
        "/api/v1/refresh", data=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "bad_input"


async def test_refresh_rejects_a_huge_body(make_client):
    client = await make_client(admin_token=TOKEN)
    response = await client.post("/api/v1/refresh", data=b"x" * 100_000, headers=AUTH)
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "too_large"


async def test_tracking(make_client):
    client = await make_client(admin_token=TOKEN)
    response = await client.post("/api/v1/tracked/Blincyto", headers=AUTH)
    assert response.status == 201
    assert await response.json() == {"name": "Blincyto", "tracked": True, "changed": True}
    again = await client.post("/api/v1/tracked/blincyto", headers=AUTH)
    assert again.status == 200 and (await again.json())["changed"] is False
    listed = await (await client.get("/api/v1/tracked", headers=AUTH)).json()
    assert [d["name"] for d in listed["tracked"]] == ["Blincyto"]
    assert listed["tracked"][0]["origin"] == "api" and "T" in listed["tracked"][0]["added_at"]
    removed = await client.delete("/api/v1/tracked/BLINCYTO", headers=AUTH)
    assert removed.status == 200 and (await removed.json())["tracked"] is False
    gone = await client.delete("/api/v1/tracked/Blincyto", headers=AUTH)
    assert gone.status == 404
    bad = await client.post("/api/v1/tracked/%01", headers=AUTH)
    assert bad.status == 400


@pytest.mark.parametrize("configured", [False, True])
async def test_api_requests_become_tracked_when_configured(make_client, configured):
    client = await make_client(admin_token=TOKEN, refresh={"track_api_requests": configured})
    await client.get("/api/v1/drugs/Blincyto/trials")
    await client.get("/api/v1/drugs/blinatumomab")
    await client.get("/api/v1/drugs/XYZ-98765/trials")  # no source knows it: never tracked
    tracked = (await (await client.get("/api/v1/tracked", headers=AUTH)).json())["tracked"]
    expected = [("blinatumomab", "api")] if configured else []
    assert [(d["name"], d["origin"]) for d in tracked] == expected
