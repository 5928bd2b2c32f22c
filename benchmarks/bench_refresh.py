"""Benchmark: requests and bytes per refresh of 200 tracked drugs.

Targets (issue #4): when nothing changed upstream, 1 request in all (the
``/version`` data timestamp); when 5% of studies changed, at most 0.1 requests
per tracked drug. Beside it: what re-running every drug's query costs, as peer
tools do.

The simulated registry is the stand-in ClinicalTrials.gov (tests/standins) on
127.0.0.1 holding 25 studies for each of 200 drugs; each drug's page (preferred
name, a brand and two code names, as the NCI sources would give) is put in the
cache first, so every drug is searched under about six names, as real ones are.
Counts, not times, are the point: latency is 0 and the rate limit is lifted.

Run:  .venv/bin/python benchmarks/bench_refresh.py [--drugs 200] [--studies-per-drug 25]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import write_config  # noqa: E402
from tests.standins.ctgov import CtgovStandin, load_fixture_studies  # noqa: E402
from tests.standins.server import serve_in_thread  # noqa: E402
from trialfinder.config import load_settings  # noqa: E402
from trialfinder.models import (  # noqa: E402
    Alias,
    AliasType,
    DrugPage,
    SearchQuery,
)
from trialfinder.refresh import refresh  # noqa: E402
from trialfinder.search import open_registry  # noqa: E402
from trialfinder.store import (  # noqa: E402
    Store,
    drug_pages,
    tracking,
)
from trialfinder.terms import query_terms  # noqa: E402

TODAY = datetime.now(UTC).date().isoformat()


def drug_name(n: int) -> str:
    return f"benchumab{n:03d}"


def make_studies(drugs: int, per_drug: int) -> list[dict]:
    template = next(s for s in load_fixture_studies() if "NCT03914625" in str(s))
    studies = []
    for d in range(drugs):
        for k in range(per_drug):
            study = copy.deepcopy(template)
            p = study["protocolSection"]
            p["identificationModule"]["nctId"] = f"NCT{20_000_000 + d * 1000 + k:08d}"
            p["identificationModule"]["briefTitle"] = f"Study {k} of {drug_name(d)}"
            p["identificationModule"].pop("officialTitle", None)
            p["armsInterventionsModule"]["interventions"] = [
                {"type": "DRUG", "name": drug_name(d), "otherNames": [f"BZ-{d:03d}"]}
            ]
            p["statusModule"]["lastUpdatePostDateStruct"] = {"date": "2025-01-15"}
            studies.append(study)
    return studies


def drug_page(n: int) -> DrugPage:
    aliases = [
        Alias(name=f"Benchra{n:03d}", type=AliasType.US_BRAND, source="bench"),
        Alias(name=f"BZ-{n:03d}", type=AliasType.CODE_NAME, source="bench"),
        Alias(name=f"XQ {n:03d}7", type=AliasType.CODE_NAME, source="bench"),
    ]
    return DrugPage(name=drug_name(n), aliases=aliases, fetched_at=datetime.now(UTC))


def row(label: str, requests: int, bytes_: int, drugs: int, target: str = "") -> str:
    per = requests / drugs
    return f"{label:<46} {requests:>8} {per:>10.3f} {bytes_ / 1e6:>10.2f}  {target}"


async def main_async(args) -> None:
    standin = CtgovStandin(studies=make_studies(args.drugs, args.studies_per_drug))
    with serve_in_thread(standin.app()) as base, tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(write_config(Path(tmp), f"{base}/api/v2", rate=10_000))
        store = Store.open(settings.cache.path)
        for n in range(args.drugs):
            drug_pages.save_drug(store, drug_page(n), drug_name(n))
            tracking.track(store, drug_name(n), "bench")
        terms = sum(len(query_terms(drug_page(n))) for n in range(args.drugs)) / args.drugs
        print(
            f"{args.drugs} tracked drugs, {len(standin.studies)} studies, "
            f"{terms:.1f} search terms a drug, max_query_chars "
            f"{settings.refresh.max_query_chars}\n"
        )
        print(f"{'refresh':<46} {'requests':>8} {'per drug':>10} {'MB':>10}")
        print("-" * 90)

        first = await refresh(settings, store)
        print(
            row(
                "first refresh (baseline, all statuses)",
                first.requests,
                first.bytes_received,
                args.drugs,
            )
        )

        same = await refresh(settings, store)
        met = "target 1: met" if same.requests == 1 else "target 1: MISSED"
        print(row("nothing changed upstream", same.requests, same.bytes_received, args.drugs, met))

        changed = standin.studies[::20]  # 5%
        for study in changed:
            module = study["protocolSection"]["statusModule"]
            module["overallStatus"] = "ACTIVE_NOT_RECRUITING"
            module["lastUpdatePostDateStruct"] = {"date": TODAY}
        standin.data_timestamp = "2026-11-28T12:00:00"
        inc = await refresh(settings, store, full_listing=False)
        events = sum(len(d.changes) for d in inc.drugs)
        per = inc.requests / args.drugs
        met = f"target <= 0.1: {'met' if per <= 0.1 else 'MISSED'}"
        print(
            row(
                f"5% of studies changed ({len(changed)}; {events} events)",
                inc.requests,
                inc.bytes_received,
                args.drugs,
                met,
            )
        )

        standin.data_timestamp = "2026-11-28T13:00:00"
        full = await refresh(settings, store, full_listing=True)
        print(
            row(
                "incremental + full id listing (daily)",
                full.requests,
                full.bytes_received,
                args.drugs,
            )
        )

        async with open_registry(settings) as registry:
            for n in range(args.drugs):
                terms = query_terms(drug_page(n))
                await registry.search(SearchQuery(drug=drug_name(n), terms=terms, status="all"))
            peers = (registry.http.requests_made, registry.http.bytes_received)
        print(row("peers: re-run every drug's query", *peers, args.drugs))
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drugs", type=int, default=200)
    parser.add_argument("--studies-per-drug", type=int, default=25)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
