"""Importing the district's data lists: the tax list of units (明细表), social-security
headcounts (社保), and the member management system's records (会员系统).

Reading and checking are pure (rows in, a review out; the database's facts are an argument),
and so is working out what an import would change. `apply_import` then writes exactly that in
the caller's transaction, with an audit row for every unit it changes. Units are matched by
their credit code, so importing the same file again changes nothing. A unit the tax list no
longer names is flagged (`missing_since`), never deleted: moved out or closed is an officer's
call. Codes the other two sources list but the tax list does not are kept as `SourceUnit`s,
the three-way comparison's blind spots.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit
from models.credit_code import is_valid_credit_code
from models.enums import Ownership, UnitStatus
from models.ledger import record_completion
from models.member_import import street_of
from models.mobile import normalise_mobile
from models.sheets import (
    DateIssue,
    FileProblem,
    FileRefused,
    Progress,
    Table,
    column_letter,
    count_of,
    date_of,
    find_table,
    header_key,
    read_rows,
    shown,
    text_of,
)
from models.tables import AuditEntry, DataImport, SourceUnit, Street, Unit, Zone
from models.units import MAX_UNIT_NAME

MAX_ROWS = 150_000  # a district's member records fit (101,240 in 2018); more is split
CHUNK = 500  # rows per statement: well under SQLite's and asyncpg's parameter limits


class ImportKind(StrEnum):
    UNITS = "units"  # the tax list: 地税个税人数 by unit, the target base
    SOCIAL = "social"  # social-security headcounts (社保参保人数)
    MEMBER_SYSTEM = "member_system"  # the member management system: one row per member


class Field(StrEnum):
    UNIT_NAME = "unit_name"
    CREDIT_CODE = "credit_code"
    STREET = "street"
    TAX_HEADCOUNT = "tax_headcount"
    SOCIAL_HEADCOUNT = "social_headcount"
    MEMBER_COUNT = "member_count"
    OWNERSHIP = "ownership"
    ZONE = "zone"
    DUES_FLAG = "dues_flag"
    PERSON = "person"  # a member's name
    PERSON_ID = "person_id"  # 身份证号: only to find a member listed twice; never kept
    MOBILE = "mobile"  # likewise
    JOINED_ON = "joined_on"


# Headings as the tax office, social security, the member system and our own exports write
# them, compared as models.sheets.header_key makes them (no spaces or punctuation, lower case).
HEADINGS: dict[Field, tuple[str, ...]] = {
    Field.UNIT_NAME: ("单位名称", "企业名称", "纳税人名称", "用人单位名称", "参保单位名称",
                      "单位", "企业", "工作单位", "所在单位", "unitname", "unit", "company",
                      "employer"),
    Field.CREDIT_CODE: ("统一社会信用代码", "社会信用代码", "信用代码", "纳税人识别号",
                        "单位统一社会信用代码", "单位信用代码", "creditcode", "uscc"),
    Field.STREET: ("所属街乡", "街乡", "街道", "所属街道", "街道乡镇", "乡镇街道", "所在街乡",
                   "street"),
    Field.TAX_HEADCOUNT: ("个税人数", "地税人数", "地税个税人数", "纳税人数", "职工人数",
                          "从业人数", "员工人数", "人数", "taxheadcount", "headcount",
                          "employees"),
    Field.SOCIAL_HEADCOUNT: ("社保人数", "社保", "参保人数", "社保参保人数", "缴费人数",
                             "社保缴费人数", "socialsecurityheadcount", "socialsecurity",
                             "insured"),
    Field.MEMBER_COUNT: ("会员人数", "会员数", "members", "membercount"),
    Field.OWNERSHIP: ("所有制", "所有制类型", "经济类型", "单位性质", "ownership"),
    Field.ZONE: ("重点园区", "园区", "所在园区", "zone"),
    Field.DUES_FLAG: ("税务代收未采集", "税务代收", "代收工会经费", "duespaidnotcollected"),
    Field.PERSON: ("姓名", "会员姓名", "职工姓名", "name", "membername"),
    Field.PERSON_ID: ("身份证号", "身份证号码", "公民身份号码", "证件号码", "idnumber"),
    Field.MOBILE: ("手机号码", "手机号", "手机", "联系电话", "mobile", "phone"),
    Field.JOINED_ON: ("入会日期", "入会时间", "joinedon", "joindate"),
}  # fmt: skip
_FIELD_OF = {header_key(word): f for f, words in HEADINGS.items() for word in words}

NEEDS: dict[ImportKind, frozenset[Field]] = {
    ImportKind.UNITS: frozenset(
        {Field.UNIT_NAME, Field.CREDIT_CODE, Field.STREET, Field.TAX_HEADCOUNT}
    ),
    ImportKind.SOCIAL: frozenset({Field.CREDIT_CODE, Field.SOCIAL_HEADCOUNT}),
    ImportKind.MEMBER_SYSTEM: frozenset({Field.CREDIT_CODE, Field.PERSON}),
}
USES: dict[ImportKind, frozenset[Field]] = {
    ImportKind.UNITS: NEEDS[ImportKind.UNITS]
    | {Field.SOCIAL_HEADCOUNT, Field.MEMBER_COUNT, Field.OWNERSHIP, Field.ZONE, Field.DUES_FLAG},
    ImportKind.SOCIAL: NEEDS[ImportKind.SOCIAL] | {Field.UNIT_NAME, Field.STREET},
    ImportKind.MEMBER_SYSTEM: NEEDS[ImportKind.MEMBER_SYSTEM]
    | {Field.UNIT_NAME, Field.STREET, Field.PERSON_ID, Field.MOBILE, Field.JOINED_ON},
}
# When a sheet could be more than one kind (our unit export carries social headcounts too),
# the first of these is the guess; the others are offered.
PREFERENCE = (ImportKind.UNITS, ImportKind.MEMBER_SYSTEM, ImportKind.SOCIAL)

# Ownership as written in Chinese and English (the exports' labels included).
OWNERSHIP_WORDS: dict[str, Ownership] = {
    **dict.fromkeys(("非公有制", "非公", "民营", "私营", "nonpublic"), Ownership.NON_PUBLIC),
    **dict.fromkeys(("国有", "国有企业", "state", "stateowned"), Ownership.STATE),
    **dict.fromkeys(("集体", "集体企业", "collective"), Ownership.COLLECTIVE),
    **dict.fromkeys(("事业单位", "publicinstitution"), Ownership.PUBLIC_INSTITUTION),
    **dict.fromkeys(("机关", "government", "governmentbody", "governmentorgan"),
                    Ownership.GOVERNMENT),
    **dict.fromkeys(("社会组织", "socialorganisation", "socialorganization"),
                    Ownership.SOCIAL_ORGANISATION),
}  # fmt: skip
_YES = {"是", "√", "✓", "y", "yes", "true", "1"}
_NO = {"否", "×", "n", "no", "false", "0"}


class Issue(StrEnum):
    """What is wrong with one cell. Warnings still import the row."""

    NAME_MISSING = "name_missing"
    NAME_TOO_LONG = "name_too_long"
    CODE_MISSING = "code_missing"
    CODE_INVALID = "code_invalid"  # not 18 characters of the alphabet, or a wrong check char
    CODE_REPEATED = "code_repeated"  # the same code earlier in the file
    STREET_MISSING = "street_missing"
    STREET_UNKNOWN = "street_unknown"
    COUNT_MISSING = "count_missing"
    COUNT_INVALID = "count_invalid"
    FORMULA = "formula"  # a formula saved without its value: open and save in Excel
    OWNERSHIP_UNKNOWN = "ownership_unknown"
    ZONE_UNKNOWN = "zone_unknown"
    FLAG_INVALID = "flag_invalid"
    PERSON_MISSING = "person_missing"
    PERSON_REPEATED = "person_repeated"  # the same ID number or mobile earlier in the file
    DATE_INVALID = "date_invalid"
    DATE_FUTURE = "date_future"
    NAME_TAKEN = "name_taken"  # warning: another code has this name in this street already
    STREET_IGNORED = "street_ignored"  # warning: an unknown street where it is only a note

    @property
    def warning(self) -> bool:
        return self in (Issue.NAME_TAKEN, Issue.STREET_IGNORED)


@dataclass(frozen=True)
class Problem:
    row: int  # as the spreadsheet numbers it
    field: Field
    column: str  # the column's letter, "" for a field the sheet lacks
    header: str  # the heading as the file writes it
    issue: Issue
    value: str  # the cell as a message may show it
    first_row: int | None = None  # repeats: where it came first


@dataclass(frozen=True)
class UnitRow:
    """A good row of the tax list. None: the sheet has no such column, or left it blank, and
    the unit keeps what it has."""

    row: int
    credit_code: str
    name: str
    street_id: int
    tax_headcount: int
    social_security_headcount: int | None = None
    member_count: int | None = None
    ownership: Ownership | None = None
    zone_id: int | None = None
    dues_paid_uncollected: bool | None = None


@dataclass
class SourceCount:
    """One credit code's figure from the social-security list or the member system."""

    credit_code: str
    name: str
    street_id: int | None
    headcount: int
    rows: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class KnownUnit:
    id: int
    credit_code: str
    name: str
    street_id: int
    tax_headcount: int
    social_security_headcount: int | None
    member_count: int
    ownership: Ownership
    zone_id: int | None
    dues_paid_uncollected: bool
    status: UnitStatus
    missing_since: date | None
    member_system_collected: bool
    legal_person_certified: bool


@dataclass(frozen=True)
class Facts:
    """What the checks and the plan of changes need from the database."""

    streets: dict[str, int]  # name → id
    zones: dict[str, int]
    units: dict[str, KnownUnit]  # by credit code
    sources: dict[tuple[str, str], tuple[str, int | None, int]]  # (source, code) → figures


@dataclass
class Review:
    kind: ImportKind
    table: Table[Field]
    units: list[UnitRow] = field(default_factory=list)  # UNITS
    counts: dict[str, SourceCount] = field(default_factory=dict)  # SOCIAL, MEMBER_SYSTEM
    problems: list[Problem] = field(default_factory=list)
    good_rows: int = 0
    # Every code and street the tax list names, bad rows included: a unit on a row with a
    # typo in its headcount is still listed, and must not be flagged as gone.
    listed: set[str] = field(default_factory=set)
    streets: set[int] = field(default_factory=set)

    @property
    def rows(self) -> int:
        return len(self.table.rows)

    @property
    def bad_rows(self) -> list[int]:
        return sorted({p.row for p in self.problems if not p.issue.warning})


# --- reading ------------------------------------------------------------------------------


def read_sheet(data: bytes, file_name: str, progress: Progress | None = None) -> Table[Field]:
    """The table of any of the three kinds; FileRefused says why there is none."""
    rows = read_rows(data, file_name, max_rows=MAX_ROWS, progress=progress)
    return find_table(rows, _FIELD_OF, list(NEEDS.values()), max_rows=MAX_ROWS)


def find_header(rows: list[tuple[object, ...]]) -> Table[Field]:
    """The header of any of the three kinds among `rows` (the first few of a sheet will do)."""
    return find_table(rows, _FIELD_OF, list(NEEDS.values()), max_rows=len(rows))


def kinds_of(table: Table[Field]) -> list[ImportKind]:
    """The kinds of list the sheet has the columns for, the likeliest first."""
    return [kind for kind in PREFERENCE if NEEDS[kind] <= table.columns.keys()]


def mapping(table: Table[Field], kind: ImportKind) -> list[tuple[Field, str, str]]:
    """(field, column letter, heading) for each column the import reads, in sheet order."""
    used = sorted((i, f) for f, i in table.columns.items() if f in USES[kind])
    return [(f, column_letter(i), table.header[i]) for i, f in used]


def ignored(table: Table[Field], kind: ImportKind) -> list[str]:
    """Headings of the columns the import leaves alone."""
    used = {i for f, i in table.columns.items() if f in USES[kind]}
    return [h for i, h in enumerate(table.header) if h and i not in used]


# --- checking -----------------------------------------------------------------------------


def credit_code_of(value: object) -> str:
    """A credit code as typed: full-width characters, spaces and lower case put right."""
    return re.sub(r"\s", "", text_of(value)).upper()


def check(
    table: Table[Field],
    kind: ImportKind,
    facts: Facts,
    *,
    today: date,
    formulas: Callable[[Iterable[tuple[int, int]]], set[tuple[int, int]]] = lambda _: set(),
) -> Review:
    """Every row checked; the good ones ready to import, each problem by row and column.
    `formulas` says which blank cells hold a formula without a value (models.sheets)."""
    review = Review(kind=kind, table=table)
    checker = _Checker(table, facts, today)
    if kind is ImportKind.UNITS:
        checker.units(review)
    else:
        checker.counts(review, kind)
    blanks = [(p.row, table.columns[p.field]) for p in review.problems if _blank_issue(p)]
    if blanks:
        with_formula = formulas(blanks)
        review.problems = [
            _as_formula(p) if (p.row, table.columns.get(p.field)) in with_formula else p
            for p in review.problems
        ]
    review.problems.sort(key=lambda p: (p.row, table.columns.get(p.field, 0)))
    return review


def _blank_issue(p: Problem) -> bool:
    return p.issue in (Issue.NAME_MISSING, Issue.CODE_MISSING, Issue.STREET_MISSING,
                       Issue.COUNT_MISSING, Issue.PERSON_MISSING) and p.column != ""  # fmt: skip


def _as_formula(p: Problem) -> Problem:
    return Problem(p.row, p.field, p.column, p.header, Issue.FORMULA, p.value)


class _Checker:
    def __init__(self, table: Table[Field], facts: Facts, today: date) -> None:
        self.table, self.facts, self.today = table, facts, today
        self.problems: list[Problem] = []
        self.last_code = ""
        self._streets: dict[str, int | None] = {}  # as written → id: a list names few streets
        self.row_number = 0
        self.cells: tuple[object, ...] = ()
        self._names = {
            (u.street_id, _name_key(u.name)): u.credit_code for u in facts.units.values()
        }

    def value(self, f: Field) -> object:
        index = self.table.columns.get(f)
        if index is None or index >= len(self.cells):
            return None
        return self.cells[index]

    def problem(self, f: Field, issue: Issue, first_row: int | None = None) -> None:
        index = self.table.columns.get(f)
        raw = self.value(f)
        mask = f not in (Field.CREDIT_CODE, Field.TAX_HEADCOUNT, Field.SOCIAL_HEADCOUNT)
        self.problems.append(
            Problem(self.row_number, f, "" if index is None else column_letter(index),
                    self.table.heading(f), issue, shown(raw, mask=mask), first_row)
        )  # fmt: skip

    def rows(self) -> Iterable[int]:
        for number, cells in self.table.rows:
            self.row_number, self.cells = number, cells
            yield number

    def code(self, first_seen: dict[str, int]) -> str | None:
        code = self.last_code = credit_code_of(self.value(Field.CREDIT_CODE))
        if not code:
            self.problem(Field.CREDIT_CODE, Issue.CODE_MISSING)
        elif not is_valid_credit_code(code):
            self.problem(Field.CREDIT_CODE, Issue.CODE_INVALID)
        elif code in first_seen:
            self.problem(Field.CREDIT_CODE, Issue.CODE_REPEATED, first_seen[code])
        else:
            first_seen[code] = self.row_number
            return code
        return None

    def count(self, f: Field, *, required: bool) -> int | None:
        raw = self.value(f)
        if text_of(raw) == "":
            if required:
                self.problem(f, Issue.COUNT_MISSING)
            return None
        found = count_of(raw)
        if found is None:
            self.problem(f, Issue.COUNT_INVALID)
        return found

    def name(self, *, required: bool) -> str:
        name = text_of(self.value(Field.UNIT_NAME))
        if not name and required:
            self.problem(Field.UNIT_NAME, Issue.NAME_MISSING)
        elif len(name) > MAX_UNIT_NAME:
            self.problem(Field.UNIT_NAME, Issue.NAME_TOO_LONG)
            return ""
        return name

    def street(self, *, required: bool) -> int | None:
        raw = text_of(self.value(Field.STREET))
        if not raw:
            if required:
                self.problem(Field.STREET, Issue.STREET_MISSING)
            return None
        if raw not in self._streets:
            self._streets[raw] = street_of(raw, self.facts.streets)
        found = self._streets[raw]
        if found is None:
            self.problem(Field.STREET, Issue.STREET_UNKNOWN if required else Issue.STREET_IGNORED)
        return found

    def units(self, review: Review) -> None:
        first_seen: dict[str, int] = {}
        for _ in self.rows():
            before = len(self.problems)
            code = self.code(first_seen)
            name = self.name(required=True)
            street = self.street(required=True)
            tax = self.count(Field.TAX_HEADCOUNT, required=True)
            social = self.count(Field.SOCIAL_HEADCOUNT, required=False)
            members = self.count(Field.MEMBER_COUNT, required=False)
            ownership, zone, dues = self.ownership(), self.zone(), self.flag()
            review.listed.add(self.last_code)
            if street is not None:
                review.streets.add(street)
            if code and name and street is not None:
                taken = self._names.get((street, _name_key(name)))
                if taken is not None and taken != code:
                    self.problem(Field.UNIT_NAME, Issue.NAME_TAKEN)
            if any(not p.issue.warning for p in self.problems[before:]):
                continue
            assert code is not None and street is not None and tax is not None
            review.units.append(
                UnitRow(self.row_number, code, name, street, tax, social, members,
                        ownership, zone, dues)
            )  # fmt: skip
        review.problems = self.problems
        review.good_rows = len(review.units)

    def ownership(self) -> Ownership | None:
        raw = text_of(self.value(Field.OWNERSHIP))
        if not raw:
            return None
        found = OWNERSHIP_WORDS.get(header_key(raw)) or _enum_value(Ownership, raw)
        if found is None:
            self.problem(Field.OWNERSHIP, Issue.OWNERSHIP_UNKNOWN)
        return found

    def zone(self) -> int | None:
        raw = text_of(self.value(Field.ZONE))
        if not raw:
            return None
        found = street_of(raw, self.facts.zones)  # a name or an unambiguous part of one
        if found is None:
            self.problem(Field.ZONE, Issue.ZONE_UNKNOWN)
        return found

    def flag(self) -> bool | None:
        raw = text_of(self.value(Field.DUES_FLAG)).lower()
        if not raw:
            return None
        if raw in _YES or raw in _NO:
            return raw in _YES
        self.problem(Field.DUES_FLAG, Issue.FLAG_INVALID)
        return None

    def counts(self, review: Review, kind: ImportKind) -> None:
        """Social security: one row per unit. The member system: one row per member, counted
        by unit; a member is known by ID number or mobile where the sheet has them."""
        per_member = kind is ImportKind.MEMBER_SYSTEM
        first_seen: dict[str, int] = {}
        people: dict[str, int] = {}
        codes_ok: dict[str, bool] = {}
        counts = review.counts
        for number in self.rows():
            before = len(self.problems)
            if per_member:
                code = self.member_code(codes_ok)
                person = text_of(self.value(Field.PERSON))
                if not person:
                    self.problem(Field.PERSON, Issue.PERSON_MISSING)
                self.person(people)
                self.joined()
                headcount: int | None = 1
            else:
                code = self.code(first_seen)
                headcount = self.count(Field.SOCIAL_HEADCOUNT, required=True)
            name = self.name(required=False)
            street = self.street(required=False)
            if any(not p.issue.warning for p in self.problems[before:]):
                continue
            assert code is not None and headcount is not None
            found = counts.get(code)
            if found is None:
                counts[code] = SourceCount(code, name or code, street, headcount, [number])
            else:
                found.headcount += headcount
                found.rows.append(number)
            review.good_rows += 1
        review.problems = self.problems

    def member_code(self, codes_ok: dict[str, bool]) -> str | None:
        """A member row's unit code: many rows share one, so each is checked once."""
        code = credit_code_of(self.value(Field.CREDIT_CODE))
        ok = codes_ok.get(code)
        if ok is None:
            ok = codes_ok[code] = bool(code) and is_valid_credit_code(code)
        if ok:
            return code
        self.problem(Field.CREDIT_CODE, Issue.CODE_INVALID if code else Issue.CODE_MISSING)
        return None

    def person(self, people: dict[str, int]) -> None:
        for f in (Field.PERSON_ID, Field.MOBILE):
            raw = self.value(f)
            if raw is None:
                continue
            key = normalise_mobile(text_of(raw)) if f is Field.MOBILE else credit_code_of(raw)
            if not key:
                continue
            key = f"{f.value}:{key}"
            if key in people:
                self.problem(f, Issue.PERSON_REPEATED, people[key])
            else:
                people[key] = self.row_number

    def joined(self) -> None:
        raw = self.value(Field.JOINED_ON)
        if text_of(raw) == "":
            return
        found = date_of(raw, today=self.today)
        if isinstance(found, DateIssue):
            self.problem(Field.JOINED_ON, Issue(found.value))


def _name_key(name: str) -> str:
    return re.sub(r"\s", "", unicodedata.normalize("NFKC", name)).upper()


def _enum_value(enum: type[Ownership], raw: str) -> Ownership | None:
    try:
        return enum(raw.strip().lower())
    except ValueError:
        return None


# --- what an import changes ---------------------------------------------------------------

UNIT_FIELDS = ("name", "street_id", "tax_headcount", "social_security_headcount", "member_count",
               "ownership", "zone_id", "dues_paid_uncollected", "missing_since")  # fmt: skip


@dataclass(frozen=True)
class UnitChange:
    unit_id: int
    before: dict[str, Any]
    after: dict[str, Any]  # only the fields that change


@dataclass
class Changes:
    """What importing the good rows would write. Empty when the file was imported already."""

    new_units: list[UnitRow] = field(default_factory=list)
    changed: list[UnitChange] = field(default_factory=list)
    unchanged: int = 0
    flagged: list[int] = field(default_factory=list)  # units the tax list no longer names
    still_missing: int = 0  # flagged by an earlier import and still not listed
    sources: list[SourceCount] = field(default_factory=list)  # codes not in the unit table
    completed: list[int] = field(default_factory=list)  # units unionised by this import

    @property
    def nothing(self) -> bool:
        return not (self.new_units or self.changed or self.flagged or self.sources)


def plan_changes(review: Review, facts: Facts, *, today: date) -> Changes:
    changes = Changes()
    if review.kind is ImportKind.UNITS:
        _unit_changes(review, facts, today, changes)
    else:
        _count_changes(review, facts, changes)
    return changes


def _unit_changes(review: Review, facts: Facts, today: date, changes: Changes) -> None:
    for row in review.units:
        known = facts.units.get(row.credit_code)
        if known is None:
            changes.new_units.append(row)
            continue
        wanted: dict[str, Any] = {
            "name": row.name, "street_id": row.street_id, "tax_headcount": row.tax_headcount,
            "social_security_headcount": row.social_security_headcount,
            "member_count": row.member_count, "ownership": row.ownership,
            "zone_id": row.zone_id, "dues_paid_uncollected": row.dues_paid_uncollected,
        }  # fmt: skip
        _record(changes, known, {k: v for k, v in wanted.items() if v is not None}, clear=True)
    # A list of some streets flags only their units.
    for known in facts.units.values():
        if (
            known.credit_code in review.listed
            or known.street_id not in review.streets
            or known.status is not UnitStatus.ACTIVE
        ):
            continue
        if known.missing_since is None:
            changes.flagged.append(known.id)
        else:
            changes.still_missing += 1


def _record(changes: Changes, known: KnownUnit, wanted: dict[str, Any], *, clear: bool) -> None:
    if clear and known.missing_since is not None:
        wanted["missing_since"] = None  # listed again: no longer a question
    after = {k: v for k, v in wanted.items() if getattr(known, k) != v}
    if after:
        before = {k: getattr(known, k) for k in after}
        changes.changed.append(UnitChange(known.id, before, after))
    else:
        changes.unchanged += 1


def _count_changes(review: Review, facts: Facts, changes: Changes) -> None:
    social = review.kind is ImportKind.SOCIAL
    for code, found in review.counts.items():
        known = facts.units.get(code)
        if known is None:
            old = facts.sources.get((review.kind.value, code))
            if old != (found.name[:MAX_UNIT_NAME], found.street_id, found.headcount):
                changes.sources.append(found)
            else:
                changes.unchanged += 1
            continue
        if social:
            _record(changes, known, {"social_security_headcount": found.headcount}, clear=False)
            continue
        # Listed in the member system: the first completion condition holds (完成标准).
        wanted: dict[str, Any] = {"member_count": found.headcount, "member_system_collected": True}
        _record(changes, known, wanted, clear=False)
        if not known.member_system_collected and known.legal_person_certified:
            changes.completed.append(known.id)


# --- the database -------------------------------------------------------------------------


async def _all(session: AsyncSession, query: Any) -> list[Any]:
    return list((await session.exec(query)).all())


async def load_facts(*, session: AsyncSession) -> Facts:
    streets = {n: i for n, i in (await session.exec(select(Street.name, Street.id))).all() if i}
    zones = {n: i for n, i in (await session.exec(select(Zone.name, Zone.id))).all() if i}
    units: dict[str, KnownUnit] = {}
    columns = [getattr(Unit, name) for name in KnownUnit.__dataclass_fields__]
    for values in (await session.exec(sa.select(*columns))).all():  # type: ignore[call-overload]
        known = KnownUnit(*values)
        units[known.credit_code] = known
    query = sa.select(  # type: ignore[call-overload]
        SourceUnit.source,
        SourceUnit.credit_code,
        SourceUnit.name,
        SourceUnit.street_id,
        SourceUnit.headcount,
    )
    sources = {
        (s, code): (name, street, n) for s, code, name, street, n in await _all(session, query)
    }
    return Facts(streets=streets, zones=zones, units=units, sources=sources)


@dataclass(frozen=True)
class ImportResult:
    import_id: int
    inserted: int
    updated: int
    unchanged: int
    flagged: int
    sources: int
    completed: int


async def apply_import(
    *,
    session: AsyncSession,
    review: Review,
    by_user_id: int | None,
    now: datetime,
    today: date,
    file_name: str,
    progress: Progress | None = None,
) -> ImportResult:
    """Write the good rows of `review` in the caller's transaction: what `plan_changes` finds
    against the database as it is now (another import may have landed since the review)."""
    facts = await load_facts(session=session)
    changes = plan_changes(review, facts, today=today)
    run = DataImport(
        kind=review.kind.value, file_name=file_name[:128], rows=review.rows,
        imported=review.good_rows, inserted=len(changes.new_units), updated=len(changes.changed),
        unchanged=changes.unchanged, flagged=len(changes.flagged), by_user_id=by_user_id, at=now,
    )  # fmt: skip
    session.add(run)
    await session.flush()
    assert run.id is not None
    total = len(changes.new_units) + len(changes.changed) + len(changes.flagged)
    done = 0
    entries: list[dict[str, Any]] = []

    def entry(action: str, unit_id: int, before: Any, after: Any) -> None:
        entries.append({"at": now, "actor_user_id": by_user_id, "action": action,
                        "entity": "unit", "entity_id": str(unit_id),
                        "before": _plain(before), "after": _plain(after)})  # fmt: skip

    for chunk in _chunks(changes.new_units, CHUNK):
        # Core inserts (the table, not the ORM class): one executemany, without the ORM's
        # per-row bookkeeping, which took twice as long as the database for 15,000 units.
        units, values = _table(Unit), [_new_unit(row) for row in chunk]
        inserted = await session.exec(
            sa.insert(units).returning(units.c.credit_code, units.c.id), params=values
        )
        ids: dict[str, int] = {code: unit_id for code, unit_id in inserted.all()}
        for value in values:  # no dates in a new unit's values: JSON as they are
            entries.append({"at": now, "actor_user_id": by_user_id, "action": "unit.import",
                            "entity": "unit", "entity_id": str(ids[value["credit_code"]]),
                            "before": None, "after": value})  # fmt: skip
        done += len(chunk)
        _tell(progress, done, total)
    completing = set(changes.completed)
    for chunk in _chunks(changes.changed, CHUNK):
        plain = [c for c in chunk if c.unit_id not in completing]
        if plain:
            await session.exec(
                sa.update(Unit), params=[{"id": c.unit_id, **c.after} for c in plain]
            )
        moved = [
            {"u": c.unit_id, "s": c.after["street_id"]} for c in chunk if "street_id" in c.after
        ]
        if moved:  # the ledger entry follows its unit to the new street
            ledger = sa.Table(
                "ledgerentry", sa.MetaData(), sa.Column("unit_id"), sa.Column("street_id")
            )
            await session.exec(
                sa.update(ledger).where(ledger.c.unit_id == sa.bindparam("u"))
                .values(street_id=sa.bindparam("s")), params=moved,
            )  # fmt: skip
        for c in chunk:
            # A unit this import unionises: record_completion audits the condition itself.
            after = c.after if c.unit_id not in completing else {
                k: v for k, v in c.after.items() if k == "member_count"
            }  # fmt: skip
            if after:
                entry("unit.import", c.unit_id, {k: c.before[k] for k in after}, after)
        done += len(chunk)
        _tell(progress, done, total)
    for change in changes.changed:
        if change.unit_id in completing:
            await _complete(session, change, by_user_id=by_user_id, now=now, today=today)
    for chunk in _chunks(changes.flagged, CHUNK):
        await session.exec(
            sa.update(Unit), params=[{"id": unit_id, "missing_since": today} for unit_id in chunk]
        )
        for unit_id in chunk:
            entry("unit.missing", unit_id, {"missing_since": None}, {"missing_since": today})
        done += len(chunk)
        _tell(progress, done, total)
    for chunk in _chunks(entries, CHUNK):
        await session.exec(sa.insert(_table(AuditEntry)), params=chunk)
    await _keep_sources(session, review.kind, changes.sources, run.id, facts, now, by_user_id)
    result = ImportResult(run.id, len(changes.new_units), len(changes.changed),
                          changes.unchanged, len(changes.flagged), len(changes.sources),
                          len(changes.completed))  # fmt: skip
    audit.record(
        session=session, now=now, actor_user_id=by_user_id, action="data.import",
        entity="data_import", entity_id=run.id,
        after={"kind": review.kind.value, "file": file_name[:128], "rows": review.rows,
               "imported": review.good_rows, "inserted": result.inserted,
               "updated": result.updated, "flagged": result.flagged, "sources": result.sources},
    )  # fmt: skip
    _tell(progress, total, total)
    return result


def _table(model: Any) -> sa.Table:
    table: sa.Table = model.__table__
    return table


def _tell(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


async def _complete(
    session: AsyncSession, change: UnitChange, *, by_user_id: int | None, now: datetime, today: date
) -> None:
    """A certified unit now in the member system: unionised, through the ledger's own rule
    (it writes the unit off the ledger and audits that)."""
    if "member_count" in change.after:
        unit = await session.get(Unit, change.unit_id)
        assert unit is not None
        unit.member_count = change.after["member_count"]
        session.add(unit)
    await record_completion(
        session=session, unit_id=change.unit_id, member_system_collected=True,
        legal_person_certified=True, by_user_id=by_user_id, now=now, today=today,
    )  # fmt: skip


async def _keep_sources(
    session: AsyncSession,
    kind: ImportKind,
    found: Sequence[SourceCount],
    import_id: int,
    facts: Facts,
    now: datetime,
    by_user_id: int | None,
) -> None:
    fresh = [s for s in found if (kind.value, s.credit_code) not in facts.sources]
    stale = [s for s in found if (kind.value, s.credit_code) in facts.sources]
    for chunk in _chunks(fresh, CHUNK):
        await session.exec(sa.insert(SourceUnit), params=[
            {"source": kind.value, "credit_code": s.credit_code, "name": s.name[:MAX_UNIT_NAME],
             "street_id": s.street_id, "headcount": s.headcount, "import_id": import_id}
            for s in chunk
        ])  # fmt: skip
    for s in stale:
        await session.exec(
            sa.update(SourceUnit)
            .where(col(SourceUnit.source) == kind.value)
            .where(col(SourceUnit.credit_code) == s.credit_code)
            .values(name=s.name[:MAX_UNIT_NAME], street_id=s.street_id, headcount=s.headcount,
                    import_id=import_id)
        )  # fmt: skip


def _new_unit(row: UnitRow) -> dict[str, Any]:
    return {
        "name": row.name, "credit_code": row.credit_code, "street_id": row.street_id,
        "zone_id": row.zone_id, "tax_headcount": row.tax_headcount,
        "social_security_headcount": row.social_security_headcount,
        "member_count": row.member_count or 0,
        "ownership": row.ownership or Ownership.NON_PUBLIC, "status": UnitStatus.ACTIVE,
        "member_system_collected": False, "legal_person_certified": False,
        "unionised_on": None, "dues_paid_uncollected": bool(row.dues_paid_uncollected),
        "on_detail_table": False, "missing_since": None,
    }  # fmt: skip


def _plain(values: Any) -> Any:
    if values is None:
        return None
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in values.items()}


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def refused_columns(refused: FileRefused) -> list[Field]:
    """NO_COLUMNS: the fields the nearest kind of list still lacks."""
    if refused.problem is not FileProblem.NO_COLUMNS:
        return []
    known = {f.value for f in Field}
    return [Field(name) for name in refused.missing if name in known]
