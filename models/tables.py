"""The database tables. One module, so the whole data model reads at a glance.

Datetimes are stored in UTC and come back timezone-aware; dates are business dates in the
plan's zone. Enumerations are stored as short strings (no native enum types), so PostgreSQL
and SQLite hold the same schema and a new value needs no type migration.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.enums import (
    ChatScope,
    Language,
    LedgerOutcome,
    LedgerStage,
    MeetingKind,
    OutboxChannel,
    OutboxStatus,
    Ownership,
    ReportKind,
    Role,
    StreetKind,
    UnitStatus,
    VenueType,
    VisitKind,
)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def enum_column(enum: type[StrEnum], **kwargs: Any) -> Any:
    return Field(
        sa_type=sa.Enum(
            enum,
            native_enum=False,
            length=32,
            values_callable=lambda e: [m.value for m in e],
            validate_strings=True,
        ),
        **kwargs,
    )


def utc_column(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


class Zone(SQLModel, table=True):
    """A key zone for concentrated formation (中关村房山园, 海聚基地, 良工工业基地)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=64)


class Street(SQLModel, table=True):
    """A street or township (街乡), the unit of responsibility and reporting."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=32)
    kind: StreetKind = enum_column(StreetKind)
    position: int = 0  # the plan's order, for listings


class StreetTarget(SQLModel, table=True):
    """A street's share of the district's count of new ≥100 unions under one plan."""

    __table_args__ = (sa.UniqueConstraint("plan_key", "street_id"),)
    id: int | None = Field(default=None, primary_key=True)
    plan_key: str = Field(max_length=32)
    street_id: int = Field(foreign_key="street.id")
    new_units: int = Field(ge=0)


class Unit(SQLModel, table=True):
    """A target unit (工作对象单位): an employer that should have a union."""

    __table_args__ = (sa.Index("ix_unit_street_headcount", "street_id", "tax_headcount"),)
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128, index=True)
    credit_code: str = Field(unique=True, max_length=18)  # 统一社会信用代码
    street_id: int = Field(foreign_key="street.id")
    zone_id: int | None = Field(default=None, foreign_key="zone.id")
    tax_headcount: int = Field(ge=0)  # 地税个税人数: decides band, tier and the ≥100 base
    social_security_headcount: int | None = None  # 社保人数
    member_count: int = 0  # members as the member management system counts them
    ownership: Ownership = enum_column(Ownership, default=Ownership.NON_PUBLIC)
    status: UnitStatus = enum_column(UnitStatus, default=UnitStatus.ACTIVE)
    # The completion standard's two conditions (完成标准); unionised means both.
    member_system_collected: bool = False
    legal_person_certified: bool = False
    unionised_on: date | None = None  # when both conditions first held
    dues_paid_uncollected: bool = False  # 税务代收但会员系统未采集: do these first
    on_detail_table: bool = False  # listed on the plan's ≥100 detail table (明细表)
    # Dynamic management (动态管理): the day a newly imported tax list first left this unit
    # out. Moved out? Closed? An officer decides; until then it stays a target.
    missing_since: date | None = None


class LedgerEntry(SQLModel, table=True):
    """A unit on the task ledger (挂账) until it is written off (销账) or leaves it."""

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", unique=True)
    street_id: int = Field(foreign_key="street.id", index=True)
    stage: LedgerStage = enum_column(LedgerStage, default=LedgerStage.SURVEYED)
    outcome: LedgerOutcome = enum_column(LedgerOutcome, default=LedgerOutcome.OPEN)
    outcome_reason: str | None = Field(default=None, max_length=500)
    opened_on: date
    closed_on: date | None = None


class LedgerStageChange(SQLModel, table=True):
    """One step of a ledger entry's history: who moved it, when, from where to where."""

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="ledgerentry.id", index=True)
    from_stage: LedgerStage | None = enum_column(LedgerStage, default=None, nullable=True)
    to_stage: LedgerStage = enum_column(LedgerStage)
    outcome: LedgerOutcome = enum_column(LedgerOutcome, default=LedgerOutcome.OPEN)
    at: datetime = utc_column()
    by_user_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    note: str | None = Field(default=None, max_length=1000)


class Meeting(SQLModel, table=True):
    """A meeting held by a street or its community/village joint unions."""

    __table_args__ = (sa.Index("ix_meeting_street_kind_held", "street_id", "kind", "held_on"),)
    id: int | None = Field(default=None, primary_key=True)
    street_id: int = Field(foreign_key="street.id")
    kind: MeetingKind = enum_column(MeetingKind)
    held_on: date
    place: str = Field(max_length=200)
    venue_type: VenueType | None = enum_column(VenueType, default=None, nullable=True)
    attendees: int = Field(default=0, ge=0)
    new_members: int = Field(default=0, ge=0)
    notes: str | None = Field(default=None, max_length=2000)
    created_by: int = Field(sa_type=sa.BigInteger)
    created_at: datetime = utc_column()


class Visit(SQLModel, table=True):
    """A visit: an officer's to a unit (走访), or district staff's guidance to a street (指导)."""

    id: int | None = Field(default=None, primary_key=True)
    kind: VisitKind = enum_column(VisitKind)
    street_id: int = Field(foreign_key="street.id", index=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    officer_user_id: int = Field(sa_type=sa.BigInteger)
    visited_on: date
    purpose: str | None = Field(default=None, max_length=32)
    summary: str | None = Field(default=None, max_length=2000)
    stage_reached: LedgerStage | None = enum_column(LedgerStage, default=None, nullable=True)
    next_step: str | None = Field(default=None, max_length=500)
    next_step_on: date | None = None
    created_at: datetime = utc_column()


class Attachment(SQLModel, table=True):
    """Evidence (方案, 通知, 照片, 开展情况, 效果): a Telegram file, kept locally as well."""

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id", index=True)
    visit_id: int | None = Field(default=None, foreign_key="visit.id", index=True)
    # A ledger step's evidence: the letter, the approvals, the certificate.
    stage_change_id: int | None = Field(
        default=None, foreign_key="ledgerstagechange.id", index=True
    )
    media_kind: str = Field(max_length=16)  # photo | document
    evidence: str | None = Field(default=None, max_length=32)
    telegram_file_id: str = Field(max_length=256)
    telegram_file_unique_id: str = Field(max_length=64)
    local_path: str | None = Field(default=None, max_length=500)
    created_at: datetime = utc_column()


class ReportSubmission(SQLModel, table=True):
    """A street's monthly or quarterly report for one period ("2018-03", "2018-Q1")."""

    __table_args__ = (sa.UniqueConstraint("street_id", "kind", "period"),)
    id: int | None = Field(default=None, primary_key=True)
    street_id: int = Field(foreign_key="street.id")
    kind: ReportKind = enum_column(ReportKind)
    period: str = Field(max_length=8)
    body: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    difficulties: str | None = Field(default=None, max_length=4000)  # 重点难点问题
    submitted_by: int = Field(sa_type=sa.BigInteger)
    submitted_at: datetime = utc_column()
    closed_at: datetime | None = utc_column(default=None, nullable=True)


class Member(SQLModel, table=True):
    """A person who joined the union and was registered through the bot."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    # Empty once erased on request (models.members.erase_member): the row stays for the counts.
    mobile: str | None = Field(default=None, unique=True, max_length=11)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    street_id: int = Field(foreign_key="street.id", index=True)
    joined_on: date
    telegram_user_id: int | None = Field(default=None, sa_type=sa.BigInteger, index=True)
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id")
    source: str = Field(default="officer", max_length=16)  # officer | online | import
    created_at: datetime = utc_column()
    created_by: int | None = Field(default=None, sa_type=sa.BigInteger)  # the officer
    # 退订/TD by SMS or /stop in Telegram: no further messages, ever.
    opted_out_at: datetime | None = utc_column(default=None, nullable=True)
    erased_at: datetime | None = utc_column(default=None, nullable=True)


class JoinLink(SQLModel, table=True):
    """A deep link (and its QR code) an officer shows at a meeting: applications through it
    belong to that street, and to that meeting's new members once approved."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=32)
    street_id: int = Field(foreign_key="street.id")
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id")
    created_by: int = Field(sa_type=sa.BigInteger)
    created_at: datetime = utc_column()
    expires_at: datetime = utc_column()


class MembershipApplication(SQLModel, table=True):
    """Online joining (网上入会): a worker's application, until an officer decides on it."""

    id: int | None = Field(default=None, primary_key=True)
    telegram_user_id: int = Field(sa_type=sa.BigInteger, index=True)
    name: str = Field(max_length=64)
    mobile: str = Field(max_length=11)  # from Telegram's shared contact: that account's own
    street_id: int = Field(foreign_key="street.id", index=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    unit_name: str = Field(max_length=128)  # as the worker gave it, when no unit matched
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id")
    consent_at: datetime = utc_column()
    status: str = Field(default="pending", max_length=16)  # pending | approved | rejected
    decided_by: int | None = Field(default=None, sa_type=sa.BigInteger)
    decided_at: datetime | None = utc_column(default=None, nullable=True)
    member_id: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = utc_column()


class WelcomeTemplate(SQLModel, table=True):
    """The district admin's welcome text, replacing the plan's default (one row)."""

    id: int = Field(default=1, primary_key=True)
    text: str = Field(max_length=1000)
    changed_by: int = Field(sa_type=sa.BigInteger)
    changed_at: datetime = utc_column()


class OutboxBatch(SQLModel, table=True):
    """A batch of outbox rows sent together (an import's welcomes), and the one message that
    shows its progress ("已发送 1,200 / 10,000"), edited as it goes."""

    id: int | None = Field(default=None, primary_key=True)
    label: str = Field(max_length=64)
    total: int = 0
    chat_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    message_id: int | None = None
    created_at: datetime = utc_column()
    finished_at: datetime | None = utc_column(default=None, nullable=True)


class Officer(SQLModel, table=True):
    """A Telegram user with a role; district admins have no street."""

    id: int | None = Field(default=None, primary_key=True)
    telegram_user_id: int = Field(sa_type=sa.BigInteger, unique=True)
    display_name: str = Field(default="", max_length=128)
    role: Role = enum_column(Role)
    street_id: int | None = Field(default=None, foreign_key="street.id")
    language: Language = enum_column(Language, default=Language.ZH)
    active: bool = True
    mute_private_reminders: bool = False
    invited_by: int | None = Field(default=None, sa_type=sa.BigInteger)
    created_at: datetime = utc_column()


class ChatBinding(SQLModel, table=True):
    """A group chat bound to the district or to one street: what status shows there."""

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(sa_type=sa.BigInteger, unique=True)
    scope: ChatScope = enum_column(ChatScope)
    street_id: int | None = Field(default=None, foreign_key="street.id")
    bound_by: int = Field(sa_type=sa.BigInteger)
    bound_at: datetime = utc_column()


class Invite(SQLModel, table=True):
    """A single-use, expiring code that makes its redeemer an officer of a street."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=32)
    role: Role = enum_column(Role)
    street_id: int | None = Field(default=None, foreign_key="street.id")
    created_by: int = Field(sa_type=sa.BigInteger)
    created_at: datetime = utc_column()
    expires_at: datetime = utc_column()
    used_by: int | None = Field(default=None, sa_type=sa.BigInteger)
    used_at: datetime | None = utc_column(default=None, nullable=True)


class OutboxMessage(SQLModel, table=True):
    """Everything sent unasked is first a row here; the key makes it send once."""

    __table_args__ = (sa.Index("ix_outbox_due", "status", "not_before"),)
    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(unique=True, max_length=200)  # kind|recipient|period
    kind: str = Field(max_length=32)
    channel: OutboxChannel = enum_column(OutboxChannel)
    recipient: str = Field(max_length=64)  # chat id or mobile number
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    status: OutboxStatus = enum_column(OutboxStatus, default=OutboxStatus.PENDING)
    attempts: int = 0
    not_before: datetime = utc_column()
    claimed_by: str | None = Field(default=None, max_length=64)
    claim_expires_at: datetime | None = utc_column(default=None, nullable=True)
    sent_at: datetime | None = utc_column(default=None, nullable=True)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = utc_column()
    batch_id: int | None = Field(default=None, foreign_key="outboxbatch.id", index=True)


class ReminderSetting(SQLModel, table=True):
    """A district admin's change to a reminder rule of the plan: paused, or another time."""

    rule: str = Field(primary_key=True, max_length=32)
    paused: bool = False
    at: time | None = None  # local time in the plan's zone; None keeps the plan's
    changed_by: int = Field(sa_type=sa.BigInteger)
    changed_at: datetime = utc_column()


class Snooze(SQLModel, table=True):
    """A reminder someone asked to hear again later: the planner sends it again at `until`
    if what it reminds of is still owed then."""

    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int = Field(foreign_key="outboxmessage.id", unique=True)
    chat_id: int = Field(sa_type=sa.BigInteger)
    until: datetime = utc_column()
    by_user_id: int = Field(sa_type=sa.BigInteger)
    created_at: datetime = utc_column()


class ReminderTick(SQLModel, table=True):
    """When reminders were last planned: the next tick plans the time since (one row)."""

    id: int = Field(default=1, primary_key=True)
    at: datetime = utc_column()


class Draft(SQLModel, table=True):
    """A conversation's unsaved input, one per user and kind: written at every step, so a
    restart or an interruption loses at most the step in flight; deleted on save or cancel."""

    __table_args__ = (sa.UniqueConstraint("user_id", "kind"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_type=sa.BigInteger)
    kind: str = Field(max_length=16)  # meeting | visit
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    updated_at: datetime = utc_column()


class DataImport(SQLModel, table=True):
    """One spreadsheet imported: the tax list of units, social-security headcounts or the
    member management system's records, with what it changed."""

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # units | social | member_system
    file_name: str = Field(max_length=128)
    rows: int = 0  # data rows in the file
    imported: int = 0  # good rows taken in
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    flagged: int = 0  # units the tax list no longer names (missing_since set)
    by_user_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    at: datetime = utc_column()


class SourceUnit(SQLModel, table=True):
    """A unit that social security or the member system lists but the unit table (the tax
    list) does not: a blind spot of the three-way comparison (三方比对), kept as last imported."""

    __table_args__ = (sa.UniqueConstraint("source", "credit_code"),)
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=16)  # social | member_system
    credit_code: str = Field(max_length=18)
    name: str = Field(max_length=128)
    street_id: int | None = Field(default=None, foreign_key="street.id")
    headcount: int = 0  # insured (social) or member records (member_system)
    import_id: int = Field(foreign_key="dataimport.id")


class AuditEntry(SQLModel, table=True):
    """Who changed what, when, with the values before and after. Append-only: the database
    refuses every update and delete (migration 0007), so it holds no personal data."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = utc_column(index=True)
    actor_user_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    action: str = Field(max_length=64)
    entity: str = Field(max_length=32)
    entity_id: str = Field(max_length=64)
    before: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
