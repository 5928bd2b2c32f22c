"""Schemathesis against the OpenAPI description: no 5xx, and every answer as described.

The description is the one /openapi.json serves (``build_spec``); each
operation gets its own test, whose cases Hypothesis generates from it. The app
is served on 127.0.0.1 from a thread (Schemathesis calls through ``requests``),
with the stand-in registry and drug sources behind it. Cases per operation are
bounded so that the whole run stays well under a minute.
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.standins.webapp import serve_app, web_settings  # noqa: E402
from trialfinder.web.openapi import build_spec  # noqa: E402

EXAMPLES = 30
TOKEN = "schemathesis-token"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
SPEC = build_spec()
SCHEMA = schemathesis.openapi.from_dict(SPEC)
OPERATIONS = [
    (method.upper(), path)
    for path, item in SPEC["paths"].items()
    for method in item
    if method != "parameters"
]


@pytest.fixture
def base_url(tmp_path, ctgov_url, drug_urls):
    options = {"fetch_wait_seconds": 5.0, "admin_token": TOKEN}
    with serve_app(web_settings(tmp_path, ctgov_url, drug_urls, **options)) as base:
        yield base


def test_the_description_is_one_schemathesis_reads():
    assert len(OPERATIONS) == sum(1 for _ in SCHEMA.get_all_operations())


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation_answers_as_described(base_url, method, path):
    operation = SCHEMA[path][method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        # The admin token goes with every case, so writes are exercised too.
        case.call_and_validate(
            base_url=base_url, checks=CHECKS, headers={"Authorization": f"Bearer {TOKEN}"}
        )

    check()
