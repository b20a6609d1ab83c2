"""Sheets written as .xlsx and .csv: read back as a person's spreadsheet program would see
them (headings in their language, frozen and filtered header, widths, real dates, times in
the plan's zone, percentages, yes/no), and progress reported as promised."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from bot.texts import t
from bot.workbook import (
    DATE_FORMAT,
    DATETIME_FORMAT,
    PERCENT_FORMAT,
    display_width,
    sheet_titles,
    write_csv,
    write_xlsx,
)
from models.enums import Language
from models.tabular import CellKind, Label, Sheet, SheetColumn

ZONE = ZoneInfo("Asia/Shanghai")
COLUMNS = (
    SheetColumn("export.col.unit_name", CellKind.TEXT, 30),
    SheetColumn("export.col.tax_headcount", CellKind.INT, 4),
    SheetColumn("export.col.opened_on", CellKind.DATE, 12),
    SheetColumn("export.col.logged_at", CellKind.DATETIME, 17),
    SheetColumn("export.col.progress", CellKind.PERCENT, 10),
    SheetColumn("export.col.dues_paid_uncollected", CellKind.BOOL, 10),
    SheetColumn("export.col.stage", CellKind.TEXT, 10),
)
ROWS: list[tuple[object, ...]] = [
    ("北京岳博酒店管理有限责任公司", 320, date(2018, 3, 1),
     datetime(2018, 3, 1, 2, 30, tzinfo=UTC), Decimal("0.5333"), True, Label("stage.approved")),
    ("=HYPERLINK(\"http://x\")", None, None, None, 0.25, False, None),
]  # fmt: skip


def sheet(
    rows: Sequence[tuple[object, ...]] | None = None, title: str = "export.sheet.ledger"
) -> Sheet:
    chosen = ROWS if rows is None else rows
    return Sheet(title, COLUMNS, iter(chosen), len(chosen))


def xlsx(*sheets: Sheet, lang: Language = Language.ZH) -> bytes:
    out = io.BytesIO()
    write_xlsx(list(sheets), lang=lang, zone=ZONE, out=out)
    return out.getvalue()


def test_a_workbook_as_a_person_sees_it() -> None:
    book = load_workbook(io.BytesIO(xlsx(sheet())))
    ws = book.active
    assert ws is not None and ws.title == "台账"
    header = [c.value for c in ws[1]]
    assert header == ["单位名称", "个税人数", "挂账日期", "登记时间", "任务完成率",
                      "税务代收未采集", "当前阶段"]  # fmt: skip
    assert all(c.font.bold for c in ws[1]) and ws["A1"].fill.fill_type == "solid"
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:G3"
    # As wide as asked, never narrower than the heading (CJK characters count two).
    assert ws.column_dimensions["A"].width == 30
    assert ws.column_dimensions["B"].width == display_width("个税人数") + 2 == 10
    assert ws.column_dimensions["F"].width == 16

    name, count, opened, logged, share, dues, stage = ws[2]
    assert name.value == "北京岳博酒店管理有限责任公司"
    assert count.value == 320 and count.data_type == "n"
    assert opened.value == datetime(2018, 3, 1) and opened.is_date
    assert opened.number_format == DATE_FORMAT
    # 02:30 UTC is 10:30 in Beijing; a spreadsheet knows no zones, so it is written as 10:30.
    assert logged.value == datetime(2018, 3, 1, 10, 30) and logged.number_format == DATETIME_FORMAT
    assert share.value == 0.5333 and share.number_format == PERCENT_FORMAT
    assert dues.value == "是" and stage.value == "两审两批"

    formula, empty, *_, no, none = ws[3]
    # Text from users that looks like a formula stays text.
    assert formula.value == '=HYPERLINK("http://x")' and formula.data_type == "s"
    assert empty.value is None and none.value is None and no.value == "否"


def test_english_headings_and_labels() -> None:
    ws = load_workbook(io.BytesIO(xlsx(sheet(), lang=Language.EN))).active
    assert ws is not None and ws.title == "Task ledger"
    assert ws["A1"].value == "Unit name" and ws["F2"].value == "yes"
    assert ws["G2"].value == t("stage.approved", Language.EN)


def test_sheet_titles_are_what_excel_accepts() -> None:
    sheets = [sheet(title="export.sheet.ledger"), sheet(title="export.sheet.ledger"),
              sheet(title="export.col.report.public_opinion")]  # fmt: skip
    titles = sheet_titles(sheets, Language.EN)
    assert titles[:2] == ["Task ledger", "Task ledger (2)"]
    assert len(titles[2]) <= 31 and titles[2].startswith("Public-opinion")
    book = load_workbook(io.BytesIO(xlsx(*sheets, lang=Language.EN)))
    assert book.sheetnames == titles


def test_control_characters_are_dropped_and_an_empty_sheet_still_opens() -> None:
    ws = load_workbook(
        io.BytesIO(xlsx(sheet([("a\x0bb", 1, None, None, None, None, None)])))
    ).active
    assert ws is not None and ws["A2"].value == "ab"
    empty = load_workbook(io.BytesIO(xlsx(sheet([])))).active
    assert empty is not None and empty["A1"].value == "单位名称"
    assert empty.max_row == 1


def test_progress_every_thousand_rows_and_at_the_end() -> None:
    rows = [("单位", i, None, None, None, None, None) for i in range(2_500)]
    seen: list[tuple[int, int | None]] = []
    written = write_xlsx([sheet(rows)], lang=Language.ZH, zone=ZONE, out=io.BytesIO(),
                         progress=lambda done, total: seen.append((done, total)))  # fmt: skip
    assert written == 2_500
    assert seen == [(1_000, 2_500), (2_000, 2_500), (2_500, 2_500)]
    seen.clear()
    open_ended = Sheet("export.sheet.ledger", COLUMNS, iter(rows[:1_000]))  # no total known
    write_csv(open_ended, lang=Language.ZH, zone=ZONE, out=io.BytesIO(),
              progress=lambda done, total: seen.append((done, total)))  # fmt: skip
    assert seen == [(1_000, None), (1_000, None)]


def test_csv_is_utf8_with_a_bom_and_the_same_cells_as_text() -> None:
    out = io.BytesIO()
    assert write_csv(sheet(), lang=Language.ZH, zone=ZONE, out=out) == 2
    data = out.getvalue()  # the stream is still open: the caller owns it
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][0] == "单位名称"
    assert rows[1] == ["北京岳博酒店管理有限责任公司", "320", "2018-03-01", "2018-03-01 10:30",
                       "53.3%", "是", "两审两批"]  # fmt: skip
    # Excel would run "=…" in a CSV: quoted with an apostrophe, as Excel itself does.
    assert rows[2] == ['\'=HYPERLINK("http://x")', "", "", "", "25.0%", "否", ""]


def test_display_width() -> None:
    assert display_width("单位名称") == 8
    assert display_width("Unit name") == 9
    assert display_width("（家）") == 6
