"""Merge what each source said into one drug page, keeping where each field came from.

Precedence follows authority for each field: the NCI Drug Dictionary for the
preferred name, definition and cancer.gov page; NCI EVS for the thesaurus
code; RxNav for the RxCUI; openFDA for the label. Aliases are the union,
without repeats.
"""

from __future__ import annotations

from datetime import datetime

from trialfinder.models import Alias, AliasType, DrugFacts, DrugPage, FieldSource
from trialfinder.sources import nci_cts_interventions, nci_drug_dictionary, nci_evs, openfda, rxnav
from trialfinder.terms import fold

LEXICON = nci_drug_dictionary.LEXICON_LABEL  # the Dictionary's records, stored: second to it
SOURCE_ORDER = (
    nci_drug_dictionary.LABEL,
    LEXICON,
    nci_evs.LABEL,
    nci_cts_interventions.LABEL,
    openfda.LABEL,
    rxnav.LABEL,
)
# For each field, the sources to take it from, best first.
PRECEDENCE = {
    "name": (
        nci_drug_dictionary.LABEL,
        LEXICON,
        nci_evs.LABEL,
        openfda.LABEL,
        nci_cts_interventions.LABEL,
    ),
    "ncit_code": (nci_drug_dictionary.LABEL, LEXICON, nci_evs.LABEL, nci_cts_interventions.LABEL),
    "nci_term_id": (nci_drug_dictionary.LABEL, LEXICON, nci_evs.LABEL),
    "definition": (nci_drug_dictionary.LABEL, LEXICON, nci_evs.LABEL),
    "page_url": (nci_drug_dictionary.LABEL, LEXICON),
    "rxcui": (rxnav.LABEL,),
    "label": (openfda.LABEL,),
}


def merge_facts(
    typed: str,
    facts: list[DrugFacts],
    missing: list[str],
    fetched_at: datetime,
) -> DrugPage:
    """One DrugPage from the facts of several sources (any of which may be absent)."""
    # Whatever order the answers came in, the most authoritative source speaks first,
    # so every name of a drug yields the same page.
    facts = sorted(facts, key=_authority)
    by_source = {f.source: f for f in facts}
    values: dict[str, object] = {}
    sources: dict[str, FieldSource] = {}
    for field, order in PRECEDENCE.items():
        for source in order:
            value = getattr(by_source.get(source), field, None) if source in by_source else None
            if value:
                values[field] = value
                sources[field] = FieldSource(source=source, fetched_at=fetched_at)
                break
    if "name" not in values and by_source.get(openfda.LABEL) is not None:
        label = by_source[openfda.LABEL].label
        if label and label.generic_names:
            values["name"] = label.generic_names[0].lower()
    name = str(values.pop("name", None) or typed)
    aliases = _merged_aliases(name, facts)
    if aliases:
        sources["aliases"] = FieldSource(
            source=", ".join(dict.fromkeys(a.source for a in aliases)), fetched_at=fetched_at
        )
    return DrugPage(
        name=name,
        aliases=aliases,
        sources=sources,
        missing=missing,
        fetched_at=fetched_at,
        known=bool(facts),
        **values,
    )


def _authority(facts: DrugFacts) -> int:
    order = SOURCE_ORDER
    return order.index(facts.source) if facts.source in order else len(order)


def _merged_aliases(name: str, facts: list[DrugFacts]) -> list[Alias]:
    seen = {(fold(name), AliasType.PREFERRED_NAME)}
    aliases = []
    for source_facts in facts:
        for alias in source_facts.aliases:
            key = (fold(alias.name), alias.type)
            if key in seen or fold(alias.name) == fold(name):
                continue
            seen.add(key)
            aliases.append(alias)
        label = source_facts.label
        if label:
            for brand in label.brand_names:
                key = (fold(brand), AliasType.US_BRAND)
                if key not in seen and fold(brand) != fold(name):
                    seen.add(key)
                    aliases.append(
                        Alias(name=brand, type=AliasType.US_BRAND, source=source_facts.source)
                    )
    return aliases
