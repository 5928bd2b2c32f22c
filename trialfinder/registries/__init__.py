"""Registry clients, one per registry, each behind the small ``Registry`` interface.

Registries know HTTP and their own JSON; they never touch the store. This
module names them (importing no client), for the settings, the CLI and the web.
"""

# Each registry's short name (config, --registry, the store) and what people call it.
LABELS = {
    "ctgov": "ClinicalTrials.gov",
    "ctis": "EU CTIS",
    "isrctn": "ISRCTN",
    "nci_cts": "NCI CTS",
}
# Where people find each registry, for "Source:" links.
HOMES = {
    "ctgov": "https://clinicaltrials.gov/",
    "ctis": "https://euclinicaltrials.eu/",
    "isrctn": "https://www.isrctn.com/",
    "nci_cts": "https://www.cancer.gov/research/participate/clinical-trials-search",
}
