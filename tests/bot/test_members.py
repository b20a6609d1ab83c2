"""/member: a new member registered in a few steps, the welcome queued, the number masked in
every message and log line, and nothing written for a number that is a member already."""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime

import pytest
from sqlmodel import col, select

from bot.fake_api import JSON, ApiCall, buttons, visible
from bot.harness import Harness, alerts, shown, texts
from models.members import Duplicate, MemberSource, NewMember, register_member, welcomes_queued
from models.tables import AuditEntry, Draft, Member, OutboxMessage, Street, Unit
from tests.conftest import ADMIN_ID, OFFICER_ID, OFFICER_STREET, OTHER_OFFICER_ID, seen

MOBILE = "13812345678"
MASKED = "138****5678"
UNIT = "北京岳博酒店管理有限责任公司"  # a unit of the officer's street in the demo district
RAW_NUMBER = re.compile(r"1[3-9]\d{9}")
WORKER_ID = 20003


async def say(bot: Harness, text: str, user_id: int = OFFICER_ID) -> list[JSON]:
    return shown(await bot.send(bot.api.user(user_id), text))


async def press(bot: Harness, message: JSON, label: str, user_id: int = OFFICER_ID) -> list[JSON]:
    return shown(await bot.press(bot.api.user(user_id), message, label))


async def members(bot: Harness) -> list[Member]:
    async with bot.app.bot_data.db.session() as session:
        return list((await session.exec(select(Member).order_by(col(Member.id)))).all())


async def outbox(bot: Harness) -> list[OutboxMessage]:
    async with bot.app.bot_data.db.session() as session:
        return list((await session.exec(select(OutboxMessage))).all())


async def street_id(bot: Harness, name: str) -> int:
    async with bot.app.bot_data.db.session() as session:
        found = (await session.exec(select(Street.id).where(Street.name == name))).one()
    assert found is not None
    return found


async def unit_id(bot: Harness, name: str) -> int:
    async with bot.app.bot_data.db.session() as session:
        found = (await session.exec(select(Unit.id).where(Unit.name == name))).one()
    assert found is not None
    return found


async def add_member(bot: Harness, mobile: str, street: str = OFFICER_STREET) -> Member:
    """A member registered earlier (as if through another channel)."""
    data = bot.app.bot_data
    async with data.db.session(write=True) as session:
        new = NewMember(name="李四", mobile=mobile, street_id=await street_id(bot, street),
                        joined_on=date(2018, 3, 1))  # fmt: skip
        member = await register_member(
            session=session, member=new, source=MemberSource.OFFICER, by_user_id=ADMIN_ID,
            now=datetime(2018, 3, 1, 2, tzinfo=UTC), plan=data.plan,
        )  # fmt: skip
    assert not isinstance(member, Duplicate)
    return member


def everything_said(calls: list[ApiCall]) -> str:
    """Every text the bot sent or showed: messages, edits, alerts, captions and files."""
    parts: list[str] = []
    for call in calls:
        parts += [str(call.params.get(k) or "") for k in ("text", "caption")]
        parts += [data.decode("utf-8-sig", "replace") for data in call.files.values()]
    return "\n".join(parts)


def assert_no_number(bot: Harness, *raw: str) -> None:
    said = everything_said(bot.api.calls)
    for number in raw:
        assert number not in said
    assert RAW_NUMBER.search(said) is None


async def test_an_officer_registers_a_member_step_by_step(
    demo_bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # Everything the bot logs when running (INFO), and all of its own lines.
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="unionbot")
    [ask] = await say(demo_bot, "/member")
    assert visible(ask["text"]) == seen("member.ask.name")
    [ask] = await say(demo_bot, "张三")
    assert visible(ask["text"]) == seen("member.ask.mobile")
    [again] = await say(demo_bot, "138 1234 567")
    assert visible(again["text"]) == f"{seen('member.bad_mobile')}\n{seen('member.ask.mobile')}"
    [ask] = await say(demo_bot, "+86 138-1234-5678")
    assert visible(ask["text"]) == seen("member.ask.unit")
    [found] = await say(demo_bot, "岳博")
    assert visible(found["text"]) == seen("member.unit_found")
    assert [label for label, _ in buttons(found)] == [UNIT, "跳过"]
    [ask] = await press(demo_bot, found, UNIT)
    assert visible(ask["text"]) == seen("member.ask.joined_on")
    [again] = await say(demo_bot, "明天")
    assert visible(again["text"]) == f"{seen('member.future_date')}\n{seen('member.ask.joined_on')}"
    [card] = await say(demo_bot, "3月1日")
    card_text = visible(card["text"])
    assert seen("member.card_mobile", value=MASKED) in card_text
    assert seen("member.card_unit", value=UNIT) in card_text
    assert seen("member.card_joined", value="2018年3月1日") in card_text
    assert await members(demo_bot) == []  # nothing is written before 保存

    [saved] = await press(demo_bot, card, "💾 保存")
    assert visible(saved["text"]) == seen(
        "member.saved", name="张三", mobile=MASKED, street=OFFICER_STREET, channels="短信"
    )
    [member] = await members(demo_bot)
    assert (member.name, member.mobile, member.street_id, member.unit_id, member.joined_on) == (
        "张三", MOBILE, await street_id(demo_bot, OFFICER_STREET), await unit_id(demo_bot, UNIT),
        date(2018, 3, 1),
    )  # fmt: skip
    assert (member.source, member.created_by) == ("officer", OFFICER_ID)
    assert member.id is not None
    async with demo_bot.app.bot_data.db.session() as session:
        queued = await welcomes_queued(session=session, member_id=member.id)
        audit = (await session.exec(select(AuditEntry))).all()
        drafts = (await session.exec(select(Draft))).all()
    # SMS always; a Telegram copy only for a member linked to the bot, which /member is not.
    assert [(r.channel.value, r.recipient, r.kind) for r in queued] == [("sms", MOBILE, "welcome")]
    assert queued[0].payload["text"].startswith("【房山区总工会】张三您好，欢迎加入拱辰街道总工会")
    [registered] = [a for a in audit if a.action.startswith("member.")]
    assert (registered.action, registered.actor_user_id) == ("member.register", OFFICER_ID)
    assert registered.after and "mobile" not in registered.after  # never in the audit log
    assert "张三" not in str(registered.after)
    assert drafts == []
    # A second press of the same card registers nobody twice.
    again = demo_bot.api.callback_update(user=demo_bot.api.user(OFFICER_ID), message=card,
                                         data="mb:save")  # fmt: skip
    assert alerts(await demo_bot.process(again)) == [seen("button.stale")]
    assert len(await members(demo_bot)) == 1 and len(await outbox(demo_bot)) == 1
    assert_no_number(demo_bot, MOBILE)
    assert MOBILE not in caplog.text


async def test_a_members_number_is_refused_and_nothing_is_written(demo_bot: Harness) -> None:
    existing = await add_member(demo_bot, MOBILE)
    before = len(await outbox(demo_bot))
    await say(demo_bot, "/member")
    await say(demo_bot, "王五")
    [refused] = await say(demo_bot, "138 1234 5678")
    assert visible(refused["text"]) == (
        f"{seen('member.exists', mobile=MASKED)}\n{seen('member.ask.mobile')}"
    )
    # The same question waits: a new number goes on.
    [ask] = await say(demo_bot, "13912345678")
    assert visible(ask["text"]) == seen("member.ask.unit")
    assert [m.id for m in await members(demo_bot)] == [existing.id]
    assert len(await outbox(demo_bot)) == before
    assert_no_number(demo_bot, MOBILE, "13912345678")


async def test_skip_today_change_and_cancel(demo_bot: Harness) -> None:
    await say(demo_bot, "/member")
    await say(demo_bot, "赵六")
    [unit] = await say(demo_bot, "15012345678")
    [when] = await press(demo_bot, unit, "跳过")
    [card] = await press(demo_bot, when, "今天")
    assert seen("member.card_unit", value="（未填）") in visible(card["text"])
    assert seen("member.card_joined", value="2018年3月15日") in visible(card["text"])
    [fields] = await press(demo_bot, card, "✏️ 修改")
    assert [label for label, _ in buttons(fields)] == [
        "姓名", "手机号码", "单位", "入会日期", "« 返回"
    ]  # fmt: skip
    [ask] = await press(demo_bot, fields, "姓名")
    assert visible(ask["text"]) == seen("member.ask.name")
    [refused] = await say(demo_bot, "13812345678")  # a number typed as the name
    assert visible(refused["text"]).startswith(seen("member.bad_name", max=64))
    [card] = await say(demo_bot, "赵六六")
    assert seen("member.card_name", value="赵六六") in visible(card["text"])
    # The draft survives: /member offers it back.
    [offer] = await say(demo_bot, "/member")
    assert visible(offer["text"]) == seen("member.pending")
    [card] = await press(demo_bot, offer, "▶️ 继续")
    [cancelled] = await press(demo_bot, card, "取消")
    assert visible(cancelled["text"]) == seen("member.cancelled")
    assert await members(demo_bot) == []
    assert texts(await demo_bot.send(demo_bot.api.user(OFFICER_ID), "/cancel")) == [
        seen("flow.nothing_to_cancel")
    ]


async def test_an_admin_chooses_the_street_first(demo_bot: Harness) -> None:
    [streets] = await say(demo_bot, "/member", ADMIN_ID)
    assert visible(streets["text"]) == seen("member.ask.street_id")
    assert len(buttons(streets)) == 28
    [ask] = await press(demo_bot, streets, "良乡镇", ADMIN_ID)
    assert visible(ask["text"]) == seen("member.ask.name")
    await say(demo_bot, "钱七", ADMIN_ID)
    await say(demo_bot, "18612345678", ADMIN_ID)
    # The unit search is the chosen street's: 拱辰's hotel is not found from 良乡镇.
    [none] = await say(demo_bot, "岳博酒店", ADMIN_ID)
    assert visible(none["text"]) == seen("member.unit_none", query="岳博酒店")
    [when] = await press(demo_bot, none, "跳过", ADMIN_ID)
    [card] = await press(demo_bot, when, "今天", ADMIN_ID)
    assert seen("member.card_street", value="良乡镇") in visible(card["text"])
    await press(demo_bot, card, "💾 保存", ADMIN_ID)
    [member] = await members(demo_bot)
    assert member.street_id == await street_id(demo_bot, "良乡镇")


async def test_another_streets_officer_sees_no_details(demo_bot: Harness) -> None:
    await add_member(demo_bot, MOBILE)
    other = demo_bot.api.user(OTHER_OFFICER_ID)
    await say(demo_bot, "/member", OTHER_OFFICER_ID)
    await say(demo_bot, "孙八", OTHER_OFFICER_ID)
    [refused] = await say(demo_bot, MOBILE, OTHER_OFFICER_ID)
    said = visible(refused["text"])
    assert said == f"{seen('member.exists', mobile=MASKED)}\n{seen('member.ask.mobile')}"
    assert "李四" not in said and OFFICER_STREET not in said
    [unit] = await say(demo_bot, "15912345678", OTHER_OFFICER_ID)
    [none] = await say(demo_bot, "岳博酒店", OTHER_OFFICER_ID)
    assert visible(none["text"]) == seen("member.unit_none", query="岳博酒店")
    # A forged button for the other street's unit is refused.
    forged = await demo_bot.process(
        demo_bot.api.callback_update(user=other, message=unit,
                                     data=f"mb:u:{await unit_id(demo_bot, UNIT)}")
    )  # fmt: skip
    assert alerts(forged) == [seen("member.street_refused")]
    assert_no_number(demo_bot, MOBILE, "15912345678")


async def test_only_officers_register_and_only_in_private(demo_bot: Harness) -> None:
    from models.enums import Language, Role
    from models.officers import ensure_officer

    async with demo_bot.app.bot_data.db.session(write=True) as session:
        await ensure_officer(
            session=session, telegram_user_id=WORKER_ID, role=Role.COMMUNITY_WORKER,
            street_name=OFFICER_STREET, display_name="社区", language=Language.ZH,
            now=datetime(2018, 3, 1, tzinfo=UTC),
        )  # fmt: skip
    assert texts(await demo_bot.send(demo_bot.api.user(WORKER_ID), "/member")) == [
        seen("member.officers_only")
    ]
    group = demo_bot.api.group_chat(-100123)
    assert texts(await demo_bot.send(demo_bot.api.user(OFFICER_ID), "/member", group)) == [
        seen("flow.private_chat")
    ]


async def test_cancel_drops_the_member_being_registered(demo_bot: Harness) -> None:
    await say(demo_bot, "/member")
    await say(demo_bot, "张三")
    assert texts(await demo_bot.send(demo_bot.api.user(OFFICER_ID), "/cancel")) == [
        seen("meeting.cancelled")
    ]
    [ask] = await say(demo_bot, "/member")
    assert visible(ask["text"]) == seen("member.ask.name")


async def test_an_answer_after_a_long_pause_is_not_taken(demo_bot: Harness) -> None:
    await say(demo_bot, "/member")
    async with demo_bot.app.bot_data.db.session(write=True) as session:
        draft = (await session.exec(select(Draft))).one()
        draft.payload = {**draft.payload, "at": "2018-03-14T08:00:00+08:00"}
        session.add(draft)
    [offer] = await say(demo_bot, "张三")
    assert visible(offer["text"]) == seen("member.timed_out")
    [ask] = await press(demo_bot, offer, "▶️ 继续")
    assert visible(ask["text"]) == seen("member.ask.name")
    [ask] = await say(demo_bot, "张三")
    assert visible(ask["text"]) == seen("member.ask.mobile")
