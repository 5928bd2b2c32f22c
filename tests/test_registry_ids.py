"""Registry ids in the spellings registries write them, reduced to one canonical form."""

from __future__ import annotations

import pytest

from trialfinder.models import StatusCategory, Trial
from trialfinder.registries.ids import ids_of, normalise


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("NCT03914625", ("nct", "NCT03914625")),
        ("nct03914625", ("nct", "NCT03914625")),
        (" NCT 03914625. ", ("nct", "NCT03914625")),
        ("NCT-03914625", ("nct", "NCT03914625")),
        ("2019-001588-63", ("eudract", "2019-001588-63")),
        ("EUCTR2019-001588-63-ES", ("eudract", "2019-001588-63")),
        ("EudraCT 2019-001588-63", ("eudract", "2019-001588-63")),
        ("EudraCT Number: 2019-001588-63", ("eudract", "2019-001588-63")),
        ("2019-001588-63-3RD", ("eudract", "2019-001588-63")),
        # ISRCTN files a EudraCT number as a CTIS number in this form
        ("CTIS2020-005891-36-00", ("eudract", "2020-005891-36")),
        ("2020-005891-36-00", ("eudract", "2020-005891-36")),
        ("2023-505613-24-00", ("euct", "2023-505613-24-00")),
        ("CTIS2023-505613-24-00", ("euct", "2023-505613-24-00")),
        ("EU CT 2023-505613-24-00", ("euct", "2023-505613-24-00")),
        ("ctis 2023-505613-24-01", ("euct", "2023-505613-24-01")),
        ("ISRCTN62918594", ("isrctn", "ISRCTN62918594")),
        ("isrctn 62918594", ("isrctn", "ISRCTN62918594")),
        ("ISRCTN:62918594", ("isrctn", "ISRCTN62918594")),
        ("NCI-2019-02306", ("nci", "NCI-2019-02306")),
        ("nci-2019-02306", ("nci", "NCI-2019-02306")),
        ("IRAS298897", ("iras", "IRAS298897")),
        ("IRAS ID: 298897", ("iras", "IRAS298897")),
    ],
)
def test_known_spellings(written, expected):
    assert normalise(written) == expected


@pytest.mark.parametrize(
    "written",
    ["", "   ", "AALL1731", "298897", "CPMS49816", "NCT0391462", "NCT039146251", "2019-1588-63",
     "CRUKD/22/002", "MK-5592-127", "75,061; 125,097", "ISRCTN1234567", "see NCT03914625"],
)  # fmt: skip
def test_anything_else_is_not_guessed(written):
    assert normalise(written) is None


def test_ids_of_a_trial():
    trial = Trial(
        id="2024-513914-25-00",
        registry="ctis",
        title="t",
        status="ONGOING_RECRUITING",
        status_category=StatusCategory.OPEN,
        url="https://example.org",
        secondary_ids=["2019-001234-56", "nct03914625", "IND 75,061"],
    )
    assert ids_of(trial) == {
        ("euct", "2024-513914-25-00"),
        ("eudract", "2019-001234-56"),
        ("nct", "NCT03914625"),
    }
