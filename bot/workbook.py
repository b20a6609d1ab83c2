"""Sheets (models/tabular.py) written as the spreadsheets people open: .xlsx, or .csv.

The .xlsx is written with openpyxl's write-only mode, which streams rows to disk as they come
instead of holding every cell: 100,000 rows cost little memory. Each sheet gets its headings
in the reader's language in a bold, shaded header row that stays frozen and carries the
filter buttons, columns as wide as the domain asks (never narrower than their heading),
dates as real dates (yyyy-mm-dd), times in the plan's zone, fractions as percentages.

The .csv is UTF-8 with a byte-order mark: without it Excel reads UTF-8 as the local code
page and the Chinese comes out garbled. Its cells are the same values rendered as text.

Both report progress (rows done, rows in all when every sheet knows its total) every
PROGRESS_EVERY rows and once at the end, from whatever thread writes.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from bot.texts import t
from models.enums import Language
from models.tabular import CellKind, Label, Sheet, SheetColumn

Progress = Callable[[int, int | None], None]  # (rows written, rows in all when known)
PROGRESS_EVERY = 1_000
TITLE_MAX = 31  # Excel's limit on a sheet's name
_TITLE_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
PERCENT_FORMAT = "0.0%"
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill(fill_type="solid", start_color="FFDDEBF7", end_color="FFDDEBF7")
# A cell that begins with one of these is a formula to a spreadsheet program, so text from
# users (a meeting's notes) could run one: in a CSV such text is quoted with an apostrophe,
# as Excel itself does; the .xlsx marks the cell as text instead.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def display_width(text: str) -> int:
    """How many character columns a text takes: CJK (wide and full-width) characters two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def column_width(column: SheetColumn, heading: str) -> int:
    """The column's width in characters: as the domain asks, never narrower than its heading
    (plus room for the filter button)."""
    return max(column.width, display_width(heading) + 2)


def sheet_titles(sheets: Sequence[Sheet], lang: Language) -> list[str]:
    """Each sheet's tab name: its title in the reader's language, without the characters
    Excel refuses, at most 31 characters, and unique (Excel compares names ignoring case)."""
    titles: list[str] = []
    taken: set[str] = set()
    for sheet in sheets:
        base = _TITLE_FORBIDDEN.sub("_", t(sheet.title, lang)).strip("' ") or "Sheet"
        title, n = base[:TITLE_MAX], 1
        while title.lower() in taken:
            n += 1
            suffix = f" ({n})"
            title = base[: TITLE_MAX - len(suffix)] + suffix
        taken.add(title.lower())
        titles.append(title)
    return titles


def _total(sheets: Sequence[Sheet]) -> int | None:
    totals = [sheet.total for sheet in sheets]
    return None if any(n is None for n in totals) else sum(n or 0 for n in totals)


def _label(value: Label, lang: Language) -> str:
    return t(value.key, lang, **dict(value.values))


def _local(value: datetime, zone: ZoneInfo) -> datetime:
    """An aware time as the plan's zone's wall clock, naive: spreadsheets know no zones."""
    return value.astimezone(zone).replace(tzinfo=None) if value.tzinfo else value


def text_of(value: object, kind: CellKind, *, lang: Language, zone: ZoneInfo) -> str:
    """A cell rendered as text, as the CSV writes it."""
    if value is None:
        return ""
    if isinstance(value, Label):
        return _label(value, lang)
    if kind is CellKind.BOOL:
        return t("export.yes" if value else "export.no", lang)
    if kind is CellKind.DATETIME and isinstance(value, datetime):
        return f"{_local(value, zone):%Y-%m-%d %H:%M}"
    if kind is CellKind.DATE and isinstance(value, date):
        return f"{value:%Y-%m-%d}"
    if kind is CellKind.PERCENT and isinstance(value, int | float | Decimal):
        return f"{float(value) * 100:.1f}%"
    return str(value)


# --- .xlsx --------------------------------------------------------------------------------


class _XlsxCells:
    """Turns a sheet's rows into what a write-only worksheet appends: plain values where no
    format is needed (fast), styled cells for dates, times and percentages."""

    def __init__(self, ws: WriteOnlyWorksheet, columns: Sequence[SheetColumn], *,
                 lang: Language, zone: ZoneInfo) -> None:  # fmt: skip
        self.ws, self.lang, self.zone = ws, lang, zone
        self.kinds = [c.kind for c in columns]
        self.yes, self.no = t("export.yes", lang), t("export.no", lang)

    def row(self, values: tuple[object, ...]) -> list[object]:
        return [self.cell(v, k) for v, k in zip(values, self.kinds, strict=True)]

    def cell(self, value: object, kind: CellKind) -> object:
        if value is None:
            return None
        if isinstance(value, Label):
            return self._text(_label(value, self.lang))
        if kind is CellKind.BOOL:
            return self.yes if value else self.no
        if kind is CellKind.DATE and isinstance(value, date):
            day = value.date() if isinstance(value, datetime) else value
            return self._formatted(day, DATE_FORMAT)
        if kind is CellKind.DATETIME and isinstance(value, datetime):
            return self._formatted(_local(value, self.zone), DATETIME_FORMAT)
        if kind is CellKind.PERCENT and isinstance(value, int | float | Decimal):
            return self._formatted(float(value), PERCENT_FORMAT)
        if kind is CellKind.INT and isinstance(value, int | float | Decimal):
            return value
        return self._text(str(value))

    def _formatted(self, value: Any, number_format: str) -> Any:
        cell = WriteOnlyCell(self.ws, value=value)
        cell.number_format = number_format
        return cell

    def _text(self, text: str) -> object:
        # Characters XML cannot hold (control characters pasted into a note) are dropped.
        text = ILLEGAL_CHARACTERS_RE.sub("", text)
        if not text.startswith("="):
            return text
        cell = WriteOnlyCell(self.ws, value=text)
        cell.data_type = "s"  # openpyxl would write "=…" as a formula
        return cell


def write_xlsx(
    sheets: Sequence[Sheet],
    *,
    lang: Language,
    zone: ZoneInfo,
    out: BinaryIO,
    progress: Progress | None = None,
) -> int:
    """Write the sheets as one workbook, a worksheet each; the data rows written."""
    book = Workbook(write_only=True)
    total, done = _total(sheets), 0
    for sheet, title in zip(sheets, sheet_titles(sheets, lang), strict=True):
        ws: Any = book.create_sheet(title)  # write-only: typed loosely in types-openpyxl
        headings = [t(c.heading, lang) for c in sheet.columns]
        # Widths and the frozen pane must be set before the first row is written.
        for index, (column, heading) in enumerate(zip(sheet.columns, headings, strict=True), 1):
            ws.column_dimensions[get_column_letter(index)].width = column_width(column, heading)
        ws.freeze_panes = "A2"
        header = []
        for heading in headings:
            cell = WriteOnlyCell(ws, value=heading)
            cell.font, cell.fill = HEADER_FONT, HEADER_FILL
            header.append(cell)
        ws.append(header)
        cells = _XlsxCells(ws, sheet.columns, lang=lang, zone=zone)
        rows = 0
        for values in sheet.rows:
            ws.append(cells.row(values))
            rows += 1
            done += 1
            if progress is not None and done % PROGRESS_EVERY == 0:
                progress(done, total)
        if sheet.columns:
            # The filter buttons over the header, the range over every row written.
            ws.auto_filter.ref = f"A1:{get_column_letter(len(sheet.columns))}{rows + 1}"
    if not sheets:
        book.create_sheet("Sheet")  # a workbook needs a worksheet to open
    book.save(out)
    if progress is not None:
        progress(done, total)
    return done


# --- .csv ---------------------------------------------------------------------------------


def _csv_text(value: object, kind: CellKind, *, lang: Language, zone: ZoneInfo) -> str:
    text = text_of(value, kind, lang=lang, zone=zone)
    if kind in (CellKind.TEXT, CellKind.BOOL) and text.startswith(_FORMULA_START):
        return f"'{text}"
    return text


def write_csv(
    sheet: Sheet,
    *,
    lang: Language,
    zone: ZoneInfo,
    out: BinaryIO,
    progress: Progress | None = None,
) -> int:
    """Write one sheet as CSV (UTF-8 with BOM, comma-separated); the data rows written."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
    try:
        writer = csv.writer(text)
        writer.writerow([t(c.heading, lang) for c in sheet.columns])
        kinds = [c.kind for c in sheet.columns]
        done = 0
        rows: Iterable[tuple[object, ...]] = sheet.rows
        for values in rows:
            writer.writerow(
                [_csv_text(v, k, lang=lang, zone=zone) for v, k in zip(values, kinds, strict=True)]
            )
            done += 1
            if progress is not None and done % PROGRESS_EVERY == 0:
                progress(done, sheet.total)
        text.flush()
    finally:
        text.detach()  # the caller's stream stays open
    if progress is not None:
        progress(done, sheet.total)
    return done
