"""Group chats bound to the district or to one street: what status shows in each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit
from models.enums import ChatScope
from models.tables import ChatBinding, Street


@dataclass(frozen=True)
class Scope:
    """The district (street_id None) or one street."""

    street_id: int | None = None
    street_name: str | None = None

    @property
    def is_district(self) -> bool:
        return self.street_id is None


async def chat_scope(*, session: AsyncSession, chat_id: int) -> Scope | None:
    """The scope a group is bound to; None for an unbound group."""
    row = (
        await session.exec(
            select(ChatBinding.street_id, Street.name)
            .join(Street, col(ChatBinding.street_id) == Street.id, isouter=True)
            .where(ChatBinding.chat_id == chat_id)
        )
    ).first()
    return None if row is None else Scope(row[0], row[1])


async def street_scope(*, session: AsyncSession, street_id: int) -> Scope | None:
    name = (await session.exec(select(Street.name).where(Street.id == street_id))).first()
    return None if name is None else Scope(street_id, name)


async def find_street(*, session: AsyncSession, name: str) -> Scope | None:
    """A street by its full name or an unambiguous fragment ("拱辰" → 拱辰街道)."""
    name = name.strip()
    if not name:
        return None
    rows = (await session.exec(select(Street.id, Street.name))).all()
    exact = [r for r in rows if r[1] == name]
    matches = exact or [r for r in rows if name in r[1]]
    if len(matches) != 1:
        return None
    street_id, street_name = matches[0]
    return Scope(street_id, street_name)


async def bind_chat(
    *, session: AsyncSession, chat_id: int, scope: Scope, by_user_id: int, now: datetime
) -> None:
    binding = (
        await session.exec(select(ChatBinding).where(ChatBinding.chat_id == chat_id))
    ).first()
    before = None if binding is None else _snapshot(binding)
    binding = binding or ChatBinding(
        chat_id=chat_id, scope=ChatScope.DISTRICT, bound_by=by_user_id, bound_at=now
    )
    binding.scope = ChatScope.DISTRICT if scope.is_district else ChatScope.STREET
    binding.street_id = scope.street_id
    binding.bound_by, binding.bound_at = by_user_id, now
    session.add(binding)
    audit.record(
        session=session,
        now=now,
        actor_user_id=by_user_id,
        action="chat.bind",
        entity="chat",
        entity_id=chat_id,
        before=before,
        after=_snapshot(binding),
    )


async def unbind_chat(
    *, session: AsyncSession, chat_id: int, by_user_id: int, now: datetime
) -> bool:
    binding = (
        await session.exec(select(ChatBinding).where(ChatBinding.chat_id == chat_id))
    ).first()
    if binding is None:
        return False
    audit.record(
        session=session,
        now=now,
        actor_user_id=by_user_id,
        action="chat.unbind",
        entity="chat",
        entity_id=chat_id,
        before=_snapshot(binding),
    )
    await session.delete(binding)
    return True


def _snapshot(binding: ChatBinding) -> dict[str, object]:
    return {"scope": str(binding.scope), "street_id": binding.street_id}
