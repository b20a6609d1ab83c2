"""Reading a list of members: headers as people write them, every row checked, each problem
named by row and column, and files that are no spreadsheet refused with the reason."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from datetime import date, datetime

import pytest
from openpyxl import Workbook

from models.member_import import (
    MAX_ROWS,
    Column,
    Facts,
    Issue,
    bad_rows_csv,
    check_table,
    date_of,
    mobile_of,
    read_table,
    street_of,
)
from models.sheets import FileProblem, FileRefused, shown

TODAY = date(2018, 3, 15)
GONGCHEN, LIANGXIANG = 7, 9
FACTS = Facts(
    streets={"拱辰街道": GONGCHEN, "良乡镇": LIANGXIANG},
    units={GONGCHEN: {"北京岳博酒店管理有限责任公司": [101], "同名公司": [102, 103]}},
    members=frozenset({"13900000001"}),
)


def xlsx(rows: Sequence[Sequence[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter).writerows(rows)
    return out.getvalue().encode(encoding)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2018, 3, 1, 0, 0), date(2018, 3, 1)),
        (date(2018, 3, 1), date(2018, 3, 1)),
        (43160, date(2018, 3, 1)),  # an Excel serial number
        (43160.0, date(2018, 3, 1)),
        ("43160", date(2018, 3, 1)),
        ("2018-03-01", date(2018, 3, 1)),
        ("2018/3/1", date(2018, 3, 1)),
        ("2018.3.1", date(2018, 3, 1)),
        ("20180301", date(2018, 3, 1)),
        ("2018年3月1日", date(2018, 3, 1)),
        ("２０１８年３月１日", date(2018, 3, 1)),
        ("3月1日", date(2018, 3, 1)),
        ("2018-03-01 00:00:00", date(2018, 3, 1)),
        ("2018-04-01", Issue.DATE_FUTURE),
        (43200, Issue.DATE_FUTURE),
        ("明天", Issue.DATE_FUTURE),
        ("2018-02-30", Issue.DATE_INVALID),
        ("20181301", Issue.DATE_INVALID),
        ("去年", Issue.DATE_INVALID),
        (0, Issue.DATE_INVALID),
    ],
)
def test_join_dates(value: object, expected: object) -> None:
    assert date_of(value, today=TODAY) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (13812345678, "13812345678"),
        (13812345678.0, "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("1381234567", None),
        ("1.38123E+10", None),
        (1.5, None),
        (True, None),
    ],
)
def test_mobile_numbers_from_cells(value: object, expected: str | None) -> None:
    assert mobile_of(value) == expected


def test_headers_are_found_under_a_title_row_in_any_of_their_spellings() -> None:
    table = read_table(
        xlsx([["2018年新会员名单"], [],
              ["序号", "姓名*", "手机号码（必填）", "工作单位", "入会时间"],
              [1, "张三", 13812345678, "北京岳博酒店管理有限责任公司", 43160]]),
        "名单.xlsx",
    )  # fmt: skip
    assert table.columns == {Column.NAME: 1, Column.MOBILE: 2, Column.UNIT: 3, Column.JOINED_ON: 4}
    assert table.rows == [(4, (1, "张三", 13812345678, "北京岳博酒店管理有限责任公司", 43160))]
    english = read_table(csv_bytes([["Name", "Mobile", "Join date"], ["A", "13812345678", ""]]),
                         "list.csv")  # fmt: skip
    assert set(english.columns) == {Column.NAME, Column.MOBILE, Column.JOINED_ON}
    for header in ("手机", "手机号", "联系电话", "mobile"):
        found = read_table(csv_bytes([["姓名", header], ["张三", "13812345678"]]), "a.csv")
        assert found.columns[Column.MOBILE] == 1


def test_every_row_is_checked_and_each_problem_named_by_row_and_column() -> None:
    header = ["姓名", "手机号", "单位名称", "入会日期"]
    table = read_table(
        xlsx([header,
              ["张三", "13812345678", "北京岳博酒店管理有限责任公司", "2018-03-01"],  # 2: good
              ["李四", "1381234567", "", ""],  # 3: bad number
              ["王五", "138 1234 5678", "", ""],  # 4: the number of row 2 again
              ["赵六", "13900000001", "", ""],  # 5: a member already
              ["", "13700000002", "", ""],  # 6: no name
              ["钱七", "13700000003", "", "2018-04-01"],  # 7: joins in the future
              ["孙八", "13700000004", "无名公司", 43160],  # 8: unknown unit: a warning
              ["周九", "13700000005", "同名公司", ""],  # 9: two units of that name: a warning
              ["吴十", "13700000006", "", "下个月"],  # 10: not a date
              ["郑一13700000007", "13700000008", "", ""],  # 11: a number in the name
              ]),
        "名单.xlsx",
    )  # fmt: skip
    report = check_table(table, FACTS, street_id=GONGCHEN, own_street_id=GONGCHEN, today=TODAY)
    assert [(p.row, p.header, p.issue) for p in report.problems] == [
        (3, "手机号", Issue.MOBILE_INVALID),
        (4, "手机号", Issue.MOBILE_REPEATED),
        (5, "手机号", Issue.MOBILE_MEMBER),
        (6, "姓名", Issue.NAME_MISSING),
        (7, "入会日期", Issue.DATE_FUTURE),
        (8, "单位名称", Issue.UNIT_UNKNOWN),
        (9, "单位名称", Issue.UNIT_AMBIGUOUS),
        (10, "入会日期", Issue.DATE_FUTURE),
        (11, "姓名", Issue.NAME_HAS_NUMBER),
    ]
    assert report.problems[1].first_row == 2
    assert report.problems[0].value == "138****4567"  # masked, even when not a valid number
    assert report.problems[2].value == "139****0001"
    assert report.problems[8].value == "郑一137****0007"
    assert [(g.row, g.name, g.mobile, g.unit_id, g.joined_on) for g in report.good] == [
        (2, "张三", "13812345678", 101, date(2018, 3, 1)),
        (8, "孙八", "13700000004", None, date(2018, 3, 1)),
        (9, "周九", "13700000005", None, TODAY),
    ]
    assert report.rows == 10
    assert (report.bad_rows, report.warned_rows) == ([3, 4, 5, 6, 7, 10, 11], [8, 9])


def test_streets_in_the_file() -> None:
    table = read_table(
        csv_bytes([["姓名", "手机", "街乡"], ["甲", "13700000001", "拱辰"],
                   ["乙", "13700000002", "良乡镇"], ["丙", "13700000003", "火星"],
                   ["丁", "13700000004", ""]]),
        "a.csv",
    )  # fmt: skip
    officer = check_table(table, FACTS, street_id=GONGCHEN, own_street_id=GONGCHEN, today=TODAY)
    assert [(p.row, p.issue) for p in officer.problems] == [
        (3, Issue.STREET_OTHER), (4, Issue.STREET_UNKNOWN)
    ]  # fmt: skip
    assert [(g.row, g.street_id) for g in officer.good] == [(2, GONGCHEN), (5, GONGCHEN)]
    admin = check_table(table, FACTS, street_id=None, own_street_id=None, today=TODAY)
    assert [(p.row, p.issue) for p in admin.problems] == [
        (4, Issue.STREET_UNKNOWN), (5, Issue.STREET_MISSING)
    ]  # fmt: skip
    assert [(g.row, g.street_id) for g in admin.good] == [(2, GONGCHEN), (3, LIANGXIANG)]
    assert street_of("拱辰", FACTS.streets) == GONGCHEN
    assert street_of("镇", FACTS.streets) == LIANGXIANG
    assert street_of("", FACTS.streets) is None


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [("gbk", ","), ("gb18030", ","), ("utf-8", ","), ("utf-8-sig", ","), ("utf-16", "\t"),
     ("utf-8", ";")],
)  # fmt: skip
def test_csv_in_the_encodings_excel_writes(encoding: str, delimiter: str) -> None:
    data = csv_bytes([["姓名", "联系电话", "单位"], ["张三", "13812345678", "岳博（北京）"]],
                     encoding, delimiter)  # fmt: skip
    table = read_table(data, "名单.csv")
    assert table.header == ("姓名", "联系电话", "单位")
    assert table.rows == [(2, ("张三", "13812345678", "岳博（北京）"))]


def _encrypted() -> bytes:
    return bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 64 + "EncryptionInfo".encode("utf-16-le")


@pytest.mark.parametrize(
    ("data", "name", "problem"),
    [
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\x00\x01", "名单.csv", FileProblem.NOT_SPREADSHEET),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "photo.csv", FileProblem.NOT_SPREADSHEET),
        (b"%PDF-1.4 not a workbook", "名单.xlsx", FileProblem.CORRUPT),
        (b"PK\x03\x04 a broken zip", "名单.xlsx", FileProblem.CORRUPT),
        (bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 64, "名单.xls", FileProblem.OLD_EXCEL),
        (_encrypted(), "名单.xlsx", FileProblem.ENCRYPTED),
        (b"", "名单.csv", FileProblem.EMPTY),
        ("姓名,手机号\n".encode(), "名单.csv", FileProblem.EMPTY),
        ("单位,人数\n岳博,5\n".encode(), "名单.csv", FileProblem.NO_COLUMNS),
    ],
)  # fmt: skip
def test_files_that_are_no_list_are_refused(data: bytes, name: str, problem: FileProblem) -> None:
    with pytest.raises(FileRefused) as refused:
        read_table(data, name)
    assert refused.value.problem is problem


def test_a_zip_that_is_no_workbook_and_an_empty_workbook() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(FileRefused) as refused:
        read_table(out.getvalue(), "名单.xlsx")
    assert refused.value.problem is FileProblem.CORRUPT
    with pytest.raises(FileRefused) as refused:
        read_table(xlsx([]), "空.xlsx")
    assert refused.value.problem is FileProblem.EMPTY


def test_at_most_twenty_thousand_rows() -> None:
    rows = [["姓名", "手机号"], *([["张三", "13812345678"]] * MAX_ROWS)]
    assert len(read_table(csv_bytes(rows), "a.csv").rows) == MAX_ROWS
    with pytest.raises(FileRefused) as refused:
        read_table(csv_bytes([*rows, ["李四", "13812345679"]]), "a.csv")
    assert refused.value.problem is FileProblem.TOO_MANY_ROWS
    with pytest.raises(FileRefused):
        read_table(xlsx([*rows, ["李四", "13812345679"]]), "a.xlsx")


def test_the_bad_rows_file_masks_numbers_and_says_what_is_wrong() -> None:
    table = read_table(
        csv_bytes([["姓名", "手机号", "备注"], ["张三", "13812345678", "ok"],
                   ["", "13712345678", "无名"], ["李四", "13812345678", "电话 01069351234"]]),
        "a.csv",
    )  # fmt: skip
    report = check_table(table, FACTS, street_id=GONGCHEN, own_street_id=None, today=TODAY)
    data = bad_rows_csv(report, lambda p: f"{p.header}:{p.issue.value}", "问题")
    assert data.startswith(b"\xef\xbb\xbf")  # so that Excel reads UTF-8
    assert list(csv.reader(io.StringIO(data.decode("utf-8-sig")))) == [
        ["#", "姓名", "手机号", "备注", "问题"],
        ["3", "", "137****5678", "无名", "姓名:name_missing"],
        ["4", "李四", "138****5678", "电话 010****1234", "手机号:mobile_repeated"],
    ]


def test_cells_as_messages_show_them() -> None:
    assert shown("  13812345678 ") == "138****5678"
    assert shown(None) == ""
    assert shown("长" * 50) == "长" * 39 + "…"
