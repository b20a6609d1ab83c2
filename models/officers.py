"""Officers, roles and invites: who may use the bot, and how one gets in."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit
from models.enums import Language, Role
from models.tables import Invite, Officer, Street


@dataclass(frozen=True)
class OfficerView:
    """What the rest of the bot needs to know about an officer, detached from the session."""

    user_id: int
    role: Role
    active: bool
    language: Language
    street_id: int | None
    street_name: str | None


async def find_officer(*, session: AsyncSession, telegram_user_id: int) -> OfficerView | None:
    row = (
        await session.exec(
            select(Officer, Street.name)
            .join(Street, col(Officer.street_id) == Street.id, isouter=True)
            .where(Officer.telegram_user_id == telegram_user_id)
        )
    ).first()
    if row is None:
        return None
    officer, street_name = row
    return OfficerView(
        user_id=officer.telegram_user_id,
        role=Role(officer.role),
        active=officer.active,
        language=Language(officer.language),
        street_id=officer.street_id,
        street_name=street_name,
    )


async def ensure_admins(
    *, session: AsyncSession, user_ids: Iterable[int], now: datetime, language: Language
) -> None:
    """BOT_ADMIN_IDS are district admins from the start (and again after a restart)."""
    for user_id in user_ids:
        current = await find_officer(session=session, telegram_user_id=user_id)
        if current and current.role is Role.DISTRICT_ADMIN and current.active:
            continue
        await _assign_role(
            session=session,
            telegram_user_id=user_id,
            role=Role.DISTRICT_ADMIN,
            street_id=None,
            now=now,
            action="officer.admin_from_settings",
            actor_user_id=None,
            language=language,
        )


DISPLAY_NAME_MAX = 128  # Officer.display_name


async def _assign_role(
    *,
    session: AsyncSession,
    telegram_user_id: int,
    role: Role,
    street_id: int | None,
    now: datetime,
    action: str,
    actor_user_id: int | None,
    language: Language | None = None,
    display_name: str | None = None,
    invited_by: int | None = None,
    note: dict[str, object] | None = None,
) -> Officer:
    """Give a user a role (creating or reactivating the officer) and audit the change."""
    officer = (
        await session.exec(select(Officer).where(Officer.telegram_user_id == telegram_user_id))
    ).first()
    before = _snapshot(officer) if officer else None
    officer = officer or Officer(telegram_user_id=telegram_user_id, role=role, created_at=now)
    officer.role, officer.street_id, officer.active = role, street_id, True
    if language is not None:
        officer.language = language
    if display_name is not None:
        # Telegram's first and last names are 64 characters each: with the space, 129.
        officer.display_name = display_name[:DISPLAY_NAME_MAX]
    if invited_by is not None:
        officer.invited_by = invited_by
    session.add(officer)
    audit.record(
        session=session,
        now=now,
        actor_user_id=actor_user_id,
        action=action,
        entity="officer",
        entity_id=telegram_user_id,
        before=before,
        after={**_snapshot(officer), **(note or {})},
    )
    return officer


async def set_language(*, session: AsyncSession, telegram_user_id: int, language: Language) -> None:
    officer = (
        await session.exec(select(Officer).where(Officer.telegram_user_id == telegram_user_id))
    ).one()
    officer.language = language
    session.add(officer)


# --- invites -----------------------------------------------------------------------------


class InviteState(StrEnum):
    VALID = "valid"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"


def invite_state(invite: Invite | None, now: datetime) -> InviteState:
    """A rule of values: single use, and valid strictly before its expiry instant."""
    if invite is None:
        return InviteState.UNKNOWN
    if invite.used_at is not None:
        return InviteState.USED
    if now >= invite.expires_at:
        return InviteState.EXPIRED
    return InviteState.VALID


def new_invite_code() -> str:
    # 96 random bits, URL-safe: fits a t.me deep link (A-Z a-z 0-9 _ -, ≤64) and can't be guessed.
    return secrets.token_urlsafe(12)


async def create_invite(
    *,
    session: AsyncSession,
    role: Role,
    street_id: int | None,
    created_by: int,
    now: datetime,
    ttl: timedelta,
) -> Invite:
    if (role is Role.DISTRICT_ADMIN) != (street_id is None):
        raise ValueError("admins have no street; every other role has exactly one")
    invite = Invite(
        code=new_invite_code(),
        role=role,
        street_id=street_id,
        created_by=created_by,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(invite)
    await session.flush()
    audit.record(
        session=session,
        now=now,
        actor_user_id=created_by,
        action="invite.create",
        entity="invite",
        entity_id=invite.id,
        after={
            "role": role.value,
            "street_id": street_id,
            "expires_at": invite.expires_at.isoformat(),
        },
    )
    return invite


@dataclass(frozen=True)
class Redemption:
    state: InviteState
    invite: Invite | None
    street_name: str | None = None  # the invite's street
    already: OfficerView | None = None  # set when the user already has an active role


async def redeem_invite(
    *,
    session: AsyncSession,
    code: str,
    telegram_user_id: int,
    display_name: str,
    language: Language,
    now: datetime,
) -> Redemption:
    """Make the user an officer with the invite's role and street, and spend the invite.

    An active officer keeps their role and the invite stays unspent for its real invitee.
    """
    # FOR UPDATE: two people racing for one code on PostgreSQL get it once (SQLite's
    # BEGIN IMMEDIATE already serialises writers).
    invite = (
        await session.exec(select(Invite).where(Invite.code == code).with_for_update())
    ).first()
    state = invite_state(invite, now)
    if state is not InviteState.VALID or invite is None:
        return Redemption(state, invite)
    street = await session.get(Street, invite.street_id) if invite.street_id else None
    street_name = street.name if street else None
    current = await find_officer(session=session, telegram_user_id=telegram_user_id)
    if current is not None and current.active:
        return Redemption(state, invite, street_name, already=current)

    invite.used_by, invite.used_at = telegram_user_id, now
    session.add(invite)
    await _assign_role(
        session=session,
        telegram_user_id=telegram_user_id,
        role=Role(invite.role),
        street_id=invite.street_id,
        now=now,
        action="invite.redeem",
        actor_user_id=telegram_user_id,
        language=language,
        display_name=display_name,
        invited_by=invite.created_by,
        note={"invite_id": invite.id},
    )
    return Redemption(InviteState.VALID, invite, street_name)


async def list_streets(*, session: AsyncSession) -> list[tuple[int, str]]:
    rows = await session.exec(select(Street.id, Street.name).order_by(col(Street.position)))
    return [(id_, name) for id_, name in rows.all() if id_ is not None]


def _snapshot(officer: Officer) -> dict[str, object]:
    return {
        "role": Role(officer.role).value,
        "street_id": officer.street_id,
        "active": officer.active,
    }


async def ensure_officer(
    *,
    session: AsyncSession,
    telegram_user_id: int,
    role: Role,
    street_name: str | None,
    display_name: str,
    language: Language,
    now: datetime,
) -> None:
    """Create an officer if the user has no role yet (demo and training set-ups)."""
    if await find_officer(session=session, telegram_user_id=telegram_user_id):
        return
    street_id = None
    if street_name is not None:
        street_id = (await session.exec(select(Street.id).where(Street.name == street_name))).one()
    await _assign_role(
        session=session,
        telegram_user_id=telegram_user_id,
        role=role,
        street_id=street_id,
        now=now,
        action="officer.create",
        actor_user_id=None,
        language=language,
        display_name=display_name,
    )


# --- removing officers -------------------------------------------------------------------


@dataclass(frozen=True)
class OfficerLine:
    user_id: int
    name: str
    role: Role
    street_name: str | None


async def list_officers(*, session: AsyncSession) -> list[OfficerLine]:
    """Active officers, district admins first, then by street and name."""
    rows = (
        await session.exec(
            select(Officer, Street.name)
            .join(Street, col(Officer.street_id) == Street.id, isouter=True)
            .where(col(Officer.active).is_(True))
        )
    ).all()
    lines = [
        OfficerLine(officer.telegram_user_id, officer.display_name, Role(officer.role), street)
        for officer, street in rows
    ]
    order = list(Role)
    return sorted(lines, key=lambda o: (order.index(o.role), o.street_name or "", o.name))


class Removal(StrEnum):
    REMOVED = "removed"
    GONE = "gone"  # not an officer, or removed already: an old button
    SELF = "self"  # an admin cannot lock themselves out
    FROM_SETTINGS = "from_settings"  # BOT_ADMIN_IDS would make them an admin again at start


async def remove_officer(
    *,
    session: AsyncSession,
    telegram_user_id: int,
    by_user_id: int,
    settings_admins: Iterable[int],
    now: datetime,
) -> Removal:
    """Take a user's role away. The row stays (inactive), so the audit and what they logged
    keep their name, and an old invite cannot bring them back (invites are single use)."""
    if telegram_user_id == by_user_id:
        return Removal.SELF
    if telegram_user_id in set(settings_admins):
        return Removal.FROM_SETTINGS
    officer = (
        await session.exec(select(Officer).where(Officer.telegram_user_id == telegram_user_id))
    ).first()
    if officer is None or not officer.active:
        return Removal.GONE
    before = _snapshot(officer)
    officer.active = False
    session.add(officer)
    audit.record(
        session=session, now=now, actor_user_id=by_user_id, action="officer.remove",
        entity="officer", entity_id=telegram_user_id, before=before, after=_snapshot(officer),
    )  # fmt: skip
    return Removal.REMOVED
