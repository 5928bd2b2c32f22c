"""Changes and the Atom feed: what refreshes recorded, newest first, escaped for readers.

The refresh that records changes is not the web app's; these tests write
change rows into the store the way a refresh would, then read them back
through the API and the feed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET

import pytest

from trialfinder.clock import utc_now
from trialfinder.store import Store, trial_records
from trialfinder.web.keys import SERVICE

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
async def client(make_client):
    client = await make_client()
    assert (await client.get("/api/v1/drugs/blinatumomab")).status == 200  # caches the drug
    return client


def record(client, trial_id, kind, at, from_value=None, to_value=None, detail=None):
    with Store.open(client.server.app[SERVICE].pool.where) as store, store.write():
        write_change(store, trial_id, kind, at, from_value, to_value, detail)
    client.server.app[SERVICE].memo.clear()


def write_change(store, trial_id, kind, at, from_value, to_value, detail):
    drug_id = store.conn.execute("SELECT id FROM drugs WHERE name = 'blinatumomab'").fetchone()[0]
    store.conn.execute(
        "INSERT INTO changes (drug_id, trial_id, type, from_value, to_value, detail, at, "
        "fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [drug_id, trial_id, kind, from_value, to_value, detail, at.isoformat(),
         f"{trial_id}{kind}{at}{detail}"],
    )  # fmt: skip


async def test_changes_since(client):
    now = utc_now()
    record(client, "NCT03914625", "status_changed", now - timedelta(hours=2), "NOT_YET_RECRUITING",
           "RECRUITING")  # fmt: skip
    record(client, "NCT06144268", "new_trial", now - timedelta(days=3))
    record(client, "NCT02013167", "site_added", now - timedelta(days=40), detail="Bern")
    data = await (await client.get("/api/v1/drugs/Blincyto/changes?since=7d")).json()
    assert data["drug"] == "blinatumomab"
    assert [c["trial_id"] for c in data["changes"]] == ["NCT03914625", "NCT06144268"]
    assert data["changes"][0] == {
        "trial_id": "NCT03914625",
        "drug": "blinatumomab",
        "type": "status_changed",
        "from": "NOT_YET_RECRUITING",
        "to": "RECRUITING",
        "detail": None,
        "at": (now - timedelta(hours=2)).isoformat(),
    }
    data = await (await client.get("/api/v1/drugs/blinatumomab/changes?since=24h")).json()
    assert len(data["changes"]) == 1
    since = (now - timedelta(days=60)).date().isoformat()
    data = await (await client.get(f"/api/v1/drugs/blinatumomab/changes?since={since}")).json()
    assert len(data["changes"]) == 3
    data = await (await client.get("/api/v1/drugs/blinatumomab/changes")).json()  # 30 days
    assert len(data["changes"]) == 2
    data = await (await client.get("/api/v1/drugs/blinatumomab/changes?limit=1")).json()
    assert len(data["changes"]) == 1


@pytest.mark.parametrize(
    ("since", "count"),
    [
        ("1w", 1),
        ("2w", 2),
        ("3w", 3),
        ("400h", 2),
        ("20000m", 2),
        ("{day}", 2),
        ("{day}T00:00Z", 2),
    ],
)
async def test_changes_since_takes_the_forms_the_cli_takes(client, since, count):
    now = utc_now()
    for days in (5, 12, 20):
        record(client, f"NCT0{days:07d}", "new_trial", now - timedelta(days=days))
    day = (now - timedelta(days=15)).date().isoformat()
    response = await client.get(f"/api/v1/drugs/blinatumomab/changes?since={since.format(day=day)}")
    data = await response.json()
    assert response.status == 200 and len(data["changes"]) == count


async def test_a_bad_since_is_a_400_naming_the_forms(client):
    response = await client.get("/api/v1/drugs/blinatumomab/changes?since=last-tuesday")
    assert response.status == 400
    assert (await response.json())["error"] == {
        "code": "bad_input",
        "message": "since must be a span back such as 7d, 2w, 12h or 30m, or an ISO date or "
        "date-time (2026-11-01, 2026-11-01T09:00Z); not 'last-tuesday'",
    }


async def test_changes_of_a_drug_with_none(client):
    response = await client.get("/api/v1/drugs/pembrolizumab/changes")
    data = await response.json()
    assert response.status == 200 and data["drug"] == "pembrolizumab" and data["changes"] == []


async def test_atom_feed_is_valid_and_escaped(client):
    at = datetime(2026, 11, 27, 8, 30, tzinfo=UTC)
    record(client, "NCT06144268", "site_added", at, detail="<script>alert(1)</script> & \x0b Bern")
    record(client, "NCT03914625", "status_changed", at - timedelta(days=1), "RECRUITING",
           "COMPLETED")  # fmt: skip
    response = await client.get("/api/v1/drugs/blinatumomab/feed.atom")
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    body = await response.read()
    assert b"<script>" not in body and b"&lt;script&gt;" in body and b"\x0b" not in body
    feed = ET.fromstring(body)
    assert feed.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated", "author"):
        assert feed.find(f"{ATOM}{required}") is not None
    assert feed.find(f"{ATOM}updated").text == at.isoformat()
    assert (
        feed.find(f"{ATOM}link[@rel='self']")
        .get("href")
        .endswith("/api/v1/drugs/blinatumomab/feed.atom")
    )
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 2
    first = entries[0]
    title = first.find(f"{ATOM}title").text
    assert title.startswith("NCT06144268 Blinatumomab <img src=x onerror=alert(1)>")
    assert title.endswith("— site added")
    assert "<script>alert(1)</script> &  Bern" in first.find(f"{ATOM}summary").text
    assert first.find(f"{ATOM}id").text.startswith("urn:uuid:")
    assert first.find(f"{ATOM}link").get("href") == "https://clinicaltrials.gov/study/NCT06144268"
    assert "Recruiting → Completed" in entries[1].find(f"{ATOM}title").text
    # Ids are stable: the same change, the same entry id.
    client.server.app[SERVICE].memo.clear()
    again = ET.fromstring(await (await client.get("/api/v1/drugs/blinatumomab/feed.atom")).read())
    assert [e.find(f"{ATOM}id").text for e in again.findall(f"{ATOM}entry")] == [
        e.find(f"{ATOM}id").text for e in entries
    ]


async def test_the_feed_reads_its_trials_in_one_query(client, monkeypatch):
    now = utc_now()
    for hours, trial_id in enumerate(["NCT03914625", "NCT06144268", "NCT03914625", "NCT09999999"]):
        record(client, trial_id, "new_trial", now - timedelta(hours=hours + 1), detail=str(hours))
    statements = []
    load_trials = trial_records.load_trials

    def traced(store, ids):
        store.conn.set_trace_callback(statements.append)
        try:
            return load_trials(store, ids)
        finally:
            store.conn.set_trace_callback(None)

    monkeypatch.setattr(trial_records, "load_trials", traced)
    monkeypatch.setattr(trial_records, "load_trial", lambda *_: pytest.fail("one trial at a time"))
    response = await client.get("/api/v1/drugs/blinatumomab/feed.atom")
    assert response.status == 200
    entries = ET.fromstring(await response.read()).findall(f"{ATOM}entry")
    titles = [entry.find(f"{ATOM}title").text for entry in entries]
    assert len(titles) == 4
    assert titles[0].startswith("NCT03914625 ") and len(titles[0]) > len("NCT03914625 — new trial")
    assert titles[3].startswith("NCT09999999")  # not cached: an entry all the same
    reads = [sql for sql in statements if "FROM trials" in sql]
    assert len(reads) == 1 and "WHERE id IN" in reads[0]  # and no other read of trials


async def test_an_empty_feed_is_still_a_feed(client):
    feed = ET.fromstring(await (await client.get("/api/v1/drugs/blinatumomab/feed.atom")).read())
    assert feed.findall(f"{ATOM}entry") == [] and feed.find(f"{ATOM}updated").text
