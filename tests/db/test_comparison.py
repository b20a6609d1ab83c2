"""The three-way comparison (三方比对) on known figures: each blind spot holds exactly the units
that belong in it, counted per street and for the district, paged largest first, and laid out
as one sheet per blind spot; the low-membership ratio comes from the plan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import Database
from bot.settings import PROJECT_ROOT
from models.comparison import (
    BlindSpot,
    compare,
    comparison_sheets,
    last_imports,
    source_card,
    spot_lines,
    spot_page,
)
from models.enums import LedgerOutcome, UnitStatus
from models.geography import street_ids, sync_geography
from models.plan import Comparison, PlanError, load_plan
from models.tables import DataImport, LedgerEntry, SourceUnit, Unit
from models.tabular import Label
from models.units import PAGE_SIZE

PLAN_FILE = PROJECT_ROOT / "plans" / "fangshan-2018.toml"
PLAN = load_plan(PLAN_FILE)
STREET, OTHER = "拱辰街道", "良乡镇"
TAX_LIST_AT = datetime(2018, 3, 10, 1, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Fixture:
    """A unit with known figures: (name, tax, social, members, collected+certified)."""

    name: str
    tax: int
    social: int | None
    members: int = 0
    unionised: bool = False
    collected: bool = False
    status: UnitStatus = UnitStatus.ACTIVE
    street: str = STREET


UNITS = [
    Fixture("甲·社保恰好百人", tax=80, social=100),  # ≥100 by social security only
    Fixture("乙·九十九人", tax=99, social=99),  # one short of the line on both
    Fixture("丙·会员四成", tax=150, social=140, members=60, unionised=True),  # 60/150 = 40%
    Fixture("丁·会员六成", tax=150, social=160, members=96, unionised=True),  # 96/160 = 60%
    Fixture("戊·会员恰好一半", tax=150, social=150, members=75, unionised=True),  # 50%: not below
    Fixture("己·小单位", tax=10, social=10, members=2, unionised=True),  # below the minimum
    Fixture("庚·无社保", tax=30, social=None),
    Fixture("辛·已迁出", tax=500, social=None, status=UnitStatus.MOVED_OUT),
    Fixture("壬·采集无会员", tax=40, social=38, collected=True),
    Fixture("癸·大单位", tax=1200, social=1180, street=OTHER),  # another street
]


def code(n: int) -> str:
    return f"9111011100000{n:04d}X"


async def add_units(session: AsyncSession, units: list[Fixture] = UNITS) -> dict[str, int]:
    """The fixture units, by name → id; with two social-security and one member-system rows
    the unit table lacks, one social-security row it has, and the imports they came from."""
    streets = await street_ids(session=session)
    ids = {}
    for n, f in enumerate(units):
        unit = Unit(
            name=f.name, credit_code=code(n), street_id=streets[f.street], tax_headcount=f.tax,
            social_security_headcount=f.social, member_count=f.members, status=f.status,
            member_system_collected=f.unionised or f.collected, legal_person_certified=f.unionised,
        )  # fmt: skip
        session.add(unit)
        await session.flush()
        assert unit.id is not None
        ids[f.name] = unit.id
    social = DataImport(kind="social", file_name="社保.xlsx", at=datetime(2018, 3, 12, tzinfo=UTC))
    members = DataImport(kind="member_system", file_name="会员系统.csv", at=TAX_LIST_AT)
    older = DataImport(kind="units", file_name="旧.xlsx", at=datetime(2018, 1, 2, tzinfo=UTC))
    latest = DataImport(kind="units", file_name="明细表.xlsx", at=TAX_LIST_AT)
    session.add_all([social, members, older, latest])
    await session.flush()
    assert social.id is not None and members.id is not None
    session.add_all([
        SourceUnit(source="social", credit_code=code(100), name="子·只在社保",
                   street_id=streets[STREET], headcount=230, import_id=social.id),
        SourceUnit(source="social", credit_code=code(101), name="丑·只在社保无街乡",
                   street_id=None, headcount=15, import_id=social.id),
        # The unit table has this code (乙): not a blind spot.
        SourceUnit(source="social", credit_code=code(1), name="乙·九十九人",
                   street_id=streets[STREET], headcount=99, import_id=social.id),
        SourceUnit(source="member_system", credit_code=code(102), name="寅·只在会员系统",
                   street_id=streets[OTHER], headcount=12, import_id=members.id),
    ])  # fmt: skip
    return ids


@pytest.fixture
async def db(migrated_db: Database) -> Database:
    """A district with its streets and only the fixture units."""
    async with migrated_db.session(write=True) as session:
        await sync_geography(session=session, plan=PLAN)
        await add_units(session)
    return migrated_db


async def names(db: Database, spot: BlindSpot, street: str | None = None, **kw: Any) -> list[str]:
    async with db.session() as session:
        street_id = None if street is None else (await street_ids(session=session))[street]
        lines = await spot_lines(session=session, plan=kw.pop("plan", PLAN), spot=spot,
                                 street_id=street_id, **kw)  # fmt: skip
    return [line.name for line in lines]


async def test_each_blind_spot_holds_exactly_its_units(db: Database) -> None:
    assert await names(db, BlindSpot.UNORGANISED_100) == ["癸·大单位", "甲·社保恰好百人"]
    assert await names(db, BlindSpot.LOW_MEMBERSHIP) == ["丙·会员四成"]
    assert await names(db, BlindSpot.TAX_ONLY) == ["庚·无社保"]  # the moved-out unit is not
    assert await names(db, BlindSpot.SOCIAL_ONLY) == ["子·只在社保", "丑·只在社保无街乡"]
    assert await names(db, BlindSpot.MEMBER_SYSTEM_ONLY) == ["寅·只在会员系统"]
    assert await names(db, BlindSpot.NOT_IN_MEMBER_SYSTEM) == ["壬·采集无会员"]
    # One street's: 癸 and 寅 belong to the other street; 丑 names no street.
    assert await names(db, BlindSpot.UNORGANISED_100, STREET) == ["甲·社保恰好百人"]
    assert await names(db, BlindSpot.SOCIAL_ONLY, STREET) == ["子·只在社保"]
    assert await names(db, BlindSpot.MEMBER_SYSTEM_ONLY, STREET) == []
    assert await names(db, BlindSpot.MEMBER_SYSTEM_ONLY, OTHER) == ["寅·只在会员系统"]


async def test_a_line_carries_the_figures_that_make_it_a_blind_spot(db: Database) -> None:
    async with db.session() as session:
        [hidden, big] = reversed(
            await spot_lines(session=session, plan=PLAN, spot=BlindSpot.UNORGANISED_100,
                             street_id=None)
        )  # fmt: skip
        [low] = await spot_lines(
            session=session, plan=PLAN, spot=BlindSpot.LOW_MEMBERSHIP, street_id=None
        )
        [orphan, _] = await spot_lines(
            session=session, plan=PLAN, spot=BlindSpot.SOCIAL_ONLY, street_id=None
        )
    assert (hidden.tax_headcount, hidden.social_headcount, hidden.headcount) == (80, 100, 100)
    assert hidden.hidden_by_tax(PLAN) and not big.hidden_by_tax(PLAN)
    assert (low.member_count, low.headcount, low.membership) == (60, 150, Decimal("0.4"))
    assert (orphan.social_headcount, orphan.street_name, orphan.unit_id) == (230, STREET, None)
    assert orphan.source_unit_id is not None


async def test_counts_per_street_add_up_to_the_district(db: Database) -> None:
    async with db.session() as session:
        district = await compare(session=session, plan=PLAN, street_id=None)
        street_id = (await street_ids(session=session))[STREET]
        street = await compare(session=session, plan=PLAN, street_id=street_id)
    expected = {
        BlindSpot.UNORGANISED_100: 2, BlindSpot.LOW_MEMBERSHIP: 1, BlindSpot.TAX_ONLY: 1,
        BlindSpot.SOCIAL_ONLY: 2, BlindSpot.MEMBER_SYSTEM_ONLY: 1,
        BlindSpot.NOT_IN_MEMBER_SYSTEM: 1,
    }  # fmt: skip
    assert district.total.counts == expected
    assert district.total.hidden_by_tax == 1
    rows = {name: counts.counts for _, name, counts in district.by_street if counts.any}
    assert rows == {
        STREET: {**expected, BlindSpot.UNORGANISED_100: 1, BlindSpot.SOCIAL_ONLY: 1,
                 BlindSpot.MEMBER_SYSTEM_ONLY: 0},
        OTHER: {**dict.fromkeys(BlindSpot, 0), BlindSpot.UNORGANISED_100: 1,
                BlindSpot.MEMBER_SYSTEM_ONLY: 1},
        None: {**dict.fromkeys(BlindSpot, 0), BlindSpot.SOCIAL_ONLY: 1},
    }  # fmt: skip
    assert len(district.by_street) == 28 + 1  # every street, then the rows with none
    assert street.total.counts == rows[STREET] and street.by_street == []
    assert street.total.hidden_by_tax == 1


async def test_the_latest_import_of_each_source_is_known(db: Database, tmp_path: Path) -> None:
    async with db.session() as session:
        imports = await last_imports(session=session)
    assert imports == {
        "units": TAX_LIST_AT,
        "social": datetime(2018, 3, 12, tzinfo=UTC),
        "member_system": TAX_LIST_AT,
    }
    empty = Database(f"sqlite+aiosqlite:///{tmp_path}/empty.db")
    await empty.upgrade()
    async with empty.session() as session:
        assert await last_imports(session=session) == dict.fromkeys(
            ["units", "social", "member_system"]
        )
    await empty.dispose()


async def test_a_source_card_names_the_file_it_came_from(db: Database) -> None:
    async with db.session() as session:
        [line, _] = await spot_lines(
            session=session, plan=PLAN, spot=BlindSpot.SOCIAL_ONLY, street_id=None
        )
        assert line.source_unit_id is not None
        card = await source_card(session=session, source_unit_id=line.source_unit_id)
        assert await source_card(session=session, source_unit_id=999_999) is None
    assert card is not None
    assert (card.name, card.source, card.headcount, card.street_name) == (
        "子·只在社保", "social", 230, STREET,
    )  # fmt: skip
    assert (card.file_name, card.imported_at) == ("社保.xlsx", datetime(2018, 3, 12, tzinfo=UTC))


async def test_a_unit_the_tax_list_takes_in_later_is_no_longer_a_blind_spot(db: Database) -> None:
    async with db.session(write=True) as session:
        session.add(Unit(name="子·只在社保", credit_code=code(100), street_id=1, tax_headcount=200,
                         social_security_headcount=230))  # fmt: skip
    assert await names(db, BlindSpot.SOCIAL_ONLY) == ["丑·只在社保无街乡"]


async def test_pages_hold_eight_lines_largest_first(db: Database) -> None:
    async with db.session(write=True) as session:
        social = await session.exec(select(DataImport.id).where(DataImport.kind == "social"))
        import_id = social.one()
        assert import_id is not None
        session.add_all(
            SourceUnit(source="social", credit_code=code(200 + n), name=f"社保单位{n:02d}",
                       street_id=None, headcount=n, import_id=import_id)
            for n in range(16, 36)
        )  # fmt: skip
    async with db.session() as session:
        pages = [
            await spot_page(session=session, plan=PLAN, spot=BlindSpot.SOCIAL_ONLY,
                            street_id=None, page=n)
            for n in (0, 1, 2, 9)
        ]  # fmt: skip
    assert [p.total for p in pages] == [22] * 4 and pages[0].pages == 3
    assert [len(p.lines) for p in pages[:3]] == [PAGE_SIZE, PAGE_SIZE, 6]
    heads = [line.headcount for p in pages[:3] for line in p.lines]
    assert heads == sorted(heads, reverse=True) and heads[0] == 230 and heads[-1] == 15
    assert pages[3].page == 2 and pages[3].lines == pages[2].lines  # past the end: the last


async def test_the_ratio_comes_from_the_plan(db: Database) -> None:
    stricter = PLAN.model_copy(
        update={"comparison": Comparison(low_membership_ratio=Decimal("0.7"))}
    )
    # 60% and exactly 50% are now below the line too; the unit of 10 is still too small.
    assert await names(db, BlindSpot.LOW_MEMBERSHIP, plan=stricter) == [
        "丁·会员六成", "丙·会员四成", "戊·会员恰好一半",
    ]  # fmt: skip
    smaller = PLAN.model_copy(update={"comparison": Comparison(low_membership_min_headcount=10)})
    assert await names(db, BlindSpot.LOW_MEMBERSHIP, plan=smaller) == ["丙·会员四成", "己·小单位"]


async def test_one_sheet_per_blind_spot_with_its_rows(db: Database) -> None:
    async with db.session() as session:
        sheets = await comparison_sheets(session=session, plan=PLAN, street_id=None)
    assert [s.title for s in sheets] == [f"compare.sheet.{spot.value}" for spot in BlindSpot]
    by_spot = {spot: list(s.rows) for spot, s in zip(BlindSpot, sheets, strict=True)}
    for sheet in sheets:
        assert sheet.total == len(list(sheet.rows))
        assert all(len(row) == len(sheet.columns) for row in sheet.rows)
    assert by_spot[BlindSpot.UNORGANISED_100] == [
        ("癸·大单位", code(9), OTHER, 1200, 1180, 0, False, False, False),
        ("甲·社保恰好百人", code(0), STREET, 80, 100, 0, False, False, True),
    ]
    assert by_spot[BlindSpot.LOW_MEMBERSHIP] == [
        ("丙·会员四成", code(2), STREET, 150, 140, 60, 0.4)
    ]
    assert by_spot[BlindSpot.TAX_ONLY] == [("庚·无社保", code(6), STREET, 30, 0, False)]
    assert by_spot[BlindSpot.SOCIAL_ONLY] == [
        ("子·只在社保", code(100), STREET, 230),
        ("丑·只在社保无街乡", code(101), Label("compare.street_unknown"), 15),
    ]
    assert by_spot[BlindSpot.MEMBER_SYSTEM_ONLY] == [("寅·只在会员系统", code(102), OTHER, 12)]
    assert by_spot[BlindSpot.NOT_IN_MEMBER_SYSTEM] == [
        ("壬·采集无会员", code(8), STREET, 40, 38, 0)
    ]


# --- on the demo district --------------------------------------------------------------------


@pytest.fixture
def demo(demo_db: Database) -> Database:
    return demo_db


async def test_the_demo_district_s_blind_spots(demo: Database) -> None:
    """At the baseline the ≥100 units not unionised are the 204 the ledger holds (the demo's
    social-security headcounts put none over the line that the tax list leaves under it), and
    the units without a social-security record are those the demo left unmatched."""
    async with demo.session() as session:
        comparison = await compare(session=session, plan=PLAN, street_id=None)
        on_ledger = (
            await session.exec(
                select(func.count()).where(LedgerEntry.outcome == LedgerOutcome.OPEN)
            )
        ).one()
        unmatched = (
            await session.exec(
                select(func.count()).where(col(Unit.social_security_headcount).is_(None))
            )
        ).one()
    total = comparison.total
    assert total[BlindSpot.UNORGANISED_100] == on_ledger == 204
    assert total[BlindSpot.TAX_ONLY] == unmatched > 0
    assert total[BlindSpot.SOCIAL_ONLY] == total[BlindSpot.MEMBER_SYSTEM_ONLY] == 0
    assert comparison.imports == dict.fromkeys(["units", "social", "member_system"])
    assert sum(c[BlindSpot.UNORGANISED_100] for _, _, c in comparison.by_street) == 204


async def test_fixture_units_in_the_demo_district_add_exactly_their_share(demo: Database) -> None:
    async with demo.session() as session:
        before = await compare(session=session, plan=PLAN, street_id=None)
    async with demo.session(write=True) as session:
        await add_units(session)
    async with demo.session() as session:
        after = await compare(session=session, plan=PLAN, street_id=None)
    added = {spot: after.total[spot] - before.total[spot] for spot in BlindSpot}
    assert added == {
        BlindSpot.UNORGANISED_100: 2, BlindSpot.LOW_MEMBERSHIP: 1, BlindSpot.TAX_ONLY: 1,
        BlindSpot.SOCIAL_ONLY: 2, BlindSpot.MEMBER_SYSTEM_ONLY: 1,
        BlindSpot.NOT_IN_MEMBER_SYSTEM: 1,
    }  # fmt: skip
    assert after.total.hidden_by_tax - before.total.hidden_by_tax == 1


# --- the plan's [comparison] -----------------------------------------------------------------


def test_the_plan_sets_the_low_membership_ratio() -> None:
    assert PLAN.comparison == Comparison(
        low_membership_ratio=Decimal("0.5"), low_membership_min_headcount=20
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [("0", "greater than 0"), ("1.5", "less than or equal to 1"), ('"half"', "decimal")],
)
def test_a_ratio_outside_0_to_1_is_refused_with_its_line(
    tmp_path: Path, value: str, reason: str
) -> None:
    text = PLAN_FILE.read_text(encoding="utf-8")
    path = tmp_path / "plan.toml"
    path.write_text(text.replace("low_membership_ratio = 0.5", f"low_membership_ratio = {value}"))
    line = next(
        n for n, row in enumerate(path.read_text().splitlines(), 1)
        if row.startswith("low_membership_ratio")
    )  # fmt: skip
    with pytest.raises(PlanError) as refused:
        load_plan(path)
    assert str(refused.value).startswith(f"{path}:{line}:")
    assert reason in str(refused.value)


def test_an_older_plan_without_the_section_loads_with_the_defaults(tmp_path: Path) -> None:
    text = PLAN_FILE.read_text(encoding="utf-8")
    start = text.index("[comparison]")
    end = text.index("\n\n", start)
    path = tmp_path / "plan.toml"
    path.write_text(text[:start] + text[end + 2 :], encoding="utf-8")
    assert "[comparison]" not in path.read_text()
    assert load_plan(path).comparison == Comparison()
    assert Comparison().low_membership_ratio == Decimal("0.5")
