"""A meeting logged in one message: a card to confirm, saved once, counted toward the 12."""

from __future__ import annotations

from sqlmodel import select

from bot.fake_api import visible
from bot.harness import Harness, alerts, shown, texts
from models.enums import MeetingKind
from models.tables import AuditEntry, Draft, Meeting
from tests.conftest import ADMIN_ID, OFFICER_ID, OFFICER_STREET, seen

LOG = "今天在拱辰街道开了职工沟通会，45人参加，新入会12人"


async def meetings(bot: Harness) -> list[Meeting]:
    async with bot.app.bot_data.db.session() as session:
        return list((await session.exec(select(Meeting))).all())


async def test_one_message_becomes_a_card_then_a_saved_meeting(demo_bot: Harness) -> None:
    officer = demo_bot.api.user(OFFICER_ID)
    [card] = shown(await demo_bot.send(officer, LOG))
    lines = visible(card["text"]).splitlines()
    assert lines[:7] == [
        "📝 会议记录（待确认）",
        "类型：职工沟通会",
        "日期：2018年3月15日",
        f"街乡：{OFFICER_STREET}",
        "地点：（未填写）",
        "参加人数：45",
        "新入会：12",
    ]
    assert await meetings(demo_bot) == []  # nothing is written before 保存
    [saved] = shown(await demo_bot.press(officer, card, "💾 保存"))
    assert visible(saved["text"]) == seen(
        "meeting.saved", kind="职工沟通会", street=OFFICER_STREET, held=1, target=12
    )
    [meeting] = await meetings(demo_bot)
    assert (meeting.kind, meeting.attendees, meeting.new_members) == (MeetingKind.WORKER, 45, 12)
    # Pressing 保存 again on the same card saves nothing twice.
    calls = await demo_bot.process(
        demo_bot.api.callback_update(user=officer, message=card, data="mt:save")
    )
    assert alerts(calls) == [seen("button.stale")]
    assert len(await meetings(demo_bot)) == 1
    [status] = texts(await demo_bot.send(officer, "/status"))
    assert "职工沟通会：已开 1 / 12 场 ░░░░░░░░░░ 还差 11 场" in status.splitlines()
    async with demo_bot.app.bot_data.db.session() as session:
        assert "meeting.create" in (await session.exec(select(AuditEntry.action))).all()
        assert (await session.exec(select(Draft))).all() == []


async def test_a_card_with_problems_cannot_be_saved(demo_bot: Harness) -> None:
    officer = demo_bot.api.user(OFFICER_ID)
    [card] = shown(await demo_bot.send(officer, "明天开职工沟通会"))
    assert "⚠️ " + seen("quicklog.future_date") in visible(card["text"])
    calls = await demo_bot.press(officer, card, "💾 保存")
    assert alerts(calls) == [seen("meeting.problem.no_date")]
    [card] = shown(await demo_bot.send(officer, "开了沟通会，30人参加"))
    assert seen("quicklog.ambiguous_kind") in visible(card["text"])
    calls = await demo_bot.press(officer, card, "💾 保存")
    assert alerts(calls) == [seen("meeting.problem.no_kind")]
    assert await meetings(demo_bot) == []


async def test_the_draft_survives_a_restart(demo_bot: Harness) -> None:
    officer = demo_bot.api.user(OFFICER_ID)
    [card] = shown(await demo_bot.send(officer, "3月5日 企业沟通会 20人"))
    # A new application on the same database: what a restart is.
    async with Harness.running(demo_bot.app.bot_data.settings) as restarted:
        restarted.api.messages.update(demo_bot.api.messages)
        [saved] = shown(await restarted.press(restarted.api.user(OFFICER_ID), card, "💾 保存"))
    assert visible(saved["text"]).startswith("✅ 已保存：企业沟通会。")
    [meeting] = await meetings(demo_bot)
    assert (meeting.kind, str(meeting.held_on), meeting.attendees) == (
        MeetingKind.ENTERPRISE, "2018-03-05", 20
    )  # fmt: skip


async def test_cancel_and_other_text(demo_bot: Harness) -> None:
    officer = demo_bot.api.user(OFFICER_ID)
    [card] = shown(await demo_bot.send(officer, LOG))
    [cancelled] = shown(await demo_bot.press(officer, card, "取消"))
    assert visible(cancelled["text"]) == seen("meeting.cancelled")
    assert texts(await demo_bot.send(officer, "你好")) == [seen("fallback.unknown")]
    # An admin must name the street; an officer's own street is filled in.
    [card] = shown(await demo_bot.send(demo_bot.api.user(ADMIN_ID), "今天开了职工沟通会 30人"))
    assert "街乡：（未填写）" in visible(card["text"])
    calls = await demo_bot.press(demo_bot.api.user(ADMIN_ID), card, "💾 保存")
    assert alerts(calls) == [seen("meeting.problem.no_street")]
    assert await meetings(demo_bot) == []
