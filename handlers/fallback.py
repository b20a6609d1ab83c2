"""What happens to updates no feature claimed: stale buttons and unrecognised messages."""

from __future__ import annotations

from telegram import Update

from bot.context import BotContext
from bot.texts import t
from handlers.common import is_private, reply


async def stale_button(update: Update, context: BotContext) -> None:
    """A button whose data no handler accepts: forged, or from an older version of the bot."""
    if update.callback_query is not None:
        await update.callback_query.answer(t("button.stale", context.lang), show_alert=True)


async def unknown_message(update: Update, context: BotContext) -> None:
    # Groups are conversations among people: stay quiet there unless addressed by command.
    if is_private(update):
        await reply(update, t("fallback.unknown", context.lang))
