"""Online joining (网上入会) and opting out (退订).

An officer shows a join link (as a QR code) at a meeting; a worker who opens it applies in
a private chat: consent, their own number (Telegram's shared contact), name, unit. The
application goes to the street's officers, who approve it (the worker becomes a member,
counted toward the meeting's new members, and is welcomed) or reject it. Whoever is
registered may stop every further message: /stop in Telegram, or 退订/TD by SMS, which an
admin records with /optout. Every write leaves an audit row; numbers in the audit are masked.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

import segno
import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit
from models.enums import Language, OutboxChannel, OutboxStatus, Role
from models.members import (
    MemberSource,
    NewMember,
    find_by_mobile,
    member_snapshot,
    register_member,
)
from models.mobile import mask_mobile
from models.officers import new_invite_code
from models.outbox import Outgoing, enqueue
from models.plan import Plan
from models.tables import (
    AuditEntry,
    JoinLink,
    Meeting,
    Member,
    MembershipApplication,
    Officer,
    OutboxMessage,
    Unit,
)

JOIN_PREFIX = "join-"  # /start join-<code>: a join link, not an officer's invite
LINK_TTL = timedelta(days=7)
RECENT_DAYS = 30  # meetings a join link may belong to: held in the last 30 days
RECENT_LIMIT = 8
NAME_MAX = 64  # MembershipApplication.name
UNIT_NAME_MAX = 128  # MembershipApplication.unit_name
UNIT_QUERY_MIN = 2  # a shorter query would list half the street's units
QR_SCALE = 12  # pixels per module: a version 3-4 code comes out at 400-500 px


# --- join links -----------------------------------------------------------------------


class LinkState(StrEnum):
    VALID = "valid"
    UNKNOWN = "unknown"
    EXPIRED = "expired"


def link_code(payload: str) -> str | None:
    """The code of a /start payload "join-<code>"; None for anything else (an invite)."""
    if not payload.startswith(JOIN_PREFIX):
        return None
    return payload[len(JOIN_PREFIX) :][:32]


def link_state(link: JoinLink | None, now: datetime) -> LinkState:
    """Valid strictly before its expiry instant; any number of people may use it."""
    if link is None:
        return LinkState.UNKNOWN
    return LinkState.EXPIRED if now >= link.expires_at else LinkState.VALID


async def find_link(*, session: AsyncSession, code: str) -> JoinLink | None:
    if not code:
        return None
    return (await session.exec(select(JoinLink).where(JoinLink.code == code))).first()


async def recent_meetings(
    *, session: AsyncSession, street_id: int, today: date, limit: int = RECENT_LIMIT
) -> list[Meeting]:
    """The street's meetings of the last RECENT_DAYS days, newest first."""
    query = (
        select(Meeting)
        .where(
            Meeting.street_id == street_id,
            col(Meeting.held_on) >= today - timedelta(days=RECENT_DAYS),
            col(Meeting.held_on) <= today,
        )
        .order_by(col(Meeting.held_on).desc(), col(Meeting.id).desc())
        .limit(limit)
    )
    return list((await session.exec(query)).all())


def is_recent(meeting: Meeting, today: date) -> bool:
    return today - timedelta(days=RECENT_DAYS) <= meeting.held_on <= today


async def join_link_for(
    *,
    session: AsyncSession,
    street_id: int,
    meeting_id: int | None,
    created_by: int,
    now: datetime,
    ttl: timedelta = LINK_TTL,
) -> JoinLink:
    """The one valid link of a meeting (or of the street, without a meeting): the one
    already made if it is still valid, so a QR code printed earlier keeps working."""
    meeting = (
        col(JoinLink.meeting_id).is_(None) if meeting_id is None
        else col(JoinLink.meeting_id) == meeting_id
    )  # fmt: skip
    existing = (
        await session.exec(
            select(JoinLink)
            .where(JoinLink.street_id == street_id, meeting, col(JoinLink.expires_at) > now)
            .order_by(col(JoinLink.expires_at).desc())
        )
    ).first()
    if existing is not None:
        return existing
    link = JoinLink(
        code=new_invite_code(), street_id=street_id, meeting_id=meeting_id,
        created_by=created_by, created_at=now, expires_at=now + ttl,
    )  # fmt: skip
    session.add(link)
    await session.flush()
    audit.record(
        session=session, now=now, actor_user_id=created_by, action="joinlink.create",
        entity="joinlink", entity_id=link.id,
        after={"street_id": street_id, "meeting_id": meeting_id,
               "expires_at": link.expires_at.isoformat()},
    )  # fmt: skip
    return link


def qr_png(text: str, *, scale: int = QR_SCALE) -> bytes:
    """A QR code of `text` as a PNG (error correction M, the standard quiet zone of 4)."""
    buffer = io.BytesIO()
    segno.make(text, error="m", micro=False).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


# --- applications -----------------------------------------------------------------------


class ApplicationStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Refusal(StrEnum):
    """Why an application is not taken: nothing is written."""

    MEMBER = "member"  # that number (or this Telegram account) is a member already
    PENDING = "pending"  # this Telegram account has an application waiting


async def refusal_for(
    *, session: AsyncSession, telegram_user_id: int, mobile: str | None = None
) -> Refusal | None:
    """Whether this person may apply (again); `mobile` once they have shared it."""
    linked = select(Member.id).where(Member.telegram_user_id == telegram_user_id)
    if (await session.exec(linked)).first() is not None:
        return Refusal.MEMBER
    if mobile is not None and await find_by_mobile(session=session, mobile=mobile) is not None:
        return Refusal.MEMBER
    same = [col(MembershipApplication.telegram_user_id) == telegram_user_id]
    if mobile is not None:
        same.append(col(MembershipApplication.mobile) == mobile)
    waiting = select(MembershipApplication.id).where(
        sa.or_(*same), MembershipApplication.status == ApplicationStatus.PENDING.value
    )
    if (await session.exec(waiting)).first() is not None:
        return Refusal.PENDING
    return None


@dataclass(frozen=True)
class ApplicationInput:
    telegram_user_id: int
    name: str
    mobile: str  # normalised, 11 digits, from the applicant's own shared contact
    street_id: int
    unit_name: str
    consent_at: datetime
    language: Language  # what the applicant's outcome message is written in
    unit_id: int | None = None
    meeting_id: int | None = None


@dataclass(frozen=True)
class Reviewer:
    user_id: int
    language: Language


async def reviewers(*, session: AsyncSession, street_id: int) -> list[Reviewer]:
    """Who hears of a street's application: its active officers, in their private chats
    (never a group: the application is personal data). A street without any hears nothing,
    so then the district admins do."""
    rows = (
        await session.exec(
            select(Officer.telegram_user_id, Officer.language)
            .where(Officer.street_id == street_id, col(Officer.active).is_(True))
            .order_by(col(Officer.id))
        )
    ).all()
    if not rows:
        rows = (
            await session.exec(
                select(Officer.telegram_user_id, Officer.language)
                .where(Officer.role == Role.DISTRICT_ADMIN, col(Officer.active).is_(True))
                .order_by(col(Officer.id))
            )
        ).all()
    return [Reviewer(user_id, Language(language)) for user_id, language in rows]


Notice = Callable[[MembershipApplication, Language], dict[str, Any]]


async def submit_application(
    *, session: AsyncSession, application: ApplicationInput, notice: Notice, now: datetime
) -> MembershipApplication | Refusal:
    """Write the application and queue `notice(application, language)` (the payload: text
    and buttons) to each reviewer; a member or a pending application writes nothing."""
    refusal = await refusal_for(
        session=session, telegram_user_id=application.telegram_user_id, mobile=application.mobile
    )
    if refusal is not None:
        return refusal
    row = MembershipApplication(
        telegram_user_id=application.telegram_user_id, name=application.name[:NAME_MAX],
        mobile=application.mobile, street_id=application.street_id,
        unit_id=application.unit_id, unit_name=application.unit_name[:UNIT_NAME_MAX],
        meeting_id=application.meeting_id, consent_at=application.consent_at,
        status=ApplicationStatus.PENDING.value, created_at=now,
    )  # fmt: skip
    session.add(row)
    await session.flush()
    audit.record(
        session=session, now=now, actor_user_id=application.telegram_user_id,
        action="application.submit", entity="application", entity_id=row.id,
        after={**application_snapshot(row), "language": application.language.value},
    )  # fmt: skip
    people = await reviewers(session=session, street_id=row.street_id)
    await enqueue(
        session=session,
        rows=[
            Outgoing(key=f"join.apply|{row.id}|{r.user_id}", kind="join.apply",
                     recipient=str(r.user_id), payload=notice(row, r.language), not_before=now)
            for r in people
        ],
        now=now,
    )  # fmt: skip
    return row


def application_snapshot(row: MembershipApplication) -> dict[str, object]:
    """For the audit log, which can never be changed (so never erased): no name, no number."""
    return {
        "street_id": row.street_id,
        "unit_id": row.unit_id, "unit_name": row.unit_name, "meeting_id": row.meeting_id,
        "status": row.status, "consent_at": row.consent_at.isoformat(),
    }  # fmt: skip


async def applicant_language(
    *, session: AsyncSession, application_id: int, default: Language
) -> Language:
    """The language the applicant used, as their submission's audit row keeps it."""
    after = (
        await session.exec(
            select(AuditEntry.after).where(
                AuditEntry.action == "application.submit",
                AuditEntry.entity_id == str(application_id),
            )
        )
    ).first()
    value = (after or {}).get("language")
    return Language(value) if value in set(Language) else default


def may_act_for(*, role: Role | None, own_street_id: int | None, street_id: int) -> bool:
    """A street's own officers act for it (join links, applications); district admins for any."""
    if role is Role.DISTRICT_ADMIN:
        return True
    return role is not None and own_street_id == street_id


class Decision(StrEnum):
    APPROVED = "approved"  # a member now, welcomed
    REJECTED = "rejected"
    MEMBER = "member"  # approved, but the number had become a member meanwhile
    ALREADY = "already"  # decided before: nothing changes
    REFUSED = "refused"  # not the presser's street
    MISSING = "missing"  # no such application


@dataclass(frozen=True)
class DecisionResult:
    decision: Decision
    application: MembershipApplication | None = None
    member_id: int | None = None
    decided_by_name: str | None = None  # for ALREADY: who decided (display name, if known)


Outcome = Callable[[Decision, Language], str]


async def decide(
    *,
    session: AsyncSession,
    application_id: int,
    approve: bool,
    by_user_id: int,
    role: Role | None,
    own_street_id: int | None,
    outcome: Outcome,
    now: datetime,
    today: date,
    plan: Plan,
    default_language: Language,
) -> DecisionResult:
    """Approve or reject a pending application, once. Approval registers the member (their
    welcome is queued by register_member) and counts them toward the link's meeting; the
    applicant hears `outcome(decision, language)` through the outbox, before the welcome."""
    row = (
        await session.exec(
            select(MembershipApplication)
            .where(MembershipApplication.id == application_id)
            .with_for_update()
        )
    ).first()
    if row is None or row.id is None:
        return DecisionResult(Decision.MISSING)
    if not may_act_for(role=role, own_street_id=own_street_id, street_id=row.street_id):
        return DecisionResult(Decision.REFUSED, row)
    if row.status != ApplicationStatus.PENDING.value:
        return DecisionResult(Decision.ALREADY, row, row.member_id, await _name_of(session, row))
    before = application_snapshot(row)
    existing = await find_by_mobile(session=session, mobile=row.mobile) if approve else None
    decision = (
        Decision.REJECTED if not approve else Decision.MEMBER if existing else Decision.APPROVED
    )
    language = await applicant_language(
        session=session, application_id=row.id, default=default_language
    )
    await enqueue(
        session=session,
        rows=[Outgoing(key=f"join.outcome|{row.id}", kind="join.outcome",
                       recipient=str(row.telegram_user_id),
                       payload={"text": outcome(decision, language), "application_id": row.id},
                       not_before=now)],
        now=now,
    )  # fmt: skip
    member_id: int | None = None
    if decision is Decision.APPROVED:
        member = await register_member(
            session=session,
            member=NewMember(
                name=row.name, mobile=row.mobile, street_id=row.street_id, joined_on=today,
                unit_id=row.unit_id, meeting_id=row.meeting_id,
                telegram_user_id=row.telegram_user_id,
            ),
            source=MemberSource.ONLINE, by_user_id=by_user_id, now=now, plan=plan,
        )  # fmt: skip
        assert isinstance(member, Member) and member.id is not None  # checked just above
        member_id = member.id
        if row.meeting_id is not None:
            await count_new_member(
                session=session, meeting_id=row.meeting_id, member_id=member_id,
                by_user_id=by_user_id, now=now,
            )  # fmt: skip
    elif existing is not None and existing.id is not None:
        member_id = existing.id
        if existing.telegram_user_id is None:
            # The same person: the number came from this account's own shared contact.
            existing.telegram_user_id = row.telegram_user_id
            session.add(existing)
            audit.record(
                session=session, now=now, actor_user_id=by_user_id, action="member.link",
                entity="member", entity_id=existing.id, before={"telegram": False},
                after={"telegram": True, "application_id": row.id},
            )  # fmt: skip
    row.status = (
        ApplicationStatus.REJECTED if decision is Decision.REJECTED else ApplicationStatus.APPROVED
    ).value
    row.decided_by, row.decided_at, row.member_id = by_user_id, now, member_id
    session.add(row)
    audit.record(
        session=session, now=now, actor_user_id=by_user_id,
        action="application.approve" if approve else "application.reject",
        entity="application", entity_id=row.id, before=before,
        after={**application_snapshot(row), "member_id": member_id},
    )  # fmt: skip
    return DecisionResult(decision, row, member_id)


async def _name_of(session: AsyncSession, row: MembershipApplication) -> str | None:
    if row.decided_by is None:
        return None
    name = (
        await session.exec(
            select(Officer.display_name).where(Officer.telegram_user_id == row.decided_by)
        )
    ).first()
    return name or None


async def count_new_member(
    *, session: AsyncSession, meeting_id: int, member_id: int, by_user_id: int, now: datetime
) -> None:
    """One more new member for the meeting (and one more attendee if the count of
    attendees, when known, would fall short: whoever joined there attended)."""
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        return
    before = {"new_members": meeting.new_members, "attendees": meeting.attendees}
    meeting.new_members += 1
    if meeting.attendees:
        meeting.attendees = max(meeting.attendees, meeting.new_members)
    session.add(meeting)
    audit.record(
        session=session, now=now, actor_user_id=by_user_id, action="meeting.new_member",
        entity="meeting", entity_id=meeting_id, before=before,
        after={"new_members": meeting.new_members, "attendees": meeting.attendees,
               "member_id": member_id},
    )  # fmt: skip


async def find_unit_in_street(
    *, session: AsyncSession, unit_id: int, street_id: int
) -> Unit | None:
    unit = await session.get(Unit, unit_id)
    return unit if unit is not None and unit.street_id == street_id else None


# --- opting out -------------------------------------------------------------------------


@dataclass(frozen=True)
class OptOut:
    members: int  # members who opted out now
    already: datetime | None  # when they had opted out before (nothing new to do)
    cancelled: int  # pending outbox rows cancelled
    name: str | None = None
    mobile: str | None = None  # the member's number (the caller masks it)


async def opt_out_telegram(
    *, session: AsyncSession, telegram_user_id: int, now: datetime
) -> OptOut:
    """/stop: the members linked to this Telegram account get nothing more, on any channel."""
    found = (
        await session.exec(
            select(Member)
            .where(Member.telegram_user_id == telegram_user_id)
            .order_by(col(Member.id))
        )
    ).all()
    return await _opt_out(
        session=session, members=found, chats=[str(telegram_user_id)], mobiles=[],
        via="telegram", by_user_id=telegram_user_id, now=now,
    )  # fmt: skip


async def opt_out_mobile(
    *, session: AsyncSession, mobile: str, by_user_id: int, now: datetime
) -> OptOut:
    """退订/TD received by the SMS gateway, recorded by an admin: the member with this number
    (if any) opts out, and nothing pending goes to the number either way."""
    member = await find_by_mobile(session=session, mobile=mobile)
    return await _opt_out(
        session=session, members=[member] if member else [], chats=[], mobiles=[mobile],
        via="sms", by_user_id=by_user_id, now=now,
    )  # fmt: skip


async def _opt_out(
    *,
    session: AsyncSession,
    members: Sequence[Member],
    chats: list[str],
    mobiles: list[str],
    via: str,
    by_user_id: int,
    now: datetime,
) -> OptOut:
    fresh = [m for m in members if m.opted_out_at is None]
    for member in members:
        if member.mobile is not None and member.mobile not in mobiles:
            mobiles = [*mobiles, member.mobile]
        if member.telegram_user_id is not None and str(member.telegram_user_id) not in chats:
            chats = [*chats, str(member.telegram_user_id)]
    cancelled = await cancel_pending(session=session, chats=chats, mobiles=mobiles)
    for member in fresh:
        member.opted_out_at = now
        session.add(member)
        audit.record(
            session=session, now=now, actor_user_id=by_user_id, action="member.opt_out",
            entity="member", entity_id=member.id, before={"opted_out_at": None},
            after={**member_snapshot(member), "opted_out_at": now.isoformat(), "via": via,
                   "cancelled": cancelled},
        )  # fmt: skip
    if not fresh and cancelled:
        audit.record(
            session=session, now=now, actor_user_id=by_user_id, action="outbox.cancel",
            entity="recipient", entity_id=",".join(mask_mobile(m) for m in mobiles) or "telegram",
            after={"cancelled": cancelled, "via": via},
        )  # fmt: skip
    first = members[0] if members else None
    already = first.opted_out_at if first is not None and not fresh else None
    return OptOut(
        members=len(fresh), already=already, cancelled=cancelled,
        name=first.name if first else None, mobile=first.mobile if first else None,
    )  # fmt: skip


async def cancel_pending(*, session: AsyncSession, chats: list[str], mobiles: list[str]) -> int:
    """Mark CANCELLED every pending row to these Telegram chats or these numbers."""
    targets = []
    if chats:
        targets.append(
            sa.and_(
                col(OutboxMessage.channel) == OutboxChannel.TELEGRAM,
                col(OutboxMessage.recipient).in_(chats),
            )
        )
    if mobiles:
        targets.append(
            sa.and_(
                col(OutboxMessage.channel) == OutboxChannel.SMS,
                col(OutboxMessage.recipient).in_(mobiles),
            )
        )
    if not targets:
        return 0
    result = await session.exec(
        sa.update(OutboxMessage)
        .where(col(OutboxMessage.status) == OutboxStatus.PENDING, sa.or_(*targets))
        .values(status=OutboxStatus.CANCELLED, claimed_by=None, claim_expires_at=None)
    )
    return int(result.rowcount or 0)
