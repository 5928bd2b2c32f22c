"""Names of a drug as search terms, and where trials mention them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from trialfinder.models import Alias, AliasType, DrugPage, Intervention, Trial
from trialfinder.terms import code_variants, find_terms, fold, mark_matches, query_terms

NOW = datetime(2026, 11, 28, tzinfo=UTC)


def page(*aliases: tuple[str, AliasType]) -> DrugPage:
    return DrugPage(
        name="blinatumomab",
        aliases=[Alias(name=n, type=t, source="test") for n, t in aliases],
        fetched_at=NOW,
    )


def test_fold_ignores_case_hyphens_spaces_and_accents():
    assert fold("MT-103") == fold("mt 103") == fold("MT103") == "mt103"
    assert fold("Zürich") == "zurich"


@pytest.mark.parametrize(
    ("name", "variants"),
    [
        ("MT-103", ["MT-103", "MT103", "MT 103"]),
        ("AMG 103", ["AMG 103", "AMG103", "AMG-103"]),
        ("MK-3475", ["MK-3475", "MK3475", "MK 3475"]),
        ("Blincyto", ["Blincyto"]),
    ],
)
def test_code_names_get_hyphen_and_space_variants(name, variants):
    assert code_variants(name) == variants


def test_query_terms_keep_names_and_leave_out_noise():
    drug = page(
        ("Blincyto", AliasType.US_BRAND),
        ("MT-103", AliasType.CODE_NAME),
        ("AMG 103", AliasType.CODE_NAME),
        ("853426-35-4", AliasType.CAS_NUMBER),
        ("765986", AliasType.NSC_NUMBER),
        ("anti-CD19/anti-CD3 recombinant bispecific monoclonal antibody MT103", AliasType.SYNONYM),
        ("bispecific T-cell engager MT103", AliasType.SYNONYM),
        ("blinatumomab", AliasType.SYNONYM),
        ("BLINCYTO", AliasType.US_BRAND),
    )
    terms = query_terms(drug)
    assert terms[:2] == ["blinatumomab", "Blincyto"]
    assert "MT103" in terms and "MT-103" in terms and "AMG103" in terms
    # "MT 103" is the same Essie phrase as "MT-103": searched once
    assert "MT 103" not in terms
    assert "853426-35-4" not in terms and "765986" not in terms
    assert not [t for t in terms if "antibody" in t or "engager" in t]
    assert len([t for t in terms if t.casefold() == "blincyto"]) == 1


def test_query_terms_are_capped():
    drug = page(*((f"XY-{n:03d}", AliasType.CODE_NAME) for n in range(100, 140)))
    assert len(query_terms(drug, max_terms=20)) == 20
    assert query_terms(drug, max_terms=20)[0] == "blinatumomab"


def trial(title="A study", interventions=(), summary=None) -> Trial:
    return Trial(
        id="NCT00000001",
        registry="ctgov",
        title=title,
        status="RECRUITING",
        status_category="open",
        interventions=list(interventions),
        summary=summary,
        url="https://clinicaltrials.gov/study/NCT00000001",
    )


def test_matches_say_where():
    t = trial(
        title="Blincyto in adults",
        interventions=[Intervention(name="AMG 103", other_names=["Blincyto"])],
    )
    found = find_terms(t, ["blinatumomab", "Blincyto", "AMG 103", "MT103"])
    assert [(m.term, m.where) for m in found] == [
        ("Blincyto", "other_name"),
        ("AMG 103", "intervention"),
    ]


def test_whole_words_only():
    t = trial(interventions=[Intervention(name="Blinatumomabxyz")])
    assert find_terms(t, ["blinatumomab"]) == []


def test_a_mention_in_passing_is_marked():
    mention = mark_matches(
        trial(
            title="Inotuzumab after blinatumomab", interventions=[Intervention(name="Inotuzumab")]
        ),
        ["blinatumomab"],
    )
    assert mention.mention_only and mention.matched_terms[0].where == "title"
    assert mention.matched_term == "blinatumomab"
    real = mark_matches(trial(interventions=[Intervention(name="Blinatumomab")]), ["blinatumomab"])
    assert not real.mention_only and real.matched_term == "blinatumomab"
