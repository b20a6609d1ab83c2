"""The bot keeps working when Telegram, the SMS gateway or the disk fail: on the demo district,
through the fake Bot API's random faults (429, 5xx, timeouts, dropped connections) and the
local SMS gateway's.

What the bot guarantees, and these tests hold it to:
- a user's write is committed before the bot answers: a reply Telegram loses never undoes it
  nor writes it twice, and the user is warned to check before doing it again;
- the outbox delivers every row at least once: a row is marked sent only after Telegram (or
  the gateway) said so, and retried otherwise; a message is delivered twice only when a
  timeout hid that it had been delivered (Telegram has no idempotency key to prevent it);
- evidence the server cannot store (a full disk) leaves the record saved, the user told and
  the admins alerted; no half-written file is left behind.
"""

from __future__ import annotations

import errno
import logging
import pathlib
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select
from telegram import Bot
from telegram.error import NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from bot.fake_api import JSON, FakeBotApi, visible
from bot.harness import Harness, alerts, shown, texts
from models.chats import Scope, bind_chat
from models.enums import Language, OutboxChannel, OutboxStatus
from models.geography import street_ids
from models.members import Duplicate, MemberSource, NewMember, register_member
from models.tables import Attachment, LedgerEntry, LedgerStageChange, Meeting, OutboxMessage, Unit
from reminders.sender import drain
from reminders.sms import HttpSmsGateway
from reminders.sms_sender import SmsChannel, drain_sms
from reminders.tick import run_tick
from tests import sms_server
from tests.botapi_server import serve
from tests.conftest import ADMIN_ID, OFFICER_ID, OFFICER_STREET, make_settings, seen

CST = ZoneInfo("Asia/Shanghai")
HEADS_UP_DAY = datetime(2018, 3, 15, 9, tzinfo=CST)  # the monthly and quarterly heads-ups
TRANSIENT = (NetworkError, RetryAfter)  # TimedOut is a NetworkError
TELEGRAM_FAULT = seen("faults.telegram")


@pytest.fixture
async def bot(demo_database_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    """The demo district's bot, its errors handled as in production (not raised)."""
    settings = make_settings(tmp_path, database_url=demo_database_url)
    async with Harness.running(settings, raise_errors=False) as harness:
        yield harness


def only_transient(h: Harness) -> None:
    """What went wrong was Telegram's, never a crash of the bot's own."""
    assert all(isinstance(e, TRANSIENT) for e in h.errors), h.errors


async def meetings(h: Harness) -> list[Meeting]:
    async with h.app.bot_data.db.session() as session:
        return list((await session.exec(select(Meeting).order_by(col(Meeting.id)))).all())


async def outbox(h: Harness, channel: OutboxChannel) -> list[OutboxMessage]:
    async with h.app.bot_data.db.session() as session:
        rows = await session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.channel == channel)
            .order_by(col(OutboxMessage.id))
        )
        return list(rows.all())


# --- replies Telegram loses -----------------------------------------------------------------


async def test_a_lost_confirmation_leaves_the_meeting_saved_once(
    bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    officer = bot.api.user(OFFICER_ID)
    [card] = shown(await bot.send(officer, "今天在拱辰街道开了职工沟通会，45人参加，新入会12人"))
    # Every answer to a button press is lost on the way: the connection drops.
    bot.api.inject_faults(1.0, ("drop",), methods=frozenset({"answerCallbackQuery"}))
    with caplog.at_level(logging.WARNING, logger="unionbot"):
        calls = await bot.press(officer, card, "💾 保存")
    # The user is not told it failed, nor to try again: told to check first.
    assert texts(calls) == [TELEGRAM_FAULT]
    assert seen("meeting.saved", kind="职工沟通会", street=OFFICER_STREET, held=1,
                target=12) not in texts(calls)  # fmt: skip
    [saved] = await meetings(bot)
    assert (saved.attendees, saved.new_members) == (45, 12)
    assert [type(e) for e in bot.errors] == [NetworkError]
    assert any("Telegram failed during update" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

    # Telegram is back. Pressing 保存 again saves nothing twice; the bot serves on.
    bot.api.inject_faults(0)
    assert alerts(await bot.press(officer, card, "💾 保存")) == [seen("button.stale")]
    assert len(await meetings(bot)) == 1
    [status] = texts(await bot.send(officer, "/status"))
    assert "职工沟通会：已开 1 / 12 场" in status
    # Telegram's hiccup is nothing the admins can act on: no alert queued for them.
    assert await outbox(bot, OutboxChannel.TELEGRAM) == []


async def test_a_lost_card_edit_leaves_the_unit_moved_once(bot: Harness) -> None:
    officer = bot.api.user(OFFICER_ID)
    unit = await largest_open_unit(bot)
    before = await steps(bot, unit)
    [card] = shown(await bot.send(officer, f"/unit {unit.credit_code}"))
    stale = dict(card)  # the card as it was, before its edit
    # The card's edit times out after Telegram made it: the officer sees the card moved on,
    # and a warning; the database has one step.
    bot.api.inject_faults(1.0, ("timeout",), timeout_delivers=1.0,
                          methods=frozenset({"editMessageText"}))  # fmt: skip
    calls = await bot.press(officer, card, seen("unit.advance", stage="已发组建函"))
    assert [type(e) for e in bot.errors] == [TimedOut]
    assert alerts(calls) == [seen("unit.advanced", stage="已发组建函")]
    [edited, warning] = shown(calls)
    assert "已发组建函" in visible(edited["text"]) and visible(warning["text"]) == TELEGRAM_FAULT
    bot.api.inject_faults(0)
    # The officer presses the old card's button again: refused, nothing moves twice.
    calls = await bot.press(officer, stale, seen("unit.advance", stage="已发组建函"))
    assert alerts(calls) and seen("unit.advanced", stage="已发组建函") not in alerts(calls)
    assert await steps(bot, unit) == [*before, "letter_issued"]


async def largest_open_unit(h: Harness) -> Unit:
    async with h.app.bot_data.db.session() as session:
        street = (await street_ids(session=session))[OFFICER_STREET]
        found = await session.exec(
            select(Unit)
            .where(Unit.street_id == street, Unit.on_detail_table)
            .order_by(col(Unit.tax_headcount).desc())
        )
        return found.first()  # type: ignore[return-value]


async def steps(h: Harness, unit: Unit) -> list[str]:
    async with h.app.bot_data.db.session() as session:
        found = await session.exec(
            select(LedgerStageChange.to_stage)
            .join(LedgerEntry, col(LedgerEntry.id) == LedgerStageChange.entry_id)
            .where(LedgerEntry.unit_id == unit.id)
            .order_by(col(LedgerStageChange.id))
        )
        return [str(stage) for stage in found.all()]


async def test_random_faults_never_lose_nor_double_a_meeting(bot: Harness) -> None:
    """Ten officers' saves while a third of Telegram's answers fail at random. The officer
    does what people do: sends the message again when no card came, presses 保存 again when
    no answer came, until told it is saved or that the card is spent."""
    officer = bot.api.user(OFFICER_ID)
    bot.api.inject_faults(0.35, ("5xx", "timeout", "drop"), seed=11)
    told_saved: list[int] = []
    for attendees in range(20, 30):
        card = await card_for(bot, officer, f"3月5日 企业沟通会 {attendees}人")
        for _ in range(20):
            calls = await bot.press(officer, card, "💾 保存")
            if any(t.startswith("✅ 已保存：企业沟通会") for t in texts(calls)):
                told_saved.append(attendees)
                break
            if alerts(calls) == [seen("button.stale")]:
                break  # saved by an earlier press whose answer was lost
        else:
            raise AssertionError(f"the save of {attendees} never got an answer")
    assert sorted(m.attendees for m in await meetings(bot)) == list(range(20, 30))
    assert told_saved, "some confirmations got through"
    kinds = {kind for _, kind in bot.api.faults_met}
    assert "drop" in kinds and kinds & {"timeout-lost", "timeout-delivered"}
    assert kinds & {"500", "502", "503"}
    only_transient(bot)


async def card_for(h: Harness, officer: JSON, text: str) -> JSON:
    for _ in range(20):
        cards = [m for m in shown(await h.send(officer, text)) if "待确认" in m.get("text", "")]
        if cards:
            return cards[-1]
    raise AssertionError("no card ever came")


# --- the outbox ----------------------------------------------------------------------------


async def test_every_outbox_message_arrives_through_random_faults(bot: Harness) -> None:
    data = bot.app.bot_data
    async with data.db.session(write=True) as session:
        streets = list((await street_ids(session=session)).items())[:12]
        for n, (name, street_id) in enumerate(streets):
            await bind_chat(session=session, chat_id=-100_500 - n, scope=Scope(street_id, name),
                            by_user_id=ADMIN_ID, now=HEADS_UP_DAY)  # fmt: skip
    for n in range(10):  # members with Telegram: their welcome goes through the outbox
        await register(bot, f"会员{n}", f"1381234{n:04d}", telegram_user_id=880_000 + n)
    await run_tick(db=data.db, plan=data.plan, now=HEADS_UP_DAY, language=Language.ZH)
    rows = await outbox(bot, OutboxChannel.TELEGRAM)
    assert len(rows) >= 30

    bot.api.inject_faults(0.3, seed=5, timeout_delivers=0.5)
    for hour in range(30):
        when = HEADS_UP_DAY + timedelta(hours=hour)  # past any backoff
        await drain(bot=bot.app.bot, db=data.db, now=lambda: when, worker="test")  # noqa: B023
        pending = [r for r in await outbox(bot, OutboxChannel.TELEGRAM) if r.status is
                   OutboxStatus.PENDING]  # fmt: skip
        if not pending:
            break
    rows = await outbox(bot, OutboxChannel.TELEGRAM)
    assert {r.status for r in rows} == {OutboxStatus.SENT}
    # Each row reached its chat once, and once more for each timeout that hid a delivery.
    sends = [c for c in bot.api.calls if c.method == "sendMessage"]
    delivered = Counter((c.params["chat_id"], c.params["text"]) for c in sends if c.status == 200)
    hidden = Counter(
        (c.params["chat_id"], c.params["text"]) for c in sends if c.fault == "timeout-delivered"
    )
    for row in rows:
        key = (int(row.recipient), row.payload["text"])
        assert delivered[key] == 1 + hidden[key], row
    assert sum(delivered.values()) == len(rows) + sum(hidden.values())
    met = Counter(kind for method, kind in bot.api.faults_met if method == "sendMessage")
    assert set(met) >= {"429", "timeout-delivered", "timeout-lost", "drop"}, met
    assert met["500"] + met["502"] + met["503"] > 0 and sum(hidden.values()) > 0


async def register(h: Harness, name: str, mobile: str, telegram_user_id: int | None = None) -> None:
    data = h.app.bot_data
    async with data.db.session(write=True) as session:
        street = (await street_ids(session=session))[OFFICER_STREET]
        new = NewMember(name=name, mobile=mobile, street_id=street, joined_on=date(2018, 3, 15),
                        telegram_user_id=telegram_user_id)  # fmt: skip
        member = await register_member(session=session, member=new, source=MemberSource.OFFICER,
                                       by_user_id=OFFICER_ID, now=HEADS_UP_DAY,
                                       plan=data.plan)  # fmt: skip
    assert not isinstance(member, Duplicate)


# --- SMS -------------------------------------------------------------------------------------


@pytest.fixture
def gateway() -> Iterator[sms_server.Gateway]:
    with sms_server.serve_generic() as gw:
        yield gw


async def test_every_sms_arrives_through_random_gateway_faults(
    bot: Harness, gateway: sms_server.Gateway
) -> None:
    mobiles = [f"1391234{n:04d}" for n in range(30)]
    for n, mobile in enumerate(mobiles):
        await register(bot, f"短信会员{n}", mobile)
    gateway.inject_faults(0.4, seed=3, timeout_delivers=0.5)
    client = HttpSmsGateway(url=gateway.url, auth_header=f"Authorization: {sms_server.TOKEN}",
                            timeout=0.3)  # fmt: skip
    channel = SmsChannel(client, 200.0)
    data = bot.app.bot_data
    try:
        for hour in range(30):
            when = HEADS_UP_DAY + timedelta(hours=hour)
            await drain_sms(channel=channel, db=data.db, now=lambda: when, worker="test",  # noqa: B023
                            admins=(ADMIN_ID,), language=Language.ZH)  # fmt: skip
            rows = await outbox(bot, OutboxChannel.SMS)
            if all(r.status is not OutboxStatus.PENDING for r in rows):
                break
    finally:
        await channel.aclose()
    rows = await outbox(bot, OutboxChannel.SMS)
    assert sorted(r.recipient for r in rows) == mobiles
    assert {r.status for r in rows} == {OutboxStatus.SENT}
    for row in rows:
        # Its own text; more than once only where a timeout hid the operator's acceptance.
        assert set(gateway.texts_to(row.recipient)) == {row.payload["text"]}
    met = Counter(gateway.faults_met)
    assert len(gateway.messages) == len(rows) + met["timeout-delivered"]
    assert set(met) >= {"429", "timeout-delivered", "timeout-lost", "drop"}, met
    # A 429 waits as asked and does not count as an attempt; the others count.
    assert max(r.attempts for r in rows) >= 1


# --- the disk ------------------------------------------------------------------------------


@pytest.fixture
def full_disk(bot: Harness, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The media folder's disk is full: a file can be created, but writing to it fails with
    ENOSPC, as the OS does (what PTB's download writes through: Path.write_bytes)."""
    media = bot.app.bot_data.settings.media_dir
    write_bytes = pathlib.Path.write_bytes

    def no_space(self: pathlib.Path, data: bytes) -> int:
        if not self.resolve().is_relative_to(media.resolve()):
            return write_bytes(self, data)
        self.touch()  # created, then the write fails: an empty file is left
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(pathlib.Path, "write_bytes", no_space)
    return media


async def test_a_full_disk_keeps_the_meeting_and_says_the_files_were_not_stored(
    bot: Harness, full_disk: Path
) -> None:
    officer = bot.api.user(OFFICER_ID)

    async def say(text: str) -> JSON:
        return shown(await bot.send(officer, text))[-1]

    async def press(message: JSON, label: str) -> JSON:
        return shown(await bot.press(officer, message, label))[-1]

    step = await press(await say("/meeting"), "职工沟通会")
    await say("3月5日")
    step = await press(await say("苏庄社区活动中心"), "社区")
    await say("45")
    step = await press(await say("12"), "跳过")
    assert visible(step["text"]) == seen("flow.ask.evidence")
    await bot.process(bot.api.file_update(user=officer, data=b"\xff\xd8\xff photo"))
    update = bot.api.file_update(user=officer, data=b"%PDF plan", kind="document")
    [step] = shown(await bot.process(update))
    summary = await press(step, "✅ 完成")

    calls = await bot.press(officer, summary, "💾 保存")
    # The meeting is saved (an officer wants it counted), and the officer is told plainly
    # that its files are not on the server.
    assert texts(calls) == [
        seen("meeting.saved", kind="职工沟通会", street=OFFICER_STREET, held=1, target=12),
        seen("faults.files_not_kept", count=2),
    ]
    [meeting] = await meetings(bot)
    async with bot.app.bot_data.db.session() as session:
        files = (await session.exec(select(Attachment))).all()
    assert [(a.meeting_id, a.local_path) for a in files] == [(meeting.id, None)] * 2
    assert all(a.telegram_file_id for a in files)  # still to be had from Telegram
    left = [p for p in full_disk.rglob("*") if p.is_file()]  # noqa: ASYNC240
    assert left == []  # nothing half-written
    assert bot.errors == []

    # The admins hear of it (once this hour), through the outbox.
    data = bot.app.bot_data
    mark = len(bot.api.calls)
    await drain(bot=bot.app.bot, db=data.db, now=data.clock.now, worker="test")
    [alert] = [c for c in bot.api.since(mark) if c.method == "sendMessage"]
    assert alert.params["chat_id"] == ADMIN_ID
    assert visible(alert.params["text"]) == seen(
        "faults.files_admin", problem="ENOSPC", count=2,
        folder=str(full_disk / "meetings" / str(meeting.id)),
    )  # fmt: skip
    [status] = texts(await bot.send(officer, "/status"))
    assert "职工沟通会：已开 1 / 12 场" in status


# --- the HTTP fake, as `unionbot run` meets it ------------------------------------------------


async def test_faults_travel_over_http_as_from_telegram() -> None:
    api, token = FakeBotApi(), "7000000001:http-faults"
    with serve(api, token) as base:
        bot = Bot(token, base_url=base, request=HTTPXRequest(read_timeout=0.5))
        async with bot:
            for kinds, error in ((("drop",), NetworkError), (("5xx",), NetworkError),
                                 (("429",), RetryAfter)):  # fmt: skip
                api.inject_faults(1.0, kinds)
                with pytest.raises(error) as raised:
                    await bot.send_message(chat_id=5, text="丢失")
                assert not isinstance(raised.value, TimedOut)
            assert [m["text"] for m in api.messages.values()] == []
            api.inject_faults(1.0, ("timeout",), timeout_delivers=1.0)
            with pytest.raises(TimedOut):
                await bot.send_message(chat_id=5, text="已送达")
            api.inject_faults(1.0, ("timeout",), timeout_delivers=0.0)
            with pytest.raises(TimedOut):
                await bot.send_message(chat_id=5, text="未送达")
            api.inject_faults(0)
            await bot.send_message(chat_id=5, text="恢复")
    # A timeout may hide a delivery; a drop never delivers.
    assert [m["text"] for m in api.messages.values()] == ["已送达", "恢复"]
    assert api.faults_met[0] == ("sendMessage", "drop")
