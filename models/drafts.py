"""Drafts: what a conversation has gathered so far, one per user and kind, in the database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.tables import Draft


async def load_draft(*, session: AsyncSession, user_id: int, kind: str) -> dict[str, Any] | None:
    draft = (
        await session.exec(select(Draft).where(Draft.user_id == user_id, Draft.kind == kind))
    ).first()
    return None if draft is None else dict(draft.payload)


async def save_draft(
    *, session: AsyncSession, user_id: int, kind: str, payload: dict[str, Any], now: datetime
) -> None:
    draft = (
        await session.exec(select(Draft).where(Draft.user_id == user_id, Draft.kind == kind))
    ).first() or Draft(user_id=user_id, kind=kind, updated_at=now)
    draft.payload, draft.updated_at = payload, now
    session.add(draft)


async def drop_draft(*, session: AsyncSession, user_id: int, kind: str) -> bool:
    draft = (
        await session.exec(select(Draft).where(Draft.user_id == user_id, Draft.kind == kind))
    ).first()
    if draft is None:
        return False
    await session.delete(draft)
    return True
