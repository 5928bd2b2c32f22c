"""NCI Clinical Trials Search API v2 (clinicaltrialsapi.cancer.gov): NCI-supported cancer trials.

Needs a free API key (``X-API-KEY``); without one the registry is off.
"""
