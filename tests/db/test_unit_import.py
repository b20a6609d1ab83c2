"""The tax list, social-security headcounts and the member system's records imported: every
row checked by row and column, exactly the good rows written, the same file again changing
nothing, and a unit the tax list leaves out flagged, never deleted."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlmodel import col, func, select

from bot.db import Database
from models.credit_code import credit_code_check_char
from models.enums import LedgerOutcome, Ownership, UnitStatus
from models.geography import sync_geography
from models.plan import load_plan
from models.sheets import FileProblem, FileRefused, formula_cells
from models.tables import AuditEntry, DataImport, LedgerEntry, SourceUnit, Street, Unit
from models.unit_import import (
    Field,
    ImportKind,
    Issue,
    Review,
    apply_import,
    check,
    kinds_of,
    load_facts,
    mapping,
    plan_changes,
    read_sheet,
)

PLAN = load_plan(Path("plans/fangshan-2018.toml"))
NOW = datetime(2026, 11, 24, 2, tzinfo=UTC)
TODAY = date(2026, 11, 24)


def code(i: int) -> str:
    body = f"91110111MA{i:07d}"
    return body + credit_code_check_char(body)


def xlsx(rows: Sequence[Any], *, merge: Sequence[str] = ()) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    for cells in merge:
        sheet.merge_cells(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
async def empty_db(migrated_db: Database) -> Database:
    async with migrated_db.session(write=True) as session:
        await sync_geography(session=session, plan=PLAN)
    return migrated_db


async def review_of(db: Database, data: bytes, name: str = "list.xlsx") -> Review:
    table = read_sheet(data, name)
    async with db.session() as session:
        facts = await load_facts(session=session)
    return check(table, kinds_of(table)[0], facts, today=TODAY,
                 formulas=lambda cells: formula_cells(data, cells))  # fmt: skip


async def imported(db: Database, review: Review) -> Any:
    async with db.session(write=True) as session:
        return await apply_import(session=session, review=review, by_user_id=10001, now=NOW,
                                  today=TODAY, file_name="list.xlsx")  # fmt: skip


async def units(db: Database) -> list[tuple[Any, ...]]:
    async with db.session() as session:
        rows = await session.exec(
            select(  # type: ignore[call-overload]
                Unit.credit_code, Unit.name, Unit.street_id, Unit.tax_headcount,
                   Unit.social_security_headcount, Unit.member_count, Unit.status,
                   Unit.missing_since, Unit.member_system_collected, Unit.unionised_on)
            .order_by(col(Unit.credit_code))
        )  # fmt: skip
        return list(rows.all())


async def count(db: Database, table: Any) -> int:
    async with db.session() as session:
        return (await session.exec(select(func.count()).select_from(table))).one()


HEAD = ["序号", "单位名称", "统一社会信用代码", "所属街乡", "个税人数", "社保人数", "经济类型"]


def tax_list() -> list[list[Any]]:
    return [
        ["房山区百人以上单位明细表"],  # a title row above the header
        HEAD,
        [1, "北京甲公司", code(1), "拱辰街道", 120, 118, "非公有制"],
        [2, "北京乙公司", code(2), "良乡", "１５０", None, "国有"],  # full-width digits, short name
        [
            3,
            "北京丙公司",
            code(3)[:-1] + "0" if code(3)[-1] != "0" else code(3)[:-1] + "1",
            "拱辰街道",
            300,
            280,
            "",
        ],  # a wrong check character
        [4, "北京丁公司", code(1), "拱辰街道", 200, 200, ""],  # the first row's code again
        [5, "北京戊公司", code(5), "火星街道", 100, 90, ""],  # no such street
        [6, "北京己公司", code(6), "拱辰街道", "约100", 90, ""],  # not a number
        [7, "", code(7), "拱辰街道", 100, 90, ""],  # no name
        [8, "北京庚公司", code(8), "拱辰街道", "=F10*2", 90, "外资"],  # formula, ownership unknown
        [9, " 北京辛公司 ", code(9).lower(), "城关街道", 105.0, "99", "集体"],  # typed loosely
    ]


async def test_the_tax_list_is_checked_by_row_and_column_then_only_good_rows_written(
    empty_db: Database,
) -> None:
    data = xlsx(tax_list())
    review = await review_of(empty_db, data)
    assert review.kind is ImportKind.UNITS
    assert [f for f, _, _ in mapping(review.table, ImportKind.UNITS)] == [
        Field.UNIT_NAME, Field.CREDIT_CODE, Field.STREET, Field.TAX_HEADCOUNT,
        Field.SOCIAL_HEADCOUNT, Field.OWNERSHIP,
    ]  # fmt: skip
    found = {(p.row, p.column, p.issue) for p in review.problems}
    assert found == {
        (5, "C", Issue.CODE_INVALID),
        (6, "C", Issue.CODE_REPEATED),
        (7, "D", Issue.STREET_UNKNOWN),
        (8, "E", Issue.COUNT_INVALID),
        (9, "B", Issue.NAME_MISSING),
        (10, "E", Issue.FORMULA),
        (10, "G", Issue.OWNERSHIP_UNKNOWN),
    }
    repeated = next(p for p in review.problems if p.issue is Issue.CODE_REPEATED)
    assert repeated.first_row == 3 and repeated.header == "统一社会信用代码"
    assert [u.row for u in review.units] == [3, 4, 11]
    assert await count(empty_db, Unit) == 0  # checking writes nothing

    result = await imported(empty_db, review)
    assert (result.inserted, result.updated, result.flagged) == (3, 0, 0)
    async with empty_db.session() as session:
        streets = dict((await session.exec(select(Street.name, Street.id))).all())
        written = {u.credit_code: u for u in (await session.exec(select(Unit))).all()}
        audits = (await session.exec(select(AuditEntry.action))).all()
    assert written[code(2)].street_id == streets["良乡镇"] and written[code(2)].tax_headcount == 150
    assert written[code(2)].ownership is Ownership.STATE
    assert written[code(2)].social_security_headcount is None
    assert written[code(9)].name == "北京辛公司" and written[code(9)].tax_headcount == 105
    assert written[code(9)].social_security_headcount == 99
    assert sorted(audits) == ["data.import"] + ["unit.import"] * 3


async def test_the_same_file_again_changes_nothing(empty_db: Database) -> None:
    data = xlsx(tax_list())
    await imported(empty_db, await review_of(empty_db, data))
    before, audits = await units(empty_db), await count(empty_db, AuditEntry)
    again = await review_of(empty_db, data)
    async with empty_db.session() as session:
        assert plan_changes(again, await load_facts(session=session), today=TODAY).nothing
    result = await imported(empty_db, again)
    assert (result.inserted, result.updated, result.unchanged, result.flagged) == (0, 0, 3, 0)
    assert await units(empty_db) == before
    assert await count(empty_db, AuditEntry) == audits + 1  # the import itself, nothing else


async def test_the_demo_district_exported_and_imported_again_is_unchanged(
    demo_db: Database,
) -> None:
    rows: list[list[Any]] = [["单位名称", "统一社会信用代码", "所属街乡", "个税人数", "社保人数"]]
    async with demo_db.session() as session:
        query = select(  # type: ignore[call-overload]
            Unit.name, Unit.credit_code, Street.name, Unit.tax_headcount,
                       Unit.social_security_headcount).join(Street)  # fmt: skip
        rows += [list(r) for r in (await session.exec(query)).all()]
    before = await units(demo_db)
    review = await review_of(demo_db, xlsx(rows))
    assert review.problems == [] and len(review.units) == 15_099
    result = await imported(demo_db, review)
    assert (result.inserted, result.updated, result.unchanged) == (0, 0, 15_099)
    assert await units(demo_db) == before


async def test_a_unit_the_new_list_leaves_out_is_flagged_not_deleted(empty_db: Database) -> None:
    full = tax_list()
    await imported(empty_db, await review_of(empty_db, xlsx(full)))
    without_first = [r for r in full if not (len(r) > 2 and r[2] == code(1))]
    review = await review_of(empty_db, xlsx(without_first))
    result = await imported(empty_db, review)
    assert result.flagged == 1
    by_code = {u[0]: u for u in await units(empty_db)}
    assert by_code[code(1)][7] == TODAY  # missing since today, still a target unit
    assert by_code[code(1)][6] is UnitStatus.ACTIVE
    assert by_code[code(9)][7] is None  # 城关街道 was listed too, its unit is there

    # A list of one street flags only that street's units.
    only_liangxiang = [HEAD, [1, "北京乙公司", code(2), "良乡镇", 150, None, "国有"]]
    result = await imported(empty_db, await review_of(empty_db, xlsx(only_liangxiang)))
    assert result.flagged == 0

    # Listed again: no longer in question.
    result = await imported(empty_db, await review_of(empty_db, xlsx(full)))
    assert result.updated == 1
    assert {u[0]: u for u in await units(empty_db)}[code(1)][7] is None


async def test_a_unit_moving_street_takes_its_ledger_entry(demo_db: Database) -> None:
    async with demo_db.session() as session:
        entry = (await session.exec(select(LedgerEntry))).first()
        assert entry is not None
        unit = await session.get(Unit, entry.unit_id)
        assert unit is not None
        other = (await session.exec(select(Street).where(col(Street.id) != unit.street_id))).first()
        assert other is not None
    sheet = [HEAD, [1, unit.name, unit.credit_code, other.name, unit.tax_headcount,
                    unit.social_security_headcount, ""]]  # fmt: skip
    result = await imported(demo_db, await review_of(demo_db, xlsx(sheet)))
    assert result.updated == 1
    async with demo_db.session() as session:
        moved = await session.get(LedgerEntry, entry.id)
        assert moved is not None and moved.street_id == other.id


async def test_a_header_under_merged_cells_is_read(empty_db: Database) -> None:
    rows: list[list[Any]] = [
        ["单位信息", None, "所属街乡", "人数", None],
        ["单位名称", "统一社会信用代码", None, "个税人数", "社保人数"],
        ["北京甲公司", code(1), "拱辰街道", 120, 130],
    ]
    review = await review_of(empty_db, xlsx(rows, merge=["A1:B1", "C1:C2", "D1:E1"]))
    assert review.problems == []
    assert (
        review.units[0].street_id is not None and review.units[0].social_security_headcount == 130
    )


async def test_social_security_headcounts_and_codes_the_tax_list_lacks(empty_db: Database) -> None:
    await imported(empty_db, await review_of(empty_db, xlsx(tax_list())))
    social = [
        ["参保单位名称", "统一社会信用代码", "参保人数"],
        ["北京甲公司", code(1), 140],
        ["北京社保独有公司", code(50), 230],
        ["北京甲公司", code(1), 141],  # repeated
        ["坏数", code(51), -3],
    ]
    review = await review_of(empty_db, xlsx(social))
    assert review.kind is ImportKind.SOCIAL
    assert {(p.row, p.issue) for p in review.problems} == {
        (4, Issue.CODE_REPEATED), (5, Issue.COUNT_INVALID),
    }  # fmt: skip
    result = await imported(empty_db, review)
    assert (result.updated, result.sources) == (1, 1)
    assert {u[0]: u[4] for u in await units(empty_db)}[code(1)] == 140
    async with empty_db.session() as session:
        orphan = (await session.exec(select(SourceUnit))).one()
    assert (orphan.source, orphan.credit_code, orphan.headcount) == ("social", code(50), 230)
    again = await imported(empty_db, await review_of(empty_db, xlsx(social)))
    assert (again.updated, again.sources, again.unchanged) == (0, 0, 2)


async def test_member_system_records_count_members_and_complete_certified_units(
    demo_db: Database,
) -> None:
    async with demo_db.session() as session:
        entry = (
            await session.exec(
                select(LedgerEntry).where(col(LedgerEntry.outcome) == LedgerOutcome.OPEN)
            )
        ).first()
        assert entry is not None
        unit = await session.get(Unit, entry.unit_id)
        assert unit is not None and not unit.member_system_collected
        unit.legal_person_certified = True  # certified already: the member system completes it
        session.add(unit)
        await session.commit()
    head = ["姓名", "身份证号", "工作单位", "单位统一社会信用代码", "入会时间"]
    records: list[list[Any]] = [head]
    records += [[f"会员{i}", f"11010119900101{i:03d}X", unit.name, unit.credit_code, 43160]
                for i in range(30)]  # fmt: skip
    records += [["独有", "110101199001019999", "系统独有公司", code(77), "2018-03-01"]]
    records += [["重复", "11010119900101001X", unit.name, unit.credit_code, "2018年3月1日"]]
    records += [["未来", "110101199001018888", unit.name, unit.credit_code, "2030-01-01"]]
    review = await review_of(demo_db, xlsx(records))
    assert review.kind is ImportKind.MEMBER_SYSTEM
    assert {(p.row, p.issue, p.first_row) for p in review.problems} == {
        (33, Issue.PERSON_REPEATED, 3), (34, Issue.DATE_FUTURE, None),
    }  # fmt: skip
    result = await imported(demo_db, review)
    assert (result.updated, result.sources, result.completed) == (1, 1, 1)
    async with demo_db.session() as session:
        done = await session.get(Unit, unit.id)
        closed = await session.get(LedgerEntry, entry.id)
        orphan = (await session.exec(select(SourceUnit))).one()
    assert done is not None and done.member_count == 30 and done.member_system_collected
    assert done.unionised_on == TODAY
    assert closed is not None and closed.outcome is LedgerOutcome.WRITTEN_OFF
    assert (orphan.source, orphan.headcount) == ("member_system", 1)
    again = await imported(demo_db, await review_of(demo_db, xlsx(records)))
    assert (again.updated, again.sources, again.completed) == (0, 0, 0)


async def test_files_that_are_no_list_are_refused() -> None:
    with pytest.raises(FileRefused) as refused:
        read_sheet(xlsx([["名称", "备注"], ["甲", "乙"]]), "x.xlsx")
    assert refused.value.problem is FileProblem.NO_COLUMNS
    with pytest.raises(FileRefused) as refused:
        read_sheet(xlsx([HEAD]), "x.xlsx")
    assert refused.value.problem is FileProblem.EMPTY
    big = "单位名称,统一社会信用代码,所属街乡,个税人数\n" + f"甲,{code(1)},拱辰街道,100\n" * 200_000
    with pytest.raises(FileRefused) as refused:
        read_sheet(big.encode("gbk"), "big.csv")
    assert refused.value.problem is FileProblem.TOO_MANY_ROWS


async def test_a_gbk_csv_reads_like_the_workbook(empty_db: Database) -> None:
    text = f"单位名称,统一社会信用代码,所属街乡,个税人数\n北京甲公司,{code(1)},拱辰街道,120\n"
    review = await review_of(empty_db, text.encode("gbk"), "list.csv")
    assert review.problems == [] and review.units[0].name == "北京甲公司"
    assert await count(empty_db, DataImport) == 0


async def test_an_import_cut_short_writes_nothing(demo_db: Database) -> None:
    rows: list[list[Any]] = [HEAD]
    rows += [[i, f"新单位{i}", code(5000 + i), "拱辰街道", 120, 100, ""] for i in range(1_200)]
    review = await review_of(demo_db, xlsx(rows))
    before, audits = await units(demo_db), await count(demo_db, AuditEntry)

    def crash(done: int, total: int | None) -> None:
        if done >= 500:  # the first chunk is in; the process dies here
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        async with demo_db.session(write=True) as session:
            await apply_import(session=session, review=review, by_user_id=1, now=NOW,
                               today=TODAY, file_name="x.xlsx", progress=crash)  # fmt: skip
    assert await units(demo_db) == before
    assert await count(demo_db, AuditEntry) == audits
    assert await count(demo_db, DataImport) == 0
