"""A full-size dataset for benchmarks: the demo district plus a plausible year of activity.

`seed_demo` gives the district as it stood at the plan's baseline (2018-02-28). This module
adds what a year of the plan would leave behind: ≥100 units written off the ledger at an
uneven, campaign-shaped pace (and a few hundred smaller ones unionised), the rest of the
ledger part-way along its stages, meetings of every kind in every street, unit and guidance
visits, monthly and quarterly reports, street officers, and 260,000 member records.

Everything is drawn for the whole plan year first and then cut at `through`, so a database
built through September is the December one as it stood in September. Each part has its own
seeded generator, so the parts do not shift each other, and nothing reads the clock.
"""

from __future__ import annotations

import asyncio
import math
import random
from array import array
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import accumulate, islice
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel, col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import Database
from models.demo import seed_demo
from models.enums import (
    LedgerOutcome,
    LedgerStage,
    MeetingKind,
    ReportKind,
    Role,
    StreetKind,
    UnitStatus,
    VenueType,
    VisitKind,
)
from models.plan import Plan
from models.rules import size_band
from models.tables import (
    LedgerEntry,
    LedgerStageChange,
    Meeting,
    Member,
    Officer,
    ReportSubmission,
    Street,
    Unit,
    Visit,
)

T = TypeVar("T")

# Telegram user ids of the generated people, far above the demo's (10001 … 99999) and below
# 2**52, where Telegram's ids stay.
OFFICER_ID_BASE = 7_000_000_000  # + street position × 100 + n; district staff: + n
ONLINE_MEMBER_ID_BASE = 6_000_000_000  # members who registered themselves through the bot

# How a member came in, when not at a meeting (then it is the meeting's id, always > 0).
_IMPORT, _BY_OFFICER, _ONLINE = 0, -1, -2
_SOURCES = {_IMPORT: "import", _BY_OFFICER: "officer", _ONLINE: "online"}

_BATCH = 10_000  # rows per executemany: keeps the row dicts of one batch in memory, no more

_STAGES = list(LedgerStage)  # SURVEYED … CERTIFIED, in order
_HOLIDAYS = {(1, 1), (4, 5), (4, 6), (4, 7), (4, 30), (5, 1), (6, 18), (9, 24)} | {
    (10, d) for d in range(1, 8)
}  # the 2018 public holidays, when almost nothing gets done

_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"  # noqa: E501
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华建国志海燕红梅玉晓东春丹鹏飞宇浩然子涵欣怡雨萱博文俊凯佳琪慧颖婷辉亮鑫波斌宁凤秀云莉琳雪梦晨阳光荣德福"  # noqa: E501
# Mainland mobile prefixes (号段) in use in 2018.
# Surnames come roughly in order of frequency: a power law keeps 王, 李, 张 common.
_SURNAME_CUM_WEIGHTS = list(accumulate(1 / (rank + 3) for rank in range(len(_SURNAMES))))
_MOBILE_PREFIXES = tuple(
    [str(p) for p in range(130, 140)]
    + ["145", "147", "150", "151", "152", "153", "155", "156", "157", "158", "159", "166"]
    + ["170", "171", "173", "175", "176", "177", "178"]
    + [str(p) for p in range(180, 190)]
    + ["191", "198", "199"]
)

_BRANDS = "鑫源华泰宏盛博达恒通瑞丰金龙兴隆嘉禾佳怡康顺安和润德信诚远航天宇正新星明辉永昌汇聚"
_URBAN_COMMUNITIES = (
    "东里", "西里", "南里", "北里", "苏庄", "月华", "昊天", "长虹", "鸿顺园", "行宫园", "绿地",
    "文化路", "富卓", "金鸣", "瑞雪", "康泽", "星城", "燕房", "兴房", "阳光",
)  # fmt: skip
_VILLAGES = (
    "东庄", "西营", "南关", "北坨", "前店", "后沟", "上峪", "下屯", "石佛", "小董", "大紫草坞",
    "张家", "李家", "官道", "二龙岗", "马各庄", "羊头岗", "辛庄", "岳各庄", "天开",
)  # fmt: skip

_VENUES: dict[MeetingKind, dict[VenueType | None, int]] = {
    MeetingKind.WORKER: {
        VenueType.COMMUNITY: 35, VenueType.ENTERPRISE: 30, VenueType.OFFICE_BUILDING: 15,
        VenueType.SITE: 10, VenueType.MARKET: 10,
    },
    MeetingKind.ENTERPRISE: {VenueType.ENTERPRISE: 40, None: 40, VenueType.OFFICE_BUILDING: 20},
    MeetingKind.TAXPAYER: {None: 80, VenueType.OFFICE_BUILDING: 20},
    MeetingKind.FACE_TO_FACE: {
        VenueType.ENTERPRISE: 60, VenueType.SITE: 15, VenueType.MARKET: 15,
        VenueType.COMMUNITY: 10,
    },
    MeetingKind.BRIEFING: {
        VenueType.COMMUNITY: 40, None: 30, VenueType.MARKET: 15, VenueType.SITE: 15,
    },
}  # fmt: skip
_ATTENDEES = {
    MeetingKind.WORKER: (20, 120),
    MeetingKind.ENTERPRISE: (15, 60),
    MeetingKind.TAXPAYER: (60, 200),
    MeetingKind.FACE_TO_FACE: (15, 35),
    MeetingKind.BRIEFING: (40, 200),
}
_NEW_MEMBERS_TOP = {
    MeetingKind.WORKER: 30,
    MeetingKind.ENTERPRISE: 5,
    MeetingKind.TAXPAYER: 3,
    MeetingKind.FACE_TO_FACE: 10,
    MeetingKind.BRIEFING: 20,
}
_MEETING_NOTES = (
    "宣讲《工会法》和入会流程，现场答疑",
    "介绍工会会员普惠服务，职工反响积极",
    "部分职工担心入会费用，已逐一解释",
    "企业负责人到会，表态支持组建工会",
)

# What a unit visit at each step is for, what it found, and what comes next.
_VISIT_PURPOSE: dict[LedgerStage, tuple[str, str, str | None]] = {
    LedgerStage.SURVEYED: ("survey", "走访摸底，了解企业职工人数和用工情况", "送达组建函"),
    LedgerStage.LETTER_ISSUED: (
        "deliver_letter",
        "送达《北京市工会组建函》，企业负责人已签收",
        "指导两审两批",
    ),
    LedgerStage.APPROVED: ("approval", "指导企业完成两审两批，召开会员大会", "采集会员信息"),
    LedgerStage.COLLECTED: ("collection", "协助在会员管理系统采集会员信息", "办理法人证"),
    LedgerStage.CERTIFIED: ("certification", "陪同办理工会法人资格证书，销账", None),
}
_FOLLOW_UP = ("follow_up", "回访新建工会，指导开展会员服务", None)
_OBSTRUCTION_REASONS = (
    "企业负责人明确拒绝组建工会",
    "企业以经营困难为由拖延组建",
    "外地总部不同意在京设立工会",
    "企业多次约谈未果，已报区总工会协调",
)
_DEPARTURES = {
    UnitStatus.MOVED_OUT: "企业已迁出房山区，申请销号",
    UnitStatus.CLOSED: "企业已注销，申请销号",
}
_DIFFICULTIES = (
    "部分百人以上企业为外地总部分支机构，组建需总部同意",
    "建筑工地职工流动性大，会员信息采集困难",
    "个别企业负责人对组建工会有顾虑，需区总工会协调",
    "街乡工会专职干部少，走访任务重",
)


_OTHER_MEETING_KINDS = {k.value for k in MeetingKind if k is not MeetingKind.WORKER}


class NotSeededError(Exception):
    """The database lacks the demo district (seed_demo) that the activity builds on."""


class ActivityAlreadySeeded(Exception):
    """The database already holds activity: adding a second year would double it."""


@dataclass(frozen=True)
class ActivitySummary:
    """What seed_year_of_activity generated, for the benchmark to print."""

    through: date
    officers: int
    # Units that got a union, by size band key: written off the ledger (≥100), or "<100".
    written_off: dict[str, int]
    ledger_advanced: int  # open entries past the survey stage
    obstructed: int
    departed: int
    meetings: dict[str, int]  # by MeetingKind value
    streets_at_meeting_target: int  # streets with the plan's count of worker meetings
    unit_visits: int
    guidance_visits: int
    streets_guided: int
    members: int
    reports: dict[str, int]  # by ReportKind value

    @property
    def written_off_100_plus(self) -> int:
        return sum(n for band, n in self.written_off.items() if band != "<100")

    def rows(self) -> list[tuple[str, str]]:
        """(what, how many) pairs in the shape of the benchmark's table."""
        bands = ", ".join(f"{band}: {n}" for band, n in self.written_off.items())
        kinds = ", ".join(f"{kind} {n}" for kind, n in self.meetings.items())
        reports = ", ".join(f"{kind} {n}" for kind, n in self.reports.items())
        return [
            ("activity through", self.through.isoformat()),
            ("  units written off / unionised", bands),
            (
                "  other ledger entries",
                f"{self.ledger_advanced} advanced, {self.obstructed} obstructed, "
                f"{self.departed} departed",
            ),
            (
                "  meetings",
                f"{sum(self.meetings.values()):,} ({kinds}); "
                f"{self.streets_at_meeting_target} streets at the worker-meeting target",
            ),
            (
                "  visits",
                f"{self.unit_visits:,} to units, {self.guidance_visits} guidance "
                f"({self.streets_guided} streets)",
            ),
            ("  members", f"{self.members:,}"),
            ("  reports", reports),
            ("  officers", str(self.officers)),
        ]


# --- what the demo district holds -------------------------------------------------------


@dataclass(frozen=True)
class _Street:
    id: int
    name: str
    kind: StreetKind
    position: int


@dataclass(frozen=True)
class _Unit:
    id: int
    street_id: int
    name: str
    headcount: int
    unionised_on: date | None  # None: not unionised at the baseline
    dues: bool


@dataclass(frozen=True)
class _Entry:
    id: int
    unit: _Unit


@dataclass
class _District:
    streets: list[_Street]
    units: list[_Unit]
    entries: list[_Entry]
    officers: dict[int, list[int]] = field(default_factory=dict)  # street id → user ids
    workers: dict[int, list[int]] = field(default_factory=dict)  # community workers
    staff: list[int] = field(default_factory=list)  # district staff

    def units_by_street(self) -> dict[int, list[_Unit]]:
        by_street: dict[int, list[_Unit]] = defaultdict(list)
        for unit in self.units:
            by_street[unit.street_id].append(unit)
        return by_street


@dataclass(frozen=True)
class _Period:
    start: date  # the day after the baseline
    through: date  # the cut: nothing happens after it
    horizon: date  # what is drawn: the plan year, or further if `through` is later
    zone: ZoneInfo

    def at(self, day: date, minute: int) -> datetime:
        """A moment on a business day, `minute` minutes after local midnight."""
        return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self.zone)

    def office_hours(self, rng: random.Random, day: date) -> datetime:
        return self.at(day, rng.randint(8 * 60 + 30, 17 * 60 + 30))

    def days(self, first: date | None = None, last: date | None = None) -> list[date]:
        first, last = first or self.start, last or self.horizon
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]

    def happened(self, moment: datetime) -> bool:
        return moment.astimezone(self.zone).date() <= self.through


# --- the public API ---------------------------------------------------------------------


async def seed_year_of_activity(
    *,
    session: AsyncSession,
    plan: Plan,
    through: date,
    members: int = 260_000,
    seed: int = 2018,
) -> ActivitySummary:
    """Add a year of activity, from the day after the baseline through `through`, to a
    database seeded with seed_demo, in the caller's transaction.

    Raises NotSeededError without the demo district, ActivityAlreadySeeded if activity is
    already there, ValueError for a `through` before the plan's activity starts.
    """
    start = plan.baseline.as_of + timedelta(days=1)
    if through < start:
        raise ValueError(f"through {through} is before the activity starts ({start})")
    if members < 0:
        raise ValueError("members cannot be negative")
    period = _Period(start, through, max(through, date(plan.plan.year, 12, 31)), plan.zone)
    conn = await session.connection()
    district = await _load_district(conn)
    await _refuse_if_active(conn)

    officers = _officers(district, period, _rng(seed, "officers"))
    await _insert(conn, Officer, officers)
    ledger = _LedgerPlan.draw(district, plan, period, _rng(seed, "ledger"))
    smaller = _small_unionisations(district, plan, period, _rng(seed, "small"))
    unit_updates = await _apply_ledger(conn, ledger, smaller, period)
    meetings = _meetings(district, plan, period, _rng(seed, "meetings"))
    meeting_ids = await _insert_meetings(conn, meetings)
    visits = _unit_visits(district, ledger, period, _rng(seed, "visits"))
    visits += _guidance_visits(district, period, _rng(seed, "guidance"))
    await _insert(conn, Visit, visits)
    reports = _reports(district, plan, period, meetings, unit_updates, _rng(seed, "reports"))
    await _insert(conn, ReportSubmission, reports)
    unionised = _unionised_units(district, unit_updates)
    member_rows = _members(unionised, meetings, meeting_ids, members, period, _rng(seed, "members"))
    await _insert_streamed(conn, Member, member_rows)

    return _summary(
        plan=plan,
        period=period,
        district=district,
        unit_updates=unit_updates,
        meetings=meetings,
        visits=visits,
        reports=reports,
        members=members,
    )


async def build_full_size_database(
    url: str, plan: Plan, *, through: date, members: int = 260_000
) -> ActivitySummary:
    """A fresh, migrated database at `url` with the demo district and its year of activity."""
    db = Database(url)
    try:
        await db.upgrade()
        async with db.session(write=True) as session:
            await seed_demo(session=session, plan=plan)
        async with db.session(write=True) as session:
            if db.is_sqlite:
                # The member indexes outgrow SQLite's default 2 MiB page cache; this engine
                # is disposed of below, so the larger cache dies with it.
                await (await session.connection()).exec_driver_sql("PRAGMA cache_size=-16384")
            return await seed_year_of_activity(
                session=session, plan=plan, through=through, members=members
            )
    finally:
        await db.dispose()


# --- reading and writing ----------------------------------------------------------------


def _rng(seed: int, part: str) -> random.Random:
    # A string seed is hashed with SHA-512, not Python's salted hash: stable across runs.
    return random.Random(f"{seed}:{part}")


async def _load_district(conn: AsyncConnection) -> _District:
    # Stored rows always have ids: the `is not None` tests are for the type checker.
    street_rows = await conn.execute(
        sa.select(col(Street.id), col(Street.name), col(Street.kind), col(Street.position))
        .order_by(col(Street.position))
    )  # fmt: skip
    streets = [
        _Street(id_, name, StreetKind(kind), position)
        for id_, name, kind, position in street_rows
        if id_ is not None
    ]
    unit_rows = await conn.execute(
        sa.select(
            col(Unit.id), col(Unit.street_id), col(Unit.name), col(Unit.tax_headcount),
            col(Unit.member_system_collected), col(Unit.legal_person_certified),
            col(Unit.unionised_on), col(Unit.dues_paid_uncollected),
        )
        .where(col(Unit.status) == UnitStatus.ACTIVE)
        .order_by(col(Unit.id))
    )  # fmt: skip
    units = [
        _Unit(id_, street_id, name, headcount, on if collected and certified else None, dues)
        for id_, street_id, name, headcount, collected, certified, on, dues in unit_rows
        if id_ is not None
    ]
    by_id = {unit.id: unit for unit in units}
    entry_rows = await conn.execute(
        sa.select(col(LedgerEntry.id), col(LedgerEntry.unit_id))
        .where(
            col(LedgerEntry.outcome) == LedgerOutcome.OPEN,
            col(LedgerEntry.stage) == LedgerStage.SURVEYED,
        )
        .order_by(col(LedgerEntry.id))
    )
    entries = [
        _Entry(entry_id, by_id[unit_id])
        for entry_id, unit_id in entry_rows
        if entry_id is not None and unit_id in by_id
    ]
    if not units or not entries:
        raise NotSeededError(
            f"the database holds {len(units)} active units and {len(entries)} open ledger "
            "entries at the survey stage: seed it with seed_demo first"
        )
    return _District(streets, units, entries)


async def _refuse_if_active(conn: AsyncConnection) -> None:
    ours = col(Officer.telegram_user_id) >= OFFICER_ID_BASE
    for table, what, where in (
        (Meeting, "meetings", sa.true()),
        (Member, "members", sa.true()),
        (Visit, "visits", sa.true()),
        (Officer, "generated officers", ours),
    ):
        query = sa.select(sa.func.count()).select_from(table).where(where)
        count = (await conn.execute(query)).scalar_one()
        if count:
            raise ActivityAlreadySeeded(
                f"the database already holds {count} {what}: the year of activity goes only "
                "onto a freshly seeded demo district"
            )


async def _insert(
    conn: AsyncConnection, table: type[SQLModel], rows: Sequence[Mapping[str, Any]]
) -> None:
    """One core executemany, as models.demo does: the ORM's bulk path splits rows whose None
    values differ into many statements."""
    if rows:
        await conn.execute(sa.insert(table), list(rows))


async def _insert_meetings(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert, then read the new ids back in id order: the table was empty (see
    _refuse_if_active), and an executemany assigns ids in the order of its rows."""
    await _insert(conn, Meeting, rows)
    ids = await conn.execute(sa.select(col(Meeting.id)).order_by(col(Meeting.id)))
    return [id_ for id_ in ids.scalars() if id_ is not None]


async def _insert_streamed(
    conn: AsyncConnection, table: type[SQLModel], rows: Iterator[dict[str, Any]]
) -> None:
    """Insert in batches, drawing the next batch in a worker thread while the database
    writes this one: SQLite releases the GIL while it works, so the two overlap. Only one
    thread advances the generator at a time: each batch is awaited before the next."""
    batches = _batched(rows, _BATCH)
    batch = await asyncio.to_thread(next, batches, None)
    while batch:
        following = asyncio.create_task(asyncio.to_thread(next, batches, None))
        try:
            await _insert(conn, table, batch)
        finally:
            batch = await following  # never leave the thread running on an error


def _batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


# --- drawing helpers ---------------------------------------------------------------------


def _weighted_order(rng: random.Random, items: Sequence[T], weights: Sequence[float]) -> list[T]:
    """Items in a random order where heavier ones tend to come first (a weighted sample
    without replacement, Efraimidis–Spirakis): the first n are a weighted draw of n."""
    keyed = [(rng.random() ** (1 / w), i) for i, w in enumerate(weights)]
    keyed.sort(reverse=True)
    return [items[i] for _, i in keyed]


def _busy_days(
    rng: random.Random, days: Sequence[date], n: int, *, peak: date | None = None
) -> list[date]:
    """n working days, sorted, drawn unevenly: weekends and holidays are quiet, some weeks
    are busier than others, and with a `peak` the pace builds up towards that deadline."""
    if n <= 0 or not days:
        return []
    week_noise: dict[tuple[int, int], float] = {}
    weights = []
    first = days[0]
    for day in days:
        week = day.isocalendar()[:2]
        if week not in week_noise:
            week_noise[week] = rng.lognormvariate(0, 0.6)
        weight = week_noise[week] * (0.08 if day.weekday() >= 5 else 1.0)
        if (day.month, day.day) in _HOLIDAYS:
            weight *= 0.02
        if peak is not None and first < peak:
            progress = min(1.0, (day - first).days / (peak - first).days)
            weight *= 0.25 + 2.5 * progress**2
        weights.append(weight)
    return sorted(rng.choices(days, weights=weights, k=n))


def _street_speed(district: _District, rng: random.Random) -> dict[int, float]:
    """How briskly each street works: some are well staffed and driven, some are not."""
    return {street.id: rng.lognormvariate(0, 0.4) for street in district.streets}


def _officer_of(rng: random.Random, district: _District, street_id: int) -> int:
    return rng.choice(district.officers[street_id])


def _short_name(street: str) -> str:
    for suffix in ("街道", "镇", "乡"):
        if street.endswith(suffix):
            return street.removesuffix(suffix)
    return street


# --- officers ----------------------------------------------------------------------------


def _officers(district: _District, period: _Period, rng: random.Random) -> list[dict[str, Any]]:
    """District staff, and a few street officers and community workers per street, signed
    up on the baseline day: every later action is by one of them."""
    joined = period.start - timedelta(days=1)
    rows: list[dict[str, Any]] = []
    district.staff[:] = [OFFICER_ID_BASE + n for n in range(1, 5)]

    def officer(user_id: int, name: str, role: Role, street_id: int | None) -> None:
        rows.append(
            {
                "telegram_user_id": user_id,
                "display_name": name,
                "role": role,
                "street_id": street_id,
                "invited_by": None if street_id is None else district.staff[0],
                "created_at": period.office_hours(rng, joined),
            }
        )

    for user_id in district.staff:
        officer(user_id, f"区总工会·{rng.choice(_SURNAMES)}老师", Role.DISTRICT_ADMIN, None)
    for street in district.streets:
        base = OFFICER_ID_BASE + (street.position + 1) * 100
        officers = [base + n for n in range(1, rng.randint(2, 4) + 1)]
        workers = [base + 50 + n for n in range(1, rng.randint(1, 3) + 1)]
        for user_id in officers:
            officer(user_id, f"{street.name}·{rng.choice(_SURNAMES)}干事", Role.STREET_OFFICER,
                    street.id)  # fmt: skip
        for user_id in workers:
            officer(user_id, f"{street.name}·{rng.choice(_SURNAMES)}社工", Role.COMMUNITY_WORKER,
                    street.id)  # fmt: skip
        district.officers[street.id] = officers
        district.workers[street.id] = workers
    return rows


# --- the ledger --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Step:
    at: datetime
    to_stage: LedgerStage
    outcome: LedgerOutcome
    by: int
    note: str | None = None


@dataclass(frozen=True)
class _EntryPlan:
    entry: _Entry
    steps: list[_Step]  # after the baseline survey, in time order
    member_share: float  # of the headcount, once the members are collected
    status: UnitStatus = UnitStatus.ACTIVE  # where a departure leaves the unit


@dataclass(frozen=True)
class _LedgerPlan:
    entries: list[_EntryPlan]

    @classmethod
    def draw(
        cls, district: _District, plan: Plan, period: _Period, rng: random.Random
    ) -> _LedgerPlan:
        """Every ledger entry's steps over the whole horizon: about 60–80 written off by the
        deadline (the plan wants 91: the district lags), a few more after it, a handful
        obstructed or departed, the rest part-way."""
        speed = _street_speed(district, rng)
        entries = list(district.entries)
        departed = _weighted_order(rng, entries, [1.0] * len(entries))[: rng.randint(3, 6)]
        rest = [e for e in entries if e not in departed]
        # Refusals pile up where the street does not push: weight by slowness.
        obstructed = _weighted_order(rng, rest, [1 / speed[e.unit.street_id] for e in rest])
        obstructed = obstructed[: rng.randint(4, 7)]
        rest = [e for e in rest if e not in obstructed]

        deadline = min(max(plan.targets.unionise_100_plus.deadline, period.start), period.horizon)
        # Units already paying dues only need collecting (do these first); smaller ones are
        # quicker to persuade than the big ones that the district and city lead.
        order = _weighted_order(
            rng,
            rest,
            [
                speed[e.unit.street_id]
                * (6.0 if e.unit.dues else 1.0)
                * (1.5 if e.unit.headcount < 500 else 1.0 if e.unit.headcount < 1000 else 0.6)
                for e in rest
            ],
        )
        by_deadline = min(len(order), rng.randint(60, 80))
        after = min(len(order) - by_deadline, rng.randint(4, 10))
        first_day = min(period.start + timedelta(days=10), deadline)
        days = _busy_days(rng, period.days(first_day, deadline), by_deadline, peak=deadline)
        if deadline < period.horizon:
            days += _busy_days(rng, period.days(deadline + timedelta(days=1)), after)
        else:
            after = 0

        plans = [
            _written_off(rng, district, period, entry, day)
            for entry, day in zip(order, days, strict=False)
        ]
        plans += [_part_way(rng, district, period, e) for e in order[by_deadline + after :]]
        plans += [_obstructed(rng, district, period, e) for e in obstructed]
        plans += [_departed(rng, district, period, e) for e in departed]
        plans.sort(key=lambda p: p.entry.id)
        return cls(plans)


def _written_off(
    rng: random.Random, district: _District, period: _Period, entry: _Entry, day: date
) -> _EntryPlan:
    """Letter, approval and collection at rising moments before the certificate on `day`."""
    lead = min((day - period.start).days, rng.randint(20, 120))
    first = day - timedelta(days=lead)
    # The earlier steps fall on earlier days, so the certificate stays on `day` itself.
    earlier = [first, *(first + timedelta(days=rng.randint(0, max(0, lead - 1))) for _ in "ab")]
    moments = _rising([period.office_hours(rng, d) for d in [*earlier, day]])
    by = _officer_of(rng, district, entry.unit.street_id)
    steps = [
        _Step(at, stage, LedgerOutcome.OPEN, by)
        for at, stage in zip(moments[:-1], _STAGES[1:4], strict=True)
    ]
    steps.append(_Step(moments[-1], LedgerStage.CERTIFIED, LedgerOutcome.WRITTEN_OFF, by))
    return _EntryPlan(entry, steps, rng.uniform(0.45, 0.9))


def _rising(moments: list[datetime]) -> list[datetime]:
    """Sorted, and strictly rising: two steps drawn at the same minute are a minute apart."""
    moments = sorted(moments)
    for i in range(1, len(moments)):
        moments[i] = max(moments[i], moments[i - 1] + timedelta(minutes=1))
    return moments


def _part_way(
    rng: random.Random, district: _District, period: _Period, entry: _Entry
) -> _EntryPlan:
    reached = rng.choices(range(4), weights=[30, 35, 20, 15])[0]  # stages past the survey
    days = sorted(rng.choice(period.days()) for _ in range(reached))
    by = _officer_of(rng, district, entry.unit.street_id)
    moments = _rising([period.office_hours(rng, d) for d in days])
    steps = [
        _Step(at, stage, LedgerOutcome.OPEN, by)
        for at, stage in zip(moments, _STAGES[1 : 1 + reached], strict=True)
    ]
    return _EntryPlan(entry, steps, rng.uniform(0.45, 0.9))


def _obstructed(
    rng: random.Random, district: _District, period: _Period, entry: _Entry
) -> _EntryPlan:
    """A letter, often, then a refusal: the entry stays at its stage, marked obstructed."""
    days = period.days()
    refused = rng.choice(days[len(days) // 6 :])
    by = _officer_of(rng, district, entry.unit.street_id)
    steps = []
    stage = LedgerStage.SURVEYED
    if rng.random() < 0.6 and refused > period.start:
        letter = rng.choice(period.days(last=refused - timedelta(days=1)))
        stage = LedgerStage.LETTER_ISSUED
        steps.append(_Step(period.at(letter, 10 * 60), stage, LedgerOutcome.OPEN, by))
    reason = rng.choice(_OBSTRUCTION_REASONS)
    steps.append(_Step(period.at(refused, 15 * 60), stage, LedgerOutcome.OBSTRUCTED, by, reason))
    return _EntryPlan(entry, steps, 0.0)


def _departed(
    rng: random.Random, district: _District, period: _Period, entry: _Entry
) -> _EntryPlan:
    status = rng.choice(list(_DEPARTURES))
    day = rng.choice(period.days())
    by = _officer_of(rng, district, entry.unit.street_id)
    step = _Step(
        period.office_hours(rng, day),
        LedgerStage.SURVEYED,
        LedgerOutcome.DEPARTED,
        by,
        _DEPARTURES[status],
    )
    return _EntryPlan(entry, [step], 0.0, status)


@dataclass
class _UnitUpdates:
    """What the ledger and the smaller unionisations did to units, as of `through`."""

    unionised: dict[int, tuple[date, int]] = field(default_factory=dict)  # id → (on, members)
    collected: list[int] = field(default_factory=list)  # collected, not yet certified
    departed: dict[int, tuple[UnitStatus, date]] = field(default_factory=dict)
    advanced: int = 0  # open entries past the survey stage
    obstructed: int = 0


async def _apply_ledger(
    conn: AsyncConnection,
    ledger: _LedgerPlan,
    smaller: list[tuple[_Unit, date, float]],
    period: _Period,
) -> _UnitUpdates:
    """Write the steps that happened by `through`: stage changes, entries and their units."""
    updates = _UnitUpdates()
    changes: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    for p in ledger.entries:
        stage, outcome, reason, closed = LedgerStage.SURVEYED, LedgerOutcome.OPEN, None, None
        for step in p.steps:
            if not period.happened(step.at):
                break
            changes.append(
                {"entry_id": p.entry.id, "from_stage": stage, "to_stage": step.to_stage,
                 "outcome": step.outcome, "at": step.at, "by_user_id": step.by,
                 "note": step.note}
            )  # fmt: skip
            stage, outcome = step.to_stage, step.outcome
            day = step.at.astimezone(period.zone).date()
            if outcome is LedgerOutcome.WRITTEN_OFF:
                closed = day
                members = max(1, round(p.entry.unit.headcount * p.member_share))
                updates.unionised[p.entry.unit.id] = (day, members)
            elif outcome is LedgerOutcome.DEPARTED:
                closed, reason = day, step.note
                updates.departed[p.entry.unit.id] = (p.status, day)
            elif outcome is LedgerOutcome.OBSTRUCTED:
                reason = step.note
                updates.obstructed += 1
        if stage is LedgerStage.COLLECTED:
            updates.collected.append(p.entry.unit.id)
        if outcome is LedgerOutcome.OPEN and stage is not LedgerStage.SURVEYED:
            updates.advanced += 1
        if stage is not LedgerStage.SURVEYED or outcome is not LedgerOutcome.OPEN:
            entries.append(
                {"b_id": p.entry.id, "b_stage": stage, "b_outcome": outcome,
                 "b_reason": reason, "b_closed": closed}
            )  # fmt: skip
    for unit, day, share in smaller:
        if day <= period.through:
            updates.unionised[unit.id] = (day, max(3, round(unit.headcount * share)))

    await _insert(conn, LedgerStageChange, changes)
    await _update_many(
        conn,
        sa.update(LedgerEntry)
        .where(col(LedgerEntry.id) == sa.bindparam("b_id"))
        .values(
            stage=sa.bindparam("b_stage"),
            outcome=sa.bindparam("b_outcome"),
            outcome_reason=sa.bindparam("b_reason"),
            closed_on=sa.bindparam("b_closed"),
        ),
        entries,
    )
    await _update_many(
        conn,
        sa.update(Unit)
        .where(col(Unit.id) == sa.bindparam("b_id"))
        .values(
            member_system_collected=True,
            legal_person_certified=True,
            unionised_on=sa.bindparam("b_on"),
            member_count=sa.bindparam("b_members"),
            # Collected into the member system: no longer "paying but uncollected".
            dues_paid_uncollected=False,
        ),
        [
            {"b_id": unit_id, "b_on": on, "b_members": members}
            for unit_id, (on, members) in updates.unionised.items()
        ],
    )
    await _update_many(
        conn,
        sa.update(Unit)
        .where(col(Unit.id) == sa.bindparam("b_id"))
        .values(member_system_collected=True, dues_paid_uncollected=False),
        [{"b_id": unit_id} for unit_id in updates.collected],
    )
    await _update_many(
        conn,
        sa.update(Unit)
        .where(col(Unit.id) == sa.bindparam("b_id"))
        .values(status=sa.bindparam("b_status")),
        [
            {"b_id": unit_id, "b_status": status}
            for unit_id, (status, _) in updates.departed.items()
        ],
    )
    return updates


async def _update_many(
    conn: AsyncConnection, statement: sa.Update, rows: list[dict[str, Any]]
) -> None:
    if rows:
        await conn.execute(statement, rows)


def _small_unionisations(
    district: _District, plan: Plan, period: _Period, rng: random.Random
) -> list[tuple[_Unit, date, float]]:
    """A few hundred units below the ≥100 line unionised over the year (no ledger for them):
    the dues-paying ones first, larger ones before the micro firms."""
    floor = plan.targets.unionise_100_plus.min_headcount
    candidates = [u for u in district.units if u.unionised_on is None and 5 <= u.headcount < floor]
    speed = _street_speed(district, rng)
    order = _weighted_order(
        rng,
        candidates,
        [speed[u.street_id] * math.sqrt(u.headcount) * (40.0 if u.dues else 1.0)
         for u in candidates],
    )  # fmt: skip
    count = min(len(order), rng.randint(250, 350))
    days = _busy_days(rng, period.days(), count)
    return [(unit, day, rng.uniform(0.6, 0.95)) for unit, day in zip(order, days, strict=False)]


def _unionised_units(district: _District, updates: _UnitUpdates) -> list[_Unit]:
    """Units with a union as of `through`, each with the date it got one."""
    units = []
    for unit in district.units:
        if unit.id in updates.departed:
            continue
        if unit.id in updates.unionised:
            unit = _Unit(unit.id, unit.street_id, unit.name, unit.headcount,
                         updates.unionised[unit.id][0], unit.dues)  # fmt: skip
        if unit.unionised_on is not None:
            units.append(unit)
    return units


# --- meetings and visits -----------------------------------------------------------------


def _meetings(
    district: _District, plan: Plan, period: _Period, rng: random.Random
) -> list[dict[str, Any]]:
    """Every kind of meeting in every street, in the order they were logged. Worker meetings
    come at each street's own tempo: most streets reach the plan's count by the year's end,
    several lag, and the mountain townships are the likeliest to."""
    per_street = plan.targets.worker_meetings.per_street
    units = district.units_by_street()
    mean_units = sum(len(v) for v in units.values()) / len(district.streets)
    lagging = _weighted_order(
        rng, district.streets, [1 / max(1, len(units[s.id])) for s in district.streets]
    )[: rng.randint(5, 7)]
    days = period.days()
    rows: list[dict[str, Any]] = []
    for street in district.streets:
        scale = min(2.0, max(0.5, math.sqrt(len(units[street.id]) / mean_units)))
        counts = {
            MeetingKind.WORKER: (
                rng.randint(per_street // 2, per_street - 1)
                if street in lagging
                else rng.randint(per_street, per_street + 5)
            ),
            MeetingKind.ENTERPRISE: round(rng.uniform(2, 7) * scale),
            MeetingKind.TAXPAYER: rng.randint(1, 3),
            MeetingKind.FACE_TO_FACE: round(rng.uniform(3, 12) * scale),
            MeetingKind.BRIEFING: round(rng.uniform(2, 6) * scale),
        }
        # tempo < 1 front-loads the year, > 1 leaves the meetings for the autumn.
        tempo = rng.lognormvariate(0, 0.45)
        held_by = [*district.officers[street.id], *district.workers[street.id]]
        for kind, count in counts.items():
            for _ in range(count):
                held_on = days[min(len(days) - 1, int(len(days) * rng.random() ** tempo))]
                rows.append(_meeting(rng, street, kind, held_on, held_by, units, period))
    rows = [r for r in rows if period.happened(r["created_at"])]
    rows.sort(key=lambda r: (r["created_at"], r["street_id"]))
    return rows


def _meeting(
    rng: random.Random,
    street: _Street,
    kind: MeetingKind,
    held_on: date,
    held_by: list[int],
    units: Mapping[int, list[_Unit]],
    period: _Period,
) -> dict[str, Any]:
    venue = rng.choices(list(_VENUES[kind]), weights=list(_VENUES[kind].values()))[0]
    low, high = _ATTENDEES[kind]
    attendees = rng.randint(low, high)
    new_members = min(attendees, int(rng.triangular(0, _NEW_MEMBERS_TOP[kind], 2)))
    # Officers log a meeting that evening, or catch up a few days later.
    logged = held_on + timedelta(days=0 if rng.random() < 0.7 else rng.randint(1, 4))
    return {
        "street_id": street.id,
        "kind": kind,
        "held_on": held_on,
        "place": _place(rng, street, venue, units[street.id]),
        "venue_type": venue,
        "attendees": attendees,
        "new_members": new_members,
        "notes": rng.choice(_MEETING_NOTES) if rng.random() < 0.3 else None,
        "created_by": rng.choice(held_by),
        "created_at": period.at(logged, rng.randint(17 * 60, 22 * 60)),
    }


def _place(rng: random.Random, street: _Street, venue: VenueType | None, units: list[_Unit]) -> str:
    brand = "".join(rng.sample(_BRANDS, 2))
    short = _short_name(street.name)
    if venue is VenueType.COMMUNITY:
        if street.kind is StreetKind.STREET:
            return f"{rng.choice(_URBAN_COMMUNITIES)}社区活动中心"
        return f"{rng.choice(_VILLAGES)}村委会会议室"
    if venue is VenueType.OFFICE_BUILDING:
        return f"{short}{brand}大厦{rng.randint(2, 18)}层会议室"
    if venue is VenueType.SITE:
        return f"{brand}项目部工地食堂"
    if venue is VenueType.MARKET:
        return f"{short}{brand}农贸市场"
    if venue is VenueType.ENTERPRISE and units:
        return f"{rng.choice(units).name}会议室"
    hall = "办事处" if street.kind is StreetKind.STREET else "政府"
    return f"{street.name}{hall}多功能厅"


def _unit_visits(
    district: _District, ledger: _LedgerPlan, period: _Period, rng: random.Random
) -> list[dict[str, Any]]:
    """Officers' visits to ledger units: a survey visit, one around most steps (so a unit
    written off has a few), a follow-up after some write-offs."""
    rows: list[dict[str, Any]] = []
    for p in ledger.entries:
        by = p.steps[0].by if p.steps else _officer_of(rng, district, p.entry.unit.street_id)
        first = p.steps[0].at.astimezone(period.zone).date() if p.steps else period.horizon
        if rng.random() < (0.8 if p.steps else 0.5):
            day = rng.choice(period.days(last=max(period.start, first)))
            rows.append(_visit(rng, period, p, day, LedgerStage.SURVEYED, by))
        for step in p.steps:
            day = step.at.astimezone(period.zone).date()
            if step.outcome is LedgerOutcome.OPEN:
                if rng.random() < 0.65:
                    rows.append(_visit(rng, period, p, day, step.to_stage, step.by))
            elif step.outcome is LedgerOutcome.WRITTEN_OFF:
                rows.append(_visit(rng, period, p, day, step.to_stage, step.by))
                if rng.random() < 0.35:
                    later = day + timedelta(days=rng.randint(14, 60))
                    rows.append(_visit(rng, period, p, later, step.to_stage, step.by, _FOLLOW_UP))
            else:
                code = "obstruction" if step.outcome is LedgerOutcome.OBSTRUCTED else "departure"
                purpose = (code, step.note or "", None)
                rows.append(_visit(rng, period, p, day, step.to_stage, step.by, purpose))
    rows = [r for r in rows if period.happened(r["created_at"])]
    rows.sort(key=lambda r: (r["created_at"], r["unit_id"]))
    return rows


def _visit(
    rng: random.Random,
    period: _Period,
    p: _EntryPlan,
    day: date,
    stage: LedgerStage,
    by: int,
    purpose: tuple[str, str, str | None] | None = None,
) -> dict[str, Any]:
    code, summary, next_step = purpose or _VISIT_PURPOSE[stage]
    return {
        "kind": VisitKind.UNIT,
        "street_id": p.entry.unit.street_id,
        "unit_id": p.entry.unit.id,
        "officer_user_id": by,
        "visited_on": day,
        "purpose": code,
        "summary": summary,
        "stage_reached": stage,
        "next_step": next_step,
        "next_step_on": day + timedelta(days=rng.randint(7, 21)) if next_step else None,
        "created_at": period.at(day, rng.randint(16 * 60, 21 * 60)),
    }


def _guidance_visits(
    district: _District, period: _Period, rng: random.Random
) -> list[dict[str, Any]]:
    """District staff's guidance visits to about 60% of the streets over the year."""
    streets = rng.sample(district.streets, round(len(district.streets) * rng.uniform(0.55, 0.65)))
    rows: list[dict[str, Any]] = []
    for street in streets:
        for day in _busy_days(rng, period.days(), rng.randint(1, 2)):
            rows.append(
                {
                    "kind": VisitKind.GUIDANCE,
                    "street_id": street.id,
                    "unit_id": None,
                    "officer_user_id": rng.choice(district.staff),
                    "visited_on": day,
                    "purpose": "guidance",
                    "summary": f"区总工会到{street.name}指导组建工作，听取工作汇报",
                    "stage_reached": None,
                    "next_step": None,
                    "next_step_on": None,
                    "created_at": period.at(day, rng.randint(15 * 60, 19 * 60)),
                }
            )
    rows = [r for r in rows if period.happened(r["created_at"])]
    rows.sort(key=lambda r: (r["created_at"], r["street_id"]))
    return rows


# --- reports -----------------------------------------------------------------------------


def _reports(
    district: _District,
    plan: Plan,
    period: _Period,
    meetings: list[dict[str, Any]],
    updates: _UnitUpdates,
    rng: random.Random,
) -> list[dict[str, Any]]:
    """Each street's monthly report for every month from the start, most before the due day,
    some late, some never; with the quarter's last month, the quarterly one. The body counts
    what the street did in the month up to the day it reported."""
    due = plan.reporting.monthly.due_before_day
    quarter_month = plan.reporting.quarterly.due_month_of_quarter or 3
    unit_street = {u.id: u.street_id for u in district.units}
    done: dict[tuple[int, str], list[date]] = defaultdict(list)
    for unit_id, (on, _) in updates.unionised.items():
        done[(unit_street[unit_id], "unionised")].append(on)
    for m in meetings:
        done[(m["street_id"], m["kind"].value)].append(m["held_on"])
    rows: list[dict[str, Any]] = []
    months = _months(period.start, period.horizon)
    for street in district.streets:
        missing, late = rng.uniform(0.0, 0.2), rng.uniform(0.05, 0.3)
        by = district.officers[street.id]
        for year, month in months:
            roll = rng.random()
            if roll < missing:
                continue
            day = rng.randint(due, 28) if roll < missing + late else rng.randint(8, due - 1)
            submitted = period.office_hours(rng, date(year, month, day))
            difficulties = rng.choice(_DIFFICULTIES) if rng.random() < 0.3 else None
            monthly_by, quarterly_by = rng.choice(by), rng.choice(by)
            cases, incidents = rng.randint(0, 3), rng.randint(0, 1)
            if not period.happened(submitted):
                continue
            counted = {  # what the street did this month, up to the day it reported
                what: sum(date(year, month, 1) <= d <= submitted.date() for d in days)
                for (street_id, what), days in done.items()
                if street_id == street.id
            }
            body = {
                "new_unions": counted.get("unionised", 0),
                "worker_meetings": counted.get(MeetingKind.WORKER.value, 0),
                "other_meetings": sum(
                    n for what, n in counted.items() if what in _OTHER_MEETING_KINDS
                ),
            }
            rows.append(_report(street, ReportKind.MONTHLY, f"{year}-{month:02d}", body,
                                difficulties, monthly_by, submitted))  # fmt: skip
            if month % 3 == quarter_month % 3:
                quarter = f"{year}-Q{(month - 1) // 3 + 1}"
                body = {"cases": cases, "public_opinion_incidents": incidents}
                rows.append(_report(street, ReportKind.QUARTERLY, quarter, body, None,
                                    quarterly_by, submitted))  # fmt: skip
    rows.sort(key=lambda r: (r["submitted_at"], r["street_id"], r["kind"]))
    return rows


def _report(
    street: _Street,
    kind: ReportKind,
    period: str,
    body: dict[str, Any],
    difficulties: str | None,
    by: int,
    at: datetime,
) -> dict[str, Any]:
    return {
        "street_id": street.id,
        "kind": kind,
        "period": period,
        "body": body,
        "difficulties": difficulties,
        "submitted_by": by,
        "submitted_at": at,
        "closed_at": None,
    }


def _months(first: date, last: date) -> list[tuple[int, int]]:
    months = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


# --- members -----------------------------------------------------------------------------


def _members(
    units: list[_Unit],
    meetings: list[dict[str, Any]],
    meeting_ids: list[int],
    count: int,
    period: _Period,
    rng: random.Random,
) -> Iterator[dict[str, Any]]:
    """`count` member rows, in the order they were registered (so ids follow time), built
    lazily from compact drafts in arrays: only one batch of row dicts exists at a time.

    Members belong to unionised units, weighted by headcount. Some joined at a meeting (and
    point at it); of the units unionised before the plan, more than half the members came in
    with each street's import of its older records in March; the rest registered with an
    officer or online, on or after their unit's union date."""
    if count == 0 or not units:
        return
    # Drawn first, so that the sampler's working set is gone before the drafts are built.
    mobiles = array("q", rng.sample(range(len(_MOBILE_PREFIXES) * 10**8), count))
    by_street: dict[int, list[_Unit]] = defaultdict(list)
    for unit in units:
        by_street[unit.street_id].append(unit)
    imported = {  # minute of each street's import, counted from day 1 of the calendar
        street_id: _minute(min(period.through, period.start + timedelta(days=rng.randint(3, 30))),
                           10 * 60)
        for street_id in by_street
    }  # fmt: skip
    index = {unit.id: i for i, unit in enumerate(units)}
    # One member per position: when registered (minute), unit (index into units), joined_on
    # (ordinal), and how: a meeting id, or _IMPORT, _BY_OFFICER, _ONLINE.
    minutes, unit_of, joined_on, origin = array("q"), array("q"), array("q"), array("q")
    for unit, held_on, meeting_id in _meeting_joins(
        rng, meetings, meeting_ids, by_street, count // 5
    ):
        minutes.append(_minute(held_on, rng.randint(9 * 60, 21 * 60)))
        unit_of.append(index[unit.id])
        joined_on.append(held_on.toordinal())
        origin.append(meeting_id)
    cum_headcount = list(accumulate(u.headcount for u in units))
    total = cum_headcount[-1]
    start, through = period.start.toordinal(), period.through.toordinal()
    random_ = rng.random  # the loop below runs 260,000 times: no attribute look-ups
    for _ in range(count - len(minutes)):
        i = bisect_right(cum_headcount, random_() * total)
        unit = units[i]
        union_day = unit.unionised_on.toordinal() if unit.unionised_on else start
        if union_day < start and random_() < 0.55:
            joined = union_day + int(random_() * (start - union_day))
            minute, how = imported[unit.street_id], _IMPORT
        else:
            low = max(start, union_day)
            joined = low + int(random_() * (through - low + 1))
            if random_() < 0.4:
                minute, how = joined * 1440 + 7 * 60 + int(random_() * 16 * 60), _ONLINE
            else:
                minute, how = joined * 1440 + 9 * 60 + int(random_() * 12 * 60), _BY_OFFICER
        minutes.append(minute)
        unit_of.append(i)
        joined_on.append(joined)
        origin.append(how)
    order = sorted(range(count), key=minutes.__getitem__)  # stable: ties keep drawing order

    days: dict[int, tuple[date, datetime]] = {}
    for first in range(0, count, _BATCH):
        positions = range(first, min(count, first + _BATCH))
        surnames = rng.choices(_SURNAMES, cum_weights=_SURNAME_CUM_WEIGHTS, k=len(positions))
        given = rng.choices(_GIVEN, k=2 * len(positions))
        for k, n in enumerate(positions):
            m = order[n]
            ordinal, minute_of_day = divmod(minutes[m], 1440)
            for day_number in (ordinal, joined_on[m]):
                if day_number not in days:
                    day = date.fromordinal(day_number)
                    days[day_number] = (day, period.at(day, 0))
            unit, how, digits = units[unit_of[m]], origin[m], mobiles[n]
            yield {
                "name": surnames[k] + given[2 * k] + (given[2 * k + 1] if n % 10 < 7 else ""),
                "mobile": f"{_MOBILE_PREFIXES[digits // 10**8]}{digits % 10**8:08d}",
                "unit_id": unit.id,
                "street_id": unit.street_id,
                "joined_on": days[joined_on[m]][0],
                "telegram_user_id": ONLINE_MEMBER_ID_BASE + n if how == _ONLINE else None,
                "meeting_id": how if how > 0 else None,
                "source": _SOURCES.get(how, "officer"),  # a meeting's new members: officers'
                "created_at": days[ordinal][1] + timedelta(minutes=minute_of_day),
            }


def _minute(day: date, minute_of_day: int) -> int:
    return day.toordinal() * 1440 + minute_of_day


def _meeting_joins(
    rng: random.Random,
    meetings: list[dict[str, Any]],
    meeting_ids: list[int],
    by_street: Mapping[int, list[_Unit]],
    cap: int,
) -> list[tuple[_Unit, date, int]]:
    """Members who joined at a meeting, up to `cap`: each from a unit of the meeting's street
    that had a union by then, the larger units more likely."""
    joins: list[tuple[_Unit, date, int]] = []
    for meeting, meeting_id in zip(meetings, meeting_ids, strict=True):
        held_on = meeting["held_on"]
        eligible = [
            u
            for u in by_street.get(meeting["street_id"], [])
            if u.unionised_on is not None and u.unionised_on <= held_on
        ]
        if not eligible:
            continue
        weights = [u.headcount for u in eligible]
        for unit in rng.choices(eligible, weights=weights, k=meeting["new_members"]):
            if len(joins) >= cap:
                return joins
            joins.append((unit, held_on, meeting_id))
    return joins


# --- the summary -------------------------------------------------------------------------


def _summary(
    *,
    plan: Plan,
    period: _Period,
    district: _District,
    unit_updates: _UnitUpdates,
    meetings: list[dict[str, Any]],
    visits: list[dict[str, Any]],
    reports: list[dict[str, Any]],
    members: int,
) -> ActivitySummary:
    headcount = {u.id: u.headcount for u in district.units}
    bands: Counter[str] = Counter({band.key: 0 for band in plan.size_bands} | {"<100": 0})
    for unit_id in unit_updates.unionised:
        band = size_band(headcount[unit_id], plan.size_bands)
        bands[band.key if band else "<100"] += 1
    worker = Counter(m["street_id"] for m in meetings if m["kind"] is MeetingKind.WORKER)
    guidance = [v for v in visits if v["kind"] is VisitKind.GUIDANCE]
    return ActivitySummary(
        through=period.through,
        officers=len(district.staff)
        + sum(len(v) for v in district.officers.values())
        + sum(len(v) for v in district.workers.values()),
        written_off=dict(bands),
        ledger_advanced=unit_updates.advanced,
        obstructed=unit_updates.obstructed,
        departed=len(unit_updates.departed),
        meetings={k.value: sum(m["kind"] is k for m in meetings) for k in MeetingKind},
        streets_at_meeting_target=sum(
            n >= plan.targets.worker_meetings.per_street for n in worker.values()
        ),
        unit_visits=len(visits) - len(guidance),
        guidance_visits=len(guidance),
        streets_guided=len({v["street_id"] for v in guidance}),
        members=members,
        reports={k.value: sum(r["kind"] is k for r in reports) for k in ReportKind},
    )
