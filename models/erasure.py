"""Erasing a member's personal data on their request, keeping every count.

The member's row stays (it is counted: members per street, per unit, per meeting), with the
name, the number and the Telegram account gone. What else held them is cleared too: their
online applications, and the messages to them, pending (cancelled) or sent (recipient and
text blanked). The audit log keeps only that the erasure happened: it never held their
name or number (models.members.member_snapshot), and it cannot be changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit
from models.enums import OutboxChannel, OutboxStatus
from models.joining import cancel_pending
from models.tables import Member, MembershipApplication, OutboxMessage, Street

ERASED = "-"  # what stands where a name or number was (both columns must hold something)


@dataclass(frozen=True)
class ErasureCandidate:
    """What the admin confirms: enough to recognise the member, nothing more."""

    member_id: int
    name: str
    mobile: str
    street_name: str
    joined_on: str


async def find_member(*, session: AsyncSession, mobile: str) -> ErasureCandidate | None:
    row = (
        await session.exec(
            select(Member, Street.name)
            .join(Street, col(Member.street_id) == Street.id)
            .where(Member.mobile == mobile)
        )
    ).first()
    if row is None:
        return None
    member, street_name = row
    assert member.id is not None and member.mobile is not None
    return ErasureCandidate(
        member_id=member.id,
        name=member.name,
        mobile=member.mobile,
        street_name=street_name,
        joined_on=member.joined_on.isoformat(),
    )


@dataclass(frozen=True)
class Erased:
    applications: int
    messages: int  # pending ones cancelled and sent ones blanked


async def erase_member(
    *, session: AsyncSession, member_id: int, by_user_id: int, now: datetime
) -> Erased | None:
    """None when there is no such member or they were erased already (an old button)."""
    member = await session.get(Member, member_id)
    if member is None or member.erased_at is not None:
        return None
    mobile, chat = member.mobile, member.telegram_user_id
    chats = [str(chat)] if chat is not None else []
    mobiles = [mobile] if mobile is not None else []
    await cancel_pending(session=session, chats=chats, mobiles=mobiles)
    applications = await _blank_applications(session, member_id=member_id, mobile=mobile)
    messages = await _blank_messages(
        session, member_id=member_id, chats=chats, mobiles=mobiles, applications=applications
    )
    member.name, member.mobile, member.telegram_user_id = ERASED, None, None
    member.erased_at = now
    member.opted_out_at = member.opted_out_at or now
    session.add(member)
    audit.record(
        session=session, now=now, actor_user_id=by_user_id, action="member.erase",
        entity="member", entity_id=member_id, before={"erased": False},
        after={"erased": True, "applications": len(applications), "messages": messages},
    )  # fmt: skip
    return Erased(applications=len(applications), messages=messages)


async def _blank_messages(
    session: AsyncSession,
    *,
    member_id: int,
    chats: list[str],
    mobiles: list[str],
    applications: list[int],
) -> int:
    """Every message that named them, whatever its state: those to them, and the officers'
    notices of their applications."""
    about_them = [
        sa.and_(col(OutboxMessage.channel) == channel, col(OutboxMessage.recipient).in_(values))
        for channel, values in ((OutboxChannel.TELEGRAM, chats), (OutboxChannel.SMS, mobiles))
        if values
    ]
    for application_id in applications:
        about_them.append(col(OutboxMessage.dedupe_key).startswith(f"join.apply|{application_id}|"))
        about_them.append(col(OutboxMessage.dedupe_key) == f"join.outcome|{application_id}")
    if not about_them:
        return 0
    blanked = 0
    for message in (await session.exec(select(OutboxMessage).where(sa.or_(*about_them)))).all():
        if message.recipient in chats or message.recipient in mobiles:
            message.recipient = ERASED
        message.payload = {"member_id": member_id}
        if message.status is OutboxStatus.PENDING:  # nothing left to send
            message.status = OutboxStatus.CANCELLED
        session.add(message)
        blanked += 1
    return blanked


async def _blank_applications(
    session: AsyncSession, *, member_id: int, mobile: str | None
) -> list[int]:
    """Their applications, name and number blanked; the ids, for the notices about them."""
    mine = col(MembershipApplication.member_id) == member_id
    where = mine if mobile is None else sa.or_(mine, col(MembershipApplication.mobile) == mobile)
    rows = (await session.exec(select(MembershipApplication).where(where))).all()
    for row in rows:
        row.name, row.mobile = ERASED, ERASED
        session.add(row)
    return [row.id for row in rows if row.id is not None]
