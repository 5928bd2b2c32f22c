"""The local drug lexicon: `lexicon update` against the Drug Dictionary stand-in, and any
name of a drug resolved from it with every drug source down."""

from __future__ import annotations

import json
import math
from collections import Counter

import pytest

from tests.conftest import cli_runner, write_config
from tests.standins.drugs import DrugStandins, first_letter, synthetic_terms
from trialfinder import lexicon, lexicon_update
from trialfinder.config import load_settings
from trialfinder.resolution import UnknownDrugError
from trialfinder.resolve import resolve
from trialfinder.sources.nci_drug_dictionary import EXPAND_LETTERS
from trialfinder.store import Store
from trialfinder.store import lexicon as stored
from trialfinder.store.pool import InlinePool

UNUSED_CTGOV = "http://127.0.0.1:9/api/v2"
EXPECTED = {
    "MT103": "blinatumomab",
    "mt-103": "blinatumomab",
    "MT 103": "blinatumomab",
    "Blincyto": "blinatumomab",
    "blinatumumab": "blinatumomab",
    "Keytruda": "pembrolizumab",
    "MK-3475": "pembrolizumab",
    "MK3475": "pembrolizumab",
    "Avastin": "bevacizumab",
    "bevacizumb": "bevacizumab",
}


@pytest.fixture
def drug_standins() -> DrugStandins:
    """The three real-shaped records among 400 made-up ones, so that a misspelling has
    neighbours to be told apart from."""
    standins = DrugStandins()
    standins.drug_dictionary.terms += synthetic_terms(400)
    return standins


def test_every_name_resolves_from_the_lexicon_with_every_drug_source_down(
    capsys, config_path, drug_standins
):
    run = cli_runner(capsys, config_path)
    code, out, err = run("lexicon", "update")
    assert code == 0, err
    assert "403 terms" in out
    for service in drug_standins.services:
        service.down = True
        service.requests.clear()
    for typed, meant in EXPECTED.items():
        code, out, err = run("drug", typed, "--format", "json")
        assert code == 0, (typed, err)
        page = json.loads(out)
        assert page["name"] == meant, typed
        assert page["known"] and page["ncit_code"] in {"C62528", "C106432", "C2039"}
        # Each is typed for the first time: found by the lexicon, even where the drug's
        # page was stored already under another of its names (MT103 before mt-103).
        assert page["resolved_by"] == "lexicon", typed
        if typed not in ("blinatumumab", "bevacizumb"):
            assert page["match"] in ("exact", "folded"), typed
        if typed in ("blinatumumab", "bevacizumb"):
            assert page["corrected_from"] == typed
            assert f"showing {meant} for {typed}" in err
    # The sources were asked (to enrich the page), and their outage is named.
    assert all(service.requests for service in drug_standins.services)
    code, out, _ = run("drug", "mt-103")
    assert "Found by the drug lexicon" in " ".join(out.split()), out
    code, out, _ = run("drug", "MT103")  # the very name looked up before
    assert "Found by" in out and "cached" in out, out


def test_lexicon_status_says_how_many_terms_and_how_old(capsys, config_path):
    run = cli_runner(capsys, config_path)
    code, out, _ = run("lexicon", "status")
    assert code == 0 and "empty" in out
    run("lexicon", "update")
    code, out, _ = run("lexicon", "status", "--format", "json")
    status = json.loads(out)
    assert status["terms"] == 403 and status["updated_at"] and status["age_seconds"] >= 0
    assert status["unfinished_update"] is None


@pytest.fixture
async def env(aiohttp_server, tmp_path, store_place):
    """Settings, the store (a SQLite file, then a PostgreSQL database) and the stand-ins,
    the Drug Dictionary's with 2,500 made-up terms besides its three."""
    standins = DrugStandins()
    standins.drug_dictionary.terms += synthetic_terms(2500)
    server = await aiohttp_server(standins.app())
    root = str(server.make_url("")).rstrip("/")
    config = write_config(
        tmp_path,
        UNUSED_CTGOV,
        drug_urls=standins.base_urls(root),
        drug_timeout=1.0,
        store_url=store_place if isinstance(store_place, str) else None,
    )
    settings = load_settings(config)
    store = Store.open_configured(settings)
    yield settings, store, standins
    store.close()


async def test_update_costs_one_request_per_page_and_nothing_more(env, monkeypatch):
    settings, store, standins = env
    monkeypatch.setattr(lexicon_update, "PAGE_SIZE", 100)
    report = await lexicon_update.update(settings, store)
    assert report.finished
    per_letter = Counter(first_letter(t["name"]) for t in standins.drug_dictionary.terms)
    pages = sum(max(1, math.ceil(per_letter[letter] / 100)) for letter in EXPAND_LETTERS)
    assert report.requests == len(standins.drug_dictionary.requests) == pages
    assert stored.status(store).terms == len(standins.drug_dictionary.terms)


async def test_a_later_update_writes_only_what_changed(env):
    settings, store, standins = env
    await lexicon_update.update(settings, store)
    terms = standins.drug_dictionary.terms
    pembrolizumab = next(t for t in terms if t["name"] == "pembrolizumab")
    pembrolizumab["aliases"].append({"type": "CodeName", "name": "MK-9999"})
    gone = next(t for t in terms if t["name"].startswith("b") and t["termId"] > 2_000_000)
    terms.remove(gone)
    report = await lexicon_update.update(settings, store)
    assert sum(r.changed for r in report.letters) == 1
    assert sum(r.removed for r in report.letters) == 1
    assert sum(r.added for r in report.letters) == 0
    hit = lexicon.find(store, "MK9999")
    assert hit is not None and hit.facts.name == "pembrolizumab"
    assert lexicon.find(store, gone["name"]).facts is None or (
        lexicon.find(store, gone["name"]).facts.name != gone["name"]
    )


async def test_an_interrupted_update_resumes_at_the_letter_it_stopped_at(env):
    settings, store, standins = env
    dictionary = standins.drug_dictionary

    def fail_after_c(letter, position, of):
        if letter.letter == "c":
            dictionary.down = True

    report = await lexicon_update.update(settings, store, fail_after_c)
    assert not report.finished and "stopped at 'd'" in report.error
    assert stored.status(store).unfinished is not None
    dictionary.down = False
    dictionary.requests.clear()
    again = await lexicon_update.update(settings, store)
    assert again.finished and again.resumed and again.already_loaded == ["a", "b", "c"]
    asked = {r.match_info["character"] for r in dictionary.requests}
    assert not asked & {"a", "b", "c"} and "d" in asked and "#" in asked
    assert stored.status(store).unfinished is None


async def test_a_listing_that_changes_while_paged_is_not_trusted_to_remove(env, monkeypatch):
    settings, store, standins = env
    monkeypatch.setattr(lexicon_update, "PAGE_SIZE", 50)
    await lexicon_update.update(settings, store)
    dictionary = standins.drug_dictionary
    removed = next(t for t in dictionary.terms if t["name"].startswith("s"))
    dictionary.terms.remove(removed)
    original = dictionary._resources

    calls = 0

    def shifting(letter):  # the listing grows by one term on every page asked
        nonlocal calls
        calls += 1
        extra = [{**t, "name": f"s{t['name']}"} for t in synthetic_terms(calls, seed=calls)]
        return original(letter) + [{**t, "firstLetter": letter} for t in extra]

    dictionary._resources = shifting
    report = await lexicon_update.update(settings, store)
    s = next(r for r in report.letters if r.letter == "s")
    assert not s.whole and s.removed == 0


async def test_a_code_name_typo_never_changes_its_number(env):
    settings, store, _ = env
    await lexicon_update.update(settings, store)
    hit = lexicon.find(store, "MK-3476")
    assert hit is None or hit.facts is None
    hit = lexicon.find(store, "pembrolizumb")
    assert hit.facts.name == "pembrolizumab" and hit.corrected_from == "pembrolizumb"


async def test_offline_a_loosely_alike_name_asks_which_was_meant(env):
    settings, store, _ = env
    await lexicon_update.update(settings, store)
    with pytest.raises(UnknownDrugError) as refused:
        await resolve(InlinePool(store), settings, "bevaciz", offline=True)
    assert "bevacizumab" in refused.value.suggestions


async def test_without_a_lexicon_a_code_name_is_tried_hyphenated_at_the_dictionary(env):
    """The Drug Dictionary spells it MT-103; EVS, which knew MT103, is down."""
    settings, store, standins = env
    for service in (standins.evs, standins.rxnav, standins.openfda):
        service.down = True
    resolution = await resolve(InlinePool(store), settings, "MT103")
    assert resolution.drug.known and resolution.drug.name == "blinatumomab"
    again = await resolve(InlinePool(store), settings, "mt-103")
    assert again.drug.name == "blinatumomab"
    assert not any("could not be reached lately" in note for note in again.notes)


async def test_an_unknown_name_is_not_remembered_while_a_source_is_unreachable(env):
    settings, store, standins = env
    standins.evs.down = True
    first = await resolve(InlinePool(store), settings, "zzqx-77")
    assert not first.drug.known and "no drug source that answered" in first.notes[0]
    asked = len(standins.drug_dictionary.requests)
    second = await resolve(InlinePool(store), settings, "zzqx-77")
    assert not second.from_cache and len(standins.drug_dictionary.requests) > asked
    standins.evs.down = False
    await resolve(InlinePool(store), settings, "zzqx-77")
    remembered = await resolve(InlinePool(store), settings, "zzqx-77")
    assert remembered.from_cache and "no drug source knows" in remembered.notes[0]


async def test_the_api_resolves_through_the_lexicon_with_every_drug_source_down(
    make_client, drug_standins
):
    from trialfinder.web.keys import SETTINGS

    client = await make_client()
    settings = client.app[SETTINGS]
    with Store.open(settings.cache.path) as store:
        assert (await lexicon_update.update(settings, store)).finished
    for service in drug_standins.services:
        service.down = True
    response = await client.get("/api/v1/drugs/MK3475")
    assert response.status == 200
    page = await response.json()
    assert page["name"] == "pembrolizumab" and page["resolved_by"] == "lexicon"
    assert page["match"] == "folded" and page["missing"]
    response = await client.get("/api/v1/drugs/bevacizumb/trials?status=all")
    assert response.status == 200
    listed = await response.json()
    assert listed["drug"]["name"] == "bevacizumab"
    assert listed["drug"]["corrected_from"] == "bevacizumb"


async def test_the_scheduler_updates_the_lexicon_weekly_when_enabled(env):
    from trialfinder import scheduler

    settings, store, standins = env
    assert scheduler.build_scheduler(settings).get_job(scheduler.LEXICON_JOB_ID) is None
    drugs = settings.drugs.model_copy(update={"update_lexicon_weekly": True})
    weekly = settings.model_copy(update={"drugs": drugs})
    assert scheduler.build_scheduler(weekly).get_job(scheduler.LEXICON_JOB_ID) is not None
    assert await scheduler.run_lexicon_update(weekly)  # empty: loaded
    assert stored.status(store).terms == len(standins.drug_dictionary.terms)
    asked = len(standins.drug_dictionary.requests)
    assert not await scheduler.run_lexicon_update(weekly)  # a day later: not a week old
    assert len(standins.drug_dictionary.requests) == asked


def test_the_cli_names_only_the_sources_that_could_not_be_reached(
    capsys, config_path, drug_standins
):
    drug_standins.evs.down = True
    run = cli_runner(capsys, config_path)
    for _ in range(2):  # and the second time, the name is asked again, not "lately" remembered
        code, _, err = run("search", "zzqx-77")
        assert code == 0, err
        assert "no drug source that answered knows this name" in err
        assert "unreachable: NCI EVS" in err and "RxNav" not in err
        assert "could not be reached lately" not in err


def test_the_real_expand_listing_is_read_as_the_stand_in_serves_it(reference_dir, drug_standins):
    """Contract: the recorded ``Drugs/expand/B`` (297 resources: 235 DrugTerms, 62
    DrugAlias brand entries) is read into lexicon terms, and the stand-in's listing has
    the same keys, resource by resource kind."""
    recorded = json.loads(
        (
            reference_dir / "drugs" / "nci-drugdict_v1_Drugs_expand_B_FULL__"
            "NCIOCPL-drug-dictionary-app.json"
        ).read_text(encoding="utf-8")
    )
    assert recorded["meta"]["totalResults"] == len(recorded["results"])
    terms = [lexicon_update._term(r, "b") for r in recorded["results"]]
    read = [t for t in terms if t is not None]
    assert len(read) == sum(r["type"] == "DrugTerm" for r in recorded["results"])
    blinatumomab = next(t for t in read if t.name == "blinatumomab")
    assert blinatumomab.term_id == 487684 and blinatumomab.ncit_code == "C62528"
    keys = {n.key for n in blinatumomab.names}
    assert {"blincyto", "mt103", "medi538"} <= keys
    served = {r["type"]: set(r) for r in drug_standins.drug_dictionary._resources("b")}
    real = {r["type"]: set(r) for r in recorded["results"]}
    assert served == real


async def test_one_update_at_a_time(env):
    from datetime import timedelta

    from trialfinder.clock import utc_now
    from trialfinder.store import leases

    settings, store, standins = env
    now = utc_now()
    assert leases.acquire_lease(
        store, lexicon_update.LEASE, "elsewhere:1:x", now, now + timedelta(hours=1)
    )
    report = await lexicon_update.update(settings, store)
    assert not report.finished and "another lexicon update is running" in report.skipped
    assert not standins.drug_dictionary.requests
    leases.release_lease(store, lexicon_update.LEASE, "elsewhere:1:x")
    assert (await lexicon_update.update(settings, store)).finished


def test_an_update_the_dictionary_cannot_answer_says_so_and_exits_3(
    capsys, config_path, drug_standins
):
    drug_standins.drug_dictionary.down = True
    run = cli_runner(capsys, config_path)
    code, out, err = run("lexicon", "update")
    assert code == 3 and "Traceback" not in err
    assert "NCI Drug Dictionary" in err and "stopped at 'a'" in err
    code, out, _ = run("lexicon", "status")
    assert code == 0 and "empty" in out and "did not finish" in out


def a_term(term_id: int, name: str, *aliases: tuple[str, str]) -> dict:
    """A DrugTerm record in the Drug Dictionary's shape (as its ``Drugs/expand`` lists it)."""
    return {
        "aliases": [{"type": kind, "name": alias} for kind, alias in aliases],
        "definition": {"html": f"{name}.", "text": f"{name}."},
        "drugInfoSummaryLink": None,
        "nciConceptId": f"C{800000 + term_id % 100000}",
        "nciConceptName": name.title(),
        "termId": term_id,
        "name": name,
        "firstLetter": first_letter(name),
        "type": "DrugTerm",
        "termNameType": "PreferredName",
        "prettyUrlName": name.lower().replace(" ", "-"),
    }


# Salts of the real letter-B listing: names that share a salt word and little else.
SALTS = [
    a_term(
        350251,
        "bendamustine hydrochloride",
        ("USBrandName", "Treanda"),
        ("Synonym", "bendamustin hydrochloride"),
        ("CodeName", "SDX-105"),
    ),
    a_term(42672, "benzydamine hydrochloride", ("Synonym", "benzydamine HCl")),
    a_term(38567, "bupropion hydrochloride", ("USBrandName", "Wellbutrin")),
    a_term(764359, "berberine chloride", ("Synonym", "berberine hydrochloride")),
    a_term(3_000_001, "tarlatanab"),  # made up: 90% like tarlatamab
]


@pytest.mark.parametrize(
    "typed",
    [
        "buprenorphine hydrochloride",  # 87.5% like bupropion hydrochloride
        "bromhexine hydrochloride",  # like berberine hydrochloride
        "benzphetamine hydrochloride",  # like benzydamine hydrochloride
        "butenafine hydrochloride",
        "benzphetamine HCl",
    ],
)
async def test_a_shared_salt_word_does_not_make_another_drug_a_correction(env, typed):
    settings, store, standins = env
    standins.drug_dictionary.terms += SALTS
    await lexicon_update.update(settings, store)
    hit = lexicon.find(store, typed)
    assert hit is None or hit.facts is None, hit.facts.name


async def test_hcl_is_read_as_hydrochloride(env):
    settings, store, standins = env
    standins.drug_dictionary.terms += SALTS
    await lexicon_update.update(settings, store)
    for typed in ("bendamustine HCl", "Bendamustine hcl", "bendamustin HCl"):
        hit = lexicon.find(store, typed)
        assert hit.facts.name == "bendamustine hydrochloride", typed
        assert hit.match == "folded" and hit.corrected_from is None
    resolution = await resolve(InlinePool(store), settings, "bendamustine HCl")
    assert resolution.drug.name == "bendamustine hydrochloride"


async def test_a_close_spelling_in_the_lexicon_does_not_outrank_the_sources(env):
    """The lexicon knows tarlatanab (made up), 90% like tarlatamab; the Drug Dictionary, listed
    since the lexicon was loaded, knows tarlatamab itself."""
    settings, store, standins = env
    standins.drug_dictionary.terms += SALTS
    await lexicon_update.update(settings, store)
    hit = lexicon.find(store, "tarlatamab")
    assert hit.facts.name == "tarlatanab" and hit.match == "fuzzy"  # the guess
    standins.drug_dictionary.terms.append(a_term(3_000_002, "tarlatamab", ("CodeName", "AMG 757")))
    resolution = await resolve(InlinePool(store), settings, "tarlatamab")
    assert resolution.drug.name == "tarlatamab" and resolution.corrected_from is None
    assert resolution.origin == "sources"
    again = await resolve(InlinePool(store), settings, "tarlatamab")
    assert again.drug.name == "tarlatamab"
    # A close spelling no source knows: the lexicon's guess stands.
    guessed = await resolve(InlinePool(store), settings, "tarlatanb")
    assert guessed.drug.name == "tarlatanab" and guessed.corrected_from == "tarlatanb"
    assert guessed.origin == "lexicon" and guessed.match == "fuzzy"


async def test_the_real_b_listing_corrects_no_salt_into_another_drug(env, reference_dir):
    """Contract: loaded from the recorded ``Drugs/expand/B``, the names a new user saw
    swapped for other drugs are not corrected into them; the misspellings still are."""
    _, store, _ = env
    recorded = json.loads(
        (
            reference_dir / "drugs" / "nci-drugdict_v1_Drugs_expand_B_FULL__"
            "NCIOCPL-drug-dictionary-app.json"
        ).read_text(encoding="utf-8")
    )
    terms = [t for t in (lexicon_update._term(r, "b") for r in recorded["results"]) if t]
    stored.save_letter(store, "b", "2026-01-01T00:00:00+00:00", terms, "2026-01-01", whole=True)
    assert lexicon.find(store, "bendamustine HCl").facts.name == "bendamustine hydrochloride"
    for typed in (
        "buprenorphine hydrochloride",
        "bromhexine hydrochloride",
        "benzphetamine hydrochloride",
        "butenafine hydrochloride",
    ):
        hit = lexicon.find(store, typed)
        assert hit is None or hit.facts is None, (typed, hit.facts.name)
    assert lexicon.find(store, "blinatumumab").facts.name == "blinatumomab"
    assert lexicon.find(store, "bevacizumb").facts.name == "bevacizumab"


@pytest.mark.parametrize("up", [None, "evs"])
def test_sources_that_could_not_be_reached_are_named_once_each(
    capsys, config_path, drug_standins, up
):
    run = cli_runner(capsys, config_path)
    run("lexicon", "update")
    for service in drug_standins.services:
        service.down = True
    if up:
        drug_standins.evs.down = False
    code, out, err = run("drug", "zzqx-77", "--format", "json")
    assert code == 0, err
    missing = json.loads(out)["missing"]
    labels = [m.split(":")[0] for m in missing]
    assert len(labels) == len(set(labels)) and "RxNav" in labels
    assert not any("HTTP 503): HTTP 503" in m for m in missing), missing
    if up is None:  # none answered: none is said to have answered
        assert "no drug source could be reached" in err
        assert "that answered" not in err
    else:
        assert "no drug source that answered knows this name" in err
        assert "NCI EVS" not in labels


def test_ctrl_c_says_where_the_update_stopped_and_it_resumes_there(
    capsys, config_path, drug_standins, monkeypatch
):
    load_letter = lexicon_update._load_letter

    async def interrupted_at_d(dictionary, store, started, letter):
        if letter == "d":
            raise KeyboardInterrupt
        return await load_letter(dictionary, store, started, letter)

    monkeypatch.setattr(lexicon_update, "_load_letter", interrupted_at_d)
    run = cli_runner(capsys, config_path)
    code, _, err = run("lexicon", "update")
    assert code == 130 and "Traceback" not in err
    assert "interrupted at 'd' (3 of 27 letters loaded)" in err and "resume" in err
    monkeypatch.setattr(lexicon_update, "_load_letter", load_letter)
    code, _, err = run("lexicon", "update")
    assert code == 0 and "3 letters were already loaded" in err


def test_drug_offline_shows_the_lexicons_page_with_no_trials_cached(
    capsys, config_path, drug_standins
):
    run = cli_runner(capsys, config_path)
    run("lexicon", "update")
    code, out, err = run("drug", "blinatumumab", "--offline", "--format", "json")
    assert code == 0, err
    page = json.loads(out)
    assert page["name"] == "blinatumomab" and page["resolved_by"] == "lexicon"
    assert page["trials"]["total"] == 0
    assert "nothing cached for 'blinatumomab' in ctgov" in err and "without --offline" in err
    code, out, err = run("drug", "Blincyto", "--offline")
    assert code == 0 and "blinatumomab" in out and "Traceback" not in err
    # A search is a list of trials: offline with none cached, it still says so and exits 3.
    code, _, err = run("search", "Blincyto", "--offline")
    assert code == 3 and "nothing cached" in err
    # Nor is a name nothing knows shown as a page.
    code, _, err = run("drug", "zzqx-77", "--offline")
    assert code == 3 and "nothing cached" in err


async def test_a_guess_is_not_remembered_while_a_source_is_unreachable(env):
    settings, store, standins = env
    standins.drug_dictionary.terms += SALTS
    await lexicon_update.update(settings, store)
    standins.evs.down = True
    first = await resolve(InlinePool(store), settings, "tarlatanb")
    assert first.drug.name == "tarlatanab" and first.guessed
    asked = len(standins.rxnav.requests)
    again = await resolve(InlinePool(store), settings, "tarlatanb")
    assert again.drug.name == "tarlatanab" and len(standins.rxnav.requests) > asked
    standins.evs.down = False
    await resolve(InlinePool(store), settings, "tarlatanb")
    asked = len(standins.rxnav.requests)
    remembered = await resolve(InlinePool(store), settings, "tarlatanb")
    assert remembered.drug.name == "tarlatanab" and remembered.origin == "cache"
    assert len(standins.rxnav.requests) == asked
