"""/meeting: the guided conversation, by buttons and by typing, that survives a restart."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import col, select

from bot.fake_api import JSON, visible
from bot.harness import Harness, alerts, shown, texts
from models.enums import MeetingKind, VenueType
from models.tables import Attachment, Draft, Meeting
from tests.conftest import OFFICER_ID, OFFICER_STREET, seen


async def meetings(bot: Harness) -> list[Meeting]:
    async with bot.app.bot_data.db.session() as session:
        return list((await session.exec(select(Meeting))).all())


def contents(paths: list[str]) -> list[bytes]:
    return [Path(path).read_bytes() for path in paths]


async def say(bot: Harness, text: str) -> JSON:
    [message] = shown(await bot.send(bot.api.user(OFFICER_ID), text))
    return message


async def press(bot: Harness, message: JSON, label: str) -> JSON:
    [shown_message] = shown(await bot.press(bot.api.user(OFFICER_ID), message, label))
    return shown_message


async def test_a_whole_meeting_by_buttons_and_typing(demo_bot: Harness) -> None:
    step = await say(demo_bot, "/meeting")
    assert visible(step["text"]) == seen("flow.ask.kind")
    step = await press(demo_bot, step, "职工沟通会")
    assert visible(step["text"]) == seen("flow.ask.held_on")
    step = await say(demo_bot, "3月5日")
    assert visible(step["text"]) == seen("flow.ask.place")
    step = await say(demo_bot, "苏庄社区活动中心")
    step = await press(demo_bot, step, "社区")
    assert visible(step["text"]) == seen("flow.ask.attendees")
    step = await say(demo_bot, "４５人")  # full-width digits, as phones type them
    step = await say(demo_bot, "12")
    assert visible(step["text"]) == seen("flow.ask.notes")
    step = await press(demo_bot, step, "跳过")
    assert visible(step["text"]) == seen("flow.ask.evidence")
    officer = demo_bot.api.user(OFFICER_ID)
    photo, plan_pdf = b"\xff\xd8\xff photo bytes", b"%PDF-1.4 plan"
    sent = [
        (demo_bot.api.file_update(user=officer, data=photo), seen("flow.file_kept", count=1)),
        (demo_bot.api.file_update(user=officer, data=plan_pdf, kind="document"),
         seen("flow.file_kept", count=2)),
        (demo_bot.api.file_update(user=officer, data=b"sticker", kind="sticker"),
         seen("flow.not_a_file")),
        (demo_bot.api.file_update(user=officer, data=b"big", kind="document", size=21 * 2**20),
         seen("flow.file_too_big")),
    ]  # fmt: skip
    for update, answer in sent:
        [step] = shown(await demo_bot.process(update))
        assert visible(step["text"]) == answer
    card = await press(demo_bot, step, "✅ 完成")
    lines = visible(card["text"]).splitlines()
    assert lines[1:7] == [
        "类型：职工沟通会", "日期：2018年3月5日", f"街乡：{OFFICER_STREET}",
        "地点：苏庄社区活动中心（社区）", "参加人数：45", "新入会：12",
    ]  # fmt: skip
    assert "材料：2 个文件" in lines
    saved = await press(demo_bot, card, "💾 保存")
    assert visible(saved["text"]) == seen(
        "meeting.saved", kind="职工沟通会", street=OFFICER_STREET, held=1, target=12
    )
    [meeting] = await meetings(demo_bot)
    assert (meeting.kind, str(meeting.held_on), meeting.place, meeting.venue_type) == (
        MeetingKind.WORKER, "2018-03-05", "苏庄社区活动中心", VenueType.COMMUNITY
    )  # fmt: skip
    assert (meeting.attendees, meeting.new_members) == (45, 12)
    # The files outlive the chat: copied into MEDIA_DIR, byte for byte.
    async with demo_bot.app.bot_data.db.session() as session:
        kept = (await session.exec(select(Attachment).order_by(col(Attachment.id)))).all()
    assert [a.media_kind for a in kept] == ["photo", "document"]
    assert contents([a.local_path or "" for a in kept]) == [photo, plan_pdf]
    media = demo_bot.app.bot_data.settings.media_dir
    assert all(Path(a.local_path or "").is_relative_to(media) for a in kept)


async def test_bad_answers_keep_the_question_and_write_nothing(demo_bot: Harness) -> None:
    officer = demo_bot.api.user(OFFICER_ID)
    first = await say(demo_bot, "/meeting")
    kind_question = dict(first)  # the kind buttons, as they were
    step = await press(demo_bot, first, "企业沟通会")
    for bad in ("明天", "2月30日", "下下个月"):
        assert texts(await demo_bot.send(officer, bad)) == [
            f"{seen('flow.bad_date')}\n{seen('flow.ask.held_on')}"
        ]
    await press(demo_bot, step, "昨天")
    # A button from an earlier question does nothing now.
    calls = await demo_bot.process(
        demo_bot.api.callback_update(user=officer, message=kind_question, data="mf:kind:worker")
    )
    assert alerts(calls) == [seen("button.stale")]
    step = await say(demo_bot, "良乡大厦")
    await press(demo_bot, step, "楼宇")
    for bad in ("很多", "-3", "100001", "4.5"):
        assert texts(await demo_bot.send(officer, bad)) == [
            f"{seen('flow.bad_number')}\n{seen('flow.ask.attendees')}"
        ]
    step = await say(demo_bot, "30")
    step = await press(demo_bot, step, "0")
    step = await say(demo_bot, "效果很好")
    card = await press(demo_bot, step, "✅ 完成")
    assert "参加人数：30" in visible(card["text"])
    # 修改 jumps to one field and comes back to the summary.
    menu = await press(demo_bot, card, "✏️ 修改")
    question = await press(demo_bot, menu, "参加人数")
    assert visible(question["text"]) == seen("flow.ask.attendees")
    card = await say(demo_bot, "31")
    assert "参加人数：31" in visible(card["text"]) and "类型：企业沟通会" in visible(card["text"])
    assert texts(await demo_bot.send(officer, "/cancel")) == [seen("meeting.cancelled")]
    assert texts(await demo_bot.send(officer, "/cancel")) == [seen("flow.nothing_to_cancel")]
    assert await meetings(demo_bot) == []


async def test_a_restart_mid_conversation_resumes(demo_bot: Harness) -> None:
    step = await press(demo_bot, await say(demo_bot, "/meeting"), "集中宣讲")
    async with Harness.running(demo_bot.app.bot_data.settings) as restarted:
        officer = restarted.api.user(OFFICER_ID)
        [question] = texts(await restarted.send(officer, "今天"))
        assert question == seen("flow.ask.place")
    assert step  # the first process's question was answered by the second


async def test_logging_is_private(demo_bot: Harness) -> None:
    group = demo_bot.api.group_chat(-100700)
    [moved] = shown(await demo_bot.send(demo_bot.api.user(OFFICER_ID), "/meeting", group))
    assert visible(moved["text"]) == seen("flow.private_only")
    [button] = moved["reply_markup"]["inline_keyboard"][0]
    assert button["url"] == f"https://t.me/{demo_bot.app.bot.username}?start=meeting"
    # The link opens the private chat with /start meeting: the conversation starts there.
    question = await say(demo_bot, "/start meeting")
    assert visible(question["text"]) == seen("flow.ask.kind")


async def test_an_interrupted_log_is_offered_back(demo_bot: Harness) -> None:
    step = await press(demo_bot, await say(demo_bot, "/meeting"), "职工沟通会")
    assert visible(step["text"]) == seen("flow.ask.held_on")
    offer = await say(demo_bot, "/meeting")
    assert visible(offer["text"]) == seen("flow.pending")
    question = await press(demo_bot, offer, "▶️ 继续")
    assert visible(question["text"]) == seen("flow.ask.held_on")
    offer = await say(demo_bot, "/meeting")
    question = await press(demo_bot, offer, "🔄 重新开始")
    assert visible(question["text"]) == seen("flow.ask.kind")


async def test_an_idle_conversation_times_out_politely(demo_bot: Harness) -> None:
    await press(demo_bot, await say(demo_bot, "/meeting"), "职工沟通会")
    async with demo_bot.app.bot_data.db.session(write=True) as session:
        draft = (await session.exec(select(Draft))).one()
        an_hour_ago = datetime.fromisoformat(draft.payload["at"]) - timedelta(hours=1)
        draft.payload = {**draft.payload, "at": an_hour_ago.isoformat()}
        session.add(draft)
    offer = await say(demo_bot, "3月5日")
    assert visible(offer["text"]) == seen("flow.timed_out")
    question = await press(demo_bot, offer, "▶️ 继续")
    assert visible(question["text"]) == seen("flow.ask.held_on")
    assert visible((await say(demo_bot, "3月5日"))["text"]) == seen("flow.ask.place")


async def test_a_date_outside_the_plan_year_or_a_long_place_is_refused(demo_bot: Harness) -> None:
    await press(demo_bot, await say(demo_bot, "/meeting"), "职工沟通会")
    await say(demo_bot, "2017-12-20")
    refused = await say(demo_bot, "社" * 201)
    assert visible(refused["text"]) == f"{seen('flow.too_long')}\n{seen('flow.ask.place')}"
    venue = await say(demo_bot, "社区")
    await press(demo_bot, venue, "社区")
    await say(demo_bot, "30")
    notes = await say(demo_bot, "0")
    evidence = await press(demo_bot, notes, "跳过")
    card = await press(demo_bot, evidence, "✅ 完成")
    assert "⚠️ " + seen("meeting.problem.outside_plan_year") in visible(card["text"])
    calls = await demo_bot.press(demo_bot.api.user(OFFICER_ID), card, "💾 保存")
    assert alerts(calls) == [seen("meeting.problem.outside_plan_year")]
    assert await meetings(demo_bot) == []
