"""/erase <mobile>: at a member's request, a district admin erases their personal data.

The member's row stays, so every count stays; the name, the number and the Telegram account
go (models.erasure). Callback data: "erase:ok:<member>", pressed after reading who it is.
Only district admins, and only in a private chat: the confirmation names the member.
"""

from __future__ import annotations

from telegram import Update

from bot.context import BotContext
from bot.texts import t
from handlers.common import esc, is_private, keyboard, reply
from models.erasure import erase_member, find_member
from models.mobile import mask_mobile, normalise_mobile

ERASE_CALLBACK = r"^erase:ok:\d{1,9}$"
MAX_ECHO = 30  # characters of a bad argument shown back


async def erase_command(update: Update, context: BotContext) -> None:
    lang = context.lang
    if not context.actor.is_admin:
        await reply(update, t("access.admin_only", lang))
        return
    if not is_private(update):
        await reply(update, t("erase.private_only", lang))
        return
    text = " ".join(context.args or []).strip()
    if not text:
        await reply(update, t("erase.usage", lang))
        return
    mobile = normalise_mobile(text)
    if mobile is None:
        await reply(update, t("erase.bad_mobile", lang, text=esc(text[:MAX_ECHO])))
        return
    async with context.db.session() as session:
        member = await find_member(session=session, mobile=mobile)
    if member is None:
        await reply(update, t("erase.not_found", lang, mobile=mask_mobile(mobile)))
        return
    await reply(
        update,
        t("erase.confirm", lang, name=esc(member.name), mobile=mask_mobile(member.mobile),
          street=esc(member.street_name), joined_on=member.joined_on),
        keyboard([[(t("erase.confirm_button", lang), f"erase:ok:{member.member_id}")]]),
    )  # fmt: skip


async def erase_pressed(update: Update, context: BotContext) -> None:
    query, lang, actor = update.callback_query, context.lang, context.actor
    assert query is not None and query.data is not None
    if not actor.is_admin:
        await query.answer(t("access.admin_only", lang), show_alert=True)
        return
    await query.answer()
    async with context.db.session(write=True) as session:
        erased = await erase_member(
            session=session, member_id=int(query.data.rsplit(":", 1)[1]),
            by_user_id=actor.user_id, now=context.now(),
        )  # fmt: skip
    if erased is None:
        await query.edit_message_text(t("erase.gone", lang))
        return
    await query.edit_message_text(
        t("erase.done", lang, applications=erased.applications, messages=erased.messages)
    )
