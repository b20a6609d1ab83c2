"""The soak run: the real bot, on the demo district, taking thousands of mixed updates from
hundreds of users at once through the fake Bot API while that API fails at random; then
proof that nothing was lost, nothing written twice, no error logged beyond the faults
injected, and memory flat.

`python -m bench.soak` runs the full form (6,000 updates from 300 users, a few minutes, on
SQLite; `--postgres URL` on a scratch database of that server too) and prints its figures;
tests/bot/test_soak.py runs a short form on both databases and asserts the same.

The users: district admins; street officers of many streets (each owns a few units of its
street's ledger, one per street reports); strangers who apply to join (and, approved,
become members); bound groups, one per street. Each user runs a script of actions picked at
random (seeded): /status, /unit, ledger moves by button (double taps included), whole
/meeting conversations, meetings logged in one message, visits, the month's report, join
applications and their approval, group commands, old buttons pressed again, commands the
user may not use. Their scripts run side by side, as in webhook mode: each chat's updates
one at a time, up to 40 updates in hand at once (WEBHOOK_MAX_CONNECTIONS' default). The
reminder jobs run as in production (the outbox every 2 s). Every text with a record behind
it carries a unique marker ("SK" and letters), so the database can be checked record by
record afterwards.

The faults: FakeBotApi.inject_faults — a share of the calls that show the user something
(send, edit, answer a button) meets a 429, a 5xx, a timeout (delivered or not) or a dropped
connection.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import gc
import itertools
import logging
import os
import random
import re
import statistics
import tempfile
import time
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlmodel import col, func, select
from telegram import Update
from telegram.error import NetworkError, RetryAfter

from bot.db import Database
from bot.fake_api import JSON, ApiCall, buttons, visible
from bot.harness import Harness
from bot.settings import Settings
from bot.texts import catalogue, placeholders, t
from models.demo import seed_demo
from models.enums import Language, LedgerOutcome, OutboxChannel, OutboxStatus, Role
from models.officers import ensure_officer
from models.plan import load_plan
from models.tables import (
    AuditEntry,
    LedgerEntry,
    LedgerStageChange,
    Meeting,
    Member,
    MembershipApplication,
    OutboxMessage,
    ReportSubmission,
    Street,
    Unit,
    Visit,
)
from reminders.sender import drain
from reminders.sms_sender import drain_sms
from tests.sms_server import TOKEN as SMS_TOKEN
from tests.sms_server import Gateway, serve_generic

log = logging.getLogger("unionbot.soak")

FIRST_ADMIN = 10001
FIRST_OFFICER = 300_001
FIRST_STRANGER = 700_001
FIRST_GROUP = -1_009_000_001
IN_HAND = 40  # updates processed at once, as Telegram's webhook delivers them by default
START = "2018-03-15T08:59:40"  # the business day; the 09:00 reminders fall due in the run
LANG = "zh"


# --- what to run ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SoakPlan:
    updates: int = 6000  # after the warm-up
    streets: int = 28
    officers_per_street: int = 7
    admins: int = 4
    strangers: int = 100
    units_per_officer: int = 3
    # Updates a second all users send together, on average: each waits a random while
    # before each update (reading, typing), so that together they keep about this pace.
    # Below Telegram's 30 messages a second, which every reply shares with the outbox.
    pace: float = 20.0
    fault_rate: float = 0.02  # of the calls that show the user something
    seed: int = 9

    @property
    def users(self) -> int:
        return self.admins + self.streets * self.officers_per_street + self.strangers


FULL = SoakPlan()
SHORT = SoakPlan(updates=450, streets=6, officers_per_street=6, admins=2, strangers=22,
                 units_per_officer=2)  # fmt: skip


# --- the people ----------------------------------------------------------------------------


@dataclass
class UnitRef:
    unit_id: int
    code: str
    name: str


@dataclass
class Person:
    user_id: int
    role: str  # "admin", "officer", "stranger" (a "member" once approved)
    street: str | None = None
    street_id: int | None = None
    group: int | None = None  # the street's bound group
    units: list[UnitRef] = field(default_factory=list)  # ledger entries this officer moves
    reports: bool = False  # the one officer of the street who submits the month's report
    mobile: str | None = None  # a stranger's, shared when applying
    applied: bool = False
    applying: bool = False  # an application cut short by a fault: /join again next
    old: deque[JSON] = field(default_factory=lambda: deque(maxlen=6))  # messages with buttons

    @property
    def chat_id(self) -> int:
        return self.user_id


@dataclass
class Population:
    people: list[Person]
    streets: dict[str, int]  # the soak's streets by name
    groups: dict[int, str]  # bound group chat id → street name ("" for the district's)


async def populate(db: Database, soak: SoakPlan, now: datetime) -> Population:
    """Officers of the first `soak.streets` streets (by ledger size), each owning some open
    ledger entries of its street; admins; strangers with their own mobile numbers."""
    people: list[Person] = [Person(FIRST_ADMIN + i, "admin") for i in range(soak.admins)]
    async with db.session(write=True) as session:
        sizes = (
            await session.exec(
                select(Street.name, Street.id, func.count(col(LedgerEntry.id)))
                .join(LedgerEntry, col(LedgerEntry.street_id) == Street.id)
                .where(LedgerEntry.outcome == LedgerOutcome.OPEN)
                .group_by(col(Street.name), col(Street.id))
                .order_by(func.count(col(LedgerEntry.id)).desc(), col(Street.name))
            )
        ).all()
        chosen = {name: int(street_id or 0) for name, street_id, _ in sizes[: soak.streets]}
        next_id = FIRST_OFFICER
        for index, (street, street_id) in enumerate(chosen.items()):
            open_units = (
                await session.exec(
                    select(Unit.id, Unit.credit_code, Unit.name)
                    .join(LedgerEntry, col(LedgerEntry.unit_id) == Unit.id)
                    .where(LedgerEntry.street_id == street_id)
                    .where(LedgerEntry.outcome == LedgerOutcome.OPEN)
                    .order_by(col(Unit.id))
                )
            ).all()
            units = [UnitRef(int(u or 0), c, n) for u, c, n in open_units]
            for k in range(soak.officers_per_street):
                own = units[k :: soak.officers_per_street][: soak.units_per_officer]
                officer = Person(next_id, "officer", street, street_id, FIRST_GROUP - index,
                                 units=own, reports=k == 0)  # fmt: skip
                await ensure_officer(
                    session=session, telegram_user_id=officer.user_id, role=Role.STREET_OFFICER,
                    street_name=street, display_name=f"soak {officer.user_id}",
                    language=Language.ZH, now=now,
                )  # fmt: skip
                people.append(officer)
                next_id += 1
    for i in range(soak.strangers):
        street = list(chosen)[i % len(chosen)]
        people.append(Person(FIRST_STRANGER + i, "stranger", street, chosen[street],
                             mobile=f"139{i + 1:08d}"))  # fmt: skip
    groups = {FIRST_GROUP - i: street for i, street in enumerate(chosen)}
    groups[FIRST_GROUP + 1] = ""  # the district's group
    return Population(people, chosen, groups)


# --- the fake Bot API's traffic, per chat --------------------------------------------------


class ChatLog:
    """The calls to one chat, the latest kept: enough to read what one update caused."""

    def __init__(self) -> None:
        self.count = 0
        self.recent: deque[ApiCall] = deque(maxlen=80)

    def add(self, call: ApiCall) -> None:
        self.count += 1
        self.recent.append(call)

    def since(self, mark: int) -> list[ApiCall]:
        n = self.count - mark
        return list(self.recent)[-n:] if n > 0 else []


@dataclass
class Sample:
    kind: str
    seconds: float


@dataclass
class Tally:
    """What the scripts did and what they were told, to check against the database."""

    meetings: dict[str, str] = field(default_factory=dict)  # marker → confirmed/unconfirmed/none
    visits: dict[str, str] = field(default_factory=dict)
    reports: dict[str, str] = field(default_factory=dict)  # marker → …, one per street
    applications: dict[str, str] = field(default_factory=dict)
    advances: Counter[int] = field(default_factory=Counter)  # unit → confirmed moves
    unconfirmed_advances: Counter[int] = field(default_factory=Counter)
    decisions: dict[int, str] = field(default_factory=dict)  # application → approved/rejected
    trail: defaultdict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    stale_presses: int = 0
    refusals: int = 0
    group_commands: int = 0
    problems: list[str] = field(default_factory=list)  # what went wrong without a fault


# The SMS sender's line for a message the gateway's injected faults held back.
SMS_RETRY = re.compile(r"not sent: retry: (?:HTTP (?:429|5\d\d)|timeout|network error)")
INJECTED = (
    "Bad Gateway", "Internal Server Error", "Service Unavailable", "Timed out",
    "Server disconnected", "Too Many Requests", "Flood control exceeded",
)  # fmt: skip


def injected(error: BaseException | str | None) -> bool:
    """A fault the fake Bot API injected (as PTB reports it), not one of the bot's own."""
    if isinstance(error, BaseException) and not isinstance(error, NetworkError | RetryAfter):
        return False
    return any(sign in str(error) for sign in INJECTED)


class LogWatch(logging.Handler):
    """Every record at WARNING or above, rendered: checked against the faults at the end."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f" | {type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        self.lines.append(f"{record.levelname} {record.name}: {text}")


# --- the driver ----------------------------------------------------------------------------


class Soak:
    def __init__(
        self, harness: Harness, population: Population, soak: SoakPlan, gateway: Gateway
    ) -> None:
        self.harness, self.app, self.api, self.gateway = harness, harness.app, harness.api, gateway
        self.population, self.soak = population, soak
        self.random = random.Random(soak.seed)
        self.tally = Tally()
        self.samples: list[Sample] = []
        self.updates = 0
        self.target = 0  # updates to reach before the scripts stop
        self.logs: defaultdict[int, ChatLog] = defaultdict(ChatLog)
        self.callbacks: dict[str, int] = {}  # callback query id → chat
        self.turns: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.in_hand = asyncio.Semaphore(IN_HAND)
        self.errors: dict[int, list[str]] = defaultdict(list)  # update id → errors
        self.job_errors: list[str] = []
        self.notices: defaultdict[int, deque[JSON]] = defaultdict(deque)  # officer → to decide
        self.delivered: Counter[tuple[int, str]] = Counter()  # (chat, text) → sent, 200
        self.maybe_twice: Counter[tuple[int, str]] = Counter()  # delivered, bot got TimedOut
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.faults: Counter[str] = Counter()
        self.rss: list[tuple[int, float]] = []  # (updates so far, MiB)
        # Messages the fake Bot API keeps (every one sent, as Telegram's servers would): they
        # live in this process too, and account for much of its growth (see the README).
        self.held: list[int] = []
        self.markers = (f"SK{a}{b}{c}" for a in _LETTERS for b in _LETTERS for c in _LETTERS)
        self.app.add_error_handler(self._record_error)

    # -- plumbing --

    async def _record_error(self, update: object, context: Any) -> None:
        text = f"{type(context.error).__name__}: {context.error}"
        if isinstance(update, Update):
            self.errors[update.update_id].append(text)
        else:
            self.job_errors.append(text)

    def route(self) -> None:
        """Move the fake API's recorded calls to the chats they went to (and count them)."""
        calls = self.api.calls[:]
        del self.api.calls[: len(calls)]
        self.harness.errors.clear()  # recorded by _record_error with their update
        for call in calls:
            self.statuses[(call.method, call.status)] += 1
            if call.fault:
                self.faults[call.fault] += 1
            chat = call.params.get("chat_id")
            if chat is None and call.method == "answerCallbackQuery":
                # .get: a press answered after a 429 is answered twice.
                chat = self.callbacks.get(str(call.params.get("callback_query_id")))
            if chat is None:
                continue
            chat = int(chat)
            self.logs[chat].add(call)
            if call.method == "sendMessage" and call.status == 200:
                key = (chat, str(call.params.get("text")))
                self.delivered[key] += 1
                if call.fault == "timeout-delivered":
                    self.maybe_twice[key] += 1
                if any(data.startswith("ja:ok:") for _, data in buttons(call.result)):
                    self.notices[chat].append(call.result)
        for _, kind in self.api.faults_met:
            if kind in ("timeout-lost", "drop"):  # never reached the fake: no call recorded
                self.faults[kind] += 1
        self.api.faults_met.clear()

    def prune_messages(self, keep: int = 40) -> None:
        """Telegram keeps every message; the fake need only keep what may still be edited."""
        by_chat: defaultdict[int, list[tuple[int, int]]] = defaultdict(list)
        for key in self.api.messages:
            by_chat[key[0]].append(key)
        for keys in by_chat.values():
            for key in keys[:-keep]:
                del self.api.messages[key]

    async def step(self, kind: str, chat: int, update: JSON) -> list[ApiCall]:
        """One update through the whole bot, as webhook mode takes it; the calls to `chat`."""
        async with self.turns[chat], self.in_hand:
            self.route()
            log = self.logs[chat]
            mark = log.count
            begin = time.perf_counter()
            await self.app.process_update(Update.de_json(update, self.app.bot))
            while self.app.bot_data.background:
                await asyncio.gather(*self.app.bot_data.background, return_exceptions=True)
            self.samples.append(Sample(kind, time.perf_counter() - begin))
            self.route()
            calls = log.since(mark)
        self.updates += 1
        if self.updates % 250 == 0:
            self.prune_messages()
        if self.rss and self.updates >= self.rss[-1][0] + max(50, self.target // 12):
            self.sample_memory()
        return calls

    def faulted(self, update: JSON) -> bool:
        return any(injected(e) for e in self.errors.get(int(update["update_id"]), []))

    def sample_memory(self) -> None:
        gc.collect()
        self.rss.append((self.updates, rss_mib()))
        self.held.append(len(self.api.messages))

    async def now_a_member(self, application: int) -> None:
        async with self.app.bot_data.db.session() as session:
            row = await session.get(MembershipApplication, application)
        for person in self.population.people:
            if row is not None and person.user_id == row.telegram_user_id:
                person.role = "member"

    async def all_rejected(self, person: Person) -> bool:
        async with self.app.bot_data.db.session() as session:
            statuses = (
                await session.exec(
                    select(MembershipApplication.status)
                    .where(MembershipApplication.telegram_user_id == person.user_id)
                )
            ).all()  # fmt: skip
        return bool(statuses) and all(status == "rejected" for status in statuses)

    def marker(self) -> str:
        return next(self.markers)

    @property
    def running(self) -> bool:
        return self.updates < self.target

    # -- what users do --

    async def think(self) -> None:
        """A user's pause before their next update (none in the warm-up, nor once the run
        has its updates: the conversations under way then finish at once)."""
        if self.target and self.running:
            await asyncio.sleep(self.random.uniform(0, 2 * self.soak.users / self.soak.pace))

    async def say(self, person: Person, kind: str, text: str, chat: JSON | None = None
                  ) -> tuple[list[JSON], list[ApiCall], JSON]:  # fmt: skip
        await self.think()
        user = self.api.user(person.user_id)
        update = self.api.message_update(user=user, text=text, chat=chat)
        calls = await self.step(kind, chat["id"] if chat else person.chat_id, update)
        return _shown(calls), calls, update

    async def press(self, person: Person, kind: str, message: JSON, data: str, *,
                    at_once: bool = False) -> tuple[list[JSON], list[ApiCall], JSON]:  # fmt: skip
        if not at_once:  # a double tap comes at once
            await self.think()
        update = self.api.callback_update(user=self.api.user(person.user_id), message=message,
                                          data=data)  # fmt: skip
        chat = int(message["chat"]["id"])
        self.callbacks[update["callback_query"]["id"]] = chat
        try:
            calls = await self.step(kind, chat, update)
        finally:
            del self.callbacks[update["callback_query"]["id"]]
        return _shown(calls), calls, update

    async def contact(self, person: Person, kind: str, mobile: str) -> tuple[list[JSON], JSON]:
        await self.think()
        user = self.api.user(person.user_id)
        update = self.api.contact_update(user=user, phone_number=f"+86{mobile}",
                                         user_id=person.user_id)  # fmt: skip
        calls = await self.step(kind, person.chat_id, update)
        return _shown(calls), update

    def problem(self, person: Person, what: str, update: JSON, seen: list[JSON],
                calls: list[ApiCall] | None = None) -> None:  # fmt: skip
        """An answer the script did not expect: a fault explains it, or it is a problem."""
        if self.faulted(update):
            return
        texts = [visible(m.get("text") or m.get("caption") or "")[:120] for m in seen]
        made = [f"{c.method} {c.status}{' ' + c.fault if c.fault else ''}" for c in calls or []]
        self.tally.problems.append(
            f"user {person.user_id} ({person.role}), update {update['update_id']}: {what}; "
            f"saw {texts}; calls {made}; errors {self.errors.get(int(update['update_id']))}"
        )


_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Buttons that mean nothing once their conversation is over (a card's other buttons, such as
# its history, stay live).
STALE = ("mf:", "mt:save", "vs:", "rp:", "ua:")
# A conversation's step: what to send (a text, or with "button" the data of a button on the
# last question), and what to expect back: a button whose data starts so, or "text:<key>".
Step = tuple[str, str | None, str]


def _shown(calls: list[ApiCall]) -> list[JSON]:
    return [c.result for c in calls if c.status == 200 and
            c.method in ("sendMessage", "editMessageText", "editMessageReplyMarkup",
                         "sendPhoto", "sendDocument")]  # fmt: skip


def _alerts(calls: list[ApiCall]) -> list[str]:
    """The alerts the user saw (answered button presses with a text)."""
    return [
        str(c.params.get("text"))
        for c in calls
        if c.method == "answerCallbackQuery" and c.status == 200 and c.params.get("text")
    ]


def with_button(messages: list[JSON], prefix: str) -> JSON | None:
    for message in reversed(messages):
        if any(data.startswith(prefix) for _, data in buttons(message)):
            return message
    return None


def button(message: JSON, prefix: str) -> str | None:
    return next((data for _, data in buttons(message) if data.startswith(prefix)), None)


def pattern(key: str, **values: str) -> re.Pattern[str]:
    """The text `key` as the user sees it, any placeholder not given matching anything."""
    names = placeholders(catalogue(Language(LANG))[key])
    filled = t(key, LANG, **{n: values.get(n, "\x00") for n in names})
    parts = visible(filled).split("\x00")
    return re.compile(".*?".join(re.escape(p) for p in parts), re.DOTALL)


def says(messages: list[JSON], key: str, **values: str) -> JSON | None:
    wanted = pattern(key, **values)
    for message in reversed(messages):
        if wanted.fullmatch(visible(message.get("text") or message.get("caption") or "")):
            return message
    return None


# --- the scripts ---------------------------------------------------------------------------


class Scripts:
    """What each kind of user does; every action returns when its conversation is over."""

    def __init__(self, soak: Soak) -> None:
        self.soak = soak
        self.tally = soak.tally
        self.random = soak.random

    async def run(self, person: Person) -> None:
        while self.soak.running:
            names, weights = zip(*self.menu(person), strict=True)  # a stranger may join
            action = self.random.choices(names, weights)[0]
            await getattr(self, action)(person)
            await asyncio.sleep(0)  # an action with nothing to do sent nothing: let others on

    def menu(self, person: Person) -> list[tuple[str, float]]:
        if person.role == "admin":
            return [("admin_status", 4), ("admin_street_status", 3), ("admin_unit", 2),
                    ("admin_quick_log", 1), ("admin_reports", 1), ("group_command", 1)]  # fmt: skip
        if person.role == "officer":
            return [("status", 3), ("unit", 2), ("advance", 4), ("meeting", 2),
                    ("quick_log", 3), ("visit", 2), ("report", 4 if person.reports else 0),
                    ("group_command", 1), ("stale_press", 2), ("refused", 1),
                    ("decide", 3)]  # fmt: skip
        if person.role == "member":
            return [("member_join_again", 1), ("stranger_refused", 1)]
        if person.applying:
            return [("apply", 1)]
        return [("apply", 3), ("stranger_refused", 1), ("apply_again", 1)]

    # -- officers --

    async def status(self, person: Person) -> None:
        seen, _, update = await self.soak.say(person, "status", "/status")
        if not any(visible(m["text"]).startswith(f"📊 {person.street}") for m in seen):
            self.soak.problem(person, "no street status", update, seen)

    async def unit(self, person: Person) -> None:
        if not person.units:
            return
        unit = self.random.choice(person.units)
        seen, _, update = await self.soak.say(person, "unit", f"/unit {unit.code}")
        if not any(visible(m["text"]).startswith(f"🏢 {unit.name}") for m in seen):
            self.soak.problem(person, f"no card of {unit.code}", update, seen)

    async def advance(self, person: Person) -> None:
        if not person.units:
            return
        unit = self.random.choice(person.units)
        seen, _, update = await self.soak.say(person, "unit", f"/unit {unit.code}")
        card = next((m for m in seen if visible(m["text"]).startswith(f"🏢 {unit.name}")), None)
        if card is None:
            self.soak.problem(person, f"no card of {unit.code}", update, seen)
            return
        data = button(card, f"ua:{unit.unit_id}:")
        if data is None:
            return  # written off: nothing more to move
        person.old.append(copy.deepcopy(card))  # as it is now: the bot edits the card
        seen, calls, update = await self.soak.press(person, "advance", card, data)
        trail = self.tally.trail[unit.unit_id]
        moved = [a for a in _alerts(calls)
                 if pattern("unit.advanced").fullmatch(a) or
                 pattern("unit.written_off").fullmatch(a)]  # fmt: skip
        if moved:
            self.tally.advances[unit.unit_id] += 1
            trail.append(f"{update['update_id']} {data} moved")
        elif self.soak.faulted(update):
            self.tally.unconfirmed_advances[unit.unit_id] += 1
            trail.append(f"{update['update_id']} {data} unconfirmed")
        else:
            trail.append(f"{update['update_id']} {data} {_alerts(calls)}")
            self.soak.problem(person, f"no move of {unit.code}", update, seen, calls)
            return
        if self.random.random() < 0.3:  # a double tap: the same button again
            _, calls, update = await self.soak.press(person, "stale press", card, data,
                                                     at_once=True)  # fmt: skip
            self.tally.stale_presses += 1
            trail.append(f"{update['update_id']} {data} again {_alerts(calls)}")
            if not _alerts(calls) and not self.soak.faulted(update):
                self.soak.problem(person, "a second tap said nothing", update, [], calls)
        offer = with_button(seen, "ue:done")
        if offer is not None and self.random.random() < 0.5:
            await self.soak.press(person, "evidence done", offer, "ue:done")

    async def meeting(self, person: Person) -> None:
        """The whole /meeting conversation; abandoned (with /cancel) when a fault cuts it."""
        marker = self.soak.marker()
        place = f"{marker}社区活动中心"
        self.tally.meetings[place] = "none"
        steps: list[Step] = [
            ("/meeting", None, "mf:kind:"),
            ("mf:kind:worker", "button", "mf:held_on:"),
            ("mf:held_on:0", "button", "text:flow.ask.place"),
            (place, None, "mf:venue_type:"),
            ("mf:venue_type:community", "button", "text:flow.ask.attendees"),
            (str(self.random.randint(10, 90)), None, "mf:new_members:"),
            (str(self.random.randint(0, 9)), None, "mf:notes:"),
        ]
        if self.random.random() < 0.5:
            steps.append((f"备注 {marker}", None, "mf:evidence:"))
        else:
            steps.append(("mf:notes:-", "button", "mf:evidence:"))
        steps.append(("mf:evidence:done", "button", "mt:save"))
        asked = await self.conversation(person, "meeting step", steps)
        if asked is None:
            return
        first, card = asked
        await self.save_card(person, card, place, self.tally.meetings)
        person.old.append(first)  # its kind buttons, stale once the meeting is saved

    async def conversation(
        self, person: Person, kind: str, steps: list[Step], start: JSON | None = None
    ) -> tuple[JSON, JSON] | None:
        """Each step sent (typed, or pressed on the last question) and its question awaited:
        the first and the last question's messages; None once a fault cut it short (the
        conversation then cancelled)."""
        last, first = start, None
        for send, how, expect in steps:
            if how == "button":
                assert last is not None
                seen, _, update = await self.soak.press(person, kind, last, send)
            else:
                seen, _, update = await self.soak.say(person, kind, send)
            if expect.startswith("text:"):
                found = says(seen, expect[5:])
            else:
                found = with_button(seen, expect)
            if found is None:
                self.soak.problem(person, f"{send!r} was not answered by {expect}", update, seen)
                await self.soak.say(person, "cancel", "/cancel")
                return None
            last = found
            first = first or copy.deepcopy(found)  # as asked: the bot edits it at each step
        assert first is not None and last is not None
        return first, last

    async def save_card(self, person: Person, card: JSON, place: str,
                        book: dict[str, str]) -> None:  # fmt: skip
        as_shown = copy.deepcopy(card)
        seen, _, update = await self.soak.press(person, "save", card, "mt:save")
        if says(seen, "meeting.saved"):
            book[place] = "confirmed"
        else:
            book[place] = "unconfirmed"
            self.soak.problem(person, f"meeting at {place} not saved", update, seen)
            await self.soak.say(person, "cancel", "/cancel")
            return
        if self.random.random() < 0.3:  # saved again from the same card: nothing twice
            _, calls, update = await self.soak.press(person, "stale press", card, "mt:save",
                                                     at_once=True)  # fmt: skip
            self.tally.stale_presses += 1
            if t("button.stale", LANG) not in _alerts(calls) and not self.soak.faulted(update):
                self.soak.problem(person, "a second save was not refused", update, [], calls)
        person.old.append(as_shown)

    async def quick_log(self, person: Person) -> None:
        await self.log_in_one_message(person, street="", kind="职工", cancel=True)

    async def log_in_one_message(
        self, person: Person, *, street: str, kind: str, cancel: bool
    ) -> None:
        """A meeting in one message, then its card saved. An officer's is in their own
        street; an admin names the street (`street`) before the place."""
        place = f"{self.soak.marker()}社区"
        self.tally.meetings[place] = "none"
        text = f"今天在{street}{place}开了{kind}沟通会，{self.random.randint(10, 90)}人参加"
        seen, _, update = await self.soak.say(person, "quick log", text)
        card = with_button(seen, "mt:save")
        if card is None:
            self.soak.problem(person, f"no card for {text!r}", update, seen)
            if cancel:
                await self.soak.say(person, "cancel", "/cancel")
            return
        await self.save_card(person, card, place, self.tally.meetings)

    async def visit(self, person: Person) -> None:
        if not person.units:
            return
        unit = self.random.choice(person.units)
        marker = self.soak.marker()
        summary = f"走访{marker}，与法人沟通组建事宜"
        self.tally.visits[summary] = "none"
        steps: list[Step] = [
            (f"/visit {unit.code}", None, f"vs:u:{unit.unit_id}"),
            (f"vs:u:{unit.unit_id}", "button", "vs:p:"),
            ("vs:p:visit", "button", "text:visit.ask.summary"),
            (summary, None, "vs:skip:next_step"),
            ("vs:skip:next_step", "button", "vs:skip:next_step_on"),
            ("vs:skip:next_step_on", "button", "vs:skip:evidence"),
        ]
        asked = await self.conversation(person, "visit step", steps)
        if asked is None:
            return
        seen, _, update = await self.soak.press(person, "save", asked[1], "vs:skip:evidence")
        if says(seen, "visit.saved", name=unit.name):
            self.tally.visits[summary] = "confirmed"
        else:
            self.tally.visits[summary] = "unconfirmed"
            self.soak.problem(person, "visit not saved", update, seen)
            await self.soak.say(person, "cancel", "/cancel")

    async def report(self, person: Person) -> None:
        if not person.reports or any(v != "none" for k, v in self.tally.reports.items()
                                     if k.endswith(f"@{person.street}")):  # fmt: skip
            return
        marker = self.soak.marker()
        difficulties = f"{marker} 部分企业负责人不理解建会"
        key = f"{difficulties}@{person.street}"
        seen, _, update = await self.soak.say(person, "report step", "/report")
        chooser = with_button(seen, "rp:k:m")
        if chooser is None:
            self.soak.problem(person, "no report chooser", update, seen)
            return
        self.tally.reports[key] = "none"
        steps: list[Step] = [
            ("rp:k:m", "button", "rp:x"),
            (difficulties, None, "rp:skip:notes"),
            ("rp:skip:notes", "button", "rp:ok"),
        ]
        asked = await self.conversation(person, "report step", steps, start=chooser)
        if asked is None:
            return
        seen, _, update = await self.soak.press(person, "save", asked[1], "rp:ok")
        if says(seen, "report.submitted", street=person.street or ""):
            self.tally.reports[key] = "confirmed"
        else:
            self.tally.reports[key] = "unconfirmed"
            self.soak.problem(person, "report not submitted", update, seen)
            await self.soak.say(person, "cancel", "/cancel")

    async def group_command(self, person: Person) -> None:
        group = person.group if person.role == "officer" else FIRST_GROUP + 1
        if group is None:
            return
        street = self.soak.population.groups[group]
        chat = self.soak.api.group_chat(group, f"{street or '区总'}工作群")
        self.tally.group_commands += 1
        command = self.random.choice(["/status", f"/status@{self.soak.api.username}",
                                      "/status@some_other_bot", "大家辛苦了"])  # fmt: skip
        seen, _, update = await self.soak.say(person, "group", command, chat)
        if command.endswith("other_bot") or not command.startswith("/"):
            if seen:
                self.soak.problem(person, f"the bot answered {command!r} in a group", update, seen)
            return
        title = f"📊 {street}" if street else "📊 房山区"
        if not any(visible(m["text"]).startswith(title) for m in seen):
            self.soak.problem(person, f"no status in group {group}", update, seen)

    async def stale_press(self, person: Person) -> None:
        if not person.old:
            return
        message = self.random.choice(list(person.old))
        data = self.random.choice([d for _, d in buttons(message) if d.startswith(STALE)] or [""])
        if not data:
            return
        self.tally.stale_presses += 1
        seen, calls, update = await self.soak.press(person, "stale press", message, data)
        if data.startswith("ua:"):
            unit_id = int(data.split(":")[1])
            self.tally.trail[unit_id].append(f"{update['update_id']} {data} old {_alerts(calls)}")
            if not _alerts(calls) and not self.soak.faulted(update):
                self.soak.problem(person, f"old {data} said nothing", update, seen, calls)
            return
        if t("button.stale", LANG) not in _alerts(calls) and not self.soak.faulted(update):
            self.soak.problem(person, f"old {data} was not refused as stale", update, seen, calls)
        if any(m.get("message_id") != message.get("message_id") for m in seen):
            self.soak.problem(person, f"old {data} sent a message", update, seen, calls)

    async def refused(self, person: Person) -> None:
        self.tally.refusals += 1
        other = next(s for s in self.soak.population.streets if s != person.street)
        command, key, values = self.random.choice([
            ("/invite", "access.admin_only", {}),
            (f"/status {other}", "status.own_street_only", {"street": person.street or ""}),
        ])  # fmt: skip
        seen, _, update = await self.soak.say(person, "refused", command)
        if not says(seen, key, **values):
            self.soak.problem(person, f"{command} was not refused", update, seen)

    async def decide(self, person: Person) -> None:
        if not self.soak.notices[person.chat_id]:
            return
        notice = self.soak.notices[person.chat_id].popleft()
        approve = self.random.random() < 0.8
        data = button(notice, "ja:ok:" if approve else "ja:no:")
        assert data is not None
        application = int(data.rsplit(":", 1)[1])
        seen, calls, update = await self.soak.press(person, "decide", notice, data)
        key = "join.decided_approved" if approve else "join.decided_rejected"
        if any(pattern(key).search(visible(m["text"])) for m in seen):
            self.tally.decisions[application] = "approved" if approve else "rejected"
            if approve:
                await self.soak.now_a_member(application)
        elif _alerts(calls):  # another officer of the street decided first
            return
        elif not self.soak.faulted(update):
            self.soak.problem(person, f"no decision on application {application}", update, seen)

    # -- admins --

    async def admin_status(self, person: Person) -> None:
        seen, _, update = await self.soak.say(person, "status", "/status")
        if not any(visible(m["text"]).startswith("📊 房山区") for m in seen):
            self.soak.problem(person, "no district status", update, seen)

    async def admin_street_status(self, person: Person) -> None:
        street = self.random.choice(list(self.soak.population.streets))
        seen, _, update = await self.soak.say(person, "status", f"/status {street}")
        if not any(visible(m["text"]).startswith(f"📊 {street}") for m in seen):
            self.soak.problem(person, f"no status of {street}", update, seen)

    async def admin_unit(self, person: Person) -> None:
        officers = [p for p in self.soak.population.people if p.units]
        unit = self.random.choice(self.random.choice(officers).units)
        seen, _, update = await self.soak.say(person, "unit", f"/unit {unit.code}")
        if not any(visible(m["text"]).startswith(f"🏢 {unit.name}") for m in seen):
            self.soak.problem(person, f"no card of {unit.code}", update, seen)

    async def admin_quick_log(self, person: Person) -> None:
        street = self.random.choice(list(self.soak.population.streets))
        await self.log_in_one_message(person, street=street, kind="企业", cancel=False)

    async def admin_reports(self, person: Person) -> None:
        seen, _, update = await self.soak.say(person, "report step", "/report")
        if not any(visible(m["text"]).startswith("📋") for m in seen):
            self.soak.problem(person, "no report overview", update, seen)

    # -- strangers and members --

    async def stranger_refused(self, person: Person) -> None:
        self.tally.refusals += 1
        command = self.random.choice(["/status", "/start", "你好", "/meeting"])
        seen, _, update = await self.soak.say(person, "refused", command)
        if person.role == "member" and command == "你好":
            return  # a member's chat: what they hear is the member's, checked elsewhere
        if not says(seen, "access.refused"):
            self.soak.problem(person, f"{command} from a stranger was not refused", update, seen)

    async def apply(self, person: Person) -> None:
        """/join to the end: consent, the shared contact, name, street, unit, submit. Cut
        short by a fault, the applicant starts again with /join next time."""
        if person.applied:
            return await self.apply_again(person)
        person.applying = True
        unit_name = f"{self.soak.marker()}科技有限公司"
        seen, _, update = await self.soak.say(person, "join step", "/join")
        intro = with_button(seen, "jn:ok:")
        if intro is None:
            if says(seen, "join.refused_pending"):  # an earlier submission went through
                person.applied, person.applying = True, False
            else:
                self.soak.problem(person, "no consent question", update, seen)
            return None
        seen, _, update = await self.soak.press(person, "join step", intro,
                                                button(intro, "jn:ok:") or "")  # fmt: skip
        if not says(seen, "join.ask_contact"):
            return self.soak.problem(person, "no contact question", update, seen)
        assert person.mobile is not None
        seen, update = await self.soak.contact(person, "join step", person.mobile)
        if not any(pattern("join.ask_name").search(visible(m["text"])) for m in seen):
            return self.soak.problem(person, "no name question", update, seen)
        seen, _, update = await self.soak.say(person, "join step", f"王{unit_name[2:4]}")
        street = f"jn:st:{person.street_id}"
        question = with_button(seen, street)
        if question is None:
            return self.soak.problem(person, "no street question", update, seen)
        seen, _, update = await self.soak.press(person, "join step", question, street)
        if not any(pattern("join.ask_unit").search(visible(m["text"])) for m in seen):
            return self.soak.problem(person, "no unit question", update, seen)
        seen, _, update = await self.soak.say(person, "join step", unit_name)
        choice = with_button(seen, "jn:u:0")  # no unit of the street by that name: keep it
        if choice is not None:
            seen, _, update = await self.soak.press(person, "join step", choice, "jn:u:0")
        card = with_button(seen, "jn:submit")
        if card is None:
            return self.soak.problem(person, "no summary to submit", update, seen)
        self.tally.applications[unit_name] = "unconfirmed"
        seen, _, update = await self.soak.press(person, "save", card, "jn:submit")
        if says(seen, "join.submitted"):
            self.tally.applications[unit_name] = "confirmed"
            person.applied, person.applying = True, False
        else:
            self.soak.problem(person, "application not submitted", update, seen)
        return None

    async def apply_again(self, person: Person) -> None:
        if not person.applied:
            return await self.stranger_refused(person)
        seen, _, update = await self.soak.say(person, "refused", "/join")
        self.tally.refusals += 1
        if says(seen, "join.refused_pending") or says(seen, "join.refused_member"):
            return None
        if with_button(seen, "jn:ok:") and await self.soak.all_rejected(person):
            person.applied = False  # rejected: they may apply again, and are asked to consent
            return None
        self.soak.problem(person, "a second application was not refused", update, seen)
        return None

    async def member_join_again(self, person: Person) -> None:
        seen, _, update = await self.soak.say(person, "refused", "/join")
        self.tally.refusals += 1
        if not says(seen, "join.refused_member"):
            self.soak.problem(person, "a member's /join was not refused", update, seen)


# --- the run -------------------------------------------------------------------------------


def rss_mib() -> float:
    """This process's resident memory now (not its peak), from /proc."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass
class Checked:
    name: str
    count: int
    failures: list[str]


@dataclass
class SoakResult:
    soak: SoakPlan
    backend: str
    updates: int
    warmup: int
    seconds: float
    samples: list[Sample]
    faults: Counter[str]
    statuses: Counter[tuple[str, int]]
    rss: list[tuple[int, float]]
    held: list[int]
    checks: list[Checked]
    problems: list[str]
    unexplained_logs: list[str]
    logged_warnings: int
    unexplained_errors: list[str]
    tally: Tally

    @property
    def rss_growth_second_half(self) -> float:
        return self.rss[-1][1] - self.rss_mid

    @property
    def rss_mid(self) -> float:
        middle = self.warmup + (self.updates - self.warmup) / 2
        return min(self.rss, key=lambda point: abs(point[0] - middle))[1]

    @property
    def failures(self) -> list[str]:
        return [*self.problems, *self.unexplained_logs, *self.unexplained_errors,
                *(f"{c.name}: {f}" for c in self.checks for f in c.failures)]  # fmt: skip

    def report(self) -> str:
        by_kind: defaultdict[str, list[float]] = defaultdict(list)
        for sample in self.samples:
            by_kind[sample.kind].append(sample.seconds)
        lines = [
            f"soak on {self.backend}: {self.updates:,} updates ({self.warmup} warm-up) from "
            f"{self.soak.users} users in {self.seconds:.0f} s: {self.updates / self.seconds:.1f} "
            f"updates/s",
            f"faults injected ({self.soak.fault_rate:.0%} of the calls users see): "
            + (", ".join(f"{k} {n}" for k, n in sorted(self.faults.items())) or "none"),
            f"warnings and errors logged: {self.logged_warnings} (unexplained by the faults: "
            f"{len(self.unexplained_logs)}); handler errors not injected: "
            f"{len(self.unexplained_errors)}; unexpected answers: {len(self.problems)}",
            "latency by kind (p50 / p95 / max ms, count):",
        ]
        for kind, values in sorted(by_kind.items(), key=lambda kv: -len(kv[1])):
            ordered = sorted(values)
            p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
            p50 = statistics.median(ordered)
            lines.append(f"  {kind:<14} {p50 * 1000:7.1f} {p95 * 1000:7.1f} "
                         f"{ordered[-1] * 1000:8.1f}  {len(ordered):6,}")  # fmt: skip
        start, end = self.rss[0][1], self.rss[-1][1]
        lines.append(
            f"RSS after warm-up {start:.1f} MiB, mid {self.rss_mid:.1f}, end {end:.1f} "
            f"(second half {self.rss_growth_second_half:+.1f} MiB); samples "
            + " ".join(f"{mib:.0f}" for _, mib in self.rss)
        )
        lines.append(
            f"messages the fake Bot API holds (part of that memory): {self.held[0]:,} after "
            f"warm-up, {self.held[-1]:,} at the end"
        )
        lines.append("records checked:")
        for check in self.checks:
            state = "ok" if not check.failures else f"{len(check.failures)} FAILED"
            lines.append(f"  {check.name:<52} {check.count:6,}  {state}")
        for failure in self.failures[:30]:
            lines.append(f"  ! {failure}")
        return "\n".join(lines)


def soak_settings(database_url: str, folder: Path, soak: SoakPlan, sms_url: str) -> Settings:
    """As in production but for the clock (START), the reminder tick (every 20 s, so the
    09:00 reminders go out during the run) and the SMS gateway (the local test one)."""
    return Settings(
        _env_file=None,
        database_url=database_url,
        bot_admin_ids=",".join(str(FIRST_ADMIN + i) for i in range(soak.admins)),
        bot_today=START,
        telegram_bot_token=None,
        default_language="zh",
        media_dir=folder / "media",
        reminder_tick_seconds=20,
        sms_gateway="http",
        sms_http_url=sms_url,
        sms_http_auth_header=f"Authorization: {SMS_TOKEN}",
        sms_http_body_template='{"to": "{mobile}", "text": "{text}"}',
        sms_timeout_seconds=1.0,
    )


@asynccontextmanager
async def watching_logs() -> AsyncIterator[LogWatch]:
    watch = LogWatch()
    root = logging.getLogger()
    before = root.level
    root.addHandler(watch)
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
    try:
        yield watch
    finally:
        root.removeHandler(watch)
        root.setLevel(before)


async def run_soak(database_url: str, folder: Path, soak: SoakPlan, backend: str) -> SoakResult:
    """The soak on a seeded demo database (a copy: officers are added to it)."""
    db = Database(database_url)
    await db.upgrade()
    population = await populate(db, soak, datetime(2018, 3, 1, tzinfo=UTC))
    await db.dispose()
    with serve_generic() as gateway:
        settings = soak_settings(database_url, folder, soak, gateway.url)
        return await _run(settings, population, soak, backend, gateway)


async def _run(settings: Settings, population: Population, soak: SoakPlan, backend: str,
               gateway: Gateway) -> SoakResult:  # fmt: skip
    async with watching_logs() as watch, Harness.running(settings, raise_errors=False) as harness:
        driver = Soak(harness, population, soak, gateway)
        scripts = Scripts(driver)
        begin = time.perf_counter()
        await warm_up(driver)
        warmup = driver.updates
        driver.sample_memory()
        driver.target = warmup + soak.updates
        harness.api.inject_faults(soak.fault_rate, seed=soak.seed)
        gateway.inject_faults(soak.fault_rate, seed=soak.seed)
        await asyncio.gather(*(scripts.run(p) for p in population.people))
        seconds = time.perf_counter() - begin
        driver.sample_memory()
        harness.api.inject_faults(0)
        gateway.inject_faults(0)
        await finish_outbox(driver)
        driver.route()
        checks = await check_records(driver)
    unexplained = [line for line in watch.lines if not explained(line, driver)]
    not_injected = [
        f"update {u}: {e}" for u, errors in driver.errors.items() for e in errors if not injected(e)
    ] + [e for e in driver.job_errors if not injected(e)]
    return SoakResult(
        soak=soak, backend=backend, updates=driver.updates, warmup=warmup, seconds=seconds,
        samples=driver.samples, faults=driver.faults, statuses=driver.statuses, rss=driver.rss,
        held=driver.held,
        checks=checks, problems=driver.tally.problems, unexplained_logs=unexplained,
        logged_warnings=len(watch.lines), unexplained_errors=not_injected, tally=driver.tally,
    )  # fmt: skip


async def warm_up(driver: Soak) -> None:
    """Every user once, and the groups bound by an admin through /bind."""
    admin = next(p for p in driver.population.people if p.role == "admin")
    for group, street in driver.population.groups.items():
        chat = driver.api.group_chat(group, f"{street or '区总'}工作群")
        seen, _, update = await driver.say(admin, "bind", "/bind", chat)
        menu = with_button(seen, "bind:")
        street_id = driver.population.streets.get(street)
        choice = f"bind:s:{street_id}" if street_id else "bind:d"
        if menu is None:
            driver.problem(admin, f"no /bind menu for {street or 'the district'}", update, seen)
            continue
        await driver.press(admin, "bind", menu, choice)

    async def once(person: Person) -> None:
        seen, _, update = await driver.say(person, "start", "/start")
        if not seen:
            driver.problem(person, "/start said nothing", update, seen)

    await asyncio.gather(*(once(p) for p in driver.population.people))


async def finish_outbox(driver: Soak, rounds: int = 20) -> None:
    """What is still queued, sent: the outbox drained with the clock an hour on, so rows
    waiting out a back-off are due."""
    data = driver.app.bot_data

    def later() -> datetime:
        return data.clock.now() + timedelta(hours=1)

    for _ in range(rounds):
        async with data.sending:
            await drain(bot=driver.app.bot, db=data.db, now=later, worker="soak", pace=data.pace)
        async with data.sms_sending:
            await drain_sms(channel=data.sms, db=data.db, now=later, worker="soak",
                            admins=data.settings.bot_admin_ids, language=Language.ZH)  # fmt: skip
        driver.route()
        async with data.db.session() as session:
            pending = (
                await session.exec(
                    select(func.count()).where(OutboxMessage.status == OutboxStatus.PENDING)
                )
            ).one()
        if not pending:
            return
        await asyncio.sleep(0.5)


def explained(line: str, driver: Soak) -> bool:
    """A warning or error line the injected faults account for."""
    if injected(line) or SMS_RETRY.search(line):
        return True
    found = re.search(r"update(?: |_id=)(\d+)", line)
    return found is not None and driver.faulted({"update_id": int(found.group(1))})


# --- the checks ----------------------------------------------------------------------------


async def check_records(driver: Soak) -> list[Checked]:
    db, tally = driver.app.bot_data.db, driver.tally
    checks = []
    async with db.session() as session:
        places = Counter(
            p for p in (await session.exec(select(Meeting.place))).all() if p and p[:2] == "SK"
        )
        checks.append(by_marker("meetings (/meeting and one-message logs)", tally.meetings,
                                places))  # fmt: skip
        summaries = Counter(
            s for s in (await session.exec(select(Visit.summary))).all() if s and "走访SK" in s
        )
        checks.append(by_marker("visits", tally.visits, summaries))
        reports = Counter(
            f"{d}@{name}"
            for d, name in (
                await session.exec(
                    select(ReportSubmission.difficulties, Street.name).join(
                        Street, col(Street.id) == ReportSubmission.street_id
                    )
                )
            ).all()
        )
        checks.append(by_marker("monthly reports", tally.reports, reports))
        units = Counter(
            u
            for u in (await session.exec(select(MembershipApplication.unit_name))).all()
            if u and u.startswith("SK")
        )
        checks.append(by_marker("join applications", tally.applications, units))
        checks.append(await check_ledger(session, tally))
        checks.append(await check_audit(session))
        checks.append(await check_decisions(session, tally))
        checks.append(await check_outbox(session, driver))
        checks.append(await check_sms(session, driver.gateway))
    return checks


def by_marker(name: str, told: dict[str, str], found: Counter[str]) -> Checked:
    """Confirmed: there once; unconfirmed (a fault hid the answer): at most once; never
    saved: not there; and nothing there that no script made."""
    failures = []
    for marker, state in told.items():
        n = found.get(marker, 0)
        if state == "confirmed" and n != 1:
            failures.append(f"{marker}: confirmed, {n} in the database")
        elif state == "unconfirmed" and n > 1:
            failures.append(f"{marker}: {n} in the database")
        elif state == "none" and n:
            failures.append(f"{marker}: never saved, yet {n} in the database")
    failures += [f"{m}: in the database, made by no script" for m in found if m not in told]
    return Checked(name, sum(found.values()), failures)


async def check_ledger(session: Any, tally: Tally) -> Checked:
    """Each unit moved once per confirmed press (plus at most the presses a fault hid), the
    stages one after another; written off (reaching 'certified' writes a unit off, a row of
    its own) at most once, and only from the last stage."""
    rows = (
        await session.exec(
            select(LedgerEntry.unit_id, LedgerStageChange.from_stage, LedgerStageChange.to_stage,
                   LedgerStageChange.outcome)
            .join(LedgerEntry, col(LedgerEntry.id) == LedgerStageChange.entry_id)
            .where(col(LedgerStageChange.by_user_id) >= FIRST_OFFICER)
            .order_by(col(LedgerStageChange.id))
        )
    ).all()  # fmt: skip
    moves: defaultdict[int, list[tuple[str, str]]] = defaultdict(list)
    endings: defaultdict[int, list[tuple[str, str, str]]] = defaultdict(list)
    for unit_id, before, after, outcome in rows:
        if outcome == LedgerOutcome.OPEN:
            moves[int(unit_id)].append((str(before), str(after)))
        else:
            endings[int(unit_id)].append((str(before), str(after), str(outcome)))
    failures = []
    for unit_id, ended in endings.items():
        last = moves[unit_id][-1][1] if moves[unit_id] else None
        if len(ended) > 1 or ended[0][:2] != ("certified", "certified") or last != "certified":
            failures.append(f"unit {unit_id}: ended {ended} after moves {moves[unit_id]}")
    for unit_id in set(moves) | set(tally.advances) | set(tally.unconfirmed_advances):
        made, confirmed = len(moves[unit_id]), tally.advances[unit_id]
        if not confirmed <= made <= confirmed + tally.unconfirmed_advances[unit_id]:
            failures.append(f"unit {unit_id}: {confirmed} confirmed moves, {made} made "
                            f"{moves[unit_id]}; presses {tally.trail[unit_id]}")  # fmt: skip
        chain = moves[unit_id]
        if any(a[1] != b[0] for a, b in itertools.pairwise(chain)):
            failures.append(f"unit {unit_id}: moves out of order {chain}")
    return Checked("ledger moves by button (once per press)", len(rows), failures)


async def check_audit(session: Any) -> Checked:
    """Every soak record and ledger move has its one audit row."""
    failures = []
    counted = 0
    meetings = select(Meeting.id).where(col(Meeting.place).startswith("SK"))
    visits = select(Visit.id).where(col(Visit.summary).contains("走访SK"))
    for entity, action, query in (("meeting", "meeting.create", meetings),
                                  ("visit", "visit.unit", visits)):  # fmt: skip
        ids = {str(i) for i in (await session.exec(query)).all()}
        audited = Counter(
            (
                await session.exec(
                    select(AuditEntry.entity_id).where(AuditEntry.entity == entity)
                    .where(AuditEntry.action == action)
                    .where(col(AuditEntry.entity_id).in_(ids or {"-"}))
                )
            ).all()
        )  # fmt: skip
        counted += len(ids)
        failures += [f"{entity} {i}: {audited.get(i, 0)} {action} audit rows"
                     for i in ids if audited.get(i) != 1]  # fmt: skip
    stage_rows = (
        await session.exec(
            select(func.count()).where(col(LedgerStageChange.by_user_id) >= FIRST_OFFICER)
        )
    ).one()
    # A move is "ledger.stage"; a write-off, "ledger.write_off": one audit row each.
    audited_moves = (
        await session.exec(
            select(func.count()).where(col(AuditEntry.action).startswith("ledger."))
            .where(col(AuditEntry.actor_user_id) >= FIRST_OFFICER)
        )
    ).one()  # fmt: skip
    if stage_rows != audited_moves:
        failures.append(f"{stage_rows} ledger moves, {audited_moves} audit rows")
    return Checked("audit rows (meetings, visits, ledger moves)", counted + stage_rows, failures)


async def check_decisions(session: Any, tally: Tally) -> Checked:
    """Approved: one member each; rejected: none; no applicant registered twice."""
    rows = (
        await session.exec(
            select(MembershipApplication.id, MembershipApplication.status,
                   MembershipApplication.telegram_user_id)
            .where(col(MembershipApplication.unit_name).startswith("SK"))
        )
    ).all()  # fmt: skip
    members = Counter(
        (
            await session.exec(
                select(Member.telegram_user_id).where(
                    col(Member.telegram_user_id) >= FIRST_STRANGER
                )
            )
        ).all()
    )
    failures = []
    approved = {user_id for _, status, user_id in rows if status == "approved"}
    for application_id, status, user_id in rows:
        told = tally.decisions.get(int(application_id))
        if told is not None and told != status:
            failures.append(f"application {application_id}: told {told}, is {status}")
        if status == "approved" and members.get(user_id) != 1:
            failures.append(f"application {application_id}: approved, "
                            f"{members.get(user_id, 0)} members")  # fmt: skip
        # Someone rejected may apply again (apply_again) and be approved the second time.
        if status != "approved" and members.get(user_id) and user_id not in approved:
            failures.append(f"application {application_id}: {status}, yet a member")
    return Checked("decisions on applications (members registered once)", len(rows), failures)


async def check_outbox(session: Any, driver: Soak) -> Checked:
    """Every Telegram row sent, each delivered to its chat once: a second delivery only
    where Telegram took the first but the bot heard a timeout (it cannot know)."""
    rows = (
        await session.exec(
            select(OutboxMessage.recipient, OutboxMessage.payload, OutboxMessage.status)
            .where(OutboxMessage.channel == OutboxChannel.TELEGRAM)
        )
    ).all()  # fmt: skip
    failures = []
    for recipient, payload, status in rows:
        key = (int(recipient), str(payload.get("text")))
        times = driver.delivered.get(key, 0)
        if status != OutboxStatus.SENT:
            failures.append(f"row to {recipient} is {status}")
        elif times == 0:
            failures.append(f"row to {recipient} marked sent, never delivered")
        elif times - 1 > driver.maybe_twice.get(key, 0):
            failures.append(f"row to {recipient} delivered {times} times")
    return Checked("outbox rows delivered once each", len(rows), failures)


async def check_sms(session: Any, gateway: Gateway) -> Checked:
    """Every SMS row sent, each received by the gateway once (its timeouts never deliver)."""
    rows = (
        await session.exec(
            select(OutboxMessage.recipient, OutboxMessage.status)
            .where(OutboxMessage.channel == OutboxChannel.SMS)
        )
    ).all()  # fmt: skip
    received = Counter(m.mobile for m in gateway.messages)
    expected = Counter(recipient for recipient, _ in rows)
    failures = [f"SMS row to {r[:3]}****{r[-4:]} is {status}" for r, status in rows
                if status != OutboxStatus.SENT]  # fmt: skip
    failures += [f"{m[:3]}****{m[-4:]} received {n} SMS, {expected[m]} rows"
                 for m, n in received.items() if n != expected[m]]  # fmt: skip
    return Checked("SMS rows received once each", len(rows), failures)


# --- the command ----------------------------------------------------------------------------


async def seeded_database(url: str) -> None:
    """The demo district (`unionbot demo`'s data) at `url`."""
    db = Database(url)
    await db.upgrade()
    plan = load_plan(Settings(_env_file=None, database_url=url).plan_file)
    async with db.session(write=True) as session:
        await seed_demo(session=session, plan=plan)
    await db.dispose()


@asynccontextmanager
async def scratch_postgres(server: str) -> AsyncIterator[str]:
    name = f"unionbot_soak_{os.getpid()}"
    conn = await asyncpg.connect(server, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
        base = server.replace("postgresql://", "postgresql+asyncpg://", 1).rsplit("/", 1)[0]
        yield f"{base}/{name}"
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def main(soak: SoakPlan, postgres: str | None) -> list[SoakResult]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite+aiosqlite:///{folder}/soak.db"
        await seeded_database(url)
        results.append(await run_soak(url, folder, soak, "sqlite"))
        print(results[-1].report(), flush=True)
        if postgres:
            async with scratch_postgres(postgres) as pg_url:
                await seeded_database(pg_url)
                results.append(await run_soak(pg_url, folder, soak, "postgresql"))
                print(results[-1].report(), flush=True)
    return results


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=" ".join((__doc__ or "").split("\n\n")[0].split())
    )
    parser.add_argument("--updates", type=int, default=FULL.updates)
    parser.add_argument("--streets", type=int, default=FULL.streets)
    parser.add_argument("--officers", type=int, default=FULL.officers_per_street,
                        help="officers per street")  # fmt: skip
    parser.add_argument("--strangers", type=int, default=FULL.strangers)
    parser.add_argument("--fault-rate", type=float, default=FULL.fault_rate)
    parser.add_argument("--seed", type=int, default=FULL.seed)
    parser.add_argument(
        "--postgres", metavar="URL", default=None,
        help="also run on a scratch database of this PostgreSQL server",
    )  # fmt: skip
    return parser


if __name__ == "__main__":
    args = parser().parse_args()
    plan = SoakPlan(updates=args.updates, streets=args.streets,
                    officers_per_street=args.officers, strangers=args.strangers,
                    fault_rate=args.fault_rate, seed=args.seed)  # fmt: skip
    outcome = asyncio.run(main(plan, args.postgres))
    raise SystemExit(1 if any(r.failures for r in outcome) else 0)
