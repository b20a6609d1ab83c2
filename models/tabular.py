"""Tables the bot hands out as spreadsheets: the exports and the three-way comparison.

The domain builds `Sheet`s (headings as text keys, typed cells); bot/workbook.py writes them as
.xlsx or .csv in the reader's language. Keeping the shape here lets models/ describe a
spreadsheet without knowing openpyxl, the texts or Telegram.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class CellKind(StrEnum):
    TEXT = "text"  # a str, or a Label the writer renders in the reader's language
    INT = "int"
    DATE = "date"  # a datetime.date: written as a real date, shown yyyy-mm-dd
    DATETIME = "datetime"  # an aware datetime: written in the plan's zone
    PERCENT = "percent"  # a fraction (0.53), shown 53.0%
    BOOL = "bool"  # shown 是/否 (yes/no)


@dataclass(frozen=True)
class SheetColumn:
    heading: str  # a text key, e.g. "export.col.unit_name"
    kind: CellKind = CellKind.TEXT
    width: int = 12  # characters; CJK characters count twice


@dataclass(frozen=True)
class Sheet:
    title: str  # a text key for the sheet's tab (at most 31 characters once rendered)
    columns: tuple[SheetColumn, ...]
    rows: Iterable[tuple[object, ...]]  # one value per column; None for an empty cell
    total: int | None = None  # the number of rows, when known: progress bars show it


@dataclass(frozen=True)
class Label:
    """A cell shown as a text in the reader's language (a ledger stage, a meeting kind):
    the domain names the text by its key, the writer renders it."""

    key: str  # a text key, e.g. "stage.approved"
    values: tuple[tuple[str, object], ...] = ()  # the text's placeholders, if it has any
