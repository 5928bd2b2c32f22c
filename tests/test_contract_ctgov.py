"""Contract: every real recorded ClinicalTrials.gov record parses, and nothing is lost.

Reads ../shared/reference/ctgov/ (real responses recorded by public projects);
skipped where that folder is absent, as on a user's clone.
"""

from __future__ import annotations

import json
from pathlib import Path

from trialfinder.models import StatusCategory
from trialfinder.registries.ctgov.parse import parse_study
from trialfinder.registries.ctgov.vocabulary import ALL_STATUSES, PHASES


def _records(reference: Path) -> list[tuple[str, dict]]:
    records = []
    for path in sorted((reference / "ctgov").glob("v2_s*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "studies" in data:
            records += [(path.name, s) for s in data["studies"]]
        elif isinstance(data, dict) and "protocolSection" in data:
            records.append((path.name, data))
    return records


def _get(record: dict, *path: str, default=None):
    node = record
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return node


def test_every_real_record_parses_without_loss(reference_dir):
    records = _records(reference_dir)
    assert len(records) >= 35
    for name, raw in records:
        trial = parse_study(raw)
        p = raw["protocolSection"]
        assert trial.id == p["identificationModule"]["nctId"], name
        assert trial.title == _get(p, "identificationModule", "briefTitle"), name
        status = _get(p, "statusModule", "overallStatus")
        assert trial.status == status and status in ALL_STATUSES, name
        assert trial.status_category != StatusCategory.UNKNOWN, name
        assert trial.phases == _get(p, "designModule", "phases", default=[]), name
        assert set(trial.phases) <= set(PHASES)
        assert trial.conditions == _get(p, "conditionsModule", "conditions", default=[]), name
        raw_interventions = _get(p, "armsInterventionsModule", "interventions", default=[])
        assert [i.name for i in trial.interventions] == [i["name"] for i in raw_interventions]
        assert [i.other_names for i in trial.interventions] == [
            i.get("otherNames", []) for i in raw_interventions
        ]
        locations = _get(p, "contactsLocationsModule", "locations", default=[])
        assert len(trial.sites) == len(locations), name
        for site, location in zip(trial.sites, locations, strict=True):
            assert site.facility == location.get("facility")
            assert site.country == location.get("country")
            assert site.status == location.get("status")
            assert site.latitude == _get(location, "geoPoint", "lat")
        for field, struct in [
            ("start_date", "startDateStruct"),
            ("last_updated", "lastUpdatePostDateStruct"),
        ]:
            assert getattr(trial, field) == _get(p, "statusModule", struct, "date"), name
        count = _get(p, "designModule", "enrollmentInfo", "count")
        assert trial.enrollment == (None if count == 99999999 else count), name
        assert trial.sponsor == _get(p, "sponsorCollaboratorsModule", "leadSponsor", "name")
        assert trial.url == f"https://clinicaltrials.gov/study/{trial.id}"


def test_real_quirks_are_kept(reference_dir):
    by_id = {parse_study(raw).id: parse_study(raw) for _, raw in _records(reference_dir)}
    alchemist = by_id["NCT04267848"]
    assert len(alchemist.sites) == 1148
    # sites without a status of their own are normal in real records
    assert any(site.status is None for trial in by_id.values() for site in trial.sites)
    partial = [t for t in by_id.values() if t.completion_date and len(t.completion_date) == 7]
    assert partial, "the recorded data has partial dates such as 2028-08"
    assert all(s.status for s in alchemist.sites)  # this record gives every site a status


def test_real_search_pages_announce_counts_and_tokens(reference_dir):
    folder = reference_dir / "ctgov"
    page1 = json.loads(
        (
            folder
            / "v2_search_query.cond-Phelan-McDermid_pageSize5_page1_nextPageToken_biomcp.json"
        ).read_text()
    )
    page2 = json.loads(
        (
            folder
            / "v2_search_query.cond-Phelan-McDermid_pageSize5_page2_via_pageToken_biomcp.json"
        ).read_text()
    )
    assert page1["totalCount"] == 21 and page1["nextPageToken"]
    assert "totalCount" not in page2  # only the first page carries the count
    assert not {s["protocolSection"]["identificationModule"]["nctId"] for s in page1["studies"]} & {
        s["protocolSection"]["identificationModule"]["nctId"] for s in page2["studies"]
    }


def test_stand_in_fixtures_have_the_real_shape(reference_dir):
    """Our own fixtures use the same module and field names as the real records."""
    from tests.standins.ctgov import load_fixture_studies

    real_keys = set()
    for _, raw in _records(reference_dir):
        real_keys |= set(raw["protocolSection"])
    for study in load_fixture_studies():
        assert set(study["protocolSection"]) <= real_keys
        parse_study(study)


def _piece_names(nodes: list[dict]) -> set[str]:
    names = set()
    for node in nodes:
        names.add(node.get("piece"))
        names |= _piece_names(node.get("children", []))
    return names


def test_every_requested_field_exists_in_the_real_data_model(reference_dir):
    from trialfinder.registries.ctgov.query import SEARCH_FIELDS

    metadata = json.loads(
        (reference_dir / "ctgov" / "v2_studies_metadata_response_metamonk.json").read_text()
    )
    known = _piece_names(metadata)
    assert set(SEARCH_FIELDS) <= known, set(SEARCH_FIELDS) - known
