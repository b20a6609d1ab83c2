"""Every free-text input of the bot, fed arbitrary text through the whole bot (issue 9).

Whatever anyone types — any Unicode, control characters, bidi and zero-width marks, markup,
SQL, up to the 4,096 characters Telegram delivers — in a quick log, an answer to /meeting,
/member, /report, /join, /visit or a ledger move, the /welcome text, a command's arguments or
a group chat: the bot never crashes (the harness raises any handler error), every message it
sends is one Telegram accepts (escaped HTML, within the size limits), text it echoes shows
literally, and an input it refuses writes nothing. Conversation drafts are state, not
business data: a refused answer leaves the draft as it was; an accepted one moves the draft
on; only the steps that save (a unit added, a ledger entry closed, a visit, a template)
write business data, each with its audit row.

Hypothesis runs each property in a worker thread while the harness lives on the test's event
loop: each example hands its updates to that loop (run_coroutine_threadsafe) and waits. The
harness is built once per test by the usual fixture; @given sits on an inner function, so
no fixture is shared between examples behind hypothesis' back.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from hypothesis import example, given
from hypothesis import strategies as st
from sqlmodel import SQLModel, col, select

from bot.fake_api import JSON, ApiCall, visible
from bot.harness import Harness, alerts, shown
from bot.texts import catalogue
from handlers.common import esc
from models.credit_code import CHARSET, credit_code_check_char
from models.enums import Language, LedgerOutcome, ReportKind
from models.meetings import MAX_PLACE, read_count
from models.mobile import normalise_mobile
from models.questions import is_status_question
from models.quicklog import read_date
from models.reports import report_fields
from models.tables import Draft, LedgerEntry, Meeting, Street, Unit, Visit, WelcomeTemplate
from reminders.sender import drain
from tests.conftest import ADMIN_ID, OFFICER_ID, OFFICER_STREET, make_settings, seen
from tests.strategies import examples, message_text, pieces

T = TypeVar("T")
STRANGER_ID = 90_001
BOT_NAME = "unionbot_quick_bot"


@pytest.fixture
async def quick_bot(demo_database_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    """The demo bot without PTB's flood limiter: a property sends hundreds of messages, and
    at Telegram's 30 a second the limiter, which none of them is about, would take most of
    the time."""
    settings = make_settings(tmp_path, database_url=demo_database_url)
    async with Harness.running(settings, rate_limit=False) as harness:
        yield harness


# --- what Telegram accepts -----------------------------------------------------------------

# The only tags the bot writes itself; any other tag in a message is a user's, unescaped.
OUR_TAG = re.compile(r"</?(?:b|code|blockquote)>")
ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
TEXT_MAX, CAPTION_MAX, CALLBACK_DATA_MAX, ALERT_MAX = 4096, 1024, 64, 200
SENT = {"sendMessage", "editMessageText", "sendPhoto", "sendDocument", "editMessageReplyMarkup"}


def markup_problems(markup: str) -> list[str]:
    """Where an HTML message breaks Telegram's rules (every <, > and & not part of a tag or
    an entity escaped), or carries a tag the bot never writes (a user's, unescaped)."""
    problems, i = [], 0
    while i < len(markup):
        char = markup[i]
        if char == "<":
            tag = OUR_TAG.match(markup, i)
            if tag is None:
                problems.append(f"unescaped < at {i}: {markup[i : i + 30]!r}")
                i += 1
                continue
            i = tag.end()
            continue
        if char == "&" and ENTITY.match(markup, i) is None:
            problems.append(f"unescaped & at {i}: {markup[i : i + 30]!r}")
        elif char == ">":
            problems.append(f"unescaped > at {i}: {markup[max(i - 30, 0) : i + 1]!r}")
        i += 1
    return problems


def keyboard_problems(markup: Any) -> list[str]:
    if isinstance(markup, str):
        markup = json.loads(markup)
    problems = []
    for row in (markup or {}).get("inline_keyboard") or []:
        for button in row:
            label, data = str(button.get("text") or ""), button.get("callback_data")
            if not label.strip():
                problems.append(f"a button without a label: {button}")
            if (data is None) == (button.get("url") is None):
                problems.append(f"a button needs callback data or a URL: {button}")
            if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_DATA_MAX:
                problems.append(f"callback data over {CALLBACK_DATA_MAX} bytes: {data!r}")
    for row in (markup or {}).get("keyboard") or []:
        for button in row:
            if not str(button.get("text") or "").strip():
                problems.append(f"a keyboard button without a label: {button}")
    return problems


def call_problems(call: ApiCall, api_messages: dict[tuple[int, int], JSON]) -> list[str]:
    """What Telegram would refuse in one recorded call (the fake API checks only part)."""
    params, problems = call.params, []
    if call.method == "answerCallbackQuery":
        if len(str(params.get("text") or "")) > ALERT_MAX:
            problems.append(f"an alert over {ALERT_MAX} characters")
        return problems
    if call.method not in SENT:
        return problems
    html = str(params.get("parse_mode") or "").upper() == "HTML"
    for key, limit in (("text", TEXT_MAX), ("caption", CAPTION_MAX)):
        if key not in params:
            continue
        raw = str(params[key] or "")
        if html:
            problems += markup_problems(raw)
        shown_text = visible(raw) if html and not markup_problems(raw) else raw
        if len(shown_text) > limit:
            problems.append(f"{key} of {len(shown_text)} characters, over {limit}")
        if key == "text" and not shown_text.strip():
            problems.append("an empty message")
    problems += keyboard_problems(params.get("reply_markup"))
    if call.status != 200:
        # Editing a message to what it shows already is refused, and harmless: handlers
        # let it pass. Anything else refused is a message the user never got.
        where = (int(params.get("chat_id") or 0), int(params.get("message_id") or 0))
        same = call.method == "editMessageText" and where in api_messages and (
            api_messages[where].get("text") == (visible(str(params["text"])) if html else
                                              params["text"])
        )  # fmt: skip
        if not same:
            problems.append(f"{call.method} refused with {call.status}")
    return problems


def assert_accepted(calls: list[ApiCall], api_messages: dict[tuple[int, int], JSON]) -> None:
    problems = [(c.method, p) for c in calls for p in call_problems(c, api_messages)]
    assert not problems, problems


def test_the_checks_catch_what_telegram_refuses() -> None:
    # The property tests below lean on these checks: they must fail where Telegram would.
    assert markup_problems("<b>进度</b> &amp; &lt;b&gt; <code>x</code>") == []
    assert markup_problems("<i>x</i>") and markup_problems("a < b") and markup_problems("R&D")
    assert markup_problems("<b>x</b> -> y") and markup_problems('<a href="x">y</a>')
    ok = {"inline_keyboard": [[{"text": "保存", "callback_data": "mt:save"}]]}
    assert keyboard_problems(ok) == []
    assert keyboard_problems({"inline_keyboard": [[{"text": " ", "callback_data": "x"}]]})
    assert keyboard_problems({"inline_keyboard": [[{"text": "x", "callback_data": "x" * 65}]]})
    assert keyboard_problems({"keyboard": [[{"text": ""}]]})
    long_caption = ApiCall("sendPhoto", {"caption": "字" * 1025}, 200)
    assert call_problems(long_caption, {})
    long_edit = ApiCall("editMessageText", {"text": "字" * 4097, "parse_mode": "HTML"}, 200)
    assert call_problems(long_edit, {})
    assert call_problems(ApiCall("answerCallbackQuery", {"text": "字" * 201}, 200), {})


# --- the data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    counts: dict[str, int]  # rows of every table but the drafts
    drafts: dict[tuple[int, str], Any]  # every draft's payload, by user and kind

    def business_changes(self, later: Snapshot) -> dict[str, tuple[int, int]]:
        return {
            name: (n, later.counts[name]) for name, n in self.counts.items()
            if later.counts[name] != n
        }  # fmt: skip


async def snapshot(bot: Harness) -> Snapshot:
    tables = [t for t in SQLModel.metadata.sorted_tables if t.name != Draft.__tablename__]
    counts: Any = sa.union_all(
        *(sa.select(sa.literal_column(f"'{t.name}'"), sa.func.count()).select_from(t)
          for t in tables)
    )  # fmt: skip
    async with bot.app.bot_data.db.session() as session:
        rows = (await session.exec(counts)).all()
        drafts = (await session.exec(select(Draft))).all()
    return Snapshot(
        counts={str(name): int(n) for name, n in rows},
        drafts={(d.user_id, d.kind): d.payload for d in drafts},
    )


# --- driving the bot from hypothesis' thread ------------------------------------------------


class Live:
    """The harness on the test's event loop, driven from the thread hypothesis runs in."""

    def __init__(self, bot: Harness, loop: asyncio.AbstractEventLoop) -> None:
        self.bot, self.loop = bot, loop
        self.last: dict[int, JSON] = {}  # the last message the bot showed in each chat

    def run(self, work: Callable[[], Awaitable[T]]) -> T:
        async def wrapped() -> T:
            return await work()

        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(timeout=120)

    async def process(self, update: JSON) -> list[ApiCall]:
        try:
            calls = await self.bot.process(update)
        finally:
            self.bot.errors.clear()  # one example's crash is not the next one's
        assert_accepted(calls, self.bot.api.messages)
        for message in shown(calls):
            self.last[message["chat"]["id"]] = message
        return calls

    async def say(
        self, user_id: int, text: str, chat: JSON | None = None, user: JSON | None = None
    ) -> list[ApiCall]:
        user = user or self.bot.api.user(user_id)
        return await self.process(self.bot.api.message_update(user=user, text=text, chat=chat))

    async def tap(self, user_id: int, data: str, chat_id: int | None = None) -> list[ApiCall]:
        """Press a button with this data on the last message the bot showed in the chat."""
        message = self.last[chat_id or user_id]
        user = self.bot.api.user(user_id)
        return await self.process(
            self.bot.api.callback_update(user=user, message=message, data=data)
        )

    async def share_contact(self, user_id: int, mobile: str) -> list[ApiCall]:
        update = self.bot.api.contact_update(
            user=self.bot.api.user(user_id), phone_number=mobile, user_id=user_id
        )
        return await self.process(update)

    def snapshot(self) -> Snapshot:
        return self.run(lambda: snapshot(self.bot))

    def say_now(
        self, user_id: int, text: str, chat: JSON | None = None, user: JSON | None = None
    ) -> list[str]:
        """Send from hypothesis' thread; what the user sees, as text."""
        return seen_texts(self.run(lambda: self.say(user_id, text, chat, user)))

    def tap_now(self, user_id: int, data: str, chat_id: int | None = None) -> list[str]:
        return seen_texts(self.run(lambda: self.tap(user_id, data, chat_id)))

    def say_writing_nothing(
        self, user_id: int, text: str, chat: JSON | None = None
    ) -> tuple[list[str], Snapshot, Snapshot]:
        """Send `text` and check that no business data changed (drafts may): what the user
        sees, and the database before and after."""
        before = self.snapshot()
        replies = self.say_now(user_id, text, chat)
        after = self.snapshot()
        assert before.business_changes(after) == {}, (text, replies)
        return replies, before, after


def seen_texts(calls: list[ApiCall]) -> list[str]:
    """What the user reads: the fake API keeps messages as Telegram shows them (tags applied,
    entities decoded), so a user's "<b>" that reaches the screen is literal."""
    return [m.get("text") or m.get("caption") or "" for m in shown(calls)]


async def in_thread(prop: Callable[[], None]) -> None:
    """Run a hypothesis property in a worker thread, leaving this loop free to serve it."""
    await asyncio.to_thread(prop)


def opening(key: str) -> str:
    """How a text begins, as the user sees it, up to its first placeholder."""
    head = catalogue(Language.ZH)[key].split("{", 1)[0]
    return html.unescape(re.sub(r"<[^>]+>", "", head))


def starts_with_any(texts: list[str], keys: list[str]) -> bool:
    starts = [opening(key) for key in keys]
    return any(text.startswith(start) for text in texts for start in starts)


def stored(text: str) -> str:
    """Text as the database keeps it: U+0000 dropped (PostgreSQL's text cannot hold it)."""
    return text.replace("\x00", "")


def first_line(text: str, limit: int) -> str:
    """What a card shows of a typed answer at least: its first line, cut short."""
    lines = text.strip()[:limit].splitlines()
    return lines[0].strip() if lines else ""


answers = message_text()


# --- the quick log ------------------------------------------------------------------------


@examples(100)
@example(
    user_id=OFFICER_ID, text="<b>职工沟通会</b> 在<i>某</i>&公司 30人 '; DROP TABLE meeting;--"
)
@example(user_id=OFFICER_ID, text="今天在拱辰街道的<b>x</b>大厦开了职工沟通会，45人参加")
@example(user_id=ADMIN_ID, text="职工沟通会 ፩人 在\x00苏庄社区")
@given(user_id=st.sampled_from([OFFICER_ID, ADMIN_ID]), text=answers)
def _quick_log(live: Live, user_id: int, text: str) -> None:
    replies, before, after = live.say_writing_nothing(user_id, text)  # a quick log only ever drafts
    if text.startswith("/"):
        return  # a command (as Telegram marks it), not a log
    changed = {k for k in before.drafts.keys() | after.drafts.keys()
               if before.drafts.get(k) != after.drafts.get(k)}  # fmt: skip
    card = starts_with_any(replies, ["meeting.card_title"])
    # The card's draft replaces the user's meeting draft (the same again when the same log
    # is sent twice); anything else leaves every draft alone.
    assert changed <= ({(user_id, "meeting")} if card else set()), (text, replies)
    if card:
        assert after.drafts[(user_id, "meeting")]["step"] is None
    place = after.drafts[(user_id, "meeting")]["place"] if card else None
    if place:  # the place as typed, shown as typed
        assert place in replies[0], (place, replies)


async def test_any_quick_log_text(quick_bot: Harness) -> None:
    live = Live(quick_bot, asyncio.get_running_loop())
    await in_thread(lambda: _quick_log(live))


# --- /meeting's typed answers ---------------------------------------------------------------

MEETING_REFUSALS = ["flow.bad_date", "flow.bad_number", "flow.too_long"]


@examples(80)
@example(field="place", text="<b>苏庄</b>&<i>社区</i>", save=True)
@example(field="attendees", text="፩", save=False)
@example(field="notes", text="'; DROP TABLE meeting; --\x00", save=True)
@example(field="notes", text="讨论了建会进度，还差3家", save=False)  # once taken for /status
@given(field=st.sampled_from(["held_on", "place", "attendees", "new_members", "notes"]),
       text=answers, save=st.sampled_from([False, False, False, True]))  # fmt: skip
def _meeting_answer(live: Live, field: str, text: str, save: bool) -> None:
    live.tap_now(OFFICER_ID, f"mf:goto:{field}")
    replies, before, after = live.say_writing_nothing(OFFICER_ID, text)
    if text.startswith("/"):
        return  # a command, as the fake API marks it, not an answer
    key = (OFFICER_ID, "meeting")
    if starts_with_any(replies, MEETING_REFUSALS):
        assert after.drafts == before.drafts, (field, text)
        return
    draft = after.drafts[key]
    assert draft["step"] is None and starts_with_any(replies, ["meeting.card_title"])
    typed = text.strip()
    expected: object = {
        "held_on": lambda: str(read_date(typed, today=live.bot.app.bot_data.clock.today())),
        "attendees": lambda: read_count(typed), "new_members": lambda: read_count(typed),
        "place": lambda: typed[:MAX_PLACE], "notes": lambda: typed,
    }[field]()  # fmt: skip
    assert draft[field] == expected, (field, text)
    if field == "place":
        assert first_line(typed, MAX_PLACE) in replies[-1]  # shown literally, markup and all
    if save:
        _save_meeting(live, draft)


def _save_meeting(live: Live, draft: dict[str, Any]) -> None:
    """Save: the meeting as the card showed it, with its audit row; then a new draft."""
    before = live.snapshot()
    calls = live.run(lambda: live.tap(OFFICER_ID, "mt:save"))
    changes = before.business_changes(live.snapshot())
    if alerts(calls):  # a problem the card named (attendees missing, and so on)
        assert changes == {}, alerts(calls)
        return
    assert set(changes) == {"meeting", "auditentry"}, changes
    meetings = live.run(lambda: rows(live.bot, Meeting, Meeting.created_by == OFFICER_ID))
    newest = max(meetings, key=lambda m: m.id or 0)
    assert (newest.place, newest.notes, newest.attendees) == (
        stored(draft["place"] or ""), None if draft["notes"] is None else stored(draft["notes"]),
        draft["attendees"] or 0,
    )  # fmt: skip
    live.run(lambda: whole_meeting_draft(live))


async def whole_meeting_draft(live: Live) -> None:
    """/meeting answered through to its card (by buttons where it offers them)."""
    await live.say(OFFICER_ID, "/meeting")
    await live.tap(OFFICER_ID, "mf:kind:worker")
    await live.tap(OFFICER_ID, "mf:held_on:0")
    await live.say(OFFICER_ID, "苏庄社区")
    await live.tap(OFFICER_ID, "mf:venue_type:-")
    await live.say(OFFICER_ID, "30")
    await live.tap(OFFICER_ID, "mf:new_members:0")
    await live.tap(OFFICER_ID, "mf:notes:-")
    await live.tap(OFFICER_ID, "mf:evidence:done")


async def test_any_answer_to_meeting(quick_bot: Harness) -> None:
    live = Live(quick_bot, asyncio.get_running_loop())
    await whole_meeting_draft(live)
    await in_thread(lambda: _meeting_answer(live))


# --- /member's typed answers ----------------------------------------------------------------

MEMBER_REFUSALS = ["member.bad_name", "member.bad_mobile", "member.exists",
                   "member.future_date", "member.bad_date"]  # fmt: skip


@examples(60)
@example(field="name", text="<b>张</b>&三")
@example(field="unit", text="<i>无此</i>&单位")
@example(field="mobile", text="138٠٠١٣٨٠٠٠")
@given(field=st.sampled_from(["name", "mobile", "unit", "joined_on"]), text=answers)
def _member_answer(live: Live, field: str, text: str) -> None:
    live.tap_now(OFFICER_ID, f"mb:goto:{field}")
    replies, before, after = live.say_writing_nothing(OFFICER_ID, text)
    if text.startswith("/"):
        return  # a command, as the fake API marks it, not an answer
    typed = text.strip()
    if field == "unit":  # the street's units that match, or none: the step waits still
        assert after.drafts == before.drafts
        if not starts_with_any(replies, ["member.unit_found"]):
            assert replies[0] == seen("member.unit_none", query=esc(typed[:50])), replies
        return
    if starts_with_any(replies, MEMBER_REFUSALS):
        assert after.drafts == before.drafts, (field, text)
        return
    draft = after.drafts[(OFFICER_ID, "member")]
    assert draft["step"] is None and starts_with_any(replies, ["member.card_title"])
    if field == "name":
        assert draft["name"] == typed and typed in replies[-1]
    elif field == "mobile":
        assert draft["mobile"] == normalise_mobile(typed)
    else:
        assert draft["joined_on"] == str(
            read_date(typed, today=live.bot.app.bot_data.clock.today())
        )


async def test_any_answer_to_member(quick_bot: Harness) -> None:
    live = Live(quick_bot, asyncio.get_running_loop())
    for text in ("/member", "张三", "13912345678"):
        await live.say(OFFICER_ID, text)
    await live.tap(OFFICER_ID, "mb:skip")
    await live.tap(OFFICER_ID, "mb:today")  # the card: every field answered once
    await in_thread(lambda: _member_answer(live))


# --- /report's typed answers ----------------------------------------------------------------


@examples(60)
@example(field="difficulties", text="<b>困难</b>&<blockquote>x")
@example(field="difficulties", text="😀" * 4001)
@example(field="difficulties", text="建会进度慢，还差10家")  # once taken for a /status question
@given(field=st.sampled_from([f.value for f in report_fields(ReportKind.MONTHLY)]), text=answers)
def _report_answer(live: Live, field: str, text: str) -> None:
    live.tap_now(OFFICER_ID, f"rp:go:{field}")
    replies, before, after = live.say_writing_nothing(OFFICER_ID, text)
    if text.startswith("/"):
        return  # a command, as the fake API marks it, not an answer
    if starts_with_any(replies, ["report.problem.empty", "report.problem.too_long"]):
        assert after.drafts == before.drafts, (field, text)
        return
    draft = after.drafts[(OFFICER_ID, "report")]
    assert draft["step"] is None and draft["answers"][field] == text.strip()
    assert first_line(text, 300) in "\n".join(replies)  # on the card, shown literally


async def test_any_answer_to_report(quick_bot: Harness) -> None:
    live = Live(quick_bot, asyncio.get_running_loop())
    calls = await live.say(OFFICER_ID, "/report")
    if any("rp:k:m" in json.dumps(c.params) for c in calls):
        await live.tap(OFFICER_ID, "rp:k:m")  # the quarter is due too: the month's first
    await in_thread(lambda: _report_answer(live))


# --- the /welcome text ----------------------------------------------------------------------

WELCOME_REFUSALS = [f"welcome.problem.{p}" for p in ("empty", "too_long", "placeholder", "braces")]
templates = answers | st.builds(
    lambda a, b, c: f"{a}{{name}}{b}{{union}}{c}", pieces(4), pieces(4), pieces(4)
)


@examples(60)
@example(text="<b>欢迎</b>{name} & {union} <3 祝好", save=True)
@example(text="{name!r}{union.x}", save=False)
@given(text=templates, save=st.booleans())
def _welcome_text(live: Live, text: str, save: bool) -> None:
    live.tap_now(ADMIN_ID, "wl:edit")
    replies, before, after = live.say_writing_nothing(ADMIN_ID, text)
    if text.startswith("/"):
        return
    if starts_with_any(replies, WELCOME_REFUSALS):
        assert after.drafts == before.drafts, text
        return
    draft = after.drafts[(ADMIN_ID, "welcome")]
    assert (draft["step"], draft["text"]) == ("confirm", text.strip())
    assert text.strip() in replies[0]  # the preview quotes it literally
    if not save:
        return
    live.tap_now(ADMIN_ID, "wl:save")
    saved = live.snapshot()
    audit = after.counts["auditentry"]
    assert after.business_changes(saved) in (
        {"auditentry": (audit, audit + 1)},
        {"auditentry": (audit, audit + 1), "welcometemplate": (0, 1)},
    )
    [row] = live.run(lambda: rows(live.bot, WelcomeTemplate))
    assert row.text == stored(text.strip())


async def rows(bot: Harness, model: type[T], *where: Any) -> list[T]:
    async with bot.app.bot_data.db.session() as session:
        return list((await session.exec(select(model).where(*where))).all())


async def test_any_welcome_text(quick_bot: Harness) -> None:
    live = Live(quick_bot, asyncio.get_running_loop())
    await live.say(ADMIN_ID, "/welcome")
    await in_thread(lambda: _welcome_text(live))


# --- a worker's answers to /join ------------------------------------------------------------


async def street_id(bot: Harness, name: str = OFFICER_STREET) -> int:
    [found] = await rows(bot, Street, Street.name == name)
    assert found.id is not None
    return found.id


@examples(60)
@example(field="name", text="<b>李</b>&四")
@example(field="unit", text="<i>北京</i>&公司 '; DROP TABLE unit; --")
@example(field="unit", text="祥茂教育")  # units of the street match: a button per unit
@given(field=st.sampled_from(["name", "unit"]), text=answers)
def _join_answer(live: Live, field: str, text: str, street: int) -> None:
    live.tap_now(STRANGER_ID, "jn:cancel")  # the last example's application, if any
    live.say_now(STRANGER_ID, "/join")
    live.tap_now(STRANGER_ID, "jn:ok:")
    live.run(lambda: live.share_contact(STRANGER_ID, "+8613812345678"))
    if field == "unit":
        live.say_now(STRANGER_ID, "张三")
        live.tap_now(STRANGER_ID, f"jn:st:{street}")
    # Nothing is stored before Submit.
    replies, before, after = live.say_writing_nothing(STRANGER_ID, text)
    if text.startswith("/"):
        return
    if starts_with_any(replies, ["join.too_long", "join.empty"]):
        assert after.drafts == before.drafts, (field, text)
        return
    draft, typed = after.drafts[(STRANGER_ID, "join")], text.strip()
    if field == "name":
        assert (draft["name"], draft["step"]) == (typed, "street")
        return
    assert draft["unit_name"] == typed and draft["step"] in ("unit_pick", "confirm")
    if draft["step"] == "confirm":
        assert typed in replies[-1] and "张三" in replies[-1]  # the summary, literally
    else:
        labels = [b["text"] for row in live.last[STRANGER_ID]["reply_markup"]["inline_keyboard"]
                  for b in row]  # fmt: skip
        short = typed if len(typed) <= 40 else typed[:39] + "…"
        assert seen("join.keep_unit", unit=short) in labels


async def test_any_answer_to_join(quick_bot: Harness) -> None:
    live = Live(quick_bot, asyncio.get_running_loop())
    await live.say(STRANGER_ID, "/join")
    street = await street_id(quick_bot)
    await in_thread(lambda: _join_answer(live, street=street))


# --- every command, with any arguments, from anyone -----------------------------------------

COMMANDS = ["start", "help", "lang", "status", "unit", "visit", "compare", "export", "optout",
            "meeting", "member", "report", "welcome", "mine", "guide", "reminders", "health",
            "outbox", "bind", "invite", "joinqr", "join", "stop", "cancel"]  # fmt: skip
arguments = st.one_of(answers, st.just(""), st.sampled_from(
    ["拱辰", "拱辰街道", "良乡镇", "join-abc", "join-" + "x" * 40, "meeting", "x" * 64,
     "13812345678", "+86 139-1234-5678", "2018-Q1", "祥茂"]))  # fmt: skip


def joined_args(argument: str) -> str:
    """What a handler makes of the arguments: PTB splits the text on whitespace."""
    return " ".join(argument.split())


@examples(100)
@example(user_id=OFFICER_ID, command="unit", to="", argument="<b>无此</b>&单位")
@example(user_id=ADMIN_ID, command="status", to="", argument="<i>x</i>&y @someone")
@example(user_id=ADMIN_ID, command="compare", to="", argument="<i>x</i>&y")
@example(user_id=OFFICER_ID, command="visit", to="", argument="'; DROP TABLE unit; --")
@example(user_id=ADMIN_ID, command="optout", to="", argument="138٠٠١٣٨٠٠٠")
@example(user_id=STRANGER_ID, command="start", to="", argument="<b>邀请码</b>")
@given(user_id=st.sampled_from([OFFICER_ID, ADMIN_ID, STRANGER_ID]),
       command=st.sampled_from(COMMANDS), to=st.sampled_from(["", f"@{BOT_NAME}", "@otherbot"]),
       argument=arguments)  # fmt: skip
def _command(live: Live, user_id: int, command: str, to: str, argument: str) -> None:
    before = live.snapshot()
    replies = live.say_now(user_id, f"/{command}{to} {argument}")
    after = live.snapshot()
    changes = before.business_changes(after)
    typed = joined_args(argument)
    if command == "optout" and user_id == ADMIN_ID and to != "@otherbot" and changes:
        # An opt-out recorded: only for a number the admin typed, and with its audit row.
        assert normalise_mobile(typed[:32]) is not None and "auditentry" in changes
    else:
        assert changes == {}, (command, argument, replies)
    if user_id == STRANGER_ID and command not in ("join", "stop"):
        assert after.drafts == before.drafts
    for reply in replies:  # what the user typed, when it is shown, is shown as typed
        if command in ("unit", "visit") and reply.startswith(opening("unit.not_found")):
            assert reply == seen("unit.not_found", query=esc(typed.strip()[:50]))
        if command in ("status", "compare") and reply.startswith(opening("status.street_unknown")):
            named = re.sub(r"@\w+", "", typed).strip() if command == "status" else typed
            assert reply == seen("status.street_unknown", name=esc(named.strip()[:40]))


async def test_any_command_arguments(quick_bot: Harness) -> None:
    live = Live(quick_bot, asyncio.get_running_loop())
    await in_thread(lambda: _command(live))


# --- group chats ----------------------------------------------------------------------------

BOUND_GROUP, UNBOUND_GROUP = -100_500, -100_600
chatter = st.one_of(
    answers,
    answers.map(lambda text: f"{text} @{BOT_NAME}"),
    st.sampled_from(["进度", "还剩多少", "还差几家"]).map(lambda q: f"@{BOT_NAME} {q}"),
    st.builds(lambda c, a: f"/{c} {a}", st.sampled_from(COMMANDS), arguments),
)


@examples(80)
@example(group=BOUND_GROUP, user_id=OFFICER_ID, text=f"<b>进度</b> @{BOT_NAME}")
@example(group=UNBOUND_GROUP, user_id=STRANGER_ID, text="今天开了职工沟通会 45人")
@given(group=st.sampled_from([BOUND_GROUP, UNBOUND_GROUP]),
       user_id=st.sampled_from([OFFICER_ID, ADMIN_ID, STRANGER_ID]), text=chatter)  # fmt: skip
def _group_message(live: Live, group: int, user_id: int, text: str) -> None:
    chat = live.bot.api.group_chat(group)
    replies, before, after = live.say_writing_nothing(user_id, text, chat)
    if text.startswith("/"):
        return
    # Groups are people talking: the bot speaks only when an officer asks it something.
    asked = is_status_question(text) and f"@{BOT_NAME}" in text.lower()
    assert after.drafts == before.drafts
    if not (asked and user_id != STRANGER_ID):
        assert replies == [], (text, replies)


async def test_any_group_message(quick_bot: Harness) -> None:
    live = Live(quick_bot, asyncio.get_running_loop())
    group = quick_bot.api.group_chat(BOUND_GROUP)
    await live.say(ADMIN_ID, "/bind", group)
    await live.tap(ADMIN_ID, f"bind:s:{await street_id(quick_bot)}", BOUND_GROUP)
    await in_thread(lambda: _group_message(live))


# --- a unit visit's typed answers, and a unit added in the field -----------------------------

visit_dates = st.one_of(answers, st.sampled_from(["3月20日", "2018-04-01", "3.16", "３月２０日",
                                                  "2月29日", "2019-03-16", "昨天"]))  # fmt: skip


@examples(50)
@example(summary="<b>同意</b>筹建 & 签约", next_step="<i>下周</i>再访", on="3月20日")
@example(summary="\x00", next_step="'; DROP TABLE visit; --", on="2018-04-01")
@given(summary=answers, next_step=answers, on=visit_dates)
def _visit_answers(live: Live, summary: str, next_step: str, on: str, unit: Unit) -> None:
    live.say_now(OFFICER_ID, "/cancel")
    live.say_now(OFFICER_ID, f"/visit {unit.credit_code}")
    live.tap_now(OFFICER_ID, f"vs:u:{unit.id}")
    live.tap_now(OFFICER_ID, "vs:p:visit")
    start = live.snapshot()
    for typed, refusals in ((summary, ["flow.too_long"]), (next_step, ["flow.too_long"]),
                            (on, ["visit.bad_date"])):  # fmt: skip
        replies, before, after = live.say_writing_nothing(OFFICER_ID, typed)
        if typed.startswith("/") or starts_with_any(replies, refusals):
            assert typed.startswith("/") or after.drafts == before.drafts, (typed, replies)
            return
    replies = live.tap_now(OFFICER_ID, "vs:skip:evidence")
    saved = live.snapshot()
    changes = start.business_changes(saved)
    assert set(changes) == {"visit", "auditentry"}, changes
    visits = live.run(lambda: rows(live.bot, Visit, Visit.unit_id == unit.id))
    newest = max(visits, key=lambda v: v.id or 0)
    assert (newest.summary, newest.next_step) == (
        stored(summary.strip()),
        stored(next_step.strip()) or None,
    )
    assert replies[0] == seen("visit.saved", name=esc(unit.name))


async def test_any_answer_to_visit(quick_bot: Harness) -> None:
    live = Live(quick_bot, asyncio.get_running_loop())
    [unit, *_] = await rows(quick_bot, Unit, Unit.street_id == await street_id(quick_bot))
    await in_thread(lambda: _visit_answers(live, unit=unit))


valid_codes = st.text(alphabet=CHARSET, min_size=17, max_size=17).map(
    lambda body: body + credit_code_check_char(body)
)


@examples(50)
@example(name="<b>新</b>&公司", code="91110111MA01234567", headcount="120")
@example(name="\u202e司公", code="", headcount="፩")
@given(name=answers, code=valid_codes | answers, headcount=st.sampled_from(["120", "8", "0"])
       | answers)  # fmt: skip
def _new_unit(live: Live, name: str, code: str, headcount: str) -> None:
    live.say_now(OFFICER_ID, "/cancel")
    live.say_now(OFFICER_ID, "/visit 这家单位哪个名单上都没有")
    live.tap_now(OFFICER_ID, "vs:new")
    start = live.snapshot()
    if any(live.say_now(OFFICER_ID, typed) == [] for typed in (name, code)):
        return
    replies = live.say_now(OFFICER_ID, headcount)
    changes = start.business_changes(live.snapshot())
    if not starts_with_any(replies, ["visit.unit_added"]):
        assert changes == {}, (name, code, headcount, replies)
        return
    assert {"unit", "auditentry"} <= set(changes) <= {"unit", "auditentry", "ledgerentry",
                                                      "ledgerstagechange"}  # fmt: skip
    assert replies[0] == seen("visit.unit_added", name=esc(name.strip()[:128].strip()))


async def test_any_unit_added_in_the_field(quick_bot: Harness) -> None:
    live = Live(quick_bot, asyncio.get_running_loop())
    await in_thread(lambda: _new_unit(live))


# --- the reason a ledger entry closes -------------------------------------------------------


@examples(60)
@example(text="<b>拒绝</b>&法人'; DROP TABLE ledgerentry; --")
@example(text=" \u3000 ")
@given(text=answers)
def _close_reason(live: Live, text: str, open_units: list[int]) -> None:
    unit_id = open_units.pop()
    live.tap_now(ADMIN_ID, f"uo:{unit_id}:obstructed")
    before = live.snapshot()
    replies = live.say_now(ADMIN_ID, text)
    after = live.snapshot()
    changes = before.business_changes(after)
    if text.startswith("/") or starts_with_any(replies, ["refusal.reason_required"]):
        assert changes == {}, (text, replies)
        live.say_now(ADMIN_ID, "/cancel")
        return
    audit, steps = before.counts["auditentry"], before.counts["ledgerstagechange"]
    assert changes == {"auditentry": (audit, audit + 1),
                       "ledgerstagechange": (steps, steps + 1)}, (text, replies)  # fmt: skip
    [entry] = live.run(lambda: rows(live.bot, LedgerEntry, LedgerEntry.unit_id == unit_id))
    assert entry.outcome == LedgerOutcome.OBSTRUCTED
    assert entry.outcome_reason == stored(text.strip()[:500])


async def test_any_reason_for_closing_a_ledger_entry(quick_bot: Harness) -> None:
    # The admin's: every street's open entries, one for each example (and for shrinking).
    live = Live(quick_bot, asyncio.get_running_loop())
    entries = await rows(quick_bot, LedgerEntry, col(LedgerEntry.outcome) == LedgerOutcome.OPEN)
    assert len(entries) > 200
    await live.say(ADMIN_ID, "/help")
    await in_thread(lambda: _close_reason(live, open_units=[e.unit_id for e in entries]))


# --- people's names, as Telegram gives them ----------------------------------------------

# Telegram's own limits: a first name of 1 to 64 characters, a last name of up to 64.
first_names = st.one_of(answers, pieces(4)).map(lambda n: n[:64]).filter(bool)
last_names = st.none() | st.one_of(answers, pieces(4)).map(lambda n: n[:64])
new_officers = iter(range(60_000, 70_000))


@examples(50)
@example(first="<b>王</b>&", last="x" * 64)
@example(first="五" * 64, last="六" * 64)  # 129 characters with the space between
@example(first="\x00<i>", last=None)
@given(first=first_names, last=last_names)
def _officer_name(live: Live, first: str, last: str | None, street: int) -> None:
    live.say_now(ADMIN_ID, "/invite")
    live.tap_now(ADMIN_ID, "inv:role:so")
    [created] = live.tap_now(ADMIN_ID, f"inv:st:so:{street}")
    found = re.search(r"start=([A-Za-z0-9_-]+)", created)
    assert found is not None, created
    user_id = next(new_officers)
    user = {**live.bot.api.user(user_id, first), **({"last_name": last} if last else {})}
    full = f"{first} {last}" if last else first
    before = live.snapshot()
    [redeemed] = live.say_now(user_id, f"/start {found[1]}", user=user)
    changes = before.business_changes(live.snapshot())
    assert set(changes) <= {"officer", "auditentry"} and "officer" in changes, changes
    assert redeemed.startswith(opening("invite.redeemed")) and full in redeemed
    [greeting] = live.say_now(user_id, "/start", user=user)
    assert greeting.startswith(opening("start.welcome")) and full in greeting


async def test_any_officer_name(quick_bot: Harness) -> None:
    live = Live(quick_bot, asyncio.get_running_loop())
    street = await street_id(quick_bot)
    await in_thread(lambda: _officer_name(live, street=street))


# --- text that travels: a worker's name and the admin's welcome, sent on by the outbox --------


async def test_a_welcome_over_telegram_shows_the_name_and_the_text_as_typed(
    quick_bot: Harness,
) -> None:
    # The welcome text is the admin's, the name the worker's own: both reach Telegram inside
    # an HTML message, long after they were typed, and must arrive as typed.
    live = Live(quick_bot, asyncio.get_running_loop())
    template = "<b>欢迎</b>{name}加入{union} <3 & 祝好"
    await live.say(ADMIN_ID, "/welcome")
    await live.tap(ADMIN_ID, "wl:edit")
    await live.say(ADMIN_ID, template)
    await live.tap(ADMIN_ID, "wl:save")
    name = "<i>李</i>&四"
    await live.say(STRANGER_ID, "/join")
    await live.tap(STRANGER_ID, "jn:ok:")
    await live.share_contact(STRANGER_ID, "+8613812345678")
    await live.say(STRANGER_ID, name)
    await live.tap(STRANGER_ID, f"jn:st:{await street_id(quick_bot)}")
    await live.say(STRANGER_ID, "一家没有登记的公司")
    await live.tap(STRANGER_ID, "jn:submit")
    notices = await drain_outbox(live)
    [notice] = [m for m in shown(notices) if m["chat"]["id"] == OFFICER_ID]
    assert name in notice["text"]
    live.last[OFFICER_ID] = notice
    await live.tap(OFFICER_ID, notice["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
    sent = await drain_outbox(live)
    to_worker = [m["text"] for m in shown(sent) if m["chat"]["id"] == STRANGER_ID]
    welcome = template.format(name=name, union=f"{OFFICER_STREET}总工会")
    assert to_worker[-1] == welcome


async def drain_outbox(live: Live) -> list[ApiCall]:
    """Send what the outbox holds, as the reminder job would; the calls, checked."""
    bot, mark = live.bot, len(live.bot.api.calls)
    data = bot.app.bot_data
    await drain(bot=bot.app.bot, db=data.db, now=data.clock.now, worker="test")
    calls = bot.api.since(mark)
    assert_accepted(calls, bot.api.messages)
    return calls


async def test_an_answer_after_a_field_button_from_before_a_restart(quick_bot: Harness) -> None:
    # Change → a field → a typed answer shows the card; after a restart the card has gaps,
    # and a field button from the old card must not lead to a card that cannot be drawn.
    live = Live(quick_bot, asyncio.get_running_loop())
    for text in ("/member", "张三", "13912345678"):
        await live.say(OFFICER_ID, text)
    await live.tap(OFFICER_ID, "mb:skip")
    await live.tap(OFFICER_ID, "mb:today")
    await live.tap(OFFICER_ID, "mb:edit")
    old_menu = live.last[OFFICER_ID]
    await live.say(OFFICER_ID, "/member")
    await live.tap(OFFICER_ID, "mb:restart")
    live.last[OFFICER_ID] = old_menu
    assert alerts(await live.tap(OFFICER_ID, "mb:back")) == [seen("button.stale")]
    before = await snapshot(quick_bot)
    calls = await live.tap(OFFICER_ID, "mb:goto:mobile")
    replies = seen_texts(await live.say(OFFICER_ID, "13912345678"))
    after = await snapshot(quick_bot)
    assert before.business_changes(after) == {}
    # The change is taken, and the questions the restart left open are asked in turn.
    assert alerts(calls) == [] and replies == [seen("member.ask.unit")]
