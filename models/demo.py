"""A demo dataset for the district that reproduces the plan's baseline figures exactly.

Officers try the bot on this data before the real unit lists are imported: 15,099 target
units, 2,428 unionised, 259,051 workers, 101,240 members, 390 units ≥100 of which 186
unionised, the 198 units of the detail table by band, and the 11 dues-paying units that the
member system has not collected. Every figure comes from the plan, not from this module.

The data is invented but plausible: names are built from small word lists, credit codes are
random yet carry valid check characters, and no real person appears (members are counts).
It is deterministic — one seeded generator, no clock — so two seeded databases are equal.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import insert
from sqlmodel import SQLModel, col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.audit import record
from models.credit_code import CHARSET, credit_code_check_char, organisation_code_check_char
from models.enums import LedgerOutcome, LedgerStage, Ownership, UnitStatus
from models.geography import street_ids, sync_geography, zone_ids
from models.plan import Plan, SizeBand
from models.rules import allocate, is_unionised
from models.tables import LedgerEntry, LedgerStageChange, StreetTarget, Unit

DEMO_SEED = 2018
FANGSHAN_REGION = "110111"  # 行政区划代码 of 北京市房山区, inside every local credit code

# Economic weight of each street: where the larger employers are. The plains towns and
# the new town (良乡, 长阳, 拱辰 …) carry most; the western mountain townships few.
_ECONOMIC_WEIGHT = {
    "良乡镇": 14, "长阳镇": 14, "拱辰街道": 11, "阎村镇": 10, "窦店镇": 10, "城关街道": 9,
    "琉璃河镇": 9, "西潞街道": 6, "迎风街道": 4, "星城街道": 4, "向阳街道": 4, "新镇街道": 3,
    "东风街道": 3, "周口店镇": 4, "石楼镇": 4, "青龙湖镇": 4, "韩村河镇": 4, "长沟镇": 3,
    "大石窝镇": 3, "河北镇": 3, "张坊镇": 2, "十渡镇": 2, "霞云岭乡": 1, "南窖乡": 1,
    "佛子庄乡": 1, "大安山乡": 1, "史家营乡": 1, "蒲洼乡": 1,
}  # fmt: skip
_DEFAULT_WEIGHT = 3  # a street another year's plan adds
_SMALL_UNIT_EXTRA_WEIGHT = 3  # shops, farms and workshops are everywhere: a flatter spread

# Which streets host each key zone. A plausible demo layout, not a survey of the parks.
_ZONE_HOSTS = {
    "中关村房山园": ("长阳镇", "阎村镇", "青龙湖镇", "拱辰街道"),
    "海聚基地": ("良乡镇", "拱辰街道", "长阳镇"),
    "良工工业基地": ("窦店镇", "琉璃河镇", "良乡镇"),
}
_ZONE_SHARE_LARGE = 0.45  # of ≥100 units in a host street: about a quarter district-wide
_ZONE_SHARE_SMALL = 0.05

_LARGEST_DRAWN = 4000  # random draws stay below this; the tier boundaries go beyond it

_OWNERSHIP_UNIONISED = {
    Ownership.NON_PUBLIC: 66,
    Ownership.STATE: 12,
    Ownership.PUBLIC_INSTITUTION: 12,
    Ownership.COLLECTIVE: 7,
    Ownership.SOCIAL_ORGANISATION: 3,
}
# The plan's work is mostly in the non-public sector: that is where unions are missing.
_OWNERSHIP_UNORGANISED = {
    Ownership.NON_PUBLIC: 90,
    Ownership.COLLECTIVE: 5,
    Ownership.SOCIAL_ORGANISATION: 3,
    Ownership.STATE: 2,
}

_BRAND_CHARS = "鑫源华泰宏盛博达恒通瑞丰金龙兴隆嘉禾佳怡康顺安和润德信诚远航天宇正新星明辉永昌汇聚腾飞亿晟祥福茂京燕峰岳林森海川"  # noqa: E501
_SMALL_TRADES = (
    "商贸", "餐饮管理", "建材", "装饰工程", "汽车维修", "物流", "科技", "文化传媒", "广告",
    "家政服务", "农业科技", "园林绿化", "电子商务", "印刷", "信息咨询", "百货", "食品",
    "五金机电", "运输", "教育咨询",
)  # fmt: skip
_LARGE_TRADES = (
    "建筑工程", "机械制造", "新材料", "医药", "食品", "物业管理", "汽车零部件", "电子",
    "环保科技", "物流", "建材", "商业管理", "酒店管理", "保安服务", "混凝土", "包装", "服装",
    "生物技术", "智能装备", "能源", "科技",
)  # fmt: skip
_FARM_TRADES = ("农业", "果品", "蔬菜", "养殖", "农机", "种植", "食用菌", "中药材")
_SCHOOLS = ("小学", "中学", "幼儿园")
_NON_PROFITS = ("养老服务中心", "职业技能培训学校", "社会工作服务中心", "文化艺术培训学校")


class DemoAlreadySeeded(Exception):
    """The database already holds units: seeding again would double every figure."""


class _Kind(StrEnum):
    UNIONISED = "unionised"  # meets the completion standard
    DETAIL = "detail"  # on the plan's ≥100 detail table (明细表)
    DUES = "dues"  # 税务代收但会员系统未采集
    OTHER = "other"  # un-unionised, below the ≥100 line


@dataclass
class _Draft:
    kind: _Kind
    tax_headcount: int
    street: str = ""
    zone: str | None = None
    ownership: Ownership = Ownership.NON_PUBLIC
    name: str = ""
    credit_code: str = ""
    social_security_headcount: int | None = None
    member_count: int = 0
    unionised_on: date | None = None


@dataclass(frozen=True)
class _Quotas:
    """How many units of each kind, above and below the ≥100 line, the baseline implies."""

    unionised_large: int
    unionised_small: int
    detail_by_band: list[tuple[SizeBand, int]]
    dues_large: int
    dues_small: int
    other_small: int


async def seed_demo(*, session: AsyncSession, plan: Plan) -> None:
    """Fill an empty database with the demo district, in the caller's transaction.

    Refuses (DemoAlreadySeeded) before writing anything if the database already holds units.
    """
    await _refuse_if_seeded(session, plan)
    await sync_geography(session=session, plan=plan)
    drafts = _draft_units(plan, random.Random(DEMO_SEED))
    streets = await street_ids(session=session)
    zones = await zone_ids(session=session)
    rows = [_unit_row(d, streets=streets, zones=zones) for d in drafts]
    await _insert_many(session, Unit, rows)
    ledger_counts = await _open_baseline_ledger(session, plan)
    await _allocate_street_targets(session, plan, streets, ledger_counts)
    # One audit row for the whole load: it is a change to business data like any other,
    # and the status figures' cache keys on the newest audit id.
    record(
        session=session,
        now=datetime.combine(plan.baseline.as_of, time(0), tzinfo=plan.zone),
        actor_user_id=None,
        action="demo.seed",
        entity="plan",
        entity_id=plan.plan.key,
        after={"units": len(rows)},
    )


async def _insert_many(
    session: AsyncSession, table: type[SQLModel], rows: list[dict[str, Any]]
) -> None:
    """One core executemany on the session's connection and transaction. The ORM's bulk path
    (session.exec(insert(...))) splits rows whose None values differ into thousands of
    statements: 15,099 units took seconds instead of a fraction of one."""
    connection = await session.connection()
    await connection.execute(insert(table), rows)


async def _refuse_if_seeded(session: AsyncSession, plan: Plan) -> None:
    units = (await session.exec(select(func.count()).select_from(Unit))).one()
    if units:
        raise DemoAlreadySeeded(
            f"the database already holds {units} units; the demo data goes only into an "
            "empty database, or every baseline figure would be doubled"
        )
    targets = await session.exec(
        select(func.count()).select_from(StreetTarget).where(StreetTarget.plan_key == plan.plan.key)
    )
    if targets.one():
        raise DemoAlreadySeeded(f"street targets for plan {plan.plan.key} are already set")


def _draft_units(plan: Plan, rng: random.Random) -> list[_Draft]:
    """Every demo unit, in a shuffled order so that ids do not group units by kind."""
    quotas = _quotas(plan)
    drafts = _large_units(plan, quotas, rng)
    large_workers = sum(d.tax_headcount for d in drafts)
    drafts += _small_units(plan, quotas, plan.baseline.workers - large_workers, rng)
    _fit_members(drafts, plan.baseline.members, rng)
    _place(drafts, plan, rng)
    _describe(drafts, plan, rng)
    rng.shuffle(drafts)
    return drafts


def _quotas(plan: Plan) -> _Quotas:
    """The unit counts, checked: the plan's figures need not add up, the demo's must."""
    b = plan.baseline
    by_band = [(band, b.detail_table_by_band.get(band.key, 0)) for band in plan.size_bands]
    if sum(n for _, n in by_band) != b.detail_table_units:
        raise ValueError("the detail table's bands do not add up to its unit count")
    # 390 ≥100 units = 186 unionised + 198 on the detail table + the dues-paying rest (6).
    dues_large = b.units_100_plus - b.units_100_plus_unionised - b.detail_table_units
    if not 0 <= dues_large <= b.dues_paid_uncollected_units:
        raise ValueError(f"the ≥100 figures leave {dues_large} dues-paying units ≥100")
    unionised_small = b.unionised_units - b.units_100_plus_unionised
    dues_small = b.dues_paid_uncollected_units - dues_large
    other_small = b.target_units - b.units_100_plus - unionised_small - dues_small
    if min(unionised_small, other_small) < 0:
        raise ValueError("the baseline has more unionised or ≥100 units than target units")
    return _Quotas(
        b.units_100_plus_unionised, unionised_small, by_band, dues_large, dues_small, other_small
    )


def _large_units(plan: Plan, quotas: _Quotas, rng: random.Random) -> list[_Draft]:
    floor = plan.targets.unionise_100_plus.min_headcount
    drafts = [_Draft(_Kind.DETAIL, h) for h in _detail_table_headcounts(plan, quotas, rng)]
    # Unionised big units are often state-owned or public and large: a long tail.
    drafts += [
        _Draft(_Kind.UNIONISED, _pareto(rng, floor, 1.3, 6000))
        for _ in range(quotas.unionised_large)
    ]
    drafts += [
        _Draft(_Kind.DUES, _log_uniform(rng, floor, 3 * floor)) for _ in range(quotas.dues_large)
    ]
    return drafts


def _detail_table_headcounts(plan: Plan, quotas: _Quotas, rng: random.Random) -> list[int]:
    edges = _boundary_headcounts(plan)
    headcounts: list[int] = []
    for band, count in quotas.detail_by_band:
        fixed = [h for h in edges if band.contains(h)][:count]
        top = band.max if band.max is not None else _LARGEST_DRAWN
        headcounts += fixed + [_log_uniform(rng, band.min, top) for _ in range(count - len(fixed))]
    return headcounts


def _boundary_headcounts(plan: Plan) -> list[int]:
    """Every band and tier edge at or above the ≥100 line (100, 500, 501, 1000, 5000, 5001),
    so the data shows that 500 is in the 500–999 band yet led by the street alone."""
    edges = {band.min for band in plan.size_bands}
    for tier in plan.responsibility_tiers:
        edges.add(tier.min)
        if tier.max is not None:
            edges.add(tier.max)
    floor = plan.targets.unionise_100_plus.min_headcount
    return sorted(h for h in edges if h >= floor)


def _small_units(plan: Plan, quotas: _Quotas, workers: int, rng: random.Random) -> list[_Draft]:
    """Units below the ≥100 line, their headcounts fitted to the workers left over."""
    top = plan.targets.unionise_100_plus.min_headcount - 1
    kinds = (
        [_Kind.UNIONISED] * quotas.unionised_small
        + [_Kind.DUES] * quotas.dues_small
        + [_Kind.OTHER] * quotas.other_small
    )
    sizes = [_small_size(kind, top, rng) for kind in kinds]
    # A union needs a few members to exist; every other unit employs at least one person.
    lows = [3 if kind is _Kind.UNIONISED else 1 for kind in kinds]
    headcounts = _fit_total(sizes, workers, lows, [top] * len(kinds), rng)
    return [_Draft(kind, h) for kind, h in zip(kinds, headcounts, strict=True)]


def _small_size(kind: _Kind, top: int, rng: random.Random) -> float:
    """A size before fitting: a real number, rounded only after scaling so that the scaling
    leaves no spikes at small headcounts. Most target units are micro firms of a handful of
    people; those with a union, or paying dues, are larger."""
    if kind is _Kind.OTHER:
        return rng.lognormvariate(0.7, 1.1)
    return math.exp(rng.uniform(2, math.log(top)))


def _fit_members(drafts: Sequence[_Draft], members: int, rng: random.Random) -> None:
    """Members only in unionised units, never more than the unit employs, summing exactly."""
    unionised = [d for d in drafts if d.kind is _Kind.UNIONISED]
    drawn = [d.tax_headcount * rng.uniform(0.55, 0.98) for d in unionised]
    highs = [d.tax_headcount for d in unionised]
    fitted = _fit_total(drawn, members, [1] * len(unionised), highs, rng)
    for draft, count in zip(unionised, fitted, strict=True):
        draft.member_count = count


def _fit_total(
    values: Sequence[float],
    total: int,
    lows: Sequence[int],
    highs: Sequence[int],
    rng: random.Random,
) -> list[int]:
    """Scale `values` to add up to `total` exactly, each within its [low, high].

    Scaling keeps the drawn shape; rounding and clamping leave a small difference that is
    then spread one by one over the values, in a random order so that no unit stands out.
    """
    if not sum(lows) <= total <= sum(highs):
        raise ValueError(f"{total} cannot be split over {len(values)} units within bounds")
    if not values:
        return []
    factor = total / sum(values)
    fitted = [
        min(hi, max(lo, round(v * factor))) for v, lo, hi in zip(values, lows, highs, strict=True)
    ]
    order = list(range(len(fitted)))
    rng.shuffle(order)
    while (gap := total - sum(fitted)) != 0:
        step = 1 if gap > 0 else -1
        movable = [i for i in order if lows[i] <= fitted[i] + step <= highs[i]]
        for i in movable[: abs(gap)]:
            fitted[i] += step
    return fitted


def _place(drafts: Sequence[_Draft], plan: Plan, rng: random.Random) -> None:
    """A street for every unit, weighted by where employers are; a key zone for some."""
    floor = plan.targets.unionise_100_plus.min_headcount
    names = [s.name for s in plan.streets]
    large_weights = [_ECONOMIC_WEIGHT.get(n, _DEFAULT_WEIGHT) for n in names]
    small_weights = [w + _SMALL_UNIT_EXTRA_WEIGHT for w in large_weights]
    hosted = _zones_by_street(plan)
    for draft in drafts:
        large = draft.tax_headcount >= floor
        weights = large_weights if large else small_weights
        draft.street = rng.choices(names, weights=weights)[0]
        share = _ZONE_SHARE_LARGE if large else _ZONE_SHARE_SMALL
        if hosted.get(draft.street) and rng.random() < share:
            draft.zone = rng.choice(hosted[draft.street])


def _zones_by_street(plan: Plan) -> dict[str, list[str]]:
    hosted: dict[str, list[str]] = {}
    for zone in plan.zones:
        for street in _ZONE_HOSTS.get(zone.name, ()):
            hosted.setdefault(street, []).append(zone.name)
    return hosted


def _describe(drafts: Sequence[_Draft], plan: Plan, rng: random.Random) -> None:
    """Ownership, name, credit code, social-security headcount and union date."""
    floor = plan.targets.unionise_100_plus.min_headcount
    names: set[str] = set()
    codes: set[str] = set()
    for draft in drafts:
        unionised = draft.kind is _Kind.UNIONISED
        weights = _OWNERSHIP_UNIONISED if unionised else _OWNERSHIP_UNORGANISED
        draft.ownership = rng.choices(list(weights), weights=list(weights.values()))[0]
        draft.name, prefix = _unique_name(draft, floor, names, rng)
        draft.credit_code = _unique_credit_code(prefix, codes, rng)
        draft.social_security_headcount = _social_security(draft.tax_headcount, rng)
        if unionised:
            draft.unionised_on = plan.baseline.as_of - timedelta(days=rng.randint(0, 15 * 365))


def _unique_name(draft: _Draft, floor: int, taken: set[str], rng: random.Random) -> tuple[str, str]:
    """Redraw until the name is new: two units never share a name."""
    while True:
        name, prefix = _name(draft, floor, rng)
        if name not in taken:
            taken.add(name)
            return name, prefix


def _unique_credit_code(prefix: str, taken: set[str], rng: random.Random) -> str:
    while (code := _credit_code(prefix, rng)) in taken:
        pass
    taken.add(code)
    return code


def _name(draft: _Draft, floor: int, rng: random.Random) -> tuple[str, str]:
    """A plausible name, and the credit code's first two characters for that kind of unit:
    91 enterprise, 93 farmers' cooperative, 12 public institution, 52 private non-profit."""
    brand = "".join(rng.sample(_BRAND_CHARS, 2))  # 字号
    place = _short_name(draft.street)
    trades = _LARGE_TRADES if draft.tax_headcount >= floor else _SMALL_TRADES
    if draft.ownership is Ownership.STATE:
        if draft.tax_headcount >= floor:
            return f"北京{brand}{rng.choice(trades)}集团有限公司", "91"
        return f"北京市房山区{brand}{rng.choice(trades)}公司", "91"
    if draft.ownership is Ownership.COLLECTIVE:
        # Farmers' cooperatives are village-sized; a large collective is a factory.
        if draft.tax_headcount < floor and rng.random() < 0.5:
            return f"北京{place}{brand}{rng.choice(_FARM_TRADES)}专业合作社", "93"
        return f"北京市房山区{place}{brand}{rng.choice(trades)}厂", "91"
    if draft.ownership is Ownership.PUBLIC_INSTITUTION:
        return f"北京市房山区{place}{_village(rng)}{rng.choice(_SCHOOLS)}", "12"
    if draft.ownership is Ownership.SOCIAL_ORGANISATION:
        return f"北京市房山区{brand}{rng.choice(_NON_PROFITS)}", "52"
    template = rng.choice(("北京{}{}有限公司", "北京房山{}{}有限公司", "北京{}{}有限责任公司"))
    return template.format(brand, rng.choice(trades)), "91"


def _short_name(street: str) -> str:
    """良乡镇 → 良乡, 城关街道 → 城关: the form used inside unit names."""
    for suffix in ("街道", "镇", "乡"):
        if street.endswith(suffix):
            return street.removesuffix(suffix)
    return street


def _village(rng: random.Random) -> str:
    return rng.choice("东西南北前后上下") + rng.choice("营庄屯店坨沟峪关")


def _credit_code(prefix: str, rng: random.Random) -> str:
    """A Fangshan credit code with valid check characters (organisation code and GB 32100)."""
    if prefix in ("91", "93") and rng.random() < 0.35:
        body = "MA01" + "".join(rng.choices(CHARSET, k=4))  # registered since the 2015 reform
    else:
        body = "".join(rng.choices("0123456789", k=8))  # the unit's older organisation code
    code17 = prefix + FANGSHAN_REGION + body + organisation_code_check_char(body)
    return code17 + credit_code_check_char(code17)


def _social_security(tax_headcount: int, rng: random.Random) -> int | None:
    """社保人数: close to the tax headcount but rarely equal; some units not yet matched."""
    if rng.random() < 0.06:
        return None
    return max(0, round(tax_headcount * rng.uniform(0.85, 1.15)))


def _log_uniform(rng: random.Random, low: int, high: int) -> int:
    """A headcount in [low, high], small values more likely than large ones."""
    return min(high, int(math.exp(rng.uniform(math.log(low), math.log(high + 1)))))


def _pareto(rng: random.Random, low: int, alpha: float, high: int) -> int:
    """A long-tailed headcount in [low, high]: firm sizes follow a power law."""
    return min(high, int(low * rng.paretovariate(alpha)))


def _unit_row(draft: _Draft, *, streets: dict[str, int], zones: dict[str, int]) -> dict[str, Any]:
    unionised = draft.kind is _Kind.UNIONISED
    return {
        "name": draft.name,
        "credit_code": draft.credit_code,
        "street_id": streets[draft.street],
        "zone_id": zones[draft.zone] if draft.zone else None,
        "tax_headcount": draft.tax_headcount,
        "social_security_headcount": draft.social_security_headcount,
        "member_count": draft.member_count,
        "ownership": draft.ownership,
        "status": UnitStatus.ACTIVE,
        "member_system_collected": unionised,
        "legal_person_certified": unionised,
        "unionised_on": draft.unionised_on,
        "dues_paid_uncollected": draft.kind is _Kind.DUES,
        "on_detail_table": draft.kind is _Kind.DETAIL,
    }


async def _open_baseline_ledger(session: AsyncSession, plan: Plan) -> Counter[int]:
    """Put every un-unionised ≥100 unit on the ledger (挂账) at the survey stage, as of the
    baseline date; return how many each street has."""
    floor = plan.targets.unionise_100_plus.min_headcount
    large = await session.exec(
        select(Unit.id, Unit.street_id, Unit.member_system_collected, Unit.legal_person_certified)
        .where(col(Unit.tax_headcount) >= floor)
        .order_by(col(Unit.id))
    )
    open_units = [
        (unit_id, street_id)
        for unit_id, street_id, collected, certified in large.all()
        if unit_id is not None  # only for the type checker: stored rows have ids
        and not is_unionised(member_system_collected=collected, legal_person_certified=certified)
    ]
    as_of = plan.baseline.as_of
    await _insert_many(
        session,
        LedgerEntry,
        [
            {"unit_id": unit_id, "street_id": street_id, "stage": LedgerStage.SURVEYED,
             "outcome": LedgerOutcome.OPEN, "opened_on": as_of}
            for unit_id, street_id in open_units
        ],
    )  # fmt: skip
    await _record_baseline_stage(session, plan, [unit_id for unit_id, _ in open_units])
    return Counter(street_id for _, street_id in open_units)


async def _record_baseline_stage(session: AsyncSession, plan: Plan, unit_ids: list[int]) -> None:
    """Each new entry's history starts with the survey stage, by nobody, at the baseline."""
    entries = await session.exec(
        select(LedgerEntry.id)
        .where(col(LedgerEntry.unit_id).in_(unit_ids))
        .order_by(col(LedgerEntry.id))
    )
    at = datetime.combine(plan.baseline.as_of, time(0), tzinfo=plan.zone)
    note = f"{plan.plan.year}年基线台账"
    await _insert_many(
        session,
        LedgerStageChange,
        [
            {"entry_id": entry_id, "from_stage": None, "to_stage": LedgerStage.SURVEYED,
             "outcome": LedgerOutcome.OPEN, "at": at, "by_user_id": None, "note": note}
            for entry_id in entries.all()
        ],
    )  # fmt: skip


async def _allocate_street_targets(
    session: AsyncSession, plan: Plan, streets: dict[str, int], ledger: Counter[int]
) -> None:
    """Split the district's count of new ≥100 unions over the streets, in proportion to the
    un-unionised ≥100 units each has on the ledger (largest remainder: the shares add up)."""
    weights = {street_id: ledger[street_id] for street_id in streets.values()}
    shares = allocate(plan.targets.unionise_100_plus.min_new_units, weights)
    await _insert_many(
        session,
        StreetTarget,
        [
            {"plan_key": plan.plan.key, "street_id": street_id, "new_units": new_units}
            for street_id, new_units in shares.items()
        ],
    )
