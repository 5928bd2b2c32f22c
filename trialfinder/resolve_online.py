"""Ask the drug sources about a name: the network half of resolution.

Every enabled source is asked at the same time (one request each); gaps are
filled with a second request only where the first answer named the drug
differently (a code name EVS knows but the Drug Dictionary spells with a
hyphen, say); a misspelling is answered for the closest name RxNav suggests.
Kept apart from ``resolve`` so that a cached resolution imports no HTTP code.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from trialfinder.clock import utc_now
from trialfinder.config import Settings
from trialfinder.errors import TrialfinderError
from trialfinder.models import AliasType, DrugFacts
from trialfinder.resolution import (
    CLOSE_ENOUGH,
    WORTH_SUGGESTING,
    Resolution,
    UnknownDrugError,
    literal,
)
from trialfinder.sources.merge import merge_facts
from trialfinder.sources.nci_drug_dictionary import LABEL as DICTIONARY_LABEL
from trialfinder.terms import code_variants, fold


async def resolve_online(settings: Settings, typed: str) -> Resolution:
    async with open_sources(settings) as sources:
        if not sources:
            return literal(typed, [], "every drug source is disabled in the config")
        facts, missing = await _ask_all(sources, typed)
        corrected_from = None
        if not facts:
            facts = await _code_variants_at_dictionary(sources, typed, missing)
        if not facts:
            if _failed(missing) >= {s.label for s in sources.values()}:
                outage = literal(typed, _once_each(missing), "no drug source could be reached")
                outage.unanswered = True
                return outage
            meant = await _closest_spelling(sources, typed, missing)
            if meant is None:
                return literal(typed, _once_each(missing), _unknown(missing))
            corrected_from, typed = typed, meant
            facts, missing = await _ask_all(sources, typed)
            if not facts:
                return literal(corrected_from, _once_each(missing), _unknown(missing))
        facts += await _fill_gaps(sources, facts, typed, missing)
    page = merge_facts(typed, facts, _once_each(missing), utc_now())
    return Resolution(corrected_from or typed, page, corrected_from)


async def enrich(settings: Settings, found: Resolution) -> Resolution:
    """The page of a drug the lexicon named, with what the sources add (label, RxCUI,
    thesaurus synonyms). Each is asked by the drug's ids or preferred name, never by
    what was typed; a source that fails costs only its own fields, and the lexicon's
    record stands in for the Drug Dictionary when it does not answer."""
    known = found.facts
    assert known is not None and known.name
    name = known.name
    async with open_sources(settings) as sources:
        missing: list[str] = []
        calls = []
        for key, source in sources.items():
            if key == "nci_drug_dictionary" and known.nci_term_id:
                call = source.by_term_id(known.nci_term_id)
            elif key == "nci_evs" and known.ncit_code:
                call = source.by_code(known.ncit_code)
            elif key == "openfda":
                brands = tuple(a.name for a in known.aliases if a.type is AliasType.US_BRAND)
                call = source.lookup(name, brands)
            else:
                call = source.lookup(name)
            calls.append(_safely(source.label, call, missing))
        facts = [a for a in await asyncio.gather(*calls) if a is not None]
    if not any(f.source == DICTIONARY_LABEL for f in facts):
        facts.append(known)
    page = merge_facts(name, facts, _once_each(missing), utc_now())
    return Resolution(found.typed, page, found.corrected_from, origin="lexicon", match=found.match)


def source_kinds(settings: Settings) -> dict[str, tuple[type, Any, dict[str, Any]]]:
    """Each drug source by its config key: its client class, its ``[drugs.KEY]`` section
    and what else its client is built with (what ``open_sources`` and ``doctor`` open)."""
    from trialfinder.sources.nci_drug_dictionary import NciDrugDictionary
    from trialfinder.sources.nci_evs import NciEvs
    from trialfinder.sources.openfda import OpenFda
    from trialfinder.sources.rxnav import RxNav

    config = settings.drugs
    return {
        "nci_drug_dictionary": (NciDrugDictionary, config.nci_drug_dictionary, {}),
        "nci_evs": (NciEvs, config.nci_evs, {}),
        "rxnav": (RxNav, config.rxnav, {}),
        "openfda": (
            OpenFda,
            config.openfda,
            {"dailymed_url": config.dailymed.base_url, "api_key": config.openfda.api_key},
        ),
    }


def source_http(settings: Settings, kind: type, section: Any):
    """The polite HTTP client (not yet opened) a drug source is given."""
    from trialfinder.http import PoliteClient

    return PoliteClient(kind.label, settings.drug_http(), section.requests_per_second)


@contextlib.asynccontextmanager
async def open_sources(settings: Settings) -> AsyncIterator[dict[str, Any]]:
    """A client for each enabled drug source, each with its own polite HTTP session."""
    async with contextlib.AsyncExitStack() as stack:
        sources = {}
        for key, (kind, source_settings, extra) in source_kinds(settings).items():
            if not source_settings.enabled:
                continue
            http = source_http(settings, kind, source_settings)
            await stack.enter_async_context(http)
            sources[key] = kind(source_settings.base_url, http, **extra)
        if settings.registries.nci_cts.api_key:
            from trialfinder.registries.nci_cts.client import NciCtsRegistry
            from trialfinder.sources.nci_cts_interventions import NciCtsInterventions

            http = NciCtsRegistry.client_for(settings)
            await stack.enter_async_context(http)
            sources["nci_cts"] = NciCtsInterventions(NciCtsRegistry(settings, http))
        yield sources


async def _safely(label: str, call: Awaitable[Any], missing: list[str]) -> Any:
    """Await one source call; a failure is noted in ``missing`` and answers None."""
    try:
        return await call
    except TrialfinderError as error:
        missing.append(str(error))
    except (ValueError, TypeError, KeyError) as error:
        missing.append(f"{label}: answered something unexpected ({type(error).__name__})")
    return None


def _failed(missing: list[str]) -> set[str]:
    """The labels of the sources that failed (each entry of ``missing`` is ``LABEL: why``)."""
    return {m.split(":")[0] for m in missing}


def _once_each(missing: list[str]) -> list[str]:
    """``missing`` with each source named once (its first failure): a source asked twice
    (a second name, RxNav's suggestions) fails twice in an outage."""
    first: dict[str, str] = {}
    for entry in missing:
        first.setdefault(entry.split(":")[0], entry)
    return list(first.values())


async def _ask_all(sources: dict[str, Any], name: str) -> tuple[list[DrugFacts], list[str]]:
    """Ask every source about ``name`` at once."""
    missing: list[str] = []
    answers = await asyncio.gather(
        *(_safely(s.label, s.lookup(name), missing) for s in sources.values())
    )
    return [a for a in answers if a is not None], missing


async def _fill_gaps(
    sources: dict[str, Any], facts: list[DrugFacts], typed: str, missing: list[str]
) -> list[DrugFacts]:
    """Second requests, only where a source missed the drug under the name typed."""
    answered = {f.source for f in facts}
    failed = _failed(missing)
    preferred = merge_facts(typed, facts, [], utc_now())
    renamed = fold(preferred.name) != fold(typed)
    calls = []

    def wanted(key: str) -> Any | None:
        source = sources.get(key)
        return source if source and source.label not in failed else None

    dictionary, evs = wanted("nci_drug_dictionary"), wanted("nci_evs")
    if dictionary and dictionary.label not in answered and preferred.nci_term_id:
        calls.append(
            _safely(dictionary.label, dictionary.by_term_id(preferred.nci_term_id), missing)
        )
    if evs and evs.label not in answered and preferred.ncit_code:
        calls.append(_safely(evs.label, evs.by_code(preferred.ncit_code), missing))
    rxnav, fda = wanted("rxnav"), wanted("openfda")
    if rxnav and renamed:
        calls.append(_safely(rxnav.label, rxnav.lookup(preferred.name), missing))
    if fda and fda.label not in answered and renamed:
        brands = tuple(preferred.names_of(AliasType.US_BRAND))
        calls.append(_safely(fda.label, fda.lookup(preferred.name, brands), missing))
    # Later facts of a source win in merge_facts: the ingredient's RxCUI, say,
    # over the brand's that a first request under a brand name found.
    return [a for a in await asyncio.gather(*calls) if a is not None]


async def _code_variants_at_dictionary(
    sources: dict[str, Any], typed: str, missing: list[str]
) -> list[DrugFacts]:
    """A code name no source knew, asked of the Drug Dictionary in its other spellings:
    it writes MT-103 where a user types MT103 (one request a variant, first hit wins)."""
    dictionary = sources.get("nci_drug_dictionary")
    if dictionary is None or dictionary.label in _failed(missing):
        return []
    for variant in code_variants(typed)[1:]:
        found = await _safely(dictionary.label, dictionary.lookup(variant), missing)
        if found is not None:
            return [found]
    return []


def _unknown(missing: list[str]) -> str:
    """Why a name is searched literally when some sources answered and none knew it; the
    ones that could not be reached are named apart (``DrugSearch.notes``)."""
    if missing:
        return "no drug source that answered knows this name"
    return "no drug source knows this name"


async def _closest_spelling(sources: dict[str, Any], typed: str, missing: list[str]) -> str | None:
    """The name RxNav suggests, if it is close; raise if only loosely close ones exist."""
    rxnav = sources.get("rxnav")
    if rxnav is None or rxnav.label in _failed(missing):
        return None
    suggestions = await _safely(rxnav.label, rxnav.suggestions(typed), missing) or []
    scored = sorted(((_similarity(typed, s), s) for s in dict.fromkeys(suggestions)), reverse=True)
    if scored and scored[0][0] >= CLOSE_ENOUGH:
        return scored[0][1]
    near = [s for score, s in scored if score >= WORTH_SUGGESTING]
    if near:
        raise UnknownDrugError(typed, near[:5])
    return None


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.casefold(), b.casefold()).ratio()
