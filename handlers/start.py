"""/start (with an invite code from a deep link), /help and /lang."""

from __future__ import annotations

from telegram import Update

from bot.context import BotContext
from bot.texts import t
from handlers.common import edit, esc, is_private, keyboard, reply, role_label
from handlers.joining import start_link
from handlers.meeting_flow import START_PAYLOAD, meeting_command
from models.enums import Language, Role
from models.joining import link_code
from models.officers import InviteState, redeem_invite, set_language

LANG_CALLBACK = r"^lang:(zh|en)$"


async def start(update: Update, context: BotContext) -> None:
    actor = context.actor
    if context.args and link_code(context.args[0]) is not None:
        await start_link(update, context, context.args[0])  # a worker's join link
    elif context.args and not is_private(update):
        # An invite is personal: redeeming it in a group would show the code to everyone.
        await reply(update, t("invite.private_only_redeem", actor.language))
    elif context.args and context.args[0] == START_PAYLOAD and actor.role is not None:
        await meeting_command(update, context)  # the group's "log it privately" link
    elif context.args:
        await _redeem(update, context, context.args[0])
    elif actor.role is None:
        await reply(update, t("access.refused", actor.language))
    else:
        role, street = role_label(actor.role, actor.street_name, actor.language)
        await reply(
            update,
            t("start.welcome", actor.language, name=esc(actor.name), role=role, street=esc(street)),
        )


async def _redeem(update: Update, context: BotContext, code: str) -> None:
    actor = context.actor
    async with context.db.session(write=True) as session:
        result = await redeem_invite(
            session=session,
            code=code[:64],
            telegram_user_id=actor.user_id,
            display_name=actor.name,
            language=actor.language,
            now=context.now(),
        )
    context.bot_data.officers.forget(actor.user_id)  # a new role or street counts at once
    lang = actor.language
    if result.already is not None:
        role, street = role_label(result.already.role, result.already.street_name, lang)
        await reply(update, t("invite.already", lang, role=role, street=esc(street)))
    elif result.state is InviteState.VALID and result.invite is not None:
        invite_role = Role(result.invite.role)
        if invite_role is Role.DISTRICT_ADMIN:
            await reply(update, t("invite.redeemed_admin", lang, name=esc(actor.name)))
        else:
            await reply(
                update,
                t(
                    "invite.redeemed",
                    lang,
                    name=esc(actor.name),
                    role=t(f"role.{invite_role.value}", lang),
                    street=esc(result.street_name),
                ),
            )
    elif result.state is InviteState.EXPIRED and result.invite is not None:
        expired_at = result.invite.expires_at.astimezone(context.plan.zone)
        await reply(update, t("invite.expired", lang, expired_at=f"{expired_at:%Y-%m-%d %H:%M}"))
    else:
        await reply(update, t(f"invite.{result.state.value}", lang))


async def help_command(update: Update, context: BotContext) -> None:
    actor = context.actor
    role, street = role_label(actor.role, actor.street_name, actor.language)
    body = t("help.admin" if actor.is_admin else "help.officer", actor.language)
    header = t("help.header", actor.language, role=role, street=esc(street))
    await reply(update, f"{header}\n\n{body}\n\n{t('help.footer', actor.language)}")


async def lang_command(update: Update, context: BotContext) -> None:
    lang = context.lang
    buttons = [(t("button.zh", lang), "lang:zh"), (t("button.en", lang), "lang:en")]
    await reply(update, t("lang.choose", lang), keyboard([buttons]))


async def lang_chosen(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None  # the handler's pattern ensures it
    language = Language(query.data.split(":")[1])
    async with context.db.session(write=True) as session:
        await set_language(
            session=session, telegram_user_id=context.actor.user_id, language=language
        )
    context.bot_data.officers.forget(context.actor.user_id)
    await query.answer()
    await edit(update, t("lang.set", language))
