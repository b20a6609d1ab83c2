"""/report: a street officer submits the month's (and the quarter's) report with the figures
the bot already knows; the district admin sees who reported, reads, exports and closes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlmodel import col, select

from bot.fake_api import JSON, buttons, visible
from bot.harness import Harness, alerts, shown, texts
from models.enums import Language, LedgerStage, ReportKind, Role
from models.ledger import advance_stage
from models.officers import ensure_officer
from models.tables import AuditEntry, Draft, LedgerEntry, ReportSubmission, Street
from models.visits import VisitPurpose, log_unit_visit
from tests.conftest import (
    ADMIN_ID,
    OFFICER_ID,
    OFFICER_STREET,
    OTHER_OFFICER_ID,
    OTHER_STREET,
    seen,
)

MARCH = "2018年3月月报"
Q1 = "2018年第1季度季报"
WORKER_ID = 20003  # a community worker of the officer's street


async def say(bot: Harness, user_id: int, text: str) -> JSON:
    [message] = shown(await bot.send(bot.api.user(user_id), text))
    return message


async def press(bot: Harness, user_id: int, message: JSON, label: str) -> JSON:
    [pressed] = shown(await bot.press(bot.api.user(user_id), message, label))
    return pressed


async def submissions(bot: Harness) -> list[ReportSubmission]:
    async with bot.app.bot_data.db.session() as session:
        query = select(ReportSubmission).order_by(col(ReportSubmission.id))
        return list((await session.exec(query)).all())


async def audited(bot: Harness, prefix: str) -> list[str]:
    async with bot.app.bot_data.db.session() as session:
        actions = (await session.exec(select(AuditEntry.action))).all()
    return [a for a in actions if a.startswith(prefix)]


async def street_id(bot: Harness, name: str) -> int:
    async with bot.app.bot_data.db.session() as session:
        found = (await session.exec(select(Street.id).where(Street.name == name))).one()
    assert found is not None
    return found


async def quick_log(bot: Harness, text: str) -> None:
    card = await say(bot, OFFICER_ID, text)
    saved = await press(bot, OFFICER_ID, card, "💾 保存")
    assert visible(saved["text"]).startswith("✅")


async def log_the_month(bot: Harness) -> None:
    """Two meetings in March and one in February, a unit visit, and two ledger moves: one at
    07:00 on 1 March in Beijing (still 28 February in UTC), one the evening before."""
    await quick_log(bot, "3月5日在拱辰街道开了职工沟通会，45人参加，新入会12人")
    await quick_log(bot, "3月8日 企业沟通会 拱辰街道 30人")
    await quick_log(bot, "2月20日 职工沟通会 拱辰街道 20人")
    own = await street_id(bot, OFFICER_STREET)
    zone = bot.app.bot_data.plan.zone
    async with bot.app.bot_data.db.session(write=True) as session:
        entries = (
            await session.exec(
                select(LedgerEntry.unit_id).where(LedgerEntry.street_id == own).limit(2)
            )
        ).all()
        for unit_id, local in zip(
            entries, (datetime(2018, 3, 1, 7, 0), datetime(2018, 2, 28, 23, 30)), strict=True
        ):
            refusal = await advance_stage(
                session=session, unit_id=unit_id, to=LedgerStage.LETTER_ISSUED,
                by_user_id=OFFICER_ID, now=local.replace(tzinfo=zone).astimezone(UTC),
                today=local.date(),
            )  # fmt: skip
            assert refusal is None
        await log_unit_visit(
            session=session, unit_id=entries[0], street_id=own, purpose=VisitPurpose.VISIT,
            summary="与法人沟通", next_step=None, next_step_on=None, by_user_id=OFFICER_ID,
            on=date(2018, 3, 9), now=datetime(2018, 3, 9, 2, tzinfo=UTC),
        )  # fmt: skip


async def start_monthly(bot: Harness, user_id: int = OFFICER_ID) -> JSON:
    chooser = await say(bot, user_id, "/report")
    return await press(bot, user_id, chooser, "rp:k:m")


async def submit_monthly(bot: Harness, difficulties: str = "部分企业负责人不理解建会") -> JSON:
    await start_monthly(bot)
    notes = await say(bot, OFFICER_ID, difficulties)
    card = await press(bot, OFFICER_ID, notes, "跳过")
    return await press(bot, OFFICER_ID, card, "📤 提交")


async def test_march_asks_for_both_reports_and_drafts_the_months_figures(
    demo_bot: Harness,
) -> None:
    await log_the_month(demo_bot)
    chooser = await say(demo_bot, OFFICER_ID, "/report")
    assert visible(chooser["text"]) == seen("report.choose", due="3月20日")
    assert [label for label, _ in buttons(chooser)] == [
        seen("report.choice_open", label=MARCH), seen("report.choice_open", label=Q1),
    ]  # fmt: skip
    question = await press(demo_bot, OFFICER_ID, chooser, seen("report.choice_open", label=MARCH))
    lines = visible(question["text"]).splitlines()
    assert lines[0] == f"📋 {OFFICER_STREET} · {MARCH}（须于3月20日前报送）"
    assert lines[2:9] == [
        seen("report.figures"),
        "· 职工沟通会 1 场，参加 45 人，新入会 12 人",
        "· 企业沟通会 1 场，参加 30 人，新入会 0 人",
        "· 走访单位 1 次（1 家）",
        "· 台账推进：已发组建函 1",  # the move at 23:30 on 28 February is February's
        "· 销账 0 家 · 阻挠 0 · 迁出/注销 0",
        "· 新登记会员 0 人",
    ]
    assert lines[-1] == seen("report.ask.difficulties")
    assert [label for label, _ in buttons(question)] == ["取消"]  # difficulties are required

    notes = await say(demo_bot, OFFICER_ID, "部分企业负责人不理解建会 <认为增加负担>")
    assert visible(notes["text"]) == seen("report.ask.notes")
    card = await press(demo_bot, OFFICER_ID, notes, "跳过")
    text = visible(card["text"])
    assert "重点难点问题：\n部分企业负责人不理解建会 <认为增加负担>" in text
    assert "补充说明：（无）" in text
    assert await submissions(demo_bot) == []  # nothing written before Submit
    [status] = texts(await demo_bot.send(demo_bot.api.user(OFFICER_ID), "/status"))
    assert seen("status.report_due", period="2018-03", due="3月20日") in status

    done = await press(demo_bot, OFFICER_ID, card, "📤 提交")
    assert visible(done["text"]) == seen("report.submitted", street=OFFICER_STREET, label=MARCH)
    [row] = await submissions(demo_bot)
    assert (row.street_id, row.kind, row.period) == (
        await street_id(demo_bot, OFFICER_STREET), ReportKind.MONTHLY, "2018-03"
    )  # fmt: skip
    assert row.difficulties == "部分企业负责人不理解建会 <认为增加负担>"
    assert row.submitted_by == OFFICER_ID and row.closed_at is None
    assert row.body["answers"] == {"notes": None}
    assert row.body["figures"]["meetings"]["worker"] == {
        "count": 1, "attendees": 45, "new_members": 12
    }  # fmt: skip
    assert row.body["figures"]["ledger_moves"]["letter_issued"] == 1
    assert (row.body["figures"]["unit_visits"], row.body["figures"]["units_visited"]) == (1, 1)
    assert await audited(demo_bot, "report.") == ["report.submit"]
    async with demo_bot.app.bot_data.db.session() as session:
        assert (await session.exec(select(Draft).where(Draft.kind == "report"))).first() is None
    # The street's status knows at once (the audit row moves the status cache on).
    [status] = texts(await demo_bot.send(demo_bot.api.user(OFFICER_ID), "/status"))
    assert seen("status.report_submitted", period="2018-03", date="3月15日") in status


async def test_a_submitted_report_is_shown_and_corrected_in_place(demo_bot: Harness) -> None:
    await submit_monthly(demo_bot)
    [first] = await submissions(demo_bot)
    chooser = await say(demo_bot, OFFICER_ID, "/report")
    assert buttons(chooser)[0][0] == seen("report.choice_done", label=MARCH)
    shown_report = await press(demo_bot, OFFICER_ID, chooser, "rp:k:m")
    text = visible(shown_report["text"])
    assert "部分企业负责人不理解建会" in text and seen("report.existing_hint") in text
    card = await press(demo_bot, OFFICER_ID, shown_report, "✏️ 修改")
    menu = await press(demo_bot, OFFICER_ID, card, "✏️ 修改")
    assert visible(menu["text"]) == seen("report.which_field")
    question = await press(demo_bot, OFFICER_ID, menu, "补充说明")
    assert visible(question["text"]) == seen("report.ask.notes")
    card = await say(demo_bot, OFFICER_ID, "下月集中走访良工工业基地")
    assert "补充说明：\n下月集中走访良工工业基地" in visible(card["text"])
    done = await press(demo_bot, OFFICER_ID, card, "📤 提交")
    assert visible(done["text"]) == seen("report.corrected", street=OFFICER_STREET, label=MARCH)
    [row] = await submissions(demo_bot)
    assert row.id == first.id and row.submitted_at == first.submitted_at
    assert row.body["answers"] == {"notes": "下月集中走访良工工业基地"}
    assert row.body["corrected_at"] is not None
    assert await audited(demo_bot, "report.") == ["report.submit", "report.correct"]


async def test_the_admin_sees_who_reported_reads_exports_and_closes(demo_bot: Harness) -> None:
    await submit_monthly(demo_bot, difficulties="企业&负责人 <不配合>")
    officer_view = await press(
        demo_bot, OFFICER_ID, await say(demo_bot, OFFICER_ID, "/report"), "rp:k:m"
    )
    correction = await press(demo_bot, OFFICER_ID, dict(officer_view), "✏️ 修改")  # left open
    overview = await say(demo_bot, ADMIN_ID, "/report")
    lines = visible(overview["text"]).splitlines()
    assert lines[0] == f"📋 {MARCH} · 已报送 1 / 28（须于3月20日前）"
    assert f"✅ {OFFICER_STREET} · 3月15日" in lines
    assert f"❌ {OTHER_STREET}" in lines
    assert sum(line.startswith("❌") for line in lines) == 27
    labels = [label for label, _ in buttons(overview)]
    assert labels[:2] == ["◀ 2018-02", "📑 季报 2018-Q1"]  # no later month than this one
    assert labels[2:] == [OFFICER_STREET, "📤 导出", "🔒 关闭本期"]

    [full] = shown(await demo_bot.press(demo_bot.api.user(ADMIN_ID), overview, OFFICER_STREET))
    assert "企业&负责人 <不配合>" in visible(full["text"])

    calls = await demo_bot.press(demo_bot.api.user(ADMIN_ID), overview, "📤 导出")
    [upload] = [c for c in calls if c.method == "sendDocument"]
    document = upload.files["document"].decode("utf-8")
    assert document.startswith(f"房山区 {MARCH}（导出于 2018年3月15日）\n已报送 1 / 28")
    assert f"==== {OFFICER_STREET} ====\n提交于 3月15日" in document
    assert "企业&负责人 <不配合>" in document  # the officer's words, not HTML
    assert f"==== {OTHER_STREET} ====\n未报送" in document
    assert visible(upload.result["caption"]) == seen(
        "report.export_caption", label=MARCH, submitted=1, streets=28
    )

    ask = await press(demo_bot, ADMIN_ID, overview, "🔒 关闭本期")
    assert visible(ask["text"]) == seen("report.ask_close", label=MARCH, count=1)
    stale_ask = dict(ask)
    closed = await press(demo_bot, ADMIN_ID, ask, "🔒 确定关闭")
    text = visible(closed["text"])
    assert text.startswith(seen("report.closed_now", count=1))
    assert f"✅ {OFFICER_STREET} · 3月15日 🔒" in text
    assert "🔒 关闭本期" not in [label for label, _ in buttons(closed)]
    [row] = await submissions(demo_bot)
    assert row.closed_at is not None
    again = await demo_bot.press(demo_bot.api.user(ADMIN_ID), stale_ask, "🔒 确定关闭")
    assert alerts(again) == [seen("report.nothing_to_close")]

    # Closed: the officer's old Change button is refused, and /report shows it read-only.
    late = await demo_bot.press(demo_bot.api.user(OFFICER_ID), correction, "📤 提交")
    assert alerts(late) == [seen("report.refusal.closed")]
    refused = await demo_bot.press(demo_bot.api.user(OFFICER_ID), officer_view, "✏️ 修改")
    assert alerts(refused) == [seen("report.refusal.closed")]
    read_only = await press(
        demo_bot, OFFICER_ID, await say(demo_bot, OFFICER_ID, "/report"), "rp:k:m"
    )
    assert seen("report.closed_note") in visible(read_only["text"])
    assert buttons(read_only) == []
    [after] = await submissions(demo_bot)
    assert after.difficulties == "企业&负责人 <不配合>"
    assert await audited(demo_bot, "report.") == ["report.submit", "report.close"]


async def test_the_admin_moves_between_periods_and_kinds(demo_bot: Harness) -> None:
    overview = await say(demo_bot, ADMIN_ID, "/report")
    february = await press(demo_bot, ADMIN_ID, overview, "◀ 2018-02")
    assert visible(february["text"]).startswith("📋 2018年2月月报 · 已报送 0 / 28")
    assert [label for label, _ in buttons(february)][:2] == ["◀ 2018-01", "2018-03 ▶"]
    quarter = await press(demo_bot, ADMIN_ID, overview, "📑 季报 2018-Q1")
    assert visible(quarter["text"]).startswith(f"📋 {Q1} · 已报送 0 / 28（须于3月20日前）")
    assert "🔒 关闭本期" not in [label for label, _ in buttons(quarter)]
    back = await press(demo_bot, ADMIN_ID, quarter, "📄 月报 2018-03")
    assert visible(back["text"]).startswith(f"📋 {MARCH}")


async def test_only_the_streets_own_officer_submits_and_only_admins_oversee(
    demo_bot: Harness,
) -> None:
    async with demo_bot.app.bot_data.db.session(write=True) as session:
        await ensure_officer(
            session=session, telegram_user_id=WORKER_ID, role=Role.COMMUNITY_WORKER,
            street_name=OFFICER_STREET, display_name="社区", language=Language.ZH,
            now=datetime(2018, 3, 1, tzinfo=UTC),
        )  # fmt: skip
    assert texts(await demo_bot.send(demo_bot.api.user(WORKER_ID), "/report")) == [
        seen("report.officers_only")
    ]
    group = demo_bot.api.group_chat(-100700)
    assert texts(await demo_bot.send(demo_bot.api.user(OFFICER_ID), "/report", group)) == [
        seen("flow.private_chat")
    ]

    await start_monthly(demo_bot)
    notes = await say(demo_bot, OFFICER_ID, "难点")
    card = await press(demo_bot, OFFICER_ID, notes, "跳过")
    # Another street's officer pressing this card acts on their own (absent) draft only.
    other = await demo_bot.press(demo_bot.api.user(OTHER_OFFICER_ID), card, "📤 提交")
    assert alerts(other) == [seen("button.stale")]
    worker = await demo_bot.press(demo_bot.api.user(WORKER_ID), card, "📤 提交")
    assert alerts(worker) == [seen("report.officers_only")]
    assert await submissions(demo_bot) == []
    await press(demo_bot, OFFICER_ID, card, "📤 提交")

    # Another street's officer can neither correct this report nor read the overview.
    forged = await demo_bot.process(
        demo_bot.api.callback_update(
            user=demo_bot.api.user(OTHER_OFFICER_ID), message=card, data="rp:fix:2018-03"
        )
    )
    assert alerts(forged) == [seen("button.stale")]
    overview = await say(demo_bot, ADMIN_ID, "/report")
    for label in (OFFICER_STREET, "📤 导出", "🔒 关闭本期"):
        calls = await demo_bot.press(demo_bot.api.user(OTHER_OFFICER_ID), overview, label)
        assert alerts(calls) == [seen("access.admin_only")]
        assert [c for c in calls if c.method in ("sendDocument", "sendMessage")] == []
    [row] = await submissions(demo_bot)
    assert row.closed_at is None and row.submitted_by == OFFICER_ID
    # Their own /report is their own street's, still to do.
    chooser = await say(demo_bot, OTHER_OFFICER_ID, "/report")
    assert buttons(chooser)[0][0] == seen("report.choice_open", label=MARCH)


async def test_the_quarterly_report_asks_the_quarters_questions(demo_bot: Harness) -> None:
    chooser = await say(demo_bot, OFFICER_ID, "/report")
    question = await press(demo_bot, OFFICER_ID, chooser, "rp:k:q")
    lines = visible(question["text"]).splitlines()
    assert lines[0] == f"📋 {OFFICER_STREET} · {Q1}（须于3月20日前报送）"
    assert lines[-1] == seen("report.ask.cases")
    step = await press(demo_bot, OFFICER_ID, question, "跳过")
    assert visible(step["text"]) == seen("report.ask.public_opinion")
    step = await say(demo_bot, OFFICER_ID, "某工地欠薪舆情，已会同劳动监察处置")
    assert visible(step["text"]) == seen("report.ask.experience")
    step = await press(demo_bot, OFFICER_ID, step, "跳过")
    assert visible(step["text"]) == seen("report.ask.difficulties")
    assert [label for label, _ in buttons(step)] == ["取消"]
    step = await say(demo_bot, OFFICER_ID, "非公企业建会意愿低")
    card = await press(demo_bot, OFFICER_ID, step, "跳过")
    text = visible(card["text"])
    expected = (
        "建会工作案例：（无）", "舆情事件及处置情况：\n某工地欠薪舆情", "工作经验：（无）",
        "重点难点问题：\n非公企业建会意愿低", "补充说明：（无）",
    )  # fmt: skip
    assert all(part in text for part in expected)
    done = await press(demo_bot, OFFICER_ID, card, "📤 提交")
    assert visible(done["text"]) == seen("report.submitted", street=OFFICER_STREET, label=Q1)
    [row] = await submissions(demo_bot)
    assert (row.kind, row.period, row.difficulties) == (
        ReportKind.QUARTERLY, "2018-Q1", "非公企业建会意愿低"
    )  # fmt: skip
    assert row.body["answers"] == {
        "cases": None, "public_opinion": "某工地欠薪舆情，已会同劳动监察处置", "experience": None,
        "notes": None,
    }  # fmt: skip
    chooser = await say(demo_bot, OFFICER_ID, "/report")
    assert [label for label, _ in buttons(chooser)] == [
        seen("report.choice_open", label=MARCH), seen("report.choice_done", label=Q1),
    ]  # fmt: skip


async def test_outside_a_quarters_last_month_report_goes_straight_to_the_month(
    demo_bot: Harness,
) -> None:
    settings = demo_bot.app.bot_data.settings.model_copy(update={"bot_today": date(2018, 4, 10)})
    async with Harness.running(settings) as april:
        [question] = shown(await april.send(april.api.user(OFFICER_ID), "/report"))
        lines = visible(question["text"]).splitlines()
        assert lines[0] == f"📋 {OFFICER_STREET} · 2018年4月月报（须于4月20日前报送）"
        assert lines[-1] == seen("report.ask.difficulties")


async def test_a_restart_mid_conversation_keeps_the_draft(demo_bot: Harness) -> None:
    await start_monthly(demo_bot)
    await say(demo_bot, OFFICER_ID, "建会难点在于流动性大")
    async with Harness.running(demo_bot.app.bot_data.settings) as restarted:
        [card] = shown(await restarted.send(restarted.api.user(OFFICER_ID), "已完成走访"))
        text = visible(card["text"])
        assert "重点难点问题：\n建会难点在于流动性大" in text and "补充说明：\n已完成走访" in text
        calls = await restarted.press(restarted.api.user(OFFICER_ID), card, "📤 提交")
        assert texts(calls) == [seen("report.submitted", street=OFFICER_STREET, label=MARCH)]
    [row] = await submissions(demo_bot)
    assert row.body["answers"] == {"notes": "已完成走访"}


async def test_bad_answers_are_refused_and_change_nothing(demo_bot: Harness) -> None:
    await start_monthly(demo_bot)
    officer = demo_bot.api.user(OFFICER_ID)
    too_long = seen("report.problem.too_long", max=4000, length=4001)
    assert texts(await demo_bot.send(officer, "难" * 4001)) == [
        f"{too_long}\n{seen('report.ask.difficulties')}"
    ]
    assert texts(await demo_bot.send(officer, "   ")) == [
        f"{seen('report.problem.empty')}\n{seen('report.ask.difficulties')}"
    ]
    async with demo_bot.app.bot_data.db.session() as session:
        draft = (await session.exec(select(Draft).where(Draft.kind == "report"))).one()
    assert draft.payload["step"] == "difficulties" and draft.payload["answers"] == {}
    await say(demo_bot, OFFICER_ID, "难" * 4000)  # exactly at the limit is fine
    assert texts(await demo_bot.send(officer, "补" * 2001)) == [
        f"{seen('report.problem.too_long', max=2000, length=2001)}\n{seen('report.ask.notes')}"
    ]
    assert await submissions(demo_bot) == []
    assert texts(await demo_bot.send(officer, "/cancel")) == [seen("meeting.cancelled")]
    async with demo_bot.app.bot_data.db.session() as session:
        assert (await session.exec(select(Draft))).first() is None


async def test_an_answer_after_a_long_pause_is_not_taken(demo_bot: Harness) -> None:
    await start_monthly(demo_bot)
    async with demo_bot.app.bot_data.db.session(write=True) as session:
        draft = (await session.exec(select(Draft))).one()
        payload: dict[str, Any] = dict(draft.payload)
        payload["at"] = (datetime.fromisoformat(payload["at"]) - timedelta(hours=1)).isoformat()
        draft.payload = payload
        session.add(draft)
    paused = await say(demo_bot, OFFICER_ID, "今天开了职工沟通会，45人参加")
    assert visible(paused["text"]) == seen("report.paused")
    question = await press(demo_bot, OFFICER_ID, paused, "▶️ 继续")
    assert visible(question["text"]) == seen("report.ask.difficulties")
    notes = await say(demo_bot, OFFICER_ID, "难点")
    assert visible(notes["text"]) == seen("report.ask.notes")
