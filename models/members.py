"""New members: registering them (one at a time, in a batch, or approved online) and the
welcome each gets once per channel, ever.

The welcome goes by SMS to everyone with a mobile number and, for members linked to the
bot, in Telegram too. Each is an outbox row whose key names the member and the channel, so
registering, importing or approving twice never welcomes anyone twice.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit
from models.enums import OutboxChannel
from models.outbox import Outgoing, enqueue
from models.plan import Plan
from models.tables import Member, OutboxMessage, Street, WelcomeTemplate

NAME_MAX = 64
SMS_SINGLE = 70  # characters in one SMS when any character is Chinese (UCS-2)
SMS_PART = 67  # characters per part of a longer, concatenated SMS


class MemberSource(StrEnum):
    OFFICER = "officer"  # /member
    IMPORT = "import"  # a spreadsheet or CSV
    ONLINE = "online"  # 网上入会, approved by an officer


class Duplicate(StrEnum):
    """Why nothing was written."""

    MOBILE = "mobile"  # that number is already a member


@dataclass(frozen=True)
class NewMember:
    name: str
    mobile: str  # normalised, 11 digits
    street_id: int
    joined_on: date
    unit_id: int | None = None
    meeting_id: int | None = None
    telegram_user_id: int | None = None


async def find_by_mobile(*, session: AsyncSession, mobile: str) -> Member | None:
    return (await session.exec(select(Member).where(Member.mobile == mobile))).first()


async def register_member(
    *,
    session: AsyncSession,
    member: NewMember,
    source: MemberSource,
    by_user_id: int | None,
    now: datetime,
    plan: Plan,
    batch_id: int | None = None,
) -> Member | Duplicate:
    """Write the member and queue their welcome (in `batch_id`, an import's outbox batch); a
    number already registered writes nothing."""
    if await find_by_mobile(session=session, mobile=member.mobile) is not None:
        return Duplicate.MOBILE
    row = Member(
        name=member.name, mobile=member.mobile, unit_id=member.unit_id,
        street_id=member.street_id, joined_on=member.joined_on,
        telegram_user_id=member.telegram_user_id, meeting_id=member.meeting_id,
        source=source.value, created_at=now, created_by=by_user_id,
    )  # fmt: skip
    session.add(row)
    await session.flush()
    audit.record(
        session=session, now=now, actor_user_id=by_user_id, action="member.register",
        entity="member", entity_id=row.id, after=member_snapshot(row),
    )  # fmt: skip
    await queue_welcome(session=session, member=row, plan=plan, now=now, batch_id=batch_id)
    return row


def member_snapshot(member: Member) -> dict[str, object]:
    """For the audit log, which can never be changed (so never erased): no name, no number."""
    return {
        "unit_id": member.unit_id,
        "street_id": member.street_id, "joined_on": member.joined_on.isoformat(),
        "source": member.source, "meeting_id": member.meeting_id,
    }  # fmt: skip


async def welcome_template(*, session: AsyncSession, plan: Plan) -> str:
    """The admin's text if they changed it, else the plan's."""
    row = await session.get(WelcomeTemplate, 1)
    return plan.welcome.template if row is None else row.text


def union_name(street_name: str) -> str:
    """The union a member of a street belongs to: 拱辰街道 → 拱辰街道总工会."""
    return f"{street_name}总工会"


def welcome_text(template: str, *, name: str, union: str) -> str:
    return template.format(name=name, union=union)


def sms_text(plan: Plan, text: str) -> str:
    """What the phone shows: the signature first, as Chinese SMS gateways require."""
    return f"【{plan.welcome.sms_signature}】{text}"


def sms_segments(text: str) -> int:
    """How many SMS one message costs (Chinese text: 70 characters, or 67 per part)."""
    if len(text) <= SMS_SINGLE:
        return 1
    return math.ceil(len(text) / SMS_PART)


async def queue_welcome(
    *, session: AsyncSession, member: Member, plan: Plan, now: datetime, batch_id: int | None = None
) -> int:
    """One welcome per channel (SMS always; Telegram when linked), never twice: the keys
    name the member. Returns how many rows were new."""
    assert member.id is not None
    if member.opted_out_at is not None or member.mobile is None:  # opted out, or erased
        return 0
    street = await session.get(Street, member.street_id)
    assert street is not None
    template = await welcome_template(session=session, plan=plan)
    text = welcome_text(template, name=member.name, union=union_name(street.name))
    rows = [
        Outgoing(
            key=f"welcome|sms|{member.id}", kind="welcome", channel=OutboxChannel.SMS,
            recipient=member.mobile,
            payload={"text": sms_text(plan, text), "member_id": member.id}, not_before=now,
        )
    ]  # fmt: skip
    if member.telegram_user_id is not None:
        rows.append(
            Outgoing(
                key=f"welcome|telegram|{member.id}", kind="welcome",
                recipient=str(member.telegram_user_id),
                # Telegram reads it as HTML: the admin's words and the member's name as typed.
                payload={"text": html.escape(text, quote=False), "member_id": member.id},
                not_before=now,
            )
        )  # fmt: skip
    return await enqueue(session=session, rows=rows, now=now, batch_id=batch_id)


async def welcomes_queued(*, session: AsyncSession, member_id: int) -> list[OutboxMessage]:
    found = await session.exec(
        select(OutboxMessage)
        .where(col(OutboxMessage.dedupe_key).like(f"welcome|%|{member_id}"))
        .order_by(col(OutboxMessage.id))
    )
    return list(found.all())
