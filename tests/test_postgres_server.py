"""The PostgreSQL server the store's tests will run against: it starts, answers, and stops."""

from __future__ import annotations

import pytest

psycopg = pytest.importorskip("psycopg")


def test_a_real_server_answers_sql(postgres_url):
    with psycopg.connect(postgres_url, connect_timeout=10) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        conn.execute("CREATE TABLE probe (id integer PRIMARY KEY, name text NOT NULL)")
        conn.execute("INSERT INTO probe VALUES (1, 'blinatumomab')")
        assert conn.execute("SELECT name FROM probe").fetchone() == ("blinatumomab",)
    assert int(version.split(".")[0]) >= 13
