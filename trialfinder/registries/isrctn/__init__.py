"""ISRCTN registry API (isrctn.com): ``GET /query/format/default?q=...&limit=...`` (XML)."""
