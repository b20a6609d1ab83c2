"""/erase: a member's personal data removed on their request; every count stays.

The strongest check is the last one: after the erasure, no row of any table, the audit log
included, holds the member's name or number any more.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel, col, func, select

from bot.fake_api import visible
from bot.harness import Harness, alerts, shown, texts
from bot.texts import t
from models.tables import AuditEntry, Member, MembershipApplication, Street
from tests.bot.test_joining import MASKED, MOBILE, WORKER, apply, drain_outbox, one, sent_to
from tests.conftest import ADMIN_ID, OFFICER_ID, OFFICER_STREET, seen

NAME = "张三丰"  # distinctive: the demo's own data holds no such name


async def every_row(bot: Harness) -> list[str]:
    """Every row of every table, as text: where a name or a number could hide."""
    rows: list[str] = []
    async with bot.app.bot_data.db.session() as session:
        connection = await session.connection()
        for table in SQLModel.metadata.sorted_tables:
            result = await connection.execute(sa.select(table))
            rows += [repr(tuple(row)) for row in result.all()]
    return rows


async def members_in_street(bot: Harness) -> int:
    async with bot.app.bot_data.db.session() as session:
        query = (
            select(func.count())
            .select_from(Member)
            .join(Street, col(Street.id) == Member.street_id)
            .where(Street.name == OFFICER_STREET)
        )
        return (await session.exec(query)).one()


async def joined_and_welcomed(bot: Harness) -> None:
    """A worker applies online, the officer approves, the welcome goes out."""
    await apply(bot, "/join", name=NAME)
    [notice] = sent_to(await drain_outbox(bot), OFFICER_ID)
    await bot.press(bot.api.user(OFFICER_ID, "李干事"), notice, t("join.approve", "zh"))
    assert len(sent_to(await drain_outbox(bot), WORKER)) == 2  # the outcome and the welcome


async def test_an_admin_erases_a_members_personal_data_and_the_counts_stay(
    demo_bot: Harness,
) -> None:
    await joined_and_welcomed(demo_bot)
    assert any(NAME in row for row in await every_row(demo_bot))
    counted = await members_in_street(demo_bot)
    admin = demo_bot.api.user(ADMIN_ID)

    [question] = shown(await demo_bot.send(admin, f"/erase {MOBILE[:3]} {MOBILE[3:]}"))
    assert visible(question["text"]).startswith(f"确认删除会员 {NAME}（{MASKED}，{OFFICER_STREET}")
    confirm = dict(question)
    [done] = shown(await demo_bot.press(admin, question, seen("erase.confirm_button")))
    # The officer's notice of the application, the outcome, the welcome by Telegram and by SMS.
    assert visible(done["text"]) == seen("erase.done", applications=1, messages=4)

    [member] = await one(demo_bot, Member, Member.telegram_user_id.is_(None))  # type: ignore[union-attr]
    assert (member.name, member.mobile, member.erased_at is not None) == ("-", None, True)
    assert await members_in_street(demo_bot) == counted
    [application] = await one(demo_bot, MembershipApplication)
    assert (application.name, application.mobile, application.member_id) == ("-", "-", member.id)
    rows = await every_row(demo_bot)
    assert not [row for row in rows if NAME in row or MOBILE in row or MASKED in row]
    [entry] = await one(demo_bot, AuditEntry, AuditEntry.action == "member.erase")
    assert entry.actor_user_id == ADMIN_ID and entry.entity_id == str(member.id)

    # Pressed again (another device, or twice): already done, nothing written.
    before = len(await one(demo_bot, AuditEntry))
    [again] = shown(await demo_bot.press(admin, confirm, seen("erase.confirm_button")))
    assert visible(again["text"]) == seen("erase.gone")
    assert len(await one(demo_bot, AuditEntry)) == before
    assert texts(await demo_bot.send(admin, f"/erase {MOBILE}")) == [
        seen("erase.not_found", mobile=MASKED)
    ]
    # Nothing more is ever sent to them.
    assert sent_to(await drain_outbox(demo_bot), WORKER) == []


async def test_only_an_admin_may_erase_and_bad_input_changes_nothing(demo_bot: Harness) -> None:
    await joined_and_welcomed(demo_bot)
    admin = demo_bot.api.user(ADMIN_ID)
    [question] = shown(await demo_bot.send(admin, f"/erase {MOBILE}"))
    rows_before = await every_row(demo_bot)

    officer = demo_bot.api.user(OFFICER_ID)
    assert texts(await demo_bot.send(officer, f"/erase {MOBILE}")) == [seen("access.admin_only")]
    calls = await demo_bot.press(officer, question, seen("erase.confirm_button"))
    assert alerts(calls) == [seen("access.admin_only")]
    # The worker themselves is a stranger to the bot, not an admin.
    worker = demo_bot.api.user(WORKER)
    calls = await demo_bot.press(worker, question, seen("erase.confirm_button"))
    assert alerts(calls) == [seen("access.refused_short")]

    answers: dict[str, Any] = {
        "/erase": seen("erase.usage"),
        "/erase 12345": seen("erase.bad_mobile", text="12345"),
        "/erase <b>1</b>": seen("erase.bad_mobile", text="&lt;b&gt;1&lt;/b&gt;"),
        "/erase 13900000000": seen("erase.not_found", mobile="139****0000"),
    }
    for command, answer in answers.items():
        assert [visible(c.params["text"]) for c in await demo_bot.send(admin, command)] == [answer]
    group = demo_bot.api.group_chat(-100888)
    assert texts(await demo_bot.send(admin, f"/erase {MOBILE}", chat=group)) == [
        seen("erase.private_only")
    ]
    assert await every_row(demo_bot) == rows_before
