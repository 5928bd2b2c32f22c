"""trialfinder on a PostgreSQL store, end to end: the CLI and the API give what they give
on SQLite, answer offline from the server, and say plainly when it cannot be reached.

The store's own functions run on both engines in test_store.py, test_refresh.py and
test_cache_bound.py (the ``store_place`` fixture); here is what a user sees.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import cli_runner, write_config
from trialfinder.store import Store, maintenance
from trialfinder.store.connection import public_url

TRIALS = "/api/v1/drugs/blinatumomab/trials"


def search_ids(run, *options) -> list[str]:
    code, out, err = run("search", "blinatumomab", "--status", "all", "--format", "json", *options)
    assert code == 0, err
    return [t["id"] for t in json.loads(out)["trials"]]


def test_search_gives_the_same_trials_as_on_sqlite_and_answers_offline(
    capsys, tmp_path, ctgov_url, drug_urls, ctgov_standin, postgres_store_url
):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    on_sqlite = cli_runner(capsys, write_config(tmp_path / "a", ctgov_url, drug_urls=drug_urls))
    on_postgres = cli_runner(
        capsys,
        write_config(tmp_path / "b", ctgov_url, drug_urls=drug_urls, store_url=postgres_store_url),
    )
    expected = search_ids(on_sqlite)
    assert expected and search_ids(on_postgres) == expected
    assert not (tmp_path / "b" / "cache").exists()  # nothing went to a SQLite file
    asked = len(ctgov_standin.requests)
    ctgov_standin.fail_next("html", times=100)  # the registry is down: the server answers
    assert search_ids(on_postgres, "--offline") == expected
    assert search_ids(on_postgres) == expected  # fresh in the store: the registry not asked
    assert len(ctgov_standin.requests) == asked
    code, out, _ = on_postgres("cache", "info", "--format", "json")
    info = json.loads(out)
    assert code == 0 and info["engine"] == "postgresql" and info["trials"] >= len(expected)
    assert info["path"] == postgres_store_url  # no password in it to hide


def test_an_unreachable_server_is_said_plainly_with_exit_1(capsys, tmp_path, ctgov_url):
    url = "postgresql://trialfinder:s3cret@127.0.0.1:9/trialfinder"  # nothing listens on 9
    run = cli_runner(capsys, write_config(tmp_path, ctgov_url, store_url=url))
    code, out, err = run("search", "blinatumomab")
    assert code == 1 and out == ""
    assert "cannot use the store at postgresql://trialfinder:***@127.0.0.1:9/trialfinder" in err
    assert "s3cret" not in err and "Traceback" not in err


def test_a_url_that_is_no_store_is_refused_by_name(capsys, tmp_path, ctgov_url):
    run = cli_runner(capsys, write_config(tmp_path, ctgov_url, store_url="mysql://db/x"))
    code, _, err = run("search", "blinatumomab")
    assert code == 2 and "[store] url" in err and "postgresql://" in err


def test_the_password_is_never_shown():
    assert public_url("postgresql://u:pw@db:5432/x") == "postgresql://u:***@db:5432/x"
    assert public_url("postgresql://u@db/x") == "postgresql://u@db/x"


async def test_the_api_answers_from_postgresql_and_its_etags_hold(make_client, postgres_store_url):
    client = await make_client(store_url=postgres_store_url)
    for _ in range(200):  # the first ask fetches: 503 with Retry-After until it lands
        response = await client.get(TRIALS)
        if response.status == 200:
            break
    assert response.status == 200
    data = await response.json()
    assert data["trials"]
    again = await client.get(TRIALS, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status == 304
    with Store.open(postgres_store_url) as store:
        assert maintenance.info(store).trials >= len(data["trials"])


def test_text_the_server_cannot_hold_is_stored_as_data(postgres_store_url):
    """A NUL in a registry's text: PostgreSQL text cannot hold it; one U+FFFD stands for it."""
    from trialfinder.clock import utc_now
    from trialfinder.store import tracking

    with Store.open(postgres_store_url) as store:
        assert tracking.track(store, "evil\x00name", "cli", utc_now())
        assert [t.name for t in tracking.tracked(store)] == ["evil\ufffdname"]


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_both_spellings_of_the_scheme_name_a_server(postgres_store_url, scheme):
    url = scheme + postgres_store_url[len("postgresql") :]
    with Store.open(url) as store:
        assert store.engine == "postgresql"
