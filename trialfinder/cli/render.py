"""Turn results into text: table (people), JSON, CSV and NDJSON (programs).

rich is imported only for the table and the progress bar, so that machine
formats start as fast as possible.
"""

from __future__ import annotations

import csv
import functools
import os
import re
from collections import Counter
from datetime import datetime
from typing import IO

from trialfinder.cli.fit import Column, fit
from trialfinder.cli.pipes import OutputClosed
from trialfinder.clock import utc_now
from trialfinder.drug_search import DrugSearch
from trialfinder.encoding import dumps_pretty, dumps_spliced_pretty
from trialfinder.geo import KM_PER_MILE, Near, Nearby
from trialfinder.models import DrugPage, SearchResult, Trial
from trialfinder.registries import LABELS
from trialfinder.resolution import Resolution
from trialfinder.store.maintenance import CacheInfo
from trialfinder.views import (
    age_label,
    contact_label,
    drug_page_json,
    near_json,
    resolved_by_label,
    search_envelope,
    trial_json,
)

PIPE_WIDTH = 80  # when not on a terminal and COLUMNS is unset
FORMATS = ("table", "json", "csv", "ndjson")
CSV_COLUMNS = (
    "id",
    "registry",
    "title",
    "status",
    "status_category",
    "phases",
    "conditions",
    "interventions",
    "sponsor",
    "start_date",
    "completion_date",
    "last_updated",
    "enrollment",
    "countries",
    "sites",
    "url",
    "matched_terms",
    "also_registered",
)
NEAR_CSV_COLUMNS = ("distance_km", "nearest_site", "nearest_site_contact")


def write_search(found: DrugSearch, fmt: str, out: IO[str], request=None) -> None:
    """The machine formats write each trial's stored JSON as it is; CSV and the table
    read models. Asked near a place (``request.near``), each trial's nearest open
    site and its distance too."""
    rows = found.listing.rows
    near = request.near if request is not None else None
    if fmt == "json":
        envelope = search_envelope(found.query, found.listing, found.resolution)
        if near is not None:
            envelope["near"] = near_json(near)
        out.write(dumps_spliced_pretty(envelope, "trials", [row.json() for row in rows]))
    elif fmt == "ndjson":
        out.write(b"".join(row.json() + b"\n" for row in rows).decode())
    elif fmt == "csv":
        _write_csv(found.result.trials, out, found.listing.nearby if near else None)
    else:
        listing = found.listing
        narrowed = listing.count if request is not None and request.narrowed else None
        _write_table(found.result, out, listing.nearby if near else None, near, narrowed)


def narrowed_label(request) -> str:
    """What a narrowed list keeps, in words: ``within 50 km of Lyon, France, admitting 17``."""
    parts = []
    near = request.near
    if near is not None:
        which = "a site" if near.any_site_status else "an open site"
        parts.append(f"with {which} within {_radius_label(near)} of {near.label}")
    patient = request.patient
    if patient is not None:
        if patient.age is not None:
            parts.append(f"admitting age {patient.age:g}")
        if patient.sex is not None:
            parts.append(f"admitting {patient.sex}s")
        if patient.healthy_volunteer:
            parts.append("accepting healthy volunteers")
    return ", ".join(parts)


def _radius_label(near: Near) -> str:
    if near.in_miles:
        return f"{near.radius_km / KM_PER_MILE:.4g} mi"
    return f"{near.radius_km:.4g} km"


def nearest_label(found: Nearby, facility: bool = False) -> str:
    """``Boston, United States (+3 more)``: where the nearest open site is, and how many
    others are within the radius; with ``facility``, the site's name first."""
    site = found.site
    parts = (site.get("facility") if facility else None, site.get("city"), site.get("country"))
    text = ", ".join(dict.fromkeys(p for p in parts if p)) or "-"
    more = f" (+{found.more_within} more)" if found.more_within else ""
    return text + more


# A spreadsheet evaluates a cell that begins with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


_CSV_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # C0 but tab and newline, and DEL


def inert(cell: object) -> object:
    """A CSV cell a spreadsheet shows as text, never runs (OWASP's rule for CSV
    injection: text that begins like a formula gets a leading ``'``), without the
    control codes (ESC...) that would reach a terminal that shows the file, as the
    table leaves them out. Registry text is not ours: a title of ``=HYPERLINK(...)``
    must stay a title."""
    if not isinstance(cell, str):
        return cell
    cell = _CSV_CONTROL.sub("", cell)  # first: "\x1b=cmd" is a formula once it is gone
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def _write_csv(trials: list[Trial], out: IO[str], nearby: dict | None = None) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS + (NEAR_CSV_COLUMNS if nearby is not None else ()))
    for t in trials:
        near_cells = []
        if nearby is not None:
            found = nearby.get(t.id)
            near_cells = [
                round(found.distance_km, 1) if found else "",
                nearest_label(found, facility=True) if found else "",
                (contact_label(found.site.get("contact")) or "") if found else "",
            ]
        writer.writerow(
            inert(cell)
            for cell in [
                t.id,
                t.registry,
                t.title,
                t.status,
                t.status_category.value,
                ";".join(t.phases),
                ";".join(t.conditions),
                ";".join(i.name for i in t.interventions),
                t.sponsor or "",
                t.start_date or "",
                t.completion_date or "",
                t.last_updated or "",
                "" if t.enrollment is None else t.enrollment,
                ";".join(t.countries),
                t.number_of_sites,
                t.url,
                ";".join(f"{m.term} ({m.where})" for m in t.matched_terms),
                ";".join(f"{r.registry}:{r.id}" for r in t.also_registered),
                *near_cells,
            ]
        )


def phase_label(phases: list[str]) -> str:
    labels = []
    for phase in phases:
        if phase == "NA":
            labels.append("n/a")
        elif phase.startswith("EARLY_PHASE"):
            labels.append("early " + phase.removeprefix("EARLY_PHASE"))
        else:
            labels.append(phase.removeprefix("PHASE"))
    return "/".join(labels) or "-"


def status_label(status: str) -> str:
    return status.replace("_", " ").lower()


def where_label(trial: Trial) -> str:
    countries = trial.countries
    if not countries:
        return "-"
    more = f" +{len(countries) - 1}" if len(countries) > 1 else ""
    return f"{countries[0]}{more} ({trial.number_of_sites} sites)"


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _plain(*values: str):
    """Registry text for a terminal: never read as markup, and no control codes,
    so a record cannot recolour, move the cursor or retitle the window."""
    from rich.text import Text

    return [Text(_CONTROL.sub("", value)) for value in values]


def _clean(value: str) -> str:
    """A table cell as it will be drawn, so that its width can be measured: no
    control codes, and a tab as one space (rich would widen it to eight)."""
    return _CONTROL.sub("", value).replace("\t", " ")


def _print_facts(console, facts: list[tuple[str, str | None]]) -> None:
    """Label and value, one pair a line; pairs without a value left out."""
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for label, value in facts:
        if value:
            grid.add_row(*_plain(label, value))
    console.print(grid)


def _console(out: IO[str]):
    return _console_class()(file=out, highlight=False, soft_wrap=False, width=output_width(out))


@functools.cache
def _console_class():
    """rich's Console, but a closed pipe ends quietly with exit 0 (``cli.pipes``):
    rich's own answer is exit 1."""
    from rich.console import Console

    class QuietOnClosedPipe(Console):
        def on_broken_pipe(self) -> None:
            raise OutputClosed

    return QuietOnClosedPipe


def output_width(out: IO[str]) -> int | None:
    """The width to draw for: the terminal's (None: rich asks it), else ``COLUMNS``,
    else 80, the width of a terminal, an e-mail or a code review a pipe ends in."""
    if out.isatty():
        return None
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else PIPE_WIDTH


def _write_table(
    result: SearchResult,
    out: IO[str],
    nearby: dict | None = None,
    near: Near | None = None,
    narrowed: int | None = None,
) -> None:
    """The search table; ``narrowed``: how many trials fit a place or patient, when asked."""
    console = _console(out)
    if result.trials:
        several = len(result.registries) > 1
        table, left_out = _trials_table(result.trials, several, console.width, nearby, near)
        console.print(table)
        if left_out:
            console.print(
                f"({' and '.join(left_out)} left out to fit {console.width} columns: "
                "a wider window shows them, as do `trialfinder trial ID` and --format csv)",
                markup=False,
            )
    registries = ", ".join(LABELS.get(r, r) for r in result.registries)
    source = f"{registries}, cached" if result.from_cache else registries
    shown = len(result.trials)
    fit_count = "" if narrowed is None else f"{narrowed} that fit, of "
    console.print(
        f"{shown} of {fit_count}{result.total} trial{'s' if result.total != 1 else ''} "
        f"for {result.query.drug!r} (status: {result.query.status}) from {source}, "
        f"fetched {age_label(result.fetched_at)}",
        markup=False,
        soft_wrap=True,  # one line for grep and scripts; a terminal wraps it itself
    )


def _trials_table(
    trials: list[Trial], several: bool, width: int, nearby=None, near: Near | None = None
):
    """The search table fitted to ``width`` (``fit``), and the headers left out."""
    from rich import box
    from rich.table import Table

    plan = fit(_trial_columns(trials, several, nearby, near), width)
    table = Table(
        box=box.SIMPLE_HEAD,  # a rule under the header; no borders to spend columns on
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0),  # with the blank divider: fit.GAP between columns
        header_style="bold",
        expand=False,
    )
    for column, size in plan.shown:
        table.add_column(
            column.header,
            width=size,
            no_wrap=column.keep,
            overflow="fold" if column.keep else "ellipsis",
        )
    for index, trial in enumerate(trials):
        style = "green" if trial.status_category.value == "open" else None
        cells = [_fitted_cell(column, column.cells[index], size) for column, size in plan.shown]
        table.add_row(*_plain(*cells), style=style)
    return table, plan.left_out


def _trial_columns(
    trials: list[Trial], several: bool, nearby=None, near: Near | None = None
) -> list[Column]:
    """The search table's columns, with what each may give up to fit (``fit``)."""
    columns = [Column("Trial", [_clean(t.id) for t in trials], keep=True)]
    if several:
        registries = [
            "+".join([t.registry, *(r.registry for r in t.also_registered)]) for t in trials
        ]
        floor = max(len(name) + 1 for cell in registries for name in cell.split("+"))
        columns.append(Column("Registry", registries, drop_rank=2, floor=max(floor, 8)))
    columns += [
        Column("Title", [_clean(t.title) for t in trials], title=True),
        Column("Status", [_clean(status_label(t.status)) for t in trials], drop_rank=4),
        Column("Phase", [phase_label(t.phases) for t in trials], drop_rank=3),
    ]
    if nearby is not None and near is not None:
        found = [nearby.get(t.id) for t in trials]
        columns += [
            Column("Nearest site", [_clean(nearest_label(f)) if f else "-" for f in found]),
            Column(
                "Distance",
                [near.distance_label(f.distance_km) if f else "-" for f in found],
                keep=True,
            ),
        ]
        return columns
    columns += [
        Column("Where", [_clean(where_label(t)) for t in trials], drop_rank=1),
        Column("Updated", [_clean(t.last_updated or "-") for t in trials], keep=True),
    ]
    return columns


def _fitted_cell(column: Column, text: str, size: int) -> str:
    """A registry list too wide for its column breaks after each ``+``, not mid-name."""
    if column.header == "Registry" and len(text) > size:
        return "+\n".join(text.split("+"))
    return text


def write_trial(trial: Trial, fetched_at: datetime, fmt: str, out: IO[str]) -> None:
    if fmt == "json":
        out.write(dumps_pretty({**trial_json(trial), "fetched_at": fetched_at.isoformat()}))
        return
    from rich.table import Table

    console = _console(out)
    e = trial.eligibility
    facts = [
        ("Trial", trial.id),
        ("Title", trial.title),
        ("Official title", trial.official_title),
        ("Status", f"{status_label(trial.status)} ({trial.status_category.value})"),
        ("Phase", phase_label(trial.phases)),
        ("Study type", trial.study_type),
        ("Conditions", "; ".join(trial.conditions)),
        ("Interventions", "; ".join(_intervention_label(i) for i in trial.interventions)),
        ("Sponsor", trial.sponsor),
        ("Start", trial.start_date),
        ("Completion", trial.completion_date),
        ("Last updated", trial.last_updated),
        ("Enrollment", _enrollment_label(trial)),
        ("Sex", e.sex),
        ("Ages", _ages_label(trial)),
        ("Healthy volunteers", None if e.healthy_volunteers is None else str(e.healthy_volunteers)),
        ("Contact", "; ".join(filter(None, map(contact_label, trial.central_contacts)))),
        ("Record", trial.url),
        ("Also registered", "; ".join(f"{r.registry} {r.id}" for r in trial.also_registered)),
        ("Fetched", age_label(fetched_at)),
    ]
    _print_facts(console, facts)
    if trial.summary:
        console.print("\n[bold]Summary[/bold]")
        console.print(*_plain(trial.summary))
    if e.criteria:
        console.print("\n[bold]Eligibility criteria[/bold] (as the registry wrote them)")
        console.print(*_plain(e.criteria))
    console.print(f"\n[bold]Sites[/bold] ({len(trial.sites)})")
    if trial.sites:
        sites = Table(header_style="bold")
        for column in ("Facility", "City", "State", "Country", "Status", "Contact"):
            sites.add_column(column)
        for s in trial.sites:
            sites.add_row(
                *_plain(
                    s.facility or "-",
                    s.city or "-",
                    s.state or "-",
                    s.country or "-",
                    status_label(s.status) if s.status else "-",
                    contact_label(s.contact) or "-",
                )
            )
        console.print(sites)


def _intervention_label(i) -> str:
    kind = f"{i.type.lower()}: " if i.type else ""
    other = f" (also {', '.join(i.other_names)})" if i.other_names else ""
    return f"{kind}{i.name}{other}"


def _enrollment_label(trial: Trial) -> str | None:
    if trial.enrollment is None:
        return None
    kind = f" ({trial.enrollment_type.lower()})" if trial.enrollment_type else ""
    return f"{trial.enrollment}{kind}"


def _ages_label(trial: Trial) -> str | None:
    e = trial.eligibility
    if not (e.minimum_age or e.maximum_age):
        return None
    return f"{e.minimum_age or 'any'} to {e.maximum_age or 'any'}"


def write_cache_info(info: CacheInfo, fmt: str, out: IO[str], ttl_seconds: float) -> None:
    now = utc_now()
    searches = [
        {
            "query": s.query,
            "registry": s.registry,
            "parameters": s.parameters,
            "fetched_at": s.fetched_at.isoformat(),
            "total": s.total,
            "fresh": (now - s.fetched_at).total_seconds() < ttl_seconds,
        }
        for s in info.searches
    ]
    if fmt == "json":
        payload = {
            "path": info.place,
            "engine": info.engine,
            "size_bytes": info.size_bytes,
            "schema_version": info.schema_version,
            "trials": info.trials,
            "sites": info.sites,
            "searches": searches,
        }
        out.write(dumps_pretty(payload))
        return
    out.write(
        f"Cache: {info.place}\n"
        f"Size: {info.size_bytes / 1e6:.1f} MB, schema version {info.schema_version}\n"
        f"Trials: {info.trials} ({info.sites} sites), searches: {len(info.searches)}\n"
    )
    for s, row in zip(info.searches, searches, strict=True):
        freshness = "fresh" if row["fresh"] else "stale"
        out.write(
            f"  {s.query!r} in {LABELS.get(s.registry, s.registry)} "
            f"status={s.parameters.get('status')}: {s.total} trials, "
            f"fetched {age_label(s.fetched_at, now)} ({freshness})\n"
        )


def write_drug(resolution: Resolution, result: SearchResult, fmt: str, out: IO[str]) -> None:
    page = drug_page_json(resolution, result)
    if fmt == "json":
        out.write(dumps_pretty(page))
        return

    console = _console(out)
    drug = resolution.drug
    _print_facts(console, [*_drug_facts(drug), ("Found by", resolved_by_label(resolution))])
    if drug.definition:
        console.print("\n[bold]Definition[/bold]")
        console.print(*_plain(drug.definition))
    counts = page["trials"]
    console.print(f"\n[bold]Trials[/bold]: {_trials_counted(result)}")
    lines = [
        ("By registry", _by_registry(result) if len(result.registries) > 1 else {}, str),
        ("By status", counts["by_status"], status_label),
        ("By phase (a trial of two phases counts in each)", counts["by_phase"], status_label),
    ]
    for title, values, label in lines:
        if values:
            line = ", ".join(f"{label(k)} {v}" for k, v in values.items())
            console.print(*_plain(f"  {title}: {line}"))
    shown, open_count = len(counts["open"]), _open_count(result)
    which = f"all {shown}" if shown == open_count else f"the first {shown} of {open_count}"
    console.print(f"\n[bold]Open trials[/bold] ({which})")
    for trial in counts["open"]:
        console.print(*_plain(f"  {trial['id']}  {trial['title']}"))


def _trials_counted(result: SearchResult) -> str:
    """What the count counts: which registries, and that a twin counts once. It said
    "on ClinicalTrials.gov" for a count over every registry searched."""
    names = [LABELS.get(r, r) for r in result.registries]
    total = len(result.trials)
    if len(names) == 1:
        return f"{total} on {names[0]}"
    listed = ", ".join(names[:-1]) + f" and {names[-1]}"
    return f"{total} from {listed} (a trial registered in several counts once)"


def _by_registry(result: SearchResult) -> dict[str, int]:
    """Each registry searched and how many of the trials are listed under it."""
    listed = Counter(t.registry for t in result.trials)
    return {LABELS.get(r, r): listed.get(r, 0) for r in result.registries}


def _open_count(result: SearchResult) -> int:
    return sum(1 for t in result.trials if t.status_category.value == "open")


def _drug_facts(drug: DrugPage) -> list[tuple[str, str | None]]:
    by_type: dict[str, list[str]] = {}
    for alias in drug.aliases:
        by_type.setdefault(alias.type.value.replace("_", " "), []).append(alias.name)
    label = drug.label
    facts = [
        ("Drug", drug.name),
        ("NCI Thesaurus", drug.ncit_code),
        ("NCI Drug Dictionary", str(drug.nci_term_id) if drug.nci_term_id else None),
        ("RxCUI", drug.rxcui),
        ("cancer.gov page", drug.page_url),
    ]
    facts += [(kind.capitalize(), "; ".join(names)) for kind, names in by_type.items()]
    if label:
        facts += [
            ("FDA label", ", ".join(label.brand_names) or None),
            ("Label date", label.label_date),
            ("Boxed warning", "yes" if label.boxed_warning else "no"),
            ("Label", label.url),
            ("Indications", label.indications),
        ]
    facts.append(("Missing", "; ".join(drug.missing) or None))
    return facts


def write_changes(events, fmt: str, out: IO[str]) -> None:
    if fmt == "json":
        out.write(dumps_pretty([e.as_json() for e in events]))
        return
    if not events:
        out.write("no changes in that time\n")
        return
    from rich import box
    from rich.table import Table

    table = Table(
        box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0),
        header_style="bold",
    )  # fmt: skip
    # Times, trial ids and kinds of change whole (the search table's rule, ``fit``); the
    # rest wraps, and a column with nothing in it is left out to make room.
    rows = [
        [
            e.at.strftime("%Y-%m-%d %H:%M"),
            e.drug,
            e.trial_id,
            e.type.value.replace("_", " "),
            e.from_value or "",
            e.to_value or "",
            e.detail or "",
        ]
        for e in events
    ]
    headers = ("When", "Drug", "Trial", "Change", "From", "To", "Detail")
    shown = [i for i, h in enumerate(headers) if i < 4 or any(row[i] for row in rows)]
    for i in shown:
        table.add_column(headers[i], no_wrap=i in (0, 2, 3), overflow="fold")
    for row in rows:
        table.add_row(*_plain(*(row[i] for i in shown)))
    _console(out).print(table)
