"""Operations: health, readiness, metrics, JSON access logs, and a graceful stop."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import write_config
from tests.standins.webapp import web_settings
from trialfinder.store.schema import SCHEMA_VERSION
from trialfinder.web.keys import SERVICE
from trialfinder.web.metrics import Metrics

ROOT = Path(__file__).resolve().parent.parent


async def test_healthz_and_readyz(make_client):
    client = await make_client()
    response = await client.get("/healthz")
    assert response.status == 200 and await response.json() == {"status": "ok"}
    response = await client.get("/readyz")
    assert response.status == 200
    assert await response.json() == {
        "status": "ok",
        "checks": {"database": "ok"},
        "store": {"reachable": True, "engine": "sqlite", "schema_version": SCHEMA_VERSION},
    }
    assert response.headers["Cache-Control"] == "no-store"


async def test_readyz_follows_an_attached_scheduler(make_client):
    from trialfinder.web.keys import SCHEDULER_RUNNING

    state = {"running": True, "events": []}

    async def scheduler(app):
        state["events"].append("start")
        app[SCHEDULER_RUNNING] = lambda: state["running"]
        yield
        state["events"].append("stop")

    client = await make_client(contexts=[scheduler])
    assert state["events"] == ["start"]
    ready = await (await client.get("/readyz")).json()
    assert ready["checks"] == {"database": "ok", "scheduler": "ok"}
    state["running"] = False
    response = await client.get("/readyz")
    assert response.status == 503
    assert (await response.json())["checks"]["scheduler"] == "not running"
    await client.close()
    assert state["events"] == ["start", "stop"]


async def test_readyz_when_the_database_is_gone(make_client):
    client = await make_client()
    client.server.app[SERVICE].pool.close()  # no connection can be had any more
    response = await client.get("/readyz")
    assert response.status == 503
    ready = await response.json()
    assert ready["checks"]["database"].startswith("failing")
    assert ready["store"] == {"reachable": False}


async def test_readyz_when_another_trialfinder_migrated_the_store_further(make_client):
    client = await make_client()
    pool = client.server.app[SERVICE].pool
    newer = SCHEMA_VERSION + 1
    await pool.write(lambda store: store.conn.execute(f"PRAGMA user_version = {newer}"))
    response = await client.get("/readyz")
    assert response.status == 503
    # A reader already open finds the version; one opened now refuses the file.
    database = (await response.json())["checks"]["database"]
    assert database in (
        f"schema version {newer}; this trialfinder knows {SCHEMA_VERSION}",
        "failing: SchemaTooNewError",
    )


async def test_metrics_in_prometheus_text_format(make_client, ctgov_standin):
    client = await make_client()
    await client.get("/api/v1/drugs/blinatumomab/trials")
    await client.get("/api/v1/drugs/blinatumomab/trials")
    await client.get("/api/v1/drugs/blinatumomab/trials?limit=0")
    await client.get("/no/such/page")
    response = await client.get("/metrics")
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = await response.text()
    route = 'route="/api/v1/drugs/{name}/trials"'
    assert f'trialfinder_http_requests_total{{{route},method="GET",status="200"}} 2' in text
    assert f'trialfinder_http_requests_total{{{route},method="GET",status="400"}} 1' in text
    assert 'route="unmatched",method="GET",status="404"} 1' in text
    assert f'trialfinder_http_request_duration_seconds_bucket{{{route},le="+Inf"}} 3' in text
    assert f"trialfinder_http_request_duration_seconds_count{{{route}}} 3" in text
    assert 'trialfinder_cache_lookups_total{result="miss"} 1' in text
    assert 'trialfinder_cache_lookups_total{result="memo"} 1' in text
    assert 'trialfinder_registry_fetches_total{kind="search",outcome="ok"} 1' in text
    assert "# TYPE trialfinder_http_request_duration_seconds histogram" in text
    # The store pool: its threads, how many are busy (this scrape's own read is done),
    # and how many calls have queued for one.
    assert 'trialfinder_store_pool_threads{kind="read"} 4' in text
    assert 'trialfinder_store_pool_threads{kind="write"} 1' in text
    assert 'trialfinder_store_pool_busy{kind="read"} 0' in text
    assert re.search(r'trialfinder_store_pool_waits_total\{kind="write"\} \d+', text)


async def test_metrics_on_postgresql_count_the_pools_connections(make_client, postgres_store_url):
    client = await make_client(store_url=postgres_store_url)
    assert (await client.get("/api/v1/drugs/blinatumomab/trials")).status == 200
    text = await (await client.get("/metrics")).text()
    assert 'trialfinder_store_pool_threads{kind="read"} 4' in text
    for pool in ("readers", "writer"):
        opened = re.search(rf'trialfinder_store_connections\{{pool="{pool}"\}} (\d+)', text)
        assert opened and int(opened.group(1)) >= 1  # the answer was read and written
        assert f'trialfinder_store_connection_waits_total{{pool="{pool}"}}' in text
        assert f'trialfinder_store_connections_lost_total{{pool="{pool}"}} 0' in text
    assert "# TYPE trialfinder_store_connections_idle gauge" in text


def test_metric_labels_are_escaped():
    metrics = Metrics()
    metrics.requests.inc('a"b\\c\nd', "GET", "200")
    assert 'route="a\\"b\\\\c\\nd"' in metrics.render()


async def test_access_log_is_one_json_line_per_request(make_client, tmp_path):
    log_file = tmp_path / "logs" / "access.jsonl"
    client = await make_client(access_log=str(log_file))
    hostile = 'x" \\ "y <img src=x onerror=alert(1)> Ünïcode'
    await client.get("/api/v1/drugs/blinatumomab/trials?limit=2", headers={"User-Agent": "t/1"})
    await client.get("/api/v1/drugs/blinatumomab/trials?limit=2", headers={"User-Agent": hostile})
    await client.get("/no/%22such%22/page")
    await client.close()  # the app stops: what is gathered is written
    lines = log_file.read_text(encoding="utf-8").splitlines()
    first, second, third = (json.loads(line) for line in lines)
    assert first["level"] == "info" and first["logger"] == "trialfinder.access"
    assert first["ts"].endswith("Z") and first["msg"].startswith("GET /api/v1/drugs/")
    assert first["method"] == "GET" and first["status"] == 200
    assert first["path"] == "/api/v1/drugs/blinatumomab/trials?limit=2"
    assert first["route"] == "/api/v1/drugs/{name}/trials"
    assert first["user_agent"] == "t/1" and first["cache"] == "miss"
    assert first["duration_ms"] > 0 and first["remote"] == "127.0.0.1" and first["bytes"] > 0
    assert second["user_agent"] == hostile and second["cache"] == "memo"
    assert third["status"] == 404 and third["path"] == "/no/%22such%22/page"
    assert third["msg"] == "GET /no/%22such%22/page 404" and third["route"] == "unmatched"
    assert third["cache"] is None


async def test_access_log_off_writes_nothing(make_client, capfd):
    client = await make_client(access_log="off")
    response = await client.get("/healthz")
    assert response.status == 200
    await client.close()
    assert "trialfinder.access" not in capfd.readouterr().err


def test_a_relative_access_log_path_is_the_config_files_neighbour(tmp_path):
    settings = web_settings(tmp_path, "http://127.0.0.1:9/api/v2", None, access_log="a.jsonl")
    assert settings.server.access_log == str(tmp_path / "a.jsonl")
    assert (
        web_settings(tmp_path, "http://x/api/v2", None, access_log="off").server.access_log == "off"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serving_run_stops_gracefully_on_sigterm(tmp_path):
    config = write_config(tmp_path, "http://127.0.0.1:9/api/v2")  # never asked
    port = _free_port()
    program = (
        "import sys\n"
        "from trialfinder.config import load_settings\n"
        "from trialfinder.serving import run\n"
        "async def marker(app):\n"
        "    print('context up', flush=True)\n"
        "    yield\n"
        "    print('context down', flush=True)\n"
        f"run(load_settings({str(config)!r}), port={port}, contexts=[marker])\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", program],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert out.splitlines() == ["context up", "context down"]
    lines = [json.loads(line) for line in err.splitlines()]  # every log line is JSON
    assert any(line.get("route") == "/healthz" and line["status"] == 200 for line in lines)
    assert any(line["msg"] == f"serving on http://127.0.0.1:{port}" for line in lines)


def test_access_log_times_are_utc_milliseconds_across_boundaries():
    from trialfinder.web.accesslog import Timestamps

    stamps = Timestamps()
    assert stamps.iso(1764354051.1239) == "2025-11-28T18:20:51.123Z"
    assert stamps.iso(1764354051.1239) == "2025-11-28T18:20:51.123Z"  # the same millisecond
    assert stamps.iso(1764354051.9991) == "2025-11-28T18:20:51.999Z"
    assert stamps.iso(1764354052.0004) == "2025-11-28T18:20:52.000Z"  # the next second
    assert stamps.iso(0.5) == "1970-01-01T00:00:00.500Z"


async def test_the_access_log_names_the_client_behind_a_trusted_proxy(make_client, tmp_path):
    log_file = tmp_path / "access.jsonl"
    client = await make_client(access_log=str(log_file), trusted_proxies=["127.0.0.1"])
    forwarded = {"X-Forwarded-For": "198.51.100.7, 203.0.113.9"}
    await client.get("/healthz", headers=forwarded)
    await client.get("/healthz")  # no header: the peer itself
    await client.close()
    behind, direct = (json.loads(line) for line in log_file.read_text().splitlines())
    assert behind["remote"] == "203.0.113.9"  # the right-most hop the proxy vouches for
    assert direct["remote"] == "127.0.0.1"


async def test_without_trusted_proxies_the_access_log_names_the_peer(make_client, tmp_path):
    log_file = tmp_path / "access.jsonl"
    client = await make_client(access_log=str(log_file))
    await client.get("/healthz", headers={"X-Forwarded-For": "198.51.100.7"})
    await client.close()
    assert json.loads(log_file.read_text().splitlines()[0])["remote"] == "127.0.0.1"
