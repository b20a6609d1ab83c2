"""Reminders through the real bot on the demo district, with an explicit clock: what each
chat receives, once, and what snoozing, muting, pausing and downtime change."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from bot.clock import Clock
from bot.console import DEMO_USERS, Console
from bot.fake_api import JSON, ApiCall, visible
from bot.harness import Harness, alerts, shown
from models.chats import Scope, bind_chat
from models.enums import Language, OutboxStatus, ReportKind
from models.tables import OutboxMessage, ReportSubmission
from reminders.sender import drain
from reminders.tick import run_tick
from tests.conftest import (
    ADMIN_ID,
    OFFICER_ID,
    OFFICER_STREET,
    OTHER_OFFICER_ID,
    make_settings,
    seen,
)

CST = ZoneInfo("Asia/Shanghai")
GROUP = -100777  # bound to the officer's street


def at(m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2018, m, d, hh, mm, tzinfo=CST)


async def tick(h: Harness, when: datetime) -> list[ApiCall]:
    """One reminder tick and one run of the outbox sender, both at `when`; the bot's clock
    moves there too (buttons pressed afterwards see that time)."""
    mark = len(h.api.calls)
    data = h.app.bot_data
    data.clock = Clock(CST, when)
    await run_tick(db=data.db, plan=data.plan, now=when, language=Language.ZH)
    await drain(bot=h.app.bot, db=data.db, now=lambda: when, worker="test")
    return h.api.since(mark)


def sent_to(calls: list[ApiCall], chat_id: int) -> list[str]:
    return [
        str(c.result["text"])
        for c in calls
        if c.method == "sendMessage" and c.status == 200 and c.params["chat_id"] == chat_id
    ]


async def bind_group(h: Harness, street: str = OFFICER_STREET, chat_id: int = GROUP) -> None:
    async with h.app.bot_data.db.session(write=True) as session:
        street_id = await _street_id(h, street)
        await bind_chat(session=session, chat_id=chat_id, scope=Scope(street_id, street),
                        by_user_id=ADMIN_ID, now=at(3, 1, 9))  # fmt: skip


async def _street_id(h: Harness, name: str) -> int:
    from models.geography import street_ids

    async with h.app.bot_data.db.session() as session:
        return (await street_ids(session=session))[name]


async def submit(h: Harness, street: str, when: datetime, *periods: str) -> None:
    """The street's reports for these periods ("2018-03" monthly, "2018-Q1" quarterly)."""
    street_id = await _street_id(h, street)
    async with h.app.bot_data.db.session(write=True) as session:
        for period in periods:
            kind = ReportKind.QUARTERLY if "Q" in period else ReportKind.MONTHLY
            session.add(ReportSubmission(street_id=street_id, kind=kind, period=period,
                                         submitted_by=OFFICER_ID, submitted_at=when))  # fmt: skip


async def outbox(h: Harness) -> list[OutboxMessage]:
    async with h.app.bot_data.db.session() as session:
        return list(
            (await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()
        )


HEADS_UP = seen("remind.monthly.heads_up", street=OFFICER_STREET, period="2018-03", due="3月20日")
REMINDER = seen("remind.monthly.reminder", street=OFFICER_STREET, period="2018-03", due="3月20日")
# March closes a quarter: the quarterly report's reminders come the same days, separately.
Q_HEADS_UP = seen(
    "remind.quarterly.heads_up", street=OFFICER_STREET, period="2018-Q1", due="3月20日"
)
Q_REMINDER = seen(
    "remind.quarterly.reminder", street=OFFICER_STREET, period="2018-Q1", due="3月20日"
)


async def test_the_heads_up_reaches_the_group_and_the_officer_once(demo_bot: Harness) -> None:
    await bind_group(demo_bot)
    assert sent_to(await tick(demo_bot, at(3, 15, 8, 59)), GROUP) == []

    calls = await tick(demo_bot, at(3, 15, 9))
    assert [visible(t) for t in sent_to(calls, GROUP)] == [HEADS_UP, Q_HEADS_UP]
    assert [visible(t) for t in sent_to(calls, OFFICER_ID)] == [HEADS_UP, Q_HEADS_UP]
    assert sent_to(calls, OTHER_OFFICER_ID) != []  # 良乡镇 owes its report too
    assert sent_to(calls, ADMIN_ID) == []  # admins hear of late streets on the 20th

    # Later ticks, and a tick re-planning the same span after a restart, send nothing more.
    assert sent_to(await tick(demo_bot, at(3, 15, 9, 1)), GROUP) == []
    async with demo_bot.app.bot_data.db.session(write=True) as session:
        from models.tables import ReminderTick

        row = await session.get(ReminderTick, 1)
        assert row is not None
        row.at = at(3, 15, 8)  # as if the last tick had been before the reminders fell due
        session.add(row)
    assert sent_to(await tick(demo_bot, at(3, 15, 9, 2)), GROUP) == []
    rows = [r for r in await outbox(demo_bot) if r.recipient == str(GROUP)]
    assert [(r.kind, r.status) for r in rows] == [
        ("monthly.heads_up", OutboxStatus.SENT),
        ("quarterly.heads_up", OutboxStatus.SENT),
    ]


async def test_a_street_that_submits_on_the_16th_hears_no_more(demo_bot: Harness) -> None:
    await bind_group(demo_bot)
    await bind_group(demo_bot, "良乡镇", -100888)
    await tick(demo_bot, at(3, 15, 9))
    # The 18th is a Sunday: its reminder comes on Friday the 16th at 09:00, before 良乡镇
    # submits that afternoon.
    friday = await tick(demo_bot, at(3, 16, 9))
    assert [visible(t) for t in sent_to(friday, GROUP)] == [REMINDER, Q_REMINDER]
    assert len(sent_to(friday, -100888)) == 2
    await submit(demo_bot, "良乡镇", at(3, 16, 15), "2018-03", "2018-Q1")

    monday = await tick(demo_bot, at(3, 19, 9))
    assert [visible(t) for t in sent_to(monday, GROUP)] == [REMINDER, Q_REMINDER]
    assert sent_to(monday, -100888) == []
    assert sent_to(monday, OTHER_OFFICER_ID) == []

    tuesday = await tick(demo_bot, at(3, 20, 10))
    escalations = [visible(t) for t in sent_to(tuesday, ADMIN_ID)]
    assert [e.split("：")[0] for e in escalations] == ["🚨 2018-03 月报逾期", "🚨 2018-Q1 季报逾期"]
    for escalation in escalations:
        assert OFFICER_STREET in escalation and "良乡镇" not in escalation
        assert "27 个街乡未按时报送" in escalation
    assert sent_to(tuesday, GROUP) == []


async def test_muted_officers_get_no_private_copy_but_the_group_does(demo_bot: Harness) -> None:
    await bind_group(demo_bot)
    officer = demo_bot.api.user(OFFICER_ID)
    view = shown(await demo_bot.send(officer, "/reminders"))[-1]
    assert seen("reminders.unmuted") in visible(view["text"])
    assert seen("remind.rule.monthly_heads_up") in visible(view["text"])
    muted = shown(await demo_bot.press(officer, view, seen("reminders.mute")))[-1]
    assert seen("reminders.muted") in visible(muted["text"])

    calls = await tick(demo_bot, at(3, 15, 9))
    assert sent_to(calls, OFFICER_ID) == []
    assert len(sent_to(calls, GROUP)) == 2


async def test_snooze_an_hour_then_not_again_once_submitted(demo_bot: Harness) -> None:
    officer = demo_bot.api.user(OFFICER_ID)
    first = await tick(demo_bot, at(3, 15, 9))
    message = next(m for m in shown(first) if m["chat"]["id"] == OFFICER_ID)
    menu = shown(await demo_bot.press(officer, message, seen("remind.snooze")))[-1]
    calls = await demo_bot.press(officer, menu, seen("remind.snooze_hour"))
    assert alerts(calls) == [seen("remind.snoozed", when="3月15日 10:00")]

    assert sent_to(await tick(demo_bot, at(3, 15, 9, 59)), OFFICER_ID) == []
    calls = await tick(demo_bot, at(3, 15, 10, 1))
    assert [visible(t) for t in sent_to(calls, OFFICER_ID)] == [HEADS_UP]  # just the snoozed one

    # Snoozed again, till the next working morning; the report is in by then: nothing comes.
    message = next(m for m in shown(calls) if m["chat"]["id"] == OFFICER_ID)
    menu = shown(await demo_bot.press(officer, message, seen("remind.snooze")))[-1]
    calls = await demo_bot.press(officer, menu, seen("remind.snooze_morning"))
    assert alerts(calls) == [seen("remind.snoozed", when="3月16日 09:00")]
    await submit(demo_bot, OFFICER_STREET, at(3, 15, 17), "2018-03")
    friday = [visible(t) for t in sent_to(await tick(demo_bot, at(3, 16, 9, 5)), OFFICER_ID)]
    assert friday == [Q_REMINDER]  # the quarterly report is still owed; the monthly is in


async def test_another_street_cannot_snooze_a_reminder(demo_bot: Harness) -> None:
    await bind_group(demo_bot)
    calls = await tick(demo_bot, at(3, 15, 9))
    in_group = next(m for m in shown(calls) if m["chat"]["id"] == GROUP)
    stranger_officer = demo_bot.api.user(OTHER_OFFICER_ID)
    group = demo_bot.api.group_chat(GROUP)
    in_group["chat"] = group
    denied = await demo_bot.press(stranger_officer, in_group, seen("remind.snooze"))
    assert alerts(denied) == [seen("remind.snooze_denied")]
    forged: JSON = {**in_group, "chat": demo_bot.api.private_chat(stranger_officer)}
    denied = await demo_bot.process(
        demo_bot.api.callback_update(user=stranger_officer, message=forged, data="sz:1:h")
    )
    assert alerts(denied) == [seen("remind.snooze_denied")]


async def test_admin_pauses_a_rule_and_moves_another(demo_bot: Harness) -> None:
    admin = demo_bot.api.user(ADMIN_ID)
    view = shown(await demo_bot.send(admin, "/reminders"))[-1]
    label = seen("remind.rule.monthly_heads_up")
    view = shown(await demo_bot.press(admin, view, seen("reminders.pause", rule=label)))[-1]
    assert seen("reminders.rule_paused", rule=label, at="09:00") in visible(view["text"])
    assert [visible(t) for t in sent_to(await tick(demo_bot, at(3, 15, 9)), OFFICER_ID)] == [
        Q_HEADS_UP
    ]

    reminder = seen("remind.rule.monthly_reminder")
    menu_button = f"rm:t:{1}"
    menu = shown(await demo_bot.press(admin, view, menu_button))[-1]
    assert seen("reminders.choose_time", rule=reminder) == visible(menu["text"])
    view = shown(await demo_bot.press(admin, menu, "14:00"))[-1]
    assert seen("reminders.rule_line", rule=reminder, at="14:00") in visible(view["text"])
    morning = sent_to(await tick(demo_bot, at(3, 16, 9)), OFFICER_ID)
    assert [visible(t) for t in morning] == [Q_REMINDER]  # the quarterly rule was not moved
    afternoon = sent_to(await tick(demo_bot, at(3, 16, 14)), OFFICER_ID)
    assert [visible(t) for t in afternoon] == [REMINDER]

    officer = demo_bot.api.user(OFFICER_ID)
    refused = await demo_bot.process(
        demo_bot.api.callback_update(user=officer, message=view, data="rm:p:0")
    )
    assert alerts(refused) == [seen("access.admin_only")]


async def test_downtime_within_grace_sends_late_and_beyond_it_tells_the_admins(
    demo_bot: Harness,
) -> None:
    await tick(demo_bot, at(3, 14, 20))  # the bot was up on the evening of the 14th
    # Back at 20:59 on the 15th: the 09:00 heads-up is 12 h late, still within the grace.
    late = await tick(demo_bot, at(3, 15, 20, 59))
    assert [visible(t) for t in sent_to(late, OFFICER_ID)] == [HEADS_UP, Q_HEADS_UP]

    # Down again from the 16th at 08:00 to the 19th at 09:30: the 16th's reminder is too old.
    await tick(demo_bot, at(3, 16, 8))
    back = await tick(demo_bot, at(3, 19, 9, 30))
    officer = [visible(t) for t in sent_to(back, OFFICER_ID)]
    assert officer == [REMINDER, Q_REMINDER]  # only the 19th's
    # Monday: the weekly digest, and the notice of what was too late to send.
    digest, notice = (visible(t) for t in sent_to(back, ADMIN_ID))
    assert digest.startswith("📊 每周简报")
    assert notice.startswith("⚠️ 机器人停机期间有 4 条提醒已过补发时限")
    assert "3月16日 09:00 月报催报 → 干部20001" in notice
    assert "3月16日 09:00 季报催报 → 干部20002" in notice
    assert sent_to(await tick(demo_bot, at(3, 19, 9, 31)), ADMIN_ID) == []
    missed = [r for r in await outbox(demo_bot) if r.status is OutboxStatus.MISSED]
    assert missed and all(r.sent_at is None for r in missed)


@pytest.fixture
async def unlimited_bot(demo_template: Path, tmp_path: Path) -> AsyncIterator[Harness]:
    """The demo bot without PTB's rate limiter, so a 429 reaches the outbox's sender (with
    the limiter, PTB itself waits out retry_after and tries again)."""
    shutil.copy(demo_template, tmp_path / "unionbot.db")
    async with Harness.running(make_settings(tmp_path), rate_limit=False) as harness:
        yield harness


async def test_blocked_chats_are_not_retried_and_floods_are(unlimited_bot: Harness) -> None:
    h = unlimited_bot
    h.api.blocked.add(OTHER_OFFICER_ID)
    h.api.floods = 1  # the first send is refused with retry_after 3 s
    when = at(3, 15, 9)
    await tick(h, when)
    states = {r.recipient: (r.status, r.attempts) for r in await outbox(h)}
    assert states[str(OTHER_OFFICER_ID)] == (OutboxStatus.BLOCKED, 0)
    flooded = [r for r in await outbox(h) if r.last_error and "retry" in r.last_error.lower()]
    assert len(flooded) == 1
    assert flooded[0].status is OutboxStatus.PENDING
    assert flooded[0].not_before == (when + timedelta(seconds=3)).astimezone(UTC)

    data = h.app.bot_data
    later = when + timedelta(seconds=3)
    await drain(bot=h.app.bot, db=data.db, now=lambda: later, worker="test")
    states = {r.recipient: (r.status, r.attempts) for r in await outbox(h)}
    assert states[str(OTHER_OFFICER_ID)] == (OutboxStatus.BLOCKED, 0)
    others = [s for k, s in states.items() if k != str(OTHER_OFFICER_ID)]
    assert others and all(s == (OutboxStatus.SENT, 0) for s in others)
    assert sent_to(h.api.calls, OTHER_OFFICER_ID) == []


async def test_preview_agrees_with_what_the_bot_sends(demo_bot: Harness, tmp_path: Path) -> None:
    await bind_group(demo_bot)
    env = {**os.environ, "DATABASE_URL": demo_bot.app.bot_data.settings.database_url,
           "DEFAULT_LANGUAGE": "zh"}  # fmt: skip
    command = [sys.executable, "-m", "bot", "reminders", "preview", "--at", "2018-03-19T09:00",
               "--json"]  # fmt: skip
    run = partial(subprocess.run, capture_output=True, text=True, check=True)
    printed = (await asyncio.to_thread(run, command, env=env, cwd=tmp_path)).stdout
    previewed = {(r["chat_id"], r["text"]) for r in json.loads(printed)}
    rules = {r["rule"] for r in json.loads(printed)}
    assert rules == {"monthly.reminder", "quarterly.reminder", "digest"}

    calls = await tick(demo_bot, at(3, 19, 9))
    sent = {(c.params["chat_id"], c.params["text"]) for c in calls if c.method == "sendMessage"}
    assert sent == previewed


async def test_the_console_shows_a_reminder_that_came_meanwhile(demo_bot: Harness) -> None:
    lines: list[str] = []
    console = Console(demo_bot, DEMO_USERS["officer"], Language.ZH, write=lines.append)
    await tick(demo_bot, at(3, 15, 9))
    await console.handle("/help")
    shown_text = "\n".join(lines)
    assert shown_text.index(seen("console.unasked")) < shown_text.index("📝 拱辰街道")
    assert shown_text.index("📝 拱辰街道") < shown_text.index("工会助手 · ")
    lines.clear()
    await console.handle("/help")
    assert seen("console.unasked") not in "\n".join(lines)


async def test_a_telegram_5xx_is_retried_with_backoff(unlimited_bot: Harness) -> None:
    h = unlimited_bot
    h.api.bad_gateways = 1
    when = at(3, 15, 9)
    await tick(h, when)
    retried = [r for r in await outbox(h) if r.attempts]
    assert [(r.status, r.attempts) for r in retried] == [(OutboxStatus.PENDING, 1)]
    assert retried[0].not_before == (when + timedelta(seconds=5)).astimezone(UTC)  # first backoff
    data = h.app.bot_data
    later = when + timedelta(seconds=5)
    await drain(bot=h.app.bot, db=data.db, now=lambda: later, worker="test")
    assert {r.status for r in await outbox(h)} == {OutboxStatus.SENT}
