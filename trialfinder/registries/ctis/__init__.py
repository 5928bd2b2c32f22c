"""EU CTIS, the Clinical Trials Information System's public API (euclinicaltrials.eu).

``POST /search`` lists trials (a page of summary rows); ``GET /retrieve/{ctNumber}``
gives one trial whole (sites, phase code, NCT and EudraCT cross-references).
"""
