"""Reading the spreadsheets people send: .xlsx, or CSV in UTF-8 or GBK, and finding the header.

Pure: bytes in, rows out. Every refusal is a `FileRefused` with a `FileProblem` the bot can
explain; nothing here knows what the rows mean. Headers are found among the first rows (a
title row often comes first) and may span two rows under merged cells ("人数" over "个税" and
"社保"), which openpyxl's read-only mode gives as the merged range's first cell and blanks.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Generic, TypeVar

from models.mobile import mask_mobile
from models.quicklog import Problem as DateProblem
from models.quicklog import read_date

HEADER_SEARCH = 5  # filled rows at the top searched for the header
PROGRESS_EVERY = 5_000  # rows between progress reports
_LONG_DIGITS = re.compile(r"\d{7,}")
_EXCEL_EPOCH = date(1899, 12, 30)  # day 0 of Excel's serial dates (its 1900 leap-day bug included)
_SERIAL_RANGE = range(1, 2_958_466)  # 1900-01-01 … 9999-12-31
_CFB = bytes.fromhex("d0cf11e0a1b11ae1")  # OLE2: an old .xls, or an encrypted .xlsx
_ZIP = b"PK\x03\x04"

Progress = Callable[[int, int | None], None]  # (rows read, rows in all when known)
F = TypeVar("F", bound=StrEnum)


class FileProblem(StrEnum):
    """Why a file is refused as a whole."""

    NOT_SPREADSHEET = "not_spreadsheet"
    OLD_EXCEL = "old_excel"  # .xls (Excel 97–2003): save it as .xlsx or .csv
    ENCRYPTED = "encrypted"  # a password-protected workbook
    CORRUPT = "corrupt"
    EMPTY = "empty"
    TOO_MANY_ROWS = "too_many_rows"
    NO_COLUMNS = "no_columns"  # the columns a list needs are not all there


class FileRefused(Exception):
    def __init__(self, problem: FileProblem, *, missing: Sequence[str] = ()) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.missing = tuple(missing)  # NO_COLUMNS: the fields no heading matched


def read_rows(
    data: bytes, file_name: str, *, max_rows: int, progress: Progress | None = None
) -> list[tuple[object, ...]]:
    """The first sheet's rows (values, not formulas) of an .xlsx, or a CSV's; refused as soon
    as more than `max_rows` (plus a few for the header) are filled."""
    suffix = file_name.lower().rsplit(".", 1)[-1] if "." in file_name else ""
    if not data.strip():
        raise FileRefused(FileProblem.EMPTY)
    if data.startswith(_CFB):
        encrypted = "EncryptionInfo".encode("utf-16-le") in data
        raise FileRefused(FileProblem.ENCRYPTED if encrypted else FileProblem.OLD_EXCEL)
    limit = max_rows + HEADER_SEARCH
    if data.startswith(_ZIP):
        return _xlsx_rows(data, limit, progress)
    if suffix in ("xlsx", "xlsm"):
        raise FileRefused(FileProblem.CORRUPT)
    if suffix == "xls":
        raise FileRefused(FileProblem.OLD_EXCEL)
    text = _decode(data)
    total = text.count("\n") + 1
    try:
        return _bounded(_csv_reader(text), limit, progress, total)
    except csv.Error as exc:
        raise FileRefused(FileProblem.NOT_SPREADSHEET) from exc


def first_rows(
    data: bytes, file_name: str, count: int = 2 * HEADER_SEARCH
) -> list[tuple[object, ...]]:
    """The first rows alone, to tell what kind of list a sheet is before reading it all."""
    if data.startswith(_ZIP):
        return _xlsx_rows(data, count, None, head=count)
    if not data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 is not cut at a byte
        data = b"\n".join(data.split(b"\n", count)[:count])
    return read_rows(data, file_name, max_rows=max(count, len(data)))


def _xlsx_rows(
    data: bytes, limit: int, progress: Progress | None, *, head: int | None = None
) -> list[tuple[object, ...]]:
    from openpyxl import load_workbook  # a heavy import, only for files that need it

    try:
        with warnings.catch_warnings():
            # Styles or extensions openpyxl does not know: the values still read right.
            warnings.simplefilter("ignore")
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                sheet = book.worksheets[0]
                if head is not None:
                    return [tuple(r) for r in sheet.iter_rows(max_row=head, values_only=True)]
                # The sheet's dimension, for a progress bar's total. A file without one
                # (openpyxl's own write-only output) is scanned for it: only when asked.
                total = sheet.max_row if progress is not None else None
                return _bounded(sheet.iter_rows(values_only=True), limit, progress, total)
            finally:
                book.close()
    except FileRefused:
        raise
    except Exception as exc:  # a broken zip, a missing part, XML openpyxl cannot read …
        raise FileRefused(FileProblem.CORRUPT) from exc


def _bounded(
    rows: Iterable[Sequence[object]], limit: int, progress: Progress | None, total: int | None
) -> list[tuple[object, ...]]:
    kept: list[tuple[object, ...]] = []
    filled = 0
    for values in rows:
        kept.append(tuple(values))
        filled += not blank(values)
        if filled > limit:
            raise FileRefused(FileProblem.TOO_MANY_ROWS)
        if progress is not None and len(kept) % PROGRESS_EVERY == 0:
            progress(len(kept), total)
    if progress is not None:
        progress(len(kept), len(kept))
    return kept


def _decode(data: bytes) -> str:
    """UTF-8 (with or without the BOM Excel writes), UTF-16 with its BOM, else GBK (as
    GB 18030, its superset); a file that is none of them, or holds control bytes, is not
    a table."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = ["utf-16"]
    else:
        candidates = ["utf-8-sig", "gb18030"]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if any(unicodedata.category(c) == "Cc" and c not in "\t\r\n" for c in text):
            break
        return text
    raise FileRefused(FileProblem.NOT_SPREADSHEET)


def _csv_reader(text: str) -> Iterable[list[str]]:
    # The separator the first line uses most: Excel writes commas, or tabs as "Unicode text".
    first = text.lstrip("\r\n").split("\n", 1)[0]
    delimiter = max(",\t;", key=first.count)
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def blank(row: Iterable[object]) -> bool:
    return all(cell is None or str(cell).strip() == "" for cell in row)


# --- the header -----------------------------------------------------------------------------


def header_key(heading: object) -> str:
    """A heading as compared: NFKC, lower case, without spaces, punctuation or "(必填)"."""
    text = unicodedata.normalize("NFKC", str(heading or "")).lower()
    text = re.sub(r"\(必填\)|必填", "", text)
    return re.sub(r"[\s_*:,.、/()\-\[\]]", "", text)


@dataclass(frozen=True)
class Table(Generic[F]):
    """A sheet's rows under its header: what the checks read."""

    header: tuple[str, ...]  # each column's heading as the file writes it
    columns: dict[F, int]  # each recognised field's column index
    rows: list[tuple[int, tuple[object, ...]]]  # (row number as Excel shows it, cells)

    def heading(self, field: F) -> str:
        """The field's heading as the file writes it; empty for a field it lacks."""
        return self.header[self.columns[field]] if field in self.columns else ""

    def unused(self) -> list[str]:
        """Headings of the columns no field took: shown so nobody wonders where they went."""
        taken = set(self.columns.values())
        return [h for i, h in enumerate(self.header) if h and i not in taken]


def find_table(
    rows: list[tuple[object, ...]],
    headings: Mapping[str, F],
    required: Sequence[frozenset[F]],
    *,
    max_rows: int,
) -> Table[F]:
    """The table under the header row that satisfies one of `required` (the fields some kind
    of list needs) with the most recognised columns. A header may be one row, or two under
    merged cells: a blank lower cell takes the (merged) cell above it."""
    filled = [(number, row) for number, row in enumerate(rows, start=1) if not blank(row)]
    if not filled:
        raise FileRefused(FileProblem.EMPTY)
    best: tuple[int, int, tuple[str, ...], dict[F, int]] | None = None  # (found, body, …)
    top = filled[:HEADER_SEARCH]
    for position, (_, row) in enumerate(top):
        candidates = [(position + 1, _headings(row))]
        if position + 1 < len(top):
            candidates.append((position + 2, _two_row_headings(row, top[position + 1][1])))
        for starts_at, header in candidates:
            columns = _match(header, headings)
            fits = any(need <= columns.keys() for need in required)
            if fits and (best is None or len(columns) > best[0]):
                best = (len(columns), starts_at, header, columns)
    if best is None:
        found = _match(_headings(top[0][1]), headings).keys()
        nearest = min(required, key=lambda need: len(need - found))
        raise FileRefused(FileProblem.NO_COLUMNS, missing=sorted(nearest - found))
    _, body_at, header, columns = best
    body = filled[body_at:]
    if not body:
        raise FileRefused(FileProblem.EMPTY)
    if len(body) > max_rows:
        raise FileRefused(FileProblem.TOO_MANY_ROWS)
    return Table(header=header, columns=columns, rows=body)


def _headings(row: tuple[object, ...]) -> tuple[str, ...]:
    return tuple(str(c).strip() if c is not None else "" for c in row)


def _two_row_headings(upper: tuple[object, ...], lower: tuple[object, ...]) -> tuple[str, ...]:
    """Headings of a two-row header: the lower row's, or where it is blank the upper row's,
    carried right across a merged range (openpyxl leaves all but its first cell blank)."""
    merged, carried = [], ""
    for index in range(max(len(upper), len(lower))):
        above = str(upper[index]).strip() if index < len(upper) and upper[index] else ""
        carried = above or carried
        below = str(lower[index]).strip() if index < len(lower) and lower[index] else ""
        merged.append(below or carried)
    return tuple(merged)


def _match(header: tuple[str, ...], headings: Mapping[str, F]) -> dict[F, int]:
    columns: dict[F, int] = {}
    for index, heading in enumerate(header):
        field = headings.get(header_key(heading))
        if field is not None and field not in columns:
            columns[field] = index
    return columns


def column_letter(index: int) -> str:
    """Excel's name for a 0-based column index: 0 → A, 27 → AB."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def formula_cells(data: bytes, cells: Iterable[tuple[int, int]]) -> set[tuple[int, int]]:
    """Which of `cells` ((row number, 0-based column)) of an .xlsx's first sheet hold a
    formula. A workbook written by a program rather than saved by Excel may hold formulas with
    no computed value, which read as blanks; this tells such a cell from an empty one."""
    wanted = set(cells)
    if not wanted or not data.startswith(_ZIP):
        return set()
    from openpyxl import load_workbook

    last = max(row for row, _ in wanted)
    found: set[tuple[int, int]] = set()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
            try:
                rows = book.worksheets[0].iter_rows(max_row=last, values_only=True)
                for number, values in enumerate(rows, start=1):
                    for row, column in wanted:
                        if row == number and column < len(values):
                            value = values[column]
                            if isinstance(value, str) and value.startswith("="):
                                found.add((row, column))
            finally:
                book.close()
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        return set()
    return found


# --- cells --------------------------------------------------------------------------------


class DateIssue(StrEnum):
    INVALID = "date_invalid"
    FUTURE = "date_future"


def text_of(value: object) -> str:
    """A cell as text: NFKC (full-width digits and letters made plain), trimmed; a whole
    number Excel stores as 100.0 written 100."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFKC", str(value)).strip()


def count_of(value: object) -> int | None:
    """A headcount: a whole number ≥ 0, as a number or text ("1,234", "１２０", "120人")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float):
        return int(value) if value.is_integer() and value >= 0 else None
    text = re.sub(r"[,\s]|人$", "", text_of(value))
    if re.fullmatch(r"\d+(\.0+)?", text):
        return int(float(text)) if "." in text else int(text)
    return None


def date_of(value: object, *, today: date) -> date | DateIssue:
    """A date: a real date, an Excel serial number (43160 is 2018-03-01), or text such as
    2018-03-01, 2018/3/1, 20180301, 2018年3月1日, 3月1日; never after today."""
    found: date | None
    if isinstance(value, datetime):
        found = value.date()
    elif isinstance(value, date):
        found = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        found = _serial(value)
    else:
        text = unicodedata.normalize("NFKC", str(value)).strip()
        if re.fullmatch(r"\d{8}", text):
            try:
                found = datetime.strptime(text, "%Y%m%d").date()
            except ValueError:
                found = None
        elif re.fullmatch(r"\d{4,5}(\.0+)?", text):
            found = _serial(float(text))
        else:
            read = read_date(text, today=today)
            if read is DateProblem.FUTURE_DATE:
                return DateIssue.FUTURE
            found = read if isinstance(read, date) else None
    if found is None or found.year < 1900:
        return DateIssue.INVALID
    return DateIssue.FUTURE if found > today else found


def _serial(value: float) -> date | None:
    days = int(value)
    return _EXCEL_EPOCH + timedelta(days=days) if days in _SERIAL_RANGE else None


def masked(value: object) -> str:
    """A cell as text with every run of seven or more digits masked like a mobile number."""
    text = "" if value is None else str(value).strip()
    return _LONG_DIGITS.sub(lambda m: mask_mobile(m.group()), unicodedata.normalize("NFKC", text))


def shown(value: object, *, mask: bool = True) -> str:
    """A cell as a message may show it: at most 40 characters, and unless it is known to hold
    no phone number (a credit code), long digit runs masked."""
    text = masked(value) if mask else text_of(value)
    return f"{text[:39]}…" if len(text) > 40 else text


def has_long_digits(text: str) -> bool:
    return _LONG_DIGITS.search(unicodedata.normalize("NFKC", text)) is not None


# --- the annotated copy -------------------------------------------------------------------

FULL_COPY_ROWS = 20_000  # larger sheets come back as their rows with problems only


def annotated_copy(
    table: Table[F],
    notes: Mapping[int, Sequence[tuple[int | None, str]]],
    *,
    problem_heading: str,
    row_heading: str,
    private: Collection[int] = (),
) -> tuple[bytes, bool]:
    """The sheet as read, with each problem cell filled red and a last column saying what is
    wrong, each row led by its number in the sheet (the report names rows so; and sent back
    corrected, the two extra columns are left alone). `notes` maps a row number to (column
    index or None, text). A sheet of more than FULL_COPY_ROWS comes back as its rows with
    problems only; the flag says which it is. The `private` columns (ID numbers, mobiles)
    come back masked: the copy travels through chats."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill

    whole = len(table.rows) <= FULL_COPY_ROWS
    red = PatternFill("solid", fgColor="FFC7CE")
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.freeze_panes = "A2"
    heads = [row_heading, *table.header, problem_heading]
    sheet.append([_bold(sheet, h, Font) for h in heads])
    width = len(table.header)
    for number, cells in table.rows:
        found = notes.get(number)
        if found is None and not whole:
            continue
        bad = {column for column, _ in found or () if column is not None}
        values: list[object] = [*cells[:width], *[None] * (width - len(cells))]
        row: list[object] = [number]
        for index, value in enumerate(values):
            kept = masked(value) if index in private and value is not None else value
            cell = WriteOnlyCell(sheet, value=kept)  # type: ignore[arg-type]
            if index in bad:
                cell.fill = red
            row.append(cell)
        row.append("; ".join(text for _, text in found or ()))
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), whole


def _bold(sheet: object, value: str, font: type) -> object:
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)  # type: ignore[arg-type]
    cell.font = font(bold=True)
    return cell
