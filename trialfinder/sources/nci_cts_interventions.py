"""NCI Clinical Trials Search's interventions as a drug source (only with an API key).

NCI CTS knows each cancer drug by NCI Thesaurus code with the synonyms its
trials use, which can name a drug the other sources spell differently. Its
answer feeds resolution the same way the other sources do: a code and names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trialfinder.models import Alias, AliasType, DrugFacts
from trialfinder.sources.base import same_name

if TYPE_CHECKING:
    from trialfinder.registries.nci_cts.client import NciCtsRegistry

NAME = "nci_cts"
LABEL = "NCI CTS interventions"


class NciCtsInterventions:
    name = NAME
    label = LABEL

    def __init__(self, registry: NciCtsRegistry) -> None:
        self.registry = registry

    async def lookup(self, name: str) -> DrugFacts | None:
        for code, names in await self.registry.intervention_codes(name):
            if any(same_name(n, name) for n in names):
                preferred, *synonyms = names
                aliases = [Alias(name=n, type=AliasType.SYNONYM, source=LABEL) for n in synonyms]
                return DrugFacts(source=LABEL, name=preferred, ncit_code=code, aliases=aliases)
        return None
