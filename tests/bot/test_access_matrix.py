"""The authorisation matrix of docs/access.md, read from the page and walked cell by cell.

Every cell is one person (a column) using one entry point (a row) in one kind of chat (a
table), through the whole bot on the fake Bot API, on the seeded demo district. What the cell
says is checked on what they see and on what the database holds afterwards (see `check`).
A row is a `Row` below: how to get ready (a draft to answer, a meeting to delete, a list
whose import to confirm; done in the person's private chat, where conversations live), and
what to do in the cell's chat, aimed at a `Target`: a street, and whether the thing aimed at
is the person's own. A cell that says "own" (or "grp") is walked twice: once at their own (the
group's) street or entry, where it must work, and, where the row can aim elsewhere, once at
another street's or person's, where it must be refused.

One test per kind of chat, on one demo database each: the cells of a table run one after the
other in it. A cell's writes stay (a unit moved along the ledger stays moved); every cell reads
what it needs afresh (the next open ledger step, a fresh invite), starts with the person's
drafts dropped, and checks "nothing written" against the database just before its own update.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import itertools
import re
import string
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel, col, delete, select
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, TypeHandler

from bot.fake_api import JSON, ApiCall, buttons
from bot.harness import Harness, alerts, shown
from bot.texts import catalogue
from bot.update_log import callback_name
from models.chats import Scope, bind_chat, unbind_chat
from models.enums import Language, LedgerOutcome, LedgerStage, MeetingKind, Role
from models.joining import ApplicationInput, join_link_for, submit_application
from models.ledger import STAGES
from models.meetings import MeetingInput, save_meeting
from models.members import MemberSource, NewMember, register_member
from models.officers import create_invite, ensure_officer, remove_officer
from models.outbox import Outgoing, enqueue
from models.tables import Draft, LedgerEntry, OutboxMessage, Street, Unit
from models.visits import VisitPurpose, log_unit_visit
from tests.conftest import ADMIN_ID, OFFICER_ID, OTHER_OFFICER_ID, make_settings
from tests.db.test_unit_import import HEAD, code

DOC = Path(__file__).resolve().parents[2] / "docs" / "access.md"

ROLES = {
    "stranger": "stranger",
    "member": "member",
    "worker": "worker",
    "officer": "officer",
    "other officer": "other",
    "admin": "admin",
    "removed": "removed",
}
CHATS = {"Private chat": "private", "Bound group": "bound", "Unbound group": "unbound",
         "Channel": "channel"}  # fmt: skip
CODES = {"✓", "own", "grp", "=", "→", "✗", "·"}

STREET_A, STREET_B, STREET_C = "拱辰街道", "良乡镇", "城关街道"  # A: the bound group's
MEMBER_ID, WORKER_ID, REMOVED_ID = 30001, 30002, 30003
BOUND_GROUP, UNBOUND_GROUP, CHANNEL = -100501, -100502, -100503


# --- the page ------------------------------------------------------------------------------


Matrix = dict[str, dict[str, dict[str, str]]]  # chat → row key → role → code


def read_matrix(text: str) -> Matrix:
    """The tables under the chat headings: each row's key (its first `code`) and its cells."""
    matrix: Matrix = {}
    chat: str | None = None
    roles: list[str] = []
    for line in text.splitlines():
        if line.startswith("#"):
            chat = CHATS.get(line.lstrip("#").strip())
            continue
        if chat is None or not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == "entry point":
            roles = [ROLES[c] for c in cells[2:]]
            continue
        if set(cells[0]) <= {"-"}:
            continue
        key = re.search(r"`([^`]+)`", cells[0])
        assert key is not None, f"a row without a `key`: {line}"
        codes = dict(zip(roles, cells[2:], strict=True))
        assert set(codes.values()) <= CODES, f"unknown code in: {line}"
        matrix.setdefault(chat, {})[key.group(1)] = codes
    return matrix


@cache
def matrix() -> Matrix:
    return read_matrix(DOC.read_text(encoding="utf-8"))


# --- the people, the chats and what they aim at ------------------------------------------


@dataclass(frozen=True)
class Place:
    """A street, with an open ledger unit of it to aim at."""

    id: int
    name: str


@dataclass(frozen=True)
class Persona:
    role: str
    user: JSON
    street: Place | None

    @property
    def id(self) -> int:
        return int(self.user["id"])

    @property
    def admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class Target:
    street: Place
    mine: bool  # the person's own entry, draft, list or reminder (else someone else's)


class Values(dict[str, Any]):
    """A missing value reads as 0: in a channel nothing is made ready, and the action goes
    ahead with data that names nothing."""

    def __missing__(self, key: str) -> Any:
        return 0


@dataclass
class Ready:
    """What getting ready made: values the action needs, and what must never be shown to
    someone refused."""

    values: Values = field(default_factory=Values)
    secrets: tuple[str, ...] = ()


class World:
    """The demo district with every kind of person and chat, and the means to act in it."""

    def __init__(self, bot: Harness) -> None:
        self.bot, self.api = bot, bot.api
        self.db = bot.app.bot_data.db
        self.streets: dict[str, Place] = {}
        self.people: dict[str, Persona] = {}
        self._ids = itertools.count(40001)
        self._mobiles = itertools.count(1)
        self._codes = itertools.count(900001)

    @classmethod
    async def build(cls, bot: Harness) -> World:
        world = cls(bot)
        async with world.db.session() as session:
            for name in (STREET_A, STREET_B, STREET_C):
                street_id = (await session.exec(select(Street.id).where(Street.name == name))).one()
                assert street_id is not None
                world.streets[name] = Place(street_id, name)
        a, b = world.streets[STREET_A], world.streets[STREET_B]
        world.people = {
            "stranger": Persona("stranger", world.api.user(next(world._ids), "路人"), None),
            "member": await world.member(MEMBER_ID),
            "worker": await world.officer(WORKER_ID, Role.COMMUNITY_WORKER, a),
            "officer": Persona("officer", world.api.user(OFFICER_ID, "拱辰干部"), a),
            "other": Persona("other", world.api.user(OTHER_OFFICER_ID, "良乡干部"), b),
            "admin": Persona("admin", world.api.user(ADMIN_ID, "王老师"), None),
            "removed": await world.removed(REMOVED_ID),
        }
        world.api.group_chat(BOUND_GROUP, "拱辰街道工会群")
        world.api.group_chat(UNBOUND_GROUP, "闲聊群")
        world.api.chats[CHANNEL] = {"id": CHANNEL, "type": "channel", "title": "工会频道"}
        async with world.db.session(write=True) as session:
            await bind_chat(session=session, chat_id=BOUND_GROUP, scope=Scope(a.id, a.name),
                            by_user_id=ADMIN_ID, now=world.now())  # fmt: skip
        return world

    def now(self) -> Any:
        return self.bot.app.bot_data.clock.now()

    def today(self) -> date:
        return self.bot.app.bot_data.clock.today()

    def mobile(self) -> str:
        return f"1391{next(self._mobiles):07d}"

    # --- people ---

    async def member(self, user_id: int) -> Persona:
        """A worker who joined: a member linked to their Telegram account."""
        a = self.streets[STREET_A]
        async with self.db.session(write=True) as session:
            await register_member(
                session=session, member=NewMember(name="会员甲", mobile=self.mobile(),
                street_id=a.id, joined_on=self.today(), telegram_user_id=user_id),
                source=MemberSource.ONLINE, by_user_id=OFFICER_ID, now=self.now(),
                plan=self.bot.app.bot_data.plan,
            )  # fmt: skip
        return Persona("member", self.api.user(user_id, "会员甲"), a)

    async def officer(self, user_id: int, role: Role, street: Place | None) -> Persona:
        async with self.db.session(write=True) as session:
            await ensure_officer(session=session, telegram_user_id=user_id, role=role,
                                 street_name=street.name if street else None,
                                 display_name=f"干部{user_id}",
                                 language=Language.ZH, now=self.now())  # fmt: skip
        name = "worker" if role is Role.COMMUNITY_WORKER else "officer"
        return Persona(name, self.api.user(user_id, f"干部{user_id}"), street)

    async def removed(self, user_id: int) -> Persona:
        """A street officer of A, removed by an admin as /officers does."""
        person = await self.officer(user_id, Role.STREET_OFFICER, self.streets[STREET_A])
        async with self.db.session(write=True) as session:
            await remove_officer(session=session, telegram_user_id=user_id, by_user_id=ADMIN_ID,
                                 settings_admins=(ADMIN_ID,), now=self.now())  # fmt: skip
        return Persona("removed", person.user, person.street)

    async def second_admin(self) -> Persona:
        """Another district admin: someone else's import, to an admin."""
        if "admin2" not in self.people:
            person = await self.officer(next(self._ids), Role.DISTRICT_ADMIN, None)
            self.people["admin2"] = Persona("admin", person.user, None)
        return self.people["admin2"]

    async def persona(self, role: str, *, fresh: bool) -> Persona:
        """The role's person; a new one where the row changes who they are (an invite makes
        a member an officer) or for a stranger, who must stay a stranger."""
        if role == "stranger":
            return Persona("stranger", self.api.user(next(self._ids), "路人"), None)
        if fresh and role == "member":
            return await self.member(next(self._ids))
        if fresh and role == "removed":
            return await self.removed(next(self._ids))
        return self.people[role]

    def own(self, person: Persona) -> Target:
        return Target(person.street or self.streets[STREET_A], mine=True)

    def foreign(self, person: Persona) -> Target:
        """Another street's (B's, or A's for B's officer), and someone else's."""
        a, b = self.streets[STREET_A], self.streets[STREET_B]
        if person.street is None:
            return Target(self.streets[STREET_C], mine=False)
        return Target(b if person.street == a else a, mine=False)

    def anyone(self) -> Target:
        return Target(self.streets[STREET_C], mine=False)

    def someone_else(self, person: Persona) -> int:
        return OTHER_OFFICER_ID if person.id != OTHER_OFFICER_ID else OFFICER_ID

    # --- chats and updates ---

    def chat(self, person: Persona, kind: str) -> JSON:
        if kind == "private":
            return self.api.private_chat(person.user)
        return self.api.chats[{"bound": BOUND_GROUP, "unbound": UNBOUND_GROUP,
                               "channel": CHANNEL}[kind]]  # fmt: skip

    def message(self, person: Persona, kind: str, **content: Any) -> JSON:
        """A message update from `person` in that chat; a channel post has no sender."""
        chat = self.chat(person, kind)
        message: JSON = {"message_id": next(self.api._message_ids), "date": 0, "chat": chat,
                         **content}  # fmt: skip
        if kind == "channel":
            message["sender_chat"] = chat
        else:
            message["from"] = person.user
        text = str(content.get("text") or "")
        if text.startswith("/"):
            length = len(text.split(maxsplit=1)[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        self.api.messages[(chat["id"], message["message_id"])] = message
        key = "channel_post" if kind == "channel" else "message"
        return {"update_id": next(self.api._update_ids), key: message}

    async def process(self, update: JSON) -> list[ApiCall]:
        return await self.bot.process(update)

    async def send(self, person: Persona, kind: str, text: str) -> list[ApiCall]:
        return await self.process(self.message(person, kind, text=text))

    async def press(
        self, person: Persona, kind: str, data: str, on: JSON | None = None
    ) -> list[ApiCall]:
        """Press a button with `data` on a bot message in that chat (a new one unless given)."""
        chat = self.chat(person, kind)
        if on is None or on["chat"]["id"] != chat["id"]:
            _, body = self.api.answer("sendMessage", {"chat_id": chat["id"], "text": "…"})
            on = body["result"]
        assert on is not None
        return await self.process(self.api.callback_update(user=person.user, message=on,
                                                           data=data))  # fmt: skip

    async def file(
        self, person: Persona, kind: str, data: bytes, name: str, photo: bool = False
    ) -> list[ApiCall]:
        file_id = f"user-file-{next(self.api._message_ids)}"
        self.api.user_files[file_id] = data
        described = {"file_id": file_id, "file_unique_id": f"u-{file_id}",
                     "file_size": len(data)}  # fmt: skip
        content = (
            {"photo": [{**described, "width": 1280, "height": 960}]} if photo
            else {"document": {**described, "file_name": name}}
        )  # fmt: skip
        return await self.process(self.message(person, kind, **content))

    async def contact(self, person: Persona, kind: str, mobile: str) -> list[ApiCall]:
        contact = {"phone_number": mobile, "first_name": person.user["first_name"],
                   "user_id": person.id}  # fmt: skip
        return await self.process(self.message(person, kind, contact=contact))

    # --- the database ---

    async def clear(self, person: Persona) -> None:
        """A cell starts with no conversation waiting for the person."""
        async with self.db.session(write=True) as session:
            await session.exec(delete(Draft).where(col(Draft.user_id) == person.id))

    async def open_unit(self, street: Place) -> tuple[int, str, str, int]:
        """An open ledger unit of the street that can move on: id, name, code, next stage."""
        async with self.db.session() as session:
            rows = (
                await session.exec(
                    select(Unit.id, Unit.name, Unit.credit_code, LedgerEntry.stage)
                    .join(LedgerEntry, col(LedgerEntry.unit_id) == Unit.id)
                    .where(LedgerEntry.street_id == street.id,
                           LedgerEntry.outcome == LedgerOutcome.OPEN)
                    .order_by(col(Unit.id))
                )
            ).all()  # fmt: skip
        for unit_id, name, credit_code, stage in rows:
            following = STAGES.index(LedgerStage(stage)) + 1
            if following < len(STAGES) - 1 and unit_id is not None:
                return unit_id, name, credit_code, following
        raise AssertionError(f"no open ledger unit left in {street.name}")

    async def meeting(self, street: Place, by: int) -> int:
        async with self.db.session(write=True) as session:
            row = await save_meeting(
                session=session, meeting=MeetingInput(kind=MeetingKind.WORKER,
                held_on=self.today(), street_id=street.id, attendees=30, place="社区活动室"),
                by_user_id=by, now=self.now(),
            )  # fmt: skip
        assert row.id is not None
        return row.id

    async def visit(self, street: Place, by: int) -> int:
        unit_id, *_ = await self.open_unit(street)
        async with self.db.session(write=True) as session:
            row = await log_unit_visit(
                session=session, unit_id=unit_id, street_id=street.id,
                purpose=VisitPurpose.VISIT, summary="了解情况", next_step=None,
                next_step_on=None, by_user_id=by, on=self.today(), now=self.now(),
            )  # fmt: skip
        assert row.id is not None
        return row.id

    async def registered(self, street: Place) -> tuple[int, str, str]:
        """A member of the street (id, name, mobile), registered by its officer."""
        mobile, name = self.mobile(), f"会员{next(self._ids)}"
        async with self.db.session(write=True) as session:
            row = await register_member(
                session=session, member=NewMember(name=name, mobile=mobile, street_id=street.id,
                joined_on=self.today()), source=MemberSource.OFFICER, by_user_id=ADMIN_ID,
                now=self.now(), plan=self.bot.app.bot_data.plan,
            )  # fmt: skip
        assert not isinstance(row, str) and row.id is not None
        return row.id, name, mobile

    async def application(self, street: Place) -> tuple[int, str, str]:
        """A pending application to the street's union: id, the applicant's name and number."""
        name, mobile = f"申请人{next(self._ids)}", self.mobile()
        application = ApplicationInput(
            telegram_user_id=next(self._ids), name=name, mobile=mobile, street_id=street.id,
            unit_name="某公司", consent_at=self.now(), language=Language.ZH,
        )  # fmt: skip
        async with self.db.session(write=True) as session:
            row = await submit_application(session=session, application=application,
                                           notice=lambda r, lang: {"text": "申请"},
                                           now=self.now())  # fmt: skip
        assert not isinstance(row, str) and row.id is not None
        return row.id, name, mobile

    async def reminder(self, recipient: int, street: Place, *, private: bool) -> int:
        key = f"matrix|{next(self._ids)}"
        payload = {"text": "月报提醒", "street_id": street.id, "private": private}
        async with self.db.session(write=True) as session:
            await enqueue(session=session, rows=[Outgoing(key=key, kind="remind",
                          recipient=str(recipient), payload=payload, not_before=self.now())],
                          now=self.now())  # fmt: skip
            row_id = (
                await session.exec(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key))
            ).one()
        assert row_id is not None
        return row_id

    async def snapshot(self) -> dict[str, object]:
        """Row counts of every table (inserts and deletes, the audit log's included) and the
        whole contents of the tables that change in place without an audit row."""
        counts, contents = snapshot_queries()
        async with self.db.engine.connect() as conn:
            seen: dict[str, object] = {str(k): v for k, v in (await conn.execute(counts)).all()}
            for name, query in contents.items():
                rows = (await conn.execute(query)).all()
                seen[f"{name} contents"] = hashlib.sha1(repr(rows).encode()).hexdigest()
        return seen


# Tables whose rows change without a row added or an audit row written: a conversation's
# draft, an officer's language (/lang) and the outbox's states. Every other change to
# business data writes an audit row (models/audit.py), which the counts see.
IN_PLACE = {"draft", "officer", "outboxmessage"}


@cache
def snapshot_queries() -> tuple[Any, dict[str, Any]]:
    tables = SQLModel.metadata.sorted_tables
    counts = sa.union_all(*[
        sa.select(sa.literal(t.name).label("name"), sa.func.count().label("rows"))
        .select_from(t) for t in tables
    ])  # fmt: skip
    contents = {t.name: sa.select(t).order_by(*t.primary_key) for t in tables if t.name in IN_PLACE}
    return counts, contents


# --- what the bot said -------------------------------------------------------------------


@cache
def pattern(key: str, *, tight: bool) -> re.Pattern[str]:
    """The text `key` as the user sees it, its placeholders as wildcards: short ones on one
    line for a refusal (`tight`, so nothing else hides in them), anything for an answer."""
    parts = []
    for literal, name, _, _ in string.Formatter().parse(catalogue(Language.ZH)[key]):
        parts.append(re.escape(html.unescape(re.sub(r"<[^>]+>", "", literal))))
        if name is not None:
            parts.append(r"[^\n]{0,60}" if tight else r".*?")
    return re.compile("".join(parts), re.DOTALL)


def said_texts(calls: list[ApiCall]) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in shown(calls)] + alerts(calls)


def said(calls: list[ApiCall], *keys: str) -> bool:
    return any(pattern(k, tight=False).search(text) for text in said_texts(calls) for k in keys)


def has_button(calls: list[ApiCall], prefix: str) -> bool:
    return any(data.startswith(prefix) for m in shown(calls) for _, data in buttons(m))


def sent(calls: list[ApiCall], method: str) -> bool:
    return any(c.method == method and c.status == 200 for c in calls)


REFUSED = (
    "access.refused", "access.refused_short", "access.removed", "access.admin_only",
    "button.stale", "units.refused", "card.refused", "status.own_street_only",
    "status.unbound_group", "status.no_street", "compare.officers_only", "compare.refused",
    "member.officers_only", "member.street_refused", "report.officers_only",
    "export.not_allowed", "export.refused", "mine.refused", "join.not_yours", "join.qr_refused",
    "remind.snooze_denied", "data_import.admins_only", "fallback.unknown", "unit.not_found",
    "invite.unknown", "history.refused",
)  # fmt: skip
ELSEWHERE = (
    "flow.private_chat", "flow.private_only", "invite.private_only",
    "invite.private_only_redeem", "join.private_only", "join.qr_private_only",
    "optout.stop_private_only", "optout.private_only", "bind.group_only",
    "officers.private_only", "erase.private_only",
)  # fmt: skip
NOTHING_TO_DO = ("invite.already", "join.refused_member", "optout.not_member",
                 "optout.stopped_before")  # fmt: skip


def only(calls: list[ApiCall], keys: tuple[str, ...]) -> str | None:
    """None if everything said is one of these texts, in full, and something was said."""
    texts = said_texts(calls)
    if not texts:
        return "nothing was said"
    for text in texts:
        if not any(pattern(k, tight=True).fullmatch(text) for k in keys):
            return f"said {text[:120]!r}"
    if any(c.method in ("sendPhoto", "sendDocument") for c in calls):
        return "sent a file"
    return None


# --- the rows ------------------------------------------------------------------------------

Setup = Callable[[World, Persona, str, Target], Awaitable[Ready]]
Act = Callable[[World, Persona, str, Target, Ready], Awaitable[list[ApiCall]]]
Works = Callable[[World, Persona, str, Target, list[ApiCall]], bool]


async def nothing(w: World, p: Persona, kind: str, target: Target) -> Ready:
    return Ready()


@dataclass(frozen=True)
class Row:
    act: Act
    works: Works
    setup: Setup = nothing
    aims: Callable[[str], bool] = lambda kind: True  # an own cell is also aimed elsewhere here
    fresh: bool = False  # a new person of the role for each cell
    harmless: tuple[str, ...] = ()  # buttons a refusal may offer (not leading to the data)
    cleanup: Callable[[World, Persona, str], Awaitable[None]] | None = None


def command(text: Callable[[Persona, Target, Ready], str]) -> Act:
    async def act(w: World, p: Persona, kind: str, target: Target, ready: Ready) -> list[ApiCall]:
        return await w.send(p, kind, text(p, target, ready))

    return act


def press(data: Callable[[Persona, Target, Ready], str]) -> Act:
    async def act(w: World, p: Persona, kind: str, target: Target, ready: Ready) -> list[ApiCall]:
        return await w.press(p, kind, data(p, target, ready), ready.values.get("on"))

    return act


def says(*keys: str) -> Works:
    return lambda w, p, kind, target, calls: said(calls, *keys)


def shows(prefix: Callable[[Persona, Target], str]) -> Works:
    return lambda w, p, kind, target, calls: has_button(calls, prefix(p, target))


def private_only(kind: str) -> bool:
    return kind == "private"


def nowhere(kind: str) -> bool:
    """The row has nothing to aim at another street: the person's own is preset."""
    return False


async def unit_of(w: World, p: Persona, kind: str, target: Target) -> Ready:
    unit_id, name, credit_code, following = await w.open_unit(target.street)
    values = Values(unit=unit_id, name=name, next=following)
    return Ready(values, secrets=(credit_code, name))


async def unit_named(w: World, p: Persona, kind: str, target: Target) -> Ready:
    """A unit to look for by its name: the name is what the person typed, so a refusal may
    repeat it; nothing else of the unit may show."""
    ready = await unit_of(w, p, kind, target)
    return Ready(ready.values, secrets=ready.secrets[:1])


async def invite(w: World, p: Persona, kind: str, target: Target) -> Ready:
    async with w.db.session(write=True) as session:
        row = await create_invite(session=session, role=Role.COMMUNITY_WORKER,
                                  street_id=target.street.id, created_by=ADMIN_ID, now=w.now(),
                                  ttl=timedelta(days=1))  # fmt: skip
    return Ready(Values({"code": row.code}), secrets=(row.code,))


async def join_link(w: World, p: Persona, kind: str, target: Target) -> Ready:
    async with w.db.session(write=True) as session:
        link = await join_link_for(session=session, street_id=target.street.id, meeting_id=None,
                                   created_by=ADMIN_ID, now=w.now())  # fmt: skip
    return Ready(Values({"code": link.code}))


async def own_meeting(w: World, p: Persona, kind: str, target: Target) -> Ready:
    by = p.id if target.mine else w.someone_else(p)
    return Ready(Values({"meeting": await w.meeting(target.street, by)}))


async def own_visit(w: World, p: Persona, kind: str, target: Target) -> Ready:
    by = p.id if target.mine else w.someone_else(p)
    return Ready(Values({"visit": await w.visit(target.street, by)}))


async def meeting_started(w: World, p: Persona, kind: str, target: Target) -> Ready:
    await w.send(p, "private", "/meeting")
    return Ready()


async def meeting_at_place(w: World, p: Persona, kind: str, target: Target) -> Ready:
    await w.send(p, "private", "/meeting")
    await w.press(p, "private", "mf:kind:worker")
    await w.press(p, "private", "mf:held_on:0")
    if p.admin:  # an admin's next question is the street
        await w.press(p, "private", f"mf:street_id:{target.street.id}")
    return Ready()


def quick_log_text(street: Place) -> str:
    return f"今天在{street.name}开了职工沟通会，45人参加，新入会12人"


async def quick_logged(w: World, p: Persona, kind: str, target: Target) -> Ready:
    await w.send(p, "private", quick_log_text(target.street))
    return Ready()


async def meeting_at_evidence(w: World, p: Persona, kind: str, target: Target) -> Ready:
    await w.send(p, "private", quick_log_text(target.street))
    await w.press(p, "private", "mt:edit")
    await w.press(p, "private", "mf:goto:evidence")
    return Ready()


async def member_started(w: World, p: Persona, kind: str, target: Target) -> Ready:
    await w.send(p, "private", "/member")
    if p.admin:
        await w.press(p, "private", f"mb:st:{target.street.id}")
    return Ready()


async def member_at_unit(w: World, p: Persona, kind: str, target: Target) -> Ready:
    """/member answered up to the unit, in the person's own street (an admin's: the target's)."""
    street = target.street if p.admin else (p.street or target.street)
    await w.send(p, "private", "/member")
    if p.admin:
        await w.press(p, "private", f"mb:st:{street.id}")
    await w.send(p, "private", "张三")
    await w.send(p, "private", w.mobile())
    return await unit_of(w, p, kind, target)


async def report_started(w: World, p: Persona, kind: str, target: Target) -> Ready:
    calls = await w.send(p, "private", "/report")
    if has_button(calls, "rp:k:m"):
        await w.press(p, "private", "rp:k:m")
    return Ready()


async def join_started(w: World, p: Persona, kind: str, target: Target) -> Ready:
    await w.send(p, "private", "/join")
    await w.press(p, "private", "jn:ok:")
    return Ready()


async def join_at_name(w: World, p: Persona, kind: str, target: Target) -> Ready:
    await join_started(w, p, kind, target)
    await w.contact(p, "private", w.mobile())
    return Ready()


def members_csv(street: Place, mobile: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["姓名", "手机号码", "所属街乡", "入会日期"])
    writer.writerow(["李四", mobile, street.name, "2018-03-01"])
    return out.getvalue().encode("utf-8")


async def member_list(w: World, p: Persona, kind: str, target: Target) -> Ready:
    """A list of members sent by the person (or by someone else, for another's list)."""
    owner = p if target.mine else w.people["other" if p.role != "other" else "officer"]
    street = owner.street or target.street
    mobile = w.mobile()
    calls = await w.file(owner, "private", members_csv(street, mobile), "名单.csv")
    token = next((d.split(":")[-1] for m in shown(calls) for _, d in buttons(m)
                  if d.startswith("mi:ok:")), "00000000")  # fmt: skip
    return Ready(Values({"token": token}), secrets=(mobile,))


async def data_list(w: World, p: Persona, kind: str, target: Target) -> Ready:
    owner = p if target.mine else await w.second_admin()
    rows: list[list[object]] = [
        list(HEAD),
        [1, "北京新建公司", code(next(w._codes)), target.street.name, 150, 150, ""],
    ]
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    calls = await w.file(owner, "private", out.getvalue().encode("utf-8"), "明细表.csv")
    found = [(m, d) for m in shown(calls) for _, d in buttons(m) if d.startswith("di:no:")]
    if not found:
        return Ready(Values({"token": "00000000"}))
    message, data = found[-1]
    return Ready(Values({"token": data.split(":")[-1], "on": message if target.mine else None}))


async def a_reminder(w: World, p: Persona, kind: str, target: Target) -> Ready:
    """A reminder in the chat the cell presses in: to the person (or to someone else) in a
    private chat; to the group about the street in a group."""
    if kind == "private":
        recipient = p.id if target.mine else w.someone_else(p)
        row = await w.reminder(recipient, target.street, private=True)
    else:
        row = await w.reminder(w.chat(p, kind)["id"], target.street, private=False)
    return Ready(Values(row=row))


async def an_application(w: World, p: Persona, kind: str, target: Target) -> Ready:
    application_id, name, mobile = await w.application(target.street)
    return Ready(Values({"application": application_id}), secrets=(name, mobile))


async def a_member(w: World, p: Persona, kind: str, target: Target) -> Ready:
    member_id, name, mobile = await w.registered(target.street)
    return Ready(Values({"member": member_id, "mobile": mobile}), secrets=(name, mobile))


async def an_officer(w: World, p: Persona, kind: str, target: Target) -> Ready:
    person = await w.officer(next(w._ids), Role.STREET_OFFICER, target.street)
    return Ready(Values({"officer": person.id}))


async def restore_binding(w: World, p: Persona, kind: str) -> None:
    """Bind the groups back as they were, whatever the cell did."""
    a = w.streets[STREET_A]
    async with w.db.session(write=True) as session:
        await bind_chat(session=session, chat_id=BOUND_GROUP, scope=Scope(a.id, a.name),
                        by_user_id=ADMIN_ID, now=w.now())  # fmt: skip
        for chat_id in (UNBOUND_GROUP, p.id):
            await unbind_chat(session=session, chat_id=chat_id, by_user_id=ADMIN_ID, now=w.now())


def question_works(w: World, p: Persona, kind: str, target: Target, calls: list[ApiCall]) -> bool:
    district = p.admin and kind == "private"
    return has_button(calls, "st:d" if district else f"st:s:{target.street.id}")


def question(w: World, p: Persona, kind: str) -> str:
    return "还差多少？" if kind == "private" else f"@{w.api.username} 还差多少？"


def card_shown(w: World, p: Persona, kind: str, target: Target, calls: list[ApiCall]) -> bool:
    return any(target.street.name in text for text in said_texts(calls)) or has_button(calls, "un:")


ROWS: dict[str, Row] = {
    "/start": Row(command(lambda p, t, r: "/start"), says("start.welcome")),
    "/start <invite>": Row(
        command(lambda p, t, r: f"/start {r.values['code']}"),
        says("invite.redeemed"),
        setup=invite,
        fresh=True,
    ),
    "/start join-<code>": Row(
        command(lambda p, t, r: f"/start join-{r.values['code']}"),
        says("join.intro"),
        setup=join_link,
    ),
    "/start meeting": Row(command(lambda p, t, r: "/start meeting"), says("flow.ask.kind")),
    "/help": Row(command(lambda p, t, r: "/help"), says("help.header")),
    "/lang": Row(command(lambda p, t, r: "/lang"), says("lang.choose")),
    "/status <street>": Row(
        command(lambda p, t, r: f"/status {t.street.name}"),
        shows(lambda p, t: f"st:s:{t.street.id}"),
        aims=private_only,
    ),
    "/chart": Row(
        command(lambda p, t, r: "/chart"),
        lambda w, p, kind, t, calls: sent(calls, "sendPhoto"),
        aims=nowhere,
    ),
    "/compare <street>": Row(
        command(lambda p, t, r: f"/compare {t.street.name}"),
        shows(lambda p, t: f"cmp:x:{t.street.id}"),
        aims=private_only,
    ),
    "/unit <name>": Row(
        command(lambda p, t, r: f"/unit {r.values['name']}"),
        lambda w, p, kind, t, calls: (
            has_button(calls, "un:") or any("信用代码" in text for text in said_texts(calls))
        ),
        setup=unit_named,
    ),
    "/visit <name>": Row(
        command(lambda p, t, r: f"/visit {r.values['name']}"),
        shows(lambda p, t: "vs:u:"),
        setup=unit_named,
        aims=private_only,
        harmless=("vs:new",),
    ),
    "/history <name>": Row(
        command(lambda p, t, r: f"/history {r.values['name']}"),
        says("history.title", "history.empty"),
        setup=unit_named,
    ),
    "/mine": Row(command(lambda p, t, r: "/mine"), says("mine.title", "mine.empty")),
    "/meeting": Row(command(lambda p, t, r: "/meeting"), says("flow.ask.kind")),
    "/cancel": Row(
        command(lambda p, t, r: "/cancel"), says("meeting.cancelled", "flow.nothing_to_cancel")
    ),
    "/member": Row(
        command(lambda p, t, r: "/member"),
        says("member.ask.name", "member.ask.street_id"),
        aims=nowhere,
    ),
    "/report": Row(
        command(lambda p, t, r: "/report"),
        lambda w, p, kind, t, calls: has_button(calls, "rp:") or has_button(calls, "ra:"),
        aims=nowhere,
    ),
    "/export": Row(command(lambda p, t, r: "/export"), says("export.choose_kind"), aims=nowhere),
    "/reminders": Row(
        command(lambda p, t, r: "/reminders"),
        says("reminders.title", "reminders.title_admin"),
        aims=nowhere,
    ),
    "/joinqr": Row(
        command(lambda p, t, r: "/joinqr"),
        lambda w, p, kind, t, calls: (
            said(calls, "join.qr_choose_street") or has_button(calls, f"jq:m:{t.street.id}:0")
        ),
        aims=nowhere,
    ),
    "/join": Row(command(lambda p, t, r: "/join"), says("join.intro")),
    "/stop": Row(command(lambda p, t, r: "/stop"), says("optout.stopped")),
    "/guide": Row(command(lambda p, t, r: "/guide"), says("guide.choose")),
    "/welcome": Row(
        command(lambda p, t, r: "/welcome"), says("welcome.title_default", "welcome.title_custom")
    ),
    "/invite": Row(command(lambda p, t, r: "/invite"), says("invite.choose_role")),
    "/optout <mobile>": Row(
        command(lambda p, t, r: "/optout 13912345678"), says("optout.no_member", "optout.done")
    ),
    "/outbox": Row(command(lambda p, t, r: "/outbox"), says("outbox.title")),
    "/health": Row(command(lambda p, t, r: "/health"), says("health.title")),
    "/officers": Row(command(lambda p, t, r: "/officers"), says("officers.title")),
    "/erase <mobile>": Row(
        command(lambda p, t, r: f"/erase {r.values['mobile']}"),
        says("erase.confirm"),
        setup=a_member,
    ),
    "/bind": Row(command(lambda p, t, r: "/bind"), says("bind.choose")),
    # buttons
    "st:": Row(
        press(lambda p, t, r: f"st:s:{t.street.id}"), shows(lambda p, t: f"st:s:{t.street.id}")
    ),
    "ch:": Row(
        press(lambda p, t, r: f"ch:s:{t.street.id}"),
        lambda w, p, kind, t, calls: sent(calls, "sendPhoto"),
    ),
    "ul:": Row(press(lambda p, t, r: f"ul:s:{t.street.id}:-:-:-:-:0"), says("units.title_street")),
    "uf:": Row(press(lambda p, t, r: f"uf:band:s:{t.street.id}:-:-:-:-:0"), says("units.choose")),
    "uc:": Row(
        press(lambda p, t, r: f"uc:{r.values['unit']}:s:{t.street.id}:-:-:-:-:0"),
        lambda w, p, kind, t, calls: any("信用代码" in text for text in said_texts(calls)),
        setup=unit_of,
    ),
    "un:": Row(
        press(lambda p, t, r: f"un:{r.values['unit']}"),
        lambda w, p, kind, t, calls: any("信用代码" in text for text in said_texts(calls)),
        setup=unit_of,
    ),
    "hist:u": Row(
        press(lambda p, t, r: f"hist:u:{r.values['unit']}:0"),
        says("history.title", "history.empty"),
        setup=unit_of,
    ),
    "hist:m": Row(
        press(lambda p, t, r: f"hist:m:{r.values['meeting']}:0"),
        says("history.title", "history.empty"),
        setup=own_meeting,
    ),
    "cmp:": Row(
        press(lambda p, t, r: f"cmp:h:{t.street.id}"), shows(lambda p, t: f"cmp:x:{t.street.id}")
    ),
    "ua:": Row(
        press(lambda p, t, r: f"ua:{r.values['unit']}:{r.values['next']}"),
        says("unit.advanced", "unit.written_off"),
        setup=unit_of,
    ),
    "uo:": Row(
        press(lambda p, t, r: f"uo:{r.values['unit']}:obstructed"),
        says("unit.ask_reason"),
        setup=unit_of,
    ),
    "ue:": Row(press(lambda p, t, r: "ue:done"), says("unit.evidence_done")),
    "vs:u": Row(
        press(lambda p, t, r: f"vs:u:{r.values['unit']}"), says("visit.ask.purpose"), setup=unit_of
    ),
    "vs:new": Row(press(lambda p, t, r: "vs:new"), says("visit.ask.new_name"), aims=nowhere),
    "my:": Row(
        press(lambda p, t, r: f"my:d:{r.values['meeting']}"),
        says("mine.ask_delete"),
        setup=own_meeting,
    ),
    "mv:": Row(
        press(lambda p, t, r: f"mv:d:{r.values['visit']}"),
        says("mine.ask_delete_visit"),
        setup=own_visit,
    ),
    "mf:": Row(
        press(lambda p, t, r: "mf:kind:worker"), says("flow.ask.held_on"), setup=meeting_started
    ),
    "mt:": Row(press(lambda p, t, r: "mt:save"), says("meeting.saved"), setup=quick_logged),
    "mb:": Row(
        press(lambda p, t, r: f"mb:u:{r.values['unit']}"),
        says("member.ask.joined_on"),
        setup=member_at_unit,
    ),
    "mi:": Row(
        press(lambda p, t, r: f"mi:ok:{r.values['token']}"),
        says("member_import.done"),
        setup=member_list,
    ),
    "di:": Row(
        press(lambda p, t, r: f"di:no:{r.values['token']}"),
        says("data_import.cancelled"),
        setup=data_list,
    ),
    "rp:": Row(press(lambda p, t, r: "rp:k:m"), shows(lambda p, t: "rp:x"), aims=nowhere),
    "ra:": Row(press(lambda p, t, r: "ra:v:2018-03"), shows(lambda p, t: "ra:")),
    "ex:": Row(
        press(lambda p, t, r: f"ex:ledger:{t.street.id}"),
        shows(lambda p, t: f"ex:ledger:{t.street.id}:"),
    ),
    "rm:v": Row(
        press(lambda p, t, r: "rm:v"),
        says("reminders.title", "reminders.title_admin"),
        aims=nowhere,
    ),
    "rm:p": Row(press(lambda p, t, r: "rm:p:0"), says("reminders.title_admin")),
    "sz:": Row(
        press(lambda p, t, r: f"sz:{r.values['row']}:h"), says("remind.snoozed"), setup=a_reminder
    ),
    "jq:": Row(
        press(lambda p, t, r: f"jq:m:{t.street.id}:0"),
        lambda w, p, kind, t, calls: sent(calls, "sendPhoto"),
    ),
    "ja:": Row(
        press(lambda p, t, r: f"ja:ok:{r.values['application']}"),
        says("join.decided_approved"),
        setup=an_application,
    ),
    "jn:": Row(press(lambda p, t, r: "jn:ok:"), says("join.consented")),
    "lang:": Row(press(lambda p, t, r: "lang:zh"), says("lang.set")),
    "inv:role": Row(press(lambda p, t, r: "inv:role:so"), says("invite.choose_street")),
    "inv:st": Row(press(lambda p, t, r: f"inv:st:so:{t.street.id}"), says("invite.created")),
    "gd:": Row(press(lambda p, t, r: f"gd:{t.street.id}"), says("guide.logged", "guide.already")),
    "wl:": Row(press(lambda p, t, r: "wl:edit"), says("welcome.ask_text")),
    "ob:": Row(press(lambda p, t, r: "ob:v"), says("outbox.title")),
    "off:": Row(
        press(lambda p, t, r: f"off:ok:{r.values['officer']}"),
        says("officers.removed"),
        setup=an_officer,
    ),
    "erase:": Row(
        press(lambda p, t, r: f"erase:ok:{r.values['member']}"), says("erase.done"), setup=a_member
    ),
    "bind:": Row(
        press(lambda p, t, r: f"bind:s:{t.street.id}"),
        says("bind.done_street"),
        cleanup=restore_binding,
    ),
    "*": Row(press(lambda p, t, r: "zz:forged:1"), lambda w, p, kind, t, calls: False),
    # messages
    "text:question": Row(
        lambda w, p, kind, t, r: w.send(p, kind, question(w, p, kind)),
        question_works,
        aims=lambda kind: False,
    ),
    "text:quicklog": Row(
        lambda w, p, kind, t, r: w.send(p, kind, quick_log_text(t.street)),
        shows(lambda p, t: "mt:save"),
        aims=lambda kind: False,
    ),
    "text:meeting": Row(
        lambda w, p, kind, t, r: w.send(p, kind, "社区活动室"),
        says("flow.ask.venue_type"),
        setup=meeting_at_place,
    ),
    "text:member": Row(
        lambda w, p, kind, t, r: w.send(p, kind, "张三"),
        says("member.ask.mobile"),
        setup=member_started,
    ),
    "text:report": Row(
        lambda w, p, kind, t, r: w.send(p, kind, "无"),
        shows(lambda p, t: "rp:x"),
        setup=report_started,
    ),
    "text:join": Row(
        lambda w, p, kind, t, r: w.send(p, kind, "张三"),
        says("join.ask_street"),
        setup=join_at_name,
    ),
    "file:sheet": Row(
        lambda w, p, kind, t, r: w.file(p, kind, members_csv(t.street, w.mobile()), "名单.csv"),
        says("member_import.title"),
        aims=lambda kind: False,
    ),
    "file:photo": Row(
        lambda w, p, kind, t, r: w.file(p, kind, b"\x89PNG", "", photo=True),
        says("flow.file_kept"),
        setup=meeting_at_evidence,
    ),
    "contact": Row(
        lambda w, p, kind, t, r: w.contact(p, kind, w.mobile()),
        says("join.contact_ok"),
        setup=join_started,
    ),
}
# What an answer "with nothing to do" (=) says, by row.
NOTHING_TO_DO_FOR = {key: NOTHING_TO_DO for key in ROWS}


# --- walking a cell --------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    target: Target
    expect: str  # works, refused, elsewhere, nothing, ignored


def probes(w: World, row: Row, kind: str, p: Persona, code: str) -> Iterator[Probe]:
    if code == "✓":
        yield Probe(w.anyone() if p.admin or p.street is None else w.own(p), "works")
    elif code == "own":
        yield Probe(w.own(p), "works")
        if row.aims(kind):
            yield Probe(w.foreign(p), "refused")
    elif code == "grp":
        yield Probe(Target(w.streets[STREET_A], mine=True), "works")
        if row.aims(kind):
            yield Probe(Target(w.streets[STREET_C], mine=False), "refused")
    else:
        expect = {"=": "nothing", "→": "elsewhere", "✗": "refused", "·": "ignored"}[code]
        yield Probe(w.own(p), expect)


async def walk(w: World, key: str, kind: str, role: str, code: str) -> list[str]:
    """Walk one cell; what went wrong, if anything."""
    row, problems = ROWS[key], []
    for probe in probes(w, row, kind, w.people[role], code):
        # Not in a channel, where the table's one look at the database allows no writes.
        p = await w.persona(role, fresh=row.fresh and kind != "channel")
        where = f"{kind} | {key} | {role} | {code} ({probe.expect}, {probe.target.street.name}"
        where += ", own)" if probe.target.mine else ", another's)"
        try:
            problem = await _probe(w, row, kind, p, probe)
        except Exception as exc:
            w.bot.errors.clear()
            problem = f"crashed: {type(exc).__name__}: {exc}"
        if problem is not None:
            problems.append(f"{where}: {problem}")
    return problems


async def _probe(w: World, row: Row, kind: str, p: Persona, probe: Probe) -> str | None:
    await w.clear(p)
    # In a channel nothing runs at all: the action alone, and one look at the database
    # for the whole table (test_every_cell).
    ready = await row.setup(w, p, kind, probe.target) if kind != "channel" else Ready()
    before = await w.snapshot() if probe.expect != "works" and kind != "channel" else None
    calls = await row.act(w, p, kind, probe.target, ready)
    problem = check(row, probe, w, p, kind, calls, ready)
    if problem is None and before is not None and await w.snapshot() != before:
        problem = f"wrote to the database: {diff(before, await w.snapshot())}"
    if row.cleanup is not None and kind != "channel":
        await row.cleanup(w, p, kind)
    return problem


def check(
    row: Row, probe: Probe, w: World, p: Persona, kind: str, calls: list[ApiCall], ready: Ready
) -> str | None:
    if probe.expect == "works":
        return (
            None
            if row.works(w, p, kind, probe.target, calls)
            else f"not working: {said_texts(calls)[:3]}"
        )
    if probe.expect == "ignored":
        if said_texts(calls) or any(c.method in ("sendPhoto", "sendDocument") for c in calls):
            return f"not ignored: {said_texts(calls)[:3]}"
        return None
    keys = {"refused": REFUSED, "elsewhere": ELSEWHERE, "nothing": NOTHING_TO_DO}[probe.expect]
    problem = only(calls, keys)
    if problem is not None:
        return problem
    harmless = row.harmless or ("\0",)
    leading = [
        d
        for m in shown(calls)
        for _label, d in buttons(m)
        if not d.startswith(("https://", "http://", "tg://", *harmless))
    ]
    if leading:
        return f"offers buttons {leading[:4]}"
    text = "\n".join(said_texts(calls))
    leaked = [s for s in ready.secrets if s and s in text]
    return f"shows {leaked}" if leaked else None


def diff(before: dict[str, object], after: dict[str, object]) -> dict[str, tuple[object, object]]:
    return {k: (before.get(k), after.get(k)) for k in after if before.get(k) != after.get(k)}


# --- the tests -----------------------------------------------------------------------------


@pytest.fixture
async def matrix_bot(demo_database_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    """The demo bot without PTB's flood limiter: it would hold every message for its share
    of 30 a second (and 20 a minute in a group), and a table sends hundreds."""
    settings = make_settings(tmp_path, database_url=demo_database_url)
    async with Harness.running(settings, rate_limit=False) as harness:
        yield harness


@pytest.mark.parametrize("kind", ["private", "bound", "unbound", "channel"])
async def test_every_cell(matrix_bot: Harness, kind: str) -> None:
    w = await World.build(matrix_bot)
    table = matrix()[kind]
    before = await w.snapshot()
    problems = []
    for key, cells in table.items():
        for role, cell in cells.items():
            problems += await walk(w, key, kind, role, cell)
    if kind == "channel":
        assert await w.snapshot() == before, "a channel update wrote to the database"
    assert not problems, f"{len(problems)} cells differ from docs/access.md:\n" + "\n".join(
        problems
    )


def test_the_page_has_a_table_for_every_chat_with_the_same_rows() -> None:
    tables = matrix()
    assert set(tables) == set(CHATS.values())
    first = list(tables["private"])
    for kind, table in tables.items():
        assert list(table) == first, f"the {kind} table's rows differ from the private chat's"
        for key, cells in table.items():
            assert list(cells) == list(ROLES.values()), f"{kind} {key}: columns"
    assert set(first) == set(ROWS), (
        f"rows without a probe: {sorted(set(first) - set(ROWS))}; "
        f"probes without a row: {sorted(set(ROWS) - set(first))}"
    )


# Message handlers and the rows that walk what each takes.
MESSAGE_ROWS = {
    "handlers.joining.contact_received": ("contact",),
    "handlers.status.status_question": ("text:question",),
    "handlers.meeting_flow.file_received": ("file:sheet", "file:photo"),
    "handlers.meetings.private_text": (
        "text:quicklog",
        "text:meeting",
        "text:member",
        "text:report",
        "text:join",
    ),
    "handlers.fallback.unknown_message": ("text:quicklog",),
}


def literal_prefix(pattern: str) -> str:
    """ "^ul:[ds]:…" → "ul:": what every data the pattern accepts starts with."""
    match = re.match(r"\^?([\w:-]*)", pattern)
    assert match is not None
    return match.group(1)


async def test_every_registered_command_and_button_has_a_row(bot: Harness) -> None:
    rows = set(matrix()["private"])
    commands = {key.split()[0][1:] for key in rows if key.startswith("/")}
    buttons_ = {key for key in rows if not key.startswith(("/", "text:", "file:")) and key not in
                ("contact", "*")}  # fmt: skip
    missing: list[str] = []
    prefixes: set[str] = set()
    for handler in (h for group in bot.app.handlers.values() for h in group):
        if isinstance(handler, CommandHandler):
            missing += [f"/{c}" for c in handler.commands if c not in commands]
        elif isinstance(handler, CallbackQueryHandler):
            if handler.pattern is None:
                continue  # the fallback for unknown buttons: the "*" row
            assert isinstance(handler.pattern, re.Pattern)
            prefix = literal_prefix(handler.pattern.pattern)
            prefixes.add(prefix)
            if not any(k.startswith(prefix) or prefix.startswith(k) for k in buttons_):
                missing.append(f"button {handler.pattern.pattern}")
        elif isinstance(handler, MessageHandler):
            if callback_name(handler.callback) not in MESSAGE_ROWS:
                missing.append(f"messages to {callback_name(handler.callback)}")
        else:
            assert isinstance(handler, TypeHandler)  # the gatekeeper
    assert not missing, f"registered but not in docs/access.md: {missing}"
    stale = [k for k in buttons_ if not any(k.startswith(p) or p.startswith(k) for p in prefixes)]
    assert not stale, f"rows in docs/access.md for buttons nobody registers: {stale}"
