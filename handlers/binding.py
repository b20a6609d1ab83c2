"""/bind: a district admin binds a group chat to the district or to one street.

Callback data: "bind:d", "bind:s:<street id>", "bind:x" (unbind). Every press re-checks
that the presser is (still) an admin.
"""

from __future__ import annotations

from telegram import Update

from bot.context import BotContext
from bot.texts import t
from handlers.common import edit, esc, grid, is_private, keyboard, reply
from models.chats import Scope, bind_chat, chat_scope, street_scope, unbind_chat
from models.officers import list_streets

BIND_CALLBACK = r"^bind:(d|x|s:\d{1,6})$"


async def bind_command(update: Update, context: BotContext) -> None:
    lang, chat = context.lang, update.effective_chat
    if not context.actor.is_admin:
        await reply(update, t("access.admin_only", lang))
        return
    if is_private(update) or chat is None:
        await reply(update, t("bind.group_only", lang))
        return
    async with context.db.session() as session:
        current = await chat_scope(session=session, chat_id=chat.id)
        streets = await list_streets(session=session)
    buttons = [(esc(name), f"bind:s:{street_id}") for street_id, name in streets]
    rows = [[(t("button.bind_district", lang), "bind:d")], *grid(buttons, 3)]
    if current is not None:
        rows.append([(t("button.unbind", lang), "bind:x")])
    await reply(update, t("bind.choose", lang, current=_label(current, lang)), keyboard(rows))


def _label(scope: Scope | None, lang: str) -> str:
    if scope is None:
        return t("bind.none", lang)
    return t("bind.district", lang) if scope.is_district else esc(scope.street_name)


async def bind_pressed(update: Update, context: BotContext) -> None:
    query, chat, lang = update.callback_query, update.effective_chat, context.lang
    assert query is not None and query.data is not None and chat is not None
    await query.answer()
    if not context.actor.is_admin:
        await edit(update, t("access.admin_only", lang))
        return
    if is_private(update):  # a forged press: a private chat is no group to bind
        await edit(update, t("bind.group_only", lang))
        return
    fields = query.data.split(":")
    actor, now = context.actor, context.now()
    scope: Scope | None = None
    async with context.db.session(write=True) as session:
        if fields[1] == "x":
            await unbind_chat(session=session, chat_id=chat.id, by_user_id=actor.user_id, now=now)
        else:
            scope = Scope() if fields[1] == "d" else await street_scope(
                session=session, street_id=int(fields[2])
            )  # fmt: skip
            if scope is not None:
                await bind_chat(
                    session=session, chat_id=chat.id, scope=scope, by_user_id=actor.user_id,
                    now=now,
                )  # fmt: skip
    # Telegram is answered after the transaction: never hold the write lock over the network.
    if fields[1] == "x":
        await edit(update, t("bind.unbound", lang))
    elif scope is None:
        await edit(update, t("button.stale", lang))
    elif scope.is_district:
        await edit(update, t("bind.done_district", lang))
    else:
        await edit(update, t("bind.done_street", lang, street=esc(scope.street_name)))
