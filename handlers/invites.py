"""/invite: a district admin creates a single-use, expiring invite link, in two taps.

Callback data: "inv:role:<r>" then "inv:st:<r>:<street id>", with r one of so/cw/da.
Every press re-checks that the presser is still an admin.
"""

from __future__ import annotations

from datetime import timedelta

from telegram import Update
from telegram.helpers import create_deep_linked_url

from bot.context import BotContext
from bot.texts import t
from handlers.common import edit, esc, grid, is_private, keyboard, reply
from models.enums import Role
from models.officers import create_invite, list_streets

ROLE_CODES = {"so": Role.STREET_OFFICER, "cw": Role.COMMUNITY_WORKER, "da": Role.DISTRICT_ADMIN}
ROLE_CALLBACK = r"^inv:role:(so|cw|da)$"
STREET_CALLBACK = r"^inv:st:(so|cw):\d{1,6}$"


async def invite_command(update: Update, context: BotContext) -> None:
    lang = context.lang
    if not context.actor.is_admin:
        await reply(update, t("access.admin_only", lang))
        return
    if not is_private(update):
        await reply(update, t("invite.private_only", lang))
        return
    buttons = [
        (t(f"role.{role.value}", lang), f"inv:role:{code}") for code, role in ROLE_CODES.items()
    ]
    await reply(update, t("invite.choose_role", lang), keyboard(grid(buttons, 1)))


async def _admin_press(update: Update, context: BotContext) -> list[str] | None:
    """The pressed button's data fields, if the presser is (still) an admin, in private."""
    query = update.callback_query
    assert query is not None and query.data is not None  # the handler's pattern ensures it
    await query.answer()
    if not context.actor.is_admin:
        await edit(update, t("access.admin_only", context.lang))
        return None
    if not is_private(update):  # a forged press: the link would be shown to the whole group
        await edit(update, t("invite.private_only", context.lang))
        return None
    return query.data.split(":")


async def role_chosen(update: Update, context: BotContext) -> None:
    fields = await _admin_press(update, context)
    if fields is None:
        return
    code = fields[2]
    if ROLE_CODES[code] is Role.DISTRICT_ADMIN:
        await _create(update, context, Role.DISTRICT_ADMIN, None)
        return
    async with context.db.session() as session:
        streets = await list_streets(session=session)
    buttons = [(name, f"inv:st:{code}:{street_id}") for street_id, name in streets]
    role = t(f"role.{ROLE_CODES[code].value}", context.lang)
    await edit(
        update, t("invite.choose_street", context.lang, role=role), keyboard(grid(buttons, 3))
    )


async def street_chosen(update: Update, context: BotContext) -> None:
    fields = await _admin_press(update, context)
    if fields is None:
        return
    _, _, code, street_id = fields
    await _create(update, context, ROLE_CODES[code], int(street_id))


async def _create(update: Update, context: BotContext, role: Role, street_id: int | None) -> None:
    lang = context.lang
    streets = dict(await _streets(context))
    if street_id is not None and street_id not in streets:
        await edit(update, t("button.stale", lang))
        return
    async with context.db.session(write=True) as session:
        invite = await create_invite(
            session=session,
            role=role,
            street_id=street_id,
            created_by=context.actor.user_id,
            now=context.now(),
            ttl=timedelta(hours=context.bot_data.settings.invite_ttl_hours),
        )
    link = create_deep_linked_url(context.bot.username, invite.code)
    expires_at = f"{invite.expires_at.astimezone(context.plan.zone):%Y-%m-%d %H:%M}"
    if street_id is None:
        text = t("invite.created_admin", lang, link=link, code=invite.code, expires_at=expires_at)
    else:
        text = t(
            "invite.created",
            lang,
            role=t(f"role.{role.value}", lang),
            street=esc(streets[street_id]),
            link=link,
            code=invite.code,
            expires_at=expires_at,
        )
    await edit(update, text)


async def _streets(context: BotContext) -> list[tuple[int, str]]:
    async with context.db.session() as session:
        return await list_streets(session=session)
