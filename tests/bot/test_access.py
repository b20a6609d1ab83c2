"""Who gets in: strangers see nothing, invites make officers, used or expired ones don't."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from bot.harness import Harness, alerts, shown, texts
from bot.officer_cache import TTL_SECONDS
from bot.texts import t
from models.enums import Role
from models.tables import AuditEntry, Invite, Officer, Street
from tests.conftest import ADMIN_ID, seen

STRANGER = 55555


async def create_invite_via_bot(bot: Harness, role_label: str, street: str | None) -> str:
    """Walk the admin's /invite flow by buttons; return the invite code the bot shows."""
    admin = bot.api.user(ADMIN_ID, "王老师")
    [menu] = shown(await bot.send(admin, "/invite"))
    [page] = shown(await bot.press(admin, menu, role_label))
    if street is not None:
        [page] = shown(await bot.press(admin, page, street))
    code = page["text"].replace("：", ": ").rsplit(": ", 1)[-1].strip()
    assert f"?start={code}" in page["text"]
    return code


async def officer_row(bot: Harness, user_id: int) -> Officer | None:
    async with bot.app.bot_data.db.session() as session:
        return (
            await session.exec(select(Officer).where(Officer.telegram_user_id == user_id))
        ).first()


@pytest.mark.parametrize("text", ["/help", "进度", "/invite", "/lang", "/start"])
async def test_a_stranger_is_refused_politely_and_sees_no_data(bot: Harness, text: str) -> None:
    stranger = bot.api.user(STRANGER, "路人")
    replies = texts(await bot.send(stranger, text))
    assert replies == [t("access.refused", "zh")]
    assert await officer_row(bot, STRANGER) is None


async def test_a_stranger_in_english_is_refused_in_english(bot: Harness) -> None:
    stranger = bot.api.user(STRANGER, "Passer-by", language_code="en")
    assert texts(await bot.send(stranger, "/help")) == [t("access.refused", "en")]


async def test_a_stranger_pressing_a_button_gets_an_alert_and_nothing_changes(bot: Harness) -> None:
    admin = bot.api.user(ADMIN_ID)
    [menu] = shown(await bot.send(admin, "/invite"))
    stranger = bot.api.user(STRANGER)
    calls = await bot.press(stranger, menu, "inv:role:so")
    assert alerts(calls) == [t("access.refused_short", "zh")]
    assert shown(calls) == []


async def test_in_a_group_a_stranger_is_only_answered_when_addressing_the_bot(bot: Harness) -> None:
    stranger = bot.api.user(STRANGER)
    group = bot.api.group_chat(-100123)
    assert texts(await bot.send(stranger, "大家好", chat=group)) == []
    assert texts(await bot.send(stranger, "/help@some_other_bot", chat=group)) == []
    assert texts(await bot.send(stranger, f"/help@{bot.api.username}", chat=group)) == [
        t("access.refused", "zh")
    ]


async def test_an_invited_officer_becomes_an_officer_of_that_street(bot: Harness) -> None:
    code = await create_invite_via_bot(bot, t("role.street_officer", "zh"), "拱辰街道")
    newcomer = bot.api.user(42, "李干事")
    replies = texts(await bot.send(newcomer, f"/start {code}"))
    assert replies == [
        seen(
            "invite.redeemed",
            "zh",
            name="李干事",
            role=t("role.street_officer", "zh"),
            street="拱辰街道",
        )
    ]
    officer = await officer_row(bot, 42)
    assert officer is not None and officer.role is Role.STREET_OFFICER and officer.active
    async with bot.app.bot_data.db.session() as session:
        street = await session.get(Street, officer.street_id)
        actions = (await session.exec(select(AuditEntry.action))).all()
    assert street is not None and street.name == "拱辰街道"
    assert "invite.create" in actions and "invite.redeem" in actions
    # and now the gate lets them in
    help_text = texts(await bot.send(newcomer, "/help"))[0]
    assert "拱辰街道" in help_text and "/invite" not in help_text


async def test_a_used_invite_is_refused(bot: Harness) -> None:
    code = await create_invite_via_bot(bot, t("role.community_worker", "zh"), "良乡镇")
    await bot.send(bot.api.user(42), f"/start {code}")
    replies = texts(await bot.send(bot.api.user(43), f"/start {code}"))
    assert replies == [t("invite.used", "zh")]
    assert await officer_row(bot, 43) is None


async def test_an_expired_invite_is_refused(bot: Harness) -> None:
    code = await create_invite_via_bot(bot, t("role.street_officer", "zh"), "良乡镇")
    async with bot.app.bot_data.db.session(write=True) as session:
        invite = (await session.exec(select(Invite).where(Invite.code == code))).one()
        invite.expires_at = bot.app.bot_data.clock.now() - timedelta(minutes=1)
        session.add(invite)
    [reply] = texts(await bot.send(bot.api.user(44), f"/start {code}"))
    assert reply.startswith(t("invite.expired", "zh", expired_at="").split("过期")[0][:4])
    assert "过期" in reply
    assert await officer_row(bot, 44) is None


async def test_an_unknown_invite_code_is_refused(bot: Harness) -> None:
    assert texts(await bot.send(bot.api.user(45), "/start NotARealCode123")) == [
        t("invite.unknown", "zh")
    ]
    assert await officer_row(bot, 45) is None


async def test_an_officer_opening_an_invite_keeps_their_role_and_the_invite(bot: Harness) -> None:
    code = await create_invite_via_bot(bot, t("role.street_officer", "zh"), "良乡镇")
    [reply] = texts(await bot.send(bot.api.user(ADMIN_ID), f"/start {code}"))
    assert reply == seen("invite.already", "zh", role=t("role.district_admin", "zh"), street="")
    async with bot.app.bot_data.db.session() as session:
        invite = (await session.exec(select(Invite).where(Invite.code == code))).one()
    assert invite.used_at is None


async def test_only_admins_may_invite(bot: Harness) -> None:
    code = await create_invite_via_bot(bot, t("role.street_officer", "zh"), "良乡镇")
    officer = bot.api.user(42)
    await bot.send(officer, f"/start {code}")
    assert texts(await bot.send(officer, "/invite")) == [t("access.admin_only", "zh")]


async def test_an_admin_invite_makes_a_district_admin(bot: Harness) -> None:
    code = await create_invite_via_bot(bot, t("role.district_admin", "zh"), None)
    [reply] = texts(await bot.send(bot.api.user(46, "赵老师"), f"/start {code}"))
    assert reply == seen("invite.redeemed_admin", "zh", name="赵老师")
    officer = await officer_row(bot, 46)
    assert officer is not None and officer.role is Role.DISTRICT_ADMIN and officer.street_id is None


async def test_admins_from_settings_are_admins(bot: Harness) -> None:
    officer = await officer_row(bot, ADMIN_ID)
    assert officer is not None and officer.role is Role.DISTRICT_ADMIN
    assert "/invite" in texts(await bot.send(bot.api.user(ADMIN_ID), "/help"))[0]


async def test_a_removed_officer_is_told_so_and_their_old_buttons_do_nothing(bot: Harness) -> None:
    code = await create_invite_via_bot(bot, t("role.street_officer", "zh"), "良乡镇")
    officer = bot.api.user(42)
    await bot.send(officer, f"/start {code}")
    [menu] = shown(await bot.send(officer, "/lang"))
    async with bot.app.bot_data.db.session(write=True) as session:
        row = (await session.exec(select(Officer).where(Officer.telegram_user_id == 42))).one()
        row.active = False
        session.add(row)
    # Removed by hand in the database: the bot keeps officers it has looked up for a few
    # seconds (bot/officer_cache.py), so the removal counts once they are up.
    cache = bot.app.bot_data.officers
    later = cache.clock() + TTL_SECONDS + 0.1
    cache.clock = lambda: later
    assert texts(await bot.send(officer, "/help")) == [seen("access.removed")]
    calls = await bot.press(officer, menu, "lang:en")
    assert alerts(calls) == [t("access.refused_short", "zh")]
    assert shown(calls) == []
    after = await officer_row(bot, 42)
    assert after is not None and after.language == "zh" and not after.active


async def test_an_invite_sent_in_a_group_is_not_redeemed_there(bot: Harness) -> None:
    code = await create_invite_via_bot(bot, t("role.street_officer", "zh"), "良乡镇")
    group = bot.api.group_chat(-100777)
    replies = texts(await bot.send(bot.api.user(47), f"/start {code}", chat=group))
    assert replies == [seen("invite.private_only_redeem")]
    assert await officer_row(bot, 47) is None
    # the invite is still good for its invitee, in private
    await bot.send(bot.api.user(47), f"/start {code}")
    assert await officer_row(bot, 47) is not None
