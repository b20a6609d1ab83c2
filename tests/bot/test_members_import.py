"""A list of new members sent to the bot as a spreadsheet: the report by row and column,
nothing written before the officer confirms, then exactly the good rows, each welcomed once
in one outbox batch. And the same from the command line."""

from __future__ import annotations

import csv
import io
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from openpyxl import Workbook
from sqlmodel import func, select

from bot.fake_api import JSON, buttons, visible
from bot.harness import Harness, alerts, shown
from models.member_import import GoodRow, import_members
from models.members import queue_welcome, welcomes_queued
from models.tables import AuditEntry, Member, OutboxBatch, OutboxMessage
from tests.bot.test_members import (
    MOBILE,
    UNIT,
    add_member,
    assert_no_number,
    members,
    street_id,
    unit_id,
)
from tests.conftest import ADMIN_ID, OFFICER_ID, OFFICER_STREET, OTHER_OFFICER_ID, seen

ROOT = Path(__file__).resolve().parents[2]


def workbook(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def number(i: int) -> str:
    return f"1370000{i:04d}"


def five_hundred() -> tuple[list[list[object]], dict[int, str]]:
    """500 rows, a handful of them wrong in the ways lists are; the bad ones by row number."""
    rows: list[list[object]] = [["序号", "姓名", "手机号码", "单位名称", "入会日期"]]
    for i in range(500):
        rows.append([i + 1, f"会员{i}", number(i), "", "2018-03-01"])
    # Row numbers as the spreadsheet shows them: the header is row 1, rows[i] is row i + 1
    # and holds member i - 1.
    rows[10][2] = "1370000001"  # row 11: ten digits
    rows[20][2] = number(5)  # row 21: the number of row 7 again
    rows[30][2] = MOBILE  # row 31: a member already
    rows[40][1] = ""  # row 41: no name
    rows[50][4] = "2018-04-01"  # row 51: joins in the future
    rows[60][4] = 43160  # row 61: an Excel serial date, 2018-03-01: fine
    rows[70][2] = "１３７０００００７０９"  # row 71: full-width digits: fine
    rows[80][4] = datetime(2018, 2, 20)  # row 81: a real date: fine
    rows[90][3] = UNIT  # row 91: a unit of the street: matched
    rows[100][3] = "不存在的公司"  # row 101: an unknown unit: registered without one
    bad = {11: "手机号码", 21: "手机号码", 31: "手机号码", 41: "姓名", 51: "入会日期"}
    return rows, bad


async def send_file(bot: Harness, data: bytes, name: str, user_id: int = OFFICER_ID) -> list[JSON]:
    update = bot.api.file_update(user=bot.api.user(user_id), data=data, kind="document",
                                 file_name=name)  # fmt: skip
    return shown(await bot.process(update))


def uploaded(bot: Harness) -> list[list[str]]:
    """The rows of the last CSV the bot sent."""
    [call] = [c for c in bot.api.calls if c.method == "sendDocument"][-1:]
    return list(csv.reader(io.StringIO(call.files["document"].decode("utf-8-sig"))))


async def count(bot: Harness, table: type) -> int:
    async with bot.app.bot_data.db.session() as session:
        return int((await session.exec(select(func.count()).select_from(table))).one())


async def test_five_hundred_rows_from_a_workbook(demo_bot: Harness) -> None:
    await add_member(demo_bot, MOBILE)
    rows, bad = five_hundred()
    report, attached = await send_file(demo_bot, workbook(rows), "新会员.xlsx")
    text = visible(report["text"])
    assert seen("member_import.counts", rows=500, good=495, warned=1, bad=5) in text
    for row, column in bad.items():
        assert f"第 {row} 行 · {column}：" in text
    assert "第 21 行 · 手机号码：" + seen("member_import.problem.mobile_repeated", first=7) in text
    assert "第 31 行 · 手机号码：" + seen(
        "member_import.problem.mobile_member", value="138****5678"
    ) in text  # fmt: skip
    assert "⚠️ 第 101 行 · 单位名称：" in text
    assert buttons(report) == [("✅ 导入有效的 495 行", buttons(report)[0][1]),
                               ("取消", buttons(report)[1][1])]  # fmt: skip
    assert attached["caption"] == seen("member_import.bad_rows_caption", count=6)
    problem_rows = uploaded(demo_bot)
    assert problem_rows[0] == ["#", "序号", "姓名", "手机号码", "单位名称", "入会日期", "问题"]
    assert [r[0] for r in problem_rows[1:]] == ["11", "21", "31", "41", "51", "101"]
    assert problem_rows[2][3] == "137****0005" and "与第 7 行的号码重复" in problem_rows[2][-1]
    # Nothing is written before the button.
    assert len(await members(demo_bot)) == 1
    assert await count(demo_bot, OutboxBatch) == 0

    _, done, progress = shown(await demo_bot.press(demo_bot.api.user(OFFICER_ID), report,
                                                "✅ 导入有效的 495 行"))  # fmt: skip
    assert visible(done["text"]) == seen("member_import.done", registered=495)
    assert visible(progress["text"]) == seen("member_import.progress", count=495)
    assert buttons(report) == []  # the report cannot be pressed again
    registered = (await members(demo_bot))[1:]
    assert len(registered) == 495
    assert {m.source for m in registered} == {"import"}
    assert {m.created_by for m in registered} == {OFFICER_ID}
    assert {m.street_id for m in registered} == {await street_id(demo_bot, OFFICER_STREET)}
    by_mobile = {m.mobile: m for m in registered if m.mobile is not None}
    assert by_mobile[number(59)].joined_on == date(2018, 3, 1)
    assert by_mobile["13700000709"].name == "会员69"
    assert by_mobile[number(79)].joined_on == date(2018, 2, 20)
    assert by_mobile[number(89)].unit_id == await unit_id(demo_bot, UNIT)
    assert by_mobile[number(99)].unit_id is None
    assert by_mobile[number(5)].name == "会员5"
    assert not {number(9), number(19), number(29), number(39), number(49)} & set(by_mobile)
    async with demo_bot.app.bot_data.db.session() as session:
        [batch] = (await session.exec(select(OutboxBatch))).all()
        welcomes = (
            await session.exec(select(OutboxMessage).where(OutboxMessage.batch_id == batch.id))
        ).all()
        audit = (await session.exec(select(AuditEntry.action))).all()
    assert (batch.label, batch.total, batch.chat_id, batch.message_id) == (
        "welcome", 495, OFFICER_ID, progress["message_id"]
    )  # fmt: skip
    # One welcome per member per channel: SMS (none of them is linked to Telegram).
    assert sorted(w.dedupe_key for w in welcomes) == sorted(
        f"welcome|sms|{m.id}" for m in registered
    )
    assert {w.recipient for w in welcomes} == set(by_mobile)
    assert audit.count("member.register") == 496 and audit.count("member.import") == 1
    # A second press imports nothing.
    again = demo_bot.api.callback_update(user=demo_bot.api.user(OFFICER_ID), message=report,
                                         data=f"mi:ok:{rows_token(demo_bot)}")  # fmt: skip
    assert alerts(await demo_bot.process(again)) == [seen("button.stale")]
    assert len(await members(demo_bot)) == 496
    assert_no_number(demo_bot, MOBILE, *by_mobile)


def rows_token(bot: Harness) -> str:
    """The token the last import report's buttons carried."""
    for call in reversed(bot.api.calls):
        markup = str(call.params.get("reply_markup") or "")
        if "mi:ok:" in markup:
            return markup.split("mi:ok:")[1][:8]
    raise LookupError("no import report")


async def test_a_gbk_csv_and_cancelling(demo_bot: Harness) -> None:
    rows = [["姓名", "联系电话", "单位", "入会时间"],
            ["张三", "13812345678", "北京岳博酒店管理有限责任公司", "2018/3/2"],
            ["李四", "139 1234 5678", "", ""]]  # fmt: skip
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    data = out.getvalue().encode("gbk")
    [report] = await send_file(demo_bot, data, "名单.csv")
    assert visible(report["text"]).startswith(seen("member_import.title", file="名单.csv"))
    assert seen("member_import.counts", rows=2, good=2, warned=0, bad=0) in visible(report["text"])
    [_, cancelled] = shown(await demo_bot.press(demo_bot.api.user(OFFICER_ID), report, "取消"))
    assert visible(cancelled["text"]) == seen("member_import.cancelled")
    assert await members(demo_bot) == []
    [report] = await send_file(demo_bot, data, "名单.csv")
    await demo_bot.press(demo_bot.api.user(OFFICER_ID), report, "✅ 导入有效的 2 行")
    zhang, li = await members(demo_bot)
    assert (zhang.name, zhang.unit_id, zhang.joined_on) == (
        "张三", await unit_id(demo_bot, UNIT), date(2018, 3, 2)
    )  # fmt: skip
    assert (li.mobile, li.joined_on) == ("13912345678", date(2018, 3, 15))


async def test_files_that_are_no_list(demo_bot: Harness) -> None:
    pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\x00\x01"
    assert [visible(m["text"]) for m in await send_file(demo_bot, pdf, "名单.xlsx")] == [
        seen("member_import.file.corrupt")
    ]
    assert [visible(m["text"]) for m in await send_file(demo_bot, pdf, "名单.csv")] == [
        seen("member_import.file.not_spreadsheet")
    ]
    notes = "单位,人数\n岳博,5\n".encode()
    assert [visible(m["text"]) for m in await send_file(demo_bot, notes, "统计.csv")] == [
        seen("member_import.file.no_columns")
    ]
    # A document that is no spreadsheet at all is not taken for a list.
    assert [visible(m["text"]) for m in await send_file(demo_bot, pdf, "方案.pdf")] == [
        seen("flow.no_file_expected")
    ]
    assert await members(demo_bot) == []


async def test_another_streets_officer_and_an_admin(demo_bot: Harness) -> None:
    await add_member(demo_bot, MOBILE)
    data = workbook([["姓名", "手机号"], ["李四", MOBILE], ["王五", "13712340000"]])
    [report, _] = await send_file(demo_bot, data, "名单.xlsx", OTHER_OFFICER_ID)
    text = visible(report["text"])
    # Only that the number is a member: not who, nor of which street.
    assert seen("member_import.problem.mobile_member", value="138****5678") in text
    assert OFFICER_STREET not in text
    # A district admin's list without a street column: the street is asked first.
    [choose] = await send_file(demo_bot, data, "名单.xlsx", ADMIN_ID)
    assert visible(choose["text"]) == seen("member_import.choose_street")
    _, report, _ = shown(await demo_bot.press(demo_bot.api.user(ADMIN_ID), choose, "良乡镇"))
    await demo_bot.press(demo_bot.api.user(ADMIN_ID), report, "✅ 导入有效的 1 行")
    [_, wang] = await members(demo_bot)
    assert (wang.name, wang.street_id, wang.created_by) == (
        "王五", await street_id(demo_bot, "良乡镇"), ADMIN_ID
    )  # fmt: skip
    assert_no_number(demo_bot, MOBILE, "13712340000")


def test_the_command_line_import(demo_template: Path, tmp_path: Path) -> None:
    shutil.copy(demo_template, tmp_path / "unionbot.db")
    rows, _ = five_hundred()
    (tmp_path / "list.xlsx").write_bytes(workbook(rows[:21]))  # rows 2–21; 11 and 21 are bad
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_"))}
    env = {**clean, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/unionbot.db",
           "BOT_TODAY": "2018-03-15", "PLAN_FILE": str(ROOT / "plans/fangshan-2018.toml"),
           "DEFAULT_LANGUAGE": "zh"}  # fmt: skip

    def unionbot(*args: str, answer: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "members", "import", "list.xlsx", *args], cwd=tmp_path,
            env=env, input=answer, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    needs_street = unionbot("--yes")
    assert needs_street.returncode == 1
    assert needs_street.stderr.strip() == f"unionbot: {seen('member_import.cli_needs_street')}"
    declined = unionbot("--street", "拱辰", answer="n\n")
    assert declined.returncode == 1
    assert seen("member_import.counts", rows=20, good=18, warned=0, bad=2) in declined.stdout
    assert seen("member_import.cli_confirm", count=18) in declined.stdout
    done = unionbot("--street", "拱辰", "--yes")
    assert done.returncode == 0, done.stderr
    assert "第 11 行 · 手机号码：" in done.stdout and "“137****0001”" in done.stdout
    assert seen("member_import.done", registered=18) in done.stdout
    assert seen("member_import.progress", count=18) in done.stdout
    assert "13700000" not in done.stdout + declined.stdout
    with sqlite3.connect(tmp_path / "unionbot.db") as db:
        found = db.execute("SELECT count(*), min(source), max(created_by) FROM member").fetchone()
        batches = db.execute("SELECT label, total, chat_id FROM outboxbatch").fetchall()
    assert found == (18, "import", None)
    assert batches == [("welcome", 18, None)]


async def test_an_imported_member_is_written_as_register_member_writes_one(
    demo_bot: Harness,
) -> None:
    """import_members writes in bulk what register_member writes one by one: the same row,
    audit entry and welcome, so that the two cannot drift apart unnoticed."""
    data = demo_bot.app.bot_data
    one = await add_member(demo_bot, "13712345678")
    street = await street_id(demo_bot, OFFICER_STREET)
    row = GoodRow(row=2, name="李四", mobile="13812345678", street_id=street,
                  joined_on=date(2018, 3, 1), unit_id=None)  # fmt: skip
    async with data.db.session(write=True) as session:
        result = await import_members(
            session=session, plan=data.plan, rows=[row, row], by_user_id=ADMIN_ID,
            now=datetime(2018, 3, 1, 2, tzinfo=UTC), chat_id=None, file_name="x.csv",
        )  # fmt: skip
    assert (result.registered, result.skipped, result.welcomes) == (1, 1, 1)
    one_row, other = await members(demo_bot)
    assert one.id is not None and one_row.id == one.id and other.id is not None

    def member_fields(m: Member) -> dict[str, object]:
        return m.model_dump(exclude={"id", "mobile", "source"})

    assert member_fields(other) == member_fields(one_row)
    assert other.source == "import"
    async with data.db.session(write=True) as session:
        entries = (await session.exec(select(AuditEntry))).all()
        by_member = {e.entity_id: e for e in entries if e.action == "member.register"}
        first, second = by_member[str(one.id)], by_member[str(other.id)]
        assert (first.entity, first.before, first.actor_user_id, first.at) == (
            second.entity, second.before, second.actor_user_id, second.at
        )  # fmt: skip
        assert first.after == {**(second.after or {}), "source": "officer"}
        [welcome_one] = await welcomes_queued(session=session, member_id=one.id)
        [welcome_other] = await welcomes_queued(session=session, member_id=other.id)
        # The same key, so queue_welcome finds nothing left to queue for the imported one.
        assert await queue_welcome(session=session, member=other, plan=data.plan,
                                   now=datetime(2018, 3, 1, 2, tzinfo=UTC)) == 0  # fmt: skip
    keep = ("kind", "channel", "status", "attempts", "not_before", "created_at")
    assert [getattr(welcome_one, k) for k in keep] == [getattr(welcome_other, k) for k in keep]
    assert welcome_one.payload == {**welcome_other.payload, "member_id": one.id}
    assert welcome_other.batch_id == result.batch_id and welcome_one.batch_id is None
