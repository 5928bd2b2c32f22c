"""Drugs: the page data trialfinder keeps beside a drug's trials.

A drug page gathers what several sources say about one drug: its preferred
name, codes, aliases, definition, cancer.gov page and FDA label. Each field
records which source gave it and when, because sources disagree and go stale
at different speeds.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from trialfinder.models.trials import PartialDate


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AliasType(StrEnum):
    PREFERRED_NAME = "preferred_name"
    US_BRAND = "us_brand"
    FOREIGN_BRAND = "foreign_brand"
    CODE_NAME = "code_name"
    SYNONYM = "synonym"
    ABBREVIATION = "abbreviation"
    OBSOLETE_NAME = "obsolete_name"
    CHEMICAL_NAME = "chemical_name"
    CAS_NUMBER = "cas_number"
    NSC_NUMBER = "nsc_number"
    IND_CODE = "ind_code"
    OTHER = "other"


class Alias(_Model):
    name: str
    type: AliasType
    source: str


class FieldSource(_Model):
    """Where one field of a drug page came from, and when."""

    source: str
    fetched_at: datetime


class Label(_Model):
    """Facts from the drug's FDA label (openFDA / DailyMed)."""

    brand_names: list[str] = Field(default_factory=list)
    generic_names: list[str] = Field(default_factory=list)
    manufacturer: str | None = None
    indications: str | None = None
    boxed_warning: bool = False
    label_date: PartialDate | None = None
    set_id: str | None = None
    url: str | None = None  # the label on DailyMed
    application_numbers: list[str] = Field(default_factory=list)


class DrugFacts(_Model):
    """What one source says about a name: part of a drug page, or nothing."""

    source: str
    name: str | None = None  # the source's preferred name for the drug
    ncit_code: str | None = None
    nci_term_id: int | None = None
    aliases: list[Alias] = Field(default_factory=list)
    definition: str | None = None
    page_url: str | None = None
    label: Label | None = None
    rxcui: str | None = None


class DrugPage(_Model):
    """One drug, as trialfinder shows it: every name, code and fact, with sources."""

    name: str  # the preferred name
    ncit_code: str | None = None
    nci_term_id: int | None = None
    aliases: list[Alias] = Field(default_factory=list)
    definition: str | None = None
    page_url: str | None = None  # the cancer.gov drug page
    label: Label | None = None
    rxcui: str | None = None
    sources: dict[str, FieldSource] = Field(default_factory=dict)
    missing: list[str] = Field(default_factory=list)  # sources that could not answer, and why
    fetched_at: datetime
    known: bool = True  # False: no source knew the name; it is searched literally

    def names_of(self, *types: AliasType) -> list[str]:
        return [a.name for a in self.aliases if a.type in types]
