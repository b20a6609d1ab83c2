"""/welcome: the district admin sees the welcome with an example and its SMS cost, changes it
after a preview, or restores the plan's; welcomes already queued keep their words."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.fake_api import JSON, buttons, visible
from bot.harness import Harness, shown, texts
from models.members import sms_segments, sms_text, welcomes_queued
from models.tables import AuditEntry, WelcomeTemplate
from models.welcome import MAX_TEMPLATE, TemplateProblem, template_problem
from tests.bot.test_members import add_member
from tests.conftest import ADMIN_ID, OFFICER_ID, seen

NEW = "{name}您好，欢迎加入{union}！12351职工热线随时为您服务。回复TD退订"


async def say(bot: Harness, text: str, user_id: int = ADMIN_ID) -> list[JSON]:
    return shown(await bot.send(bot.api.user(user_id), text))


async def press(bot: Harness, message: JSON, label: str) -> list[JSON]:
    return shown(await bot.press(bot.api.user(ADMIN_ID), message, label))


async def custom(bot: Harness) -> WelcomeTemplate | None:
    async with bot.app.bot_data.db.session() as session:
        return await session.get(WelcomeTemplate, 1)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (NEW, None),
        ("欢迎入会！", None),
        ("  ", TemplateProblem.EMPTY),
        ("字" * (MAX_TEMPLATE + 1), TemplateProblem.TOO_LONG),
        ("{name}您好，请拨打{phone}", TemplateProblem.PLACEHOLDER),
        ("{}您好", TemplateProblem.PLACEHOLDER),
        ("{name!r}您好", TemplateProblem.PLACEHOLDER),
        ("{name:>10}您好", TemplateProblem.PLACEHOLDER),
        ("{name.upper}您好", TemplateProblem.PLACEHOLDER),
        ("{name您好", TemplateProblem.BRACES),
        ("您好}", TemplateProblem.BRACES),
    ],
)
def test_what_a_template_may_hold(text: str, problem: TemplateProblem | None) -> None:
    assert template_problem(text) is problem


async def test_change_preview_and_restore(demo_bot: Harness) -> None:
    plan = demo_bot.app.bot_data.plan
    before = await add_member(demo_bot, "13812345678")
    [current] = await say(demo_bot, "/welcome")
    text = visible(current["text"])
    assert text.startswith(seen("welcome.title_default"))
    example = sms_text(plan, plan.welcome.template.format(name="张三", union="拱辰街道总工会"))
    assert example in text
    assert seen("welcome.length", chars=len(example), segments=sms_segments(example),
                signature="房山区总工会") in text  # fmt: skip
    assert [label for label, _ in buttons(current)] == ["✏️ 修改", "↩️ 恢复默认"]

    [ask] = await press(demo_bot, current, "✏️ 修改")
    assert visible(ask["text"]) == seen("welcome.ask_text", max=MAX_TEMPLATE)
    [refused] = await say(demo_bot, "{name}您好，请拨打{phone}")
    assert visible(refused["text"]) == (
        f"{seen('welcome.problem.placeholder')}\n{seen('welcome.ask_again')}"
    )
    [refused] = await say(demo_bot, "字" * 501)
    assert visible(refused["text"]).startswith(seen("welcome.problem.too_long", max=500,
                                                    length=501))  # fmt: skip
    [preview] = await say(demo_bot, NEW)
    text = visible(preview["text"])
    example = sms_text(plan, NEW.format(name="张三", union="拱辰街道总工会"))
    assert text.startswith(seen("welcome.title_new")) and example in text
    assert seen("welcome.length", chars=len(example), segments=1, signature="房山区总工会") in text
    assert await custom(demo_bot) is None  # not before 保存
    [saved] = await press(demo_bot, preview, "💾 保存")
    assert visible(saved["text"]).startswith(seen("welcome.saved"))
    assert seen("welcome.title_custom") in visible(saved["text"])
    row = await custom(demo_bot)
    assert row is not None and (row.text, row.changed_by) == (NEW, ADMIN_ID)

    # New members get the new words; the welcome queued before keeps the old ones.
    after = await add_member(demo_bot, "13912345678")
    async with demo_bot.app.bot_data.db.session() as session:
        assert before.id is not None and after.id is not None
        [old] = await welcomes_queued(session=session, member_id=before.id)
        [new] = await welcomes_queued(session=session, member_id=after.id)
    assert old.payload["text"] == sms_text(
        plan, plan.welcome.template.format(name="李四", union="拱辰街道总工会")
    )
    assert new.payload["text"] == sms_text(plan, NEW.format(name="李四", union="拱辰街道总工会"))

    [current] = await say(demo_bot, "/welcome")
    [restored] = await press(demo_bot, current, "↩️ 恢复默认")
    assert visible(restored["text"]).startswith(seen("welcome.restored"))
    assert await custom(demo_bot) is None
    [again] = await press(demo_bot, restored, "↩️ 恢复默认")
    assert visible(again["text"]).startswith(seen("welcome.already_default"))
    async with demo_bot.app.bot_data.db.session() as session:
        audit = (await session.exec(select(AuditEntry))).all()
    changes = [(a.action, a.actor_user_id) for a in audit if a.action.startswith("welcome.")]
    assert changes == [("welcome.change", ADMIN_ID), ("welcome.restore", ADMIN_ID)]
    change = next(a for a in audit if a.action == "welcome.change")
    assert change.before == {"text": plan.welcome.template} and change.after == {"text": NEW}


async def test_cancel_and_only_admins(demo_bot: Harness) -> None:
    [current] = await say(demo_bot, "/welcome")
    await press(demo_bot, current, "✏️ 修改")
    [preview] = await say(demo_bot, "欢迎{name}！")
    [cancelled] = await press(demo_bot, preview, "取消")
    assert visible(cancelled["text"]) == seen("welcome.cancelled")
    assert await custom(demo_bot) is None
    assert texts(await demo_bot.send(demo_bot.api.user(OFFICER_ID), "/welcome")) == [
        seen("access.admin_only")
    ]
    forged = await demo_bot.process(
        demo_bot.api.callback_update(user=demo_bot.api.user(OFFICER_ID), message=current,
                                     data="wl:reset")
    )  # fmt: skip
    assert [c.params.get("text") for c in forged if c.method == "answerCallbackQuery"] == [
        seen("access.admin_only")
    ]
