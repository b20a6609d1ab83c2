"""/unit: find a unit, read its card, move its ledger entry on to a write-off."""

from __future__ import annotations

from sqlmodel import col, select

from bot.fake_api import JSON, buttons, visible
from bot.harness import Harness, alerts, shown, texts
from models.tables import Street, Unit
from tests.conftest import ADMIN_ID, OFFICER_ID, OFFICER_STREET, OTHER_OFFICER_ID, seen


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
        [(label, _)] = buttons(card)
        assert label == seen("unit.advance", stage=stage)
        calls = await demo_bot.press(officer, card, label)
        [card] = shown(calls)
    assert alerts(calls) == [seen("unit.written_off", name=unit.name)]
    assert buttons(card) == []  # written off: nothing more to do
    text = visible(card["text"])
    assert "完成标准：会员系统采集 ✅ · 法人证 ✅" in text
    assert "✅ 已于 2018年3月15日 建会" in text
    assert "还差 9 家" in await remaining_in_street(demo_bot)
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
