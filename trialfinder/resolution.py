"""What resolving a name gives: a drug page and how it was found, or a refusal.

Shared by ``resolve`` (the cache half) and ``resolve_online`` (the network
half), which both build these; kept apart so that neither imports the other's
module for them and the network half can stay unimported on a cache hit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from trialfinder.clock import utc_now
from trialfinder.errors import BadInputError
from trialfinder.models import DrugFacts, DrugPage

CLOSE_ENOUGH = 0.8  # a spelling this similar is taken as what was meant
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
    good_until: datetime | None = None  # cached: when it becomes stale
    notes: list[str] = field(default_factory=list)
    # Where the answer came from: "lexicon" (the local drug lexicon), "cache" (a drug
    # page stored before), "sources" (the drug sources, asked now) or "literal".
    origin: str = "sources"
    match: str | None = None  # lexicon: "exact", "folded" (case, hyphens, spaces) or "fuzzy"
    facts: DrugFacts | None = None  # lexicon: the Dictionary's record, for the sources to enrich
    unanswered: bool = False  # not one drug source answered (an outage, not an unknown name)

    @property
    def guessed(self) -> bool:
        """The lexicon named the drug only by a close spelling: a guess that the sources,
        which know more names, are asked before (``bendamustine HCl`` is not the
        ``benzydamine HCl`` it is 83% like); it stands when none of them knows the name."""
        return self.origin == "lexicon" and self.match == "fuzzy"


def literal(typed: str, missing: list[str], why: str | None) -> Resolution:
    """``typed`` as a drug no source knows: searched by that name alone."""
    page = DrugPage(name=typed, missing=missing, fetched_at=utc_now(), known=False)
    notes = [f"{why}; searching for {typed!r} literally"] if why else []
    return Resolution(typed, page, notes=notes, origin="literal")
