"""/export in the chat: kind, street (admins), period, format, then the file, all in one
message; an officer gets their own street's ledger, meetings and reports and nothing else,
whatever button data they send."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from openpyxl import load_workbook
from sqlmodel import func, select

from bot.fake_api import JSON, ApiCall, buttons, visible
from bot.harness import Harness, alerts, shown
from models.enums import Language, Role
from models.officers import ensure_officer
from models.tables import LedgerEntry, Street
from tests.conftest import ADMIN_ID, OFFICER_ID, OFFICER_STREET, OTHER_STREET, seen
from tests.db.test_exports import add_meetings

WORKER_ID = 20009
XLSX, CSV = seen("export.format.xlsx"), seen("export.format.csv")


async def say(bot: Harness, text: str, user_id: int, chat: JSON | None = None) -> list[JSON]:
    return shown(await bot.send(bot.api.user(user_id), text, chat))


async def press(bot: Harness, message: JSON, label: str, user_id: int) -> list[ApiCall]:
    return await bot.press(bot.api.user(user_id), message, label)


async def forge(bot: Harness, message: JSON, data: str, user_id: int) -> list[ApiCall]:
    return await bot.process(bot.api.callback_update(user=bot.api.user(user_id), message=message,
                                                     data=data))  # fmt: skip


def documents(calls: list[ApiCall]) -> list[ApiCall]:
    return [c for c in calls if c.method == "sendDocument"]


def labels(message: JSON) -> list[str]:
    return [label for label, _ in buttons(message)]


def last_text(calls: list[ApiCall]) -> str:
    return visible(shown(calls)[-1]["text"])


async def street_id(bot: Harness, name: str) -> int:
    async with bot.app.bot_data.db.session() as session:
        found = (await session.exec(select(Street.id).where(Street.name == name))).one()
    assert found is not None
    return found


async def ledger_entries(bot: Harness, name: str) -> int:
    sid = await street_id(bot, name)
    async with bot.app.bot_data.db.session() as session:
        query = select(func.count()).select_from(LedgerEntry).where(LedgerEntry.street_id == sid)
        return int((await session.exec(query)).one())


def workbook_rows(call: ApiCall) -> list[tuple[object, ...]]:
    ws = load_workbook(io.BytesIO(call.files["document"])).active
    assert ws is not None
    return list(ws.iter_rows(values_only=True))


def csv_rows(call: ApiCall) -> list[list[str]]:
    return list(csv.reader(io.StringIO(call.files["document"].decode("utf-8-sig"))))


async def test_an_admin_exports_a_streets_ledger(demo_bot: Harness) -> None:
    [menu] = await say(demo_bot, "/export", ADMIN_ID)
    assert visible(menu["text"]) == seen("export.choose_kind")
    assert {"台账", "会议时间表", "月报季报", "街乡排名", "会员名单", "单位名单"} <= set(
        labels(menu)
    )
    [streets] = shown(await press(demo_bot, menu, "台账", ADMIN_ID))
    assert visible(streets["text"]) == seen("export.choose_street", kind="台账")
    assert labels(streets)[0] == "全区" and OFFICER_STREET in labels(streets)
    [formats] = shown(await press(demo_bot, streets, OFFICER_STREET, ADMIN_ID))
    assert visible(formats["text"]) == seen("export.choose_format", kind="台账",
                                            scope=OFFICER_STREET, period="")  # fmt: skip
    assert labels(formats) == [XLSX, CSV, "« 返回"]

    calls = await press(demo_bot, formats, XLSX, ADMIN_ID)
    [document] = documents(calls)
    rows = workbook_rows(document)
    entries = await ledger_entries(demo_bot, OFFICER_STREET)
    assert rows[0][:4] == ("所属街乡", "单位名称", "统一社会信用代码", "个税人数")
    assert len(rows) - 1 == entries and {r[0] for r in rows[1:]} == {OFFICER_STREET}
    assert document.result["caption"] == seen("export.caption", kind="台账", scope=OFFICER_STREET,
                                              period="", rows=entries)  # fmt: skip
    # The one message ends saying what was made; its buttons are gone.
    assert last_text(calls) == seen("export.done", kind="台账", scope=OFFICER_STREET, period="",
                                    rows=entries)  # fmt: skip
    assert buttons(shown(calls)[-1]) == []


async def test_an_admin_exports_a_months_meetings_with_the_way_back(demo_bot: Harness) -> None:
    await add_meetings(demo_bot.app.bot_data.db)
    [menu] = await say(demo_bot, "/export", ADMIN_ID)
    [streets] = shown(await press(demo_bot, menu, "会议时间表", ADMIN_ID))
    [periods] = shown(await press(demo_bot, streets, "全区", ADMIN_ID))
    assert visible(periods["text"]) == seen("export.choose_period", kind="会议时间表", scope="全区")
    assert labels(periods) == ["本月 · 2018年3月", "上月 · 2018年2月", "本季度 · 2018年第1季度",
                               "今年 · 2018年", "全部时间", "« 返回"]  # fmt: skip
    [back] = shown(await press(demo_bot, periods, "« 返回", ADMIN_ID))
    assert visible(back["text"]) == seen("export.choose_street", kind="会议时间表")
    [periods] = shown(await press(demo_bot, back, "全区", ADMIN_ID))
    [formats] = shown(await press(demo_bot, periods, "本月 · 2018年3月", ADMIN_ID))
    assert visible(formats["text"]) == seen("export.choose_format", kind="会议时间表", scope="全区",
                                            period=" · 2018年3月")  # fmt: skip
    [document] = documents(await press(demo_bot, formats, CSV, ADMIN_ID))
    rows = csv_rows(document)
    assert rows[0][:3] == ["所属街乡", "日期", "会议类型"]
    assert [(r[0], r[1], r[2]) for r in rows[1:]] == [
        (OFFICER_STREET, "2018-03-05", "职工沟通会"),
        (OTHER_STREET, "2018-03-08", "职工沟通会"),
    ]


async def test_nothing_to_export_says_so_and_sends_no_file(demo_bot: Harness) -> None:
    [menu] = await say(demo_bot, "/export", ADMIN_ID)
    [streets] = shown(await press(demo_bot, menu, "会员名单", ADMIN_ID))
    [periods] = shown(await press(demo_bot, streets, "全区", ADMIN_ID))
    [formats] = shown(await press(demo_bot, periods, "全部时间", ADMIN_ID))
    calls = await press(demo_bot, formats, XLSX, ADMIN_ID)
    assert documents(calls) == []
    assert last_text(calls) == seen("export.empty", kind="会员名单", scope="全区",
                                    period=" · 全部时间")  # fmt: skip


async def test_every_unit_of_the_district_with_progress(demo_bot: Harness) -> None:
    [menu] = await say(demo_bot, "/export", ADMIN_ID)
    [streets] = shown(await press(demo_bot, menu, "单位名单", ADMIN_ID))
    [formats] = shown(await press(demo_bot, streets, "全区", ADMIN_ID))
    calls = await press(demo_bot, formats, XLSX, ADMIN_ID)
    [document] = documents(calls)
    assert len(workbook_rows(document)) - 1 == 15_099
    said = [visible(str(c.params["text"])) for c in calls if c.method == "editMessageText"]
    labels_ = {"kind": "单位名单", "scope": "全区", "period": ""}
    assert said[0] == seen("export.working", **labels_)
    assert said[-1] == seen("export.done", rows="15,099", **labels_)
    # Whatever progress was shown on the way counts rows of the 15,099.
    progress = seen("export.progress", done="#", total="15,099", **labels_).split("#")
    assert all(s.startswith(progress[0]) and s.endswith(progress[1]) for s in said[1:-1])


async def test_an_officer_exports_their_own_street_only(demo_bot: Harness) -> None:
    [menu] = await say(demo_bot, "/export", OFFICER_ID)
    assert labels(menu) == ["台账", "会议时间表", "月报季报", "三方比对"]
    # No street to choose: the officer's own is taken.
    [formats] = shown(await press(demo_bot, menu, "台账", OFFICER_ID))
    assert visible(formats["text"]) == seen("export.choose_format", kind="台账",
                                            scope=OFFICER_STREET, period="")  # fmt: skip
    [document] = documents(await press(demo_bot, formats, CSV, OFFICER_ID))
    rows = csv_rows(document)
    assert len(rows) - 1 == await ledger_entries(demo_bot, OFFICER_STREET)
    assert {r[0] for r in rows[1:]} == {OFFICER_STREET}

    [menu] = await say(demo_bot, "/export", OFFICER_ID)  # the first message is the file's now
    [periods] = shown(await press(demo_bot, menu, "月报季报", OFFICER_ID))
    assert labels(periods) == ["本月 · 2018年3月", "上月 · 2018年2月", "本季度 · 2018年第1季度",
                               "上季度 · 2017年第4季度", "« 返回"]  # fmt: skip
    [formats] = shown(await press(demo_bot, periods, "本月 · 2018年3月", OFFICER_ID))
    [document] = documents(await press(demo_bot, formats, XLSX, OFFICER_ID))
    assert [(r[0], r[2]) for r in workbook_rows(document)[1:]] == [(OFFICER_STREET, "未报送")]


async def test_forged_buttons_are_refused_and_change_nothing(demo_bot: Harness) -> None:
    own, other = await street_id(demo_bot, OFFICER_STREET), await street_id(demo_bot, OTHER_STREET)
    [menu] = await say(demo_bot, "/export", OFFICER_ID)
    for data in [
        f"ex:ledger:{other}:-:x",
        f"ex:ledger:{other}",
        "ex:ledger:all:-:c",
        "ex:members",
        f"ex:members:{own}:all:x",
        f"ex:ranking:{own}:-:x",
        f"ex:ledger:{own}:2018-03:x",
        f"ex:meetings:{own}:-:x",
        f"ex:reports:{own}:2018:x",
        f"ex:reports:{own}:all:x",
        f"ex:units:{own}",
    ]:
        calls = await forge(demo_bot, menu, data, OFFICER_ID)
        assert alerts(calls) == [seen("export.refused")], data
        assert documents(calls) == [] and shown(calls) == [], data
    # Not even a district admin gets a street that does not exist, or a year of reports.
    for data in ["ex:ledger:999999:-:x", "ex:reports:all:2018:x", "ex:units:all:2018-03:x"]:
        calls = await forge(demo_bot, menu, data, ADMIN_ID)
        assert alerts(calls) == [seen("export.refused")], data
        assert documents(calls) == [] and shown(calls) == [], data


async def test_who_may_not_export_and_where(demo_bot: Harness) -> None:
    async with demo_bot.app.bot_data.db.session(write=True) as session:
        await ensure_officer(
            session=session, telegram_user_id=WORKER_ID, role=Role.COMMUNITY_WORKER,
            street_name=OFFICER_STREET, display_name="社区", language=Language.ZH,
            now=datetime(2018, 3, 1, tzinfo=UTC),
        )  # fmt: skip
    [refused] = await say(demo_bot, "/export", WORKER_ID)
    assert visible(refused["text"]) == seen("export.not_allowed")
    [menu] = await say(demo_bot, "/export", ADMIN_ID)
    calls = await forge(demo_bot, menu, "ex:menu", WORKER_ID)
    assert alerts(calls) == [seen("export.refused")]
    group = demo_bot.api.group_chat(-100123)
    [private] = await say(demo_bot, "/export", ADMIN_ID, chat=group)
    assert visible(private["text"]) == seen("flow.private_chat")


async def test_in_english(demo_bot: Harness) -> None:
    [menu] = await say(demo_bot, "/lang", ADMIN_ID)
    await press(demo_bot, menu, "English", ADMIN_ID)
    [menu] = await say(demo_bot, "/export", ADMIN_ID)
    [streets] = shown(await press(demo_bot, menu, "Street ranking", ADMIN_ID))
    [formats] = shown(await press(demo_bot, streets, "district", ADMIN_ID))
    [document] = documents(await press(demo_bot, formats, seen("export.format.xlsx", "en"),
                                       ADMIN_ID))  # fmt: skip
    rows = workbook_rows(document)
    assert rows[0][:3] == ("Place", "Street", "Share (units)") and len(rows) == 29
    assert document.result["caption"] == seen("export.caption", "en", kind="Street ranking",
                                              scope="district", period="", rows=28)  # fmt: skip


async def test_a_workbook_of_several_sheets_comes_as_one_csv_each(demo_bot: Harness) -> None:
    kind = seen("export.kind.comparison")
    [menu] = await say(demo_bot, "/export", ADMIN_ID)
    [streets] = shown(await press(demo_bot, menu, kind, ADMIN_ID))
    [formats] = shown(await press(demo_bot, streets, "全区", ADMIN_ID))
    [workbook] = documents(await press(demo_bot, formats, XLSX, ADMIN_ID))
    book = load_workbook(io.BytesIO(workbook.files["document"]))
    assert len(book.sheetnames) > 1
    [menu] = await say(demo_bot, "/export", ADMIN_ID)
    [streets] = shown(await press(demo_bot, menu, kind, ADMIN_ID))
    [formats] = shown(await press(demo_bot, streets, "全区", ADMIN_ID))
    sent = documents(await press(demo_bot, formats, CSV, ADMIN_ID))
    assert len(sent) == len(book.sheetnames)
    for call, title in zip(sent, book.sheetnames, strict=True):
        ws = book[title]
        assert csv_rows(call)[0] == [str(c.value) for c in ws[1]]
        assert len(csv_rows(call)) == ws.max_row
