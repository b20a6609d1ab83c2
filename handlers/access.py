"""The gatekeeper: runs first for every update (group -1) and lets through only officers.

Strangers may only send /start, which redeems an invite or explains how to get one, and what
online joining needs (handlers.joining: /join, join links, their answers and shared contact
while their application is open, its buttons, and /stop). Every other update from them gets
a polite refusal and stops here, so no handler after this one
ever has to ask whether its user is allowed in at all (each still checks its own role).
"""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop

from bot.context import Actor, BotContext
from bot.texts import t
from handlers.joining import open_to_strangers, stranger_answer
from models.enums import Language
from models.officers import find_officer


def language_of(update: Update, default: str) -> Language:
    code = (update.effective_user.language_code or "") if update.effective_user else ""
    if code.startswith("zh"):
        return Language.ZH
    if code.startswith("en"):
        return Language.EN
    return Language(default)


async def gatekeeper(update: Update, context: BotContext) -> None:
    user, chat = update.effective_user, update.effective_chat
    if user is None or user.is_bot or (chat is not None and chat.type == ChatType.CHANNEL):
        raise ApplicationHandlerStop  # channel posts and service updates: not for us
    officer = context.bot_data.officers.get(user.id)
    try:
        if officer is None:
            async with context.db.session() as session:
                officer = await find_officer(session=session, telegram_user_id=user.id)
            if officer is not None and officer.active:
                context.bot_data.officers.keep(officer)
    except Exception as exc:
        # PTB would go on to the next handler group after an error; without knowing who
        # sent the update nothing may run, so report the error here and stop.
        await context.application.process_error(update, exc)
        raise ApplicationHandlerStop from exc
    if officer is not None and officer.active:
        context.actor = Actor(
            user_id=user.id,
            name=user.full_name,
            language=officer.language,
            role=officer.role,
            street_id=officer.street_id,
            street_name=officer.street_name,
        )
        return
    context.actor = Actor(
        user_id=user.id,
        name=user.full_name,
        language=language_of(update, context.bot_data.settings.default_language),
    )
    removed = officer is not None
    # /start with an invite or a join link is anyone's; a bare one from a removed officer
    # would only greet them as a stranger: they are told their account was stopped instead.
    starts = _is_start(update, context.bot.username) and not (removed and _bare(update))
    if starts or open_to_strangers(update, _command_for_us(update, context.bot.username)):
        return
    if await stranger_answer(update, context):
        raise ApplicationHandlerStop  # an answer to the join flow, handled there and only there
    await _refuse(update, context, removed=removed)
    raise ApplicationHandlerStop


def _command_for_us(update: Update, username: str) -> str | None:
    """The command word of a message meant for this bot ("/help@otherbot" is not)."""
    message = update.message
    if message is None or not message.text or not message.text.startswith("/"):
        return None
    command, _, addressee = message.text.split(maxsplit=1)[0][1:].partition("@")
    if addressee and addressee.lower() != username.lower():
        return None
    return command.lower()


def _is_start(update: Update, username: str) -> bool:
    return _command_for_us(update, username) == "start"


def _bare(update: Update) -> bool:
    """A command without anything after it."""
    return update.message is not None and len((update.message.text or "").split()) == 1


async def _refuse(update: Update, context: BotContext, *, removed: bool) -> None:
    lang = context.lang
    if update.callback_query is not None:
        await update.callback_query.answer(t("access.refused_short", lang), show_alert=True)
        return
    private = update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE
    # In a group, only answer what was addressed to us, or every chat line would get a reply.
    if update.message is not None and (private or _command_for_us(update, context.bot.username)):
        await update.message.reply_text(t("access.removed" if removed else "access.refused", lang))
