"""Resolve what a user typed to one drug, and keep its page data.

``Blincyto``, ``MT103``, ``mt-103`` and ``blinatumomab`` all become the drug
page of blinatumomab. A cached page younger than ``[drugs] ttl_days`` answers
at once; otherwise every enabled source is asked at the same time (one request
each), gaps are filled with a second request only where the first answer
named the drug differently, and a misspelling is answered for the closest
name RxNav suggests. A source that fails costs only its own fields. A name
that no source knows is still searched, literally, and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from trialfinder.config import Settings
from trialfinder.errors import BadInputError, TrialfinderError
from trialfinder.models import AliasType, DrugFacts, DrugPage
from trialfinder.sources.merge import merge_facts
from trialfinder.store import Store
from trialfinder.store.store import utc_now
from trialfinder.terms import fold

CLOSE_ENOUGH = 0.8  # a suggestion this similar is taken as what was meant
WORTH_SUGGESTING = 0.6  # below this, the name is treated as unknown, not misspelt


class UnknownDrugError(BadInputError):
    """Nothing is called that, but some names are close: the user should choose."""

    def __init__(self, typed: str, suggestions: list[str]) -> None:
        super().__init__(f"no drug is called {typed!r}; did you mean: {', '.join(suggestions)}?")
        self.suggestions = suggestions


@dataclass
class Resolution:
    typed: str
    drug: DrugPage
    corrected_from: str | None = None  # set when a close spelling was used instead
    from_cache: bool = False
    stale: bool = False  # cached, but too old to use while the sources can be asked
    notes: list[str] = field(default_factory=list)


async def resolve(
    settings: Settings,
    store: Store,
    typed: str,
    *,
    offline: bool = False,
    refresh: bool = False,
) -> Resolution:
    """The drug page for ``typed``: cached when fresh, else from the sources."""
    cached = lookup_cached(settings, store, typed, offline=offline, refresh=refresh)
    if cached is not None and not cached.stale:
        return cached
    if offline:
        return cached or literal(typed, [], "offline, and not in the cache")
    resolution = await resolve_online(settings, typed)
    drug = resolution.drug
    if not drug.known and cached is not None:
        cached.notes.append("the drug sources did not answer; using the cached drug page")
        return cached
    # An unknown name is remembered only if every source answered "unknown";
    # an outage must not make a drug unknown for a week.
    if drug.known or not drug.missing:
        store.save_drug(drug, typed, resolution.corrected_from)
    return resolution


def lookup_cached(
    settings: Settings, store: Store, typed: str, *, offline: bool = False, refresh: bool = False
) -> Resolution | None:
    """The cached resolution of ``typed``, marked stale if it should be asked again."""
    found = store.find_drug(typed)
    if found is None:
        return None
    drug, corrected_from = found
    resolution = Resolution(typed, drug, corrected_from, from_cache=True)
    if not drug.known:
        resolution.notes.append(f"no drug source knows {typed!r}; searching for it literally")
    age = utc_now() - drug.fetched_at
    # Offline, an old page is still all there is.
    resolution.stale = not offline and (
        refresh or age > timedelta(seconds=settings.drug_ttl_seconds)
    )
    return resolution


async def resolve_online(settings: Settings, typed: str) -> Resolution:
    async with open_sources(settings) as sources:
        if not sources:
            return literal(typed, [], "every drug source is disabled in the config")
        facts, missing = await _ask_all(sources, typed)
        corrected_from = None
        if not facts:
            if len(missing) == len(sources):
                return literal(typed, missing, "no drug source could be reached")
            meant = await _closest_spelling(sources, typed, missing)
            if meant is None:
                return literal(typed, missing, "no drug source knows this name")
            corrected_from, typed = typed, meant
            facts, missing = await _ask_all(sources, typed)
            if not facts:
                return literal(corrected_from, missing, "no drug source knows this name")
        facts += await _fill_gaps(sources, facts, typed, missing)
    page = merge_facts(typed, facts, missing, utc_now())
    return Resolution(corrected_from or typed, page, corrected_from)


@contextlib.asynccontextmanager
async def open_sources(settings: Settings) -> AsyncIterator[dict[str, Any]]:
    """A client for each enabled drug source, each with its own polite HTTP session."""
    from trialfinder.http import PoliteClient
    from trialfinder.sources.nci_drug_dictionary import NciDrugDictionary
    from trialfinder.sources.nci_evs import NciEvs
    from trialfinder.sources.openfda import OpenFda
    from trialfinder.sources.rxnav import RxNav

    config = settings.drugs
    http_settings = settings.drug_http()
    kinds = {
        "nci_drug_dictionary": (NciDrugDictionary, config.nci_drug_dictionary, {}),
        "nci_evs": (NciEvs, config.nci_evs, {}),
        "rxnav": (RxNav, config.rxnav, {}),
        "openfda": (
            OpenFda,
            config.openfda,
            {"dailymed_url": config.dailymed.base_url, "api_key": config.openfda.api_key},
        ),
    }
    async with contextlib.AsyncExitStack() as stack:
        sources = {}
        for key, (kind, source_settings, extra) in kinds.items():
            if not source_settings.enabled:
                continue
            http = PoliteClient(kind.label, http_settings, source_settings.requests_per_second)
            await stack.enter_async_context(http)
            sources[key] = kind(source_settings.base_url, http, **extra)
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
    failed = {m.split(":")[0] for m in missing}
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


async def _closest_spelling(sources: dict[str, Any], typed: str, missing: list[str]) -> str | None:
    """The name RxNav suggests, if it is close; raise if only loosely close ones exist."""
    rxnav = sources.get("rxnav")
    if rxnav is None:
        return None
    suggestions = await _safely(rxnav.label, rxnav.suggestions(typed), missing) or []
    scored = sorted(
        ((difflib.SequenceMatcher(None, typed.casefold(), s.casefold()).ratio(), s)
         for s in dict.fromkeys(suggestions)),
        reverse=True,
    )  # fmt: skip
    if scored and scored[0][0] >= CLOSE_ENOUGH:
        return scored[0][1]
    near = [s for score, s in scored if score >= WORTH_SUGGESTING]
    if near:
        raise UnknownDrugError(typed, near[:5])
    return None


def literal(typed: str, missing: list[str], why: str | None) -> Resolution:
    """``typed`` as a drug no source knows: searched by that name alone."""
    page = DrugPage(name=typed, missing=missing, fetched_at=utc_now(), known=False)
    notes = [f"{why}; searching for {typed!r} literally"] if why else []
    return Resolution(typed, page, notes=notes)
