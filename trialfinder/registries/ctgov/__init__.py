"""ClinicalTrials.gov API v2: https://clinicaltrials.gov/data-api/api"""
