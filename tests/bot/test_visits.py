"""/visit: a visit to a unit in a few steps, ending on its card; the follow-up date kept."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlmodel import select

from bot.fake_api import JSON, buttons, visible
from bot.harness import Harness, alerts, shown, texts
from models.credit_code import credit_code_check_char
from models.enums import VisitKind
from models.tables import Attachment, Visit
from models.visits import read_follow_up_date
from tests.bot.test_units import largest_open_unit
from tests.conftest import ADMIN_ID, OFFICER_ID, OFFICER_STREET, OTHER_OFFICER_ID, seen

TODAY = date(2018, 3, 15)


def read(path: str) -> bytes:
    return Path(path).read_bytes()


async def visits(bot: Harness) -> list[Visit]:
    async with bot.app.bot_data.db.session() as session:
        return list((await session.exec(select(Visit))).all())


async def say(bot: Harness, text: str, user_id: int = OFFICER_ID) -> list[JSON]:
    return shown(await bot.send(bot.api.user(user_id), text))


async def test_a_visit_ends_on_the_units_card(demo_bot: Harness) -> None:
    officer = demo_bot.api.user(OFFICER_ID)
    unit = await largest_open_unit(demo_bot, OFFICER_STREET)
    [choose] = await say(demo_bot, f"/visit {unit.credit_code}")
    [purpose] = shown(await demo_bot.press(officer, choose, buttons(choose)[0][1]))
    assert visible(purpose["text"]) == seen("visit.ask.purpose", name=unit.name)
    [question] = shown(await demo_bot.press(officer, purpose, "发放组建函"))
    assert visible(question["text"]) == seen("visit.ask.summary")
    await say(demo_bot, "与法人沟通，同意筹建，已发《北京市工会组建函》")
    await say(demo_bot, "准备筹建申请")
    assert texts(await demo_bot.send(officer, "明天")) == [
        f"{seen('visit.bad_date')}\n{seen('visit.ask.next_step_on')}"
    ]
    [evidence] = await say(demo_bot, "3月22日")
    assert visible(evidence["text"]) == seen("visit.ask.evidence")
    [kept] = shown(await demo_bot.process(demo_bot.api.file_update(user=officer, data=b"receipt")))
    assert visible(kept["text"]) == seen("flow.file_kept", count=1)
    saved, card = shown(await demo_bot.press(officer, kept, "✅ 完成"))
    assert visible(saved["text"]) == seen("visit.saved", name=unit.name)
    assert "· 2018年3月15日 发放组建函 与法人沟通" in visible(card["text"])
    assert buttons(card)[0][0] == seen("unit.advance", stage="已发组建函")
    [visit] = await visits(demo_bot)
    assert (visit.kind, visit.unit_id, visit.purpose, visit.next_step_on) == (
        VisitKind.UNIT, unit.id, "letter", date(2018, 3, 22)
    )  # fmt: skip
    async with demo_bot.app.bot_data.db.session() as session:
        [photo] = (
            await session.exec(select(Attachment).where(Attachment.visit_id == visit.id))
        ).all()
    assert photo.local_path and read(photo.local_path) == b"receipt"


async def test_skipping_and_other_streets(demo_bot: Harness) -> None:
    officer = demo_bot.api.user(OFFICER_ID)
    unit = await largest_open_unit(demo_bot, OFFICER_STREET)
    assert texts(
        await demo_bot.send(demo_bot.api.user(OTHER_OFFICER_ID), f"/visit {unit.credit_code}")
    ) == [seen("unit.not_found", query=unit.credit_code)]
    [choose] = await say(demo_bot, f"/visit {unit.credit_code}")
    forged = await demo_bot.process(
        demo_bot.api.callback_update(user=demo_bot.api.user(OTHER_OFFICER_ID), message=choose,
                                     data=f"vs:u:{unit.id}")
    )  # fmt: skip
    assert alerts(forged) == [seen("card.refused")]
    [purpose] = shown(await demo_bot.press(officer, choose, buttons(choose)[0][1]))
    await demo_bot.press(officer, purpose, "走访")
    [next_question] = await say(demo_bot, "企业暂无意向")
    [date_question] = shown(await demo_bot.press(officer, next_question, "跳过"))
    [evidence] = shown(await demo_bot.press(officer, date_question, "跳过"))
    saved, _card = shown(await demo_bot.press(officer, evidence, "✅ 完成"))
    assert visible(saved["text"]) == seen("visit.saved", name=unit.name)
    [visit] = await visits(demo_bot)
    assert (visit.next_step, visit.next_step_on) == (None, None)
    # The old purpose buttons do nothing now.
    assert alerts(await demo_bot.press(officer, purpose, "宣讲")) == [seen("button.stale")]
    assert len(await visits(demo_bot)) == 1


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("3月22日", date(2018, 3, 22)),
        ("３月２２号", date(2018, 3, 22)),
        ("3.15", TODAY),
        ("2018-04-01", date(2018, 4, 1)),
        ("2月1日", date(2019, 2, 1)),  # past this year: the next one
        ("3月14日", date(2019, 3, 14)),
        ("2018-03-14", None),  # a past date with its year
        ("2月30日", None),
        ("2020-01-01", None),  # more than a year away
        ("明天", None),
        ("", None),
    ],
)
def test_follow_up_dates(typed: str, expected: date | None) -> None:
    assert read_follow_up_date(typed, today=TODAY) == expected


async def test_a_unit_found_in_the_field_is_added_then_visited(demo_bot: Harness) -> None:
    officer = demo_bot.api.user(OFFICER_ID)
    body = "91110111MA01XKD12"
    code = body + credit_code_check_char(body)
    wrong = body + ("1" if code[-1] != "1" else "2")  # a check character that doesn't fit
    [missing] = await say(demo_bot, "/visit 新发现物流")
    assert visible(missing["text"]) == seen("unit.not_found", query="新发现物流")
    [question] = shown(await demo_bot.press(officer, missing, "➕ 添加这家单位"))
    assert visible(question["text"]) == seen("visit.ask.new_name")
    await say(demo_bot, "北京新发现物流有限公司")
    await say(demo_bot, wrong)
    [refused] = await say(demo_bot, "120人")
    assert visible(refused["text"]) == (
        f"{seen('visit.new_unit.bad_code')}\n{seen('visit.ask.new_code')}"
    )
    await say(demo_bot, code)
    added, purpose = await say(demo_bot, "120")
    assert visible(added["text"]) == seen("visit.unit_added", name="北京新发现物流有限公司")
    assert visible(purpose["text"]) == seen("visit.ask.purpose", name="北京新发现物流有限公司")
    [status] = texts(await demo_bot.send(demo_bot.api.user(ADMIN_ID), "/status"))
    assert "共 391 家，已建会 186 家，建会率 47.57%（目标 ≥53%）" in status.splitlines()
    assert "未建会 205 家，其中明细表内 198 家" in status.splitlines()
    # The same code again is refused: the unit is known now.
    [missing] = await say(demo_bot, "/visit 不存在的单位")
    await demo_bot.press(officer, missing, "➕ 添加这家单位")
    await say(demo_bot, "北京另一家公司")
    await say(demo_bot, code)
    [duplicate] = await say(demo_bot, "150")
    assert visible(duplicate["text"]).startswith(seen("visit.new_unit.duplicate"))


async def test_a_visit_then_the_card_to_a_write_off_moves_the_status(demo_bot: Harness) -> None:
    officer = demo_bot.api.user(OFFICER_ID)
    unit = await largest_open_unit(demo_bot, OFFICER_STREET)
    [choose] = await say(demo_bot, f"/visit {unit.credit_code}")
    [purpose] = shown(await demo_bot.press(officer, choose, buttons(choose)[0][1]))
    await demo_bot.press(officer, purpose, "跟进")
    await say(demo_bot, "法人证已下发")
    [question] = await say(demo_bot, "无")
    [evidence] = shown(await demo_bot.press(officer, question, "跳过"))
    _saved, card = shown(await demo_bot.press(officer, evidence, "✅ 完成"))
    for _ in range(4):
        card = shown(await demo_bot.press(officer, card, buttons(card)[0][1]))[0]
    [status] = texts(await demo_bot.send(officer, "/status"))
    assert "新增建会任务 1 / 10 家 ▓░░░░░░░░░ → 还差 9 家" in status.splitlines()
    # /mine lists the visit; deleting it is audited and leaves the write-off alone.
    [listing] = await say(demo_bot, "/mine")
    assert f"V1. 3月15日 走访 {unit.name}" in visible(listing["text"])
    [question] = shown(await demo_bot.press(officer, listing, "🗑 V1"))
    await demo_bot.press(officer, question, "🗑 确定删除")
    assert await visits(demo_bot) == []
    [status] = texts(await demo_bot.send(officer, "/status"))
    assert "新增建会任务 1 / 10 家 ▓░░░░░░░░░ → 还差 9 家" in status.splitlines()
