"""Exports as files: naming them, writing them in the chosen format, and `unionbot export`.

The chat (handlers/exports.py) and the command line share this: the same builders
(models/exports.py), the same writer (bot/workbook.py), the same file names. The command line
acts as a district admin: any kind, any street or the whole district.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO, TextIO
from zoneinfo import ZoneInfo

from tqdm import tqdm

from bot.clock import Clock
from bot.db import Database
from bot.settings import Settings
from bot.texts import t
from bot.workbook import Progress, sheet_titles, write_csv, write_xlsx
from models.chats import find_street
from models.enums import Language
from models.exports import (
    ExportKind,
    Period,
    PeriodUse,
    build_sheets,
    month_of,
    parse_period,
    period_use,
    row_count,
)
from models.plan import load_plan
from models.reports import QUARTERLY_PERIOD
from models.tabular import Sheet

_UNSAFE = re.compile(r'[\\/:*?"<>|\s]+')  # characters file systems or Telegram clients mangle


class ExportFormat(StrEnum):
    XLSX = "xlsx"
    CSV = "csv"


@dataclass(frozen=True)
class ExportFile:
    name: str
    sheets: list[Sheet]
    part: str | None = None  # the sheet's title, when an export makes several CSV files


def period_text(period: Period | None, lang: Language) -> str:
    """A period as people say it: 2018年3月, 2018年第1季度, 2018年, a range, or all time."""
    if period is None:
        return t("export.period_label.all", lang)
    report = period.report
    if report is not None:
        found = QUARTERLY_PERIOD.match(period.label)
        if found is not None:
            return t("export.period_label.quarter", lang, year=found[1], quarter=found[2])
        first = period.first
        return t("export.period_label.month", lang, year=first.year, month=first.month)
    if period.first == date(period.first.year, 1, 1) and period.label == str(period.first.year):
        return t("export.period_label.year", lang, year=period.first.year)
    return t("export.period_label.range", lang, first=period.first.isoformat(),
             last=period.last.isoformat())  # fmt: skip


def scope_text(street_name: str | None, lang: Language) -> str:
    return street_name or t("export.all_streets", lang)


def file_stem(
    kind: ExportKind, *, street_name: str | None, period: Period | None, today: date,
    lang: Language,
) -> str:  # fmt: skip
    """台账_拱辰街道_2018-03-15: the kind, the street (or the district), and the period's
    name, or the day of the export for what has no period."""
    parts = [
        t(f"export.file.{kind.value}", lang),
        scope_text(street_name, lang),
        period.label if period is not None else today.isoformat(),
    ]
    return "_".join(_UNSAFE.sub("-", part) for part in parts)


def files_for(
    sheets: list[Sheet], fmt: ExportFormat, stem: str, lang: Language
) -> list[ExportFile]:
    """One workbook holds every sheet; a CSV holds one table, so several sheets make one
    CSV each, named after its sheet."""
    if fmt is ExportFormat.XLSX or len(sheets) <= 1:
        return [ExportFile(f"{stem}.{fmt.value}", sheets)]
    parts = [_UNSAFE.sub("-", title) for title in sheet_titles(sheets, lang)]
    return [
        ExportFile(f"{stem}_{part}.csv", [sheet], part)
        for sheet, part in zip(sheets, parts, strict=True)
    ]


def write_file(
    file: ExportFile,
    fmt: ExportFormat,
    *,
    lang: Language,
    zone: ZoneInfo,
    out: BinaryIO,
    progress: Progress | None = None,
) -> int:
    """Write one file of an export; the rows written."""
    if fmt is ExportFormat.XLSX:
        return write_xlsx(file.sheets, lang=lang, zone=zone, out=out, progress=progress)
    [sheet] = file.sheets
    return write_csv(sheet, lang=lang, zone=zone, out=out, progress=progress)


# --- the command line ---------------------------------------------------------------------


class _Refused(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def cli_period(kind: ExportKind, text: str | None, *, today: date, lang: Language) -> Period | None:
    """--period as the kind takes it; _Refused with the reason otherwise. Reports without
    one are this month's."""
    period = None
    if text is not None:
        period = parse_period(text)
        if period is None:
            raise _Refused(t("export.cli.bad_period", lang, period=text), 2)
    use = period_use(kind)
    if use is PeriodUse.NONE and period is not None:
        raise _Refused(t("export.cli.period_unused", lang, kind=t(f"export.kind.{kind}", lang)), 2)
    if use is PeriodUse.REPORT:
        if period is None:
            return month_of(today)
        if period.report is None:
            raise _Refused(t("export.cli.report_period", lang), 2)
    return period


def _target(out: Path, file: ExportFile) -> Path:
    """Where a file goes: --out itself, or beside it for each CSV of several sheets."""
    return out if file.part is None else out.with_name(f"{out.stem}_{file.part}{out.suffix}")


async def export_command(
    settings: Settings,
    kind: ExportKind,
    out: Path,
    *,
    street: str | None,
    period: str | None,
    as_csv: bool,
    bar_file: TextIO | None = None,
) -> int:
    """`unionbot export`: build the export from DATABASE_URL and write it to `out`, with a
    progress bar on stderr when stderr is a terminal."""
    lang = Language(settings.default_language)
    plan = load_plan(settings.plan_file)
    today = Clock(settings.zone, settings.bot_today).today()
    fmt = ExportFormat.CSV if as_csv or out.suffix.lower() == ".csv" else ExportFormat.XLSX
    db = Database(settings.database_url)
    try:
        chosen = cli_period(kind, period, today=today, lang=lang)
        await db.upgrade()
        async with db.session() as session:
            street_id = street_name = None
            if street is not None:
                scope = await find_street(session=session, name=street)
                if scope is None or scope.street_id is None:
                    raise _Refused(t("export.cli.street_unknown", lang, street=street), 1)
                street_id, street_name = scope.street_id, scope.street_name
            sheets = await build_sheets(
                kind, session=session, plan=plan, today=today, street_id=street_id, period=chosen
            )
    except _Refused as refused:
        print(f"unionbot: {refused}", file=sys.stderr)
        return refused.code
    finally:
        await db.dispose()
    stem = file_stem(kind, street_name=street_name, period=chosen, today=today, lang=lang)
    files = files_for(sheets, fmt, stem, lang)
    written, said = 0, []
    with tqdm(
        total=row_count(sheets), desc=t("export.cli.progress", lang),
        unit=t("export.cli.rows", lang), file=bar_file or sys.stderr, disable=None,
    ) as bar:  # fmt: skip

        def progress(done: int, _total: int | None) -> None:
            bar.update(written + done - bar.n)

        for file in files:
            target = _target(out, file)
            part = target.with_name(f"{target.name}.part")
            try:
                with part.open("wb") as stream:
                    rows = write_file(file, fmt, lang=lang, zone=plan.zone, out=stream,
                                      progress=progress)  # fmt: skip
                part.replace(target)  # whole or not at all: no half-written file at `out`
            except OSError as exc:
                part.unlink(missing_ok=True)
                print(f"unionbot: {target}: {exc.strerror}", file=sys.stderr)
                return 1
            written += rows
            said.append(t("export.cli.done", lang, file=target, rows=f"{rows:,}"))
    if not written:
        said.append(t("export.cli.empty", lang, file=out))
    print("\n".join(said))  # after the bar, which would break a line printed under it
    return 0
