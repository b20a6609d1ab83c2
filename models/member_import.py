"""Registering new members in a batch, from the spreadsheet or CSV a street keeps its lists in.

Reading and checking are pure (bytes in, a report out; the database's facts are arguments):
nothing is written until the officer confirms, and then every good row is registered in one
transaction with `register_member`, its welcome in one outbox batch whose progress the bot
shows in a message. Headers are matched loosely (姓名/name, 手机号码/联系电话/mobile, 单位,
入会日期, 街道/街乡 …), every row is checked, and each problem names the row as the
spreadsheet numbers it and the column as the file heads it. Mobile numbers in problems are
masked like everywhere else.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit, sheets
from models.enums import OutboxChannel
from models.members import (
    NAME_MAX,
    MemberSource,
    member_snapshot,
    sms_text,
    union_name,
    welcome_template,
    welcome_text,
)
from models.mobile import normalise_mobile
from models.outbox import Outgoing, enqueue
from models.plan import Plan
from models.sheets import (
    DateIssue,
    find_table,
    has_long_digits,
    masked,
    read_rows,
    shown,
)
from models.sheets import date_of as read_sheet_date
from models.tables import AuditEntry, Member, OutboxBatch, Street, Unit

MAX_ROWS = 20_000  # data rows in one file; a larger list is split by the street


class Column(StrEnum):
    NAME = "name"
    MOBILE = "mobile"
    UNIT = "unit"
    JOINED_ON = "joined_on"
    STREET = "street"


# Headers as people write them, compared after NFKC, without spaces, in lower case.
HEADERS: dict[Column, tuple[str, ...]] = {
    Column.NAME: ("姓名", "名字", "会员姓名", "职工姓名", "name", "fullname"),
    Column.MOBILE: ("手机", "手机号", "手机号码", "联系电话", "电话", "电话号码", "联系方式",
                    "mobile", "phone", "mobilenumber"),
    Column.UNIT: ("单位", "单位名称", "工作单位", "所在单位", "unit", "company", "employer"),
    Column.JOINED_ON: ("入会日期", "入会时间", "日期", "joindate", "joinedon", "joined", "date"),
    Column.STREET: ("街道", "街乡", "街道乡镇", "所属街道", "所属街乡", "street"),
}  # fmt: skip
_HEADER_OF = {word: column for column, words in HEADERS.items() for word in words}
_NEEDED = frozenset({Column.NAME, Column.MOBILE})
Table = sheets.Table[Column]


class Issue(StrEnum):
    """What is wrong with one cell. Warnings still import the row."""

    NAME_MISSING = "name_missing"
    NAME_TOO_LONG = "name_too_long"
    NAME_HAS_NUMBER = "name_has_number"  # a phone number typed into the name cell
    MOBILE_MISSING = "mobile_missing"
    MOBILE_INVALID = "mobile_invalid"
    MOBILE_REPEATED = "mobile_repeated"  # the same number earlier in the file
    MOBILE_MEMBER = "mobile_member"  # already a member
    STREET_MISSING = "street_missing"
    STREET_UNKNOWN = "street_unknown"
    STREET_OTHER = "street_other"  # an officer's file naming another street
    DATE_INVALID = "date_invalid"
    DATE_FUTURE = "date_future"
    UNIT_UNKNOWN = "unit_unknown"  # warning: registered without a unit
    UNIT_AMBIGUOUS = "unit_ambiguous"  # warning: registered without a unit

    @property
    def warning(self) -> bool:
        return self in (Issue.UNIT_UNKNOWN, Issue.UNIT_AMBIGUOUS)


@dataclass(frozen=True)
class Problem:
    row: int  # as the spreadsheet numbers it (the header is a row too)
    column: Column
    header: str  # the column's heading as the file writes it
    issue: Issue
    value: str  # the cell as shown: trimmed, long digit runs masked
    first_row: int | None = None  # MOBILE_REPEATED: where the number came first


@dataclass(frozen=True)
class GoodRow:
    row: int
    name: str
    mobile: str
    street_id: int
    joined_on: date
    unit_id: int | None


@dataclass(frozen=True)
class Facts:
    """What the checks need from the database."""

    streets: dict[str, int]  # name → id
    units: dict[int, dict[str, list[int]]]  # street id → unit name (normalised) → ids
    members: frozenset[str]  # the file's mobile numbers that are members already


@dataclass
class ImportReport:
    table: Table
    good: list[GoodRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.table.rows)

    @property
    def bad_rows(self) -> list[int]:
        return sorted({p.row for p in self.problems if not p.issue.warning})

    @property
    def warned_rows(self) -> list[int]:
        bad = set(self.bad_rows)
        return sorted({p.row for p in self.problems if p.issue.warning and p.row not in bad})


# --- reading ------------------------------------------------------------------------------


def read_table(data: bytes, file_name: str) -> Table:
    """The first sheet of an .xlsx, or a CSV in UTF-8 or GBK; FileRefused says why not."""
    rows = read_rows(data, file_name, max_rows=MAX_ROWS)
    return find_table(rows, _HEADER_OF, [_NEEDED], max_rows=MAX_ROWS)


# --- checking -----------------------------------------------------------------------------


def cell(table: Table, cells: tuple[object, ...], column: Column) -> object:
    index = table.columns.get(column)
    if index is None or index >= len(cells):
        return None
    value = cells[index]
    return value.strip() if isinstance(value, str) else value


def mobile_of(value: object) -> str | None:
    """A mobile number from a cell: text as typed, or a number (Excel stores 13812345678 as
    one, sometimes as 13812345678.0)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    return normalise_mobile(str(value))


def date_of(value: object, *, today: date) -> date | Issue:
    """A join date (see models.sheets.date_of); never after today."""
    found = read_sheet_date(value, today=today)
    return Issue(found.value) if isinstance(found, DateIssue) else found


def unit_key(name: str) -> str:
    """Unit names compared as people type them: full-width brackets, spaces, case aside."""
    return re.sub(r"\s", "", unicodedata.normalize("NFKC", name)).upper()


def street_of(text: str, streets: dict[str, int]) -> int | None:
    """A street by its full name or an unambiguous part of it (拱辰 → 拱辰街道)."""
    text = unicodedata.normalize("NFKC", text).strip()
    if text in streets:
        return streets[text]
    found = {i for name, i in streets.items() if text and text in name}
    return found.pop() if len(found) == 1 else None


def check_table(
    table: Table, facts: Facts, *, street_id: int | None, own_street_id: int | None, today: date
) -> ImportReport:
    """Every row checked: the good ones ready to register, and each problem by row and column.
    `street_id` is the street of rows that name none; an officer (`own_street_id`) may only
    register members of their own street."""
    report = ImportReport(table=table)
    first_seen: dict[str, int] = {}  # mobile → the row it came first in
    for number, cells in table.rows:
        row = _RowCheck(table, number, cells)
        name = str(row.value(Column.NAME) or "").strip()
        if not name:
            row.problem(Column.NAME, Issue.NAME_MISSING)
        elif len(name) > NAME_MAX:
            row.problem(Column.NAME, Issue.NAME_TOO_LONG)
        elif has_long_digits(name):
            row.problem(Column.NAME, Issue.NAME_HAS_NUMBER)

        raw_mobile = row.value(Column.MOBILE)
        mobile = mobile_of(raw_mobile)
        if raw_mobile is None or str(raw_mobile).strip() == "":
            row.problem(Column.MOBILE, Issue.MOBILE_MISSING)
        elif mobile is None:
            row.problem(Column.MOBILE, Issue.MOBILE_INVALID)
        elif mobile in first_seen:
            row.problem(Column.MOBILE, Issue.MOBILE_REPEATED, first_seen[mobile])
        elif mobile in facts.members:
            row.problem(Column.MOBILE, Issue.MOBILE_MEMBER)
        if mobile is not None:
            first_seen.setdefault(mobile, number)

        street = _row_street(row, facts, street_id, own_street_id)

        joined: date | Issue = today  # no date given: joined today, as /member assumes
        raw_date = row.value(Column.JOINED_ON)
        if raw_date is not None and str(raw_date).strip() != "":
            joined = date_of(raw_date, today=today)
            if isinstance(joined, Issue):
                row.problem(Column.JOINED_ON, joined)

        unit_id = None
        raw_unit = str(row.value(Column.UNIT) or "").strip()
        if raw_unit and street is not None:
            ids = facts.units.get(street, {}).get(unit_key(raw_unit), [])
            if len(ids) == 1:
                unit_id = ids[0]
            else:
                row.problem(Column.UNIT, Issue.UNIT_AMBIGUOUS if ids else Issue.UNIT_UNKNOWN)

        report.problems.extend(row.found)
        if any(not p.issue.warning for p in row.found):
            continue
        assert mobile is not None and street is not None and isinstance(joined, date)
        report.good.append(GoodRow(number, name, mobile, street, joined, unit_id))
    return report


class _RowCheck:
    """One row's cells and the problems found in them."""

    def __init__(self, table: Table, number: int, cells: tuple[object, ...]) -> None:
        self.table, self.number, self.cells = table, number, cells
        self.found: list[Problem] = []

    def value(self, column: Column) -> object:
        return cell(self.table, self.cells, column)

    def problem(self, column: Column, issue: Issue, first_row: int | None = None) -> None:
        self.found.append(
            Problem(self.number, column, self.table.heading(column), issue,
                    shown(self.value(column)), first_row)
        )  # fmt: skip


def _row_street(
    row: _RowCheck, facts: Facts, street_id: int | None, own_street_id: int | None
) -> int | None:
    raw = str(row.value(Column.STREET) or "").strip()
    if not raw:
        if street_id is None:
            row.problem(Column.STREET, Issue.STREET_MISSING)
        return street_id
    found = street_of(raw, facts.streets)
    if found is None:
        row.problem(Column.STREET, Issue.STREET_UNKNOWN)
        return None
    if own_street_id is not None and found != own_street_id:
        row.problem(Column.STREET, Issue.STREET_OTHER)
        return None
    return found


def candidate_mobiles(table: Table) -> set[str]:
    return {m for _, cells in table.rows if (m := mobile_of(cell(table, cells, Column.MOBILE)))}


def bad_rows_csv(report: ImportReport, describe: Callable[[Problem], str], heading: str) -> bytes:
    """The rows with problems as they were (numbers masked), with the row number first and a
    column (`heading`, 问题) saying what is wrong; UTF-8 with a BOM, so Excel reads it."""
    table = report.table
    by_row: dict[int, list[Problem]] = {}
    for p in report.problems:
        by_row.setdefault(p.row, []).append(p)
    cells_of = dict(table.rows)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["#", *table.header, heading])
    width = len(table.header)
    for number in sorted(by_row):
        values = [masked(c) for c in cells_of[number][:width]]
        values += [""] * (width - len(values))
        writer.writerow([number, *values, "; ".join(describe(p) for p in by_row[number])])
    return out.getvalue().encode("utf-8-sig")


# --- the database -------------------------------------------------------------------------


async def load_facts(
    *, session: AsyncSession, mobiles: Iterable[str], street_ids: Iterable[int] | None
) -> Facts:
    """Streets, the units of `street_ids` (every street's when None) and which of `mobiles`
    are members already."""
    streets = {
        name: id_
        for name, id_ in (await session.exec(select(Street.name, Street.id))).all()
        if id_ is not None
    }
    query = select(Unit.id, Unit.name, Unit.street_id)
    if street_ids is not None:
        query = query.where(col(Unit.street_id).in_(list(street_ids)))
    units: dict[int, dict[str, list[int]]] = {}
    for unit_id, name, unit_street in (await session.exec(query)).all():
        assert unit_id is not None
        units.setdefault(unit_street, {}).setdefault(unit_key(name), []).append(unit_id)
    wanted, members = sorted(set(mobiles)), set[str]()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found = select(Member.mobile).where(col(Member.mobile).in_(chunk))
        members.update(mobile for mobile in (await session.exec(found)).all() if mobile)
    return Facts(streets=streets, units=units, members=frozenset(members))


async def review(
    *,
    session: AsyncSession,
    table: Table,
    street_id: int | None,
    own_street_id: int | None,
    today: date,
) -> ImportReport:
    """Check a file against the database: nothing is written."""
    facts = await load_facts(
        session=session,
        mobiles=candidate_mobiles(table),
        street_ids=None if Column.STREET in table.columns and own_street_id is None
        else [s for s in (own_street_id or street_id,) if s is not None],
    )  # fmt: skip
    return check_table(table, facts, street_id=street_id, own_street_id=own_street_id, today=today)


@dataclass(frozen=True)
class ImportResult:
    batch_id: int
    registered: int
    skipped: int  # registered by someone else between the report and the confirmation
    welcomes: int  # outbox rows queued in the batch


def new_token() -> str:
    """Ties a report's buttons to that report: an older one cannot confirm a newer file."""
    return secrets.token_hex(4)


async def import_members(
    *,
    session: AsyncSession,
    plan: Plan,
    rows: Sequence[GoodRow],
    by_user_id: int | None,
    now: datetime,
    chat_id: int | None,
    file_name: str,
) -> ImportResult:
    """Register every row and queue the welcomes in one outbox batch, all in the caller's
    transaction. A number registered since the report was made is skipped.

    This writes what `register_member` writes for each member (the row, its audit entry, its
    welcome), but in a few statements for the whole list: one by one, each member costs six
    round trips through the database driver, about 13 ms, so a list of 2,000 would hold the
    write lock for half a minute and 20,000 for five. tests/bot/test_members_import.py checks
    that both ways write the same."""
    batch = OutboxBatch(label="welcome", total=0, chat_id=chat_id, created_at=now)
    session.add(batch)
    await session.flush()
    assert batch.id is not None
    taken = await _members_among(session, [row.mobile for row in rows])
    fresh: dict[str, GoodRow] = {}
    for row in rows:
        if row.mobile not in taken:
            fresh.setdefault(row.mobile, row)
    source, values = MemberSource.IMPORT.value, list[dict[str, object]]()
    for row in fresh.values():
        values.append(
            {"name": row.name, "mobile": row.mobile, "unit_id": row.unit_id,
             "street_id": row.street_id, "joined_on": row.joined_on, "telegram_user_id": None,
             "meeting_id": None, "source": source, "created_at": now, "created_by": by_user_id}
        )  # fmt: skip
    if values:  # executemany: compiled once, whatever the list's length
        await session.exec(sa.insert(Member), params=values)
    members = await _members_by_mobile(session, list(fresh))
    entries = [
        {"at": now, "actor_user_id": by_user_id, "action": "member.register", "entity": "member",
         "entity_id": str(m.id), "before": None, "after": member_snapshot(m)}
        for m in members
    ]  # fmt: skip
    if entries:
        await session.exec(sa.insert(AuditEntry), params=entries)
    welcomes = await _welcomes(session, plan, members, now)
    queued = 0
    for rows_of in _chunks(welcomes, 500):
        queued += await enqueue(session=session, rows=rows_of, now=now, batch_id=batch.id)
    batch.total = queued
    session.add(batch)
    audit.record(
        session=session, now=now, actor_user_id=by_user_id, action="member.import",
        entity="outbox_batch", entity_id=batch.id,
        after={"file": file_name[:128], "rows": len(rows), "registered": len(members),
               "skipped": len(rows) - len(members), "welcomes": queued},
    )  # fmt: skip
    return ImportResult(batch.id, len(members), len(rows) - len(members), queued)


T = TypeVar("T")


def _chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def _members_among(session: AsyncSession, mobiles: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(sorted(set(mobiles)), 500):
        query = select(Member.mobile).where(col(Member.mobile).in_(chunk))
        found.update(mobile for mobile in (await session.exec(query)).all() if mobile)
    return found


async def _members_by_mobile(session: AsyncSession, mobiles: Sequence[str]) -> list[Member]:
    found: list[Member] = []
    for chunk in _chunks(mobiles, 500):
        query = select(Member).where(col(Member.mobile).in_(chunk)).order_by(col(Member.id))
        found += (await session.exec(query)).all()
    return sorted(found, key=lambda m: m.id or 0)


async def _welcomes(
    session: AsyncSession, plan: Plan, members: Sequence[Member], now: datetime
) -> list[Outgoing]:
    """The rows `queue_welcome` queues, for members just imported: an SMS each (no imported
    member is linked to Telegram, nor has opted out yet)."""
    template = await welcome_template(session=session, plan=plan)
    streets = {i: name for i, name in (await session.exec(select(Street.id, Street.name))).all()}
    return [
        Outgoing(
            key=f"welcome|sms|{m.id}", kind="welcome", channel=OutboxChannel.SMS,
            recipient=m.mobile, not_before=now,
            payload={"text": sms_text(plan, welcome_text(template, name=m.name,
                                                         union=union_name(streets[m.street_id]))),
                     "member_id": m.id},
        )
        for m in members
        if m.mobile is not None  # always, for members just imported
    ]  # fmt: skip


async def show_progress_in(
    *, session: AsyncSession, batch_id: int, chat_id: int, message_id: int
) -> None:
    """The message that shows the batch's progress, once the bot has sent it."""
    batch = await session.get(OutboxBatch, batch_id)
    assert batch is not None
    batch.chat_id, batch.message_id = chat_id, message_id
    session.add(batch)
