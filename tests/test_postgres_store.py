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
from trialfinder.web.keys import SERVICE

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


def test_an_unreachable_server_is_said_plainly_with_exit_3(capsys, tmp_path, ctgov_url):
    url = "postgresql://trialfinder:s3cret@127.0.0.1:9/trialfinder"  # nothing listens on 9
    run = cli_runner(capsys, write_config(tmp_path, ctgov_url, store_url=url))
    code, out, err = run("search", "blinatumomab")
    assert code == 3 and out == ""
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


async def test_an_answer_worked_out_from_postgresql_is_kept_ready_to_serve(
    make_client, postgres_store_url
):
    client = await make_client(store_url=postgres_store_url, memo_seconds=0)
    for _ in range(200):
        if (await client.get(TRIALS)).status == 200:
            break
    first = await client.get(TRIALS)  # a whole cache hit: kept (web.served) ...
    assert first.status == 200 and first.headers["X-Cache"] == "hit"
    await client.server.app[SERVICE].served.close()  # ... once its keeping has landed
    with Store.open(postgres_store_url) as store:
        kept = store.conn.execute("SELECT etag FROM served_answers").fetchall()
    assert kept == [(first.headers["ETag"],)]
    second = await client.get(TRIALS)
    assert second.headers["ETag"] == first.headers["ETag"]
    assert await second.read() == await first.read()


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


def test_store_copy_moves_a_sqlite_cache_into_postgresql_whole(
    capsys, tmp_path, ctgov_url, drug_urls, registry_urls, ctis, postgres_store_url
):
    three = {name: registry_urls[name] for name in ("ctis", "isrctn")}
    config = write_config(tmp_path, ctgov_url, drug_urls=drug_urls, registry_urls=three)
    run = cli_runner(capsys, config)
    assert run("search", "blinatumomab", "--status", "all")[0] == 0
    assert run("track", "add", "blinatumomab")[0] == 0
    assert run("refresh")[0] == 0
    listed = {
        t["id"]
        for t in json.loads(
            run("search", "blinatumomab", "--status", "all", "--format", "json", "--offline")[1]
        )["trials"]
    }
    target = next(t for t in ctis.trials if t["search"]["ctNumber"] in listed)
    new_status = 8 if target["search"]["ctStatus"] != 8 else 5
    target["search"]["ctStatus"] = new_status
    target["retrieve"]["ctStatus"] = target["retrieve"]["ctPublicStatusCode"] = new_status
    assert run("refresh", "--full")[0] == 0
    what = [
        ("search", "blinatumomab", "--status", "all", "--format", "json", "--offline"),
        ("drug", "blinatumomab", "--format", "json", "--offline"),
        ("changes", "blinatumomab", "--format", "json"),
        ("track", "list"),
    ]
    before = [run(*args) for args in what]
    assert all(code == 0 for code, _, _ in before), before
    assert json.loads(before[2][1]), "the change in CTIS was recorded"

    code, out, err = run("store", "copy", "--to", postgres_store_url)
    assert code == 0, err
    assert "every table's count matches" in out and "changes" in out
    (tmp_path / "pg").mkdir()
    again = cli_runner(
        capsys,
        write_config(
            tmp_path / "pg", ctgov_url, drug_urls=drug_urls, registry_urls=three,
            store_url=postgres_store_url,
        ),
    )  # fmt: skip
    assert [again(*args) for args in what] == before
    # the ids the copy brought are not handed out again: a new search is stored
    assert again("search", "pembrolizumab", "--status", "all")[0] == 0
    code, _, err = run("store", "copy", "--to", postgres_store_url)
    assert code == 1 and "already holds data" in err, err


def test_store_copy_refuses_a_place_it_cannot_name(capsys, tmp_path, ctgov_url):
    run = cli_runner(capsys, write_config(tmp_path, ctgov_url))
    code, _, err = run("store", "copy", "--to", "backup.db")
    assert code == 2 and "sqlite:///PATH" in err


def test_store_copy_and_migrate_work_the_other_way_too(
    capsys, tmp_path, ctgov_url, postgres_store_url
):
    run = cli_runner(capsys, write_config(tmp_path, ctgov_url, store_url=postgres_store_url))
    code, out, _ = run("store", "migrate")
    assert code == 0 and "nothing to do" in out and "postgresql://" in out
    assert run("search", "blinatumomab", "--status", "all")[0] == 0
    target = tmp_path / "back.sqlite"
    code, out, err = run("store", "copy", "--to", f"sqlite:///{target}")
    assert code == 0, err
    with Store.open(target) as store:
        assert maintenance.info(store).trials > 0


def test_a_held_write_waits_its_turn_and_a_lock_held_too_long_is_said(postgres_store_url):
    """Writers go one at a time, as on SQLite: the second waits for the first (no error),
    and past ``lock_wait`` it gives up saying so, having written nothing."""
    import threading

    from trialfinder.clock import utc_now
    from trialfinder.errors import CacheBusyError
    from trialfinder.store import tracking

    holder = Store.open(postgres_store_url)
    waiter = Store.open(postgres_store_url, lock_wait=30)
    impatient = Store.open(postgres_store_url, lock_wait=0.2)
    try:
        held, release = threading.Event(), threading.Event()

        def hold():
            with holder.write():
                tracking.track(holder, "first", "cli", utc_now())
                held.set()
                release.wait(10)

        thread = threading.Thread(target=hold)
        thread.start()
        held.wait(10)
        with pytest.raises(CacheBusyError, match="another trialfinder process"):
            tracking.track(impatient, "never", "cli", utc_now())
        landed = threading.Thread(target=tracking.track, args=(waiter, "second", "cli", utc_now()))
        landed.start()
        landed.join(0.3)
        assert landed.is_alive()  # waiting behind the holder, not failed
        release.set()
        thread.join(10)
        landed.join(10)
        assert sorted(t.name for t in tracking.tracked(waiter)) == ["first", "second"]
    finally:
        for store in (holder, waiter, impatient):
            store.close()


async def test_the_pool_reads_read_only_and_replaces_a_connection_the_server_dropped(
    postgres_store_url,
):
    import psycopg

    from trialfinder.clock import utc_now
    from trialfinder.store import tracking
    from trialfinder.store.pool import StorePool

    pool = StorePool.open(postgres_store_url, readers=2)
    try:
        await pool.write(tracking.track, "kept", "cli", utc_now())
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            await pool.read(tracking.track, "sneaked", "cli", utc_now())
        # the server ends every other connection (a restart, a failover, an idle timeout)
        with Store.open(postgres_store_url) as admin:
            admin.conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        names = await pool.read(lambda store: [t.name for t in tracking.tracked(store)])
        assert names == ["kept"]
        stats = pool.connections.stats()
        assert set(stats) == {"readers", "writer"} and stats["readers"]["pool_max"] == 2
    finally:
        pool.close()


async def test_a_store_that_goes_away_is_a_503_and_readyz_says_so(
    make_client, postgres_url, postgres_template
):
    """The database dropped under a running server (a failover gone wrong): a request
    that needs the store is answered 503 with Retry-After, never a 500 or a hang, and
    /readyz takes the instance out of the load balancer."""
    from tests.postgres_server import create_database, drop_database

    url = create_database(postgres_url, "tf_going_away", template=postgres_template)
    try:
        client = await make_client(store_url=url, memo_seconds=0)
        assert (await client.get("/readyz")).status == 200
        drop_database(postgres_url, "tf_going_away")
        response = await client.get("/api/v1/trials/NCT03914625")
        assert response.status == 503 and "Retry-After" in response.headers
        body = await response.json()
        assert body["error"]["code"] == "store_unavailable"
        assert "tf_going_away" not in await response.text()  # the server's name: log only
        ready = await client.get("/readyz")
        assert ready.status == 503 and (await ready.json())["store"]["reachable"] is False
    finally:
        drop_database(postgres_url, "tf_going_away")


def test_processes_that_open_a_new_database_at_once_migrate_it_once(postgres_url):
    """Three servers started together on an empty database: one migrates, the others
    wait for it and find the schema whole (none runs a migration twice)."""
    import subprocess
    import sys

    from tests.postgres_server import create_database, drop_database

    url = create_database(postgres_url, "tf_together")
    try:
        opener = "import sys; from trialfinder.store import Store; Store.open(sys.argv[1]).close()"
        runs = [
            subprocess.Popen([sys.executable, "-c", opener, url], stderr=subprocess.PIPE, text=True)
            for _ in range(6)
        ]
        failures = [p.stderr.read() for p in runs if p.wait(60) != 0]
        assert failures == []
        with Store.open(url) as store:
            from trialfinder.store.schema import SCHEMA_VERSION, schema_version

            assert schema_version(store.conn) == SCHEMA_VERSION
    finally:
        drop_database(postgres_url, "tf_together")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://tfuser:pa@ss:w/rd@127.0.0.1:9/db",  # a password not percent-encoded
        "postgresql://tfuser@127.0.0.1:9/db?foo=bar&password=S3cr3tpass",
        "postgresql://tfuser@127.0.0.1:9/db?sslmode=bogus&password=S3cr3tpass",
    ],
)
def test_a_store_url_that_cannot_be_read_is_bad_input_and_keeps_its_password(
    capsys, tmp_path, ctgov_url, url
):
    run = cli_runner(capsys, write_config(tmp_path, ctgov_url, store_url=url))
    code, out, err = run("search", "blinatumomab")
    assert code == 2 and "[store] url" in err and "cannot be read" in err
    for secret in ("ss:w/rd", "S3cr3tpass"):
        assert secret not in err + out


def test_no_password_is_printed_by_cache_info_doctor_or_store_copy(
    capsys, tmp_path, ctgov_url, postgres_store_url
):
    with_password = postgres_store_url.replace("postgres@", "postgres:S3cr3tpass@", 1)
    run = cli_runner(capsys, write_config(tmp_path, ctgov_url, store_url=with_password))
    printed = "".join(run("cache", "info")[1:]) + "".join(run("doctor")[1:])
    printed += "".join(run("store", "copy", "--to", "mysql://a:hunter2@b/c")[1:])
    printed += "".join(run("store", "copy", "--to", with_password + "x?password=zz9")[1:])
    assert "postgres:***@" in printed
    for secret in ("S3cr3tpass", "hunter2", "zz9"):
        assert secret not in printed


def test_a_user_that_may_not_create_or_write_is_told_so_plainly(
    capsys, tmp_path, ctgov_url, postgres_url, postgres_store_url
):
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("DROP ROLE IF EXISTS tf_reader")
        admin.execute("CREATE ROLE tf_reader LOGIN")
    database = postgres_store_url.rsplit("/", 1)[1]
    as_reader = postgres_store_url.replace("postgres@", "tf_reader@", 1)
    try:
        with psycopg.connect(postgres_store_url, autocommit=True) as owner:
            owner.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO tf_reader")
        run = cli_runner(capsys, write_config(tmp_path, ctgov_url, store_url=as_reader))
        code, out, err = run("search", "blinatumomab")  # must be fetched and stored: refused
        assert code == 1 and "does not let this user change it" in err, err
        assert "Traceback" not in err and "unexpected error" not in err
        code, out, _ = run("doctor")
        assert out.startswith("ok    Store ")  # it can be read: the store itself is fine
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f"REVOKE ALL ON DATABASE {database} FROM tf_reader")
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'tf_reader'"
            )
            with psycopg.connect(postgres_store_url, autocommit=True) as owner:
                owner.execute("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM tf_reader")
            admin.execute("DROP ROLE tf_reader")


def test_serve_with_a_store_it_cannot_reach_says_so_and_never_claims_to_serve(
    capsys, tmp_path, ctgov_url
):
    url = "postgresql://trialfinder@127.0.0.1:9/trialfinder"  # nothing listens on 9
    run = cli_runner(capsys, write_config(tmp_path, ctgov_url, store_url=url))
    code, _, err = run("serve", "--port", "8765")
    assert code == 3 and "cannot use the store" in err and "serving on" not in err
