"""Meetings: checking a logged meeting against the plan, saving it, counting toward the 12."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit
from models.enums import MeetingKind, VenueType
from models.plan import Plan
from models.tables import Attachment, JoinLink, Meeting, Member, MembershipApplication

MAX_ATTENDEES = 100_000  # more is a typing slip, not a meeting
MAX_PLACE = 200  # Meeting.place


class MeetingProblem(StrEnum):
    NO_KIND = "no_kind"
    NO_DATE = "no_date"
    NO_STREET = "no_street"
    FUTURE_DATE = "future_date"
    OUTSIDE_PLAN_YEAR = "outside_plan_year"
    TOO_MANY_ATTENDEES = "too_many_attendees"
    MORE_NEW_MEMBERS_THAN_ATTENDEES = "more_new_members_than_attendees"


@dataclass(frozen=True)
class MeetingInput:
    kind: MeetingKind | None
    held_on: date | None
    street_id: int | None
    attendees: int | None = None
    new_members: int | None = None
    venue_type: VenueType | None = None
    place: str | None = None
    notes: str | None = None
    evidence: tuple[dict[str, str], ...] = ()  # Telegram files: media_kind, file_id, unique_id


def meeting_problems(meeting: MeetingInput, *, plan: Plan, today: date) -> list[MeetingProblem]:
    """What stops this meeting from being saved; empty when it can be."""
    problems = []
    if meeting.kind is None:
        problems.append(MeetingProblem.NO_KIND)
    if meeting.held_on is None:
        problems.append(MeetingProblem.NO_DATE)
    elif meeting.held_on > today:
        problems.append(MeetingProblem.FUTURE_DATE)
    elif meeting.held_on.year != plan.plan.year:
        problems.append(MeetingProblem.OUTSIDE_PLAN_YEAR)
    if meeting.street_id is None:
        problems.append(MeetingProblem.NO_STREET)
    if (meeting.attendees or 0) > MAX_ATTENDEES:
        problems.append(MeetingProblem.TOO_MANY_ATTENDEES)
    elif (meeting.new_members or 0) > (meeting.attendees or 0) and meeting.attendees:
        problems.append(MeetingProblem.MORE_NEW_MEMBERS_THAN_ATTENDEES)
    return problems


async def save_meeting(
    *, session: AsyncSession, meeting: MeetingInput, by_user_id: int, now: datetime
) -> Meeting:
    """Write a meeting that has no problems (the caller checked), with its audit row."""
    assert meeting.kind and meeting.held_on and meeting.street_id is not None
    row = Meeting(
        street_id=meeting.street_id,
        kind=meeting.kind,
        held_on=meeting.held_on,
        place=(meeting.place or "")[:MAX_PLACE],
        venue_type=meeting.venue_type,
        attendees=meeting.attendees or 0,
        new_members=meeting.new_members or 0,
        notes=meeting.notes,
        created_by=by_user_id,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    audit.record(
        session=session, now=now, actor_user_id=by_user_id, action="meeting.create",
        entity="meeting", entity_id=row.id,
        after={"street_id": row.street_id, "kind": meeting.kind.value,
               "held_on": meeting.held_on.isoformat(), "attendees": row.attendees,
               "new_members": row.new_members},
    )  # fmt: skip
    for item in meeting.evidence:
        session.add(
            Attachment(
                meeting_id=row.id, media_kind=item["media_kind"], evidence=None,
                telegram_file_id=item["file_id"], telegram_file_unique_id=item["unique_id"],
                created_at=now,
            )
        )  # fmt: skip
    return row


async def files_to_keep(
    *, session: AsyncSession, meeting_id: int | None = None, visit_id: int | None = None
) -> list[Attachment]:
    """A meeting's (or a visit's) files not yet copied to the media folder."""
    owner = (
        Attachment.meeting_id == meeting_id if meeting_id is not None
        else Attachment.visit_id == visit_id
    )  # fmt: skip
    query = select(Attachment).where(owner, col(Attachment.local_path).is_(None))
    return list((await session.exec(query)).all())


async def file_kept(*, session: AsyncSession, attachment_id: int, path: str) -> None:
    attachment = await session.get(Attachment, attachment_id)
    if attachment is not None:
        attachment.local_path = path
        session.add(attachment)


async def worker_meetings_held(
    *, session: AsyncSession, plan: Plan, street_id: int, today: date
) -> int:
    """Meetings that count toward the per-street target, this plan year up to today."""
    kinds = [MeetingKind(k) for k in plan.targets.worker_meetings.meeting_kinds]
    held = col(Meeting.held_on)
    return (
        await session.exec(
            select(func.count()).where(
                Meeting.street_id == street_id,
                col(Meeting.kind).in_(kinds),
                held >= date(plan.plan.year, 1, 1),
                held <= today,
            )
        )
    ).one()


def read_count(text: str) -> int | None:
    """A typed head count: digits (full-width too), optionally followed by 人/名/位;
    None for anything else, or for more than MAX_ATTENDEES."""
    text = unicodedata.normalize("NFKC", text).strip().rstrip("人名位").strip()
    # isdecimal, not isdigit: int() refuses digits such as ፩ that isdigit() accepts.
    if not text.isdecimal() or len(text) > 6:
        return None
    value = int(text)
    return value if value <= MAX_ATTENDEES else None


def _snapshot(row: Meeting) -> dict[str, object]:
    return {
        "street_id": row.street_id,
        "kind": str(row.kind),
        "held_on": row.held_on.isoformat(),
        "place": row.place,
        "attendees": row.attendees,
        "new_members": row.new_members,
    }


def may_change(row: Meeting, *, user_id: int, admin: bool, today: date) -> bool:
    """An officer corrects or deletes their own entries of the current month; an admin any."""
    if admin:
        return True
    return row.created_by == user_id and (row.held_on.year, row.held_on.month) == (
        today.year, today.month
    )  # fmt: skip


async def recent_meetings(
    *, session: AsyncSession, user_id: int, admin: bool, today: date, limit: int = 10
) -> list[Meeting]:
    """This month's meetings the user may change, newest first."""
    query = select(Meeting).where(col(Meeting.held_on) >= today.replace(day=1))
    if not admin:
        query = query.where(Meeting.created_by == user_id)
    query = query.order_by(col(Meeting.held_on).desc(), col(Meeting.id).desc()).limit(limit)
    return list((await session.exec(query)).all())


async def update_meeting(
    *, session: AsyncSession, meeting_id: int, meeting: MeetingInput, by_user_id: int, now: datetime
) -> bool:
    row = await session.get(Meeting, meeting_id)
    if row is None:
        return False
    assert meeting.kind and meeting.held_on and meeting.street_id is not None
    before = _snapshot(row)
    row.kind, row.held_on, row.street_id = meeting.kind, meeting.held_on, meeting.street_id
    row.place, row.venue_type = (meeting.place or "")[:MAX_PLACE], meeting.venue_type
    row.attendees, row.new_members = meeting.attendees or 0, meeting.new_members or 0
    row.notes = meeting.notes
    session.add(row)
    audit.record(
        session=session, now=now, actor_user_id=by_user_id, action="meeting.update",
        entity="meeting", entity_id=meeting_id, before=before, after=_snapshot(row),
    )  # fmt: skip
    return True


async def delete_meeting(
    *, session: AsyncSession, meeting_id: int, by_user_id: int, now: datetime
) -> bool:
    row = await session.get(Meeting, meeting_id)
    if row is None:
        return False
    for attachment in (
        await session.exec(select(Attachment).where(Attachment.meeting_id == meeting_id))
    ).all():
        await session.delete(attachment)
    # Members who joined at the meeting stay members; they only lose the link to it (and so
    # do its join links and the applications made through them).
    for linked in (Member, JoinLink, MembershipApplication):
        await session.exec(
            sa.update(linked).where(col(linked.meeting_id) == meeting_id).values(meeting_id=None)
        )
    audit.record(session=session, now=now, actor_user_id=by_user_id, action="meeting.delete",
                 entity="meeting", entity_id=meeting_id, before=_snapshot(row))  # fmt: skip
    await session.delete(row)
    return True
