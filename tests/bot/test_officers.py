"""/officers: a district admin removes an officer who has left; from then on they are refused."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, func, select

from bot.fake_api import buttons, visible
from bot.harness import Harness, alerts, shown, texts
from models.enums import Role
from models.ledger import STAGES
from models.officers import create_invite
from models.tables import AuditEntry, LedgerEntry, Officer
from tests.bot.test_history import name_officer
from tests.bot.test_units import card_for, largest_open_unit
from tests.conftest import ADMIN_ID, OFFICER_ID, OFFICER_STREET, OTHER_OFFICER_ID, seen

SECOND_ADMIN = 10002


async def officer(bot: Harness, user_id: int) -> Officer:
    async with bot.app.bot_data.db.session() as session:
        return (
            await session.exec(select(Officer).where(Officer.telegram_user_id == user_id))
        ).one()


async def audit_actions(bot: Harness) -> list[str]:
    async with bot.app.bot_data.db.session() as session:
        return list(
            (await session.exec(select(AuditEntry.action).order_by(col(AuditEntry.id)))).all()
        )


async def test_a_removed_officer_is_refused_everything_at_once(demo_bot: Harness) -> None:
    await name_officer(demo_bot, OFFICER_ID, "李干事")
    unit = await largest_open_unit(demo_bot, OFFICER_STREET)
    old_card = await card_for(demo_bot, OFFICER_ID, unit.credit_code)  # pressed later
    admin = demo_bot.api.user(ADMIN_ID)

    [listing] = shown(await demo_bot.send(admin, "/officers"))
    text = visible(listing["text"])
    assert "李干事 · 街乡工会干部" in text
    label = next(label for label, data in buttons(listing) if data == f"off:rm:{OFFICER_ID}")
    [question] = shown(await demo_bot.press(admin, listing, label))
    assert visible(question["text"]).startswith("确认移除 李干事")
    assert await officer(demo_bot, OFFICER_ID)  # nothing happens before the confirmation
    assert (await officer(demo_bot, OFFICER_ID)).active
    confirm = dict(question)
    [done] = shown(await demo_bot.press(admin, question, seen("officers.confirm_button")))
    assert visible(done["text"]) == seen("officers.removed", name="李干事")
    assert not (await officer(demo_bot, OFFICER_ID)).active
    assert (await audit_actions(demo_bot))[-1] == "officer.remove"

    # At once, through the gatekeeper's cache: commands and an old card's buttons are refused.
    removed = demo_bot.api.user(OFFICER_ID)
    assert texts(await demo_bot.send(removed, "/status")) == [seen("access.removed")]
    calls = await demo_bot.press(removed, old_card, seen("unit.advance", stage="已发组建函"))
    assert alerts(calls) == [seen("access.refused_short")]
    async with demo_bot.app.bot_data.db.session() as session:
        entry = (
            await session.exec(select(LedgerEntry).where(LedgerEntry.unit_id == unit.id))
        ).one()
    assert entry.stage is STAGES[0]  # the press changed nothing

    # The confirmation pressed again: already gone, nothing written.
    before = len(await audit_actions(demo_bot))
    [again] = shown(await demo_bot.press(admin, confirm, seen("officers.confirm_button")))
    assert visible(again["text"]) == seen("officers.gone")
    assert len(await audit_actions(demo_bot)) == before


async def test_an_admin_cannot_remove_themselves_nor_a_settings_admin(demo_bot: Harness) -> None:
    admin = demo_bot.api.user(ADMIN_ID)
    [listing] = shown(await demo_bot.send(admin, "/officers"))
    before = len(await audit_actions(demo_bot))
    for target in (ADMIN_ID,):
        calls = await demo_bot.process(
            demo_bot.api.callback_update(user=admin, message=listing, data=f"off:ok:{target}")
        )
        assert visible(shown(calls)[0]["text"]) == seen("officers.self")
    # A second admin (invited, not in BOT_ADMIN_IDS) may remove the first; the first stays,
    # because the settings would make them an admin again at the next start.
    async with demo_bot.app.bot_data.db.session(write=True) as session:
        invite = await create_invite(
            session=session, role=Role.DISTRICT_ADMIN, street_id=None, created_by=ADMIN_ID,
            now=demo_bot.app.bot_data.clock.now(), ttl=timedelta(days=1),
        )  # fmt: skip
    await demo_bot.send(demo_bot.api.user(SECOND_ADMIN), f"/start {invite.code}")
    second = demo_bot.api.user(SECOND_ADMIN)
    before = len(await audit_actions(demo_bot))
    [listing] = shown(await demo_bot.send(second, "/officers"))
    calls = await demo_bot.process(
        demo_bot.api.callback_update(user=second, message=listing, data=f"off:ok:{ADMIN_ID}")
    )
    assert visible(shown(calls)[0]["text"]) == seen("officers.from_settings")
    assert (await officer(demo_bot, ADMIN_ID)).active
    assert len(await audit_actions(demo_bot)) == before


async def test_only_admins_in_private_chats_see_the_officers(demo_bot: Harness) -> None:
    admin = demo_bot.api.user(ADMIN_ID)
    [listing] = shown(await demo_bot.send(admin, "/officers"))
    for user_id in (OFFICER_ID, OTHER_OFFICER_ID):
        user = demo_bot.api.user(user_id)
        assert texts(await demo_bot.send(user, "/officers")) == [seen("access.admin_only")]
        calls = await demo_bot.process(
            demo_bot.api.callback_update(user=user, message=listing, data=f"off:ok:{ADMIN_ID}")
        )
        assert alerts(calls) == [seen("access.admin_only")]
    group = demo_bot.api.group_chat(-100777)
    assert texts(await demo_bot.send(admin, "/officers", chat=group)) == [
        seen("officers.private_only")
    ]
    async with demo_bot.app.bot_data.db.session() as session:
        active = (
            await session.exec(select(func.count()).select_from(Officer).where(Officer.active))
        ).one()
    assert f"（{active} 人）" in visible(listing["text"])
    assert all(o.active for o in [await officer(demo_bot, OFFICER_ID)])
