"""Fit a table's columns to a width, before rich draws it.

rich, given more than fits, squeezes columns its own way: it cut the search
table's dates to ``2026-11-`` and let whole columns fall off the edge
without a word. So the search table's widths are chosen here, with rules a
reader can rely on:

* a column marked ``keep`` (the trial id, the date) is never narrower than
  its widest cell: an id or a date is printed whole or not at all;
* the title is never left out; it wraps;
* the other columns wrap, and a word longer than its column ends in ``…``;
* when even that does not fit, whole columns are left out, least important
  first, and the caller says which (``Plan.left_out``): never silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GAP = 2  # what the table's style puts between two columns (see render._write_table)
TITLE_MIN = 20  # narrower than this, a title reads as a list of words
WORD_MAX = 12  # a shrinkable column need not be wider than this for its longest word


@dataclass
class Column:
    """A column's header and cells, and how it may give way."""

    header: str
    cells: list[str]
    keep: bool = False  # never narrower than its widest cell (ids, dates)
    title: bool = False  # the one column that takes what is left
    drop_rank: int = 0  # left out in rising order when nothing else helps; 0: never
    floor: int | None = None  # its least width, when the caller knows better (cells it breaks)

    @property
    def natural(self) -> int:
        """As wide as its widest line, header included."""
        lines = [self.header, *(line for cell in self.cells for line in cell.splitlines())]
        return max(len(line) for line in lines)

    @property
    def least(self) -> int:
        """The narrowest it may be: whole for ``keep``, else its header and most words."""
        if self.keep:
            return self.natural
        if self.floor is not None:
            return min(self.natural, self.floor)
        if self.title:
            return min(self.natural, TITLE_MIN)
        words = [w for cell in self.cells for w in cell.split()]
        longest = max((len(w) for w in words), default=1)
        return min(self.natural, max(len(self.header), min(longest, WORD_MAX)))


@dataclass
class Plan:
    """The columns shown with their widths, and the headers of those left out."""

    shown: list[tuple[Column, int]]
    left_out: list[str] = field(default_factory=list)


def fit(columns: list[Column], width: int) -> Plan:
    """Widths for ``columns`` that together fit ``width``, leaving columns out only
    when their least widths cannot fit."""
    shown = list(columns)
    left_out: list[str] = []
    droppable = sorted((c for c in columns if c.drop_rank), key=lambda c: c.drop_rank)
    while _needed(shown) > width and droppable:
        gone = droppable.pop(0)
        shown.remove(gone)
        left_out.append(gone.header)
    widths = {id(c): c.least for c in shown}
    spare = width - _needed(shown)
    title = next((c for c in shown if c.title), None)
    # A readable title first, then the other columns whole, then the title whole.
    if title is not None:
        spare = _grow(widths, title, min(title.natural, 2 * TITLE_MIN), spare)
    for column in shown:
        if not column.title:
            spare = _grow(widths, column, column.natural, spare)
    if title is not None:
        _grow(widths, title, title.natural, spare)
    return Plan([(c, widths[id(c)]) for c in shown], left_out)


def _needed(columns: list[Column]) -> int:
    return sum(c.least for c in columns) + GAP * (len(columns) - 1)


def _grow(widths: dict[int, int], column: Column, target: int, spare: int) -> int:
    """Widen ``column`` towards ``target`` out of ``spare``; what is left of it."""
    more = max(0, min(target - widths[id(column)], spare))
    widths[id(column)] += more
    return spare - more
