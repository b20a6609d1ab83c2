"""/compare, the three-way comparison, through the whole bot on the demo district with units of
known figures added: the counts each viewer may see, the lists page by page, the cards, the
spreadsheet read back, and forged buttons refused."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlmodel import select

from bot.fake_api import JSON, buttons, visible
from bot.harness import Harness, alerts, shown, texts
from bot.texts import t
from models.comparison import BlindSpot
from models.enums import Language, Role
from models.geography import street_ids
from models.officers import ensure_officer
from models.tables import DataImport, SourceUnit
from tests.conftest import ADMIN_ID, OFFICER_ID, OFFICER_STREET, OTHER_OFFICER_ID, seen
from tests.db.test_comparison import TAX_LIST_AT, add_units, code

GROUP_ID = -100700
WORKER_ID = 30001
OTHER_STREET = "良乡镇"


def lines(message: JSON) -> list[str]:
    return visible(message["text"]).splitlines()


async def ask(bot: Harness, user_id: int, text: str) -> JSON:
    [message] = shown(await bot.send(bot.api.user(user_id), text))
    return message


async def press(bot: Harness, user_id: int, message: JSON, label_or_data: str) -> JSON:
    [edited] = shown(await bot.press(bot.api.user(user_id), message, label_or_data))
    return edited


async def forge(bot: Harness, user_id: int, message: JSON, data: str) -> list[str]:
    """Press a button the message does not have (a forged or outdated callback): the alerts;
    nothing may be shown or sent."""
    calls = await bot.process(
        bot.api.callback_update(user=bot.api.user(user_id), message=message, data=data)
    )
    assert shown(calls) == []
    return alerts(calls)


async def add_fixture(bot: Harness) -> dict[str, int]:
    async with bot.app.bot_data.db.session(write=True) as session:
        return await add_units(session)


async def street_id(bot: Harness, name: str) -> int:
    async with bot.app.bot_data.db.session() as session:
        return (await street_ids(session=session))[name]


def count(message: JSON, spot: BlindSpot) -> int:
    label = seen(f"compare.spot.{spot.value}", percent="50")
    [line] = [line for line in lines(message) if line.startswith(f"· {label}：")]
    return int(line.split("：")[1].split()[0].replace(",", ""))


async def test_an_officer_compares_their_own_street(demo_bot: Harness) -> None:
    before = await ask(demo_bot, OFFICER_ID, "/compare")
    assert lines(before)[0] == seen("compare.title_street", street=OFFICER_STREET)
    # The demo has imported nothing: every figure is the baseline's.
    for source in ("units", "social", "member_system"):
        label = seen(f"compare.source.{source}")
        assert seen("compare.source_never", source=label) in lines(before)
    await add_fixture(demo_bot)
    after = await ask(demo_bot, OFFICER_ID, "/compare")
    shown_lines = lines(after)
    assert "· 税务名单：2018年3月10日 导入" in shown_lines
    assert "· 社保数据：2018年3月12日 导入" in shown_lines
    assert "· 会员系统：2018年3月10日 导入" in shown_lines
    added = {spot: count(after, spot) - count(before, spot) for spot in BlindSpot}
    # Of the fixture, the street's own: 甲 (100 by social security only), 丙 (40% members),
    # 庚 (no social-security record), 子 (social security only), 壬 (collected, no members);
    # 癸 and 寅 are 良乡镇's, 丑 names no street, 辛 has moved out.
    assert added == {
        BlindSpot.UNORGANISED_100: 1, BlindSpot.LOW_MEMBERSHIP: 1, BlindSpot.TAX_ONLY: 1,
        BlindSpot.SOCIAL_ONLY: 1, BlindSpot.MEMBER_SYSTEM_ONLY: 0,
        BlindSpot.NOT_IN_MEMBER_SYSTEM: 1,
    }  # fmt: skip
    assert count(after, BlindSpot.SOCIAL_ONLY) == 1
    assert "　其中 1 家只有社保人数达到 100 人（按税务数据看不到）" in shown_lines
    assert OTHER_STREET not in visible(after["text"])
    assert seen("compare.streets", legend="x").split("（")[0] not in visible(after["text"])
    labels = [label for label, _ in buttons(after)]
    assert labels[:2] == [f"百人未建 {count(after, BlindSpot.UNORGANISED_100)}", "会员偏低 1"]
    assert seen("compare.button_sheet") in labels
    assert seen("compare.button_streets") not in labels  # officers have one street


async def test_an_admin_sees_the_district_and_every_street(demo_bot: Harness) -> None:
    await add_fixture(demo_bot)
    district = await ask(demo_bot, ADMIN_ID, "/compare")
    shown_lines = lines(district)
    assert shown_lines[0] == seen("compare.title_district")
    assert count(district, BlindSpot.SOCIAL_ONLY) == 2
    assert count(district, BlindSpot.MEMBER_SYSTEM_ONLY) == 1
    start = shown_lines.index(seen("compare.streets", legend=" · ".join(
        seen(f"compare.short.{spot.value}") for spot in BlindSpot)))  # fmt: skip
    per_street = shown_lines[start + 1 : shown_lines.index("", start)]
    assert len(per_street) == 28 + 1
    assert per_street[-1] == "未标明街乡：0 · 0 · 0 · 1 · 0 · 0"
    figures = [[int(n.replace(",", "")) for n in line.split("：")[1].split(" · ")]
               for line in per_street]  # fmt: skip
    totals = [sum(column) for column in zip(*figures, strict=True)]
    assert totals == [count(district, spot) for spot in BlindSpot]
    [other] = [line for line in per_street if line.startswith(f"{OTHER_STREET}：")]
    assert other.split(" · ")[-2:] == ["1", "0"]  # 寅, only in the member system

    # One street, by the button and by name; and back to the district.
    choose = await press(demo_bot, ADMIN_ID, district, seen("compare.button_streets"))
    assert visible(choose["text"]) == seen("compare.choose_street")
    street = await press(demo_bot, ADMIN_ID, choose, OTHER_STREET)
    assert lines(street)[0] == seen("compare.title_street", street=OTHER_STREET)
    assert count(street, BlindSpot.MEMBER_SYSTEM_ONLY) == 1
    back = await press(demo_bot, ADMIN_ID, street, seen("compare.button_district"))
    assert visible(back["text"]) == visible(district["text"])
    named = await ask(demo_bot, ADMIN_ID, "/compare 拱辰")
    assert lines(named)[0] == seen("compare.title_street", street=OFFICER_STREET)
    assert texts(await demo_bot.send(demo_bot.api.user(ADMIN_ID), "/compare 不存在")) == [
        seen("status.street_unknown", name="不存在")
    ]


async def test_a_list_pages_by_eight_and_goes_back(demo_bot: Harness) -> None:
    await add_fixture(demo_bot)
    async with demo_bot.app.bot_data.db.session(write=True) as session:
        import_id = (
            await session.exec(select(DataImport.id).where(DataImport.kind == "social"))
        ).one()
        assert import_id is not None
        gongchen = (await street_ids(session=session))[OFFICER_STREET]
        session.add_all(
            SourceUnit(source="social", credit_code=code(300 + n), name=f"社保单位{n}",
                       street_id=gongchen, headcount=n, import_id=import_id)
            for n in range(1, 11)
        )  # fmt: skip
    overview = await ask(demo_bot, OFFICER_ID, "/compare")
    first = await press(demo_bot, OFFICER_ID, overview, "仅社保 11")
    shown_lines = lines(first)
    assert shown_lines[0] == f"🔍 {OFFICER_STREET} · 社保有、单位库无：11 家"
    assert shown_lines[2] == "1. 子·只在社保 · 社保 230 人"  # the largest first
    assert shown_lines[3:10] == [f"{n}. 社保单位{12 - n} · 社保 {12 - n} 人" for n in range(2, 9)]
    assert seen("compare.page", page=1, pages=2) in shown_lines
    assert [label for label, _ in buttons(first)] == [
        *map(str, range(1, 9)), seen("button.next"), seen("button.back"),
    ]  # fmt: skip
    second = await press(demo_bot, OFFICER_ID, first, seen("button.next"))
    assert lines(second)[2:5] == [f"{n}. 社保单位{4 - n} · 社保 {4 - n} 人" for n in (1, 2, 3)]
    assert seen("compare.page", page=2, pages=2) in lines(second)
    again = await press(demo_bot, OFFICER_ID, second, seen("button.prev"))
    assert visible(again["text"]) == visible(first["text"])
    home = await press(demo_bot, OFFICER_ID, again, seen("button.back"))
    assert visible(home["text"]) == visible(overview["text"])


async def test_the_unit_social_security_alone_puts_over_100_is_marked(demo_bot: Harness) -> None:
    await add_fixture(demo_bot)
    gongchen = await street_id(demo_bot, OFFICER_STREET)
    overview = await ask(demo_bot, OFFICER_ID, "/compare")
    total = count(overview, BlindSpot.UNORGANISED_100)
    # A page past the end shows the last one, where 甲, at exactly 100, comes last.
    calls = await demo_bot.process(
        demo_bot.api.callback_update(
            user=demo_bot.api.user(OFFICER_ID), message=overview, data=f"cmp:l:{gongchen}:b:999"
        )
    )
    [end] = shown(calls)
    numbered = [line for line in lines(end) if line[:1].isdigit() and ". " in line]
    assert numbered[-1].endswith("甲·社保恰好百人 · 个税 80 · 社保 100 · ⚠️仅社保人数达标")
    assert seen("compare.page", page=-(-total // 8), pages=-(-total // 8)) in lines(end)


async def test_a_unit_line_opens_its_card_and_back(demo_bot: Harness) -> None:
    await add_fixture(demo_bot)
    overview = await ask(demo_bot, OFFICER_ID, "/compare")
    low = await press(demo_bot, OFFICER_ID, overview, "会员偏低 1")
    assert lines(low)[0] == f"🔍 {OFFICER_STREET} · 已采集但会员不足职工的 50%：1 家"
    assert lines(low)[2] == "1. 丙·会员四成 · 职工 150 · 会员 60（40%）"
    card = await press(demo_bot, OFFICER_ID, low, "1")
    assert lines(card)[0] == seen("card.title", name="丙·会员四成")
    assert seen("card.headcount", tax="150", social="140", members="60") in lines(card)
    back = await press(demo_bot, OFFICER_ID, card, seen("button.back"))
    assert visible(back["text"]) == visible(low["text"])

    social = await press(demo_bot, OFFICER_ID, back, seen("button.back"))
    listed = await press(demo_bot, OFFICER_ID, social, "仅社保 1")
    source = await press(demo_bot, OFFICER_ID, listed, "1")
    assert lines(source) == [
        "🏢 子·只在社保",
        f"统一社会信用代码：{code(100)}",
        f"所属：{OFFICER_STREET}",
        "来源：社保数据，参保 230 人",
        "导入：社保.xlsx（2018年3月12日）",
        "",
        seen("compare.card.note_social"),
    ]


async def test_forged_buttons_show_an_officer_nothing_of_another_street(
    demo_bot: Harness,
) -> None:
    ids = await add_fixture(demo_bot)
    gongchen = await street_id(demo_bot, OFFICER_STREET)
    liangxiang = await street_id(demo_bot, OTHER_STREET)
    async with demo_bot.app.bot_data.db.session() as session:
        orphan = (
            await session.exec(select(SourceUnit.id).where(SourceUnit.credit_code == code(102)))
        ).one()
    overview = await ask(demo_bot, OFFICER_ID, "/compare")
    refused = [seen("compare.refused")]
    sends = len([c for c in demo_bot.api.calls if c.method == "sendDocument"])
    for data in (
        "cmp:h:-",  # the district
        "cmp:f",  # the street chooser
        f"cmp:h:{liangxiang}",
        f"cmp:l:{liangxiang}:b:0",
        f"cmp:x:{liangxiang}",
        "cmp:x:-",
        f"cmp:u:{ids['癸·大单位']}:{gongchen}:b:0",  # 良乡镇's unit, dressed as 拱辰's
        f"cmp:u:{ids['癸·大单位']}:-:b:0",
        f"cmp:o:{orphan}:{gongchen}:y:0",  # 良乡镇's member-system row
    ):
        assert await forge(demo_bot, OFFICER_ID, overview, data) == refused, data
    assert len([c for c in demo_bot.api.calls if c.method == "sendDocument"]) == sends
    # The other street's officer is refused 拱辰's in the same way.
    assert await forge(demo_bot, OTHER_OFFICER_ID, overview, f"cmp:l:{gongchen}:s:0") == refused
    # An admin may see any street, but not one that does not exist.
    assert await forge(demo_bot, ADMIN_ID, overview, "cmp:h:999999") == refused
    # Malformed data is not the comparison's at all: the stale-button answer.
    calls = await demo_bot.process(
        demo_bot.api.callback_update(
            user=demo_bot.api.user(OFFICER_ID), message=overview, data=f"cmp:l:{gongchen}:z:0"
        )
    )
    assert alerts(calls) == [seen("button.stale")] and shown(calls) == []


async def test_only_admins_and_street_officers_in_a_private_chat(demo_bot: Harness) -> None:
    async with demo_bot.app.bot_data.db.session(write=True) as session:
        await ensure_officer(
            session=session, telegram_user_id=WORKER_ID, role=Role.COMMUNITY_WORKER,
            street_name=OFFICER_STREET, display_name="社区", language=Language.ZH,
            now=TAX_LIST_AT,
        )  # fmt: skip
    assert texts(await demo_bot.send(demo_bot.api.user(WORKER_ID), "/compare")) == [
        seen("compare.officers_only")
    ]
    group = demo_bot.api.group_chat(GROUP_ID)
    assert texts(await demo_bot.send(demo_bot.api.user(ADMIN_ID), "/compare", group)) == [
        seen("flow.private_chat")
    ]
    assert texts(await demo_bot.send(demo_bot.api.user(OFFICER_ID), "/compare 良乡")) == [
        seen("status.own_street_only", street=OFFICER_STREET)
    ]
    stranger = await demo_bot.send(demo_bot.api.user(40404), "/compare")
    assert texts(stranger) == [seen("access.refused")]


def workbook_of(bot: Harness) -> dict[str, list[tuple[object, ...]]]:
    [call] = [c for c in bot.api.calls if c.method == "sendDocument"][-1:]
    book = load_workbook(io.BytesIO(call.files["document"]), read_only=True)
    return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in book}


async def test_the_spreadsheet_has_a_sheet_per_blind_spot(demo_bot: Harness) -> None:
    await add_fixture(demo_bot)
    district = await ask(demo_bot, ADMIN_ID, "/compare")
    calls = await demo_bot.press(
        demo_bot.api.user(ADMIN_ID), district, seen("compare.button_sheet")
    )
    [document] = [c.result for c in calls if c.method == "sendDocument"]
    assert visible(document["caption"]) == seen(
        "compare.file_caption", scope="全区", date="2018年3月15日"
    )
    book = workbook_of(demo_bot)
    titles = [t(f"compare.sheet.{spot.value}", Language.ZH) for spot in BlindSpot]
    assert list(book) == titles
    for spot, title in zip(BlindSpot, titles, strict=True):
        assert len(book[title]) - 1 == count(district, spot), spot  # the header, then each unit
    social = book[t("compare.sheet.social_only", Language.ZH)]
    assert social == [
        ("单位名称", "统一社会信用代码", "街乡", "社保人数"),
        ("子·只在社保", code(100), OFFICER_STREET, 230),
        ("丑·只在社保无街乡", code(101), "未标明街乡", 15),
    ]
    low = book[t("compare.sheet.low_membership", Language.ZH)]
    assert ("丙·会员四成", code(2), OFFICER_STREET, 150, 140, 60, 0.4) in low
    unorganised = book[t("compare.sheet.unorganised_100", Language.ZH)]
    assert unorganised[0][-1] == "仅社保人数达百人"
    assert ("甲·社保恰好百人", code(0), OFFICER_STREET, 80, 100, 0, "否", "否", "是") in unorganised
    heads = [max(n for n in row[3:5] if isinstance(n, int)) for row in unorganised[1:]]
    assert heads == sorted(heads, reverse=True)

    # An officer's spreadsheet is their street's only.
    overview = await ask(demo_bot, OFFICER_ID, "/compare")
    await demo_bot.press(demo_bot.api.user(OFFICER_ID), overview, seen("compare.button_sheet"))
    mine = workbook_of(demo_bot)
    assert list(mine) == titles
    rows = [row for sheet in mine.values() for row in sheet[1:]]
    assert rows and {row[2] for row in rows} == {OFFICER_STREET}
    assert len(mine[t("compare.sheet.unorganised_100", Language.ZH)]) - 1 == count(
        overview, BlindSpot.UNORGANISED_100
    )
