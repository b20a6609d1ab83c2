"""/history: the audit trail of one unit or one meeting, as the audit log holds it.

A unit's trail gathers what was recorded against the unit itself, its ledger entry and the
visits to it; a meeting's, what was recorded against the meeting (a deleted meeting keeps its
trail, and its street comes from the trail). Read-only: nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.tables import AuditEntry, LedgerEntry, Meeting, Officer, Street, Unit, Visit

PAGE = 10


@dataclass(frozen=True)
class Change:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Event:
    at: datetime
    actor_user_id: int | None
    actor_name: str | None  # the officer's name as the bot knows it; None: the system
    action: str
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class History:
    street_id: int | None  # whose business it is, for the rights check
    subject: str  # the unit's name, or the meeting's place
    total: int
    events: tuple[Event, ...]  # newest first, one page
    streets: dict[int, str]  # street ids the snapshots hold, by name
    meeting: dict[str, Any] | None = None  # a meeting's latest snapshot (kind, date, place)


def changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> tuple[Change, ...]:
    """The fields that differ, in a stable order; a field only on one side counts."""
    before, after = before or {}, after or {}
    keys = [*before, *(key for key in after if key not in before)]
    return tuple(
        Change(key, before.get(key), after.get(key))
        for key in keys
        if before.get(key) != after.get(key)
    )


async def unit_history(*, session: AsyncSession, unit_id: int, offset: int = 0) -> History | None:
    unit = await session.get(Unit, unit_id)
    if unit is None:
        return None
    entries = select(LedgerEntry.id).where(LedgerEntry.unit_id == unit_id)
    visits = select(Visit.id).where(Visit.unit_id == unit_id)
    about = sa.or_(
        sa.and_(col(AuditEntry.entity) == "unit", col(AuditEntry.entity_id) == str(unit_id)),
        sa.and_(
            col(AuditEntry.entity) == "ledger",
            col(AuditEntry.entity_id).in_([str(i) for i in (await session.exec(entries)).all()]),
        ),
        sa.and_(
            col(AuditEntry.entity) == "visit",
            col(AuditEntry.entity_id).in_([str(i) for i in (await session.exec(visits)).all()]),
        ),
    )
    return await _history(session, about, unit.street_id, unit.name, offset)


async def meeting_history(
    *, session: AsyncSession, meeting_id: int, offset: int = 0
) -> History | None:
    about = sa.and_(
        col(AuditEntry.entity) == "meeting", col(AuditEntry.entity_id) == str(meeting_id)
    )
    # The latest snapshot says what the meeting is (or was: a deleted one keeps its trail).
    last = (
        await session.exec(select(AuditEntry).where(about).order_by(col(AuditEntry.id).desc()))
    ).first()
    if last is None:
        return None
    snapshot = last.after or last.before or {}
    meeting = await session.get(Meeting, meeting_id)
    street_id = meeting.street_id if meeting is not None else snapshot.get("street_id")
    found = await _history(
        session, about, int(street_id) if street_id else None, str(snapshot.get("place") or ""),
        offset,
    )  # fmt: skip
    return History(**{**found.__dict__, "meeting": snapshot})


async def _history(
    session: AsyncSession, about: Any, street_id: int | None, subject: str, offset: int
) -> History:
    total = (await session.exec(select(func.count()).select_from(AuditEntry).where(about))).one()
    rows = (
        await session.exec(
            select(AuditEntry, Officer.display_name)
            .join(
                Officer,
                col(Officer.telegram_user_id) == col(AuditEntry.actor_user_id),
                isouter=True,
            )
            .where(about)
            .order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
            .offset(offset)
            .limit(PAGE)
        )
    ).all()
    events = tuple(
        Event(
            at=entry.at,
            actor_user_id=entry.actor_user_id,
            actor_name=name,
            action=entry.action,
            changes=changes(entry.before, entry.after),
        )
        for entry, name in rows
    )
    streets = dict((await session.exec(select(Street.id, Street.name))).all())
    return History(
        street_id=street_id, subject=subject, total=total, events=events,
        streets={i: name for i, name in streets.items() if i is not None},
    )  # fmt: skip
