"""/history: the audit trail of a unit or a meeting, read-only, each street its own.

And the audit log itself cannot be changed: the database refuses updates and deletes.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import func, select

from bot.fake_api import buttons, visible
from bot.harness import Harness, alerts, shown, texts
from models.tables import AuditEntry, Meeting, Officer
from tests.bot.test_mine import log_meeting
from tests.bot.test_units import card_for, largest_open_unit
from tests.conftest import ADMIN_ID, OFFICER_ID, OFFICER_STREET, OTHER_OFFICER_ID, seen


async def audit_count(bot: Harness) -> int:
    async with bot.app.bot_data.db.session() as session:
        return (await session.exec(select(func.count()).select_from(AuditEntry))).one()


async def name_officer(bot: Harness, user_id: int, name: str) -> None:
    async with bot.app.bot_data.db.session(write=True) as session:
        officer = (
            await session.exec(select(Officer).where(Officer.telegram_user_id == user_id))
        ).one()
        officer.display_name = name
        session.add(officer)


async def test_a_units_history_shows_who_moved_it_on_and_from_what_to_what(
    demo_bot: Harness,
) -> None:
    await name_officer(demo_bot, OFFICER_ID, "李<干事>")
    unit = await largest_open_unit(demo_bot, OFFICER_STREET)
    officer = demo_bot.api.user(OFFICER_ID)
    card = await card_for(demo_bot, OFFICER_ID, unit.credit_code)
    card, _ = shown(await demo_bot.press(officer, card, seen("unit.advance", stage="已发组建函")))
    card, _ = shown(await demo_bot.press(officer, card, seen("unit.advance", stage="两审两批")))
    before = await audit_count(demo_bot)

    [trail] = shown(await demo_bot.press(officer, card, seen("history.button")))
    text = visible(trail["text"])
    lines = text.splitlines()
    assert lines[0] == seen("history.title", subject=unit.name, total=2, first=1, last=2)
    # Newest first, the officer's name escaped and shown as typed, each change before → after.
    assert lines[1].endswith("李<干事>：台账推进") and "3月15日" in lines[1]
    assert lines[2] == seen("history.change", field="阶段", before="已发组建函", after="两审两批")
    assert lines[3].endswith("李<干事>：台账推进")
    assert lines[4] == seen("history.change", field="阶段", before="摸底走访", after="已发组建函")
    assert lines[-1] == seen("history.read_only")
    assert await audit_count(demo_bot) == before  # reading writes nothing

    # The command finds the same trail; an admin sees it too.
    [by_command] = shown(await demo_bot.send(officer, f"/history {unit.credit_code}"))
    assert by_command["text"] == trail["text"]
    admin = demo_bot.api.user(ADMIN_ID)
    [for_admin] = shown(await demo_bot.send(admin, f"/history {unit.credit_code}"))
    assert visible(for_admin["text"]).splitlines()[0] == lines[0]


async def test_another_streets_history_is_refused_and_leaks_nothing(demo_bot: Harness) -> None:
    unit = await largest_open_unit(demo_bot, OFFICER_STREET)
    card = await card_for(demo_bot, OFFICER_ID, unit.credit_code)
    other = demo_bot.api.user(OTHER_OFFICER_ID)
    # The command cannot find it, by name or by code.
    assert texts(await demo_bot.send(other, f"/history {unit.credit_code}")) == [
        seen("unit.not_found", query=unit.credit_code)
    ]
    # A button from the other street's card (or forged data) gets the same alert as a unit
    # that does not exist: nothing tells which.
    calls = await demo_bot.press(other, card, seen("history.button"))
    assert alerts(calls) == [seen("history.refused")]
    assert [c for c in calls if c.method == "editMessageText"] == []
    calls = await demo_bot.process(
        demo_bot.api.callback_update(user=other, message=card, data="hist:u:999999999:0")
    )
    assert alerts(calls) == [seen("history.refused")]


async def test_a_meetings_history_outlives_the_meeting(demo_bot: Harness) -> None:
    officer = demo_bot.api.user(OFFICER_ID)
    await log_meeting(demo_bot, OFFICER_ID, "今天开了职工沟通会，45人参加")
    [listing] = shown(await demo_bot.send(officer, "/mine"))
    listing = dict(listing)  # as it was: pressing 🗑 edits the message
    [question] = shown(await demo_bot.press(officer, dict(listing), "🗑 1"))
    await demo_bot.press(officer, question, "🗑 确定删除")
    async with demo_bot.app.bot_data.db.session() as session:
        assert (await session.exec(select(Meeting))).all() == []
    # The old listing's history button still shows the whole trail, deletion included.
    [trail] = shown(await demo_bot.press(officer, listing, "🕘 1"))
    lines = visible(trail["text"]).splitlines()
    assert lines[1].endswith("：删除会议")
    assert [line for line in lines if line.startswith("· ")][-1].endswith("：登记会议")
    assert seen("history.change", field="参会人数", before="（空）", after="45") in lines
    # Not for another street's officer.
    calls = await demo_bot.press(demo_bot.api.user(OTHER_OFFICER_ID), listing, "🕘 1")
    assert alerts(calls) == [seen("history.refused")]


async def test_a_long_history_pages_back_and_forth(demo_bot: Harness) -> None:
    officer = demo_bot.api.user(OFFICER_ID)
    for n in range(12):
        await log_meeting(demo_bot, OFFICER_ID, f"今天开了职工沟通会，{40 + n}人参加")
    async with demo_bot.app.bot_data.db.session() as session:
        first = (await session.exec(select(Meeting).order_by(Meeting.id))).first()  # type: ignore[arg-type]
    assert first is not None
    [listing] = shown(await demo_bot.send(officer, "/mine"))
    for n in range(11):  # eleven corrections of one meeting: twelve entries in its trail
        [card] = shown(
            await demo_bot.process(
                demo_bot.api.callback_update(user=officer, message=listing, data=f"my:e:{first.id}")
            )
        )
        [menu] = shown(await demo_bot.press(officer, card, "✏️ 修改"))
        await demo_bot.press(officer, menu, "参加人数")
        [card] = shown(await demo_bot.send(officer, str(60 + n)))
        await demo_bot.press(officer, card, "💾 保存")
    [page] = shown(
        await demo_bot.process(
            demo_bot.api.callback_update(user=officer, message=listing, data=f"hist:m:{first.id}:0")
        )
    )
    assert "（共 12 条，第 1–10 条）" in visible(page["text"]).splitlines()[0]
    assert [label for label, _ in buttons(page)] == [seen("history.older")]
    [older] = shown(await demo_bot.press(officer, page, seen("history.older")))
    text = visible(older["text"])
    assert "第 11–12 条" in text
    assert [line for line in text.splitlines() if line.startswith("· ")][-1].endswith("：登记会议")
    assert [label for label, _ in buttons(older)] == [seen("history.newer")]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE auditentry SET action = 'x'",
        "DELETE FROM auditentry",
        "UPDATE auditentry SET after = NULL WHERE entity = 'ledger'",
    ],
)
async def test_the_audit_log_cannot_be_changed(demo_bot: Harness, statement: str) -> None:
    unit = await largest_open_unit(demo_bot, OFFICER_STREET)
    officer = demo_bot.api.user(OFFICER_ID)
    card = await card_for(demo_bot, OFFICER_ID, unit.credit_code)
    await demo_bot.press(officer, card, seen("unit.advance", stage="已发组建函"))
    before = await audit_count(demo_bot)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        async with demo_bot.app.bot_data.db.session(write=True) as session:
            await session.exec(sa.text(statement))  # type: ignore[call-overload]
    assert await audit_count(demo_bot) == before
    async with demo_bot.app.bot_data.db.session() as session:
        actions = (await session.exec(select(AuditEntry.action))).all()
    assert "x" not in actions and "ledger.stage" in actions
