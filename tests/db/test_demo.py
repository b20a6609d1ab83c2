"""The demo dataset reproduces the plan's baseline exactly, on a real migrated database."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import and_, or_
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import Database
from bot.settings import PROJECT_ROOT
from models.credit_code import (
    credit_code_check_char,
    is_valid_credit_code,
    organisation_code_check_char,
)
from models.demo import DemoAlreadySeeded, seed_demo
from models.enums import LedgerOutcome, LedgerStage, Ownership, UnitStatus
from models.geography import street_ids, sync_geography
from models.plan import load_plan
from models.progress import remaining_for, street_allocation, unit_counts
from models.rules import allocate
from models.tables import LedgerEntry, LedgerStageChange, Street, StreetTarget, Unit, Zone

PLAN = load_plan(PROJECT_ROOT / "plans" / "fangshan-2018.toml")
AS_OF = PLAN.baseline.as_of
FLOOR = PLAN.targets.unionise_100_plus.min_headcount

UNIONISED = and_(col(Unit.member_system_collected), col(Unit.legal_person_certified))
NOT_UNIONISED = or_(~col(Unit.member_system_collected), ~col(Unit.legal_person_certified))
LARGE = col(Unit.tax_headcount) >= FLOOR

BUSY_STREETS = ["良乡镇", "长阳镇", "拱辰街道", "阎村镇", "窦店镇", "城关街道", "琉璃河镇"]
MOUNTAIN_TOWNSHIPS = ["霞云岭乡", "南窖乡", "佛子庄乡", "大安山乡", "史家营乡", "蒲洼乡"]

# The seeded database lives on the module's event loop; so must the tests that use it. (Not
# a module-wide pytestmark: the plain credit-code tests below are not coroutines.)
in_module_loop = pytest.mark.asyncio(loop_scope="module")


async def _fresh_db(path: Path) -> Database:
    db = Database(f"sqlite+aiosqlite:///{path}/demo.db")
    await db.upgrade()
    return db


async def _seed(db: Database) -> None:
    async with db.session(write=True) as session:
        await seed_demo(session=session, plan=PLAN)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def db(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    """Seeded once for the module. Geography is synced beforehand, as the bot's start-up
    does; the determinism test seeds a database without it."""
    database = await _fresh_db(tmp_path_factory.mktemp("seeded"))
    async with database.session(write=True) as session:
        await sync_geography(session=session, plan=PLAN)
    await _seed(database)
    yield database
    await database.dispose()


@pytest_asyncio.fixture(loop_scope="module")
async def session(db: Database) -> AsyncIterator[AsyncSession]:
    async with db.session() as session:
        yield session


async def count_units(session: AsyncSession, *where: Any) -> int:
    return (await session.exec(select(func.count()).select_from(Unit).where(*where))).one()


async def sum_units(session: AsyncSession, column: Any, *where: Any) -> int:
    return (await session.exec(select(func.sum(column)).where(*where))).one()


async def fingerprint(db: Database) -> str:
    """A hash of every unit's identity, place and figures, in id order."""
    digest = hashlib.sha256()
    async with db.session() as session:
        identity = await session.exec(
            select(Unit.name, Unit.credit_code, Unit.tax_headcount, Unit.member_count).order_by(
                col(Unit.id)
            )
        )
        place = await session.exec(
            select(
                Street.name,
                col(Unit.zone_id),
                col(Unit.social_security_headcount),
                col(Unit.unionised_on),
            )
            .join(Street, col(Street.id) == col(Unit.street_id))
            .order_by(col(Unit.id))
        )
        for row in [*identity.all(), *place.all()]:
            digest.update("|".join(map(str, row)).encode() + b"\n")
    return digest.hexdigest()


# --- geography ------------------------------------------------------------------------


@in_module_loop
async def test_streets_and_zones_come_from_the_plan(session: AsyncSession) -> None:
    streets = (await session.exec(select(Street.name).order_by(col(Street.position)))).all()
    zones = (await session.exec(select(Zone.name))).all()
    assert streets == [s.name for s in PLAN.streets]
    assert len(streets) == 28
    assert sorted(zones) == sorted(z.name for z in PLAN.zones)
    assert len(zones) == 3


# --- the baseline figures -------------------------------------------------------------


@in_module_loop
async def test_target_units_and_unionised_units(session: AsyncSession) -> None:
    assert await count_units(session) == 15_099
    assert await count_units(session, col(Unit.status) == UnitStatus.ACTIVE) == 15_099
    assert await count_units(session, UNIONISED) == 2_428


@in_module_loop
async def test_unionised_units_have_a_union_date_by_the_baseline(session: AsyncSession) -> None:
    dated = and_(col(Unit.unionised_on).is_not(None), col(Unit.unionised_on) <= AS_OF)
    assert await count_units(session, UNIONISED, dated) == 2_428
    assert await count_units(session, NOT_UNIONISED, col(Unit.unionised_on).is_not(None)) == 0


@in_module_loop
async def test_workers_and_members(session: AsyncSession) -> None:
    assert await sum_units(session, Unit.tax_headcount) == 259_051
    assert await sum_units(session, Unit.member_count) == 101_240


@in_module_loop
async def test_members_only_in_unionised_units_and_never_above_headcount(
    session: AsyncSession,
) -> None:
    assert await count_units(session, col(Unit.member_count) > col(Unit.tax_headcount)) == 0
    assert await count_units(session, NOT_UNIONISED, col(Unit.member_count) != 0) == 0
    assert await count_units(session, UNIONISED, col(Unit.member_count) < 1) == 0


@in_module_loop
async def test_units_of_100_and_more(session: AsyncSession) -> None:
    assert await count_units(session, LARGE) == 390
    assert await count_units(session, LARGE, UNIONISED) == 186


@in_module_loop
async def test_detail_table_by_band(session: AsyncSession) -> None:
    on_table = col(Unit.on_detail_table)
    assert await count_units(session, on_table) == 198
    assert await count_units(session, on_table, LARGE, NOT_UNIONISED) == 198
    assert await count_units(session, on_table, col(Unit.dues_paid_uncollected)) == 0
    by_band = {}
    for band in PLAN.size_bands:
        within = [col(Unit.tax_headcount) >= band.min]
        if band.max is not None:
            within.append(col(Unit.tax_headcount) <= band.max)
        by_band[band.key] = await count_units(session, on_table, *within)
    assert by_band == {"100-499": 170, "500-999": 18, "1000+": 10}


@in_module_loop
async def test_detail_table_shows_the_band_and_tier_boundaries(session: AsyncSession) -> None:
    """100 is the ≥100 line, 500 opens the 500–999 band yet is the street's alone,
    501 is district + street, above 5,000 the city joins."""
    headcounts = set(
        (await session.exec(select(Unit.tax_headcount).where(col(Unit.on_detail_table)))).all()
    )
    assert {100, 500, 501} <= headcounts
    assert max(headcounts) >= 5_001


@in_module_loop
async def test_dues_paid_but_uncollected(session: AsyncSession) -> None:
    dues = col(Unit.dues_paid_uncollected)
    assert await count_units(session, dues) == 11
    assert await count_units(session, dues, LARGE) == 6
    assert await count_units(session, dues, NOT_UNIONISED, ~col(Unit.on_detail_table)) == 11
    assert await count_units(session, dues, col(Unit.member_system_collected)) == 0


@in_module_loop
async def test_large_units_add_up_as_the_domain_note_says(session: AsyncSession) -> None:
    """390 = 186 unionised + 198 on the detail table + 6 dues-paying."""
    on_table_or_dues = or_(col(Unit.on_detail_table), col(Unit.dues_paid_uncollected))
    assert await count_units(session, LARGE, NOT_UNIONISED) == 204
    assert await count_units(session, LARGE, NOT_UNIONISED, ~on_table_or_dues) == 0


# --- the ledger and the street targets ------------------------------------------------


@in_module_loop
async def test_every_unorganised_large_unit_is_on_the_ledger(session: AsyncSession) -> None:
    rows = (
        await session.exec(
            select(LedgerEntry, Unit).join(Unit, col(Unit.id) == col(LedgerEntry.unit_id))
        )
    ).all()
    assert len(rows) == 204
    for entry, unit in rows:
        assert unit.tax_headcount >= FLOOR
        assert not (unit.member_system_collected and unit.legal_person_certified)
        assert entry.street_id == unit.street_id
        assert entry.stage is LedgerStage.SURVEYED
        assert entry.outcome is LedgerOutcome.OPEN
        assert entry.opened_on == AS_OF
        assert entry.closed_on is None


@in_module_loop
async def test_each_ledger_entry_starts_its_history_at_the_baseline(
    session: AsyncSession,
) -> None:
    changes = (await session.exec(select(LedgerStageChange))).all()
    assert len(changes) == 204
    assert len({c.entry_id for c in changes}) == 204
    baseline = datetime(2018, 2, 28, tzinfo=PLAN.zone)
    for change in changes:
        assert change.from_stage is None
        assert change.to_stage is LedgerStage.SURVEYED
        assert change.at == baseline
        assert change.at.tzinfo is not None
        assert change.by_user_id is None
        assert change.note


@in_module_loop
async def test_street_targets_split_the_district_count_by_ledger_units(
    session: AsyncSession,
) -> None:
    streets = [
        street_id
        for street_id in (await session.exec(select(Street.id).order_by(col(Street.position))))
        if street_id is not None
    ]
    ledger = Counter((await session.exec(select(LedgerEntry.street_id))).all())
    targets = dict(
        (
            await session.exec(
                select(StreetTarget.street_id, StreetTarget.new_units).where(
                    StreetTarget.plan_key == PLAN.plan.key
                )
            )
        ).all()
    )
    assert sum(targets.values()) == PLAN.targets.unionise_100_plus.min_new_units == 91
    assert targets == allocate(91, {street_id: ledger[street_id] for street_id in streets})


# --- plausibility ---------------------------------------------------------------------


async def large_units_by_street(session: AsyncSession) -> dict[str, int]:
    rows = await session.exec(
        select(Street.name, func.count(col(Unit.id)))
        .join(Unit, col(Unit.street_id) == col(Street.id))
        .where(LARGE)
        .group_by(col(Street.name))
    )
    return dict(rows.all())


@in_module_loop
async def test_large_units_gather_in_the_plains_not_the_mountains(
    session: AsyncSession,
) -> None:
    by_street = await large_units_by_street(session)
    busy = [by_street.get(name, 0) for name in BUSY_STREETS]
    mountain = [by_street.get(name, 0) for name in MOUNTAIN_TOWNSHIPS]
    assert min(busy) > max(mountain)


@in_module_loop
async def test_a_quarter_of_large_units_are_in_key_zones(session: AsyncSession) -> None:
    zoned = await count_units(session, LARGE, col(Unit.zone_id).is_not(None))
    assert 0.20 <= zoned / 390 <= 0.30
    in_mountains = await session.exec(
        select(func.count())
        .select_from(Unit)
        .join(Street, col(Street.id) == col(Unit.street_id))
        .where(col(Unit.zone_id).is_not(None), col(Street.name).in_(MOUNTAIN_TOWNSHIPS))
    )
    assert in_mountains.one() == 0


@in_module_loop
async def test_mostly_non_public_ownership(session: AsyncSession) -> None:
    rows = await session.exec(select(Unit.ownership, func.count()).group_by(col(Unit.ownership)))
    by_ownership = dict(rows.all())
    assert by_ownership[Ownership.NON_PUBLIC] > 0.8 * 15_099
    assert {Ownership.STATE, Ownership.COLLECTIVE, Ownership.PUBLIC_INSTITUTION} <= set(
        by_ownership
    )


@in_module_loop
async def test_social_security_headcount_is_near_the_tax_headcount(
    session: AsyncSession,
) -> None:
    rows = (await session.exec(select(Unit.tax_headcount, Unit.social_security_headcount))).all()
    known = [(tax, social) for tax, social in rows if social is not None]
    assert 0 < len(rows) - len(known) < 0.15 * len(rows)
    assert all(abs(social - tax) <= 0.15 * tax + 1 for tax, social in known)
    assert any(social != tax for tax, social in known)


@in_module_loop
async def test_names_and_credit_codes_are_unique_and_codes_valid(session: AsyncSession) -> None:
    rows = (await session.exec(select(Unit.name, Unit.credit_code))).all()
    names = [name for name, _ in rows]
    codes = [code for _, code in rows]
    assert len(set(names)) == len(names) == 15_099
    assert len(set(codes)) == len(codes)
    assert all(is_valid_credit_code(code) for code in codes)
    assert all(code[2:8] == "110111" for code in codes)  # 北京市房山区
    assert all(organisation_code_check_char(code[8:16]) == code[16] for code in codes)


# --- refusing twice, determinism ------------------------------------------------------


@in_module_loop
async def test_a_second_seed_refuses_and_changes_nothing(db: Database) -> None:
    before = await fingerprint(db)
    with pytest.raises(DemoAlreadySeeded, match="15099 units"):
        await _seed(db)
    async with db.session() as session:
        assert await count_units(session) == 15_099
        assert (await session.exec(select(func.count()).select_from(LedgerEntry))).one() == 204
    assert await fingerprint(db) == before


@in_module_loop
async def test_seeding_is_deterministic(db: Database, tmp_path: Path) -> None:
    other = await _fresh_db(tmp_path)  # geography not synced beforehand: seed_demo does it
    try:
        await _seed(other)
        assert await fingerprint(other) == await fingerprint(db)
    finally:
        await other.dispose()


# --- credit codes (GB 32100-2015) -----------------------------------------------------


def test_a_published_credit_code_is_valid() -> None:
    assert is_valid_credit_code("91350100M000100Y43")
    assert credit_code_check_char("91350100M000100Y4") == "3"


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y44",  # wrong check character
        "91350100M000100Y4",  # too short
        "91350100M000100Y433",  # too long
        "91350100M000I00Y43",  # I is not in the code's alphabet
        "91350100m000100Y43",  # lower case
        "",
    ],
)
def test_invalid_credit_codes(code: str) -> None:
    assert not is_valid_credit_code(code)


def test_check_char_wraps_31_to_0() -> None:
    # A body whose weighted sum is a multiple of 31 gets the check character "0".
    assert credit_code_check_char("0" * 17) == "0"
    assert is_valid_credit_code("0" * 18)


@pytest.mark.parametrize("body", ["9135010", "91350100M000100Y4Z", "91350100M00010OY4"])
def test_check_char_refuses_a_bad_body(body: str) -> None:
    with pytest.raises(ValueError, match="credit code"):
        credit_code_check_char(body)


@pytest.mark.parametrize(("body", "check"), [("M000100Y", "4"), ("D2143569", "X")])
def test_organisation_code_check_char(body: str, check: str) -> None:
    assert organisation_code_check_char(body) == check


# --- the same figures as the bot computes them ------------------------------------------


@in_module_loop
async def test_the_bots_own_figures_reproduce_the_plans_baseline(session: AsyncSession) -> None:
    counts = await unit_counts(session=session, plan=PLAN)
    base = PLAN.baseline
    assert (counts.units, counts.unionised, counts.workers, counts.members) == (
        base.target_units,
        base.unionised_units,
        base.workers,
        base.members,
    )
    assert (counts.unionised_rate, counts.member_coverage, counts.rate_100_plus) == (
        base.unionised_rate_percent,
        base.member_coverage_percent,
        base.units_100_plus_rate_percent,
    )
    assert (counts.units_100_plus, counts.unionised_100_plus) == (390, 186)
    assert counts.newly_unionised_100_plus == 0
    remaining = remaining_for(
        counts, PLAN, min_new_units=PLAN.targets.unionise_100_plus.min_new_units
    )
    assert (remaining.rate_rule, remaining.count_rule, remaining.overall) == (21, 91, 91)


@in_module_loop
async def test_each_streets_figures_add_up_to_the_district(session: AsyncSession) -> None:
    ids = await street_ids(session=session)
    per_street = [await unit_counts(session=session, plan=PLAN, street_id=i) for i in ids.values()]
    allocations = [
        await street_allocation(session=session, plan=PLAN, street_id=i) for i in ids.values()
    ]
    assert sum(c.units_100_plus for c in per_street) == 390
    assert sum(c.unionised_100_plus for c in per_street) == 186
    assert sum(allocations) == 91
    for counts, allocated in zip(per_street, allocations, strict=True):
        remaining = remaining_for(counts, PLAN, min_new_units=allocated)
        assert remaining.count_rule == allocated  # nothing newly unionised at the baseline
        assert remaining.overall >= remaining.rate_rule
