"""/mine: correct or delete this month's own meeting logs, every change audited."""

from __future__ import annotations

from sqlmodel import col, select

from bot.fake_api import visible
from bot.harness import Harness, alerts, shown, texts
from models.tables import AuditEntry, Meeting
from tests.conftest import ADMIN_ID, OFFICER_ID, OTHER_OFFICER_ID, seen


async def log_meeting(bot: Harness, user_id: int, text: str) -> None:
    user = bot.api.user(user_id)
    [card] = shown(await bot.send(user, text))
    await bot.press(user, card, "💾 保存")


async def rows(bot: Harness) -> list[Meeting]:
    async with bot.app.bot_data.db.session() as session:
        return list((await session.exec(select(Meeting).order_by(col(Meeting.id)))).all())


async def test_correct_then_delete_ones_own_log(demo_bot: Harness) -> None:
    officer = demo_bot.api.user(OFFICER_ID)
    assert texts(await demo_bot.send(officer, "/mine")) == [seen("mine.empty")]
    await log_meeting(demo_bot, OFFICER_ID, "今天开了职工沟通会，45人参加")
    [listing] = shown(await demo_bot.send(officer, "/mine"))
    assert "1. 3月15日 职工沟通会 45人" in visible(listing["text"])
    [card] = shown(await demo_bot.press(officer, listing, "✏️ 1"))
    [menu] = shown(await demo_bot.press(officer, card, "✏️ 修改"))
    await demo_bot.press(officer, menu, "参加人数")
    [card] = shown(await demo_bot.send(officer, "50"))
    [done] = shown(await demo_bot.press(officer, card, "💾 保存"))
    assert visible(done["text"]) == seen("mine.corrected")
    [meeting] = await rows(demo_bot)
    assert meeting.attendees == 50  # corrected in place, not a second meeting
    [listing] = shown(await demo_bot.send(officer, "/mine"))
    [question] = shown(await demo_bot.press(officer, listing, "🗑 1"))
    [gone] = shown(await demo_bot.press(officer, question, "🗑 确定删除"))
    assert visible(gone["text"]) == seen("mine.deleted")
    assert await rows(demo_bot) == []
    async with demo_bot.app.bot_data.db.session() as session:
        audits = (
            await session.exec(select(AuditEntry).where(AuditEntry.entity == "meeting"))
        ).all()
    assert [a.action for a in audits] == ["meeting.create", "meeting.update", "meeting.delete"]
    assert audits[1].before and audits[1].before["attendees"] == 45
    assert audits[1].after and audits[1].after["attendees"] == 50


async def test_others_logs_are_out_of_reach_but_not_for_admins(demo_bot: Harness) -> None:
    await log_meeting(demo_bot, OFFICER_ID, "今天开了职工沟通会，45人参加")
    [meeting] = await rows(demo_bot)
    other = demo_bot.api.user(OTHER_OFFICER_ID)
    [listing] = shown(await demo_bot.send(demo_bot.api.user(ADMIN_ID), "/mine"))
    for data in (f"my:e:{meeting.id}", f"my:dd:{meeting.id}"):
        calls = await demo_bot.process(
            demo_bot.api.callback_update(user=other, message=listing, data=data)
        )
        assert alerts(calls) == [seen("mine.refused")]
    assert len(await rows(demo_bot)) == 1
    [question] = shown(await demo_bot.press(demo_bot.api.user(ADMIN_ID), listing, "🗑 1"))
    await demo_bot.press(demo_bot.api.user(ADMIN_ID), question, "🗑 确定删除")
    assert await rows(demo_bot) == []
