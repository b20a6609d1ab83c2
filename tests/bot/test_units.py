"""/unit: find a unit, read its card, move its ledger entry on to a write-off."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import col, select

from bot.fake_api import JSON, buttons, visible
from bot.harness import Harness, alerts, shown, texts
from models.tables import Attachment, Street, Unit
from tests.conftest import ADMIN_ID, OFFICER_ID, OFFICER_STREET, OTHER_OFFICER_ID, seen


def read(path: str) -> bytes:
    return Path(path).read_bytes()


async def largest_open_unit(bot: Harness, street: str) -> Unit:
    async with bot.app.bot_data.db.session() as session:
        return (
            await session.exec(
                select(Unit)
                .join(Street, col(Street.id) == Unit.street_id)
                .where(Street.name == street, Unit.on_detail_table)
                .order_by(col(Unit.tax_headcount).desc())
            )
        ).first()  # type: ignore[return-value]


async def card_for(bot: Harness, user_id: int, query: str) -> JSON:
    [message] = shown(await bot.send(bot.api.user(user_id), f"/unit {query}"))
    return message


async def remaining_in_street(bot: Harness) -> str:
    [status] = texts(await bot.send(bot.api.user(OFFICER_ID), "/status"))
    return next(line for line in status.splitlines() if line.startswith("新增建会任务"))


async def test_an_officer_moves_a_unit_to_a_write_off_by_buttons(demo_bot: Harness) -> None:
    unit = await largest_open_unit(demo_bot, OFFICER_STREET)
    officer = demo_bot.api.user(OFFICER_ID)
    assert "还差 10 家" in await remaining_in_street(demo_bot)
    card = await card_for(demo_bot, OFFICER_ID, unit.credit_code)
    assert visible(card["text"]).startswith(f"🏢 {unit.name}")
    stale = dict(card)  # the card as it was, with its first button
    for stage in ("已发组建函", "两审两批", "会员系统采集", "法人证"):
        label = buttons(card)[0][0]
        assert label == seen("unit.advance", stage=stage)
        calls = await demo_bot.press(officer, card, label)
        card, offer = shown(calls)
        assert visible(offer["text"]) == seen("unit.evidence", stage=stage)
        if stage == "法人证":  # the certificate, photographed
            update = demo_bot.api.file_update(user=officer, data=b"certificate scan")
            [kept] = shown(await demo_bot.process(update))
            assert visible(kept["text"]) == seen("flow.file_kept", count=1)
    assert alerts(calls) == [seen("unit.written_off", name=unit.name)]
    # Written off: nothing more to do but read its history.
    assert buttons(card) == [(seen("history.button"), f"hist:u:{unit.id}:0")]
    text = visible(card["text"])
    assert "完成标准：会员系统采集 ✅ · 法人证 ✅" in text
    assert "✅ 已于 2018年3月15日 建会" in text
    assert "还差 9 家" in await remaining_in_street(demo_bot)
    async with demo_bot.app.bot_data.db.session() as session:
        [evidence] = (await session.exec(select(Attachment))).all()
    assert evidence.stage_change_id is not None and evidence.local_path
    assert read(evidence.local_path) == b"certificate scan"
    # The first card's button again: refused, nothing changes.
    calls = await demo_bot.press(officer, stale, seen("unit.advance", stage="已发组建函"))
    assert alerts(calls) == [seen("refusal.closed")]
    assert "还差 9 家" in await remaining_in_street(demo_bot)


async def test_units_of_another_street_are_out_of_reach(demo_bot: Harness) -> None:
    unit = await largest_open_unit(demo_bot, OFFICER_STREET)
    assert texts(
        await demo_bot.send(demo_bot.api.user(OTHER_OFFICER_ID), f"/unit {unit.credit_code}")
    ) == [seen("unit.not_found", query=unit.credit_code)]
    other = demo_bot.api.user(OTHER_OFFICER_ID)
    card = await card_for(demo_bot, OFFICER_ID, unit.credit_code)
    for data in (f"un:{unit.id}", f"ua:{unit.id}:1", f"ua:{unit.id}:9"):
        calls = await demo_bot.process(
            demo_bot.api.callback_update(user=other, message=card, data=data)
        )
        assert alerts(calls) == [seen("card.refused")], data
        assert not [c for c in calls if c.method.startswith(("send", "edit"))]
    # A skip forged by the unit's own officer is refused with the reason.
    calls = await demo_bot.process(
        demo_bot.api.callback_update(
            user=demo_bot.api.user(OFFICER_ID), message=card, data=f"ua:{unit.id}:4"
        )
    )
    assert alerts(calls) == [seen("refusal.skips_stage")]


async def test_finding_units_by_name(demo_bot: Harness) -> None:
    assert texts(await demo_bot.send(demo_bot.api.user(ADMIN_ID), "/unit")) == [seen("unit.usage")]
    [choice] = shown(await demo_bot.send(demo_bot.api.user(ADMIN_ID), "/unit 有限公司"))
    assert visible(choice["text"]) == seen("unit.choose", count=8)
    assert len(buttons(choice)) == 8
    [card] = shown(await demo_bot.press(demo_bot.api.user(ADMIN_ID), choice, buttons(choice)[0][1]))
    assert visible(card["text"]).startswith("🏢 ")
    assert texts(await demo_bot.send(demo_bot.api.user(ADMIN_ID), "/unit %_<b>")) == [
        seen("unit.not_found", query="%_&lt;b&gt;")
    ]


async def test_obstruction_and_departure_take_a_reason(demo_bot: Harness) -> None:
    officer = demo_bot.api.user(OFFICER_ID)
    unit = await largest_open_unit(demo_bot, OFFICER_STREET)
    card = await card_for(demo_bot, OFFICER_ID, unit.credit_code)
    [question] = shown(await demo_bot.press(officer, card, "⛔ 阻挠组建"))
    assert visible(question["text"]) == seen(
        "unit.ask_reason", name=unit.name, outcome="⛔ 阻挠组建"
    )
    assert texts(await demo_bot.send(officer, "   ")) == [seen("refusal.reason_required")]
    [updated] = shown(await demo_bot.send(officer, "法人代表拒绝组建工会"))
    text = visible(updated["text"])
    assert "台账：摸底走访 · 阻挠组建" in text and "法人代表拒绝组建工会" in text
    # An obstructed unit is still owed a union; the district still counts it.
    assert "还差 10 家" in await remaining_in_street(demo_bot)
    calls = await demo_bot.press(officer, card, "🚚 迁出")
    assert alerts(calls) == [seen("refusal.closed")]

    other = (await largest_open_unit(demo_bot, OFFICER_STREET)).credit_code
    async with demo_bot.app.bot_data.db.session() as session:
        others = (
            await session.exec(
                select(Unit)
                .where(Unit.on_detail_table, Unit.credit_code != unit.credit_code)
                .join(Street, col(Street.id) == Unit.street_id)
                .where(Street.name == OFFICER_STREET)
            )
        ).all()
    moving = others[-1]
    card = await card_for(demo_bot, OFFICER_ID, moving.credit_code)
    await demo_bot.press(officer, card, "🚚 迁出")
    assert texts(await demo_bot.send(officer, "/cancel")) == [seen("meeting.cancelled")]
    await demo_bot.press(officer, card, "🚚 迁出")
    [moved] = shown(await demo_bot.send(officer, "2018年3月迁往河北省涿州市"))
    assert "⚠️ 单位状态：已迁出" in visible(moved["text"])
    [status] = texts(await demo_bot.send(demo_bot.api.user(ADMIN_ID), "/status"))
    assert "共 389 家，已建会 186 家，建会率 47.81%（目标 ≥53%）" in status.splitlines()
    assert other  # the largest unit of the street was the obstructed one
