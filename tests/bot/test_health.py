"""/health: district admins see the database, the outbox's backlog by channel, what it gave
up on, the last reminder tick and whether it is late, and the instance; officers are refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path

import pytest

from bot.fake_api import ApiCall
from bot.harness import Harness, shown, texts
from bot.texts import t
from models.enums import OutboxChannel, OutboxStatus
from models.outbox import Outgoing, enqueue
from models.tables import ReminderTick
from tests.conftest import ADMIN_ID, OFFICER_ID, make_settings, seen


@pytest.fixture
async def ticking_bot(demo_database_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    """The demo district with REMINDER_TICK_SECONDS=60, its jobs taken off before they run:
    the test writes the last tick and the outbox rows itself."""
    settings = make_settings(tmp_path, database_url=demo_database_url, reminder_tick_seconds=60)
    async with Harness.running(settings) as harness:
        assert harness.app.job_queue is not None
        for job in harness.app.job_queue.jobs():
            job.schedule_removal()
        yield harness


async def fill(bot: Harness, *, tick_ago: timedelta | None) -> None:
    """Three Telegram messages due (the oldest 5 min 20 s ago), one not due yet, one blocked;
    two SMS given up as failed; the last reminder tick `tick_ago`."""
    data = bot.app.bot_data
    now = data.clock.now()

    def row(key: str, due: timedelta, channel: OutboxChannel = OutboxChannel.TELEGRAM,
            status: OutboxStatus = OutboxStatus.PENDING) -> Outgoing:  # fmt: skip
        return Outgoing(key=key, kind="test", recipient="30001", payload={"text": "hi"},
                        not_before=now - due, channel=channel, status=status)  # fmt: skip

    rows = [
        row("a", timedelta(minutes=5, seconds=20)),
        row("b", timedelta(minutes=1)),
        row("c", timedelta(0)),
        row("later", -timedelta(hours=1)),
        row("blocked", timedelta(hours=2), status=OutboxStatus.BLOCKED),
        row("sms1", timedelta(hours=1), OutboxChannel.SMS, OutboxStatus.FAILED),
        row("sms2", timedelta(hours=1), OutboxChannel.SMS, OutboxStatus.FAILED),
    ]
    async with data.db.session(write=True) as session:
        assert await enqueue(session=session, rows=rows, now=now) == len(rows)
        if tick_ago is not None:
            session.add(ReminderTick(id=1, at=now - tick_ago))


def lines_of(calls: list[ApiCall]) -> list[str]:
    [message] = texts(calls)
    return message.splitlines()


async def test_an_admin_sees_the_backlog_and_a_tick_on_time(ticking_bot: Harness) -> None:
    await fill(ticking_bot, tick_ago=timedelta(minutes=2, seconds=10))
    admin = ticking_bot.api.user(ADMIN_ID, "王老师")
    lines = lines_of(await ticking_bot.send(admin, "/health"))
    assert lines[0].startswith("🩺 运行状况（3月15日 08:0")
    assert lines[1].startswith("数据库：✅ 正常，响应 ")
    assert lines[2] == seen(
        "health.backlog", channel="Telegram", due="3",
        oldest=t("health.oldest", "zh", age="5 分钟"), failed="0", blocked="1",
    )  # fmt: skip
    assert lines[3] == seen("health.backlog", channel="短信", due="0", oldest="", failed="2",
                            blocked="0")  # fmt: skip
    assert lines[4].startswith("提醒排程：上次 3月15日 0")
    assert lines[4].endswith("（2 分钟前）✅")
    assert lines[5].startswith("运行方式：终端 / 测试 · 实例 ")
    assert lines[5].endswith(f" · 版本 {version('unionbot')}")


async def test_a_late_tick_is_flagged_in_english_too(ticking_bot: Harness) -> None:
    await fill(ticking_bot, tick_ago=timedelta(minutes=10, seconds=20))
    admin = ticking_bot.api.user(ADMIN_ID, "Wang")
    [choice] = shown(await ticking_bot.send(admin, "/lang"))
    await ticking_bot.press(admin, choice, "English")
    lines = lines_of(await ticking_bot.send(admin, "/health"))
    assert lines[0].startswith("🩺 Health (3/15 08:0")
    assert lines[4].startswith("Reminder planning: last at 3/15 07:4")
    assert lines[4].endswith("(10 min ago) " + seen("health.tick_overdue", "en", every=60))


async def test_never_ticked_and_reminders_off(demo_bot: Harness) -> None:
    admin = demo_bot.api.user(ADMIN_ID, "王老师")
    lines = lines_of(await demo_bot.send(admin, "/health"))
    assert seen("health.tick_off") in lines  # REMINDER_TICK_SECONDS=0 in tests
    assert lines[2] == seen("health.backlog", channel="Telegram", due="0", oldest="",
                            failed="0", blocked="0")  # fmt: skip


async def test_officers_are_refused(demo_bot: Harness) -> None:
    officer = demo_bot.api.user(OFFICER_ID, "干部")
    assert texts(await demo_bot.send(officer, "/health")) == [seen("access.admin_only")]
