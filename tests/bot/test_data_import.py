"""A district admin sends the tax list, a social-security sheet or member-system records:
one message from reading to the report, an annotated copy of the sheet when rows are wrong,
nothing written before the button, then exactly the good rows; officers are refused."""

from __future__ import annotations

import asyncio
import io
from typing import Any

from openpyxl import load_workbook
from sqlmodel import col, func, select
from telegram import Message, Update

from bot.fake_api import JSON, buttons, visible
from bot.harness import Harness, alerts, shown
from handlers.live_progress import LiveProgress
from models.tables import DataImport, SourceUnit, Street, Unit
from tests.conftest import ADMIN_ID, OFFICER_ID, seen
from tests.db.test_unit_import import HEAD, code, tax_list, xlsx


async def send_file(bot: Harness, data: bytes, name: str, user_id: int = ADMIN_ID) -> list[JSON]:
    update = bot.api.file_update(user=bot.api.user(user_id), data=data, kind="document",
                                 file_name=name)  # fmt: skip
    return shown(await bot.process(update))


def with_button(message_id: int, chat: JSON, data: str) -> JSON:
    """A bot message carrying one button with `data`: replayed, or forged."""
    keyboard = {"inline_keyboard": [[{"text": "ok", "callback_data": data}]]}
    return {
        "message_id": message_id,
        "chat": chat,
        "date": 0,
        "text": "x",
        "reply_markup": keyboard,
    }


def attached(bot: Harness) -> Any:
    [call] = [c for c in bot.api.calls if c.method == "sendDocument"][-1:]
    return load_workbook(io.BytesIO(call.files["document"])).active


async def count(bot: Harness, table: type, *where: Any) -> int:
    async with bot.app.bot_data.db.session() as session:
        query = select(func.count()).select_from(table).where(*where)
        return int((await session.exec(query)).one())


async def test_the_tax_list_reported_then_imported_once(demo_bot: Harness) -> None:
    units_before = await count(demo_bot, Unit)
    async with demo_bot.app.bot_data.db.session() as session:
        listed = (await session.exec(select(Street.id).where(
            col(Street.name).in_(["拱辰街道", "良乡镇", "城关街道"])))).all()  # fmt: skip
    # The list names three streets: their units it leaves out are flagged, not deleted.
    left_out = await count(demo_bot, Unit, col(Unit.street_id).in_(listed))
    messages = await send_file(demo_bot, xlsx(tax_list()), "明细表.xlsx")
    report, copy = messages[-2], messages[-1]
    text = visible(report["text"])
    said = [visible(str(c.params["text"])) for c in demo_bot.api.calls
            if c.method in ("sendMessage", "editMessageText")]  # fmt: skip
    assert said[:2] == [seen("data_import.reading", file="明细表.xlsx"),
                        seen("data_import.checking", file="明细表.xlsx", rows=9)]  # fmt: skip
    assert "识别为：单位名单（税务明细）" in text
    assert "• 统一社会信用代码 ← C 列“统一社会信用代码”" in text
    assert "不读取的列：序号" in text
    assert seen("data_import.counts", rows=9, good=3, bad=6) in text
    assert seen("data_import.units_plan", new=3, changed=0, unchanged=0) in text
    assert seen("data_import.units_flagged", flagged=f"{left_out:,}") in text
    assert "❌ 第 6 行 · C 列“统一社会信用代码”：与第 3 行的信用代码重复" in text
    assert "❌ 第 10 行 · E 列“个税人数”：" + seen("data_import.problem.formula") in text
    assert seen("data_import.nothing_written") in text
    assert copy["caption"] == seen("data_import.annotated_caption", count=6)
    sheet = attached(demo_bot)
    header = [c.value for c in sheet[1]]
    assert header == ["原行号", *HEAD, "问题"]
    by_row = {r[0].value: r for r in sheet.iter_rows(min_row=2)}
    assert sorted(by_row) == list(range(3, 12))  # every row, by its number in the sheet
    assert by_row[5][3].fill.fgColor.rgb.endswith("FFC7CE")  # the wrong code is red
    assert by_row[3][3].fill.fgColor.rgb == "00000000" and by_row[3][-1].value is None
    assert "校验位" in by_row[5][-1].value
    assert await count(demo_bot, Unit) == units_before  # nothing before the button

    pressed = buttons(report)[0][1]
    done = shown(await demo_bot.press(demo_bot.api.user(ADMIN_ID), report, "✅ 导入有效的 3 行"))
    assert visible(done[-1]["text"]) == seen(
        "data_import.done_units", file="明细表.xlsx", inserted=3, updated=0, unchanged=0,
        flagged=f"{left_out:,}",
    )  # fmt: skip
    assert await count(demo_bot, Unit, col(Unit.missing_since).is_not(None)) == left_out
    assert await count(demo_bot, Unit) == units_before + 3
    replayed = with_button(report["message_id"], report["chat"], pressed)
    calls = await demo_bot.press(demo_bot.api.user(ADMIN_ID), replayed, "ok")
    assert alerts(calls) == [seen("button.stale")]  # a second press imports nothing
    assert await count(demo_bot, Unit) == units_before + 3

    # The same file again: the report says so, and importing changes nothing.
    report = (await send_file(demo_bot, xlsx(tax_list()), "明细表.xlsx"))[-2]
    assert seen("data_import.nothing_changes") in visible(report["text"])
    assert seen("data_import.units_still_missing", count=f"{left_out:,}") in visible(report["text"])
    await demo_bot.press(demo_bot.api.user(ADMIN_ID), report, "✅ 导入有效的 3 行")
    assert await count(demo_bot, Unit) == units_before + 3
    async with demo_bot.app.bot_data.db.session() as session:
        runs = (await session.exec(select(DataImport).order_by(col(DataImport.id)))).all()
    assert [(r.inserted, r.unchanged, r.by_user_id) for r in runs] == [
        (3, 0, ADMIN_ID), (0, 3, ADMIN_ID),
    ]  # fmt: skip


async def test_a_sheet_of_two_kinds_can_be_read_as_the_other(demo_bot: Harness) -> None:
    sheet = [["单位名称", "统一社会信用代码", "所属街乡", "个税人数", "社保人数"],
             ["北京社保公司", code(60), "拱辰街道", 90, 130]]  # fmt: skip
    report = (await send_file(demo_bot, xlsx(sheet), "units.xlsx"))[-1]
    assert "单位名单（税务明细）" in visible(report["text"])
    as_social = shown(
        await demo_bot.press(demo_bot.api.user(ADMIN_ID), report, "改按“社保参保人数”读取")
    )
    text = visible(as_social[-1]["text"])
    assert "识别为：社保参保人数" in text
    assert seen("data_import.counts_plan", codes=1, changed=0, unchanged=0, sources=1) in text
    await demo_bot.press(demo_bot.api.user(ADMIN_ID), as_social[-1], "✅ 导入有效的 1 行")
    assert await count(demo_bot, SourceUnit, col(SourceUnit.credit_code) == code(60)) == 1
    assert await count(demo_bot, Unit, col(Unit.credit_code) == code(60)) == 0


async def test_officers_may_not_import_the_districts_data(demo_bot: Harness) -> None:
    units_before = await count(demo_bot, Unit)
    replies = await send_file(demo_bot, xlsx(tax_list()), "明细表.xlsx", user_id=OFFICER_ID)
    assert [visible(m["text"]) for m in replies] == [seen("data_import.admins_only")]
    forged = with_button(replies[0]["message_id"], replies[0]["chat"], "di:ok:0123abcd")
    calls = await demo_bot.press(demo_bot.api.user(OFFICER_ID), forged, "ok")
    assert alerts(calls) == [seen("data_import.admins_only")]
    assert await count(demo_bot, Unit) == units_before


async def test_stale_and_bad_files(demo_bot: Harness) -> None:
    admin = demo_bot.api.user(ADMIN_ID)
    forged = with_button(1, {"id": ADMIN_ID, "type": "private"}, "di:ok:0123abcd")
    assert alerts(await demo_bot.press(admin, forged, "ok")) == [seen("button.stale")]
    nothing = await send_file(demo_bot, xlsx([["名称", "备注"], ["甲", "乙"]]), "x.xlsx")
    assert visible(nothing[-1]["text"]) == seen(
        "data_import.no_columns", missing="统一社会信用代码、社保人数"
    )
    corrupt = await send_file(demo_bot, b"PK\x03\x04 not really a workbook", "x.xlsx")
    assert visible(corrupt[-1]["text"]) == seen("member_import.file.corrupt")
    locked = bytes.fromhex("d0cf11e0a1b11ae1") + "EncryptionInfo".encode("utf-16-le")
    assert visible((await send_file(demo_bot, locked, "x.xlsx"))[-1]["text"]) == seen(
        "member_import.file.encrypted"
    )
    picture = await send_file(demo_bot, b"\x89PNG\r\n\x1a\n\x00\x00", "x.csv")
    assert visible(picture[-1]["text"]) == seen("member_import.file.not_spreadsheet")
    empty = await send_file(demo_bot, xlsx([HEAD]), "x.xlsx")
    assert visible(empty[-1]["text"]) == seen("data_import.empty")
    gbk = f"单位名称,统一社会信用代码,所属街乡,个税人数\n北京甲公司,{code(1)},拱辰,１２０\n"
    report = (await send_file(demo_bot, gbk.encode("gbk"), "list.csv"))[-1]
    assert seen("data_import.counts", rows=1, good=1, bad=0) in visible(report["text"])
    assert buttons(report)[0][0] == "✅ 导入有效的 1 行"


async def test_progress_edits_one_message_from_a_worker_thread(demo_bot: Harness) -> None:
    [status] = shown(await demo_bot.send(demo_bot.api.user(ADMIN_ID), "/help"))[-1:]
    sent = Message.de_json(status, demo_bot.app.bot)
    assert sent is not None
    progress = LiveProgress(sent, lambda done, total: f"{done} / {total}", every=0)

    def work() -> None:
        for n in (10_000, 20_000, 30_000):
            progress(n, 30_000)

    await asyncio.to_thread(work)
    await progress.settle()
    edits = [c.params["text"] for c in demo_bot.api.calls if c.method == "editMessageText"]
    assert edits == ["10000 / 30000", "20000 / 30000", "30000 / 30000"]


async def test_a_unit_the_tax_list_left_out_says_so_on_its_card(demo_bot: Harness) -> None:
    sheet = [HEAD, [1, "北京甲公司", code(1), "拱辰街道", 120, 118, ""]]
    report = (await send_file(demo_bot, xlsx(sheet), "拱辰.xlsx"))[-1]
    await demo_bot.press(demo_bot.api.user(ADMIN_ID), report, "✅ 导入有效的 1 行")
    async with demo_bot.app.bot_data.db.session() as session:
        gone = (
            await session.exec(select(Unit).where(col(Unit.missing_since).is_not(None)))
        ).first()
    assert gone is not None
    card = shown(await demo_bot.send(demo_bot.api.user(OFFICER_ID), f"/unit {gone.credit_code}"))
    assert "导入的税务名单中没有这个单位" in visible(card[-1]["text"])


async def test_others_are_answered_while_a_large_sheet_is_read(demo_bot: Harness) -> None:
    rows = [HEAD] + [
        [i, f"单位{i}", code(1000 + i), "拱辰街道", 150, 150, ""] for i in range(20_000)
    ]
    update = demo_bot.api.file_update(user=demo_bot.api.user(ADMIN_ID), data=xlsx(rows),
                                      kind="document", file_name="big.xlsx")  # fmt: skip
    await demo_bot.app.process_update(Update.de_json(update, demo_bot.app.bot))
    assert demo_bot.app.bot_data.background  # the sheet is being read …
    calls = await demo_bot.send(demo_bot.api.user(OFFICER_ID), "/help")  # waits for it all
    helped = next(i for i, c in enumerate(calls) if c.params.get("chat_id") == OFFICER_ID)
    reported = next(i for i, c in enumerate(calls) if "识别为" in str(c.params.get("text")))
    assert helped < reported  # … and the officer was answered before it was done
    report = visible(str(calls[reported].params["text"]))
    assert seen("data_import.counts", rows="20,000", good="20,000", bad=0) in report


async def test_a_list_of_new_members_is_fetched_once_and_goes_to_the_member_import(
    demo_bot: Harness,
) -> None:
    sheet = [["姓名", "手机号码", "街乡"], ["张三", "13712345678", "拱辰"]]
    update = demo_bot.api.file_update(user=demo_bot.api.user(ADMIN_ID), data=xlsx(sheet),
                                      kind="document", file_name="新会员.xlsx")  # fmt: skip
    calls = await demo_bot.process(update)
    assert [c.method for c in calls].count("getFile") == 1  # read once for both takers
    assert "批量登记新会员" in visible(shown(calls)[-1]["text"])
