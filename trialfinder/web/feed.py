"""An Atom feed of a drug's new and changed trials, from the changes the store recorded.

Built with ElementTree, which escapes every text and attribute, so registry
text can never become markup in a reader's feed. Characters XML 1.0 forbids
(most control characters) are dropped first: ElementTree would write them and
leave a feed no reader can parse. Entry ids are UUIDs derived from the change
itself, so a change keeps its id however often the feed is read.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from xml.etree import ElementTree as ET

from trialfinder.models import ChangeEvent, Trial
from trialfinder.web.present import status_label
from trialfinder.web.security import safe_url

ATOM = "http://www.w3.org/2005/Atom"
STUDY_URL = "https://clinicaltrials.gov/study/{id}"
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NAMESPACE = uuid.UUID("6f1f6a36-5c0e-4f53-9a3e-0b1a3b7d2c11")  # trialfinder's own
_TYPE_TEXT = {
    "new_trial": "new trial",
    "status_changed": "status changed",
    "phase_changed": "phase changed",
    "site_added": "site added",
    "site_removed": "site removed",
    "site_status_changed": "site status changed",
    "no_longer_matching": "no longer lists the drug",
    "withdrawn": "withdrawn",
}

ET.register_namespace("", ATOM)


def xml_text(value: str | None) -> str:
    return _NOT_XML.sub("", value or "")


def _child(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        element.text = xml_text(text)
    return element


def entry_title(change: ChangeEvent, trial: Trial | None) -> str:
    what = _TYPE_TEXT.get(change.type.value, change.type.value.replace("_", " "))
    if change.from_value and change.to_value:
        what += f": {_value(change.from_value)} → {_value(change.to_value)}"
    elif change.to_value:
        what += f": {_value(change.to_value)}"
    name = f"{change.trial_id} {trial.title}" if trial else change.trial_id
    return f"{name} — {what}"


def _value(value: str) -> str:
    return status_label(value) if value.isupper() and " " not in value else value


def build_feed(
    drug: str,
    changes: list[ChangeEvent],
    trials: dict[str, Trial],
    self_url: str,
    page_url: str,
    updated: datetime,
) -> bytes:
    """The feed document, UTF-8 encoded, newest change first."""
    feed = ET.Element(f"{{{ATOM}}}feed")
    _child(feed, "id", self_url)
    _child(feed, "title", f"Clinical trials of {drug}: new and changed")
    _child(feed, "updated", (changes[0].at if changes else updated).isoformat())
    _child(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _child(feed, "link", rel="alternate", type="text/html", href=page_url)
    author = _child(feed, "author")
    _child(author, "name", "trialfinder")
    _child(feed, "generator", "trialfinder")
    for change in changes:
        trial = trials.get(change.trial_id)
        entry = _child(feed, "entry")
        fingerprint = "|".join(
            str(part)
            for part in (
                change.drug,
                change.trial_id,
                change.type.value,
                change.from_value,
                change.to_value,
                change.detail,
                change.at.isoformat(),
            )
        )
        _child(entry, "id", uuid.uuid5(_NAMESPACE, fingerprint).urn)
        _child(entry, "title", entry_title(change, trial))
        _child(entry, "updated", change.at.isoformat())
        url = safe_url(trial.url if trial else None) or STUDY_URL.format(id=change.trial_id)
        _child(entry, "link", rel="alternate", type="text/html", href=url)
        _child(entry, "category", term=change.type.value)
        summary = [entry_title(change, trial)]
        if change.detail:
            summary.append(change.detail)
        _child(entry, "summary", " — ".join(summary), type="text")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
