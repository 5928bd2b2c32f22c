"""``trialfinder lexicon update``: load the NCI Drug Dictionary's every term into the store.

The Dictionary lists its terms a letter at a time (``Drugs/expand/{letter}``, a-z
and ``#`` for names that begin with a digit or a sign), in pages of ``size``
from ``from``, each a whole record: aliases with their types, the term id, the
NCI Thesaurus code, the definition and the cancer.gov page. So the whole
dictionary costs one request per page of ``PAGE_SIZE`` terms, nothing more
(about 27 + 25,000 / 1,000 requests), at the Dictionary's polite rate.

- **Resumable.** Each letter is written in one transaction once all its pages
  have come, and the run that loaded it is recorded; an update that stops (an
  outage, Ctrl-C) leaves the letters it finished, and the next run begun within
  ``RESUME_WITHIN`` carries on from the first letter it had not.
- **Incremental.** A term whose record has not changed (by its digest) is not
  written again; a term the Dictionary no longer lists is removed, but only from a
  letter whose every page arrived.
- **Honest paging.** A total that changes between pages (the Dictionary updated
  meanwhile) restarts the letter once; a letter that brings fewer records than it
  announced is stored without removing anything and is loaded again next run.
  One unreadable record costs only itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson

from trialfinder.clock import utc_now
from trialfinder.config import Settings
from trialfinder.errors import ConfigError, TrialfinderError
from trialfinder.lexicon import names_of
from trialfinder.refresh import holder_id, take_lease
from trialfinder.resolve_online import source_http, source_kinds
from trialfinder.sources.nci_drug_dictionary import (
    EXPAND_LETTERS,
    LEXICON_LABEL,
    NciDrugDictionary,
    parse_term,
)
from trialfinder.store import Store, leases
from trialfinder.store import lexicon as stored

PAGE_SIZE = 1000  # the page the Dictionary's own integration tests ask for
RESUME_WITHIN = timedelta(days=7)  # an older interrupted update is begun again
# One update at a time per store (server workers each run the scheduler): a lease,
# as refresh takes one, long enough for the whole dictionary at a polite rate.
LEASE = "lexicon:update"
LEASE_FOR = timedelta(hours=2)


@dataclass
class LetterReport:
    letter: str
    terms: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    requests: int = 0
    whole: bool = True  # every announced record arrived
    skipped_records: int = 0  # unreadable, left out


@dataclass
class UpdateReport:
    started_at: datetime
    resumed: bool = False
    letters: list[LetterReport] = field(default_factory=list)
    already_loaded: list[str] = field(default_factory=list)  # by the run this one resumed
    error: str | None = None  # why the update stopped before the last letter
    skipped: str | None = None  # why it did not run at all (another holds the lease)

    @property
    def requests(self) -> int:
        return sum(letter.requests for letter in self.letters)

    @property
    def finished(self) -> bool:
        return self.error is None and self.skipped is None


Progress = Callable[[LetterReport, int, int], None]  # a letter done, its position, of how many


async def update(
    settings: Settings, store: Store, progress: Progress | None = None
) -> UpdateReport:
    """Load every letter not yet loaded by this run (or the interrupted one it resumes);
    skipped while another process holds the update's lease."""
    _, section, _ = source_kinds(settings)["nci_drug_dictionary"]
    if not section.enabled:
        raise ConfigError("[drugs.nci_drug_dictionary] is disabled: the lexicon comes from it")
    now = utc_now()
    holder = holder_id()
    if not take_lease(store, LEASE, holder, now, now + LEASE_FOR):
        held = leases.lease_holder(store, LEASE)
        report = UpdateReport(now)
        who = f"{held[0]}, until {held[1]:%H:%M} UTC" if held else "another process"
        report.skipped = f"another lexicon update is running ({who})"
        return report
    try:
        return await _update(settings, store, progress, now)
    finally:
        leases.release_lease(store, LEASE, holder)


async def _update(
    settings: Settings, store: Store, progress: Progress | None, now: datetime
) -> UpdateReport:
    kind, section, _ = source_kinds(settings)["nci_drug_dictionary"]
    unfinished = stored.unfinished_run(store)
    if unfinished is not None and now - datetime.fromisoformat(unfinished) < RESUME_WITHIN:
        report = UpdateReport(datetime.fromisoformat(unfinished), resumed=True)
    else:
        report = UpdateReport(now)
    started = report.started_at.isoformat()
    stored.begin_run(store, started)
    done = stored.letters_loaded_by(store, started)
    report.already_loaded = [letter for letter in EXPAND_LETTERS if letter in done]
    async with source_http(settings, kind, section) as http:
        dictionary = NciDrugDictionary(section.base_url, http)
        for position, letter in enumerate(EXPAND_LETTERS, start=1):
            if letter in done:
                continue
            try:
                letter_report = await _load_letter(dictionary, store, started, letter)
            except TrialfinderError as error:
                report.error = _stopped(str(error), letter)
                break
            except (ValueError, TypeError) as error:  # an answer that is no listing
                why = f"{dictionary.label}: answered something unexpected ({error})"
                report.error = _stopped(why, letter)
                break
            report.letters.append(letter_report)
            stored.count_requests(store, started, letter_report.requests)
            if progress is not None:
                progress(letter_report, position, len(EXPAND_LETTERS))
    if report.finished:
        stored.finish_run(store, started, utc_now().isoformat())
    return report


def _stopped(why: str, letter: str) -> str:
    return f"{why}; stopped at {letter!r}: run `trialfinder lexicon update` again to resume"


async def _load_letter(
    dictionary: NciDrugDictionary, store: Store, started: str, letter: str
) -> LetterReport:
    report = LetterReport(letter)
    records, report.whole, report.requests = await _fetch_letter(dictionary, letter)
    terms = []
    for record in records:
        term = _term(record, letter)
        if term is None:
            report.skipped_records += 1
        else:
            terms.append(term)
    written = stored.save_letter(
        store, letter, started, terms, utc_now().isoformat(), whole=report.whole
    )
    report.terms = len(terms)
    report.added, report.changed, report.removed = written.added, written.changed, written.removed
    return report


async def _fetch_letter(dictionary: NciDrugDictionary, letter: str) -> tuple[list, bool, int]:
    """Every record of ``letter``, whether all that were announced came, and the requests."""
    requests = 0
    for attempt in range(2):
        total, page = await dictionary.expand(letter, 0, PAGE_SIZE)
        requests += 1
        records = {_key(r, i): r for i, r in enumerate(page)}
        start, moved = len(page), False
        while page and start < total:
            again, page = await dictionary.expand(letter, start, PAGE_SIZE)
            requests += 1
            if again != total:
                moved = True  # the listing changed under us: pages no longer line up
                break
            records.update({_key(r, start + i): r for i, r in enumerate(page)})
            start += len(page)
        if not moved:
            return list(records.values()), len(records) >= total, requests
        if attempt:
            return list(records.values()), False, requests
    raise AssertionError("unreachable")


def _key(record: dict, position: int) -> object:
    term_id = record.get("termId")
    return term_id if isinstance(term_id, int) else ("position", position)


def _term(record: dict, letter: str) -> stored.LexiconTerm | None:
    """A record as the store keeps it; None for one that cannot be read."""
    if record.get("type") not in (None, "DrugTerm"):
        return None
    try:
        facts = parse_term(record)
    except (ValueError, TypeError, KeyError):
        return None
    if facts.nci_term_id is None or not facts.name:
        return None
    facts = facts.model_copy(
        update={
            "source": LEXICON_LABEL,
            "aliases": [a.model_copy(update={"source": LEXICON_LABEL}) for a in facts.aliases],
        }
    )
    facts_json = facts.model_dump_json()
    return stored.LexiconTerm(
        term_id=facts.nci_term_id,
        name=facts.name,
        letter=letter,
        ncit_code=facts.ncit_code,
        page_url=facts.page_url,
        digest=hashlib.sha256(orjson.dumps(record, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32],
        facts_json=facts_json,
        names=names_of(facts),
    )
