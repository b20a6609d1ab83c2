"""/outbox for the admins, and a batch's progress shown by editing one message."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.fake_api import visible
from bot.harness import Harness, alerts, shown
from models.enums import Language, OutboxChannel, OutboxStatus
from models.outbox import Outgoing, counts, enqueue, mark_final
from models.tables import OutboxBatch
from reminders.progress import show_progress
from reminders.sender import drain
from tests.conftest import ADMIN_ID, OFFICER_ID, seen

NOW = datetime(2018, 3, 15, 2, tzinfo=UTC)


async def queue(h: Harness, n: int, *, batch_id: int | None = None, first: int = 60_000) -> None:
    rows = [
        Outgoing(key=f"test|{first + i}", kind="welcome", recipient=str(first + i),
                 payload={"text": f"欢迎 {i}"}, not_before=NOW)
        for i in range(n)
    ]  # fmt: skip
    async with h.app.bot_data.db.session(write=True) as session:
        await enqueue(session=session, rows=rows, now=NOW, batch_id=batch_id)


async def test_a_batch_shows_its_progress_in_one_edited_message(demo_bot: Harness) -> None:
    h = demo_bot
    note = shown(await h.send(h.api.user(ADMIN_ID), "/help"))[-1]
    async with h.app.bot_data.db.session(write=True) as session:
        batch = OutboxBatch(label="welcome", total=25, chat_id=ADMIN_ID,
                            message_id=note["message_id"], created_at=NOW)  # fmt: skip
        session.add(batch)
        await session.flush()
        batch_id = batch.id
    await queue(h, 25, batch_id=batch_id)
    h.api.blocked.add(60_003)
    data = h.app.bot_data

    async def progress() -> None:
        await show_progress(bot=h.app.bot, db=data.db, now=lambda: NOW, language=Language.ZH)

    mark = len(h.api.calls)
    await drain(bot=h.app.bot, db=data.db, now=lambda: NOW, worker="test", progress=progress)
    await progress()
    edits = [c for c in h.api.since(mark) if c.method == "editMessageText"]
    assert edits, "the progress message was edited"
    assert {c.params["message_id"] for c in edits} == {note["message_id"]}
    assert visible(str(edits[-1].params["text"])) == seen(
        "outbox.progress_done", sent="24", total="25", failed="1"
    )
    async with data.db.session() as session:
        finished = await session.get(OutboxBatch, batch_id)
    assert finished is not None and finished.finished_at is not None
    mark = len(h.api.calls)
    await progress()  # a finished batch is not edited again
    assert [c for c in h.api.since(mark) if c.method == "editMessageText"] == []


async def test_admins_see_counts_and_retry_failures(demo_bot: Harness) -> None:
    h = demo_bot
    await queue(h, 3)
    h.api.blocked.add(60_001)
    async with h.app.bot_data.db.session(write=True) as session:
        await mark_final(session=session, row_id=3, status=OutboxStatus.FAILED, error="400")
    await drain(bot=h.app.bot, db=h.app.bot_data.db, now=lambda: NOW, worker="test")
    admin = h.api.user(ADMIN_ID)
    view = shown(await h.send(admin, "/outbox"))[-1]
    text = visible(view["text"])
    assert "Telegram：已发送 1 · 失败 1 · 对方已屏蔽 1" in text
    assert "短信：无" in text

    calls = await h.press(admin, view, seen("outbox.retry", channel="Telegram", count="1"))
    assert alerts(calls) == [seen("outbox.retried", count=1)]
    async with h.app.bot_data.db.session() as session:
        tally = await counts(session=session)
    assert tally[(OutboxChannel.TELEGRAM, OutboxStatus.PENDING)] == 1
    assert tally[(OutboxChannel.TELEGRAM, OutboxStatus.BLOCKED)] == 1  # never retried

    officer = h.api.user(OFFICER_ID)
    assert visible(shown(await h.send(officer, "/outbox"))[-1]["text"]) == seen("access.admin_only")
    refused = await h.process(
        h.api.callback_update(user=officer, message=view, data="ob:r:telegram")
    )
    assert alerts(refused) == [seen("access.admin_only")]
