"""/status, /bind, /chart and the drill-down, on the demo district through the fake Bot API."""

from __future__ import annotations

import io
import re

from PIL import Image
from sqlmodel import col, func, select

from bot.fake_api import JSON, buttons, visible
from bot.harness import Harness, alerts, shown, texts
from models.enums import LedgerOutcome
from models.ledger import record_completion
from models.tables import AuditEntry, ChatBinding, LedgerEntry, Street, StreetTarget, Unit
from tests.conftest import ADMIN_ID, OFFICER_ID, OFFICER_STREET, OTHER_OFFICER_ID, seen

GROUP_ID = -100500
RANKED = re.compile(r"^\d+\. ")  # a numbered line: a ranked street or a listed unit


def lines(message: JSON) -> list[str]:
    return visible(message["text"]).splitlines()


async def ask(bot: Harness, user_id: int, text: str, chat: JSON | None = None) -> JSON:
    [message] = shown(await bot.send(bot.api.user(user_id), text, chat))
    return message


async def test_the_district_status_shows_the_plans_baseline_figures(demo_bot: Harness) -> None:
    status = lines(await ask(demo_bot, ADMIN_ID, "/status"))
    expected = [
        "共 390 家，已建会 186 家，建会率 47.69%（目标 ≥53%）",
        "还需建会：按53%建会率 21 家，按新增91户 91 家 → 还差 91 家",
        "未建会 204 家，其中明细表内 198 家",
        "按规模：100–499人 176（明细表 170） · 500–999人 18（明细表 18） · "
        "1000人以上 10（明细表 10）",
        "税务代收未采集（优先组建）：11 家，其中百人以上 6 家",
        "单位 15,099 家，已建会 2,428 家，建会率 16.08%",
        "职工 259,051 人，会员 101,240 人，覆盖率 39.08%",
        "区总指导：已到 0 / 28 个街乡，目标 ≥14 个（50%）",
    ]
    for line in expected:
        assert line in status
    tiers = next(line for line in status if line.startswith("按属地责任"))
    assert tiers.count("·") == 2  # street / district+street / city+district+street
    assert sum(int(part.split()[-1]) for part in tiers.split("：")[1].split(" · ")) == 204
    zones = [
        line for line in status if line.startswith(("中关村房山园", "海聚基地", "良工工业基地"))
    ]
    assert len(zones) == 3
    ranking = [line for line in status if RANKED.match(line)]
    assert len(ranking) == 28


async def test_a_street_officer_sees_their_own_street(demo_bot: Harness) -> None:
    async with demo_bot.app.bot_data.db.session() as session:
        street_id = (
            await session.exec(select(Street.id).where(Street.name == OFFICER_STREET))
        ).one()
        big = (col(Unit.street_id) == street_id) & (col(Unit.tax_headcount) >= 100)
        total = (await session.exec(select(func.count()).where(big))).one()
        share = (
            await session.exec(
                select(StreetTarget.new_units).where(StreetTarget.street_id == street_id)
            )
        ).one()
        on_ledger = (
            await session.exec(select(func.count()).where(LedgerEntry.street_id == street_id))
        ).one()
    status = lines(await ask(demo_bot, OFFICER_ID, "/status"))
    assert status[0] == f"📊 {OFFICER_STREET}工会组建进度 · 2018年3月15日"
    assert status[1].startswith("全区 28 个街乡中排第")
    assert any(line.startswith(f"共 {total} 家，已建会") for line in status)
    assert f"新增建会任务 0 / {share} 家 ░░░░░░░░░░ → 还差 {share} 家" in status
    assert f"台账：在账 {on_ledger} 家" in status
    assert "职工沟通会：已开 0 / 12 场 ░░░░░░░░░░ 还差 12 场" in status
    assert (
        "截止：百人以上建会 10月30日截止，还有 229 天 · 职工沟通会 11月30日截止，还有 260 天"
        in status
    )
    assert "本月报告（2018-03）：未提交，须于 3月20日前报送" in status
    # No other street's name: the ranking of every street is the district's view.
    assert "良乡镇" not in "\n".join(status)


async def test_an_officer_may_not_ask_for_another_street(demo_bot: Harness) -> None:
    assert texts(await demo_bot.send(demo_bot.api.user(OFFICER_ID), "/status 良乡")) == [
        seen("status.own_street_only", street=OFFICER_STREET)
    ]
    admin_view = lines(await ask(demo_bot, ADMIN_ID, "/status 良乡"))
    assert admin_view[0].startswith("📊 良乡镇工会组建进度")
    assert texts(await demo_bot.send(demo_bot.api.user(ADMIN_ID), "/status 不存在")) == [
        seen("status.street_unknown", name="不存在")
    ]


async def test_the_per_street_figures_add_up_to_the_district(demo_bot: Harness) -> None:
    district = lines(await ask(demo_bot, ADMIN_ID, "/status"))
    ranking = [line for line in district if RANKED.match(line)]
    street_names = [line.split()[1] for line in ranking]
    units = unionised = share = remaining = on_ledger = 0
    for name in street_names:
        street = lines(await ask(demo_bot, ADMIN_ID, f"/status {name}"))
        big = next(line for line in street if line.startswith("共 "))
        units += int(big.split()[1])
        unionised += int(big.split("已建会 ")[1].split()[0])
        task = next(line for line in street if line.startswith("新增建会任务"))
        share += int(task.split(" / ")[1].split()[0])
        remaining += int(task.split("还差 ")[1].split()[0])
        on_ledger += int(next(line for line in street if line.startswith("台账")).split()[1])
    assert (units, unionised, share, remaining, on_ledger) == (390, 186, 91, 91, 204)


async def test_an_unbound_group_gets_an_explanation(demo_bot: Harness) -> None:
    group = demo_bot.api.group_chat(GROUP_ID)
    assert texts(await demo_bot.send(demo_bot.api.user(ADMIN_ID), "/status", group)) == [
        seen("status.unbound_group")
    ]


async def bind(bot: Harness, label: str) -> None:
    group = bot.api.group_chat(GROUP_ID)
    menu = await ask(bot, ADMIN_ID, "/bind", group)
    await bot.press(bot.api.user(ADMIN_ID), menu, label)


async def test_a_bound_group_shows_only_its_scope(demo_bot: Harness) -> None:
    group = demo_bot.api.group_chat(GROUP_ID)
    await bind(demo_bot, OFFICER_STREET)
    # Anyone of the bot's officers in the group sees the group's street, not their own.
    status = lines(await ask(demo_bot, OTHER_OFFICER_ID, "/status", group))
    assert status[0].startswith(f"📊 {OFFICER_STREET}工会组建进度")
    await bind(demo_bot, "🏛 区总工会（全区）")
    status = lines(await ask(demo_bot, OFFICER_ID, "/status", group))
    assert status[0].startswith("📊 房山区工会组建进度")


async def test_only_admins_bind_groups_and_an_old_bind_button_is_rechecked(
    demo_bot: Harness,
) -> None:
    group = demo_bot.api.group_chat(GROUP_ID)
    assert texts(await demo_bot.send(demo_bot.api.user(OFFICER_ID), "/bind", group)) == [
        seen("access.admin_only")
    ]
    menu = await ask(demo_bot, ADMIN_ID, "/bind", group)
    # An officer presses the admin's menu in the group: refused, nothing bound.
    calls = await demo_bot.press(demo_bot.api.user(OFFICER_ID), menu, OFFICER_STREET)
    assert texts(calls) == [seen("access.admin_only")]
    async with demo_bot.app.bot_data.db.session() as session:
        assert (await session.exec(select(ChatBinding))).all() == []
    assert texts(await demo_bot.send(demo_bot.api.user(ADMIN_ID), "/bind")) == [
        seen("bind.group_only")
    ]


async def test_a_write_off_changes_every_figure_at_once_everywhere(demo_bot: Harness) -> None:
    district_group = demo_bot.api.group_chat(GROUP_ID)
    await bind(demo_bot, "🏛 区总工会（全区）")
    before_private = lines(await ask(demo_bot, ADMIN_ID, "/status"))
    before_group = lines(await ask(demo_bot, OFFICER_ID, "/status", district_group))
    assert before_private == before_group
    assert "共 390 家，已建会 186 家，建会率 47.69%（目标 ≥53%）" in before_private

    db, clock = demo_bot.app.bot_data.db, demo_bot.app.bot_data.clock
    async with db.session(write=True) as session:
        unit = (
            await session.exec(
                select(Unit).where(Unit.on_detail_table, col(Unit.tax_headcount) >= 1000)
            )
        ).first()
        assert unit is not None and unit.id is not None
        written_off = await record_completion(
            session=session, unit_id=unit.id, member_system_collected=True,
            legal_person_certified=True, by_user_id=OFFICER_ID, now=clock.now(),
            today=clock.today(),
        )  # fmt: skip
    assert written_off

    for after in (
        lines(await ask(demo_bot, ADMIN_ID, "/status")),
        lines(await ask(demo_bot, OFFICER_ID, "/status", district_group)),
    ):
        assert "共 390 家，已建会 187 家，建会率 47.95%（目标 ≥53%）" in after
        assert "还需建会：按53%建会率 20 家，按新增91户 90 家 → 还差 90 家" in after
        assert "本年新建会 1 / 91 家" in after
        assert "未建会 203 家，其中明细表内 197 家" in after
        assert "单位 15,099 家，已建会 2,429 家，建会率 16.09%" in after
        assert any("1000人以上 9（明细表 9）" in line for line in after)
    async with db.session() as session:
        entry = (
            await session.exec(select(LedgerEntry).where(LedgerEntry.unit_id == unit.id))
        ).one()
        assert entry.outcome == LedgerOutcome.WRITTEN_OFF
        actions = (await session.exec(select(AuditEntry.action))).all()
        assert {"unit.completion", "ledger.write_off"} <= set(actions)


async def test_the_drill_down_lives_in_one_message(demo_bot: Harness) -> None:
    admin = demo_bot.api.user(ADMIN_ID)
    status = await ask(demo_bot, ADMIN_ID, "/status")
    message_id = status["message_id"]
    steps = [
        "📋 未建会单位", "规模", "1000人以上", "1", "« 返回", "下一页 ▶", "« 返回",
    ]  # fmt: skip
    seen_texts = []
    for label in steps:
        calls = await demo_bot.press(admin, status, label)
        assert [c.method for c in calls if c.method.startswith(("send", "edit"))] == [
            "editMessageText"
        ]
        [status] = shown(calls)
        assert status["message_id"] == message_id
        seen_texts.append(visible(status["text"]))
    unit_list, band_menu, large, card, back, page_two, home = seen_texts
    assert unit_list.startswith("📋 全区未建会的百人以上单位：204 家")
    assert "第 1 / 26 页" in unit_list
    assert band_menu == "按规模筛选："
    assert large.startswith("📋 全区未建会的百人以上单位：10 家\n筛选：规模 1000人以上")
    headcounts = [int(line.split(" · ")[1].rstrip("人").replace(",", "")) for line in
                  large.splitlines() if RANKED.match(line)]  # fmt: skip
    assert len(headcounts) == 8 and min(headcounts) >= 1000
    first = large.splitlines()[3].split(" · ")[0].split(". ", 1)[1]
    assert card.startswith(f"🏢 {first}\n统一社会信用代码：")
    assert "规模：1000人以上" in card
    assert back == large
    assert "第 2 / 2 页" in page_two and page_two != large
    assert home.startswith("📊 房山区工会组建进度")


async def test_units_of_another_street_stay_hidden(demo_bot: Harness) -> None:
    officer = demo_bot.api.user(OFFICER_ID)
    mine = await ask(demo_bot, OFFICER_ID, "/status")
    [own_list] = shown(await demo_bot.press(officer, mine, "📋 未建会单位"))
    assert visible(own_list["text"]).startswith(f"📋 {OFFICER_STREET}未建会的百人以上单位")
    assert "街乡" not in [label for label, _ in buttons(own_list)]  # no street filter for them
    text_before = own_list["text"]
    async with demo_bot.app.bot_data.db.session() as session:
        other = (await session.exec(select(Street.id).where(Street.name == "良乡镇"))).one()
        foreign_unit = (await session.exec(select(Unit.id).where(Unit.street_id == other))).first()
    forged = [
        f"ul:s:{other}:-:-:-:-:0",  # another street's list
        "ul:d:-:-:-:-:-:0",  # the whole district's list
        f"uc:{foreign_unit}:s:{other}:-:-:-:-:0",  # another street's unit card
        f"uc:{foreign_unit}:s:{mine['text'] and buttons(mine)[0][1].split(':')[2]}:-:-:-:-:0",
        "ul:s:1:-:9:-:-:0",  # a band index the plan does not have
        f"st:s:{other}",  # another street's status
    ]
    for data in forged:
        calls = await demo_bot.process(
            demo_bot.api.callback_update(user=officer, message=own_list, data=data)
        )
        assert alerts(calls), data
        assert not [c for c in calls if c.method.startswith(("send", "edit"))], data
    assert own_list["text"] == text_before


async def test_a_plain_question_gets_the_status(demo_bot: Harness) -> None:
    [answer] = texts(await demo_bot.send(demo_bot.api.user(OFFICER_ID), "还差多少？"))
    assert answer.startswith(f"📊 {OFFICER_STREET}工会组建进度")
    await bind(demo_bot, OFFICER_STREET)
    group = demo_bot.api.group_chat(GROUP_ID)
    # In a group only what is addressed to the bot gets an answer.
    assert texts(await demo_bot.send(demo_bot.api.user(OFFICER_ID), "还差多少？", group)) == []
    username = demo_bot.app.bot.username
    [answer] = texts(
        await demo_bot.send(demo_bot.api.user(OFFICER_ID), f"@{username} 还差多少？", group)
    )
    assert answer.startswith(f"📊 {OFFICER_STREET}工会组建进度")


async def test_the_chart_is_a_png_of_every_street(demo_bot: Harness) -> None:
    calls = await demo_bot.send(demo_bot.api.user(OFFICER_ID), "/chart")
    [photo] = [c for c in calls if c.method == "sendPhoto"]
    assert photo.status == 200
    assert visible(str(photo.params["caption"])) == seen("chart.caption", date="2018年3月15日")
    image = Image.open(io.BytesIO(photo.files["photo"]))
    assert image.format == "PNG" and image.width >= 800
    # The button under a status sends the same chart.
    status = await ask(demo_bot, ADMIN_ID, "/status")
    calls = await demo_bot.press(demo_bot.api.user(ADMIN_ID), status, "📈 进度图")
    assert [c.method for c in calls if c.method == "sendPhoto"] == ["sendPhoto"]


async def test_the_status_speaks_english_when_asked(demo_bot: Harness) -> None:
    admin = demo_bot.api.user(ADMIN_ID)
    menu = await ask(demo_bot, ADMIN_ID, "/lang")
    await demo_bot.press(admin, menu, "lang:en")
    status = lines(await ask(demo_bot, ADMIN_ID, "/status"))
    assert status[0] == "📊 房山区: union formation progress · 2018-03-15"  # names are data
    assert "390 units, 186 unionised, rate 47.69% (target ≥53%)" in status
    assert "Still to unionise: 21 for the 53% rate, 91 for 91 new units → 91 left" in status
    assert "Pace and forecast" in status
    assert any(
        line.startswith("100+ unions: due 10-30, 229 days left; needs 2.8 units/week")
        for line in status
    )


async def test_every_filter_narrows_the_list(demo_bot: Harness) -> None:
    admin = demo_bot.api.user(ADMIN_ID)
    status = await ask(demo_bot, ADMIN_ID, "/status")
    [message] = shown(await demo_bot.press(admin, status, "📋 未建会单位"))
    expected = [
        ("属地责任", "市+区+街乡", "：1 家", "筛选：属地责任 市+区+街乡"),
        ("台账阶段", "摸底走访", "：1 家", "筛选：属地责任 市+区+街乡 · 台账阶段 摸底走访"),
        ("清除筛选", None, "：204 家", None),
        ("街乡", OFFICER_STREET, f"📋 {OFFICER_STREET}未建会的百人以上单位：23 家", None),
        ("重点园区", "中关村房山园", f"📋 {OFFICER_STREET}未建会的", "筛选：重点园区 中关村房山园"),
        ("台账阶段", "已发组建函", "：0 家", None),
    ]
    for dimension, choice, title, filters in expected:
        [message] = shown(await demo_bot.press(admin, message, dimension))
        if choice is not None:
            [message] = shown(await demo_bot.press(admin, message, choice))
        text = lines(message)
        assert title in text[0], (dimension, text[0])
        if filters is not None:
            assert text[1] == filters
    assert seen("units.empty") in lines(message)
