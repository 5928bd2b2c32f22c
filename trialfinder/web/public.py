"""Public text: what a visitor reads says what they can do, never how the server is wired.

Errors and notes of the core carry the detail an operator needs (a source's
URL, host, port, the connection error); the CLI shows it to its own user. The
web app answers strangers, so before such text reaches an API answer, the
widget or a page it is cut to what is useful to them: which source failed,
and whether trying later may help. The detail goes to the log.
"""

from __future__ import annotations

import re

# URLs, [v6]:port, v4 (with a port), ('addr', port) tuples, name:port and localhost.
_DETAIL = re.compile(
    r"""[a-z][a-z0-9+.-]*://\S+"""
    r"""|\[[0-9a-f:.%]+\](?::\d+)?"""
    r"""|\(\s*'[^']*'\s*,\s*\d+[^)]*\)"""
    r"""|\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"""
    r"""|\b[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9-]+)*:\d{2,5}\b"""
    r"""|\b(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}\b"""
    r"""|\blocalhost\b""",
    re.IGNORECASE,
)
_HELD = re.compile(r"\s*[(\[][^()\[\]]*…[^()\[\]]*[)\]]")
_LABEL = re.compile(r"^[\w .()/-]{1,40}$")


def scrub(text: str) -> str:
    """``text`` with URLs, addresses, host names with ports and socket tuples cut out."""
    cleaned = _DETAIL.sub("…", text)
    while True:  # a parenthesis or bracket that held a detail says nothing without it
        shorter = _HELD.sub("", cleaned)
        if shorter == cleaned:
            break
        cleaned = shorter
    return re.sub(r"(…[\s,;]*)+…", "…", cleaned)


def failure(detail: str) -> str:
    """A source's failure (``"Label: what went wrong (detail)"``) as the public reads it."""
    label = detail.split(":", 1)[0].strip()
    if not _LABEL.match(label) or _DETAIL.search(label):
        label = "a source"
    return f"{label}: could not be reached just now"


def clean(data: dict) -> None:
    """An answer's notes, warnings, missing sources and registry errors made public, in place."""
    if isinstance(data.get("notes"), list):
        data["notes"] = [scrub(note) for note in data["notes"]]
    if isinstance(data.get("warnings"), list):
        data["warnings"] = [scrub(warning) for warning in data["warnings"]]
    if isinstance(data.get("missing"), list):
        data["missing"] = [failure(item) for item in data["missing"]]
    errors = data.get("registry_errors")
    if isinstance(errors, dict):
        data["registry_errors"] = {k: scrub(str(v)) for k, v in errors.items()}
    elif isinstance(errors, list):
        data["registry_errors"] = [scrub(str(v)) for v in errors]
